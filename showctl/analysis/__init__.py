"""Track analysis: audio files in, `TrackAnalysis` (tempo, beats, downbeats, metre, phrases, sections,
confidence) out.

The one way in for the rest of showctl:
- `analyze_file(path)` loads one file and runs the tracker (`showctl.analysis.tracker`), no cache;
- `analyze_paths(paths)` does the same for many files through the on-disk cache
  (`showctl.analysis.cache`), reporting progress as it goes.
Every problem a user can fix (missing, unreadable, silent or too-short audio) is an `AnalysisError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from showctl.analysis import cache
from showctl.analysis.model import ANALYSIS_VERSION, Section, TrackAnalysis
from showctl.analysis.overrides import NeedsAudioError, Overrides, apply_overrides
from showctl.analysis.stretches import analyze_stream
from showctl.analysis.tracker import ANALYSIS_RATE  # every file is resampled to it, whatever its rate
from showctl.errors import AnalysisError

__all__ = [
    "ANALYSIS_RATE",
    "ANALYSIS_VERSION",
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

# on_progress(path, done, total, cached): called after each track; `cached` says it came from the cache.
ProgressCallback = Callable[[str, int, int, bool], None]
# on_error(error): called for each track that cannot be analysed; `error.path`, `error.reason`, `str(error)`.
ErrorCallback = Callable[[AnalysisError], None]


def read_audio(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples at the file's own rate. Raises `AnalysisError` for anything a user can fix."""
    rate, _, blocks = _open(path)
    decoded = list(blocks)
    return (np.concatenate(decoded) if decoded else np.zeros(0, dtype=np.float32)), rate


# libsndfile's words for an MP3 it cannot parse; the file was checked to exist and be a regular file first.
_NOT_A_FILE = "file does not exist or is not a regular file"


# Formats libsndfile cannot read, decoded by the ffmpeg program (AAC in .m4a is what most music libraries hold).
FFMPEG_SUFFIXES = (".m4a", ".aac", ".mp4", ".m4b", ".alac", ".wma")
FFMPEG_RATE = 22050  # ffmpeg resamples as it decodes; the analysis works at ANALYSIS_RATE, below this

# Frames decoded at a time: files are read block by block, so what a read holds does not grow with the
# file's length (an 8-hour WAV is 2.5 GB; read whole, it took three times that).
BLOCK_FRAMES = 1 << 16

Blocks = Iterator[npt.NDArray[np.float32]]


def _open(path: Path) -> tuple[int, int, Blocks]:
    """(rate, frames the header declares or 0, mono float32 blocks) of `path`. Raises `AnalysisError`, here
    for a file that cannot be opened, from the blocks for one that stops decoding."""
    import soundfile as sf

    if not path.exists():
        raise AnalysisError(path, "no such file")
    if path.is_dir():
        raise AnalysisError(path, "cannot read audio (is a directory)")
    if path.stat().st_size == 0:
        raise AnalysisError(path, "cannot read audio (file is empty)")
    if path.suffix.lower() in FFMPEG_SUFFIXES:
        return FFMPEG_RATE, 0, _ffmpeg_blocks(path)
    try:
        with _quiet_decoders():
            f = sf.SoundFile(str(path))
    except sf.LibsndfileError as err:
        # libsndfile says e.g. "Format not recognised." — keep its words, in the one-line style.
        reason = _reason(err)
        if reason.startswith(_NOT_A_FILE):
            reason = "format not recognised"
        raise AnalysisError(path, f"cannot read audio ({reason})") from None
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as err:
        raise AnalysisError(path, f"cannot read audio ({err})") from None
    return int(f.samplerate), max(0, f.frames), _sndfile_blocks(path, f)


def _sndfile_blocks(path: Path, f: Any) -> Blocks:
    """The mono blocks of an open `soundfile.SoundFile`, closed when they are done."""
    import soundfile as sf

    sr, declared = f.samplerate, max(0, f.frames)
    # 16-bit PCM (most WAVs) read as integers and scaled here: 8× faster than libsndfile's own float
    # conversion, and the same numbers (libsndfile also divides by 32768).
    pcm16 = f.subtype == "PCM_16"
    scale = np.float32(1.0 / 32768.0) if pcm16 else np.float32(1.0)
    with f:
        while True:
            try:
                with _quiet_decoders():
                    data = f.read(BLOCK_FRAMES, dtype="int16" if pcm16 else "float32", always_2d=True)
            except sf.LibsndfileError as err:
                # The header was read but the audio stops decoding: a FLAC or MP3 cut short, or damaged.
                decoded = _frames_before_error(path) / sr
                raise AnalysisError(path, f"file is truncated or damaged (decoding fails at {decoded:.1f} s of the "
                                          f"{declared / sr:.1f} s its header declares: {_reason(err)})") from None
            except (sf.SoundFileError, RuntimeError, ValueError, OSError) as err:
                raise AnalysisError(path, f"cannot read audio ({err})") from None
            if not len(data):
                return
            if data.shape[1] == 1:
                mono = data[:, 0].astype(np.float32)  # a contiguous copy
                if pcm16:
                    mono *= scale
            else:
                mono = data.mean(axis=1, dtype=np.float32) * scale
            yield mono


def _ffmpeg_blocks(path: Path) -> Blocks:
    """Mono float32 blocks of `path` at `FFMPEG_RATE`, decoded by the `ffmpeg` program as they are read."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AnalysisError(path, f"cannot read {path.suffix} audio without ffmpeg: install it (apt-get install "
                                  "ffmpeg), or convert the track to WAV or FLAC")
    # What ffmpeg says goes to a file, not a pipe: a damaged file can make it say more than a pipe holds
    # while nobody reads it.
    with tempfile.TemporaryFile() as said_file:
        try:
            process = subprocess.Popen([ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1",
                                        "-ar", str(FFMPEG_RATE), "-f", "f32le", "-"],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=said_file)
        except OSError as err:
            raise AnalysisError(path, f"cannot run ffmpeg ({err})") from None
        assert process.stdout is not None
        decoded = 0
        try:
            while chunk := process.stdout.read(BLOCK_FRAMES * 4):
                decoded += len(chunk) // 4
                yield np.frombuffer(chunk[: len(chunk) // 4 * 4], dtype="<f4").astype(np.float32)
            code = process.wait()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
        said_file.seek(0)
        said = [line.strip() for line in said_file.read().decode("utf-8", "replace").splitlines() if line.strip()]
    if code != 0 or not decoded:
        reason = said[-1] if said else "no audio in the file"
        raise AnalysisError(path, f"cannot read audio (ffmpeg: {reason.removeprefix(str(path) + ': ')})")
    if said:  # decoded, but with errors on the way: damaged or cut short
        raise AnalysisError(path, f"file is truncated or damaged (ffmpeg: {said[-1].removeprefix(str(path) + ': ')})")


def _reason(err: Any) -> str:
    """libsndfile's error string as a lower-case phrase without its full stop."""
    reason = re.sub(r"^error\s*:\s*", "", str(err.error_string).strip().rstrip("."), flags=re.IGNORECASE)
    reason = reason or "unknown error"
    return f"{reason[:1].lower()}{reason[1:]}"


def _frames_before_error(path: Path, block: int = 4096) -> int:
    """How many frames of `path` decode before libsndfile fails (read again in small blocks)."""
    import soundfile as sf

    n = 0
    with contextlib.suppress(sf.LibsndfileError, RuntimeError), _quiet_decoders(), sf.SoundFile(str(path)) as f:
        while len(got := f.read(block, dtype="float32")):
            n += len(got)
    return n


@contextlib.contextmanager
def _quiet_decoders() -> Iterator[None]:
    """Send what the C decoders print on stderr to /dev/null ("Note: Illegal Audio-MPEG-Header", "Warning:
    Xing stream size off..." from mpg123): `showctl analyze` prints one line per bad file, and those lines say
    nothing a user can act on. Only while this process runs a single thread (analysis workers, a plain CLI
    run): the redirect is process-wide, and would swallow another thread's output (a progress bar)."""
    if threading.active_count() > 1:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _ogg_truncation(path: Path) -> bool:
    """True for an Ogg file (Vorbis, Opus, FLAC in Ogg) cut short: its last page runs past the end of the
    file, or lacks the end-of-stream flag every complete stream ends with. libsndfile reads such a file
    without complaint, as a shorter track, and the Ogg header declares no length to compare with."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            if f.read(4) != b"OggS":
                return False
            f.seek(max(0, size - (1 << 16)))
            tail_start = f.tell()
            tail = f.read()
    except OSError:
        return False
    pos = tail.rfind(b"OggS")
    while pos >= 0:
        header = tail[pos : pos + 27]
        if len(header) == 27 and header[4] == 0:  # stream structure version 0: a real page header
            segments = tail[pos + 27 : pos + 27 + header[26]]
            end = tail_start + pos + 27 + header[26] + sum(segments)
            return len(segments) < header[26] or end > size or not header[5] & 0x04
        pos = tail.rfind(b"OggS", 0, pos)
    return False


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


class _Decoded:
    """The blocks of an opened file, counted as they pass; once they are all read, a truncated file is
    refused: a WAV whose data chunk, or an MP3 whose Xing/VBRI header, declares more audio than the file
    holds, or an Ogg stream without its end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rate, self._declared, self._blocks = _open(path)
        self.frames = 0

    def __iter__(self) -> Blocks:
        for block in self._blocks:
            self.frames += len(block)
            yield block
        path, rate, decoded, declared = self.path, self.rate, self.frames, self._declared
        cut = _wav_truncation(path)
        if cut is None and declared > decoded + max(rate // 2, declared // 100):
            cut = decoded / rate, declared / rate
        if cut is not None:
            raise AnalysisError(path, f"file is truncated ({cut[0]:.1f} s of the {cut[1]:.1f} s its header "
                                      "declares)")
        if _ogg_truncation(path):
            raise AnalysisError(path, f"file is truncated (its stream stops at {decoded / rate:.1f} s, "
                                      "without the end-of-stream mark)")


def _resampled(rate: int, blocks: Blocks) -> Blocks:
    """`blocks` at `ANALYSIS_RATE`, resampled as they come (the same samples as resampling the whole)."""
    if rate == ANALYSIS_RATE:
        yield from blocks
        return
    import soxr

    stream = soxr.ResampleStream(rate, ANALYSIS_RATE, 1, dtype="float32")
    for block in blocks:
        yield np.asarray(stream.resample_chunk(block), dtype=np.float32)
    yield np.asarray(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True), dtype=np.float32)


def analyze_file(path: str | Path, *, overrides: Overrides | None = None) -> TrackAnalysis:
    """Analyse one audio file (any format libsndfile reads: WAV, FLAC, OGG, MP3; AAC and others through
    ffmpeg). No cache. Read block by block: a long file is analysed a stretch at a time
    (`showctl.analysis.stretches`), so memory stays bounded whatever its length.

    `overrides` (from a cue file) win over the tracker: a tempo hint re-tracks near that tempo, then the
    first downbeat or a fixed grid are applied (`apply_overrides`).
    """
    decoded = _Decoded(Path(path))
    hint = overrides.tempo if overrides is not None and overrides.grid is None else None
    result = analyze_stream(_resampled(decoded.rate, iter(decoded)), str(path), tempo_hint=hint)
    # The length of the file as decoded, not as resampled (they differ by less than a sample at 11 kHz).
    result = dataclasses.replace(result, duration=decoded.frames / decoded.rate)
    if overrides:
        result = apply_overrides(result, tempo=overrides.tempo, first_downbeat=overrides.first_downbeat,
                                 grid=overrides.grid, nudge=overrides.nudge)
    return result


def _overridden(analysis: TrackAnalysis, path: str | Path, wanted: Overrides) -> TrackAnalysis:
    """The cached analysis with `wanted` applied; re-tracked (not cached) when a tempo hint needs audio."""
    try:
        return apply_overrides(analysis, tempo=wanted.tempo, first_downbeat=wanted.first_downbeat,
                               grid=wanted.grid, nudge=wanted.nudge)
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
    use), each sent to a worker as soon as its file is hashed, while the next files are still being
    hashed; results come back in input order, and `on_progress` is called once per track as it finishes
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

    def fresh(index: int, key: str, outcome: TrackAnalysis | AnalysisError) -> None:
        if isinstance(outcome, AnalysisError):
            fail(index, outcome)
        else:
            cache.store(directory, key, outcome)
            finish(index, outcome, False)

    # Missing and unreadable files first, so that without `on_error` nothing starts before one is found.
    for index, (_, path) in enumerate(todo):
        try:
            cache.check_readable(path)
        except AnalysisError as err:
            fail(index, err)
    candidates = [i for i in range(len(todo)) if i not in found]
    limit = _usable_cores() if workers is None else max(1, workers)
    pool: _Pool | None = None
    serial: list[tuple[int, str]] = []  # misses analysed here, when no pool is worth starting
    try:
        for n, index in enumerate(candidates):
            path = todo[index][1]
            try:
                key = cache.cache_key(path)
            except AnalysisError as err:
                fail(index, err)
                continue
            hit = cache.load(directory, key, todo[index][0])
            if hit is not None:
                finish(index, hit, True)
                continue
            jobs = min(limit, len(candidates) - n)  # workers for this miss and every file after it at most
            if pool is None and jobs > 1:
                pool = _Pool(jobs)
            if pool is None:
                serial.append((index, key))
            else:
                pool.submit(index, path, key)
        for index, key in serial:
            fresh(index, key, _analyse_one(todo[index][1]))
        if pool is not None:
            pool.drain(fresh)
    finally:
        if pool is not None:
            pool.close()
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


def _prepare_workers() -> None:
    """Import, once in this process, everything a worker needs: forked workers inherit it instead of each
    paying for it (scipy.fft alone takes ~0.25 s to import)."""
    import scipy.fft  # noqa: F401
    import soundfile  # noqa: F401
    import soxr  # noqa: F401

    import showctl.analysis.tracker  # noqa: F401

    with contextlib.suppress(ImportError):  # installed with librosa; `tracker.one_blas_thread` uses it
        import threadpoolctl  # type: ignore[import-untyped]  # noqa: F401


class _Pool:
    """Worker processes analysing cache misses, fed one file at a time as the parent finds them.

    Workers are forked where the platform allows (they start in milliseconds, with the analysis modules
    already imported), spawned elsewhere. A worker that dies (out of memory, a crash in a decoder) fails
    its track with an `AnalysisError` rather than the run with a traceback.
    """

    def __init__(self, jobs: int) -> None:
        import multiprocessing
        from concurrent.futures import Future, ProcessPoolExecutor

        _prepare_workers()
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        self._executor = ProcessPoolExecutor(max_workers=jobs, mp_context=context)
        self._pending: dict[Future[tuple[str, str] | TrackAnalysis], tuple[int, str, str | Path]] = {}

    def submit(self, index: int, path: str | Path, key: str) -> None:
        self._pending[self._executor.submit(_analyse_remote, path)] = (index, key, path)

    def drain(self, fresh: Callable[[int, str, TrackAnalysis | AnalysisError], None]) -> None:
        """Wait for every submitted track, calling `fresh` for each as it finishes (in input order among
        those finishing together)."""
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pending = self._pending
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: pending[f][0]):
                index, key, path = pending.pop(future)
                try:
                    value = future.result()
                except BrokenProcessPool:
                    value = (str(path), "analysis crashed (its worker process died)")
                fresh(index, key, AnalysisError(*value) if isinstance(value, tuple) else value)

    def close(self) -> None:
        """Stop the workers; tracks not started yet are dropped (after an error, or Ctrl-C)."""
        for future in self._pending:
            future.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
