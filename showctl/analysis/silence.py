"""Silence: where the beat stops (frames far below the loudest half second) and the sounding stretches
between long silences, each tracked on its own."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# A frame whose power lies this far below the track's loudest half second is silence: a noise floor, the
# end of a fade. Its flux is noise, not onsets (log flux rises as much for noise at -80 dB as for a kick),
# and the tracker neither places beats on it nor lets it into the tempo search.
SILENCE_DROP_DB = 50.0
# Silence at least this long (s) ends the beat: beats stop before it and are tracked afresh after it, so a
# silent break neither fills with beats nor drags the grid after it out of phase.
MIN_SILENT_GAP = 1.0

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
