"""A causal audio beat tracker: blocks of samples in, beats committed *ahead* of time out.

It sees each block once, as it arrives (no look-ahead), and keeps, madmom-style, one small step each:

    block ─▶ STFT frames ─▶ onset envelopes ─▶ tempo (every 0.25 s, ─▶ phase (every block, a comb ─▶ commit
             (1024-point,    (log-mel flux,      the offline estimator     over the last 8 beats, the   (beat due
              hop 256 at      kick band, snare    on the last 8 s: kick/    period free to move ±3 %)    within the
              22.05 kHz)      band)               snare evidence for the                                 lead time)
                                                  octave; locks when two
                                                  estimates agree)

Multi-resolution tempo: the long estimate needs ~2 s of drums before its 4-beat comb sees a pulse, so
while listening a quick estimate (`quick_tempo`: one lag and its double over the last 2.5 s, the class
range 85–180 BPM as the prior) locks on two agreeing estimates with a clear pulse, ~1 s into the drums;
the quick estimate then watches that lock until 4 s of history are there (it refines the tempo, and
replaces a quick lock only with an estimate whose pulse clearly beats the lock's on the same window, or
with the double tempo at an equal pulse: a lock on an intro, a 4:3 cousin or an octave too slow), and the
long estimate takes over with its usual switching rules.

Beats are committed `commit_lead` s (plus at most one block) before they happen, from the predicted grid,
so the lights can be sent early. The tracker holds the last good grid through breakdowns (weak pulse),
gives up after `hold_seconds` ("no-beat"), and never commits beats on silence or noise. The held grid is
the one the drums last confirmed, on the median period of the fits made on them: once the quick window
holds no hits, nothing refits it (the comb would bend its period on the fading beats or a pad's chord
changes) and no pulse without hits takes it up again; the drums coming back do. A hit is a drum's: a sharp
rise to a new peak in the kick band or the hats' band (`hits`), which a pad re-attacking its chords never makes.
Pure numpy: the onset and tempo steps are `showctl.analysis.tracker`'s, run on a sliding window.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from showctl.analysis.features import (
    HOP_LENGTH,
    KICK_FMAX,
    N_FFT,
    SNARE_BAND,
    _mel_filterbank,  # the offline tracker's filterbank: one definition of the bands both trackers use
    beat_envelope,
)
from showctl.analysis.tempo import CLASS_MIN_BPM, estimate_tempo
from showctl.live.audio_evidence import (
    HIT_HIGH_HZ,
    HIT_LOW_HZ,
    SILENCE_DB,
    fast_beat_coverage,
    hits,
    periodicity,
    periodicity_near,
    phase_envelope,
    pulse_at,
    quick_tempo,
)
from showctl.live.model import BeatEstimate, PredictedGrid, SourceState
from showctl.live.tracker_params import TrackerParams

__all__ = [
    "SAMPLE_RATE",
    "AudioBeatTracker",
    "TrackerParams",
]

FloatArray = npt.NDArray[np.float64]

SAMPLE_RATE = 22050  # the tracker's own rate; other rates are resampled as they stream in
N_MELS = 96


@dataclass
class _History:
    """Per-frame values kept for the last ~24 s (a growing array, compacted when full)."""

    capacity: int
    start: int = 0  # frame index of row 0
    size: int = 0
    full: FloatArray = field(default_factory=lambda: np.zeros(0))
    kick: FloatArray = field(default_factory=lambda: np.zeros(0))
    snare: FloatArray = field(default_factory=lambda: np.zeros(0))
    energy: FloatArray = field(default_factory=lambda: np.zeros(0))
    # Power (windowed, one-sided spectrum) below HIT_LOW_HZ, above HIT_HIGH_HZ, and in all: what `hits` reads.
    low: FloatArray = field(default_factory=lambda: np.zeros(0))
    high: FloatArray = field(default_factory=lambda: np.zeros(0))
    whole: FloatArray = field(default_factory=lambda: np.zeros(0))
    mel: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, N_MELS), dtype=np.float32))

    def __post_init__(self) -> None:
        self.full, self.kick, self.snare, self.energy, self.low, self.high, self.whole = (
            np.zeros(self.capacity) for _ in range(7))
        self.mel = np.zeros((self.capacity, N_MELS), dtype=np.float32)

    @property
    def end(self) -> int:
        """Frame index one past the newest frame."""
        return self.start + self.size

    def append(self, full: FloatArray, kick: FloatArray, snare: FloatArray, energy: FloatArray,
               bands: tuple[FloatArray, FloatArray, FloatArray], mel: npt.NDArray[np.float32]) -> None:
        """Add frames: envelopes, energy, the (low, high, whole) powers `hits` reads, and the mel levels."""
        n = len(full)
        arrays = (self.full, self.kick, self.snare, self.energy, self.low, self.high, self.whole, self.mel)
        if self.size + n > self.capacity:
            keep = self.capacity // 2
            drop = self.size - keep
            for arr in arrays:
                arr[:keep] = arr[drop : self.size]
            self.start += drop
            self.size = keep
        s = slice(self.size, self.size + n)
        self.full[s], self.kick[s], self.snare[s], self.energy[s], self.mel[s] = full, kick, snare, energy, mel
        self.low[s], self.high[s], self.whole[s] = bands
        self.size += n

    def window(self, frames: int) -> slice:
        """Rows of the newest `frames` frames (fewer when the history is shorter)."""
        return slice(max(0, self.size - frames), self.size)


class AudioBeatTracker:
    """Feed it blocks with `process()`; it returns the beats it commits to; `grid()` is its prediction."""

    name = "audio"

    def __init__(self, sr: int = SAMPLE_RATE, params: TrackerParams | None = None) -> None:
        if sr <= 0:
            raise ValueError(f"sample rate must be positive, got {sr}")
        self.params = params or TrackerParams()
        self.input_rate = sr
        self._resampler: Any = None
        if sr != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(sr, SAMPLE_RATE, 1, dtype="float32")
        self.sr = SAMPLE_RATE
        self.frame_rate = SAMPLE_RATE / HOP_LENGTH
        self._window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
        self._fb_full = _mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS, 0.0, SAMPLE_RATE / 2).astype(np.float32).T
        n_kick = max(2, min(N_MELS, int(KICK_FMAX / (SAMPLE_RATE / N_FFT)) // 2))
        self._fb_kick = _mel_filterbank(SAMPLE_RATE, N_FFT, n_kick, 0.0, KICK_FMAX).astype(np.float32).T
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
        self._snare_bins = (freqs >= SNARE_BAND[0]) & (freqs <= SNARE_BAND[1])
        self._low_bins = int(np.count_nonzero(freqs <= HIT_LOW_HZ))  # bins [0, low) and [high, end): `hits`
        self._high_bin = int(np.searchsorted(freqs, HIT_HIGH_HZ))
        # The stream starts with half a window of zeros, so frame i is centred on sample i·hop (as offline).
        self._tail = np.zeros(N_FFT // 2, dtype=np.float32)
        self._tail_start = -(N_FFT // 2)
        self._received = 0  # samples at SAMPLE_RATE, in the stream (after resampling)
        self._input_samples = 0
        self._next_frame = 0
        self._prev: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], float] | None = None
        self._db_peak = -200.0
        self._hist = _History(capacity=int(24 * self.frame_rate))
        self._frames_since_tempo = 0
        self._frames_since_phase = 0

        self._state: SourceState = "listening"
        self._tempo = 0.0  # BPM of the tempo estimate the grid follows
        self._candidate: float | None = None
        self._quick: float | None = None  # the previous quick estimate while listening
        self._from_quick = False  # the running tempo came from `quick_tempo` (not the long estimate)
        self._pending: tuple[float, int] | None = None  # a different tempo seen `n` times in a row
        self._half = 0  # half-beat checks in a row that found the half-beat points stronger than the beats
        self._sparse = 0  # estimates in a row that agreed with a lock whose beats the drums leave empty
        self._pulse = 0.0
        self._confidence = 0.0
        self._hold_since: float | None = None
        self._anchor = 0.0  # s: one beat of the grid
        self._period = 0.0  # s
        self._has_grid = False
        self._grid_since = 0.0  # s: when the grid's phase was last set from scratch
        self._jump: tuple[float, float] | None = None  # (drift in beats, since) of a phase jump held off
        self._score_ref = 0.0  # a typical best comb score while locked
        self._drums = False  # hits in the quick window at the last tempo step (the drums play)
        # (t, anchor, period) of the phase fits made while the drums played: what a held grid runs on.
        self._steady: deque[tuple[float, float, float]] = deque(maxlen=512)
        self._last_committed: float | None = None
        self._beat_number = 0
        self._committed: list[tuple[int, float]] = []  # (beat number, t) of beats whose cue is not yet taken
        self._cues: list[tuple[int, float, float]] = []  # (beat number, kick accent, spectral change)
        self._bar: tuple[int, int] = (4, 0)  # beats per bar, beat number mod bar of the downbeat
        self._last_block = 512 / SAMPLE_RATE

    # --- public surface ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Seconds of input received so far (the tracker's clock)."""
        return self._input_samples / self.input_rate

    @property
    def state(self) -> SourceState:
        return self._state

    @property
    def tempo(self) -> float | None:
        return self._tempo if self._state in ("locked", "holding") else None

    def grid(self) -> PredictedGrid | None:
        """The predicted grid (free-running while holding); None while listening or with no beat."""
        if not self._has_grid or self._state not in ("locked", "holding"):
            return None
        beats_per_bar, phase = self._bar
        number = self._beat_number if self._last_committed is not None else 0
        anchor = self._last_committed if self._last_committed is not None else self._anchor
        return PredictedGrid(self.name, 60.0 / self._period, anchor, (number - phase) % beats_per_bar,
                             beats_per_bar, self._confidence, self._state)

    def process(self, block: npt.ArrayLike) -> list[BeatEstimate]:
        """Take the next block of mono samples; return the beats committed while handling it."""
        x = np.asarray(block, dtype=np.float32).reshape(-1)
        self._input_samples += len(x)
        if len(x):
            self._last_block = len(x) / self.input_rate
        if self._resampler is not None:
            x = np.asarray(self._resampler.resample_chunk(x), dtype=np.float32)
        self._received += len(x)
        self._tail = np.concatenate([self._tail, x])
        new = self._frames()
        if new:
            self._frames_since_tempo += new
            every = max(1, round(self.params.tempo_every * self.frame_rate))
            if self._frames_since_tempo >= every:
                self._frames_since_tempo = 0
                self._update_tempo()
            self._frames_since_phase += new
            if self._state == "locked" and self._frames_since_phase >= self.params.phase_every * self.frame_rate:
                self._frames_since_phase = 0
                self._update_phase()
        self._take_cues()
        return self._commit()

    # --- steps ------------------------------------------------------------------------------------

    def _frames(self) -> int:
        """Turn every complete STFT frame in the buffered samples into envelope values; return how many."""
        half = N_FFT // 2
        last = (self._tail_start + len(self._tail) - half) // HOP_LENGTH  # newest frame index complete
        n = last - self._next_frame + 1
        if n <= 0:
            return 0
        offset = self._next_frame * HOP_LENGTH - half - self._tail_start
        frames = np.lib.stride_tricks.sliding_window_view(self._tail[offset:], N_FFT)[::HOP_LENGTH][:n]
        energy = np.mean(frames.astype(np.float64) ** 2, axis=1)
        spec = np.fft.rfft(frames * self._window, axis=1)
        power = (spec.real**2 + spec.imag**2).astype(np.float32)
        mel_full = 10.0 * np.log10(np.maximum(power @ self._fb_full, 1e-10))
        mel_kick = 10.0 * np.log10(np.maximum(power @ self._fb_kick, 1e-10))
        self._db_peak = max(self._db_peak, float(mel_full.max()))
        floor = self._db_peak - 80.0  # as offline: fades into the noise floor add no flux
        mel_full = np.maximum(mel_full, floor)
        mel_kick = np.maximum(mel_kick, floor)
        snare_mag = np.sqrt(power[:, self._snare_bins].sum(axis=1))
        if self._prev is None:
            self._prev = (mel_full[0], mel_kick[0], float(snare_mag[0]))
        pf, pk, ps = self._prev
        full = np.maximum(0.0, np.diff(np.vstack([pf, mel_full]), axis=0)).mean(axis=1)
        kick = np.maximum(0.0, np.diff(np.vstack([pk, mel_kick]), axis=0)).mean(axis=1)
        snare = np.maximum(0.0, np.diff(np.concatenate([[ps], snare_mag])))
        self._prev = (mel_full[-1], mel_kick[-1], float(snare_mag[-1]))
        bands = (power[:, : self._low_bins].sum(axis=1, dtype=np.float64),
                 power[:, self._high_bin :].sum(axis=1, dtype=np.float64), power.sum(axis=1, dtype=np.float64))
        self._hist.append(full.astype(np.float64), kick.astype(np.float64), snare.astype(np.float64), energy,
                          bands, mel_full.astype(np.float32))
        self._next_frame += n
        drop = self._next_frame * HOP_LENGTH - half - self._tail_start
        self._tail = self._tail[drop:]
        self._tail_start += drop
        return n

    def _update_tempo(self) -> None:
        p = self.params
        h = self._hist
        rows = h.window(round(p.tempo_window * self.frame_rate))
        n = rows.stop - rows.start
        level = 10.0 * math.log10(max(float(np.mean(h.energy[rows])), 1e-20)) if n else -200.0
        strong = False
        estimate = 0.0
        z_new = z_run = 0.0
        recent = h.window(round(self.frame_rate))
        recent_level = 10.0 * math.log10(max(float(np.mean(h.energy[recent])), 1e-20)) if n else -200.0
        self._drums = self._percussive()
        if self._state in ("listening", "no-beat") and recent_level > SILENCE_DB and self._quick_lock():
            return
        # Multi-resolution: until the long window holds `long_after` s, a lock is watched by the estimate
        # that made it, on the short window (the long one, on 2–4 s, swings between octaves).
        early = self._state in ("locked", "holding") and n < p.long_after * self.frame_rate
        if early:
            rows = h.window(round(p.quick_window * self.frame_rate))
            n = rows.stop - rows.start
        enough = n >= (p.quick_min if early else p.min_window) * self.frame_rate
        if enough and level > SILENCE_DB and recent_level > SILENCE_DB:
            full, kick, snare = h.full[rows], h.kick[rows], h.snare[rows]
            if early:
                estimate, z_new = quick_tempo(full, kick, snare, self.frame_rate)
                z_run = pulse_at(full, kick, self.frame_rate, self._tempo)
            else:
                estimate = estimate_tempo(full, self.frame_rate, kick_env=kick, snare_env=snare)
            env = beat_envelope(full, kick)
            self._pulse = periodicity_near(env, 60.0 * self.frame_rate / estimate)
            if self._state in ("locked", "holding"):
                # The running tempo keeps its lock while its own pulse is there, whatever one estimate says.
                self._pulse = max(self._pulse, periodicity_near(env, 60.0 * self.frame_rate / self._tempo))
                # A held grid comes back with the drums only: a breakdown's pad has a pulse of its own (its
                # chord changes, once a bar), at the tempo or at 4:3 or 3:2 of it.
                strong = self._pulse >= p.pulse_hold and (self._state == "locked" or self._drums)
            else:
                # A short window's autocorrelation is noisy (noise alone reaches ~0.2 over 2 s): ask more;
                # and a pulse without hits (a pad) is no beat.
                strong = self._pulse >= max(p.pulse_lock, 3.0 / math.sqrt(n)) and self._drums
        else:
            self._pulse = 0.0
        now = self.now

        if strong and self._state == "locked" and self._has_grid and self._drums:
            self._check_half_beat()
        if not strong:
            self._candidate = None
            self._pending = None
            if self._state == "locked":
                self._state = "holding"
                self._hold_since = now
                self._hold_grid()
            if self._state == "holding":
                held = now - (self._hold_since or now)
                if held > p.hold_seconds:
                    self._state = "no-beat"
                    self._confidence = 0.0
                else:
                    self._confidence *= 0.9
            elif now >= 4.0:
                self._state = "no-beat"
            return

        if self._state in ("listening", "no-beat"):
            if self._candidate is not None and abs(estimate / self._candidate - 1.0) < 0.04:
                self._lock(estimate, reset_phase=True)
            else:
                self._candidate = estimate
            return
        if not self._drums:
            # Locked, but the drums stopped (a breakdown whose pad or plucks keep the pulse up): the grid runs
            # on (`_update_phase` holds it), and no estimate on what is left changes its tempo.
            self._pending = None
            return

        if abs(estimate / self._tempo - 1.0) < 0.04:
            self._pending = None
            if not early and self._tempo / 2.0 >= 0.97 * CLASS_MIN_BPM and self._coverage(1.0) < p.cover_empty:
                # The estimate agrees, but the drums leave most beats empty: a double-tempo lock (hip-hop's
                # kick on the "and" of 3 makes the kick fold look like a kick on every beat).
                self._sparse += 1
                if self._sparse >= p.sparse_after:
                    self._sparse = 0
                    self._lock(0.5 * self._tempo, reset_phase=True)
                    return
            else:
                self._sparse = 0
            self._lock(0.5 * (self._tempo + estimate), reset_phase=False)
            return
        if early:
            # A few seconds of music settle no argument against the lock (the long estimate will), except
            # against a quick lock that the same quick estimate, on the same window, now clearly outscores.
            double = abs(estimate / (2.0 * self._tempo) - 1.0) < 0.04
            if (self._from_quick and self._clearly_better(estimate, z_new, z_run)
                    and (double or self._coverage(1.0) < p.cover_fast)):
                # (Not to a cousin of a grid whose every beat the drums hit: a dnb two-step repeats
                # strongly every 1.5 beats, so 110 outscores a right 165 on a short window.)
                if self._pending is not None and abs(estimate / self._pending[0] - 1.0) < 0.04:
                    self._pending = (estimate, self._pending[1] + 1)
                else:
                    self._pending = (estimate, 1)
                if self._pending[1] >= p.early_switch_after:
                    self._pending = None
                    self._lock(estimate, reset_phase=True, quick=True)
            else:
                self._pending = None
            return
        # A different tempo (a new track, or an octave the evidence now prefers): switch only once it
        # has been seen `switch_after` times in a row; hold the old grid meanwhile.
        if self._pending is not None and abs(estimate / self._pending[0] - 1.0) < 0.04:
            self._pending = (estimate, self._pending[1] + 1)
        else:
            self._pending = (estimate, 1)
        ratio = estimate / self._tempo
        needed = p.switch_after
        if abs(ratio / 2.0 - 1.0) < 0.04:
            # Up an octave: at once if the drums hit on (nearly) every beat of the faster grid.
            needed = p.switch_after if self._coverage(0.5) >= p.cover_fast else p.octave_after
        elif abs(2.0 * ratio - 1.0) < 0.04:
            # Down an octave: at once if the drums leave beats of the running grid empty (hip-hop at 170).
            needed = p.switch_after if self._coverage(1.0) < p.cover_slow else p.octave_after
        if self._pending[1] >= needed:
            self._pending = None
            self._lock(estimate, reset_phase=True)

    def _check_half_beat(self) -> None:
        """Move the grid half a beat when, over the last `half_beats` beats (whole bars, equal weights),
        the half-beat points carry clearly more onset than the beats, `half_after` checks in a row.

        The phase comb weighs the last beats most, so which half of a beat wins it changes through a
        bar (a dnb kick on the "and" of 3 wins for a beat or two); its jumps are held off, and this
        check, blind to where in the bar it is, settles the half-beat question instead."""
        p = self.params
        h = self._hist
        period = self._period * self.frame_rate
        beats = min(p.half_beats, int((h.size - 4) / period) // 4 * 4)
        if beats < 8:
            return
        rows = h.window(round(beats * period) + 4)
        n = rows.stop - rows.start
        env = phase_envelope(h.full[rows], h.kick[rows])
        reach = 2
        padded = np.concatenate([np.zeros(reach), env, np.zeros(reach)])
        near = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1).max(axis=1)
        anchor = (self._anchor - p.onset_lead) * self.frame_rate - (h.start + rows.start)
        first = anchor % period
        on = near[np.round(np.arange(first, n - reach, period)).astype(np.int64)][-beats:]
        mid = near[np.round(np.arange((first + 0.5 * period) % period, n - reach, period)).astype(np.int64)][-beats:]
        if float(mid.mean()) > p.half_margin * float(on.mean()):
            self._half += 1
            if self._half >= p.half_after:
                self._half = 0
                self._anchor += 0.5 * self._period
                self._jump = None
                self._steady = deque(((t, a + 0.5 * d, d) for t, a, d in self._steady), self._steady.maxlen)
        else:
            self._half = 0

    def _coverage(self, step: float) -> float:
        """`fast_beat_coverage` of the last `cover_window` s at the running tempo (`step` = 1.0) or at
        twice the running tempo (`step` = 0.5)."""
        h = self._hist
        rows = h.window(round(self.params.cover_window * self.frame_rate))
        if not self._has_grid:
            return 0.0
        anchor = (self._anchor - self.params.onset_lead) * self.frame_rate - (h.start + rows.start)
        return fast_beat_coverage(h.kick[rows], h.snare[rows], self.frame_rate, anchor,
                                  step * self._period * self.frame_rate)

    def _clearly_better(self, estimate: float, z_new: float, z_run: float) -> bool:
        """Whether a quick estimate should replace the quick lock: its pulse is clear and clearly above the
        locked tempo's on the same window (a lock on an intro, or on a 4:3 or 2:3 cousin of the beat), or
        it is the double tempo, which the drums now support, with as strong a pulse (an octave too slow:
        a period's autocorrelation can never beat its double's there, so ask only for a tie)."""
        p = self.params
        if z_new < p.quick_lock:
            return False
        if z_new >= p.switch_margin * max(z_run, 1.0):
            return True
        return abs(estimate / (2.0 * self._tempo) - 1.0) < 0.04 and z_new >= p.double_tie * z_run

    def _quick_lock(self) -> bool:
        """While listening: lock on two agreeing `quick_tempo` estimates with a clear pulse."""
        p = self.params
        h = self._hist
        rows = h.window(round(p.quick_window * self.frame_rate))
        n = rows.stop - rows.start
        if n < p.quick_min * self.frame_rate or not self._drums:
            self._quick = None
            return False
        estimate, pulse = quick_tempo(h.full[rows], h.kick[rows], h.snare[rows], self.frame_rate)
        if pulse < p.quick_lock:
            self._quick = None
            return False
        previous, self._quick = self._quick, estimate
        if previous is None or abs(estimate / previous - 1.0) >= 0.04:
            return False
        self._quick = None
        self._pulse = periodicity(beat_envelope(h.full[rows], h.kick[rows]), 60.0 * self.frame_rate / estimate)
        self._lock(estimate, reset_phase=True, quick=True)
        return True

    def _percussive(self) -> bool:
        """Whether the quick window holds hits (drums), not only a pulse (a pad swelling, beating or
        re-attacking its chords)."""
        p = self.params
        h = self._hist
        frames = round(p.quick_window * self.frame_rate)
        rows = h.window(frames + round(p.hit_memory * self.frame_rate))  # and the frames its first hits follow
        past = max(0, rows.stop - rows.start - frames)
        return hits(h.energy[rows], h.low[rows], h.high[rows], h.whole[rows], self.frame_rate, p, past) >= p.hit_count

    def _lock(self, tempo: float, *, reset_phase: bool, quick: bool = False) -> None:
        if reset_phase:
            self._from_quick = quick
        self._tempo = tempo
        self._state = "locked"
        self._hold_since = None
        self._candidate = None
        self._quick = None
        self._confidence = float(np.clip(self._pulse / 0.3, 0.0, 1.0))
        if reset_phase:
            self._has_grid = False
            self._score_ref = 0.0
            self._cues.clear()
            self._steady.clear()
        self._update_phase()

    def _update_phase(self) -> None:
        """Fit the grid's phase and local period to the last `phase_beats` beats of the envelope."""
        if self._has_grid and not self._drums:
            self._hold_grid()  # no hits in the quick window: the comb would fit a pad's chord changes
            return
        p = self.params
        h = self._hist
        period = 60.0 * self.frame_rate / self._tempo  # frames
        span = int(period * (p.phase_beats + 1) * (1 + p.period_spread)) + p.guard_frames + 8
        rows = h.window(span)
        n = rows.stop - rows.start
        if n < 2 * period:
            return
        env = phase_envelope(h.full[rows], h.kick[rows])
        width = max(1.0, period / 32.0)
        k = np.arange(-int(3 * width), int(3 * width) + 1)
        kernel = np.exp(-0.5 * (k / width) ** 2)
        env = np.convolve(env, kernel / kernel.sum(), mode="same")
        ref = n - 1 - p.guard_frames
        periods = period * (1.0 + np.linspace(-p.period_spread, p.period_spread, 5))
        offsets = np.arange(0.0, period, 1.0)
        beats = np.arange(p.phase_beats)
        weights = p.phase_decay ** beats
        pos = ref - offsets[None, :, None] - beats[None, None, :] * periods[:, None, None]
        values = np.interp(pos, np.arange(n), env, left=0.0)
        score = (values * weights).sum(axis=2)
        if self._has_grid:
            # Continuity: a phase far from the running grid must beat it clearly (a dnb kick on the "and"
            # of 3 must not pull the grid half a beat for one bar).
            last = (h.start + rows.start + ref - offsets) / self.frame_rate + p.onset_lead
            drift = ((last - self._anchor) / self._period + 0.5) % 1.0 - 0.5
            score = score * (1.0 - p.continuity * (1.0 - np.exp(-0.5 * (drift / 0.08) ** 2)))[None, :]
        d, m = np.unravel_index(int(np.argmax(score)), score.shape)
        best = float(score[d, m])
        if self._has_grid and best < 0.3 * self._score_ref:
            return  # the recent beats are nearly empty (the music stopped): keep the grid running as it is
        self._score_ref = best if self._score_ref == 0.0 else 0.9 * self._score_ref + 0.1 * best
        # Sub-frame peak: a parabola through the best offset and its neighbours.
        row = score[d]
        off = float(offsets[m])
        if 0 < m < len(offsets) - 1:
            a, b, c = float(row[m - 1]), float(row[m]), float(row[m + 1])
            denom = a - 2 * b + c
            if denom < 0:
                off += 0.5 * (a - c) / denom
        anchor = (h.start + rows.start + ref - off) / self.frame_rate + p.onset_lead
        now = self.now
        if self._has_grid and now - self._grid_since >= p.jump_after:
            # Hold an established grid against a phase jump until the jump has won for `jump_after` s.
            drift = ((anchor - self._anchor) / self._period + 0.5) % 1.0 - 0.5
            if abs(drift) > p.jump_tol:
                if self._jump is None or abs(((drift - self._jump[0]) + 0.5) % 1.0 - 0.5) > p.jump_tol:
                    self._jump = (drift, now)
                if now - self._jump[1] < p.jump_after:
                    return
            self._jump = None
        self._anchor = anchor
        self._period = float(periods[d]) / self.frame_rate
        if not self._has_grid:
            self._grid_since = now
        self._has_grid = True
        if self._drums:
            self._steady.append((now, anchor, self._period))

    def _hold_grid(self) -> None:
        """Set the grid the tracker holds: the steady period (`steady_window`), through the newest fit made
        on the drums at that period, so the held beats continue the last grid the drums confirmed.

        The last local fit is no tempo to run on for 24 s: fitted to a pulse that is fading, it bends by
        the comb's 1.5 % step (0.24 s off after 16 s). Nor is the long tempo estimate: as the pulse fades
        into a pad it was up to 0.6 % off, once an octave; this median stayed within 0.03 % (12 tracks,
        8 styles at 90-174 BPM, the drums stopping into silence or a sustained pad)."""
        if not self._steady:
            return
        newest = self._steady[-1][0]
        recent = [(a, d) for t, a, d in self._steady if t >= newest - self.params.steady_window]
        period = sorted(d for _, d in recent)[len(recent) // 2]  # a median that is one fit's period
        self._anchor = next(a for a, d in reversed(recent) if abs(d / period - 1.0) <= self.params.steady_tol)
        self._period = period

    def _commit(self) -> list[BeatEstimate]:
        if not self._has_grid or self._state not in ("locked", "holding"):
            return []
        now = self.now
        out: list[BeatEstimate] = []
        horizon = now + self.params.commit_lead + self._last_block
        while True:
            after = self._last_committed + 0.5 * self._period if self._last_committed is not None else now
            n = math.floor((after - self._anchor) / self._period) + 1
            t = self._anchor + n * self._period
            if t > horizon:
                break
            if self._last_committed is not None:
                self._beat_number += max(1, round((t - self._last_committed) / self._period))
            self._last_committed = t
            self._committed.append((self._beat_number, t))
            if t < now:
                # The grid moved (a phase jump, a tempo change refitted) and its next beat is already past: a
                # beat reported after it happened would fire the lights late, so it is dropped. It still counts
                # (bar numbers, downbeat cues): the music played it.
                continue
            beats_per_bar, phase = self._bar
            out.append(BeatEstimate(t, now, 60.0 / self._period, self._beat_number % beats_per_bar == phase,
                                    self._confidence))
        return out

    def _take_cues(self) -> None:
        """Downbeat evidence of beats now fully heard: kick accent and spectral change at the beat."""
        h = self._hist
        newest = h.end - 1
        while self._committed:
            number, t = self._committed[0]
            half = 0.5 * self._period * self.frame_rate
            f = (t - self.params.onset_lead) * self.frame_rate
            if f + half + 2 > newest:
                break
            self._committed.pop(0)
            lo = int(f - half) - h.start
            mid = round(f) - h.start
            hi = int(f + half) - h.start
            if lo < 0 or hi <= mid + 1:
                continue
            accent = float(np.max(h.kick[max(0, mid - 2) : mid + 3]))
            before = h.mel[lo:mid].mean(axis=0)
            after = h.mel[mid:hi].mean(axis=0)
            before = before - before.mean()
            after = after - after.mean()
            cos = float(np.dot(before, after) / (np.linalg.norm(before) * np.linalg.norm(after) + 1e-9))
            self._cues.append((number, accent, 1.0 - cos))
            self._cues = self._cues[-48:]
            self._bar = _bar_phase(self._cues, self._bar)


def _bar_phase(cues: list[tuple[int, float, float]], current: tuple[int, int]) -> tuple[int, int]:
    """(beats per bar, beat number mod bar of the downbeat) from the cues of the last beats.

    As offline (`estimate_metre`): fold the standardised cue by each metre; the true metre puts every bar
    line in one phase. 4/4 unless 3/4 stands out clearly (25 %); nothing changes before 8 beats.
    """
    if len(cues) < 8:
        return current
    numbers = np.array([c[0] for c in cues])
    accent = np.array([c[1] for c in cues])
    change = np.array([c[2] for c in cues])

    def z(x: FloatArray) -> FloatArray:
        sd = float(np.std(x))
        return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)

    cue = z(accent) + z(change)
    best: dict[int, tuple[float, int]] = {}
    for metre in (4, 3):
        if len(cues) < 4 * metre and metre != 4:
            continue
        scores = [float(np.mean(cue[numbers % metre == p])) if np.any(numbers % metre == p) else -9.0
                  for p in range(metre)]
        order = sorted(scores, reverse=True)
        best[metre] = (order[0] - float(np.mean(order[1:])), int(np.argmax(scores)))
    metre = 4
    if 3 in best and best[3][0] > 1.25 * max(best[4][0], 1e-9):
        metre = 3
    return metre, best[metre][1]
