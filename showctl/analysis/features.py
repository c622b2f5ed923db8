"""The tracker's features: one power spectrogram at `ANALYSIS_RATE`, and what is drawn from it — log-mel
levels, onset envelopes (full band, kick band, snare band), band flux and chroma. Plain numpy and scipy.fft."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

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
