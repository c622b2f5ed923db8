"""Synthesized demo tracks with known beats, so showctl can be tried (and tested) without copyrighted audio.

`synthesize_track` is pure: it returns samples and the ground truth (tempo, beat and downbeat times).
`ensure_demo_tracks` writes the three demo tracks (16-bit WAV, 22050 Hz mono) and a `NAME.truth.json`
beside each, only when missing. `python -m showctl.demo.tracks DIR` does the same from a shell.

The tracks are music-like on purpose, so that they exercise the tracker the way class music does:
kick on every beat, snare/clap on 2 and 4, hats (off-beat open hats in the house track, which tempt a
tracker into the wrong phase), a bass line, a chord pad that changes every bar, a stronger accent on
beat 1 of each bar, and a quiet intro so the first beat is not at 0 s.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from showctl.analysis.evaluate import Truth

__all__ = [
    "CORPUS",
    "CORPUS_STYLES",
    "DEMO_SAMPLE_RATE",
    "DEMO_TRACKS",
    "HELD_OUT_2",
    "HELD_OUT_3",
    "HELD_OUT_4",
    "HELD_OUT_5",
    "HELD_OUT_6",
    "HELD_OUT_7",
    "LONG_TRACK_BPM",
    "PHASE_SET",
    "PHASE_STYLES",
    "PLAYLIST",
    "CorpusSpec",
    "DemoSpec",
    "Groove",
    "beat_f_measure",
    "ensure_demo_tracks",
    "synthesize_track",
    "tracks_main",
    "write_long_track",
    "write_tracks",
]

FloatArray = npt.NDArray[np.float64]

DEMO_SAMPLE_RATE = 22050


@dataclass(frozen=True)
class DemoSpec:
    """One demo track: file stem and the arguments given to `synthesize_track`."""

    name: str
    bpm: float
    seconds: float
    seed: int
    style: str
    intro_beats: float

    def synthesize(self, sr: int = DEMO_SAMPLE_RATE) -> tuple[FloatArray, Truth]:
        return synthesize_track(self.bpm, self.seconds, sr, self.seed, style=self.style,
                                intro_beats=self.intro_beats)


DEMO_TRACKS: tuple[DemoSpec, ...] = (
    DemoSpec("01-warmup-100", bpm=100.0, seconds=72.0, seed=1, style="warmup", intro_beats=2.0),
    DemoSpec("02-house-128", bpm=128.0, seconds=75.0, seed=2, style="house", intro_beats=1.5),
    DemoSpec("03-run-150", bpm=150.0, seconds=66.0, seed=3, style="run", intro_beats=2.5),
)



@dataclass(frozen=True)
class CorpusSpec:
    """One evaluation track: `synthesize_track` arguments, and whether it is held out from tuning."""

    name: str
    bpm: float
    seconds: float
    seed: int
    style: str
    intro_beats: float = 1.0
    drift: float = 0.0
    held_out: bool = False
    pickup: int = 0  # beats played before the first downbeat (the track starts off the downbeat)
    swing: float | None = None  # share of the hat step the off-beat hats come late; None = the style's own

    def synthesize(self, sr: int = DEMO_SAMPLE_RATE) -> tuple[FloatArray, Truth]:
        return synthesize_track(self.bpm, self.seconds, sr, self.seed, style=self.style,
                                intro_beats=self.intro_beats, drift=self.drift, pickup=self.pickup,
                                swing=self.swing)


# The evaluation corpus: the styles at class tempos (85–180 BPM). Tune on the first part only;
# the held-out part (other tempos, seeds, intro lengths) is scored at the end, as a check on over-fitting.
CORPUS: tuple[CorpusSpec, ...] = (
    CorpusSpec("house-128", 128.0, 60.0, 21, "house", 1.5),
    CorpusSpec("warmup-96", 96.0, 60.0, 22, "warmup", 2.0),
    CorpusSpec("run-160", 160.0, 60.0, 23, "run", 2.5),
    CorpusSpec("offbeat-124", 124.0, 60.0, 24, "offbeat", 1.0),
    CorpusSpec("hiphop-90", 90.0, 60.0, 25, "hiphop", 1.0),
    CorpusSpec("dnb-174", 174.0, 60.0, 26, "dnb", 1.0),
    CorpusSpec("pop-122", 122.0, 88.0, 27, "pop", 0.5),
    CorpusSpec("live-128", 128.0, 60.0, 28, "live", 1.0, drift=0.025),
    CorpusSpec("waltz-150", 150.0, 60.0, 29, "waltz", 1.0),
    CorpusSpec("house-175", 175.0, 60.0, 30, "house", 1.0),
    # held out
    CorpusSpec("ho-warmup-88", 88.0, 60.0, 101, "warmup", 3.0, held_out=True),
    CorpusSpec("ho-run-140", 140.0, 60.0, 102, "run", 0.5, held_out=True),
    CorpusSpec("ho-offbeat-128", 128.0, 60.0, 103, "offbeat", 2.5, held_out=True),
    CorpusSpec("ho-hiphop-86", 86.0, 60.0, 104, "hiphop", 0.5, held_out=True),
    CorpusSpec("ho-dnb-172", 172.0, 60.0, 105, "dnb", 2.0, held_out=True),
    CorpusSpec("ho-pop-118", 118.0, 92.0, 106, "pop", 1.0, held_out=True),
    CorpusSpec("ho-live-140", 140.0, 60.0, 107, "live", 0.5, drift=0.03, held_out=True),
    CorpusSpec("ho-waltz-105", 105.0, 60.0, 108, "waltz", 1.5, held_out=True),
)

# A second held-out set, written after the tracker was tuned and scored once (`bench/bench_analysis.py`),
# never tuned on: new seeds and tempos (85-180 BPM), every style, long intros without drums (up to 8
# beats), pop breakdowns (the 150-s one plays its breakdown-build-drop twice), swing (hats late by up to
# half a step), tempo drift up to ±3.5 %, and tracks whose first beat is not a downbeat (`pickup`).
HELD_OUT_2: tuple[CorpusSpec, ...] = (
    CorpusSpec("h2-house-85", 85.0, 60.0, 201, "house", 2.0, held_out=True),
    CorpusSpec("h2-house-122", 122.0, 75.0, 202, "house", 4.0, held_out=True),
    CorpusSpec("h2-house-178", 178.0, 60.0, 203, "house", 0.5, held_out=True),
    CorpusSpec("h2-warmup-92", 92.0, 70.0, 204, "warmup", 1.5, held_out=True),
    CorpusSpec("h2-warmup-180", 180.0, 60.0, 205, "warmup", 1.0, held_out=True),
    CorpusSpec("h2-run-155", 155.0, 60.0, 206, "run", 3.5, held_out=True),
    CorpusSpec("h2-run-170", 170.0, 60.0, 207, "run", 1.0, held_out=True),
    CorpusSpec("h2-offbeat-120", 120.0, 70.0, 208, "offbeat", 6.0, pickup=2, held_out=True),
    CorpusSpec("h2-offbeat-132", 132.0, 60.0, 209, "offbeat", 1.0, pickup=3, held_out=True),
    CorpusSpec("h2-hiphop-88", 88.0, 60.0, 210, "hiphop", 1.0, swing=0.5, held_out=True),
    CorpusSpec("h2-hiphop-95", 95.0, 70.0, 211, "hiphop", 2.0, pickup=1, held_out=True),
    CorpusSpec("h2-dnb-168", 168.0, 60.0, 212, "dnb", 8.0, held_out=True),
    CorpusSpec("h2-dnb-176", 176.0, 60.0, 213, "dnb", 1.5, swing=0.3, pickup=2, held_out=True),
    CorpusSpec("h2-pop-128", 128.0, 150.0, 214, "pop", 0.5, held_out=True),
    CorpusSpec("h2-pop-100", 100.0, 110.0, 215, "pop", 1.5, held_out=True),
    CorpusSpec("h2-live-96", 96.0, 60.0, 216, "live", 4.0, drift=0.03, held_out=True),
    CorpusSpec("h2-live-110", 110.0, 70.0, 217, "live", 2.0, drift=0.035, swing=0.33, held_out=True),
    CorpusSpec("h2-live-152", 152.0, 60.0, 218, "live", 1.0, drift=0.02, pickup=3, held_out=True),
    CorpusSpec("h2-waltz-90", 90.0, 60.0, 219, "waltz", 1.0, pickup=1, held_out=True),
    CorpusSpec("h2-waltz-132", 132.0, 60.0, 220, "waltz", 3.0, held_out=True),
)

# A third held-out set, for the live tracker after it was tuned on `HELD_OUT_2` (`bench/bench_live.py
# --held-out-3`, scored once): new seeds and tempos, the same styles and features as `HELD_OUT_2` (intros
# without drums up to 8 beats, pop breakdowns, swing up to half a step, drift up to ±3.5 %, pickups).
HELD_OUT_3: tuple[CorpusSpec, ...] = (
    CorpusSpec("h3-house-92", 92.0, 60.0, 301, "house", 3.0, held_out=True),
    CorpusSpec("h3-house-126", 126.0, 70.0, 302, "house", 1.0, held_out=True),
    CorpusSpec("h3-house-172", 172.0, 60.0, 303, "house", 2.5, held_out=True),
    CorpusSpec("h3-warmup-86", 86.0, 60.0, 304, "warmup", 1.0, held_out=True),
    CorpusSpec("h3-warmup-164", 164.0, 65.0, 305, "warmup", 4.0, held_out=True),
    CorpusSpec("h3-run-145", 145.0, 60.0, 306, "run", 0.5, held_out=True),
    CorpusSpec("h3-run-178", 178.0, 60.0, 307, "run", 2.0, held_out=True),
    CorpusSpec("h3-offbeat-118", 118.0, 60.0, 308, "offbeat", 1.0, pickup=1, held_out=True),
    CorpusSpec("h3-offbeat-136", 136.0, 70.0, 309, "offbeat", 5.0, pickup=3, held_out=True),
    CorpusSpec("h3-hiphop-85", 85.0, 70.0, 310, "hiphop", 2.0, swing=0.45, held_out=True),
    CorpusSpec("h3-hiphop-98", 98.0, 60.0, 311, "hiphop", 1.0, pickup=2, held_out=True),
    CorpusSpec("h3-dnb-170", 170.0, 60.0, 312, "dnb", 6.0, swing=0.2, held_out=True),
    CorpusSpec("h3-dnb-180", 180.0, 60.0, 313, "dnb", 1.0, pickup=1, held_out=True),
    CorpusSpec("h3-pop-112", 112.0, 120.0, 314, "pop", 1.0, held_out=True),
    CorpusSpec("h3-pop-132", 132.0, 140.0, 315, "pop", 0.5, held_out=True),
    CorpusSpec("h3-live-100", 100.0, 60.0, 316, "live", 3.0, drift=0.035, held_out=True),
    CorpusSpec("h3-live-125", 125.0, 70.0, 317, "live", 1.5, drift=0.025, swing=0.4, pickup=2, held_out=True),
    CorpusSpec("h3-live-160", 160.0, 60.0, 318, "live", 8.0, drift=0.03, held_out=True),
    CorpusSpec("h3-waltz-96", 96.0, 60.0, 319, "waltz", 2.0, held_out=True),
    CorpusSpec("h3-waltz-140", 140.0, 60.0, 320, "waltz", 1.0, pickup=2, held_out=True),
)

# A fourth held-out set, for the live tracker after it was tuned on `HELD_OUT_3` (`bench/bench_live.py
# --held-out-4`, scored once): new seeds and tempos, the same styles and features as `HELD_OUT_3`.
HELD_OUT_4: tuple[CorpusSpec, ...] = (
    CorpusSpec("h4-house-88", 88.0, 60.0, 401, "house", 2.5, held_out=True),
    CorpusSpec("h4-house-130", 130.0, 70.0, 402, "house", 1.0, held_out=True),
    CorpusSpec("h4-house-176", 176.0, 60.0, 403, "house", 3.0, held_out=True),
    CorpusSpec("h4-warmup-90", 90.0, 60.0, 404, "warmup", 1.5, held_out=True),
    CorpusSpec("h4-warmup-168", 168.0, 65.0, 405, "warmup", 4.0, held_out=True),
    CorpusSpec("h4-run-150", 150.0, 60.0, 406, "run", 1.0, held_out=True),
    CorpusSpec("h4-run-174", 174.0, 60.0, 407, "run", 2.5, held_out=True),
    CorpusSpec("h4-offbeat-122", 122.0, 60.0, 408, "offbeat", 1.0, pickup=2, held_out=True),
    CorpusSpec("h4-offbeat-138", 138.0, 70.0, 409, "offbeat", 6.0, pickup=1, held_out=True),
    CorpusSpec("h4-hiphop-87", 87.0, 70.0, 410, "hiphop", 1.5, swing=0.5, held_out=True),
    CorpusSpec("h4-hiphop-94", 94.0, 60.0, 411, "hiphop", 1.0, pickup=3, held_out=True),
    CorpusSpec("h4-dnb-172", 172.0, 60.0, 412, "dnb", 5.0, swing=0.25, held_out=True),
    CorpusSpec("h4-dnb-178", 178.0, 60.0, 413, "dnb", 1.0, pickup=3, held_out=True),
    CorpusSpec("h4-pop-116", 116.0, 120.0, 414, "pop", 1.0, held_out=True),
    CorpusSpec("h4-pop-126", 126.0, 140.0, 415, "pop", 0.5, held_out=True),
    CorpusSpec("h4-live-104", 104.0, 60.0, 416, "live", 2.5, drift=0.03, held_out=True),
    CorpusSpec("h4-live-130", 130.0, 70.0, 417, "live", 1.0, drift=0.035, swing=0.35, pickup=1, held_out=True),
    CorpusSpec("h4-live-156", 156.0, 60.0, 418, "live", 8.0, drift=0.025, held_out=True),
    CorpusSpec("h4-waltz-100", 100.0, 60.0, 419, "waltz", 2.0, held_out=True),
    CorpusSpec("h4-waltz-144", 144.0, 60.0, 420, "waltz", 1.5, pickup=1, held_out=True),
)

# A fifth held-out set, made for the live tracker's CPU change (phase fits spaced out): scored once.
HELD_OUT_5: tuple[CorpusSpec, ...] = (
    CorpusSpec("h5-house-92", 92.0, 60.0, 501, "house", 2.0, held_out=True),
    CorpusSpec("h5-house-124", 124.0, 70.0, 502, "house", 1.5, held_out=True),
    CorpusSpec("h5-house-170", 170.0, 60.0, 503, "house", 3.5, held_out=True),
    CorpusSpec("h5-warmup-96", 96.0, 65.0, 504, "warmup", 1.0, held_out=True),
    CorpusSpec("h5-warmup-160", 160.0, 60.0, 505, "warmup", 5.0, held_out=True),
    CorpusSpec("h5-run-144", 144.0, 60.0, 506, "run", 2.0, held_out=True),
    CorpusSpec("h5-run-178", 178.0, 60.0, 507, "run", 1.0, held_out=True),
    CorpusSpec("h5-offbeat-118", 118.0, 70.0, 508, "offbeat", 3.0, held_out=True),
    CorpusSpec("h5-offbeat-134", 134.0, 60.0, 509, "offbeat", 1.0, pickup=3, held_out=True),
    CorpusSpec("h5-hiphop-90", 90.0, 60.0, 510, "hiphop", 2.0, swing=0.4, held_out=True),
    CorpusSpec("h5-hiphop-98", 98.0, 70.0, 511, "hiphop", 1.0, pickup=1, held_out=True),
    CorpusSpec("h5-dnb-170", 170.0, 60.0, 512, "dnb", 2.0, pickup=2, held_out=True),
    CorpusSpec("h5-dnb-175", 175.0, 60.0, 513, "dnb", 4.0, swing=0.2, held_out=True),
    CorpusSpec("h5-pop-110", 110.0, 130.0, 514, "pop", 1.0, held_out=True),
    CorpusSpec("h5-pop-132", 132.0, 120.0, 515, "pop", 2.0, held_out=True),
    CorpusSpec("h5-live-100", 100.0, 60.0, 516, "live", 1.5, drift=0.035, held_out=True),
    CorpusSpec("h5-live-122", 122.0, 60.0, 517, "live", 3.0, drift=0.02, swing=0.3, held_out=True),
    CorpusSpec("h5-live-148", 148.0, 70.0, 518, "live", 1.0, drift=0.03, pickup=2, held_out=True),
    CorpusSpec("h5-waltz-96", 96.0, 60.0, 519, "waltz", 1.0, pickup=2, held_out=True),
    CorpusSpec("h5-waltz-138", 138.0, 60.0, 520, "waltz", 2.5, held_out=True),
)

# A sixth, for the phase-fit spacing finally chosen (0.06 s: 0.09 s held a grid 1.5 % slow after the music
# stopped in a test): scored once.
HELD_OUT_6: tuple[CorpusSpec, ...] = (
    CorpusSpec("h6-house-86", 86.0, 60.0, 601, "house", 1.0, held_out=True),
    CorpusSpec("h6-house-132", 132.0, 65.0, 602, "house", 2.5, held_out=True),
    CorpusSpec("h6-house-172", 172.0, 60.0, 603, "house", 1.5, held_out=True),
    CorpusSpec("h6-warmup-102", 102.0, 60.0, 604, "warmup", 3.0, held_out=True),
    CorpusSpec("h6-warmup-176", 176.0, 60.0, 605, "warmup", 1.0, held_out=True),
    CorpusSpec("h6-run-156", 156.0, 65.0, 606, "run", 1.5, held_out=True),
    CorpusSpec("h6-run-166", 166.0, 60.0, 607, "run", 4.0, held_out=True),
    CorpusSpec("h6-offbeat-126", 126.0, 60.0, 608, "offbeat", 2.0, pickup=1, held_out=True),
    CorpusSpec("h6-offbeat-140", 140.0, 70.0, 609, "offbeat", 1.0, held_out=True),
    CorpusSpec("h6-hiphop-85", 85.0, 65.0, 610, "hiphop", 1.0, swing=0.3, held_out=True),
    CorpusSpec("h6-hiphop-96", 96.0, 60.0, 611, "hiphop", 3.0, pickup=2, held_out=True),
    CorpusSpec("h6-dnb-174", 174.0, 60.0, 612, "dnb", 1.0, pickup=1, held_out=True),
    CorpusSpec("h6-dnb-180", 180.0, 65.0, 613, "dnb", 2.5, held_out=True),
    CorpusSpec("h6-pop-120", 120.0, 120.0, 614, "pop", 1.5, held_out=True),
    CorpusSpec("h6-pop-106", 106.0, 130.0, 615, "pop", 1.0, held_out=True),
    CorpusSpec("h6-live-112", 112.0, 60.0, 616, "live", 2.0, drift=0.03, pickup=3, held_out=True),
    CorpusSpec("h6-live-136", 136.0, 60.0, 617, "live", 1.0, drift=0.025, held_out=True),
    CorpusSpec("h6-live-160", 160.0, 65.0, 618, "live", 3.5, drift=0.035, swing=0.25, held_out=True),
    CorpusSpec("h6-waltz-92", 92.0, 60.0, 619, "waltz", 1.5, held_out=True),
    CorpusSpec("h6-waltz-150", 150.0, 60.0, 620, "waltz", 1.0, pickup=1, held_out=True),
)

# Held out from the live tracker's third-session changes (held grid on the drums' tempo, hits in the kick
# and hats' bands): seeds 701–720, scored once after them.
HELD_OUT_7: tuple[CorpusSpec, ...] = (
    CorpusSpec("h7-house-90", 90.0, 60.0, 701, "house", 2.0, held_out=True),
    CorpusSpec("h7-house-124", 124.0, 65.0, 702, "house", 1.0, held_out=True),
    CorpusSpec("h7-house-168", 168.0, 60.0, 703, "house", 3.0, held_out=True),
    CorpusSpec("h7-warmup-110", 110.0, 60.0, 704, "warmup", 1.5, held_out=True),
    CorpusSpec("h7-warmup-162", 162.0, 65.0, 705, "warmup", 2.0, held_out=True),
    CorpusSpec("h7-run-150", 150.0, 60.0, 706, "run", 1.0, held_out=True),
    CorpusSpec("h7-run-174", 174.0, 60.0, 707, "run", 2.5, held_out=True),
    CorpusSpec("h7-offbeat-122", 122.0, 65.0, 708, "offbeat", 1.5, held_out=True),
    CorpusSpec("h7-offbeat-134", 134.0, 60.0, 709, "offbeat", 3.0, pickup=3, held_out=True),
    CorpusSpec("h7-hiphop-88", 88.0, 60.0, 710, "hiphop", 2.0, swing=0.2, held_out=True),
    CorpusSpec("h7-hiphop-100", 100.0, 65.0, 711, "hiphop", 1.0, held_out=True),
    CorpusSpec("h7-dnb-170", 170.0, 60.0, 712, "dnb", 2.0, held_out=True),
    CorpusSpec("h7-dnb-176", 176.0, 65.0, 713, "dnb", 1.0, pickup=2, held_out=True),
    CorpusSpec("h7-pop-112", 112.0, 125.0, 714, "pop", 2.0, held_out=True),
    CorpusSpec("h7-pop-128", 128.0, 120.0, 715, "pop", 1.0, held_out=True),
    CorpusSpec("h7-live-104", 104.0, 60.0, 716, "live", 1.5, drift=0.03, held_out=True),
    CorpusSpec("h7-live-128", 128.0, 65.0, 717, "live", 2.5, drift=0.02, swing=0.2, held_out=True),
    CorpusSpec("h7-live-154", 154.0, 60.0, 718, "live", 1.0, drift=0.035, pickup=2, held_out=True),
    CorpusSpec("h7-waltz-96", 96.0, 65.0, 719, "waltz", 2.0, held_out=True),
    CorpusSpec("h7-waltz-144", 144.0, 60.0, 720, "waltz", 1.5, held_out=True),
)

# The phase set (`PHASE_STYLES`, `bench/bench_phase.py`): the first part was looked at while the phase doubt
# (`showctl.analysis.phase`) was made, the held-out part (other tempos, seeds, pickups) scored once after.
PHASE_SET: tuple[CorpusSpec, ...] = tuple(
    CorpusSpec(f"phase-{style}-{bpm:g}", float(bpm), 60.0, 900 + 10 * k + j, style, 1.0 + j, pickup=j % 4)
    for k, (style, tempos) in enumerate([("skank", (118, 126, 134)), ("dembow", (92, 98, 104)),
                                         ("break", (130, 140, 170)), ("offkick", (120, 128, 140)),
                                         ("shuffle", (100, 112, 124)), ("trap", (140, 150, 160))])
    for j, bpm in enumerate(tempos)
) + tuple(
    CorpusSpec(f"phase-ho-{style}-{bpm:g}", float(bpm), 60.0, 950 + 10 * k + j, style, 2.0 - j / 2, held_out=True,
               pickup=(j + 1) % 4)
    for k, (style, tempos) in enumerate([("skank", (122, 130)), ("dembow", (95, 100)), ("break", (135, 160)),
                                         ("offkick", (124, 136)), ("shuffle", (106, 118)), ("trap", (145, 155))])
    for j, bpm in enumerate(tempos)
)

# The playlist: 60 minutes of audio in 8 tracks of 7.5 minutes (`bench/bench_analysis.py` times it).
PLAYLIST: tuple[DemoSpec, ...] = tuple(
    DemoSpec(f"playlist-{k + 1}-{style}-{bpm:g}", bpm, 450.0, 100 + k, style, 1.0 + k % 3)
    for k, (style, bpm) in enumerate([("house", 128.0), ("run", 160.0), ("warmup", 96.0), ("offbeat", 124.0),
                                      ("hiphop", 90.0), ("dnb", 174.0), ("pop", 122.0), ("house", 140.0)]))

# A minor-key four-chord loop (Am F C G), as MIDI note numbers; the pad changes chord every bar.
_PROGRESSION: tuple[tuple[int, int, int], ...] = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))


def _hz(note: float) -> float:
    return float(440.0 * 2.0 ** ((note - 69.0) / 12.0))


def _add(out: FloatArray, start_s: float, sound: FloatArray, sr: int) -> None:
    """Mix `sound` into `out` starting at `start_s`, clipped to the buffer."""
    i0 = round(start_s * sr)
    if i0 >= len(out) or i0 + len(sound) <= 0:
        return
    s0 = max(0, -i0)
    i0 = max(0, i0)
    n = min(len(sound) - s0, len(out) - i0)
    out[i0 : i0 + n] += sound[s0 : s0 + n]


def _kick(sr: int, gain: float) -> FloatArray:
    # Pitch sweep 140 → 48 Hz with a fast click: the low-frequency thump a tracker should lock onto.
    t = np.arange(int(0.30 * sr)) / sr
    freq = 48.0 + 92.0 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    body = np.sin(phase) * np.exp(-t / 0.12)
    click = np.exp(-t / 0.002) * 0.3
    return gain * (body + click)


def _noise_burst(
    rng: np.random.Generator, sr: int, seconds: float, decay: float, highpass: bool
) -> FloatArray:
    n = int(seconds * sr)
    noise = rng.standard_normal(n)
    if highpass:
        # A first difference is a cheap high-pass: hats live above ~5 kHz.
        noise = np.diff(noise, prepend=0.0) * 0.5
    t = np.arange(n) / sr
    env = np.exp(-t / decay)
    return np.asarray(noise * env, dtype=np.float64)


def _snare(rng: np.random.Generator, sr: int, gain: float) -> FloatArray:
    burst = _noise_burst(rng, sr, 0.25, 0.07, highpass=False)
    t = np.arange(len(burst)) / sr
    tone = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.05)
    return gain * (0.5 * burst + 0.6 * tone)


def _tone(sr: int, freq: float, seconds: float, attack: float, release: float, harmonics: int) -> FloatArray:
    """A band-limited saw-ish tone with an attack/release envelope (bass, pad)."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    wave = np.zeros(n)
    for h in range(1, harmonics + 1):
        if freq * h < sr / 2 - 1000:
            wave += np.sin(2 * np.pi * freq * h * t) / h
    env = np.minimum(1.0, t / max(attack, 1e-4))
    tail = np.clip((seconds - t) / max(release, 1e-4), 0.0, 1.0)
    return np.asarray(wave * env * tail, dtype=np.float64)


def synthesize_track(
    bpm: float,
    seconds: float,
    sr: int = DEMO_SAMPLE_RATE,
    seed: int = 0,
    *,
    style: str = "house",
    intro_beats: float = 2.0,
    beats_per_bar: int = 4,
    drift: float = 0.0,
    pickup: int = 0,
    swing: float | None = None,
) -> tuple[FloatArray, Truth]:
    """Synthesize a music-like track at a steady `bpm`; return (mono samples in -1..1, truth).

    `style` picks the groove: "house" (off-beat open hats, off-beat bass), "warmup" (closed 8th hats,
    bass on the beat), "run" (16th hats, rolling 8th bass). The first `intro_beats` beats hold only a
    quiet pad; the drums (and the true beats) start after it. Deterministic for a given seed.

    The evaluation corpus adds harder styles (`CORPUS_STYLES`, see `_GROOVES`): "offbeat" house, half-time
    "hiphop", "dnb", "pop" with a beat-less intro and a breakdown, "live" (played: tempo drifts by
    `drift`, ±0.025 = ±2.5 %, and hits wander) and "waltz" (3/4). Those ignore `beats_per_bar` (the
    groove fixes the metre); the three demo styles ignore `drift`, so the demo tracks never change.
    Two more knobs for the corpus styles only: `pickup` beats played before the first downbeat (the
    track starts off the downbeat; not for "pop", whose intro has no beat), and `swing`, the share of
    the hat step by which off-beat hats come late (None: the style's own, 0.32 for 16th hats, else 0).
    Their arrangement fills the track: drums play until a second before the end, and the truth holds
    every beat they play.
    """
    groove = _GROOVES.get(style) or _PHASE_GROOVES.get(style)
    if groove is not None:
        return _synthesize_groove(bpm, seconds, sr, seed, groove, intro_beats=intro_beats, drift=drift,
                                  pickup=pickup, swing=swing)
    if style not in ("house", "warmup", "run"):
        raise ValueError(f"unknown style {style!r}")
    if pickup or swing is not None:
        raise ValueError(f"pickup and swing are for the corpus styles {CORPUS_STYLES}, not {style!r}")
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    out = np.zeros(round(seconds * sr))
    first = intro_beats * period
    # Drums stop a second before the end so the last beat is not cut off mid-hit.
    n_beats = int(np.floor((seconds - 1.0 - first) / period)) + 1
    beats = first + period * np.arange(n_beats)
    n_bars = int(np.ceil(n_beats / beats_per_bar))

    kick = _kick(sr, 0.8)
    kick_accent = _kick(sr, 1.0)
    for i, b in enumerate(beats):
        _add(out, b, kick_accent if i % beats_per_bar == 0 else kick, sr)
        if i % beats_per_bar in (1, 3):
            # Clap timing wanders by a few ms, as played or swung parts do.
            _add(out, b + rng.normal(0.0, 0.003), _snare(rng, sr, 0.45), sr)
        if i % (beats_per_bar * 4) == 0:
            _add(out, b, _noise_burst(rng, sr, 1.5, 0.5, highpass=True) * 0.35, sr)  # crash every 4 bars

    # Hats.
    for b in beats:
        if style == "house":
            open_hat = _noise_burst(rng, sr, 0.2, 0.08, True) * 0.55
            _add(out, b + period / 2 + rng.normal(0.0, 0.002), open_hat, sr)
            _add(out, b + rng.normal(0.0, 0.002), _noise_burst(rng, sr, 0.05, 0.012, True) * 0.2, sr)
        elif style == "warmup":
            for k in range(2):
                g = 0.3 if k == 1 else 0.22
                _add(out, b + k * period / 2 + rng.normal(0.0, 0.003),
                     _noise_burst(rng, sr, 0.06, 0.015, True) * g, sr)
        else:
            for k in range(4):
                g = 0.28 if k == 2 else 0.16
                _add(out, b + k * period / 4 + rng.normal(0.0, 0.002),
                     _noise_burst(rng, sr, 0.05, 0.01, True) * g, sr)

    # Bass and pad follow the bar's chord; the bass plays the root an octave and a half below the pad.
    for bar in range(n_bars):
        chord = _PROGRESSION[bar % len(_PROGRESSION)]
        root = chord[0] - 24
        bar_start = first + bar * beats_per_bar * period
        # The root on beat 1 rings longer and louder: the bar accent a downbeat finder listens for.
        _add(out, bar_start, _tone(sr, _hz(root), period * 0.9, 0.005, 0.05, 6) * 0.35, sr)
        for k in range(beats_per_bar):
            if bar * beats_per_bar + k >= n_beats:
                break  # the bass stops with the drums: every note it plays is on or between true beats
            t = bar_start + k * period
            if style == "house":
                _add(out, t + period / 2, _tone(sr, _hz(root + 12), period * 0.4, 0.005, 0.05, 6) * 0.18, sr)
            elif style == "warmup" and k > 0:
                _add(out, t, _tone(sr, _hz(root), period * 0.8, 0.01, 0.05, 6) * 0.2, sr)
            elif style == "run":
                for h in range(2):
                    if k == 0 and h == 0:
                        continue
                    note = _tone(sr, _hz(root), period * 0.4, 0.005, 0.03, 6) * 0.18
                    _add(out, t + h * period / 2, note, sr)
        pad_beats = min(beats_per_bar, n_beats - bar * beats_per_bar)
        pad = sum(_tone(sr, _hz(n) * (1.0 + 0.002 * j), pad_beats * period, 0.04, 0.08, 4)
                  for j, n in enumerate(chord))
        _add(out, bar_start, np.asarray(pad) * 0.09, sr)

    # The intro: the first chord swells in quietly before the drums start.
    intro = sum(_tone(sr, _hz(n), first, first * 0.8, 0.02, 3) for n in _PROGRESSION[-1])
    _add(out, 0.0, np.asarray(intro) * 0.05, sr)

    out += rng.standard_normal(len(out)) * 1e-4  # a noise floor, as any recording has
    out *= 0.89 / np.max(np.abs(out))
    truth = Truth(
        tempo=float(bpm),
        beats=tuple(float(b) for b in beats),
        downbeats=tuple(float(b) for b in beats[::beats_per_bar]),
        beats_per_bar=beats_per_bar,
    )
    return out, truth


# --- the evaluation corpus: harder grooves with exact truth ---------------------------------------------


@dataclass(frozen=True)
class Groove:
    """One bar of a style: where each part plays, in beats from the bar line (0 = the downbeat)."""

    beats_per_bar: int
    kicks: tuple[float, ...]
    snares: tuple[float, ...]
    hats: float  # closed-hat step in beats (0.25 = 16ths); 0 = none
    open_hats: tuple[float, ...] = ()
    bass: tuple[tuple[float, float], ...] = ()  # (position, length) in beats; plays the bar's root
    bass_gain: float = 0.2
    kick_gain: float = 0.8
    stabs: tuple[float, ...] = ()  # short chord stabs (the "pah" of a waltz)
    jitter: float = 0.0  # s: standard deviation of a played part's timing
    # The arrangement, as (label, bars, parts) with parts from "kick snare hats bass pad stab pluck roll";
    # empty = the whole track plays the full groove after a quiet intro of `intro_beats`.
    arrangement: tuple[tuple[str, int, str], ...] = ()
    # The sections [start, stop) of `arrangement` played again, as often as they fit, on a track longer than
    # the arrangement; the last of them then also takes the bars left over, so the music fills the track.
    repeat: tuple[int, int] = (0, 0)


_FULL = "kick snare hats bass pad stab"
_GROOVES: dict[str, Groove] = {
    # Off-beat house: the bass (low, loud) and open hats sit between the beats, the kick is lighter.
    "offbeat": Groove(4, kicks=(0, 1, 2, 3), snares=(1, 3), hats=0.0, open_hats=(0.5, 1.5, 2.5, 3.5),
                      bass=((0.5, 0.35), (1.5, 0.35), (2.5, 0.35), (3.5, 0.35)), bass_gain=0.32, kick_gain=0.6),
    # Half-time hip-hop: one snare per bar, on beat 3; a syncopated kick; swung 16th hats.
    "hiphop": Groove(4, kicks=(0, 0.75, 2.5), snares=(2,), hats=0.25,
                     bass=((0, 0.7), (0.75, 0.6), (2.5, 1.2)), bass_gain=0.25),
    # Drum & bass two-step: kicks on 1 and the "and" of 3, snares on 2 and 4, 8th hats, a long sub bass.
    "dnb": Groove(4, kicks=(0, 2.5), snares=(1, 3), hats=0.5, bass=((0, 2.0), (2.5, 1.4)), bass_gain=0.22),
    # Pop: a beat-less intro (pad only), a build, a drop, a breakdown (pad and plucks, no drums), a build
    # with a snare roll, a second drop and an outro of drums alone.
    "pop": Groove(4, kicks=(0, 1, 2, 3), snares=(1, 3), hats=0.5,
                  bass=((0, 0.45), (0.5, 0.45), (1, 0.45), (1.5, 0.45), (2, 0.45), (2.5, 0.45), (3, 0.45),
                        (3.5, 0.45)), bass_gain=0.16,
                  arrangement=(("intro", 8, "pad"), ("build", 4, "kick hats pad"), ("drop", 8, _FULL),
                               ("breakdown", 8, "pad pluck"), ("build", 4, "kick hats pad roll"),
                               ("drop", 8, _FULL), ("outro", 4, "kick hats")),
                  repeat=(3, 6)),
    # Live-played rock/pop: tempo drifts, every hit wanders by a few ms.
    "live": Groove(4, kicks=(0, 2, 2.5), snares=(1, 3), hats=0.5, bass=((0, 0.9), (2, 0.4), (2.5, 1.4)),
                   bass_gain=0.2, jitter=0.006),
    # 3/4: kick and bass on 1, chord stabs on 2 and 3 ("oom-pah-pah"), light claps on 2 and 3.
    "waltz": Groove(3, kicks=(0,), snares=(), hats=0.5, bass=((0, 0.9),), bass_gain=0.28, stabs=(1, 2)),
}
CORPUS_STYLES: tuple[str, ...] = tuple(_GROOVES)

# Grooves whose beat phase is hard to hear (`showctl.analysis.phase`, `bench/bench_phase.py`): made to find
# where the tracker puts its beats on the off-beat or a quarter off, and whether its confidence says so.
# Not corpus styles: the corpus is what the tracker is scored on; these are where it is expected to fail.
_PHASE_GROOVES: dict[str, Groove] = {
    # Off-beat-heavy house: a light kick on the beat, loud bass and open hats between the beats.
    "skank": Groove(4, kicks=(0, 1, 2, 3), snares=(1, 3), hats=0.0, open_hats=(0.5, 1.5, 2.5, 3.5),
                    bass=((0.5, 0.3), (1.5, 0.3), (2.5, 0.3), (3.5, 0.3)), bass_gain=0.5, kick_gain=0.35),
    # Dembow: a kick on every beat, the snare on the "a" of 1 and the "and" of 2.
    "dembow": Groove(4, kicks=(0, 1, 2, 3), snares=(0.75, 1.5, 2.75, 3.5), hats=0.5, bass=((0, 0.7), (2, 0.7)),
                     bass_gain=0.2, kick_gain=0.6),
    # Breakbeat: a syncopated kick, snares on 2 and 4, busy 16th hats, played.
    "break": Groove(4, kicks=(0, 1.75, 2.5), snares=(1, 3), hats=0.25, bass=((0, 0.5), (1.75, 0.5), (2.5, 1.0)),
                    bass_gain=0.25, jitter=0.004),
    # Off-beat kicks: kicks on 1 and every "and", snares on 2 and 4, quarter hats on the beat.
    "offkick": Groove(4, kicks=(0, 0.5, 1.5, 2.5, 3.5), snares=(1, 3), hats=1.0,
                      bass=((0.5, 0.4), (1.5, 0.4), (2.5, 0.4), (3.5, 0.4)), bass_gain=0.3, kick_gain=0.7),
    # Shuffle: triplet hats, kicks on 1, 3 and the swung "and" of 3, bass on the swung 8ths, played.
    "shuffle": Groove(4, kicks=(0, 2, 2 + 2 / 3), snares=(1, 3), hats=1 / 3,
                      bass=((0, 0.6), (2 / 3, 0.3), (2, 0.6), (2 + 2 / 3, 0.3)), bass_gain=0.25, jitter=0.005),
    # Half-time trap: kicks on 1, the "and" of 2 and the "e" of 4, one snare on 3, 8th hats.
    "trap": Groove(4, kicks=(0, 1.5, 3.25), snares=(2,), hats=0.5, bass=((0, 1.5), (1.5, 1.5)), bass_gain=0.35),
}
PHASE_STYLES: tuple[str, ...] = tuple(_PHASE_GROOVES)


def _beat_grid(bpm: float, first: float, end: float, drift: float) -> FloatArray:
    """Beat times from `first` to `end`: steady, or (drift ≠ 0) with the tempo swinging ±drift around
    `bpm` over ~40 s and a slow lean, as a band without a click plays."""
    times = [first]
    while times[-1] < end:
        t = times[-1]
        local = bpm * (1.0 + drift * (0.7 * np.sin(2 * np.pi * t / 41.0) + 0.3 * np.sin(2 * np.pi * t / 13.0)))
        times.append(t + 60.0 / local)
    return np.asarray(times, dtype=np.float64)


def _arranged_bars(groove: Groove, bars_that_fit: int) -> list[tuple[str, str]]:
    """(label, parts) of every bar: the arrangement, its `repeat` sections played again while they fit
    and the last of them stretched over the bars left, so that the music fills `bars_that_fit` bars."""
    if not groove.arrangement:
        return [("main", _FULL)] * bars_that_fit
    sections = list(groove.arrangement)
    start, stop = groove.repeat
    cycle = sections[start:stop]
    cycle_bars = sum(bars for _, bars, _ in cycle)
    total = sum(bars for _, bars, _ in sections)
    if cycle and total < bars_that_fit:
        body, tail = sections[:stop], sections[stop:]
        while total + cycle_bars <= bars_that_fit:
            body.extend(cycle)
            total += cycle_bars
        label, bars, parts = body[-1]
        body[-1] = (label, bars + bars_that_fit - total, parts)
        sections = body + tail
    return [(label, parts) for label, bars, parts in sections for _ in range(bars)]


def _synthesize_groove(
    bpm: float, seconds: float, sr: int, seed: int, groove: Groove, *, intro_beats: float, drift: float,
    pickup: int = 0, swing: float | None = None,
) -> tuple[FloatArray, Truth]:
    """`synthesize_track` for the corpus styles: the groove played over an arrangement, with truth.

    Every hit lands between the first beat and `last_time` (a second before the end), and every beat
    in that span is in the truth: the truth covers all the audio's beats.
    """
    rng = np.random.default_rng(seed)
    bpb = groove.beats_per_bar
    if not 0 <= pickup < bpb or (pickup and groove.arrangement):
        raise ValueError(f"pickup {pickup}: needs 0 <= pickup < {bpb}, on a style without a beat-less intro")
    out = np.zeros(round(seconds * sr))
    first = intro_beats * 60.0 / bpm
    # With a pickup the first bar is heard from its last `pickup` beats: the first downbeat comes after them.
    grid = _beat_grid(bpm, first - (bpb - pickup) % bpb * 60.0 / bpm, seconds + 4 * 60.0 / bpm, drift)
    n_grid_bars = (len(grid) - 2) // bpb
    # The drums (and the truth) stop a second before the end, as in the demo styles.
    last_time = seconds - 1.0
    bars_that_fit = int(np.count_nonzero(grid[: n_grid_bars * bpb : bpb] <= last_time))
    bar_parts = _arranged_bars(groove, bars_that_fit)
    n_bars = min(len(bar_parts), n_grid_bars)
    outro_bars = sum(1 for label, _ in bar_parts if label == "outro")
    eps = 1e-9

    def at(bar: int, pos: float) -> float:
        k = bar * bpb + int(np.floor(pos))
        frac = pos - np.floor(pos)
        return float(grid[k] + frac * (grid[k + 1] - grid[k]))

    def hit(t: float) -> float:
        return t + (rng.normal(0.0, groove.jitter) if groove.jitter > 0 else 0.0)

    def play(t: float, played: float, sound: FloatArray) -> None:
        """Mix `sound` in at `played` (t with its timing error) if `t` lies where the truth has beats.
        Called with every sound already made, so the random stream (and the audio) does not depend on it."""
        if first - eps <= t <= last_time:
            _add(out, played, sound, sr)

    kick, kick_accent = _kick(sr, groove.kick_gain), _kick(sr, min(1.0, groove.kick_gain * 1.25))
    hat_swing = (0.32 if groove.hats == 0.25 else 0.0) if swing is None else swing
    beats: list[float] = []
    downbeats: list[float] = []
    sections: list[tuple[float, str]] = []
    previous_label = ""
    section_bar = 0
    for bar in range(n_bars):
        label, parts = bar_parts[bar]
        start = at(bar, 0)
        if start > last_time:
            break
        section_bar = section_bar + 1 if label == previous_label else 0
        if label != previous_label and groove.arrangement:
            sections.append((start, label))
        previous_label = label
        period = at(bar, 1) - start
        chord = _PROGRESSION[bar % len(_PROGRESSION)]
        root = chord[0] - 24
        beat_less = parts == "pad" and label == "intro"
        if not beat_less:
            beats.extend(b for k in range(bpb) if first - eps <= (b := at(bar, k)) <= last_time)
            if start >= first - eps:
                downbeats.append(start)
        fade = 1.0 - 0.6 * section_bar / outro_bars if label == "outro" else 1.0
        if "kick" in parts:
            for pos in groove.kicks:
                t = at(bar, pos)
                play(t, hit(t), (kick_accent if pos == 0 else kick) * fade)
        if "snare" in parts:
            for pos in groove.snares:
                t = at(bar, pos)
                play(t, hit(t), _snare(rng, sr, 0.5))
            if bar % 4 == 0:
                play(start, start, _noise_burst(rng, sr, 1.5, 0.5, highpass=True) * 0.3)  # crash every 4 bars
        if "roll" in parts:
            # A snare roll that doubles its rate each bar of the build: 8ths, 16ths, ...
            step = 0.5 / 2 ** min(2, section_bar)
            pos = 0.0
            while pos < bpb:
                t = at(bar, pos)
                play(t, t, _snare(rng, sr, 0.15 + 0.1 * pos / bpb))
                pos += step
        if "hats" in parts:
            if groove.hats > 0:
                pos = 0.0
                while pos < bpb - 1e-9:
                    late = hat_swing * groove.hats if round(pos / groove.hats) % 2 == 1 else 0.0
                    g = 0.24 if abs(pos - round(pos)) < 1e-9 else 0.15
                    t = at(bar, pos + late)
                    play(t, hit(t), _noise_burst(rng, sr, 0.05, 0.012, True) * g * fade)
                    pos += groove.hats
            for pos in groove.open_hats:
                t = at(bar, pos)
                play(t, hit(t), _noise_burst(rng, sr, 0.2, 0.08, True) * 0.6)
        if "bass" in parts:
            for pos, length in groove.bass:
                t = at(bar, pos)
                play(t, hit(t), _tone(sr, _hz(root), length * period, 0.004, 0.04, 6) * groove.bass_gain)
        if "stab" in parts:
            for pos in groove.stabs:
                stab = sum(_tone(sr, _hz(n + 12), 0.35 * period, 0.003, 0.05, 4) for n in chord)
                t = at(bar, pos)
                play(t, hit(t), np.asarray(stab) * 0.06)
        if "pluck" in parts:
            for k in range(bpb):
                note = chord[k % 3] + 12
                t = at(bar, k)
                play(t, t, _tone(sr, _hz(note), 0.3 * period, 0.002, 0.25 * period, 5) * 0.1)
        if "pad" in parts:
            gain = 0.05 if beat_less else 0.09
            # The beat-less intro holds each chord for two bars: no pulse at all, only slow harmony.
            if beat_less and bar % 2 == 1:
                continue
            # A pickup bar's pad starts with its first beat.
            onset = max(start, first)
            length = (2 if beat_less else 1) * bpb * period - (onset - start)
            pad = sum(_tone(sr, _hz(n) * (1.0 + 0.002 * j), length, 0.3 if beat_less else 0.04, 0.08, 4)
                      for j, n in enumerate(chord))
            _add(out, onset, np.asarray(pad) * gain, sr)

    if not groove.arrangement and first > 0:
        intro = sum(_tone(sr, _hz(n), first, first * 0.8, 0.02, 3) for n in _PROGRESSION[-1])
        _add(out, 0.0, np.asarray(intro) * 0.05, sr)
    out += rng.standard_normal(len(out)) * 1e-4
    out *= 0.89 / np.max(np.abs(out))
    beat_array = np.asarray(beats)
    tempo = float(60.0 / np.median(np.diff(beat_array))) if drift else float(bpm)
    truth = Truth(
        tempo=tempo,
        beats=tuple(float(b) for b in beat_array),
        downbeats=tuple(float(b) for b in downbeats),
        beats_per_bar=bpb,
        sections=tuple(sections),
    )
    return out, truth


def beat_f_measure(estimated: Sequence[float], reference: Sequence[float], window: float = 0.07) -> float:
    """Beat-tracking F-measure (as in mir_eval): one-to-one matches within ±`window` seconds.

    Kept here for existing callers; the definition lives in `showctl.analysis.evaluate.f_measure`.
    """
    from showctl.analysis.evaluate import f_measure

    return f_measure(estimated, reference, window)


def write_tracks(directory: Path, specs: Sequence[DemoSpec],
                 on_written: Callable[[Path], None] | None = None) -> list[Path]:
    """Write each spec's WAV and `.truth.json` into `directory` where missing; return the WAV paths."""
    import soundfile as sf  # deferred: importing the analysis package should not need libsndfile loaded

    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for spec in specs:
        wav = directory / f"{spec.name}.wav"
        truth_path = directory / f"{spec.name}.truth.json"
        paths.append(wav)
        if wav.exists() and truth_path.exists():
            continue
        y, truth = spec.synthesize()
        if not wav.exists():
            # Written under a temporary name first: an interrupted run never leaves half a track behind.
            partial = wav.with_suffix(".partial.wav")
            sf.write(str(partial), y, DEMO_SAMPLE_RATE, subtype="PCM_16")
            partial.replace(wav)
            if on_written is not None:
                on_written(wav)
        if not truth_path.exists():
            truth_path.write_text(json.dumps(truth.to_json(), indent=1) + "\n", encoding="utf-8")
            if on_written is not None:
                on_written(truth_path)
    return paths


# A loop of 128 beats at 125 BPM (32 whole bars) repeats into a long track whose grid runs on across repeats.
LONG_TRACK_BPM = 125.0
_LONG_LOOP_BEATS = 128


def write_long_track(path: Path, seconds: float, channels: int = 2) -> None:
    """A steady `LONG_TRACK_BPM` groove at least `seconds` long (a whole number of loops), 44.1 kHz 16-bit,
    written a loop at a time: hours of audio (a day's recording, a long mix) without holding them."""
    import soundfile as sf

    loop_seconds = _LONG_LOOP_BEATS * 60.0 / LONG_TRACK_BPM
    loop, _ = synthesize_track(LONG_TRACK_BPM, loop_seconds, 44100, seed=1, style="run", intro_beats=0.0)
    frames = np.stack([loop * (1.0 - 0.1 * c) for c in range(channels)], axis=1) * 0.8
    with sf.SoundFile(str(path), "w", 44100, channels, "PCM_16") as f:
        for _ in range(int(np.ceil(seconds / loop_seconds))):
            f.write(frames)


def ensure_demo_tracks(directory: Path, on_written: Callable[[Path], None] | None = None) -> list[Path]:
    """Write the demo WAVs and their `.truth.json` into `directory` where missing; return the WAV paths."""
    return write_tracks(directory, DEMO_TRACKS, on_written)


def tracks_main(argv: Sequence[str] | None, module: str, specs: Sequence[DemoSpec]) -> int:
    """`python -m MODULE DIR`: write `specs` into DIR where missing, one line per file written."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print(f"usage: python -m {module} DIR", file=sys.stderr)
        return 2
    write_tracks(Path(args[0]), specs, on_written=lambda p: print(f"wrote {p}"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return tracks_main(argv, "showctl.demo.tracks", DEMO_TRACKS)


if __name__ == "__main__":
    raise SystemExit(main())
