"""The audio tracker's held grid: when the drums stop, the lights run on at the tempo the drums had.

Generated tracks with exact truth, whose drums stop for 16 s (the music stops, or a breakdown leaves only a
sustained pad) and then come back on the same grid, run through `follow_signal` as `showctl follow` runs
a file. The beats committed while the grid is held must stay on the true grid: a period 1.5 % off (the
comb's step, where the held grid used to end up) puts the lights 0.24 s off after 16 s, half a beat at 128.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from showctl.analysis.demo import DEMO_SAMPLE_RATE, CorpusSpec, synthesize_track
from showctl.live import BeatEstimate, follow_signal

SR = DEMO_SAMPLE_RATE
GAP = 16.0  # s without drums
FloatArray = npt.NDArray[np.float64]


def _pad(n: int, bpm: float) -> FloatArray:
    """`n` samples of a breakdown's sustained pad: a chord a bar, each crossfading into the next over half
    a second around the bar line (a pulse at the bar, but no hit)."""
    out = np.zeros(n)
    bar = 4 * 60.0 / bpm
    chords = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))
    for k in range(int(n / SR / bar) + 1):
        start, end = k * bar - 0.25, (k + 1) * bar + 0.25
        lo, hi = max(0, round(start * SR)), min(n, round(end * SR))
        t = np.arange(lo, hi) / SR
        envelope = np.clip((t - start) / 0.5, 0.0, 1.0) * np.clip((end - t) / 0.5, 0.0, 1.0)
        for note in chords[k % 4]:
            hz = 440.0 * 2.0 ** ((note - 69) / 12)
            out[lo:hi] += envelope * sum(np.sin(2 * np.pi * hz * h * t) / h for h in range(1, 5))
    return 0.08 * out


def _drums_stop(y: FloatArray, beats: tuple[float, ...], bpm: float, fill: str) -> tuple[FloatArray, float, float]:
    """`y` with the music from just before beat 40 replaced by silence or a pad for `GAP` s, until just before
    a beat of the same grid, where it comes back; and (stop, back) in seconds."""
    truth = np.asarray(beats)
    stop = float(truth[40]) - 0.04
    back = float(truth[np.searchsorted(truth, stop + GAP)]) - 0.04
    i, j = round(stop * SR), round(back * SR)
    out = y.copy()
    out[i:j] = 0.0 if fill == "silence" else _pad(j - i, bpm)
    return out, stop, back


def _errors(beats: list[BeatEstimate], truth: tuple[float, ...]) -> FloatArray:
    """Each committed beat's distance to the nearest true beat (s, signed: positive = late)."""
    ref = np.asarray(truth)
    times = np.array([b.t for b in beats])
    return np.asarray(times - ref[np.abs(times[:, None] - ref[None, :]).argmin(axis=1)], dtype=np.float64)


@pytest.mark.parametrize(("style", "bpm", "seed", "fill"), [
    # Hip-hop's sparse kicks: within 0.2 s of the music stopping the comb's period bent 1.5 %, and the
    # held grid ran 0.28 s (0.4 beat) off after 16 s.
    ("hiphop", 90.0, 703, "silence"),
    # The pad kept a pulse for 7 s: the comb bent the period (±3 %) on its chord changes, then the
    # tracker took the pad's pulse for the beat (up to 137 BPM): 0.23 s off.
    ("house", 128.0, 7, "pad"),
])
def test_the_held_grid_keeps_the_drums_tempo_and_phase(style: str, bpm: float, seed: int, fill: str) -> None:
    seconds = 1.0 + 75 * 60.0 / bpm + GAP
    if style == "house":
        y, truth = synthesize_track(bpm, seconds, SR, seed, style=style, intro_beats=1.0)
    else:
        y, truth = CorpusSpec("hold", bpm, seconds, seed, style, 1.0).synthesize()
    y, stop, back = _drums_stop(y, truth.beats, bpm, fill)
    result = follow_signal(y[: round(back * SR)], SR)
    assert result.state == "holding"  # not locked on what was left of the music
    held = [b for b in result.beats if stop + 3.0 <= b.t < back]
    assert len(held) >= round((GAP - 4.0) * bpm / 60.0)  # the lights ran on through the whole gap
    errors = _errors(held, truth.beats)
    assert np.max(np.abs(errors)) <= 0.020, errors  # 16 s on, still within 20 ms of the true beats
    assert all(b.tempo == pytest.approx(bpm, rel=0.002) for b in held)

    # The drums come back: the grid they find is theirs, so the lights stay on the beat.
    result = follow_signal(y[: round((back + 10.0) * SR)], SR)
    again = [b for b in result.beats if back <= b.t < back + 10.0]
    assert np.mean(np.abs(_errors(again, truth.beats)) <= 0.070) >= 0.95
