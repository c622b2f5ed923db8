"""Cue files beyond one file: `extends:` chains, the countdown cue, and bad input located in the right file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_cues import problems_of, write

from showctl.analysis.model import TrackAnalysis
from showctl.cues import check_against_rig, check_cue_style, load_cue_sheet
from showctl.errors import ProblemsError
from showctl.messages import OscMessage
from showctl.rig import load_rig
from showctl.show import load_show
from showctl.timeline import Timeline, compile_timeline


def grid(bpm: float, duration: float, first: float = 0.25) -> TrackAnalysis:
    period = 60.0 / bpm
    beats = [first + i * period for i in range(int((duration - first) / period) + 1) if first + i * period < duration]
    return TrackAnalysis("t.wav", duration, bpm, tuple(beats), tuple(beats[::4]), 0.9, 4)


RIG = """
name: Test rig
floor_light: 30%
outputs:
  console: {transport: osc, port: 9000}
  desk: {transport: midi, port: "x:in"}
safe_scene:
  console: [/house 1]
  desk: [control_change control=7 value=127]
"""

# The studio's house style, one directory up from the classes (as in a real studio's shared folder).
HOUSE = """
name: House
rig: config/rig.yaml
snap: beat
scenes:
  warm: {send: {console: [/scene/warm 1]}}
  run: {floor: 60%, send: {console: [/scene/run 1]}}
  rest: {send: {console: [/scene/rest 1]}}
effects:
  pulse: {every: beat, send: {console: [/pulse 1.0]}}
looks:
  warmup: {scene: warm, effects: [pulse]}
  retro_run: {scene: run, effects: [pulse]}
  recovery: {scene: rest}
"""

CLASS = """
name: Class
extends: ../house.yaml
playlist:
  - track: a.wav
scenes:
  warm: {send: {console: [/scene/warm 2]}}
segments:
  - {name: Warm-up, kind: warmup, length: "0:30"}
  - name: Intervals
    kind: retro_run
    intervals: {rounds: 2, work: 20s, rest: 10s}
    countdown: {beats: 3, send: {console: ["/count {n}", "/count/text 'in {n}'"]}}
  - {name: Cool-down, kind: cooldown, length: end of track, scene: rest}
"""


@pytest.fixture
def studio(tmp_path: Path) -> Path:
    write(tmp_path, "config/rig.yaml", RIG)
    write(tmp_path, "house.yaml", HOUSE)
    (tmp_path / "classes").mkdir()
    (tmp_path / "classes" / "a.wav").write_bytes(b"")
    return tmp_path


def compile_class(path: Path, *analyses: TrackAnalysis) -> Timeline:
    loaded = load_cue_sheet(path)
    assert loaded.rig_path is not None
    return compile_timeline(loaded, list(analyses), load_rig(loaded.rig_path))


def test_extends_inherits_and_the_child_wins(studio: Path) -> None:
    loaded = load_cue_sheet(write(studio, "classes/class.yaml", CLASS))
    sheet = loaded.sheet
    assert loaded.rig_path == studio / "config" / "rig.yaml"  # relative to house.yaml, not to the class
    assert sheet.snap == "beat" and sorted(sheet.scenes) == ["rest", "run", "warm"]
    assert str(sheet.scenes["warm"].send["console"][0]) == "/scene/warm 2"  # the class's own 'warm'
    assert check_against_rig(loaded, load_rig(studio / "config" / "rig.yaml")) == []
    # A problem in an inherited scene points into the house file; one in the class, into the class.
    write(studio, "house.yaml", HOUSE.replace("run: {floor: 60%, send: {console:", "run: {floor: 60%, send: {consle:"))
    loaded = load_cue_sheet(studio / "classes/class.yaml")
    assert [str(p) for p in check_against_rig(loaded, load_rig(studio / "config" / "rig.yaml"))] == [
        f"{studio / 'house.yaml'}:6:28: scene 'run': the rig 'Test rig' has no output 'consle' "
        "(did you mean 'console'?)"]
    write(studio, "house.yaml", HOUSE.replace("retro_run: {scene: run,", "retro_run: {scene: rnu,"))
    path = write(studio, "classes/class.yaml", CLASS.replace("scene: rest}", "scene: rset}"))
    assert problems_of(load_cue_sheet, path) == [
        f"{studio / 'classes/class.yaml'}:13:68: unknown scene 'rset' (did you mean 'rest'?)",
        f"{studio / 'house.yaml'}:12:22: unknown scene 'rnu' (did you mean 'run'?)",
    ]


def test_extends_chain_cycle_and_missing_base(studio: Path) -> None:
    write(studio, "base.yaml", "scenes:\n  cool: {send: {console: [/scene/cool 1]}}\n")
    write(studio, "house.yaml", "extends: base.yaml\n" + textwrap.dedent(HOUSE).lstrip())
    loaded = load_cue_sheet(write(studio, "classes/class.yaml", CLASS.replace("scene: rest}", "scene: cool}")))
    assert sorted(loaded.sheet.scenes) == ["cool", "rest", "run", "warm"]
    write(studio, "base.yaml", "extends: classes/../house.yaml\n")
    assert problems_of(load_cue_sheet, studio / "classes/class.yaml") == [
        f"{studio / 'base.yaml'}:1:10: 'extends' makes a cycle: house.yaml → base.yaml → house.yaml"]
    write(studio, "base.yaml", "extends: nope.yaml\n")
    assert problems_of(load_cue_sheet, studio / "classes/class.yaml") == [
        f"{studio / 'base.yaml'}:1:10: no such file to extend: {studio / 'nope.yaml'}"]


def test_a_house_style_has_no_class_plan(studio: Path) -> None:
    write(studio, "house.yaml", HOUSE + "segments: []\nsnpa: beat\n")
    assert problems_of(load_cue_sheet, write(studio, "classes/class.yaml", CLASS)) == [
        f"{studio / 'house.yaml'}:14:1: 'segments' belongs in the class file, not in a house style that others "
        "extend",
        f"{studio / 'house.yaml'}:15:1: unknown key 'snpa' (did you mean 'snap'?)",
    ]
    write(studio, "house.yaml", HOUSE)
    assert sorted(check_cue_style(studio / "house.yaml").style.scenes) == ["rest", "run", "warm"]


def test_countdown_counts_the_last_beats_of_each_work_phase(studio: Path) -> None:
    tl = compile_class(write(studio, "classes/class.yaml", CLASS), grid(120, 150))
    counts = [(round(e.t, 2), str(e.message), e.reason) for e in tl.events if str(e.message).startswith("/count")]
    # 120 BPM from 0.25 s, snap: beat. Round 1 work 30.25-49.75 → beats 48.25, 48.75, 49.25 count 3, 2, 1.
    assert counts[:6] == [
        (48.25, "/count 3", "Intervals round 1: countdown 3 before rest (bar 25 beat 1 of a.wav)"),
        (48.25, "/count/text 'in 3'", "Intervals round 1: countdown 3 before rest (bar 25 beat 1 of a.wav)"),
        (48.75, "/count 2", "Intervals round 1: countdown 2 before rest (bar 25 beat 2 of a.wav)"),
        (48.75, "/count/text 'in 2'", "Intervals round 1: countdown 2 before rest (bar 25 beat 2 of a.wav)"),
        (49.25, "/count 1", "Intervals round 1: countdown 1 before rest (bar 25 beat 3 of a.wav)"),
        (49.25, "/count/text 'in 1'", "Intervals round 1: countdown 1 before rest (bar 25 beat 3 of a.wav)"),
    ]
    assert len(counts) == 12  # two rounds × three beats × two messages
    sent = [e.message for e in tl.events if str(e.message).startswith("/count ")]
    assert [m.args for m in sent if isinstance(m, OscMessage)][:3] == [(3,), (2,), (1,)]  # numbers, not text
    # Without rest the countdown leads into the next round, and from the last round into the next segment.
    tl = compile_class(write(studio, "classes/class.yaml", CLASS.replace("rest: 10s", "rest: 0s")), grid(120, 150))
    befores = [e.reason.split(" (")[0] for e in tl.events if str(e.message) == "/count 1"]
    assert befores == ["Intervals round 1: countdown 1 before round 2",
                       "Intervals round 2: countdown 1 before 'Cool-down'"]


def test_countdown_outputs_are_checked_against_the_rig(studio: Path) -> None:
    path = write(studio, "classes/class.yaml", CLASS.replace('{console: ["/count {n}"', '{desk: ["/count {n}"'))
    loaded = load_cue_sheet(path)
    assert [str(p) for p in check_against_rig(loaded, load_rig(studio / "config/rig.yaml"))] == [
        f"{path}:12:41: countdown of 'Intervals': output 'desk' is MIDI, but '/count 1' is a OSC message",
        f"{path}:12:55: countdown of 'Intervals': output 'desk' is MIDI, but '/count/text 'in 1'' is a OSC message",
    ]
    path = write(studio, "classes/class.yaml", CLASS.replace("kind: retro_run\n    intervals: {rounds: 2, work: 20s, "
                                                              "rest: 10s}", "kind: retro_run\n    length: 16 bars"))
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:9:5: 'countdown' belongs to a segment with 'intervals' (it counts down each work phase)"]


def test_empty_and_zero_length_classes(studio: Path) -> None:
    path = write(studio, "classes/class.yaml", CLASS.split("segments:")[0] + "segments: []\n")
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:7:11: the class is empty: list at least one segment (- {{kind: warmup, length: \"5:00\"}})"]
    path = write(studio, "classes/class.yaml", CLASS.replace("playlist:\n  - track: a.wav", "playlist:"))
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:3:10: the playlist is empty: list at least one track (- track: music/song.mp3)"]
    path = write(studio, "classes/class.yaml", CLASS.replace('length: "0:30"', 'length: "0:00"').replace(
        "work: 20s", "work: 0s").replace("length: end of track", "length: 0 bars"))
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:8:43: a length must be longer than zero",
        f"{path}:11:16: work must be longer than zero",
        f"{path}:13:47: a length in bars must be at least 1 bar",
    ]


def test_intervals_that_do_not_fit_the_cap_say_by_how_much(studio: Path) -> None:
    path = write(studio, "classes/class.yaml", 'cap: "1:20"\n' + textwrap.dedent(CLASS).lstrip())
    with pytest.raises(ProblemsError) as info:
        compile_class(path, grid(120, 150))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:10:5: 'Intervals round 2: rest' would start at 1:20.0, after the class ends at 1:20.0 "
        "(the class cap)",
        f"{path}:12:16: intervals of 'Intervals' (2 × 0:20.0 work / 0:10.0 rest) run from 0:30.0 to 1:30.0, "
        "0:10.0 past the class cap at 1:20.0",
        f"{path}:14:5: 'Cool-down' would start at 1:30.0, after the class ends at 1:20.0 (the class cap)",
    ]


def test_a_phase_that_snapping_collapses_is_an_error(studio: Path) -> None:
    # 60 BPM from 0.5 s: a bar is 4 s and a change may move 2 s. The last 1-second rest snaps 1.5 s late,
    # onto the downbeat at 1:12.5, while the cool-down (snap: none) starts as written at 1:12.0.
    path = write(studio, "classes/class.yaml", CLASS.replace("rest: 10s", "rest: 1s").replace(
        "kind: retro_run\n", "kind: retro_run\n    snap: downbeat\n").replace("scene: rest}",
                                                                        "scene: rest, snap: none}"))
    with pytest.raises(ProblemsError) as info:
        compile_class(path, grid(60, 150, first=0.5))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:9:5: 'Intervals round 2: rest' collapses to 0.00 s after snapping (written 1.00 s): snapped from "
        "1:11.0 to downbeat 1:12.5 (+1.50 s, bar 19 of a.wav), but the next part starts at 1:12.0; make it longer "
        "or give the segment 'snap: beat' or 'snap: none'"]


def test_a_track_that_fails_analysis_is_located_at_its_playlist_entry(studio: Path) -> None:
    sf.write(str(studio / "classes" / "a.wav"), np.random.default_rng(0).standard_normal(4410) * 0.1, 22050)
    path = write(studio, "classes/class.yaml", CLASS)
    assert problems_of(load_show, str(path), None) == [
        f"{path}:4:12: track cannot be analysed: {studio / 'classes' / 'a.wav'}: track is too short to analyse "
        "(0.2 s)"]
