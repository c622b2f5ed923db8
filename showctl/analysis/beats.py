"""Beats: a dynamic programme over the beat envelope (Ellis 2007) with the tempo as a soft target, trimmed to
where onsets and the drums' lasting hits are; refined off the frame grid and carried back to the start."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from showctl.analysis.features import _normalise
from showctl.analysis.peaks import peak_near as _peak_near

FloatArray = npt.NDArray[np.float64]

# --- beats -------------------------------------------------------------------------------------------


def track_beats(
    env: FloatArray, frame_rate: float, tempo: float, *, tightness: float = 120.0, bands: FloatArray | None = None
) -> FloatArray:
    """Beat times (s) by dynamic programming over `env` (Ellis 2007), with the tempo as a soft target.

    Each frame's best score is its onset strength plus the best predecessor's score, less a penalty for
    an interval far (on a log scale) from the beat period. Backtracking from the strongest late frame
    gives the beat sequence; beats in the quiet lead-in and tail are trimmed. Given `bands` (the log-mel
    levels `env` was drawn from, frames × bands), the tail also ends where the drums stop (`groove_end`).
    """
    n = len(env)
    if n == 0 or tempo <= 0:
        return np.zeros(0)
    period = 60.0 * frame_rate / tempo
    local = _normalise(env - np.mean(env))
    # Smooth by a short Gaussian (±period/32) so a beat lands on the onset peak, not on a jitter spike.
    width = max(1.0, period / 32.0)
    k = np.arange(-int(4 * width), int(4 * width) + 1)
    local = np.convolve(local, np.exp(-0.5 * (k / width) ** 2), mode="same")

    lo = max(1, round(period / 2))
    hi = max(lo + 1, round(2 * period))
    offsets = np.arange(hi, lo - 1, -1)  # predecessor distances, far to near
    penalty = -tightness * np.log(offsets / period) ** 2
    # Frames i..i+lo-1 only look back to i-1 or earlier, so each block of `lo` frames is scored at once:
    # row r of the window view is frame i+r's candidates cum[i+r-hi .. i+r-lo], far to near, as in Ellis'
    # frame-by-frame loop (same sums, same first-maximum tie-break). `padded` holds cum behind `hi`
    # frames of -inf, which no predecessor beats.
    padded = np.full(n + hi, -np.inf)
    cum = padded[hi:]
    back = np.full(n, -1, dtype=np.int64)
    cum[: min(lo, n)] = local[: min(lo, n)]  # nothing lies far enough back yet
    windows = np.lib.stride_tricks.sliding_window_view(padded, hi - lo + 1)
    for i in range(lo, n, lo):
        stop = min(i + lo, n)
        cand = windows[i : stop] + penalty  # rows: frames i..stop-1, starting at padded[i] = cum[i-hi]
        j = np.argmax(cand, axis=1)
        best = cand[np.arange(stop - i), j]
        take = best > 0
        cum[i:stop] = local[i:stop] + np.where(take, best, 0.0)
        back[i:stop] = np.where(take, np.arange(i, stop) - hi + j, -1)

    # End on the last frame whose cumulative score is a local peak well above the median (avoids
    # finishing inside a fade-out), then backtrack.
    tail = cum[max(0, n - int(2 * period)) :]
    last = n - len(tail) + int(np.argmax(tail))
    frames = [last]
    while back[frames[-1]] >= 0:
        frames.append(int(back[frames[-1]]))
    beat_frames = np.array(frames[::-1], dtype=np.int64)
    lasting = None if bands is None else lasting_share(bands, beat_frames)
    beat_frames = _trim_edges(beat_frames, env, lasting)
    return beat_frames / frame_rate


def _trim_edges(
    frames: npt.NDArray[np.int64], env: FloatArray, lasting: FloatArray | None = None
) -> npt.NDArray[np.int64]:
    """Drop beats at the start and end where there is no onset near them (silence, quiet intro, tail).

    Given each beat's `lasting_share`, the end is also where the drums stop (`groove_end`): no beat after
    the groove's reach, and a lasting hit there counts as an onset even where a held chord masks its flux.
    """
    if len(frames) < 3:
        return frames
    strength = _peak_near(env)[frames]
    typical = float(np.median(strength))
    on_onset = strength >= 0.3 * typical
    keep = np.flatnonzero(on_onset)
    if len(keep) == 0:
        return frames
    first, last = int(keep[0]), int(keep[-1])
    if lasting is not None:
        hits = (lasting >= LASTING_SHARE) & (strength >= HIT_FLOOR * typical)
        end = groove_end(hits)
        if end is not None:
            heard = np.flatnonzero((on_onset | hits)[:end])
            if heard[-1] >= first:
                last = int(heard[-1])
    return frames[first : last + 1]


# --- where the drums stop: lasting hits -------------------------------------------------------------

# How a hit's sound is told from a cut's or a flicker's: a band counts as still sounding when, once the
# analysis window has moved past the onset, it stands this far above its level just before the onset.
LASTING_RISE_DB = 3.0
# A beat is a lasting hit when at least this share of its onset (its flux, band by band) is in bands that
# still sound. In the corpus's mixes the kicks, snares and stabs score 0.6-1 and hats-only beats ~0-0.3; a
# sound cut off under a sound that goes on (an edit, a chord held over the file's end), a ring-out's flicker
# and the noise under a fading chord score 0-0.3: their flux is the window straddling a drop, and nothing
# is left once it has passed. Log flux alone cannot tell: the cut of a ringing bass flares like a kick.
# The share is weighed in dB, so in a sparse mix a hit's click or attack spreading into nearly empty bands
# can outweigh its body (a bare kick over a loud bass, a bass note alone: 0-0.6). Inside the track such a
# beat only lengthens a run between hits (the groove reaches further); as the very last hit it is missed,
# and the beats end at the hit before it plus the groove's reach.
LASTING_SHARE = 0.5
# ... and has at least this share of a typical beat's onset strength (the median over the track's beats):
# the noise under a fading chord has ~0.01-0.05, a snare under a loud chord still ~0.25.
HIT_FLOOR = 0.1
# A run of beats without a lasting hit this long or longer is not the groove (a breakdown, an intro): it
# does not count towards how long the groove goes between hits.
GROOVE_BAR = 4
# Frames (11.6 ms) either side of an onset's flux peak: the levels before it (frames -6..-2, windows that
# end before the onset) and after it (+4..+6, windows that start after the onset: 4 hops = one window).
_BEFORE = np.arange(-6, -1)
_AFTER = np.arange(4, 7)


def lasting_share(bands: FloatArray, frames: npt.NDArray[np.int64]) -> FloatArray:
    """Per beat frame, the share of its onset (the flux peak of the log-mel levels `bands`, frames × bands in
    dB, within ±2 frames) that lies in bands still `LASTING_RISE_DB` above their level before the onset once
    the window has passed it: ~1 for a hit whose sound stays, ~0 for a cut.

    Scale-free (log levels), so a fade-out's hits count like loud ones. Only `len(frames)` small windows are
    read, not the whole spectrogram.
    """
    n = len(bands)
    if n < 2 or len(frames) == 0:
        return np.zeros(len(frames))
    near = np.clip(np.asarray(frames, dtype=np.int64)[:, None] + np.arange(-2, 3), 0, n - 1)
    rises = np.maximum(bands[near] - bands[np.maximum(near - 1, 0)], 0.0)  # beats × 5 frames × bands
    pick = np.argmax(rises.mean(axis=2), axis=1)
    peak = near[np.arange(len(near)), pick]
    weight = rises[np.arange(len(near)), pick].astype(np.float64)

    def level(offsets: npt.NDArray[np.int64]) -> FloatArray:
        rows = np.clip(peak[:, None] + offsets, 0, n - 1)
        power = np.mean(10.0 ** (bands[rows].astype(np.float64) / 10.0), axis=1)
        return np.asarray(10.0 * np.log10(power), dtype=np.float64)

    stays = level(_AFTER) - level(_BEFORE) >= LASTING_RISE_DB
    total = weight.sum(axis=1)
    return np.where(total > 0, (weight * stays).sum(axis=1) / np.maximum(total, 1e-12), 0.0)


def groove_end(hits: npt.NDArray[np.bool_]) -> int | None:
    """Index one past the last beat the drums carry, from which beats are lasting hits (`lasting_share`);
    None: too few hits to tell, or too sparse (most beats in runs of a bar or more without one).

    The groove reaches as many beats past its last lasting hit as it ever goes between two hits (its longest
    run without one, runs of `GROOVE_BAR` beats or more aside): a hip-hop bar's hats-only beats, a waltz's
    two "pah"s. Beats further on sit on sound without onsets (a chord held after the drums, a ring-out)
    or on a cut. Only the end is set: a breakdown inside the track keeps its grid.
    """
    where = np.flatnonzero(hits)
    if len(where) < 2:
        return None
    runs = np.diff(where) - 1
    long = runs[runs >= GROOVE_BAR]
    if 2 * int(long.sum()) > int(where[-1] - where[0]):
        return None  # mostly bars without a lasting hit: no groove whose end these hits could tell
    short = runs[runs < GROOVE_BAR]
    reach = int(short.max()) if len(short) else 0
    return int(where[-1]) + reach + 1


def tempo_from_beats(beats: FloatArray) -> float | None:
    """The tempo of a beat grid: least-squares slope of beat time against beat index (None if < 4 beats)."""
    if len(beats) < 4:
        return None
    idx = np.arange(len(beats), dtype=np.float64)
    slope = float(np.polyfit(idx, beats, 1)[0])
    return 60.0 / slope if slope > 0 else None


def refine_beats(beats: FloatArray, frame_rate: float, *, onset_lead: float, window: int = 8) -> FloatArray:
    """Beat times off the frame grid: the tracker picks frames (1/frame_rate apart, 11.6 ms here), so a
    steady 128 BPM track comes out with beat intervals jittering by a frame — enough to make a MIDI clock
    derived from them wobble by ±2 %. Each beat is replaced by a straight-line fit through its ±`window`
    neighbours where that line fits them to within two frames (steady tempo); elsewhere (a real tempo
    change) the beat is kept. All beats move later by `onset_lead`: spectral flux peaks while the attack is
    still entering the analysis window, a quarter window before the sound is heard.
    """
    times = np.asarray(beats, dtype=np.float64)
    if len(times) < 4:
        return times + onset_lead
    # Every window's least-squares line at once: rows are beats, columns their ±window neighbours (NaN
    # past either end, so edge windows simply hold fewer beats).
    n = len(times)
    offsets = np.arange(-window, window + 1)
    where = np.arange(n)[:, None] + offsets[None, :]
    inside = (where >= 0) & (where < n)
    t = np.where(inside, times[np.clip(where, 0, n - 1)], np.nan)
    x = np.where(inside, where, np.nan).astype(np.float64)
    count = inside.sum(axis=1)
    x_mean = np.nanmean(x, axis=1, keepdims=True)
    t_mean = np.nanmean(t, axis=1, keepdims=True)
    slope = np.nansum((x - x_mean) * (t - t_mean), axis=1) / np.nansum((x - x_mean) ** 2, axis=1)
    intercept = t_mean[:, 0] - slope * x_mean[:, 0]
    misfit = np.nanmax(np.abs(slope[:, None] * x + intercept[:, None] - t), axis=1)
    steady = (count >= 4) & (misfit <= 2.0 / frame_rate)
    refined = np.where(steady, slope * np.arange(n) + intercept, times)
    return refined + onset_lead


# A beat may be this far (s) before the file's first sample and still be the file's first beat (at 0.000).
START_TOLERANCE = 0.035
# ... when the sound at the start is at most this far (dB) below the typical beat's: a hit, not a quiet
# intro swelling in (a pad starts tens of dB lower).
START_LEVEL_DB = 10.0


def beats_from_the_start(beats: FloatArray, loudness: FloatArray, frame_rate: float, blind: float) -> FloatArray:
    """`beats` (s) of the stretch that opens the file, with the grid carried back to the first sample when
    the music starts there: the onset envelope cannot see the first `blind` s (its first frames' windows
    hold reflected padding, and the first flux value is 0), so a hit at t = 0 never shows as an onset and
    the beat on it was dropped with the quiet lead-in; a downbeat at 0.000 went missing with it, and every
    bar of the track was numbered one early.

    The grid is carried back by whole periods when its earliest beat falls inside the blind start (from
    `START_TOLERANCE` s before the file to `blind` s into it) and the sound there (`loudness`, linear power
    per frame) is within `START_LEVEL_DB` of the median on the tracked beats. Beats between it and the first
    tracked beat are filled in (a beat with only a hat on it is trimmed from a lead-in just as a quiet one).
    """
    times = np.asarray(beats, dtype=np.float64)
    grid_tempo = tempo_from_beats(times)
    if grid_tempo is None or len(loudness) == 0:
        return times
    period = 60.0 / grid_tempo
    back = int(np.floor((times[0] + START_TOLERANCE) / period))
    earliest = times[0] - back * period
    if back == 0 or earliest > blind:
        return times
    frames = np.clip(np.round(times * frame_rate).astype(np.int64), 0, len(loudness) - 1)
    typical = float(np.median(loudness[frames]))
    start = float(np.max(loudness[: max(1, round(blind * frame_rate))]))
    if typical <= 0 or start < typical * 10.0 ** (-START_LEVEL_DB / 10.0):
        return times
    added = times[0] - period * np.arange(back, 0, -1)
    return np.concatenate([np.maximum(added, 0.0), times])
