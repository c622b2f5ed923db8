"""Running the live audio tracker over a whole signal or file as if it were live, block by block: what the
benches and `showctl follow` score it with."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from showctl.analysis import read_audio
from showctl.live.audio import AudioBeatTracker
from showctl.live.model import BeatEstimate, SourceState
from showctl.live.tracker_params import TrackerParams

__all__ = ["FollowResult", "blocks", "follow_file", "follow_signal"]


@dataclass(frozen=True)
class FollowResult:
    """What `follow_signal` saw: the committed beats, the final state and the tracker's CPU time."""

    beats: tuple[BeatEstimate, ...]
    state: SourceState
    duration: float  # s of audio
    cpu_seconds: float


def blocks(y: npt.NDArray[Any], size: int) -> Iterator[npt.NDArray[Any]]:
    """Consecutive blocks of `size` samples (the last one shorter)."""
    for i in range(0, len(y), size):
        yield y[i : i + size]


def follow_signal(y: npt.ArrayLike, sr: int, *, block: int = 512, params: TrackerParams | None = None) -> FollowResult:
    """Run the tracker over `y` block by block, causally, as fast as the CPU allows."""
    import time

    if block <= 0:
        raise ValueError(f"block must be a positive number of samples, got {block}")
    samples = np.asarray(y, dtype=np.float32)
    tracker = AudioBeatTracker(sr, params)
    out: list[BeatEstimate] = []
    t0 = time.process_time()
    for chunk in blocks(samples, block):
        out.extend(tracker.process(chunk))
    cpu = time.process_time() - t0
    return FollowResult(tuple(out), tracker.state, len(samples) / sr, cpu)


def follow_file(path: Path, *, block: int = 512, params: TrackerParams | None = None) -> FollowResult:
    """`follow_signal` over an audio file, read at its own rate and fed in blocks of `block` samples."""
    samples, sr = read_audio(path)
    return follow_signal(samples, sr, block=block, params=params)
