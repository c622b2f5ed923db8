"""How sure a bench's aggregate figure is: by-song bootstrap 95 % intervals (shared by `bench_realset.py`
and `bench_phase.py`; bench/ is no package, so they import it as a sibling module).

Each half of the real set has 14 songs, where a change of 0.04 in a mean or a correlation can be noise (issue
15: a rule that raised the tuning half's section Spearman 0.59 -> 0.68 took the held-out half 0.49 -> 0.46).
The songs are the samples: each figure is computed again on `RESAMPLES` sets of songs drawn with replacement
from the ones there are (a song drawn twice counts twice; a song's sections stay together), and its interval
is the 2.5th to 97.5th percentile of those (the percentile bootstrap). The draws come from a fixed seed, so
one input always prints the same interval, and every figure over the same n songs uses the same draws: a
paired difference (showctl - librosa on the same songs) resamples both sides together.

A resample on which a correlation is undefined (every confidence, or every F, equal) is left out; `Interval`
says how many were. Few songs make the bootstrap itself rough (with 4 songs there are only 35 distinct
resamples): read an interval with its n.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["RESAMPLES", "SEED", "Interval", "mean_interval", "paired_difference_interval", "spearman",
           "spearman_difference_interval", "spearman_interval"]

RESAMPLES = 2000
SEED = 15  # issue 15
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A figure on the songs as they are (`value`) and its bootstrap interval [`low`, `high`]."""

    value: float
    low: float
    high: float
    left_out: int = 0  # resamples on which the figure was undefined

    def text(self, digits: int = 3, sign: bool = False, bounds: int | None = None) -> str:
        """`0.741 [0.66, 0.81]` (the interval to `bounds` digits, one fewer unless told); `sign` for
        differences and correlations: `+0.120 [+0.05, +0.19]`."""
        if math.isnan(self.value):
            return "nan"
        plus = "+" if sign else ""
        b = digits - 1 if bounds is None else bounds
        return f"{self.value:{plus}.{digits}f} [{self.low:{plus}.{b}f}, {self.high:{plus}.{b}f}]"

    def __str__(self) -> str:
        return self.text()


def _draws(n: int, resamples: int, seed: int) -> np.ndarray:
    """`resamples` rows of n song indices drawn with replacement; the same for the same (n, resamples, seed)."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _interval(value: float, figures: Sequence[float], level: float) -> Interval:
    values = np.asarray(figures, dtype=np.float64)
    defined = values[np.isfinite(values)]
    if math.isnan(value) or not len(defined):
        return Interval(value, math.nan, math.nan, len(values) - len(defined))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(defined, [tail, 100 - tail])
    return Interval(value, float(low), float(high), len(values) - len(defined))


def _bootstrap(statistic: Callable[[np.ndarray], float], n: int, resamples: int, seed: int,
               level: float) -> Interval:
    """`statistic` (of an array of song indices) on all n songs, and its interval over the resamples."""
    if n == 0:
        return Interval(math.nan, math.nan, math.nan)
    value = statistic(np.arange(n))
    return _interval(value, [statistic(draw) for draw in _draws(n, resamples, seed)], level)


def mean_interval(values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED,
                  level: float = LEVEL) -> Interval:
    """The mean of one figure per song (a track's beat F, say), with its by-song interval."""
    x = np.asarray(values, dtype=np.float64)
    return _bootstrap(lambda songs: float(np.mean(x[songs])), len(x), resamples, seed, level)


def paired_difference_interval(a: Sequence[float], b: Sequence[float], resamples: int = RESAMPLES,
                               seed: int = SEED, level: float = LEVEL) -> Interval:
    """mean(a) - mean(b), where a[i] and b[i] are two figures of song i (showctl's and librosa's F): each
    resample draws songs, both figures of a drawn song come with it."""
    if len(a) != len(b):
        raise ValueError(f"paired figures need one of each per song: {len(a)} and {len(b)}")
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return _bootstrap(lambda songs: float(np.mean(diff[songs])), len(diff), resamples, seed, level)


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation of x with y (ties at their average rank); nan below 3 points or when
    either side is constant."""
    from scipy.stats import rankdata

    if len(x) < 3:
        return math.nan
    rx, ry = rankdata(x), rankdata(y)
    dx, dy = rx - rx.mean(), ry - ry.mean()
    norm = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    return float(np.dot(dx, dy)) / norm if norm > 0 else math.nan


Songs = Sequence[tuple[Sequence[float], Sequence[float]]]  # per song: its points' x and y (one point or more)


def _points(songs: Songs) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xs = [np.asarray(x, dtype=np.float64) for x, _ in songs]
    ys = [np.asarray(y, dtype=np.float64) for _, y in songs]
    for x, y in zip(xs, ys, strict=True):
        if len(x) != len(y):
            raise ValueError(f"a song has {len(x)} x values and {len(y)} y values")
    return xs, ys


def _spearman_of(xs: list[np.ndarray], ys: list[np.ndarray]) -> Callable[[np.ndarray], float]:
    def statistic(songs: np.ndarray) -> float:
        if not len(songs):
            return math.nan
        return spearman(np.concatenate([xs[i] for i in songs]), np.concatenate([ys[i] for i in songs]))

    return statistic


def spearman_interval(songs: Songs, resamples: int = RESAMPLES, seed: int = SEED,
                      level: float = LEVEL) -> Interval:
    """Spearman(x, y) over the points of all songs (per track: one point a song; per section: a song's
    sections), with its interval from resampling whole songs."""
    xs, ys = _points(songs)
    return _bootstrap(_spearman_of(xs, ys), len(xs), resamples, seed, level)


def spearman_difference_interval(after: Songs, before: Songs, resamples: int = RESAMPLES, seed: int = SEED,
                                 level: float = LEVEL) -> Interval:
    """Spearman over `after` minus Spearman over `before`, the same songs measured two ways (confidence with
    and without a rule, against the same F): both from the same resample of songs."""
    if len(after) != len(before):
        raise ValueError(f"paired figures need one of each per song: {len(after)} and {len(before)}")
    one, other = _spearman_of(*_points(after)), _spearman_of(*_points(before))
    return _bootstrap(lambda songs: one(songs) - other(songs), len(after), resamples, seed, level)
