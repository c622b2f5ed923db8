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
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from showctl.analysis.beats import (
    GROOVE_BAR,
    LASTING_SHARE,
    beats_from_the_start,
    groove_end,
    lasting_share,
    refine_beats,
    tempo_from_beats,
    track_beats,
)
from showctl.analysis.confidence import confidence, section_confidence
from showctl.analysis.downbeats import NO_BAR_DOUBT, bar_doubt, downbeat_cues, estimate_downbeats, estimate_metre
from showctl.analysis.features import (
    ANALYSIS_RATE,
    HOP_LENGTH,
    KICK_FMAX,
    N_FFT,
    _flux,
    _flux_of,
    _power_spectrogram,
    band_flux,
    beat_envelope,
    chroma,
    frame_sizes,
    log_mel,
    onset_envelope,
    onset_envelopes,
    snare_envelope,
    spectrogram,
)
from showctl.analysis.model import TrackAnalysis
from showctl.analysis.phase import with_phase_doubt
from showctl.analysis.silence import MIN_SILENT_GAP, SILENCE_DROP_DB, _grid_tempo, silent_frames, sounding_spans
from showctl.analysis.structure import analyze_structure
from showctl.analysis.tempo import alternate_beat_ratio, estimate_tempo
from showctl.errors import AnalysisError

# The chain's steps live in their own modules (features, tempo, beats, downbeats, confidence, silence);
# this module runs them, and names the public ones for callers that want the whole tracker in one place.
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

MIN_DURATION = 5.0  # seconds; shorter clips do not hold enough beats to estimate a tempo
SILENCE_PEAK = 10 ** (-60 / 20)  # a track whose peak stays below -60 dBFS is treated as silent
# Below this confidence there is no beat to speak of (white noise scores ~0.001, a drone 0; every corpus
# and demo track > 0.5): the track is reported beat-less instead of with a grid made up from noise.
NO_BEAT_CONFIDENCE = 0.02
# --- the whole chain ---------------------------------------------------------------------------------


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
    grid = float(np.dot(weights, scores) / np.sum(weights))
    conf = grid * float(np.mean(sounding))
    if conf < NO_BEAT_CONFIDENCE:
        return _beatless(path, duration)
    # Bars per stretch: after a silence the music may come back on any beat of the bar.
    cues = [downbeat_cues(seg, kick, pitch, frame_rate) for seg in segments]
    longest = int(np.argmax([len(seg) for seg in segments]))
    beats_per_bar = estimate_metre(cues[longest])
    downbeats = np.concatenate([estimate_downbeats(seg, cue, beats_per_bar)
                                for seg, cue in zip(segments, cues, strict=True)])
    # Bar 1's doubt where one `first_downbeat:` could move it: a track of one stretch (each stretch after a
    # silence has bars of its own).
    bars = bar_doubt(cues[0], beats_per_bar) if len(segments) == 1 else NO_BAR_DOUBT
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
        bar_ambiguity=bars.ambiguity,
        bar_shift=bars.shift,
    ), full, kick, snare, frame_rate, grid=grid)
