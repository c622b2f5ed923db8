"""Scores of a live tracker's committed beats against the truth (the tests and `bench/bench_live.py`).

Beat F, CMLt and tempo come from `showctl.analysis.evaluate` (mir_eval definitions, beats before 5 s
ignored). The live-only figures:
- lock: from the first true beat until the tracker *reported* the first of 8 consecutive committed beats
  that each match a true beat (±70 ms) with no true beat skipped — how long the lights were wrong;
- lead: how long before the true beat each matched beat was committed (`truth - reported`); the share
  committed ≥ 20 ms early, and the median of `reported - truth` as "latency" (negative = ahead);
- error: median |t - truth| of matched beats;
- tempo: the median tempo of the beats committed after 5 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from showctl.analysis.evaluate import F_WINDOW, TRIM_BEFORE, Truth, continuity, f_measure, tempo_correct, trim
from showctl.live.model import BeatEstimate

__all__ = ["LiveScores", "score_live"]

LOCK_RUN = 8
EARLY = 0.020


@dataclass(frozen=True)
class LiveScores:
    beat_f: float
    cmlt: float
    tempo: float  # BPM, median over committed beats after 5 s (0 if none)
    tempo_ok: bool
    lock: float  # s, inf when it never locked
    early_share: float  # matched beats committed ≥ 20 ms before the true beat
    latency: float  # s, median reported - truth (negative = committed ahead)
    error: float  # s, median |t - truth|
    committed: int


def _matches(est: Sequence[float], ref: Sequence[float], window: float) -> list[int]:
    """For each estimated beat, the index of the nearest true beat within `window`, else -1."""
    r = np.asarray(ref, dtype=np.float64)
    out = []
    for t in est:
        if len(r) == 0:
            out.append(-1)
            continue
        j = int(np.argmin(np.abs(r - t)))
        out.append(j if abs(r[j] - t) <= window else -1)
    return out


def score_live(beats: Sequence[BeatEstimate], truth: Truth) -> LiveScores:
    times = [b.t for b in beats]
    est, ref = trim(times), trim(truth.beats)
    beat_f = f_measure(est, ref)
    cmlt, _ = continuity(est, ref)
    late = [b for b in beats if b.t >= TRIM_BEFORE]
    tempo = float(np.median([b.tempo for b in late])) if late else 0.0

    idx = _matches(times, truth.beats, F_WINDOW)
    lock = float("inf")
    first_true = truth.beats[0] if truth.beats else 0.0
    for i in range(len(beats) - LOCK_RUN + 1):
        run = idx[i : i + LOCK_RUN]
        if run[0] >= 0 and all(b == run[0] + k for k, b in enumerate(run)):
            lock = max(0.0, beats[i].reported - first_true)
            break

    matched = [(b, truth.beats[j]) for b, j in zip(beats, idx, strict=True) if j >= 0 and b.t >= TRIM_BEFORE]
    if matched:
        early = float(np.mean([truth_t - b.reported >= EARLY for b, truth_t in matched]))
        latency = float(np.median([b.reported - truth_t for b, truth_t in matched]))
        error = float(np.median([abs(b.t - truth_t) for b, truth_t in matched]))
    else:
        early, latency, error = 0.0, float("nan"), float("nan")
    return LiveScores(beat_f, cmlt, tempo, tempo_correct(tempo, truth.tempo), lock, early, latency, error,
                      len(beats))
