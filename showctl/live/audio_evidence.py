"""The evidence the live audio tracker (`showctl.live.audio`) decides on, over a sliding window of its
onset envelopes: periodicity at a lag, drum hits, the quick first tempo, the pulse at a tempo, and how many
beats of a grid the drums hit. Pure numpy, one function per question."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from showctl.analysis.features import beat_envelope
from showctl.analysis.tempo import (
    CLASS_MAX_BPM,
    CLASS_MIN_BPM,
    _supports_double,  # the offline octave rule: does the drum pattern play every beat at this tempo?
    _ternary_faster,  # the offline 3/4 rule: is the beat 3/2 of the strongest period?
)
from showctl.live.tracker_params import TrackerParams

__all__ = [
    "HIT_HIGH_HZ", "HIT_LOW_HZ", "SILENCE_DB", "biased_acf", "centred_periodicity", "fast_beat_coverage", "hits",
    "normalise_sd", "periodicity", "periodicity_near", "phase_envelope", "pulse_at", "pulse_z", "quick_tempo",
]

FloatArray = npt.NDArray[np.float64]

SILENCE_DB = -55.0  # a window whose RMS stays below this (dBFS) is silence
# The two bands a hit (`hits`) is heard in: a kick's body, kept a Hann main lobe (43 Hz) below the lowest
# chord note of a pad or stab (C3, 131 Hz, in `showctl.demo.tracks`), and the noise of hats, snares and
# claps, above a pad's strong harmonics.
HIT_LOW_HZ = 100.0
HIT_HIGH_HZ = 5000.0


def periodicity(env: FloatArray, lag: float, multiples: int = 4) -> float:
    """Mean normalised autocorrelation of `env` at lag, 2·lag, …: ~0 for noise, 0.2–0.7 for a groove."""
    x = env - env.mean()
    return centred_periodicity(x, float(np.dot(x, x)) / max(len(x), 1), lag, multiples)


def centred_periodicity(x: FloatArray, var: float, lag: float, multiples: int = 4) -> float:
    """`periodicity` of an envelope already centred (`x`) with its variance `var`."""
    if var <= 0:
        return 0.0
    values = []
    for k in range(1, multiples + 1):
        lo = math.floor(k * lag)
        frac = k * lag - lo
        if lo + 1 >= len(x) - 4:
            break
        a = float(np.dot(x[lo:], x[: len(x) - lo])) / (len(x) - lo)
        b = float(np.dot(x[lo + 1 :], x[: len(x) - lo - 1])) / (len(x) - lo - 1)
        values.append(((1 - frac) * a + frac * b) / var)
    return float(np.mean(values)) if values else 0.0


def periodicity_near(env: FloatArray, lag: float, spread: float = 0.02) -> float:
    """`periodicity` at the best lag within ±`spread` of `lag`: an estimate 1 % off (85.9 BPM for 85)
    misses a spiky envelope's peaks at 4 lags (0.04 instead of 0.38) and would read as no pulse."""
    x = env - env.mean()  # centred once for the 9 lags
    var = float(np.dot(x, x)) / max(len(x), 1)
    return max(centred_periodicity(x, var, lag * (1.0 + f)) for f in np.linspace(-spread, spread, 9))


def hits(energy: FloatArray, low: FloatArray, high: FloatArray, whole: FloatArray, frame_rate: float,
         params: TrackerParams, past: int = 0) -> int:
    """How many drum hits the frames after the first `past` hold (those only serve as what came before),
    counted once per 0.1 s.

    A hit: the kick band (`low`, power below HIT_LOW_HZ per frame) or the hats' band (`high`, above
    HIT_HIGH_HZ) up by `hit_rise` dB within two frames, to `hit_rise` dB above its peak of the previous
    `hit_memory` s, with that band holding at least `hit_low_share` / `hit_high_share` dB of the frame's
    power (`whole`), where music already sounded two frames before (`energy`, the mean square, above
    SILENCE_DB: a sound starting out of silence is no hit). The peak memory is what tells a drum from a pad
    chord re-attacking: both rise from a dip, but only the drum rises above what was just there.
    """
    p = params
    n = len(energy)
    if n < 3:
        return 0
    memory = max(2, round(p.hit_memory * frame_rate))
    whole_db = 10.0 * np.log10(np.maximum(whole, 1e-20))
    hit = np.zeros(n, dtype=bool)
    for band, share in ((low, p.hit_low_share), (high, p.hit_high_share)):
        level = 10.0 * np.log10(np.maximum(band, 1e-20))
        peak = np.full(n, -np.inf)  # the band's peak over the `memory` frames before each frame
        for k in range(1, min(memory, n - 1) + 1):
            np.maximum(peak[k:], level[:-k], out=peak[k:])
        steep = np.zeros(n, dtype=bool)
        steep[2:] = level[2:] - level[:-2] >= p.hit_rise
        hit |= steep & (level - peak >= p.hit_rise) & (level - whole_db >= share)
    hit[2:] &= 10.0 * np.log10(np.maximum(energy[:-2], 1e-12)) > SILENCE_DB
    hit[: max(2, past)] = False
    up = np.flatnonzero(hit)
    if len(up) == 0:
        return 0
    return 1 + int(np.count_nonzero(np.diff(up) >= 0.1 * frame_rate))


def biased_acf(x: FloatArray, max_lag: int) -> FloatArray:
    """Autocorrelation of `x` (mean already removed) at lags 0..max_lag, over the whole length (biased:
    a short window's long lags fade to 0 instead of blowing up on the few frames they overlap)."""
    n = len(x)
    size = 1 << int(np.ceil(np.log2(2 * n + max_lag + 1)))
    spec = np.fft.rfft(x, size)
    acf = np.fft.irfft(spec * np.conj(spec), size)[: max_lag + 1]
    return np.asarray(acf / acf[0], dtype=np.float64) if acf[0] > 0 else np.zeros(max_lag + 1)


def quick_tempo(full: FloatArray, kick: FloatArray, snare: FloatArray, frame_rate: float,
                min_bpm: float = CLASS_MIN_BPM, max_bpm: float = CLASS_MAX_BPM) -> tuple[float, float]:
    """(BPM, pulse) from a short window (1–3 s): the provisional tempo a live tracker locks on first.

    The class-music range (85–180 BPM, one octave) is the prior: the strongest lag in it, plus half its
    autocorrelation one lag further (the next beat), picks the period; the offline rules then choose
    between the octaves the range still allows (`_supports_double`) and catch 3/4 (`_ternary_faster`).
    `pulse` is the autocorrelation at the chosen period (unbiased at that lag) in units of its spread on
    noise: a z-score, ~N(0, 1) without a beat (the best of the ~40 distinct lags in the range stays below
    ~3.5); a groove over 1.5 s of drums scores 5–8.
    """
    env = beat_envelope(full, kick)
    x = env - env.mean()
    n = len(x)
    lo, hi = 0.97 * min_bpm, 1.03 * max_bpm
    max_lag = int(np.ceil(2 * 60.0 * frame_rate / lo)) + 2
    acf = biased_acf(x, max_lag)
    grid = np.arange(max_lag + 1)

    def score(bpm: FloatArray) -> FloatArray:
        lag = 60.0 * frame_rate / bpm
        return np.asarray(np.interp(lag, grid, acf) + 0.5 * np.interp(2 * lag, grid, acf), dtype=np.float64)

    bpms = np.arange(lo, hi, 0.5)
    best = float(bpms[int(np.argmax(score(bpms)))])
    if 1.5 * best <= hi and _ternary_faster(kick, snare, frame_rate, best):
        best *= 1.5
    family = sorted((b for b in (best / 2, best, 2 * best) if lo <= b <= hi), reverse=True)
    chosen = family[-1]
    for bpm in family:
        if bpm / 2 < lo or _supports_double(kick, snare, frame_rate, bpm):
            chosen = bpm
            break
    fine = np.arange(0.97 * chosen, 1.03 * chosen, 0.05)
    chosen = float(fine[int(np.argmax(score(fine)))])
    return chosen, pulse_z(acf, n, 60.0 * frame_rate / chosen)


def pulse_z(acf: FloatArray, n: int, lag: float) -> float:
    """The biased autocorrelation `acf` of `n` frames at `lag`, unbiased, in units of its spread on noise
    (1/√overlap): ~N(0, 1) without a beat; 0 before two whole periods (nothing to call a pulse yet)."""
    if n < 2 * lag or lag + 1 >= len(acf):
        return 0.0
    return float(np.interp(lag, np.arange(len(acf)), acf)) * n / math.sqrt(n - lag)


def pulse_at(full: FloatArray, kick: FloatArray, frame_rate: float, bpm: float) -> float:
    """`quick_tempo`'s pulse (a z-score) at a given tempo, on the same window: how two tempos compare."""
    x = beat_envelope(full, kick)
    x = x - x.mean()
    lag = 60.0 * frame_rate / bpm
    return pulse_z(biased_acf(x, int(np.ceil(lag)) + 2), len(x), lag)


def phase_envelope(full: FloatArray, kick: FloatArray) -> FloatArray:
    """`beat_envelope` with the kick band compressed (square root) first: what the phase comb reads.

    Log-flux makes a hit out of silence score far above the same hit over a ringing note: a dnb kick on
    the "and" of 3 (the bass stopped half a beat before) outscores the downbeat kick, which lands while
    the previous bass note still rings, by up to 3 times at 165-180 BPM: enough to pull the grid half a
    beat. Compressed, each kick counts about once, and the snares and hats on the beats decide."""
    return beat_envelope(full, np.sqrt(kick))


def fast_beat_coverage(kick: FloatArray, snare: FloatArray, frame_rate: float, anchor: float,
                       period: float) -> float:
    """The share of the beats of a grid of `period` frames on which a drum (kick or snare) hits, at the
    grid through `anchor` (frames from the window's start) or half a beat from it, whichever is better (a
    running grid may sit half a beat off): ~1 where the drums play every beat (house, run at 160-180) or
    alternate kick and snare (drum & bass: 0.65-0.9), ≤ 0.55 on a grid twice as fast as the drums'
    (hip-hop at 170): the evidence for an octave that the offline kick fold cannot give (it folds
    hip-hop's kick on the "and" of 3 onto the beat, a kick on every beat). A hit is ≥ 0.3 of the louder
    phase's strong beats (90th percentile), so the weaker phase's hats do not count as hits."""
    n = min(len(kick), len(snare))
    if n < 4 * period:
        return 0.0
    drums = normalise_sd(kick[:n]) + normalise_sd(snare[:n])
    reach = 2  # frames either side: the grid's error plus a played part's timing
    # The strongest value within ±reach of every frame, then read at the grid's beats.
    padded = np.concatenate([np.full(reach, -np.inf), drums, np.full(reach, -np.inf)])
    near = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1).max(axis=1)
    strengths = [near[np.round(np.arange(first, n - reach, period)).astype(np.int64)]
                 for first in (anchor % period, (anchor + 0.5 * period) % period)]
    top = max(float(np.percentile(x, 90)) for x in strengths)
    if top <= 0:
        return 0.0
    return max(float(np.mean(x >= 0.3 * top)) for x in strengths)


def normalise_sd(env: FloatArray) -> FloatArray:
    sd = float(np.std(env))
    return env / sd if sd > 0 else env
