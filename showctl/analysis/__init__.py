"""Track analysis: audio files in, `TrackAnalysis` (tempo, beats, downbeats, metre, phrases, sections,
confidence) out.

The one way in for the rest of showctl:
- `analyze_file(path)` loads one file and runs the tracker (`showctl.analysis.tracker`), no cache;
- `analyze_paths(paths)` does the same for many files through the on-disk cache
  (`showctl.analysis.cache`), reporting progress as it goes.
Every problem a user can fix (missing, unreadable, silent or too-short audio) is an `AnalysisError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from showctl.analysis import cache
from showctl.analysis.model import ANALYSIS_VERSION, Section, TrackAnalysis
from showctl.analysis.overrides import NeedsAudioError, Overrides, apply_overrides
from showctl.errors import AnalysisError

__all__ = [
    "ANALYSIS_VERSION",
    "SAMPLE_RATE",
    "NeedsAudioError",
    "Overrides",
    "ProgressCallback",
    "Section",
    "TrackAnalysis",
    "analyze_file",
    "analyze_paths",
    "apply_overrides",
    "read_audio",
]

# Everything is analysed at 22050 Hz: beats live below 11 kHz, and half the samples halve the work.
SAMPLE_RATE = 22050

# on_progress(path, done, total, cached): called after each track; `cached` says it came from the cache.
ProgressCallback = Callable[[str, int, int, bool], None]


def read_audio(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples at the file's own rate. Raises `AnalysisError` for anything a user can fix."""
    import soundfile as sf

    if not path.exists():
        raise AnalysisError(path, "no such file")
    if path.is_dir():
        raise AnalysisError(path, "cannot read audio (is a directory)")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as err:
        # libsndfile says e.g. "Format not recognised." — keep its words, in the one-line style.
        reason = str(err.error_string).strip().rstrip(".") or "unknown error"
        raise AnalysisError(path, f"cannot read audio ({reason[:1].lower()}{reason[1:]})") from None
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as err:
        raise AnalysisError(path, f"cannot read audio ({err})") from None
    return np.asarray(data.mean(axis=1), dtype=np.float32), int(sr)


def _read_audio(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples at `SAMPLE_RATE`."""
    mono, sr = read_audio(path)
    if sr != SAMPLE_RATE and len(mono) > 0:
        import librosa  # only needed off the 22050 Hz path; importing it costs a second or two

        mono = np.asarray(librosa.resample(mono, orig_sr=sr, target_sr=SAMPLE_RATE), dtype=np.float32)
    return mono, SAMPLE_RATE


def analyze_file(path: str | Path, *, overrides: Overrides | None = None) -> TrackAnalysis:
    """Analyse one audio file (any format libsndfile reads: WAV, FLAC, OGG, MP3). No cache.

    `overrides` (from a cue file) win over the tracker: a tempo hint re-tracks near that tempo, then the
    first downbeat or a fixed grid are applied (`apply_overrides`).
    """
    from showctl.analysis.tracker import analyze_signal

    p = Path(path)
    samples, sr = _read_audio(p)
    hint = overrides.tempo if overrides is not None and overrides.grid is None else None
    result = analyze_signal(samples, sr, path=str(path), tempo_hint=hint)
    if overrides:
        result = apply_overrides(result, tempo=overrides.tempo, first_downbeat=overrides.first_downbeat,
                                 grid=overrides.grid)
    return result


def _overridden(analysis: TrackAnalysis, path: str | Path, wanted: Overrides) -> TrackAnalysis:
    """The cached analysis with `wanted` applied; re-tracked (not cached) when a tempo hint needs audio."""
    try:
        return apply_overrides(analysis, tempo=wanted.tempo, first_downbeat=wanted.first_downbeat,
                               grid=wanted.grid)
    except NeedsAudioError:
        return analyze_file(path, overrides=wanted)


def analyze_paths(
    paths: Iterable[str | Path],
    cache_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
    *,
    overrides: Mapping[str, Overrides] | None = None,
) -> list[TrackAnalysis]:
    """Analyse each path in order, reusing cached results; `cache_dir` defaults to `default_cache_dir()`.

    `overrides` maps a path (as given, `str(path)`) to a cue file's overrides; the cache holds the tracked
    analysis and the overrides are applied on top, so editing them never needs a re-analysis (except a
    tempo hint the tracked grid cannot be turned into). The first problem stops the run with its
    `AnalysisError` (tracks analysed so far stay cached).
    """
    todo = list(paths)
    directory = cache.default_cache_dir() if cache_dir is None else cache_dir
    results: list[TrackAnalysis] = []
    for done, path in enumerate(todo, start=1):
        key = cache.cache_key(path)
        hit = cache.load(directory, key, str(path))
        if hit is None:
            # Round-tripped through JSON so a fresh result equals what later runs read from the cache.
            analysis = TrackAnalysis.from_json(analyze_file(path).to_json())
            cache.store(directory, key, analysis)
        else:
            analysis = hit
        wanted = overrides.get(str(path)) if overrides is not None else None
        if wanted:
            analysis = _overridden(analysis, path, wanted)
        results.append(analysis)
        if on_progress is not None:
            on_progress(str(path), done, len(todo), hit is not None)
    return results
