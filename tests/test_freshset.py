"""The fresh set's truth (`bench/freshset.py`, `bench/freshset_modules.py`): beat grids from the rows a tracker
module played.

Only the pure parts, on row logs and audio made here: `make freshset` itself needs the network (apt-get
download) and libopenmpt.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_realset import bench_module

realset = bench_module("realset")
realset_lmms = bench_module("realset_lmms")
modules = bench_module("freshset_modules")
freshset = bench_module("freshset")
trainset = bench_module("trainset")
bench = bench_module("bench_realset")


def _rows(patterns: list[tuple[int, list[int], int]], tempo: int = 125) -> list[object]:
    """The rows a player plays through `patterns` ((pattern, speed of each row, first row), in order), each
    lasting speed * 2.5 / tempo s, as a tracker plays them."""
    rows, t = [], 0.0
    for order, (pattern, speeds, first) in enumerate(patterns):
        for i, speed in enumerate(speeds):
            rows.append(modules.Row(t, order, pattern, first + i, speed, tempo))
            t += speed * 2.5 / tempo
    return rows


def test_beats_and_bar_lines_follow_the_rows_through_a_speed_change() -> None:
    # 32 rows at speed 6 (0.12 s a row: 125 BPM at 4 rows a beat), then 64 at speed 5 (0.1 s: 150 BPM).
    rows = _rows([(0, [6] * 32, 0), (1, [5] * 64, 0)])
    until = 32 * 0.12 + 64 * 0.1
    grid = modules.module_grid(rows, 4, 16, until)
    expected = np.concatenate([np.arange(8) * 0.48, 3.84 + np.arange(16) * 0.4])
    assert grid.beats == pytest.approx(expected, abs=1e-9)
    assert grid.downbeats == pytest.approx(expected[::4], abs=1e-9)
    assert grid.tempo == pytest.approx(150.0, abs=0.05)  # lasts 6.4 s against 3.84 s at 125
    assert grid.beats_per_bar == 4


def test_a_shuffle_of_alternating_speeds_keeps_the_beat_on_its_rows() -> None:
    # Speed 7 then 5 (a tracker shuffle): rows 0.14 s and 0.1 s, a beat of 4 rows still 0.48 s.
    rows = _rows([(0, [7, 5] * 48, 0)])
    grid = modules.module_grid(rows, 4, 16, until=48 * 0.24)
    assert np.diff(grid.beats) == pytest.approx(np.full(23, 0.48), abs=1e-9)
    assert grid.tempo == pytest.approx(125.0, abs=0.05)


def test_a_break_into_the_middle_of_a_beat_leaves_the_song_out() -> None:
    # Pattern 0 broken after row 5 (Dxx): its row 4 beat is followed by a beat 2 rows later.
    rows = _rows([(0, [6] * 6, 0), (1, [6] * 16, 0)])
    with pytest.raises(modules.Excluded, match="2 rows apart"):
        modules.module_grid(rows, 4, 16, until=22 * 0.12)
    # A break into row 8 of the next pattern keeps the beat: nothing is left out.
    rows = _rows([(0, [6] * 8, 0), (1, [6] * 16, 8)])
    assert len(modules.module_grid(rows, 4, 16, until=24 * 0.12).beats) == 6


def test_a_beat_level_outside_the_tempo_range_leaves_the_song_out() -> None:
    rows = _rows([(0, [3] * 64, 0)])  # 4 rows at speed 3: 250 BPM, the composer's eighth notes
    with pytest.raises(modules.Excluded, match="250 BPM"):
        modules.module_grid(rows, 4, 16, until=64 * 0.06)
    assert modules.module_grid(rows, 8, 32, until=64 * 0.06).tempo == pytest.approx(125.0, abs=0.05)


def test_rows_per_beat_from_an_it_header_or_the_tracker_convention() -> None:
    header = bytearray(0xC0)
    header[:4] = b"IMPM"
    header[0x1E], header[0x1F] = 6, 24
    assert modules.rows_per_beat(bytes(header)) == (6, 24, "IT row highlight")
    header[0x1E], header[0x1F] = 0, 0  # an IT file from before the highlight: unset
    assert modules.rows_per_beat(bytes(header)) == (4, 16, "tracker convention")
    header[0x1E], header[0x1F] = 4, 6  # a bar that is not whole beats: not used
    assert modules.highlight(bytes(header)) is None
    xm = b"Extended Module: " + bytes(100)
    assert modules.rows_per_beat(xm) == (4, 16, "tracker convention")


def test_the_onset_check_tells_a_grid_on_the_notes_from_one_on_the_off_beats() -> None:
    sr = realset.RATE
    rng = np.random.default_rng(3)
    y = 0.001 * rng.standard_normal(sr * 20)
    beats = np.arange(0.5, 19.5, 0.5)
    for b in beats:  # a decaying click on each beat
        i = int(b * sr)
        y[i:i + 2000] += np.exp(-np.arange(2000) / 300) * rng.standard_normal(2000)
    lags, strength, why = modules.check(y, beats, sr)
    assert why is None and strength > 3 and max(abs(lag) for lag in lags) < modules.MAX_LAG_S
    _, off_strength, off_why = modules.check(y, beats[:-1] + 0.25, sr)
    assert off_strength < 1 and off_why is not None


def test_licences_from_either_kind_of_copyright_file() -> None:
    assert freshset.licence("Format: https://x\n\nFiles: *\nCopyright: someone\nLicense: GPL-3+\n") == "GPL-3+"
    text = ("This package is free software; you can redistribute it and/or modify\n it under the terms of the "
            "GNU General Public License as published by\n the Free Software Foundation; either version 2 of the "
            "License, or\n (at your option) any later version.\n")
    assert freshset.licence(text) == "GPL-2+"


def test_the_bench_reports_fresh_songs_as_their_own_part_and_group() -> None:
    fresh = {"held_out": True, "fresh": True, "group": "modules", "source": {"package": "pingus-data"}}
    assert bench.part_of(fresh) == "fresh"
    assert bench.group_of(fresh) == "modules"
    held_out = {"held_out": True, "source": {"package": "lmms-common"}}
    assert (bench.part_of(held_out), bench.group_of(held_out)) == ("held-out", "lmms")
    assert bench.part_of({"held_out": False}) == "tuning"


def test_the_training_set_is_its_own_part_and_group_and_never_fresh() -> None:
    train = {**modules.TRAIN, "source": {"package": "vectoroids"}}
    assert not train.get("fresh") and train["group"] == "train"
    assert (bench.part_of(train), bench.group_of(train)) == ("train", "train")
    assert bench.part_of(dict(modules.FRESH)) == "fresh"
    assert "train" in bench.GROUPS


def test_the_training_set_takes_no_package_of_the_fresh_set() -> None:
    fresh = {package for _, package in freshset.PACKAGES}
    train = [package for _, package in trainset.PACKAGES]
    assert not fresh & set(train)
    assert len(set(train)) == len(train)
    shorts = [short for short, _ in (*trainset.PACKAGES, *freshset.PACKAGES)]
    assert len(set(shorts)) == len(shorts)  # a song's name says its package


def test_the_reasons_a_module_is_left_out_are_told_apart() -> None:
    rows = _rows([(0, [3] * 64, 0)])
    with pytest.raises(modules.Excluded) as err:
        modules.module_grid(rows, 4, 16, until=64 * 0.06)
    assert trainset.reason(str(err.value)).startswith("beat tempo out of range")
    rows = _rows([(0, [6] * 6, 0), (1, [6] * 16, 0)])
    with pytest.raises(modules.Excluded) as err:
        modules.module_grid(rows, 4, 16, until=22 * 0.12)
    assert trainset.reason(str(err.value)).startswith("no steady beat")
    assert trainset.reason("the same song as pingus-gd-cancn, which must stay unseen") == "a fresh-set song"
    assert trainset.reason("the same song as tuxmath-game (same title, rows and length)") == \
        "a duplicate of a song kept"
