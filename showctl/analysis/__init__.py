"""Track analysis: audio files in, `TrackAnalysis` (tempo, beats, downbeats, metre, phrases, sections,
confidence) out.

The one way in for the rest of showctl:
- `analyze_file(path)` loads one file and runs the tracker (`showctl.analysis.tracker`), no cache;
- `analyze_paths(paths)` does the same for many files through the on-disk cache
  (`showctl.analysis.cache`), reporting progress as it goes.
Every problem a user can fix (missing, unreadable, silent or too-short audio) is an `AnalysisError`.
"""

from __future__ import annotations

import os
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
    "ErrorCallback",
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
# on_error(error): called for each track that cannot be analysed; `error.path`, `error.reason`, `str(error)`.
ErrorCallback = Callable[[AnalysisError], None]


def read_audio(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples at the file's own rate. Raises `AnalysisError` for anything a user can fix."""
    import soundfile as sf

    if not path.exists():
        raise AnalysisError(path, "no such file")
    if path.is_dir():
        raise AnalysisError(path, "cannot read audio (is a directory)")
    if path.stat().st_size == 0:
        raise AnalysisError(path, "cannot read audio (file is empty)")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as err:
        # libsndfile says e.g. "Format not recognised." — keep its words, in the one-line style.
        reason = str(err.error_string).strip().rstrip(".") or "unknown error"
        raise AnalysisError(path, f"cannot read audio ({reason[:1].lower()}{reason[1:]})") from None
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as err:
        raise AnalysisError(path, f"cannot read audio ({err})") from None
    return np.asarray(data.mean(axis=1), dtype=np.float32), int(sr)


def _wav_truncation(path: Path) -> tuple[float, float] | None:
    """(seconds found, seconds the header declares) for a RIFF WAV whose data chunk is cut short, else None.

    libsndfile reads a truncated WAV without complaint (it trims the length to what is there), but a
    half-copied track would stop mid-class: analysis refuses it. Streaming writers that leave the size
    0 or 0xFFFFFFFF are not truncated; other formats are not checked.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
        size = path.stat().st_size
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        chunk, length = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"fmt " and pos + 20 <= len(head):
            byte_rate = int.from_bytes(head[pos + 16 : pos + 20], "little")
        if chunk == b"data":
            available = size - (pos + 8)
            if length in (0, 0xFFFFFFFF) or length <= available or byte_rate <= 0:
                return None
            return available / byte_rate, length / byte_rate
        pos += 8 + length + (length & 1)
    return None


def _read_audio(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples at `SAMPLE_RATE`."""
    mono, sr = read_audio(path)
    cut = _wav_truncation(path)
    if cut is not None:
        raise AnalysisError(path, f"file is truncated ({cut[0]:.1f} s of the {cut[1]:.1f} s its header declares)")
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
    on_error: ErrorCallback | None = None,
    workers: int | None = None,
) -> list[TrackAnalysis]:
    """Analyse each path, reusing cached results; `cache_dir` defaults to `default_cache_dir()`.

    Cache misses are analysed in parallel, on `workers` processes (default: every core this process may
    use); results come back in input order, and `on_progress` is called once per track as it finishes
    (cache hits first). `overrides` maps a path (as given, `str(path)`) to a cue file's overrides; the
    cache holds the tracked analysis and the overrides are applied on top, so editing them never needs a
    re-analysis (except a tempo hint the tracked grid cannot be turned into).

    A track that cannot be analysed (`AnalysisError`): without `on_error`, the run stops with the first
    error found (missing and unreadable files are found, in input order, before any analysis starts;
    tracks analysed so far stay cached); with it, `on_error(error)` is called for each failed track as
    it fails, and the result list holds the good tracks only, still in input order.
    """
    todo = [(str(p), p) for p in paths]
    directory = cache.default_cache_dir() if cache_dir is None else cache_dir
    found: dict[int, TrackAnalysis | AnalysisError] = {}
    misses: list[tuple[int, str]] = []  # (index, key)
    done = 0

    def fail(index: int, err: AnalysisError) -> None:
        nonlocal done
        done += 1
        if on_error is None:
            raise err
        found[index] = err
        on_error(err)

    def finish(index: int, analysis: TrackAnalysis, cached: bool) -> None:
        nonlocal done
        name, path = todo[index]
        wanted = overrides.get(name) if overrides is not None else None
        if wanted:
            try:
                analysis = _overridden(analysis, path, wanted)
            except AnalysisError as err:
                fail(index, err)
                return
        done += 1
        found[index] = analysis
        if on_progress is not None:
            on_progress(name, done, len(todo), cached)

    for index, (name, path) in enumerate(todo):
        try:
            key = cache.cache_key(path)
        except AnalysisError as err:
            fail(index, err)
            continue
        hit = cache.load(directory, key, name)
        if hit is None:
            misses.append((index, key))
        else:
            finish(index, hit, True)

    def fresh(index: int, key: str, outcome: TrackAnalysis | AnalysisError) -> None:
        if isinstance(outcome, AnalysisError):
            fail(index, outcome)
        else:
            cache.store(directory, key, outcome)
            finish(index, outcome, False)

    jobs = min(len(misses), _usable_cores() if workers is None else max(1, workers))
    if jobs <= 1:
        for index, key in misses:
            fresh(index, key, _analyse_one(todo[index][1]))
    else:
        _analyse_in_parallel(todo, misses, jobs, fresh)
    # Input order; without `on_error` nothing failed (the first failure raised).
    return [r for i in range(len(todo)) if isinstance(r := found[i], TrackAnalysis)]


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _analyse_one(path: str | Path) -> TrackAnalysis | AnalysisError:
    """`analyze_file` as a value (run in a worker process too): the result, round-tripped through JSON so
    a fresh result equals what later runs read from the cache, or the `AnalysisError`."""
    try:
        return TrackAnalysis.from_json(analyze_file(path).to_json())
    except AnalysisError as err:
        return AnalysisError(err.path, err.reason)


def _analyse_remote(path: str | Path) -> tuple[str, str] | TrackAnalysis:
    """`_analyse_one` in a worker: an error travels as (path, reason), which pickles (the exception's
    two-argument constructor does not)."""
    outcome = _analyse_one(path)
    return (outcome.path, outcome.reason) if isinstance(outcome, AnalysisError) else outcome


def _analyse_in_parallel(
    todo: list[tuple[str, str | Path]],
    misses: list[tuple[int, str]],
    jobs: int,
    fresh: Callable[[int, str, TrackAnalysis | AnalysisError], None],
) -> None:
    """Analyse `misses` on `jobs` worker processes, calling `fresh` in the parent as each one finishes.

    Workers are forked where the platform allows (they start in milliseconds, with the analysis modules
    already imported), spawned elsewhere. A worker that dies (out of memory, a crash in a decoder) fails
    its track with an `AnalysisError` rather than the run with a traceback.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    import showctl.analysis.tracker  # noqa: F401  # imported once here, inherited by forked workers

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        pending: dict[Future[tuple[str, str] | TrackAnalysis], tuple[int, str]] = {
            pool.submit(_analyse_remote, todo[index][1]): (index, key) for index, key in misses
        }
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: pending[f][0]):
                    index, key = pending.pop(future)
                    try:
                        value = future.result()
                    except BrokenProcessPool:
                        value = (str(todo[index][1]), "analysis crashed (its worker process died)")
                    outcome = AnalysisError(*value) if isinstance(value, tuple) else value
                    fresh(index, key, outcome)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
