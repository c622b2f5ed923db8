"""Beat tracker: samples in, `TrackAnalysis` out, as a chain of small pure steps (madmom-style).

    signal ─▶ onset_envelope ─▶ estimate_tempo ─▶ track_beats ─▶ estimate_downbeats ─▶ confidence
                 (full band +        (class-music     (dynamic         (bar phase with the
                  kick band)          prior, kick      programming,     strongest bass accent
                                      evidence)        kick-weighted)   and chord change)

Silence splits the chain: onsets are zeroed where the track is silent (`silent_frames`) and where the
sound is cut off (the file's end, the start of a long silence), and each stretch between silences of
`MIN_SILENT_GAP` s or more (`sounding_spans`) gets its own beats and bars, so beats stop where the music
stops and come back in phase after a break. Where sound goes on after the drums (a chord held to the end),
a stretch's beats stop where its lasting hits do (`lasting_share`, `groove_end`), not on a later cut-off.

Nothing here reads files; `showctl.analysis.analyze_file` loads audio and calls `analyze_signal`.
Everything is plain numpy (spectrogram, mel bands, chroma, tempo search, the beat dynamic programme):
librosa's versions of these import scipy.signal and numba-compiled code, which costs ~2 s per process,
and ~20 s on a fresh install while numba fills its cache.

One spectrogram feeds every step: `analyze_signal` resamples to `ANALYSIS_RATE` (11025 Hz), takes one
46 ms / 11.6 ms STFT, and draws the onset envelopes, the band envelopes of the structure analysis and
the chroma of the downbeat cue from it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from showctl.analysis.model import TrackAnalysis
from showctl.analysis.peaks import peak_near as _peak_near
from showctl.analysis.phase import with_phase_doubt
from showctl.analysis.structure import analyze_structure
from showctl.errors import AnalysisError

__all__ = [
    "ANALYSIS_RATE",
    "GROOVE_BAR",
    "HOP_LENGTH",
    "LASTING_SHARE",
    "MIN_DURATION",
    "MIN_SILENT_GAP",
    "NO_BEAT_CONFIDENCE",
    "N_FFT",
    "SILENCE_DROP_DB",
    "SILENCE_PEAK",
    "alternate_beat_ratio",
    "analyze_signal",
    "band_flux",
    "beat_envelope",
    "beats_from_the_start",
    "chroma",
    "confidence",
    "downbeat_cues",
    "estimate_downbeats",
    "estimate_metre",
    "estimate_tempo",
    "frame_sizes",
    "groove_end",
    "lasting_share",
    "log_mel",
    "one_blas_thread",
    "onset_envelope",
    "onset_envelopes",
    "refine_beats",
    "resample",
    "section_confidence",
    "silent_frames",
    "snare_envelope",
    "sounding_spans",
    "spectrogram",
    "tempo_from_beats",
    "track_beats",
]

FloatArray = npt.NDArray[np.float64]

# 11.6 ms frames (the hop at 22050 Hz): fine enough that beat times need no sub-frame interpolation for a
# ±70 ms tolerance, coarse enough that a 90 s track is ~7800 frames for the Python-level DP loop.
HOP_LENGTH = 256
# A 46 ms window (as madmom uses, the FFT size at 22050 Hz): longer windows smear a kick's attack and
# pull onsets early. Other rates keep the same durations (`frame_sizes`).
N_FFT = 1024
# The rate `analyze_signal` works at. Everything it looks at lies below 5.5 kHz (kick, bass, snare and
# clap bodies, the chords), and the top octave's hats are what tempt a tracker onto the off-beat; at
# 11025 Hz the 46 ms window is a 512-point FFT with the same 21.5 Hz bins, for half the work.
ANALYSIS_RATE = 11025
N_MELS = 96
# The kick band: below ~150 Hz there is kick and bass, not hats or claps.
KICK_FMAX = 150.0
# Snare and clap bodies (and little else with sharp attacks): above the bass, below bright hats.
SNARE_BAND = (1000.0, 5000.0)

MIN_DURATION = 5.0  # seconds; shorter clips do not hold enough beats to estimate a tempo
SILENCE_PEAK = 10 ** (-60 / 20)  # a track whose peak stays below -60 dBFS is treated as silent
# Below this confidence there is no beat to speak of (white noise scores ~0.001, a drone 0; every corpus
# and demo track > 0.5): the track is reported beat-less instead of with a grid made up from noise.
NO_BEAT_CONFIDENCE = 0.02
# A frame whose power lies this far below the track's loudest half second is silence: a noise floor, the
# end of a fade. Its flux is noise, not onsets (log flux rises as much for noise at -80 dB as for a kick),
# and the tracker neither places beats on it nor lets it into the tempo search.
SILENCE_DROP_DB = 50.0
# Silence at least this long (s) ends the beat: beats stop before it and are tracked afresh after it, so a
# silent break neither fills with beats nor drags the grid after it out of phase.
MIN_SILENT_GAP = 1.0

# The tempo range class music lives in (spinning, HIIT, running): where the tempo octave is chosen. One
# octave, the live tracker's prior (`showctl.live.audio_evidence.quick_tempo`).
CLASS_MIN_BPM = 85.0
CLASS_MAX_BPM = 180.0
# The whole-track analysis lets the octave reach further up, when the drums support it (`_supports_double`):
# fast rock and metal are played and counted at 190 (half of it, 95, was chosen for such songs in the
# real-music set, `make realset`); no synthesized corpus track changes with the wider range.
TRACK_MAX_BPM = 200.0


# --- onset strength ----------------------------------------------------------------------------------


def frame_sizes(sr: int) -> tuple[int, int]:
    """(FFT size, hop) in samples at `sr` Hz for the tracker's 46 ms window and 11.6 ms hop."""
    return max(16, round(N_FFT * sr / 22050)), max(1, round(HOP_LENGTH * sr / 22050))


def spectrogram(y: npt.ArrayLike, sr: int) -> FloatArray:
    """The tracker's power spectrogram of `y` (`frame_sizes(sr)`): bins × frames, frame i centred on
    i·hop. Every envelope and the chroma are drawn from it; its frame rate is `sr / frame_sizes(sr)[1]`."""
    return _power_spectrogram(y, *frame_sizes(sr))


def _power_spectrogram(y: npt.ArrayLike, n_fft: int, hop_length: int) -> FloatArray:
    """|STFT|² with a Hann window, frames centred on i·hop (reflect-padded), shape (n_fft/2+1, frames).

    float32 throughout (a transposed view of a C-ordered (frames, bins) array): the FFT and everything
    downstream move half the bytes, and envelopes only need ~6 significant digits. scipy's FFT, imported
    here rather than at module level (the live tracker imports this module and never needs it): for
    float32 frames it is ~4× numpy's, which computes float32 transforms slower than float64 ones.
    """
    import scipy.fft

    x = np.asarray(y, dtype=np.float32)
    pad = n_fft // 2
    x = np.pad(x, pad, mode="reflect") if len(x) > pad else np.pad(x, pad)
    n_frames = max(0, 1 + (len(x) - n_fft) // hop_length)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop_length][:n_frames]
    window = _hann(n_fft)
    power = np.empty((n_frames, n_fft // 2 + 1), dtype=np.float32)
    # A few hundred frames at a time: window, FFT and |·|² stay in cache instead of streaming a 30 MB
    # windowed copy and a 30 MB spectrum through memory (twice as fast on a 90 s track).
    chunk = _STFT_CHUNK
    buffer = np.empty((min(chunk, n_frames), n_fft), dtype=np.float32)
    for start in range(0, n_frames, chunk):
        stop = min(start + chunk, n_frames)
        block = buffer[: stop - start]
        np.multiply(frames[start:stop], window, out=block)
        spec = scipy.fft.rfft(block, axis=1, overwrite_x=True)
        parts = spec.view(np.float32)  # re, im, re, im, …: squared in place, then each pair summed
        np.square(parts, out=parts)
        np.add(parts[:, 0::2], parts[:, 1::2], out=power[start:stop])
    return power.T  # type: ignore[return-value]  # float32, typed as the float arrays the steps share


_STFT_CHUNK = 128


@functools.lru_cache(maxsize=8)
def _hann(n: int) -> npt.NDArray[np.float32]:
    window = np.hanning(n + 1)[:-1].astype(np.float32)
    window.flags.writeable = False
    return window


def _mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> FloatArray:
    """Triangular filters evenly spaced on the (HTK) mel scale, shape (n_mels, n_fft/2+1).

    Each filter is widened to at least one FFT bin so none is empty at low frequencies.
    """
    def mel(f: FloatArray) -> FloatArray:
        return np.asarray(2595.0 * np.log10(1.0 + f / 700.0), dtype=np.float64)

    def hz(m: FloatArray) -> FloatArray:
        return np.asarray(700.0 * (10.0 ** (m / 2595.0) - 1.0), dtype=np.float64)

    bins = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = hz(np.linspace(mel(np.array(fmin)), mel(np.array(fmax)), n_mels + 2))
    df = sr / n_fft
    fb = np.zeros((n_mels, len(bins)))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        lo, hi = min(lo, mid - df), max(hi, mid + df)
        up = (bins - lo) / (mid - lo)
        down = (hi - bins) / (hi - mid)
        fb[m] = np.maximum(0.0, np.minimum(up, down))
    return fb


def onset_envelope(
    y: npt.ArrayLike, sr: int, *, fmin: float = 0.0, fmax: float | None = None, hop_length: int | None = None
) -> tuple[FloatArray, float]:
    """Spectral-flux onset strength of `y` between `fmin` and `fmax` Hz; return (envelope, frames/s).

    Log-mel flux, half-wave rectified and averaged over bands: it rises where energy starts, whatever the
    instrument. Frame i is centred on time i / frame_rate. Plain numpy (no librosa) so the first call
    pays no numba start-up.
    """
    n_fft, hop = frame_sizes(sr)
    hop = hop if hop_length is None else hop_length
    return _flux(_power_spectrogram(y, n_fft, hop), sr, fmin, fmax), sr / hop


def onset_envelopes(y: npt.ArrayLike, sr: int) -> tuple[FloatArray, FloatArray, float]:
    """The full-band and kick-band (< `KICK_FMAX`) envelopes from one STFT: (full, kick, frames/s)."""
    power = spectrogram(y, sr)
    return _flux(power, sr, 0.0, None), _flux(power, sr, 0.0, KICK_FMAX), sr / frame_sizes(sr)[1]


def _fft_size(power: FloatArray) -> int:
    """The FFT size a power spectrogram (bins × frames) was taken with."""
    return 2 * (int(power.shape[0]) - 1)


def snare_envelope(power: FloatArray, sr: int) -> FloatArray:
    """Onset strength of the snare/clap band (`SNARE_BAND`), from a `spectrogram`.

    Linear magnitude flux, not log: log flux rises as much for a quiet hat leaking into the band as for
    a loud snare, and telling the two apart is the point (where the backbeat falls decides the octave).
    Hats made of bright noise put little energy below 5 kHz.
    """
    return band_flux(power, sr, *SNARE_BAND)


def band_flux(power: FloatArray, sr: int, fmin: float, fmax: float) -> FloatArray:
    """Linear magnitude flux of the `fmin`..`fmax` Hz band: loud hits count more than quiet ones (unlike
    the log flux the beats are tracked on), which is what telling instruments and sections apart needs."""
    freqs = np.fft.rfftfreq(_fft_size(power), 1.0 / sr)
    band = np.flatnonzero((freqs >= fmin) & (freqs <= fmax))
    magnitude = np.sqrt(power[band[0] : band[-1] + 1].sum(axis=0, dtype=np.float64))
    return np.asarray(np.concatenate([[0.0], np.maximum(0.0, np.diff(magnitude))]), dtype=np.float64)


def _flux(power: FloatArray, sr: int, fmin: float, fmax: float | None) -> FloatArray:
    """Log-mel spectral flux of a power spectrogram (bins × frames), restricted to fmin..fmax Hz."""
    return _flux_of(log_mel(power, sr, fmin, fmax))


def log_mel(power: FloatArray, sr: int, fmin: float = 0.0, fmax: float | None = None) -> FloatArray:
    """The log-mel levels (dB, frames × bands, float32) of a power spectrogram between fmin and fmax Hz, with
    an 80 dB floor below the loudest band: what the flux is taken of, and what `lasting_share` looks at."""
    n_fft = _fft_size(power)
    top = sr / 2 if fmax is None else min(fmax, sr / 2)
    # Fewer bands in a narrow band: below 150 Hz there are only ~7 FFT bins of 21.5 Hz.
    n_mels = N_MELS if fmax is None else max(2, min(N_MELS, int((top - fmin) / (sr / n_fft)) // 2))
    first, last, fb = _mel_bank(sr, n_fft, n_mels, fmin, top)
    # frames × bands, from the spectrogram's own (frames × bins) memory order: only the bins the filters
    # cover (7 of 257 for the kick band).
    mel = power.T[:, first:last] @ fb.T
    db = np.log10(np.maximum(mel, 1e-10, out=mel), out=mel)
    db *= 10.0
    np.maximum(db, db.max() - 80.0, out=db)  # an 80 dB floor, so fades in the noise floor add no flux
    return db  # float32, typed as the float arrays the steps share


def _flux_of(db: FloatArray) -> FloatArray:
    """Spectral flux of log levels (frames × bands): the rises, half-wave rectified, averaged over bands."""
    flux = np.maximum(0.0, np.diff(db, axis=0)).mean(axis=1, dtype=np.float64)
    return np.asarray(np.concatenate([[0.0], flux]), dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _mel_bank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> tuple[int, int, npt.NDArray[np.float32]]:
    """`_mel_filterbank` cut to the FFT bins it covers, as (first bin, end bin, float32 filters)."""
    fb = _mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    used = np.flatnonzero(fb.any(axis=0))
    first, last = int(used[0]), int(used[-1]) + 1
    cut = np.ascontiguousarray(fb[:, first:last], dtype=np.float32)
    cut.flags.writeable = False
    return first, last, cut


def chroma(power: FloatArray, sr: int) -> FloatArray:
    """Pitch-class magnitude (12 × frames, C = 0) of a `spectrogram`, 65 Hz–2 kHz: each FFT bin counts
    for the pitch class nearest its centre.

    The 21.5 Hz bins are coarse for pitch below ~350 Hz, but the chroma only has to say when the harmony
    *changes* (at the bar line), and a second, finer STFT for it cost more than all the other steps.
    """
    freqs = np.fft.rfftfreq(_fft_size(power), 1.0 / sr)
    use = np.flatnonzero((freqs >= 65.0) & (freqs <= 2000.0))
    pitch_class = np.round(12.0 * np.log2(freqs[use] / 440.0) + 9.0).astype(np.int64) % 12
    fold = np.zeros((12, len(use)), dtype=np.float32)
    fold[pitch_class, np.arange(len(use))] = 1.0
    return np.asarray(fold @ np.sqrt(power[use[0] : use[-1] + 1]), dtype=np.float64)


def _normalise(env: FloatArray) -> FloatArray:
    """Scale an envelope to unit standard deviation (zero-mean is left to callers that need it)."""
    sd = float(np.std(env))
    return env / sd if sd > 0 else env.copy()


def beat_envelope(full: FloatArray, kick: FloatArray) -> FloatArray:
    """The envelope beats are placed on: full-band flux plus the kick band, weighted up.

    Off-beat open hats make the full-band flux peak between the beats as strongly as on them; adding the
    kick band tips the dynamic programme onto the kick, which is where a class counts the beat.
    """
    n = min(len(full), len(kick))
    return _normalise(full[:n]) + 1.5 * _normalise(kick[:n])


# --- tempo -------------------------------------------------------------------------------------------


def _autocorrelation(env: FloatArray, max_lag: int) -> FloatArray:
    """Normalised autocorrelation (lag 0 = 1) of the mean-removed envelope, lags 0..max_lag."""
    x = env - np.mean(env)
    n = len(x)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, size)
    acf = np.fft.irfft(spec * np.conj(spec), size)[: max_lag + 1]
    # Unbias: long lags overlap fewer frames.
    acf = acf / np.maximum(n - np.arange(len(acf)), 1)
    return np.asarray(acf / acf[0], dtype=np.float64) if acf[0] > 0 else np.zeros(max_lag + 1)


def _acf_at(acf: FloatArray, lags: FloatArray) -> FloatArray:
    """Linearly interpolated autocorrelation at fractional lags (0 beyond the computed range)."""
    return np.interp(lags, np.arange(len(acf)), acf, right=0.0)


def _comb(acf: FloatArray, lags: FloatArray, multiples: int) -> FloatArray:
    """Mean autocorrelation at lag, 2·lag, … : high only where every multiple of the period is periodic."""
    values = [_acf_at(acf, k * lags) for k in range(1, multiples + 1)]
    return np.asarray(np.mean(values, axis=0), dtype=np.float64)


def _tempo_prior(bpm: FloatArray) -> FloatArray:
    """A broad log-normal preference around 120 BPM: only breaks ties the audio leaves open."""
    return np.asarray(np.exp(-0.5 * (np.log2(bpm / 120.0) / 0.9) ** 2), dtype=np.float64)


def estimate_tempo(
    env: FloatArray,
    frame_rate: float,
    *,
    kick_env: FloatArray | None = None,
    snare_env: FloatArray | None = None,
    min_bpm: float = CLASS_MIN_BPM,
    max_bpm: float = TRACK_MAX_BPM,
    hint: float | None = None,
) -> float:
    """Estimate the main tempo (BPM) from onset envelopes.

    1. Score candidate periods 40–300 BPM with a comb over the autocorrelation of the full-band and the
       kick-band envelopes (a period scores high only if its multiples are periodic too).
    2. The comb favours levels whose multiples hit the bar line, so in 3/4 it can pick two beats' worth
       (150 BPM heard as 100). The level 3/2 faster is taken instead when the snare band and the drums
       repeat more strongly at its single period (`_ternary_faster`), or when the comb scores it nearly as
       high and the full band repeats more strongly at its period (`_three_halves_faster`: driving 8ths,
       170 BPM heard as 113).
    3. The best candidate fixes the tempo *family* (T/4 … 4T); the octave is chosen by evidence, not by a
       clamp: the fastest level inside [min_bpm, max_bpm] that the drums support (`_supports_double`):
       a kick on every beat (176 BPM four-on-the-floor stays 176, not 88), or kick and snare alternating
       beat by beat (drum & bass: kick on 1, snare on 2 and 4 at 174). Off-beat hats or bass never double
       a tempo, and a half-time snare (on 3) keeps hip-hop at 90. If no level is in the range, the one
       nearest to it is kept.
    4. The chosen period is refined to sub-frame precision with a long comb (16 multiples).

    `hint` (a tempo the user gave, see `overrides`) replaces steps 1–3: the search stays within ±4 % of it.
    """
    kick = env if kick_env is None else kick_env
    n = min(len(env), len(kick))
    max_lag = int(np.ceil(16 * 60.0 * frame_rate / 40.0)) + 2
    acf_full = _autocorrelation(env[:n], max_lag)
    acf_kick = _autocorrelation(kick[:n], max_lag)

    if hint is not None:
        chosen = float(hint)
    else:
        bpms = np.arange(40.0, 300.0, 0.5)
        lags = 60.0 * frame_rate / bpms
        score = 0.5 * (_comb(acf_full, lags, 4) + _comb(acf_kick, lags, 4)) * _tempo_prior(bpms)
        best = float(bpms[int(np.argmax(score))])
        # 3/4 heard as two beats' worth, or driving 8ths heard at 2/3 of the tempo: one level 3/2 faster.
        ternary = snare_env is not None and _ternary_faster(kick[:n], snare_env[:n], frame_rate, best)
        if ternary or _three_halves_faster(acf_full, score, bpms, frame_rate, best):
            best *= 1.5

        family = [best * f for f in (0.25, 0.5, 1.0, 2.0, 4.0) if 40.0 <= best * f <= 320.0]
        # Tolerate a little slack at the range edges: 178.5 BPM on a 180 limit is still class music.
        in_range = sorted((b for b in family if min_bpm * 0.97 <= b <= max_bpm * 1.03), reverse=True)
        found: float | None = None
        for bpm in in_range:
            if bpm / 2 < min_bpm * 0.97 or _supports_double(kick[:n], snare_env, frame_rate, bpm):
                found = bpm
                break
        if found is None:
            found = min(family, key=lambda b: min(abs(np.log2(b / min_bpm)), abs(np.log2(b / max_bpm))))
        chosen = found

    fine = np.arange(chosen * 0.96, chosen * 1.04, 0.01)
    fine_lags = 60.0 * frame_rate / fine
    fine_score = _comb(acf_full, fine_lags, 16) + _comb(acf_kick, fine_lags, 16)
    return float(fine[int(np.argmax(fine_score))])


def _lag_peak(acf: FloatArray, lag: float) -> float:
    """The autocorrelation at `lag`, allowing ±2 % (drift and a coarse comb step)."""
    return float(np.max(_acf_at(acf, lag * np.linspace(0.98, 1.02, 9))))


# The 3/2-faster level competes when the comb scores it at least this share of the best one: in the real-music
# set's tuning half (rock and metal, 8th notes on every half beat) the level 2/3 slower than the true tempo
# scores 0.7-0.9 of it, on the synthesized corpus every level 3/2 away below 0.5 (bar the waltz, 0.88).
THREE_HALVES_COMB = 0.7


def _three_halves_faster(acf: FloatArray, score: FloatArray, bpms: FloatArray, frame_rate: float,
                         bpm: float) -> bool:
    """Whether the tempo is 3/2 × `bpm`, the comb's winner: the 2/3-tempo error of driving 8th notes.

    At 2/3 of the true tempo, the comb's multiples (1.5, 3, 4.5, 6 true beats) all land on notes when the
    8ths are played as hard as the beats, so it can win on the tempo prior alone (113 for 170 BPM). Its
    single period falls on an off-beat 8th, though, and the true beat's on a beat: the faster level is taken
    when the comb scores it close (`THREE_HALVES_COMB`) and the full-band envelope repeats more strongly
    one of its beats apart than one `bpm` beat apart. A steady 4/4 groove at `bpm` never passes: two
    thirds of its beat falls between the beats.
    """
    fast = 1.5 * bpm
    near = np.abs(bpms - fast) <= 1.0
    if not near.any() or float(np.max(score[near])) < THREE_HALVES_COMB * float(np.max(score)):
        return False
    return _lag_peak(acf, 60.0 * frame_rate / fast) > _lag_peak(acf, 60.0 * frame_rate / bpm)


def _ternary_faster(kick: FloatArray, snare: FloatArray, frame_rate: float, bpm: float) -> bool:
    """Whether the beat is really 3/2 × `bpm`: the snare band, and kick + snare together, repeat more
    strongly one such beat apart than one `bpm` beat apart (both, by a clear margin). A steady 4/4
    groove never passes: two-thirds of its beat falls between the beats, where its autocorrelation is
    negative."""
    fast_lag = 60.0 * frame_rate / (1.5 * bpm)
    slow_lag = 60.0 * frame_rate / bpm
    max_lag = int(np.ceil(slow_lag * 1.05)) + 2
    drums = _normalise(kick) + _normalise(snare)
    for env in (snare, drums):
        acf = _autocorrelation(env, max_lag)
        if _lag_peak(acf, fast_lag) < 1.3 * max(_lag_peak(acf, slow_lag), 0.05):
            return False
    return True


def _parity_strengths(
    env: FloatArray, frame_rate: float, bpm: float, phase: float, bins: int = 48
) -> tuple[float, float]:
    """Mean strength of `env` on the even and the odd beats of a `bpm` grid starting at `phase` (0..1 of a
    beat), folded over two beats: (even, odd)."""
    period = 2 * 60.0 * frame_rate / bpm
    where = ((np.arange(len(env)) / period - phase / 2) % 1.0 * bins).astype(np.int64)
    centred = env - np.median(env)
    fold = np.bincount(where, weights=centred, minlength=bins) / np.maximum(np.bincount(where, minlength=bins), 1)
    even = max(float(fold[d % bins]) for d in range(-2, 3))
    odd = max(float(fold[(bins // 2 + d) % bins]) for d in range(-2, 3))
    return even, odd


def _beat_phase(env: FloatArray, frame_rate: float, bpm: float, bins: int = 48) -> float:
    """Where in the beat (0..1) `env`, folded over one beat period, peaks."""
    period = 60.0 * frame_rate / bpm
    where = ((np.arange(len(env)) / period) % 1.0 * bins).astype(np.int64)
    fold = np.bincount(where, weights=env, minlength=bins) / np.maximum(np.bincount(where, minlength=bins), 1)
    return float(np.argmax(fold)) / bins


def _supports_double(kick: FloatArray, snare: FloatArray | None, frame_rate: float, bpm: float) -> bool:
    """Whether the drums play every beat at `bpm` rather than every other one (`bpm`/2 being the tempo).

    Yes if the kick hits (about) as hard on every beat (`alternate_beat_ratio` ≥ 0.7), or if kick and
    snare alternate: the kick mostly on one parity of beats and the snare mostly on the other, the
    backbeat of drum & bass at 170–175. An off-beat hat or bass never counts: neither is a snare.
    """
    if alternate_beat_ratio(kick, frame_rate, bpm / 2) >= 0.7:
        return True
    if snare is None:
        return False
    n = min(len(kick), len(snare))
    k, sn = kick[:n], snare[:n]
    phase = _beat_phase(_normalise(k) + _normalise(sn), frame_rate, bpm)
    k_even, k_odd = _parity_strengths(k, frame_rate, bpm, phase)
    s_even, s_odd = _parity_strengths(sn, frame_rate, bpm, phase)
    if k_even < k_odd:
        k_even, k_odd, s_even, s_odd = k_odd, k_even, s_odd, s_even
    return k_even >= 3.0 * max(k_odd, 1e-9) and s_odd >= 2.0 * max(s_even, 1e-9)


def alternate_beat_ratio(kick_env: FloatArray, frame_rate: float, slow_bpm: float, bins: int = 48) -> float:
    """How strong the kick band is half a period after its strongest phase, relative to that phase.

    The envelope is folded over the slow period: ≈1 means a kick also falls halfway (the double tempo
    is real), ≈0 means nothing does. Assumes a steady tempo over the track.
    """
    period = 60.0 * frame_rate / slow_bpm
    phase = ((np.arange(len(kick_env)) / period) % 1.0 * bins).astype(np.int64)
    centred = kick_env - np.median(kick_env)
    counts = np.maximum(np.bincount(phase, minlength=bins), 1)
    fold = np.bincount(phase, weights=centred, minlength=bins) / counts
    peak = int(np.argmax(fold))
    if fold[peak] <= 0:
        return 0.0
    half = peak + bins // 2
    # ±2 bins of slack for the small phase error of a fractional, slightly-off period.
    other = max(float(fold[(half + d) % bins]) for d in range(-2, 3))
    return max(0.0, other / float(fold[peak]))


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


# --- downbeats ---------------------------------------------------------------------------------------


def downbeat_cues(beats: FloatArray, kick_env: FloatArray, pitch: FloatArray, frame_rate: float) -> FloatArray:
    """Per beat, how much it sounds like beat 1 of a bar (standardised, higher = more likely).

    Two cues: the kick-band onset strength at the beat (`kick_env`: bass roots and accented kicks fall on
    beat 1) and how much the `chroma` (`pitch`) of the beat differs from the beat before (chords change
    at the bar line), each standardised, summed. Both envelopes are at `frame_rate`.
    """
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < 2:
        return np.zeros(len(beats))
    frames = np.clip(np.round(beats * frame_rate).astype(np.int64), 0, len(kick_env) - 1)
    accent = _peak_near(kick_env)[frames]

    edges = np.clip(np.round(np.append(beats, beats[-1] + np.median(np.diff(beats))) * frame_rate)
                    .astype(np.int64), 0, pitch.shape[1])
    # Per-beat means from running sums: one pass over the chroma instead of one slice per beat.
    running = np.concatenate([np.zeros((12, 1)), np.cumsum(pitch, axis=1)], axis=1)
    spans = np.diff(edges)
    per_beat = ((running[:, edges[1:]] - running[:, edges[:-1]]) / np.maximum(spans, 1)).T
    norms = np.linalg.norm(per_beat, axis=1) + 1e-9
    unit = per_beat / norms[:, None]
    change = np.zeros(len(beats))
    change[1:] = 1.0 - np.sum(unit[1:] * unit[:-1], axis=1)
    return _zscore(accent) + _zscore(change)


def _phase_scores(cue: FloatArray, beats_per_bar: int) -> list[float]:
    return [float(np.mean(cue[p::beats_per_bar])) for p in range(beats_per_bar)]


def estimate_metre(cue: FloatArray, candidates: tuple[int, ...] = (4, 3)) -> int:
    """Beats per bar: the metre whose bar phase stands out most from its other phases.

    Folding the downbeat cue by the true metre puts every bar line in one phase; folding by a wrong one
    spreads them evenly, so all phases score alike. The contrast (best phase minus the mean of the others)
    decides; 4/4 is kept unless another metre's contrast is clearly (25 %) higher, since nearly all
    class music is in four.
    """
    default = candidates[0]
    if len(cue) < 4 * max(candidates):
        return default

    def contrast(m: int) -> float:
        scores = sorted(_phase_scores(cue, m), reverse=True)
        return scores[0] - float(np.mean(scores[1:]))

    best = max(candidates, key=contrast)
    return best if best == default or contrast(best) > 1.25 * max(contrast(default), 1e-9) else default


def estimate_downbeats(beats: FloatArray, cue: FloatArray, beats_per_bar: int = 4) -> FloatArray:
    """Downbeat times: the bar phase (0..beats_per_bar-1) whose beats carry the strongest `cue` (per beat,
    from `downbeat_cues`)."""
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < 2 * beats_per_bar:
        return beats[:1].copy()
    phase = int(np.argmax(_phase_scores(cue, beats_per_bar)))
    return beats[phase::beats_per_bar].copy()


def _zscore(x: FloatArray) -> FloatArray:
    sd = float(np.std(x))
    return (x - np.mean(x)) / sd if sd > 0 else np.zeros_like(x)


# --- confidence --------------------------------------------------------------------------------------


def confidence(env: FloatArray, frame_rate: float, beats: FloatArray) -> float:
    """How much to trust the beat grid, 0..1.

    The product of three checks, each mapped to 0..1:
    - pulse: the envelope's autocorrelation at the beat period (is there a periodic pulse at all?);
    - salience: onset strength on the beats against the envelope's typical level (do beats sit on onsets?);
    - steadiness: spread of the inter-beat intervals (is the grid regular?).
    Noise and rubato score low; a steady four-on-the-floor track scores close to 1.
    """
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < 4 or len(env) == 0:
        return 0.0
    ibi = np.diff(beats)
    # The grid's least-squares period, not the median interval: beats sit on whole frames, and a period
    # rounded to a whole frame drifts off the pulse by the 3rd or 4th multiple the comb looks at.
    grid_tempo = tempo_from_beats(beats)
    period = 60.0 / grid_tempo if grid_tempo else float(np.median(ibi))
    lag = period * frame_rate
    acf = _autocorrelation(env, int(np.ceil(4 * lag)) + 2)
    pulse = float(np.clip(_comb(acf, np.array([lag]), 4)[0] / 0.4, 0.0, 1.0))

    frames = np.clip(np.round(beats * frame_rate).astype(np.int64), 0, len(env) - 1)
    on_beat = float(np.mean(_peak_near(env)[frames]))
    typical = float(np.mean(env)) + 1e-9
    salience = float(np.clip((on_beat / typical - 1.5) / 2.0, 0.0, 1.0))

    spread = float(np.std(ibi) / period)
    steadiness = float(np.clip(1.0 - spread / 0.15, 0.0, 1.0))
    # A product, not a mean: any one failed check (no pulse, beats off the onsets, ragged grid) is enough
    # to distrust the grid.
    return float(np.clip(pulse * salience * steadiness, 0.0, 1.0))


# The contrast (a beat's onset strength over the section's typical level) at which a beat starts to count as
# on an onset, and at which it counts fully. A beat the tracker carries across a drum-less pad lands on the
# pad's flutter, at ~1.2× (median, on synthesized and spliced tracks); kicks and snares stand 5-50× above
# it, plucks ~3×, a beat with only hats on it (hip-hop, drum & bass) 1.5-2.5×.
ONSET_CONTRAST = (1.5, 3.0)
# No section's typical level counts as less than this share of the track's median on-beat strength: where
# the flux is ~0 between beats (a clean synthesized part), a ripple would otherwise stand out infinitely.
CONTRAST_FLOOR = 0.1


def section_confidence(
    env: FloatArray, sounding: npt.NDArray[np.bool_], frame_rate: float, beats: FloatArray, tempo: float,
    sections: Sequence[tuple[float, float]],
) -> list[float]:
    """Per section (start, end) in seconds: how well the beat grid is supported inside it, 0..1.

    The share of the beats the section should hold (its sounding length over the beat period) that sit on
    a clear onset of `env` (the envelope the beats were tracked on; `ONSET_CONTRAST` above the section's
    typical level, the median of the same peak-picked envelope over its sounding frames), times the share
    of the section that sounds (`sounding`): a silence holds no beat to trust, and a beat the tracker
    carried through a drum-less breakdown is not heard there. A share, not the track's `confidence`
    (pulse × salience × steadiness): a few bars are too short for a periodicity check, and every section
    is scored on the one grid the track-level check has already passed or failed.

    Reuses the envelope the beats were tracked on: one peak-picking pass and a median per section.
    """
    beats = np.asarray(beats, dtype=np.float64)
    n = min(len(env), len(sounding))
    if n == 0 or tempo <= 0 or len(beats) == 0:
        return [0.0 for _ in sections]
    peaks = _peak_near(env[:n])
    frames = np.clip(np.round(beats * frame_rate).astype(np.int64), 0, n - 1)
    strength = peaks[frames]
    floor = CONTRAST_FLOOR * float(np.median(strength))
    period = 60.0 * frame_rate / tempo  # frames
    lo, hi = ONSET_CONTRAST
    out: list[float] = []
    for start, end in sections:
        a, b = (min(n, max(0, round(t * frame_rate))) for t in (start, end))
        heard = sounding[a:b]
        count = int(np.count_nonzero(heard))
        if count == 0:
            out.append(0.0)
            continue
        typical = max(float(np.median(peaks[a:b][heard])), floor, 1e-12)
        inside = strength[(beats >= start) & (beats < end)]
        on_onset = np.clip((inside / typical - lo) / (hi - lo), 0.0, 1.0)
        support = min(1.0, float(on_onset.sum()) / max(count / period, 1.0))
        out.append(support * count / (b - a))
    return out


# --- silence: where the beat stops --------------------------------------------------------------------


def silent_frames(loudness: FloatArray, frame_rate: float, drop_db: float = SILENCE_DROP_DB) -> npt.NDArray[np.bool_]:
    """Per frame, whether it is silence: its power (`loudness`, linear) more than `drop_db` below the
    track's loudest half second (a moving mean, so one click does not set the reference)."""
    power = np.asarray(loudness, dtype=np.float64)
    if len(power) == 0:
        return np.zeros(0, dtype=bool)
    width = max(1, min(len(power), round(0.5 * frame_rate)))
    running = np.concatenate([[0.0], np.cumsum(power)])
    reference = float(np.max(running[width:] - running[:-width])) / width
    if reference <= 0:
        return np.ones(len(power), dtype=bool)
    return np.asarray(power < reference * 10.0 ** (-drop_db / 10.0), dtype=np.bool_)


def sounding_spans(silent: npt.NDArray[np.bool_], frame_rate: float,
                   min_gap: float = MIN_SILENT_GAP) -> list[tuple[int, int]]:
    """The stretches [start, stop) of frames between silences of at least `min_gap` s: each is tracked on
    its own. Shorter silences (a pause between hits) stay inside a stretch, and so does a short silence
    at either end of the track."""
    n = len(silent)
    gap = max(1, round(min_gap * frame_rate))
    flags = np.concatenate([[False], silent, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(flags))
    runs = [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2], strict=True) if b - a >= gap]
    spans: list[tuple[int, int]] = []
    start = 0
    for a, b in runs:
        if a > start:
            spans.append((start, a))
        start = b
    if start < n:
        spans.append((start, n))
    return spans


def _grid_tempo(segments: list[FloatArray]) -> float | None:
    """`tempo_from_beats` over several stretches of beats: one slope, each stretch its own intercept
    (beat indices do not run on across a silence)."""
    usable = [b for b in segments if len(b) >= 2]
    if sum(len(b) for b in usable) < 4:
        return None
    sxx = sxt = 0.0
    for b in usable:
        x = np.arange(len(b), dtype=np.float64)
        x -= x.mean()
        sxx += float(np.dot(x, x))
        sxt += float(np.dot(x, b - b.mean()))
    slope = sxt / sxx if sxx > 0 else 0.0
    return 60.0 / slope if slope > 0 else None


# --- the whole chain ---------------------------------------------------------------------------------


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


def resample(y: npt.NDArray[np.float32], sr: int, target: int) -> npt.NDArray[np.float32]:
    """`y` at `target` Hz (soxr, high quality, linear phase: no delay added), float32."""
    if sr == target or len(y) == 0:
        return y
    import soxr  # here, not at module level: the live tracker imports this module and resamples itself

    return np.asarray(soxr.resample(y, sr, target), dtype=np.float32)


def _beatless(path: str, duration: float) -> TrackAnalysis:
    """The analysis of a track with no beat (silence, noise, a drone): no grid, tempo 0, confidence 0."""
    return TrackAnalysis(path=path, duration=duration, tempo=0.0, beats=(), downbeats=(), confidence=0.0)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Keep BLAS (the mel filterbank's matrix product) on the calling thread while the block runs.

    OpenBLAS splits even these small products over every core and its idle threads then spin: that
    doubles the CPU time of an analysis for a few percent of wall time, and with one worker per core
    (`analyze_paths`) the spinning threads take turns from the other workers. threadpoolctl comes
    with librosa (through scikit-learn); without it, BLAS keeps its own setting.
    """
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - installed with librosa
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def analyze_signal(y: npt.ArrayLike, sr: int, path: str = "", *, tempo_hint: float | None = None) -> TrackAnalysis:
    """Analyse mono samples `y` at `sr` Hz. Raises `AnalysisError` for a too-short or unreadable signal.

    Silence, and a track whose grid scores below `NO_BEAT_CONFIDENCE` (noise, a drone: no pulse the beats
    could sit on), come back without beats, with tempo 0 and confidence 0, rather than with a made-up grid.
    Within a track, silences of `MIN_SILENT_GAP` s or more (`silent_frames`, `sounding_spans`) hold no
    beats: each stretch between them is tracked on its own (same tempo, its own phase and bars), and the
    confidence is the stretches' own, weighted by length, times the share of the track that sounds.

    `tempo_hint` (a cue file's override) makes the tempo search stay within ±4 % of it.
    """
    with one_blas_thread():
        return _analyze(np.asarray(y, dtype=np.float32), sr, path, tempo_hint)


def _analyze(samples: npt.NDArray[np.float32], sr: int, path: str, tempo_hint: float | None) -> TrackAnalysis:
    if samples.ndim != 1:
        raise ValueError(f"analyze_signal needs mono samples, got shape {samples.shape}")
    where = path or "<signal>"
    duration = len(samples) / sr
    # A float64 sum is finite exactly when every sample is (float32 samples cannot overflow it), and
    # needs no copy of the signal, unlike np.isfinite.
    if not np.isfinite(np.sum(samples, dtype=np.float64)):
        raise AnalysisError(where, "cannot read audio (samples are not finite numbers)")
    if duration < MIN_DURATION:
        raise AnalysisError(where, f"track is too short to analyse ({duration:.1f} s)")
    if max(float(samples.max()), -float(samples.min())) < SILENCE_PEAK:
        return _beatless(path, duration)  # silence: no beat to find, and none is invented

    samples, sr = resample(samples, sr, ANALYSIS_RATE), ANALYSIS_RATE
    n_fft, hop = frame_sizes(sr)
    power = _power_spectrogram(samples, n_fft, hop)
    frame_rate = sr / hop
    levels = log_mel(power, sr, 0.0, None)
    full, kick = _flux_of(levels), _flux(power, sr, 0.0, KICK_FMAX)
    snare = snare_envelope(power, sr)
    loudness = power.sum(axis=0)
    low = power[: int(KICK_FMAX * n_fft / sr) + 1].sum(axis=0)
    kick_hits = band_flux(power, sr, 0.0, KICK_FMAX)
    pitch = chroma(power, sr)
    del power  # 40 MB for a 7-minute track: gone before the beat search
    # No onsets in silence, nor in the frames whose window reaches past either end of the signal: those
    # hold reflected padding, and a sound cut off by the end of the file flares in the flux there.
    # Sound that stops dead before a long silence is cut off the same way.
    silent = silent_frames(loudness, frame_rate)
    spans = sounding_spans(silent, frame_rate)
    no_onsets = silent.copy()
    no_onsets[: n_fft // (2 * hop) + 1] = True
    cut = n_fft // hop + 1  # every frame whose window holds the cut (up to half a window on either side)
    for _, stop in spans:
        no_onsets[max(0, stop - cut) : stop] = True
    for flux in (full, kick, snare, kick_hits):
        flux[no_onsets[: len(flux)]] = 0.0
    sounding = np.zeros(len(full), dtype=bool)
    for a, b in spans:
        sounding[a:b] = True
    if not sounding.any():
        return _beatless(path, duration)
    # The tempo and the envelope's weighting from the sounding stretches only (the whole track, when it
    # has no long silence): minutes of silence would otherwise weigh in the autocorrelation.
    tempo = estimate_tempo(full[sounding], frame_rate, kick_env=kick[sounding], snare_env=snare[sounding],
                           hint=tempo_hint)
    env = np.zeros(len(full))
    env[sounding] = beat_envelope(full[sounding], kick[sounding])
    period = 60.0 * frame_rate / tempo
    segments: list[FloatArray] = []
    weights: list[float] = []
    scores: list[float] = []
    for a, b in spans:
        if b - a < 4 * period:
            continue  # a blip between silences: too short to hold a beat
        found = track_beats(env[a:b], frame_rate, tempo, bands=levels[a:b])
        if len(found) == 0:
            continue
        seg = refine_beats(found, frame_rate, onset_lead=n_fft / 4 / sr) + a / frame_rate
        if a == 0:
            seg = beats_from_the_start(seg, loudness, frame_rate, blind=(n_fft // (2 * hop) + 1) / frame_rate)
        segments.append(seg)
        weights.append(float(b - a))
        scores.append(confidence(env[a:b], frame_rate, seg - a / frame_rate))
    if not segments:
        return _beatless(path, duration)
    beats = np.concatenate(segments)
    refined = tempo_from_beats(beats) if len(segments) == 1 else _grid_tempo(segments)
    # The beat grid's own slope is a finer tempo than the autocorrelation peak, when the two agree.
    if refined is not None and abs(refined / tempo - 1.0) < 0.04:
        tempo = refined
    # Each stretch's grid confidence, weighted by its length, times the share of the track that sounds:
    # a track that is mostly silence is mostly without a grid to trust.
    conf = float(np.dot(weights, scores) / np.sum(weights)) * float(np.mean(sounding))
    if conf < NO_BEAT_CONFIDENCE:
        return _beatless(path, duration)
    # Bars per stretch: after a silence the music may come back on any beat of the bar.
    cues = [downbeat_cues(seg, kick, pitch, frame_rate) for seg in segments]
    longest = int(np.argmax([len(seg) for seg in segments]))
    beats_per_bar = estimate_metre(cues[longest])
    downbeats = np.concatenate([estimate_downbeats(seg, cue, beats_per_bar)
                                for seg, cue in zip(segments, cues, strict=True)])
    structure = analyze_structure(loudness, low, kick_hits, snare, frame_rate, downbeats, duration)
    # The final tempo: the one the grid was refined to, and the one the sections' expected beats follow.
    support = section_confidence(env, sounding, frame_rate, beats, tempo,
                                 [(sec.start, sec.end) for sec in structure.sections])
    sections = tuple(dataclasses.replace(sec, confidence=round(c, 4))
                     for sec, c in zip(structure.sections, support, strict=True))
    return with_phase_doubt(TrackAnalysis(
        path=path,
        duration=duration,
        tempo=tempo,
        beats=tuple(float(b) for b in beats),
        downbeats=tuple(float(b) for b in downbeats),
        confidence=conf,
        beats_per_bar=beats_per_bar,
        phrases=structure.phrases,
        sections=sections,
    ), full, kick, snare, frame_rate)
