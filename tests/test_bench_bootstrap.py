"""The benches' by-song bootstrap intervals (`bench/bootstrap.py`), on made-up figures: no set needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr
from test_realset import bench_module

bootstrap = bench_module("bootstrap")

F = [0.25, 0.5, 0.625, 0.75, 0.875, 0.9375, 1.0, 0.0, 0.5, 0.8125, 0.6875, 0.375, 0.96875, 0.125]


def test_identical_songs_give_a_zero_width_interval() -> None:
    interval = bootstrap.mean_interval([0.75] * 14)
    assert (interval.value, interval.low, interval.high) == (0.75, 0.75, 0.75)


def test_a_mean_interval_holds_its_mean_and_is_the_same_every_time() -> None:
    interval = bootstrap.mean_interval(F)
    assert interval.value == pytest.approx(np.mean(F))
    assert interval.low < interval.value < interval.high
    assert 0.1 < interval.high - interval.low < 0.5  # 14 songs spread over [0, 1]: wide, not absurd
    assert bootstrap.mean_interval(F) == interval
    assert bootstrap.mean_interval(F, seed=16) != interval


def test_a_constant_shift_gives_exactly_that_shift() -> None:
    # Dyadic figures: every difference and mean of them is exact in binary floating point.
    shifted = [f - 0.125 for f in F]
    interval = bootstrap.paired_difference_interval(F, shifted)
    assert (interval.value, interval.low, interval.high) == (0.125, 0.125, 0.125)
    # Unpaired, the same two lists would look far less sure of the shift.
    assert bootstrap.mean_interval(F).high - bootstrap.mean_interval(F).low > 0.1


def test_a_paired_difference_needs_two_figures_a_song() -> None:
    with pytest.raises(ValueError, match="one of each per song: 3 and 2"):
        bootstrap.paired_difference_interval([1.0, 2.0, 3.0], [1.0, 2.0])


def test_spearman_is_scipys_and_undefined_when_a_side_is_constant() -> None:
    confidence = [0.9, 0.2, 0.4, 0.4, 0.8, 0.1, 0.6]
    f = [1.0, 0.3, 0.5, 0.2, 0.7, 0.3, 0.9]
    assert bootstrap.spearman(confidence, f) == pytest.approx(spearmanr(confidence, f).statistic)
    assert math.isnan(bootstrap.spearman([0.5] * 7, f))
    assert math.isnan(bootstrap.spearman([0.1, 0.2], [0.1, 0.2]))


def test_a_spearman_interval_resamples_whole_songs() -> None:
    # Three sections a song, all ranked alike within the song: every resample agrees perfectly.
    songs = [([i + 0.1, i + 0.2, i + 0.3], [10 * i + 1, 10 * i + 2, 10 * i + 3]) for i in range(14)]
    interval = bootstrap.spearman_interval(songs)
    assert (interval.value, interval.low, interval.high) == (1.0, 1.0, 1.0)
    # A resample of one song drawn 14 times, or of two: still defined (3 distinct sections at least).
    assert interval.left_out == 0
    # Two songs whose confidence follows F and two where it runs against it, 10 sections each: near 0 over
    # all 40 sections, and 40 sections drawn one by one would say so narrowly; drawn by song, 1 in 8
    # resamples has only songs of one kind (Spearman +1 or -1), so the interval spans nearly everything.
    x = [i / 9 for i in range(10)]
    mixed = [(x, x), (x, x), (x, x[::-1]), (x, x[::-1])]
    interval = bootstrap.spearman_interval(mixed)
    assert interval.value == pytest.approx(0.0)
    assert interval.low == pytest.approx(-1.0) and interval.high == pytest.approx(1.0)


def test_a_spearman_interval_holds_its_figure_and_leaves_out_undefined_resamples() -> None:
    rng = np.random.default_rng(0)
    f = rng.uniform(size=14)
    confidence = f + rng.normal(scale=0.3, size=14)
    interval = bootstrap.spearman_interval([([c], [x]) for c, x in zip(confidence, f, strict=True)])
    assert interval.value == pytest.approx(spearmanr(confidence, f).statistic)
    assert interval.low < interval.value < interval.high <= 1.0
    # Three songs, one point each: some resamples draw a single song thrice and have no correlation.
    few = bootstrap.spearman_interval([([0.1], [0.2]), ([0.5], [0.4]), ([0.9], [0.3])])
    assert few.left_out > 0 and not math.isnan(few.low)


def test_a_spearman_difference_of_the_same_confidence_is_zero() -> None:
    songs = [([c, c / 2], [x, x / 3]) for c, x in zip(F, reversed(F), strict=True)]
    interval = bootstrap.spearman_difference_interval(songs, songs)
    assert (interval.value, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_intervals_read_as_the_benches_print_them() -> None:
    assert bootstrap.Interval(0.7412, 0.6581, 0.8123).text() == "0.741 [0.66, 0.81]"
    assert bootstrap.Interval(0.12, 0.051, 0.19).text(sign=True) == "+0.120 [+0.05, +0.19]"
    assert bootstrap.Interval(0.77, 0.4512, 0.93).text(2, sign=True, bounds=2) == "+0.77 [+0.45, +0.93]"
    assert bootstrap.Interval(math.nan, math.nan, math.nan).text() == "nan"
    assert math.isnan(bootstrap.mean_interval([]).value)


def test_bench_realset_pairs_only_the_figures_both_trackers_give() -> None:
    bench = bench_module("bench_realset")
    ours = [bench.Scored(f, f, f, f / 2, 1.0, 1.0) for f in F]
    librosa = [bench.Scored(f - 0.125, f, f, None, 0.0, 2.0) for f in F]
    assert list(bench._intervals(ours)) == ["F", "CMLt", "AMLt", "downF", "Acc1"]
    assert list(bench._intervals(librosa)) == ["F", "CMLt", "AMLt", "Acc1"]
    paired = bench._paired(ours, librosa)
    assert list(paired) == ["F", "CMLt", "AMLt", "Acc1"]
    assert bench._interval_line("held-out ours - librosa, paired", paired, sign=True) == (
        f"{'held-out ours - librosa, paired':44} | F +0.125 [+0.12, +0.12]  CMLt +0.000 [+0.00, +0.00]  "
        "AMLt +0.000 [+0.00, +0.00]  Acc1 +1.000 [+1.00, +1.00]")
