"""Scores of a beat grid against the truth: the one place the tests and `bench/bench_analysis.py` take them from.

The definitions follow mir_eval (and the beat-evaluation toolbox of Davies et al., 2009) so the figures
compare with published ones, re-implemented here (pure numpy, ~100 lines) because mir_eval is not a
dependency:
- `f_measure`: one-to-one matches within ±70 ms;
- `continuity` → (CMLt, AMLt): the share of beats that are both in phase (within 17.5 % of the beat
  period) and at the right period (within 17.5 %), at the annotated metrical level (CMLt) or at any
  allowed one — double, half (either phase), off-beat (AMLt);
- `tempo_correct`: Acc1, within 4 % of the true tempo;
- beats before 5 s are ignored by the beat scores, as mir_eval's `trim_beats` does (a tracker needs a
  few seconds to lock on, and the scores should not depend on a track's intro length).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Scores", "Truth", "continuity", "f_measure", "score", "tempo_correct", "trim"]

FloatArray = npt.NDArray[np.float64]

TRIM_BEFORE = 5.0  # s
F_WINDOW = 0.07  # s
CONTINUITY_THRESHOLD = 0.175  # share of the beat period, for both phase and period
TEMPO_TOLERANCE = 0.04


@dataclass(frozen=True)
class Truth:
    """What the synthesizer actually played: the answer a tracker should find."""

    tempo: float
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    beats_per_bar: int = 4
    # (start s, label) of each arranged section, for styles that have an arrangement ("pop"); else empty.
    sections: tuple[tuple[float, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tempo": self.tempo,
            "beats": [round(b, 6) for b in self.beats],
            "downbeats": [round(b, 6) for b in self.downbeats],
            "beats_per_bar": self.beats_per_bar,
        }
        if self.sections:
            data["sections"] = [[round(t, 6), label] for t, label in self.sections]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Truth:
        return cls(
            tempo=float(data["tempo"]),
            beats=tuple(float(b) for b in data["beats"]),
            downbeats=tuple(float(b) for b in data["downbeats"]),
            beats_per_bar=int(data.get("beats_per_bar", 4)),
            sections=tuple((float(t), str(label)) for t, label in data.get("sections", [])),
        )



def trim(beats: Sequence[float] | FloatArray, before: float = TRIM_BEFORE) -> FloatArray:
    """Beats at or after `before` seconds, sorted."""
    b = np.sort(np.asarray(beats, dtype=np.float64))
    return b[b >= before]


def f_measure(estimated: Sequence[float] | FloatArray, reference: Sequence[float] | FloatArray,
              window: float = F_WINDOW) -> float:
    """F-measure with one-to-one matches within ±`window` s (greedy in time order: exact while windows
    are narrower than half the beat period)."""
    est = np.sort(np.asarray(estimated, dtype=np.float64))
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    if len(est) == 0 or len(ref) == 0:
        return 0.0
    used = np.zeros(len(est), dtype=bool)
    hits = 0
    j = 0
    for r in ref:
        while j < len(est) and est[j] < r - window:
            j += 1
        k = j
        while k < len(est) and est[k] <= r + window:
            if not used[k]:
                used[k] = True
                hits += 1
                break
            k += 1
    if hits == 0:
        return 0.0
    precision, recall = hits / len(est), hits / len(ref)
    return 2 * precision * recall / (precision + recall)


def _continuity_total(est: FloatArray, ref: FloatArray, threshold: float) -> float:
    """mir_eval's continuity 'total' score of `est` against one reference sequence."""
    if len(est) < 2 or len(ref) < 2:
        return 0.0
    used = np.zeros(len(ref), dtype=bool)
    correct = 0
    for m in range(len(est)):
        nearest = int(np.argmin(np.abs(est[m] - ref)))
        if used[nearest]:
            continue
        # The first beat (or first annotation) looks forward for its intervals, the others back.
        if m == 0 or nearest == 0:
            ref_interval = ref[min(nearest + 1, len(ref) - 1)] - ref[min(nearest, len(ref) - 2)]
            est_interval = est[min(m + 1, len(est) - 1)] - est[min(m, len(est) - 2)]
        else:
            ref_interval = ref[nearest] - ref[nearest - 1]
            est_interval = est[m] - est[m - 1]
        if ref_interval <= 0:
            continue
        phase = abs(est[m] - ref[nearest]) / ref_interval
        period = abs(1.0 - est_interval / ref_interval)
        if phase < threshold and period < threshold:
            used[nearest] = True
            correct += 1
    return correct / max(len(est), len(ref))


def continuity(estimated: Sequence[float] | FloatArray, reference: Sequence[float] | FloatArray,
               threshold: float = CONTINUITY_THRESHOLD) -> tuple[float, float]:
    """(CMLt, AMLt) of `estimated` against `reference` (both already trimmed if wanted)."""
    est = np.sort(np.asarray(estimated, dtype=np.float64))
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    if len(est) < 2 or len(ref) < 2:
        return 0.0, 0.0
    mids = (ref[:-1] + ref[1:]) / 2
    double = np.sort(np.concatenate([ref, mids]))
    variants = [ref, mids, double, ref[::2], ref[1::2]]
    scores = [_continuity_total(est, v, threshold) for v in variants]
    return scores[0], max(scores)


def tempo_correct(estimated: float, reference: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """Acc1: the estimated tempo within `tolerance` (relative) of the true one."""
    return reference > 0 and abs(estimated - reference) <= tolerance * reference


@dataclass(frozen=True)
class Scores:
    """One track's scores; `downbeat_f` is None for a tracker that gives no downbeats."""

    beat_f: float
    cmlt: float
    amlt: float
    tempo_ok: bool
    downbeat_f: float | None


def score(
    tempo: float,
    beats: Sequence[float] | FloatArray,
    downbeats: Sequence[float] | FloatArray | None,
    true_tempo: float,
    true_beats: Sequence[float] | FloatArray,
    true_downbeats: Sequence[float] | FloatArray,
) -> Scores:
    """All scores of one track at once, with beats before `TRIM_BEFORE` s ignored."""
    est, ref = trim(beats), trim(true_beats)
    cmlt, amlt = continuity(est, ref)
    down = None if downbeats is None else f_measure(trim(downbeats), trim(true_downbeats))
    return Scores(f_measure(est, ref), cmlt, amlt, tempo_correct(tempo, true_tempo), down)
