"""One phase for a steady track (issue 15 item 2): a grid that slid onto the off-beat, or a quarter beat off,
part of the way is brought back by `showctl.analysis.phase_lock`; a grid that holds one phase, or follows a
changing tempo, is left as it was."""

from __future__ import annotations

import numpy as np
import pytest

from showctl.analysis.evaluate import f_measure
from showctl.analysis.phase_lock import lock_phase, steady_grid

FRAME_RATE = 100.0
PERIOD = 0.5  # 120 BPM
SECONDS = 120.0
TRUE_BEATS = np.arange(0.3, SECONDS - 1.0, PERIOD)


def _pulses(times: np.ndarray, height: float = 1.0) -> np.ndarray:
    env = np.zeros(int(SECONDS * FRAME_RATE))
    np.add.at(env, np.clip(np.round(times * FRAME_RATE).astype(int), 0, len(env) - 1), height)
    return env


def _rock_bands() -> dict[str, np.ndarray]:
    """A metal groove: kick on beats 1 and 3 with a double kick on the 8ths between, snare on 2 and 4, and
    guitars on every 8th as loud on the off-beat as on the beat."""
    beats = TRUE_BEATS
    eighths = np.sort(np.concatenate([beats, beats + PERIOD / 2]))
    kick = _pulses(beats[0::2]) + _pulses(beats + PERIOD / 2, 0.6)
    snare = _pulses(beats[1::2])
    guitars = _pulses(eighths)
    return {"full": guitars + 0.5 * kick + 0.5 * snare, "mid": 0.5 * guitars + snare, "kick": kick,
            "bass": kick}


def _slid(beats: np.ndarray, start: int, stop: int, by: float) -> np.ndarray:
    """`beats` with those from index `start` to `stop` moved `by` beats, sliding there over four beats."""
    out = beats.copy()
    ramp = np.clip((np.arange(len(beats)) - start + 1) / 4.0, 0.0, 1.0) - np.clip(
        (np.arange(len(beats)) - stop + 1) / 4.0, 0.0, 1.0)
    return out + by * PERIOD * ramp


@pytest.mark.parametrize(("start", "stop"), [(80, 160), (20, 200)], ids=["a third off", "most of it off"])
def test_a_grid_that_slid_onto_the_off_beat_comes_back(start: int, stop: int) -> None:
    tracked = _slid(TRUE_BEATS, start, stop, 0.5)
    assert f_measure(tracked, TRUE_BEATS) < 0.7
    locked = lock_phase(tracked, _rock_bands(), FRAME_RATE)
    # The majority of the beats does not decide: the backbeat and the low end do.
    assert f_measure(locked, TRUE_BEATS) > 0.98


def test_a_grid_a_quarter_early_on_a_kick_playing_sixteenths_comes_back() -> None:
    sixteenths = np.sort(np.concatenate([TRUE_BEATS + k * PERIOD / 4 for k in range(4)]))
    bands = {"full": _pulses(TRUE_BEATS, 2.0) + _pulses(sixteenths, 0.3), "mid": _pulses(TRUE_BEATS),
             "kick": _pulses(sixteenths), "bass": _pulses(TRUE_BEATS)}
    tracked = _slid(TRUE_BEATS, 60, 130, -0.25)
    assert f_measure(tracked, TRUE_BEATS) < 0.8
    assert f_measure(lock_phase(tracked, bands, FRAME_RATE), TRUE_BEATS) > 0.98


def test_a_grid_in_one_phase_is_left_as_it_is() -> None:
    jitter = np.random.default_rng(1).normal(0.0, 0.008, len(TRUE_BEATS))
    tracked = TRUE_BEATS + jitter
    np.testing.assert_array_equal(lock_phase(tracked, _rock_bands(), FRAME_RATE), tracked)
    # ... even on the off-beat throughout: the whole track is never moved, only made to agree with itself.
    off = tracked + PERIOD / 2
    np.testing.assert_array_equal(lock_phase(off, _rock_bands(), FRAME_RATE), off)


def test_a_grid_that_follows_a_changing_tempo_is_left_as_it_is() -> None:
    # A live band drifting ±4 % around 120 BPM, and a ramp from 120 to 132: no one steady grid fits.
    rng = np.random.default_rng(2)
    drifting = 0.3 + np.cumsum(PERIOD * (1.0 + 0.04 * np.sin(np.arange(230) / 15.0) + rng.normal(0, 0.005, 230)))
    ramp = 0.3 + np.cumsum(60.0 / np.linspace(120.0, 132.0, 230))
    for tracked in (drifting, ramp):
        np.testing.assert_array_equal(lock_phase(tracked, _rock_bands(), FRAME_RATE), tracked)


def test_steady_grid_finds_the_period_and_phase_whatever_half_the_beats_sit_on() -> None:
    tracked = _slid(TRUE_BEATS, 80, 160, 0.5)
    period, origin, fit = steady_grid(tracked, 2)
    assert period == pytest.approx(PERIOD, rel=1e-4)
    assert ((origin - 0.3) / (PERIOD / 2)) % 1.0 == pytest.approx(0.0, abs=0.02) or \
        ((origin - 0.3) / (PERIOD / 2)) % 1.0 == pytest.approx(1.0, abs=0.02)
    assert fit > 0.9


def test_music_that_comes_back_on_another_phase_keeps_it() -> None:
    # Two parts, the second half a beat off the first's grid (a break, then the band comes back on the
    # "and"): each part's kicks clearly hold its own beats, so neither is moved onto the other's phase.
    second = TRUE_BEATS >= 60.0
    beats = np.where(second, TRUE_BEATS + PERIOD / 2, TRUE_BEATS)
    kick = _pulses(beats)
    bands = {"full": kick, "mid": kick, "kick": kick, "bass": kick}
    np.testing.assert_array_equal(lock_phase(beats, bands, FRAME_RATE), beats)
