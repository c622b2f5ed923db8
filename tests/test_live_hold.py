"""The audio tracker's held grid: when the drums stop, the lights run on at the tempo the drums had.

Generated tracks with exact truth, whose drums stop for 16 s (the music stops, or a breakdown leaves only a
sustained pad) and then come back on the same grid, run through `follow_signal` as `showctl follow` runs
a file. The beats committed while the grid is held must stay on the true grid: a period 1.5 % off (the
comb's step, where the held grid used to end up) puts the lights 0.24 s off after 16 s, half a beat at 128.
A breakdown whose pad re-attacks its chords (once a bar or a beat) must not pass for drums either.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from showctl.analysis.evaluate import Truth
from showctl.demo.tracks import CORPUS_STYLES, DEMO_SAMPLE_RATE, CorpusSpec, synthesize_track
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


def _chords(n: int, bpm: float, every: int, attack: float) -> FloatArray:
    """`n` samples of a breakdown's pad that re-attacks: a chord a bar, struck anew every `every` beats from
    the first sample on, each rising over `attack` s and released over the last 80 ms before the next."""
    out = np.zeros(n)
    period = 60.0 / bpm
    chords = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))
    length = round(every * period * SR)
    t = np.arange(length) / SR
    envelope = np.minimum(1.0, t / attack) * np.clip((every * period - t) / 0.08, 0.0, 1.0)
    for k in range(int(n / SR / (every * period)) + 1):
        lo = round(k * every * period * SR)
        if lo >= n:
            break
        chord = chords[k * every // 4 % 4]
        tone = sum(np.sin(2 * np.pi * 440.0 * 2.0 ** ((note - 69) / 12) * h * t) / h
                   for note in chord for h in range(1, 5))
        out[lo : lo + length] += (envelope * tone)[: n - lo]
    return 0.08 * out


def _drums_stop(y: FloatArray, beats: tuple[float, ...], bpm: float, fill: str) -> tuple[FloatArray, float, float]:
    """`y` with the music from just before beat 40 replaced by silence, a pad or re-attacking chords (fill
    "chords-EVERY-ATTACK": struck every EVERY beats, on the beat, rising over ATTACK s) for `GAP` s, until
    just before a beat of the same grid, where it comes back; and (stop, back) in seconds."""
    truth = np.asarray(beats)
    stop = float(truth[40]) - 0.04
    back = float(truth[np.searchsorted(truth, stop + GAP)]) - 0.04
    i, j = round(stop * SR), round(back * SR)
    out = y.copy()
    if fill == "silence":
        out[i:j] = 0.0
    elif fill == "pad":
        out[i:j] = _pad(j - i, bpm)
    else:
        _, every, attack = fill.split("-")
        k = round(float(truth[40]) * SR)
        out[i:j] = 0.0
        out[k:j] = _chords(j - k, bpm, int(every), float(attack))
    return out, stop, back


def _errors(beats: list[BeatEstimate], truth: tuple[float, ...]) -> FloatArray:
    """Each committed beat's distance to the nearest true beat (s, signed: positive = late)."""
    ref = np.asarray(truth)
    times = np.array([b.t for b in beats])
    return np.asarray(times - ref[np.abs(times[:, None] - ref[None, :]).argmin(axis=1)], dtype=np.float64)


def _with_breakdown(style: str, bpm: float, seed: int, fill: str) -> tuple[FloatArray, Truth, float, float]:
    """A track whose drums stop after 75 beats and come back GAP s later, `fill` in between: the audio, its
    truth, when the drums stop and when they are back."""
    seconds = 1.0 + 75 * 60.0 / bpm + GAP
    if style in CORPUS_STYLES:
        y, truth = CorpusSpec("hold", bpm, seconds, seed, style, 1.0).synthesize()
    else:
        y, truth = synthesize_track(bpm, seconds, SR, seed, style=style, intro_beats=1.0)
    y, stop, back = _drums_stop(y, truth.beats, bpm, fill)
    return y, truth, stop, back


@pytest.mark.parametrize(("style", "bpm", "seed", "fill"), [
    # Hip-hop's sparse kicks: within 0.2 s of the music stopping the comb's period bent 1.5 %, and the
    # held grid ran 0.28 s (0.4 beat) off after 16 s.
    ("hiphop", 90.0, 703, "silence"),
    # The pad kept a pulse for 7 s: the comb bent the period (±3 %) on its chord changes, then the
    # tracker took the pad's pulse for the beat (up to 137 BPM): 0.23 s off.
    ("house", 128.0, 7, "pad"),
])
def test_the_held_grid_keeps_the_drums_tempo_and_phase(style: str, bpm: float, seed: int, fill: str) -> None:
    y, truth, stop, back = _with_breakdown(style, bpm, seed, fill)
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


@pytest.mark.parametrize(("style", "bpm", "seed", "fill"), [
    # A chord a bar, each rising over 0.3 s out of the last one's release: the whole frame energy rose 3 dB
    # within two frames at each bar line, so the tracker took these for hits, relocked on the pad and fitted
    # its grid to the chords (146-153 BPM, beats up to 94 ms off; 56 % within 70 ms once the drums were back).
    ("run", 150.0, 10, "chords-4-0.3"),
    # Struck every half bar, rising over 30 ms: the tracker stayed locked on the pad and halved its tempo
    # (87 BPM) 6.6 s into the breakdown.
    ("dnb", 174.0, 702, "chords-2-0.03"),
])
def test_a_pad_that_re_attacks_its_chords_is_no_drums(style: str, bpm: float, seed: int, fill: str) -> None:
    y, truth, stop, back = _with_breakdown(style, bpm, seed, fill)
    result = follow_signal(y[: round((back + 10.0) * SR)], SR)
    held = [b for b in result.beats if stop + 1.0 <= b.t < back]
    assert len(held) >= round((GAP - 2.0) * bpm / 60.0)  # the lights ran on through the breakdown ...
    assert all(b.tempo == pytest.approx(bpm, rel=0.002) for b in held)  # ... at the drums' tempo
    assert np.max(np.abs(_errors(held, truth.beats))) <= 0.020
    again = [b for b in result.beats if back <= b.t < back + 10.0]
    assert np.mean(np.abs(_errors(again, truth.beats)) <= 0.070) >= 0.95
