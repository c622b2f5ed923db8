"""Phase doubt (issue 15 item 3): a grid half or a quarter beat off lowers the confidence, a clear one does not."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import run_showctl

from showctl.analysis import Section, TrackAnalysis, apply_overrides
from showctl.analysis.evaluate import f_measure, trim
from showctl.analysis.model import LOW_CONFIDENCE
from showctl.analysis.phase import NO_DOUBT, phase_doubt, section_phase_doubt, with_phase_doubt
from showctl.analysis.tracker import analyze_signal
from showctl.demo.tracks import CORPUS, PHASE_SET, CorpusSpec
from showctl.show import low_confidence_warnings
from showctl.units import parse_nudge

SR = 22050
FRAME_RATE = 100.0


def _spec(name: str, specs: tuple[CorpusSpec, ...] = PHASE_SET) -> CorpusSpec:
    return next(s for s in specs if s.name == name)


def _pulses(times: np.ndarray, n: int, height: float = 1.0) -> np.ndarray:
    env = np.zeros(n)
    env[np.clip(np.round(times * FRAME_RATE).astype(int), 0, n - 1)] = height
    return env


# --- pure: envelopes made by hand ----------------------------------------------------------------------------


def _grooves(kick_at: float, snare_at: float, seconds: float = 30.0, period: float = 0.5
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(full, kick, snare envelopes at FRAME_RATE, beats on the kick): kicks and snares at the given phase
    (share of a beat) of a steady grid."""
    n = int(seconds * FRAME_RATE)
    grid = np.arange(0.0, seconds - period, period)
    kick = _pulses(grid + kick_at * period, n)
    snare = _pulses(grid + snare_at * period, n)
    return kick + snare, kick, snare, grid + kick_at * period


def test_kick_and_snare_on_the_beats_leave_no_doubt() -> None:
    full, kick, snare, beats = _grooves(0.0, 0.0)
    assert phase_doubt(full, kick, snare, FRAME_RATE, beats).ambiguity == 0.0


def test_every_snare_between_the_beats_is_doubt_half_a_beat_off() -> None:
    full, kick, snare, beats = _grooves(0.0, 0.5)
    doubt = phase_doubt(full, kick, snare, FRAME_RATE, beats)
    assert doubt.ambiguity == 1.0 and doubt.shift == 0.5


def test_a_kick_as_strong_between_the_beats_is_doubt() -> None:
    # A double kick on every 8th under a full band that is as loud between the beats: nothing tells them apart.
    n = 3000
    eighths = np.arange(0.0, 29.0, 0.25)
    kick = _pulses(eighths, n)
    beats = eighths[::2]
    assert phase_doubt(kick, kick, kick * 0.0, FRAME_RATE, beats).ambiguity == 1.0
    # ... but a kick accented on the beat (between: 0.3 of it) settles the phase.
    accented = kick * np.where(np.arange(n) % 50 == 0, 1.0, 0.3)
    assert phase_doubt(accented, accented, kick * 0.0, FRAME_RATE, beats).ambiguity == 0.0


def test_a_grid_jumping_half_a_beat_now_and_then_is_doubt() -> None:
    full, kick, snare, beats = _grooves(0.0, 0.0, seconds=60.0)
    jumping = beats.copy()
    for start in range(20, len(beats), 40):  # every 40 beats, 10 beats half a beat late
        jumping[start : start + 10] += 0.25
    doubt = phase_doubt(full, kick, snare, FRAME_RATE, jumping)
    assert doubt.ambiguity == 1.0
    assert phase_doubt(full, kick, snare, FRAME_RATE, beats).ambiguity == 0.0


def test_sections_get_their_own_doubt_and_short_ones_none() -> None:
    clear = _grooves(0.0, 0.0)
    off = _grooves(0.0, 0.5)
    full, kick, snare = (np.concatenate([a, b]) for a, b in zip(clear[:3], off[:3], strict=True))
    beats = np.concatenate([clear[3], off[3] + 30.0])
    track, first, second, short = section_phase_doubt(full, kick, snare, FRAME_RATE, beats,
                                                      [(0.0, 30.0), (30.0, 60.0), (59.0, 60.0)])
    assert first.ambiguity == 0.0 and second.ambiguity == 1.0 and short == NO_DOUBT
    assert 0.0 < track.ambiguity <= 1.0


def test_the_tracks_phase_doubt_is_every_sections_even_one_too_short_for_its_own() -> None:
    # Every snare between the beats: the whole grid is doubted. The first 3 s hold too few beats for a doubt
    # of their own, but their beats are the same off-beat grid: trusted before, doubted like the rest now.
    full, kick, snare, beats = _grooves(0.0, 0.5)
    sections = (Section(0.0, 3.0, "intro", 0.5, 1.0, 0.95), Section(3.0, 30.0, "drop", 1.0, 0.8, 0.95))
    plain = TrackAnalysis("t.wav", 30.0, 120.0, tuple(beats), tuple(beats[::4]), 0.9, sections=sections)
    doubted = with_phase_doubt(plain, full, kick, snare, FRAME_RATE, grid=0.9)
    assert doubted.phase_ambiguity == 1.0 and doubted.sections[0].phase_ambiguity == 0.0
    assert [s.confidence for s in doubted.sections] == [0.0, 0.0]
    # A clear phase: both sections are trusted as much as the track's grid.
    full, kick, snare, beats = _grooves(0.0, 0.0)
    clear = with_phase_doubt(dataclasses.replace(plain, beats=tuple(beats), downbeats=tuple(beats[::4])),
                             full, kick, snare, FRAME_RATE, grid=0.9)
    assert [s.confidence for s in clear.sections] == [0.9, 0.9]


# --- the tracker on synthesized grooves -----------------------------------------------------------------------


def test_off_beat_kicks_tracked_half_a_beat_off_are_doubted() -> None:
    # Kicks on 1 and every "and", snares on 2 and 4: the tracker follows the kicks, half a beat off the
    # beat (F 0), and its confidence used to be 0.99.
    y, truth = _spec("phase-offkick-128").synthesize()
    result = analyze_signal(y, SR)
    assert f_measure(trim(result.beats), trim(truth.beats)) < 0.1  # the failure this is about
    assert result.phase_ambiguity >= 0.5 and result.phase_shift == 0.5
    assert result.confidence < LOW_CONFIDENCE
    assert all(s.confidence < LOW_CONFIDENCE for s in result.sections if s.end - s.start > 10.0)


@pytest.mark.parametrize("name", ["offbeat-124", "house-128", "dnb-174", "hiphop-90", "live-128"])
def test_the_corpus_phase_is_not_doubted(name: str) -> None:
    y, _ = _spec(name, CORPUS).synthesize()
    result = analyze_signal(y, SR)
    assert result.phase_ambiguity < 0.5  # below the warning (dnb: 0.26, its kick on the "and" of 3)
    assert all(s.phase_ambiguity < 0.5 for s in result.sections)


def test_json_carries_the_phase_doubt() -> None:
    a = TrackAnalysis("t.wav", 10.0, 120.0, (0.5, 1.0), (0.5,), 0.3, phase_ambiguity=0.8, phase_shift=-0.25)
    data = json.loads(json.dumps(a.to_json()))
    assert data["phase_ambiguity"] == 0.8 and data["phase_shift"] == -0.25
    assert TrackAnalysis.from_json(data) == a


# --- the warning: one line naming the fix -----------------------------------------------------------------------


def _doubted(ambiguity: float = 0.9, shift: float = 0.5, overrides: tuple[str, ...] = ()) -> TrackAnalysis:
    beats = tuple(0.5 * k for k in range(1, 120))
    sections = (Section(0.0, 12.0, "intro", 0.3, 1.0, 0.8, 0.0), Section(12.0, 60.0, "drop", 0.9, 0.8, 0.1, 0.9))
    return TrackAnalysis("t.wav", 60.0, 120.0, beats, beats[::4], 1.0 - ambiguity, sections=sections,
                         overrides=overrides, phase_ambiguity=ambiguity, phase_shift=shift)


def test_a_doubted_phase_is_one_warning_naming_the_nudge() -> None:
    assert low_confidence_warnings([_doubted()]) == [
        "warning: t.wav: beats may be half a beat off (on the snare or hats rather than the kick), confidence "
        "0.10; listen at 0:12.0 and if so set 'nudge: half beat' in its playlist entry (and 'first_downbeat:' if "
        "bar 1 is then wrong), or a 'grid:'"]
    assert "set 'nudge: -quarter beat'" in low_confidence_warnings([_doubted(shift=-0.25)])[0]
    assert "a quarter beat early" in low_confidence_warnings([_doubted(shift=0.25)])[0]
    # A shift the doubt does not make (a cache entry may hold any in -0.5..0.5) is named as a number.
    assert "0.33 of a beat late" in low_confidence_warnings([_doubted(shift=-0.33)])[0]
    assert "'nudge: -0.33 beat'" in low_confidence_warnings([_doubted(shift=-0.33)])[0]


@pytest.mark.parametrize("shift", [0.5, -0.5, 0.25, -0.25, 0.4, -0.1])
def test_the_nudge_a_warning_names_puts_the_beats_back(shift: float) -> None:
    # The tracked grid sits `shift` beats before the true one (the truth is `shift` beats later): the nudge the
    # warning names, read as the cue file reads it (`units.parse_nudge`), moves every beat onto the truth.
    (line,) = low_confidence_warnings([_doubted(shift=shift)])
    named = re.search(r"'nudge: ([^']+)'", line)
    assert named is not None
    truth = tuple(1.0 + 0.5 * k for k in range(40))
    tracked = TrackAnalysis("t.wav", 30.0, 120.0, tuple(t - shift * 0.5 for t in truth), (), 0.1)
    nudged = apply_overrides(tracked, nudge=parse_nudge(named.group(1)))
    on_grid = np.asarray(nudged.beats) / 0.5  # in beats of the true grid (1.0, 1.5, ...): whole numbers
    assert len(on_grid) == 40 and np.allclose(on_grid, np.round(on_grid), atol=1e-9)


def test_a_first_downbeat_with_a_nudge_is_taken_on_the_nudged_beats() -> None:
    # Tracked on the off-beat: 1.25, 1.75, ... The tech hears bar 1 on the kick at 3.0, nudges half a beat and
    # gives first_downbeat 3.0: the tracked beats 2.75 and 3.25 are equally near it; the nudged 3.0 is it.
    tracked = tuple(1.25 + 0.5 * k for k in range(40))
    a = TrackAnalysis("t.wav", 30.0, 120.0, tracked, tracked[::4], 0.1, phase_ambiguity=0.9)
    for jitter in (-0.01, 0.0, 0.01):  # a tracked grid is never exactly half a beat off
        moved = tuple(b + jitter for b in tracked)
        fixed = apply_overrides(dataclasses.replace(a, beats=moved, downbeats=moved[::4]), nudge=0.5,
                                first_downbeat=3.0)
        assert fixed.downbeats[0] == pytest.approx(3.0 + jitter)
        assert fixed.overrides == ("nudge", "first_downbeat")


def test_a_nudge_or_a_grid_settles_the_phase_doubt() -> None:
    assert _doubted(overrides=("nudge",)).grid_checks == ()
    assert _doubted(overrides=("grid",)).grid_checks == ()
    # ... but not a confidence the phase did not hold down.
    low = dataclasses.replace(_doubted(overrides=("nudge",)), confidence=0.05)
    assert [c.phase_shift for c in low.grid_checks] == [None]


def test_a_section_whose_phase_is_doubted_says_so() -> None:
    clear_track = dataclasses.replace(_doubted(), confidence=0.9, phase_ambiguity=0.2)
    (check,) = clear_track.grid_checks
    assert (check.section, check.phase_shift, check.listen) == ("drop", 0.5, 12.0)
    assert low_confidence_warnings([clear_track]) == [
        "warning: t.wav: 0:12.0–1:00.0 drop: beats may be half a beat off there (on the snare or hats rather than "
        "the kick), confidence 0.10; listen there and if so set a 'grid:' in its playlist entry"]


def test_showctl_analyze_warns_of_off_beat_kicks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    y, _ = _spec("phase-offkick-128").synthesize()
    wav = tmp_path / "offkick.wav"
    sf.write(wav, y, SR)
    monkeypatch.setenv("SHOWCTL_CACHE_DIR", str(tmp_path / "cache"))
    result = run_showctl("analyze", str(wav))
    assert result.returncode == 0, result.stderr
    assert (f"warning: {wav}: beats may be half a beat off (on the snare or hats rather than the kick), "
            "confidence 0.00; listen at 0:0") in result.stderr.replace("\n", " ")
    assert "'nudge: half beat' in its playlist entry (and 'first_downbeat:'" in result.stderr.replace("\n", " ")


def test_a_nudge_drops_a_beat_moved_out_of_the_track_and_its_bar_follows() -> None:
    # From branch phase's own nudge tests, on main's one nudge (`overrides._nudge`).
    beats = tuple(0.1 + k * 0.5 for k in range(40))
    early = apply_overrides(TrackAnalysis("t.wav", 30.0, 120.0, beats, beats[::4], 0.05, phrases=beats[::32]),
                            nudge=-0.25)
    assert early.beats[0] == pytest.approx(0.475)  # the first beat would have moved before 0: dropped
    assert len(early.beats) == 39 and early.downbeats[0] == pytest.approx(early.beats[3])
    assert early.phrases == pytest.approx((early.beats[31],))
