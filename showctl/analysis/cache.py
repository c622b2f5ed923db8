"""On-disk cache of `TrackAnalysis` results, keyed by what the file holds rather than where it is.

Key: sha256 of the file's bytes, then of `ANALYSIS_VERSION`; so renaming or copying a track keeps its
analysis, editing it or upgrading the tracker does not. Values: `TrackAnalysis.to_json()` in
`<cache_dir>/<key>.json`, written atomically (temporary file + `os.replace`) so a crash or a second
process never leaves a half-written entry. An unreadable entry, or one the `TrackAnalysis` model refuses
(`beats_per_bar: 0`, beats out of order, a NaN: edited by hand or written by a bug), is treated as a miss
and overwritten, with a one-line warning: the timeline trusts what it is given.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import pydantic

from showctl.analysis.model import ANALYSIS_VERSION, TrackAnalysis
from showctl.errors import AnalysisError

__all__ = ["cache_key", "check_readable", "default_cache_dir", "entry_path", "load", "store"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """`$SHOWCTL_CACHE_DIR` if set, else the platform's user cache directory for showctl."""
    override = os.environ.get("SHOWCTL_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("showctl"))


def cache_key(path: str | Path, version: str = ANALYSIS_VERSION) -> str:
    """sha256 (hex) of the file's bytes followed by the analysis version. Raises `AnalysisError`."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError as err:
        raise _unreadable(path, err) from None
    digest.update(version.encode("utf-8"))
    return digest.hexdigest()


def check_readable(path: str | Path) -> None:
    """Raise the `AnalysisError` `cache_key` would raise for a missing or unreadable file, without
    reading it."""
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise _unreadable(path, err) from None


def _unreadable(path: str | Path, err: OSError) -> AnalysisError:
    if isinstance(err, FileNotFoundError):
        return AnalysisError(path, "no such file")
    if isinstance(err, IsADirectoryError):
        return AnalysisError(path, "cannot read audio (is a directory)")
    return AnalysisError(path, f"cannot read audio ({err.strerror or err})")


def entry_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{key}.json"


def load(cache_dir: Path, key: str, path: str | Path) -> TrackAnalysis | None:
    """The cached analysis for `key`, re-labelled with `path` (the same bytes may live elsewhere now).

    None on a miss, and also for an entry that is corrupt or from another version: the caller recomputes.
    """
    entry = entry_path(cache_dir, key)
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
        analysis = TrackAnalysis.from_json(data)
    except FileNotFoundError:
        return None
    except pydantic.ValidationError as err:
        log.warning("ignoring invalid cache entry %s: %s", entry, _first_problem(err))
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("ignoring unreadable cache entry %s: %s", entry, err)
        return None
    if analysis.version != ANALYSIS_VERSION:
        return None
    return dataclasses.replace(analysis, path=str(path))


def _first_problem(err: pydantic.ValidationError) -> str:
    """The first thing pydantic refused, on one line: `beats_per_bar: Input should be greater than...`."""
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where + ': ' if where else ''}{message}{more}"


def store(cache_dir: Path, key: str, analysis: TrackAnalysis) -> Path | None:
    """Write `analysis` under `key` atomically; return the entry path, or None if the cache is unwritable.

    A cache that cannot be written (read-only home, full disk) only costs time, so it is logged, not raised.
    """
    entry = entry_path(cache_dir, key)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=cache_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(analysis.to_json(), f, separators=(",", ":"))
            os.replace(tmp, entry)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        log.warning("cannot write analysis cache %s: %s", entry, err)
        return None
    return entry
