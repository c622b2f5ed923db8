"""Bar doubt (issue 15 item 3): where bar 1 hardly stands out, the analysis says so and names the
`first_downbeat:` that would move it; where it is clear, nothing is said."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import run_showctl

from showctl.analysis import TrackAnalysis, apply_overrides
from showctl.analysis.downbeats import BAR_CLEAR, bar_doubt
from showctl.analysis.evaluate import f_measure
from showctl.analysis.tracker import analyze_signal
from showctl.demo.tracks import synthesize_track
from showctl.show import grid_checks

SR = 22050


# --- pure: the cue made by hand ------------------------------------------------------------------------------


def test_a_bar_phase_that_stands_out_leaves_no_doubt() -> None:
    rng = np.random.default_rng(1)
    cue = rng.normal(0.0, 1.0, 400)
    cue[1::4] += 2.0  # beat 2 of every bar, as the cue has it: a clear bar line there
    assert bar_doubt(cue, 4).ambiguity == 0.0


def test_two_phases_as_strong_are_full_doubt_naming_the_other() -> None:
    cue = np.tile([0.0, 1.0, 0.0, 1.0], 100)  # beats 2 and 4 alike: bar 1 on either
    doubt = bar_doubt(cue, 4)
    assert doubt.ambiguity == 1.0 and doubt.shift == 2


def test_doubt_falls_as_the_margin_grows_in_standard_errors() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(0.0, 1.0, 400).reshape(-1, 4)
    noise = (noise - noise.mean(axis=0)).ravel()  # every phase alike: only the lead tells them apart
    doubts = []
    for lead in (0.0, 0.05, 0.1, 0.2, 0.4):
        cue = noise.copy()
        cue[0::4] += lead
        doubts.append(bar_doubt(cue, 4).ambiguity)
    assert doubts == sorted(doubts, reverse=True) and doubts[-1] == 0.0
    assert BAR_CLEAR > 1.0  # the check's threshold (doubt 0.5) lies inside the ramp


def test_too_few_beats_say_nothing() -> None:
    assert bar_doubt(np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]), 4).ambiguity == 0.0


# --- the analysis value and its check ------------------------------------------------------------------------


def _doubted(ambiguity: float = 0.8, shift: int = 2, **changes: object) -> TrackAnalysis:
    beats = tuple(1.0 + 0.5 * i for i in range(120))
    base = TrackAnalysis("t.wav", 61.0, 120.0, beats, beats[1::4], 0.9, 4, bar_ambiguity=ambiguity, bar_shift=shift)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_doubted_bar_one_is_checked_with_the_first_downbeat_that_moves_it() -> None:
    checks = _doubted().grid_checks
    assert len(checks) == 1
    check = checks[0]
    # Downbeats on beat index 1 (1.5 s); two beats later is index 3, the earliest beat of that phase: 2.5 s.
    assert check.bar_shift == 2 and check.first_downbeat == 2.5 and check.section is None
    assert check.confidence == pytest.approx(0.2)
    words = grid_checks(_doubted())
    assert words == ["bar 1 may be 2 beats later (the bar lines hardly stand out), confidence 0.20; listen at "
                     "0:01.5 and if so set 'first_downbeat: 0:02.5' in its playlist entry"]
    assert "a beat later" in grid_checks(_doubted(shift=1))[0]


def test_a_clear_bar_one_or_the_tech_s_word_is_not_checked() -> None:
    assert _doubted(ambiguity=0.5).grid_checks == ()
    assert apply_overrides(_doubted(), first_downbeat=2.5).grid_checks == ()
    assert apply_overrides(_doubted(), grid=(120.0, 1.0)).grid_checks == ()


def test_a_grid_in_doubt_as_a_whole_is_checked_first() -> None:
    """Its bars move with its beats: a bar check beside it would name a first downbeat on beats in doubt."""
    checks = _doubted(confidence=0.3).grid_checks
    assert [c.bar_shift for c in checks] == [None]


def test_bar_shift_must_fall_within_the_bar() -> None:
    with pytest.raises(ValueError, match="bar_shift"):
        _doubted(shift=4)
    assert _doubted(ambiguity=0.0, beats_per_bar=2).bar_shift == 2  # no doubt, a two-beat bar: nothing named


def test_bar_doubt_round_trips_through_json() -> None:
    original = _doubted(ambiguity=0.6125, shift=3)
    data = original.to_json()
    assert (data["bar_ambiguity"], data["bar_shift"]) == (0.6125, 3)
    assert TrackAnalysis.from_json(data) == original
    older = {k: v for k, v in data.items() if k not in ("bar_ambiguity", "bar_shift")}
    assert TrackAnalysis.from_json(older).bar_ambiguity == 0.0  # an entry from before: no doubt said


def test_a_tempo_hint_at_another_level_drops_the_doubt_weighed_on_the_old_beats() -> None:
    assert apply_overrides(_doubted(), tempo=240.0).bar_ambiguity == 0.0
    assert apply_overrides(_doubted(), tempo=60.0).bar_ambiguity == 0.0
    assert apply_overrides(_doubted(), tempo=120.0).bar_ambiguity == 0.8


# --- on audio ------------------------------------------------------------------------------------------------


def _metronome(seconds: float = 60.0, bpm: float = 120.0) -> np.ndarray:
    """The same kick on every beat and nothing else: nothing tells one beat of a bar from another."""
    y = np.zeros(int(SR * seconds), np.float32)
    t = np.arange(int(0.12 * SR)) / SR
    kick = (np.sin(2 * np.pi * 60 * t * (1 + 2 * np.exp(-t * 30))) * np.exp(-t * 25)).astype(np.float32)
    for i in range(int(seconds * bpm / 60)):
        at = round((0.5 + i * 60 / bpm) * SR)
        if at + len(kick) < len(y):
            y[at:at + len(kick)] += kick
    return y


def test_a_metronome_s_bar_one_is_in_doubt_and_named() -> None:
    result = analyze_signal(_metronome(), SR, "metronome.wav")
    assert result.confidence > 0.9 and result.phase_ambiguity == 0.0  # the beats are sure
    assert result.bar_ambiguity > 0.5
    assert [c for c in grid_checks(result) if c.startswith("bar 1 may be")]


@pytest.mark.parametrize("style", ["house", "offbeat", "pop", "dnb"])
def test_music_with_clear_bars_is_not_checked(style: str) -> None:
    y, truth = synthesize_track(128.0, 60.0, SR, style=style)
    result = analyze_signal(y, SR, f"{style}.wav")
    assert f_measure(np.asarray(truth.downbeats), np.asarray(result.downbeats)) > 0.9  # and right
    assert result.bar_ambiguity <= 0.5
    assert not [c for c in grid_checks(result) if c.startswith("bar 1 may be")]


def test_showctl_analyze_warns_of_bar_one_and_says_it_in_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav = tmp_path / "metronome.wav"
    sf.write(wav, _metronome(), SR)
    monkeypatch.setenv("SHOWCTL_CACHE_DIR", str(tmp_path / "cache"))
    result = run_showctl("analyze", str(wav))
    assert result.returncode == 0, result.stderr
    said = result.stderr.replace("\n", " ")
    assert f"warning: {wav}: bar 1 may be 2 beats later (the bar lines hardly stand out)" in said
    assert "and if so set 'first_downbeat: 0:01.5' in its playlist entry" in said
    [data] = json.loads(run_showctl("analyze", "--json", str(wav)).stdout)
    assert data["bar_ambiguity"] > 0.5 and data["bar_shift"] == 2
