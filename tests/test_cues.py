"""Cue and rig files: strict YAML, schema errors at their line and column, references, safety rules."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from showctl.cues import check_against_rig, check_cue_style, is_cue_style, load_cue_sheet
from showctl.errors import ProblemsError
from showctl.rig import load_rig
from showctl.units import Length, parse_clock, parse_length, parse_rate
from showctl.yamlfile import load_yaml

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(fn: object, *args: object) -> list[str]:
    with pytest.raises(ProblemsError) as info:
        fn(*args)  # type: ignore[operator]
    return [str(p) for p in info.value.problems]


RIG = """
name: Test rig
floor_light: 30%
outputs:
  console: {transport: osc, host: 127.0.0.1, port: 9000}
  desk: {transport: midi, port: "x:in"}
safe_scene:
  console: [/house 1]
  desk: [control_change control=7 value=127]
"""

CUE = """
name: Test class
rig: rig.yaml
playlist:
  - track: a.wav
scenes:
  warm:
    send:
      console: [/scene/warm 1]
  dark:
    floor: 0%
    send:
      console: [/scene/dark 1]
effects:
  pulse:
    every: beat
    send:
      console: [/pulse 1.0]
looks:
  warmup: {scene: warm, effects: [pulse]}
segments:
  - {name: Warm-up, kind: warmup, length: "1:30"}
  - {name: Run, kind: retro_run, length: 16 bars, scene: warm}
"""


@pytest.fixture
def class_dir(tmp_path: Path) -> Path:
    write(tmp_path, "rig.yaml", RIG)
    write(tmp_path, "a.wav", "")
    return tmp_path


def test_yaml_1_1_surprises_stay_strings(tmp_path: Path) -> None:
    path = write(tmp_path, "x.yaml", "a: off\nb: 1:30\nc: 010\nd: yes\ne: true\nf: 0.5\n")
    assert load_yaml(path).data == {"a": "off", "b": "1:30", "c": 10, "d": "yes", "e": True, "f": 0.5}


def test_yaml_syntax_errors_have_locations(tmp_path: Path) -> None:
    tabs = write(tmp_path, "tabs.yaml", "a: 1\n\tb: 2\n")
    assert problems_of(load_yaml, tabs) == [
        f"{tabs}:2:1: YAML syntax: tab characters are not allowed for indentation; use spaces"]
    dup = write(tmp_path, "dup.yaml", "a: 1\nb:\n  x: 1\n  x: 2\n")
    assert problems_of(load_yaml, dup) == [f"{dup}:4:3: duplicate key 'x'"]
    assert problems_of(load_yaml, tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file"]
    empty = write(tmp_path, "empty.yaml", "# nothing\n")
    assert problems_of(load_yaml, empty) == [f"{empty}:1:1: the file is empty"]


def test_units() -> None:
    assert parse_clock("1:30") == 90
    assert parse_clock("1:02:03") == 3723
    assert parse_clock("40s") == 40
    assert parse_clock("2 min") == 120
    assert parse_length("16 bars") == Length("bars", 16)
    assert parse_length("end of track") == Length("track_end")
    assert parse_rate("half beat").beats == 0.5
    assert parse_rate("2 bars").in_beats(4) == 8
    with pytest.raises(ValueError, match="expected a time like"):
        parse_clock("1:3")


def test_good_cue_file_loads(class_dir: Path) -> None:
    loaded = load_cue_sheet(write(class_dir, "class.yaml", CUE))
    assert [s.kind for s in loaded.sheet.segments] == ["warmup", "retro_run"]
    assert check_against_rig(loaded, load_rig(class_dir / "rig.yaml")) == []


def test_every_problem_reported_at_once_verbatim(class_dir: Path) -> None:
    broken = CUE.replace("kind: warmup, length", "kind: warmup, lenght").replace(
        "effects: [pulse]}", "effects: [pluse]}").replace("scene: warm}", "scene: wram}")
    path = write(class_dir, "class.yaml", broken)
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:21:35: unknown key 'lenght' (did you mean 'length'?)",
    ]
    fixed_key = broken.replace("lenght", "length")
    path = write(class_dir, "class.yaml", fixed_key)
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:19:35: unknown effect 'pluse' (did you mean 'pulse'?)",
        f"{path}:22:58: unknown scene 'wram' (did you mean 'warm'?)",
    ]


def test_schema_errors_name_the_value(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", CUE.replace('length: "1:30"', 'length: "1:3"').replace(
        "every: beat", "every: often"))
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:15:12: expected a rate like 'beat', 'half beat', 'bar', '2 beats' or '4 bars', got 'often'",
        f"{path}:21:43: expected a length like '3:00', '40s', '16 bars' or 'end of track', got '1:3'",
    ]


def test_missing_track_and_rig_output(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", CUE.replace("track: a.wav", "track: b.wav").replace(
        "console: [/pulse 1.0]", "consle: [/pulse 1.0]"))
    assert problems_of(load_cue_sheet, path) == [f"{path}:4:12: no such track file: {class_dir / 'b.wav'}"]
    path = write(class_dir, "class.yaml", CUE.replace("console: [/pulse 1.0]", "consle: [/pulse 1.0]"))
    loaded = load_cue_sheet(path)
    assert [str(p) for p in check_against_rig(loaded, load_rig(class_dir / "rig.yaml"))] == [
        f"{path}:17:7: effect 'pulse': the rig 'Test rig' has no output 'consle' (did you mean 'console'?)"]


def test_wrong_transport_for_output(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", CUE.replace("console: [/pulse 1.0]", "desk: [/pulse 1.0]"))
    loaded = load_cue_sheet(path)
    assert [str(p) for p in check_against_rig(loaded, load_rig(class_dir / "rig.yaml"))] == [
        f"{path}:17:14: effect 'pulse': output 'desk' is MIDI, but '/pulse 1.0' is a OSC message"]


def test_backwards_segment_never_dark(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", CUE.replace("kind: retro_run, length: 16 bars, scene: warm",
                                                      "kind: retro_run, length: 16 bars, scene: dark"))
    loaded = load_cue_sheet(path)
    assert [str(p) for p in check_against_rig(loaded, load_rig(class_dir / "rig.yaml"))] == [
        f"{path}:22:58: scene 'dark' leaves the floor at 0% during 'Run' (retro_run): people moving "
        "backwards need at least the rig's floor_light 30%"]


def test_fast_strobe_needs_a_reason(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", "allow_fast_strobe: true\n" + textwrap.dedent(CUE).lstrip())
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:1:1: allow_fast_strobe: true needs a 'reason:' saying why (photosensitive epilepsy risk)"]


def test_rig_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "rig.yaml", RIG.replace("transport: osc,", "transport: osc, prot: 1,").replace(
        "  desk: [control_change control=7 value=127]\n", ""))
    assert problems_of(load_rig, path) == [
        f"{path}:6:1: safe_scene has nothing for output 'desk': every output needs its safe state"]
    path = write(tmp_path, "rig.yaml", RIG.replace("transport: osc,", "transport: osc, prot: 1,"))
    assert problems_of(load_rig, path) == [f"{path}:4:29: unknown key 'prot' (did you mean 'port'?)"]
    path = write(tmp_path, "rig.yaml", RIG.replace("control=7 value=127", "control=7 value=300"))
    assert problems_of(load_rig, path) == [
        f"{path}:8:10: cannot read MIDI message 'control_change control=7 value=300': "
        "data byte must be in range 0..127"]


def _example(path: Path) -> object:
    """One example cue file; those that play the studio library are slow (it is synthesized once)."""
    slow = "tracks/library/" in path.read_text(encoding="utf-8")
    name = str(path.relative_to(REPO))
    return pytest.param(name, marks=[pytest.mark.slow] if slow else [], id=name)


@pytest.mark.parametrize("path", [_example(p) for p in sorted((REPO / "cues").glob("*.yaml"))])
def test_example_cue_files_load(path: str, request: pytest.FixtureRequest) -> None:
    if is_cue_style(REPO / path):
        style = check_cue_style(REPO / path)  # a house style: checked on its own, against its rig
        assert style.rig_path is not None and style.style.scenes
        return
    if "tracks/library/" in (REPO / path).read_text(encoding="utf-8"):
        request.getfixturevalue("library_tracks")
    elif not (REPO / "tracks/demo/01-warmup-100.wav").exists():
        pytest.skip("demo tracks not synthesized yet (test_cli writes them)")
    loaded = load_cue_sheet(REPO / path)
    assert loaded.rig_path is not None
    assert check_against_rig(loaded, load_rig(loaded.rig_path)) == []


# --- hostile YAML: aliases, depth, NaN and infinity (issue 14 item 13) -------------------------------------

LAUGHS = """\
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def test_alias_expansion_is_limited(tmp_path: Path) -> None:
    path = write(tmp_path, "laughs.yaml", LAUGHS)
    # The first *e of line 6 is where the document passes 100 000 nodes (~75 000 before it, 66 430 in it);
    # written out, line 9 alone would be 9**9 = 387 million strings.
    assert problems_of(load_yaml, path) == [
        f"{path}:6:8: YAML aliases expand to more than 100000 nodes here; write the values out instead"]
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:6:8: YAML aliases expand to more than 100000 nodes here; write the values out instead"]


def test_small_aliases_still_work(tmp_path: Path) -> None:
    path = write(tmp_path, "ok.yaml", "a: &a {x: 1, y: [1, 2]}\nb: *a\nc: [*a, *a]\n")
    assert load_yaml(path).data == {"a": {"x": 1, "y": [1, 2]}, "b": {"x": 1, "y": [1, 2]},
                                    "c": [{"x": 1, "y": [1, 2]}] * 2}


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "loop.yaml", "a: &a\n  b: *a\n")
    assert problems_of(load_yaml, path) == [f"{path}:2:6: YAML alias *a refers to a node that contains it"]


@pytest.mark.parametrize("deep", [101, 500, 5000])
def test_nesting_depth_is_limited(tmp_path: Path, deep: int) -> None:
    path = write(tmp_path, "deep.yaml", "a: " + "[" * deep + "]" * deep + "\n")
    # The top mapping is level 1: the 100th list opens level 101, at column 3 + 100.
    assert problems_of(load_yaml, path) == [f"{path}:1:103: YAML nested more than 100 levels deep"]
    flow = write(tmp_path, "map.yaml", "a: " + "{b: " * deep + "1" + "}" * deep + "\n")
    assert problems_of(load_yaml, flow) == [f"{flow}:1:{4 + 4 * 99}: YAML nested more than 100 levels deep"]


def test_nesting_through_an_alias_is_limited(tmp_path: Path) -> None:
    deep = "[" * 60 + "]" * 60
    path = write(tmp_path, "deep.yaml", f"a: &a {deep}\nb: {'[' * 60}*a{']' * 60}\n")
    assert problems_of(load_yaml, path) == [f"{path}:2:64: YAML nested more than 100 levels deep"]


def test_non_finite_numbers_are_refused_where_they_are(tmp_path: Path, class_dir: Path) -> None:
    path = write(tmp_path, "n.yaml", "a: .nan\nb: [1, -.inf]\nc: {d: .Inf}\ne: 1e999\n")
    assert problems_of(load_yaml, path) == [
        f"{path}:1:4: not a finite number: .nan",
        f"{path}:2:8: not a finite number: -.inf",
        f"{path}:3:8: not a finite number: .Inf",
        f"{path}:4:4: not a finite number: 1e999",
    ]
    cue = write(class_dir, "class.yaml", CUE.replace('length: "1:30"', "length: .nan").replace(
        "length: 16 bars", "length: .inf"))
    assert problems_of(load_cue_sheet, cue) == [
        f"{cue}:21:43: not a finite number: .nan",
        f"{cue}:22:42: not a finite number: .inf",
    ]


def test_units_refuse_non_finite_numbers() -> None:
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="expected a time like"):
            parse_clock(bad)
        with pytest.raises(ValueError, match="expected a length like"):
            parse_length(bad)
        with pytest.raises(ValueError, match="expected a rate like"):
            parse_rate(bad)
    huge = "9" * 400  # digits enough for float() to give infinity
    with pytest.raises(ValueError, match="expected a rate like"):
        parse_rate(f"{huge} beats")
    with pytest.raises(ValueError, match="expected a time like"):
        parse_clock(f"{huge}s")
