"""The floor never goes dark while people move backwards (issue 14): which kinds are backwards, how much
light a look leaves on the floor (judged from what it sends), and the rig's blackout / floor_scene."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_showctl
from test_cues import problems_of, write

from showctl.cues import check_against_rig, load_cue_sheet
from showctl.outputs.rig import load_rig

RIG = """
name: Test rig
floor_light: 30%
outputs:
  console: {transport: osc, port: 9000}
safe_scene:
  console: [/house 1]
"""

CUE = """
name: Floor class
rig: rig.yaml
playlist:
  - track: a.wav
scenes:
  warm: {send: {console: [/scene/warm 1]}}
  dark: {floor: 0%, send: {console: [/scene/dark 1]}}
looks:
  warmup: {scene: warm}
segments:
  - {name: Warm-up, kind: warmup, length: "1:00"}
  - {name: Run, kind: retro_run, length: 16 bars, scene: dark}
"""

DARK_RUN = "scene 'dark' leaves the floor at 0% during 'Run' (retro_run): people moving backwards need at least " \
           "the rig's floor_light 30%"


@pytest.fixture
def class_dir(tmp_path: Path) -> Path:
    write(tmp_path, "rig.yaml", RIG)
    write(tmp_path, "a.wav", "")
    return tmp_path


def floor_problems(path: Path) -> list[str]:
    loaded = load_cue_sheet(path)
    assert loaded.rig_path is not None
    return [str(p) for p in check_against_rig(loaded, load_rig(loaded.rig_path))]


# -- which kinds are backwards (item 3) ------------------------------------------------------------------
def test_backwards_kinds_only_add_to_the_built_in_ones(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", "backwards_kinds: []\n" + CUE.lstrip("\n"))
    assert floor_problems(path) == [f"{path}:13:58: {DARK_RUN}"]
    assert load_cue_sheet(path).sheet.backwards_kinds == ("retro_run", "reverse_lunge", "sled_pull")
    path = write(class_dir, "class.yaml", "backwards_kinds: [crawl]\n" + CUE.lstrip("\n"))
    assert load_cue_sheet(path).sheet.backwards_kinds == ("retro_run", "reverse_lunge", "sled_pull", "crawl")


def test_a_class_cannot_drop_the_backwards_kinds_of_its_house_style(class_dir: Path) -> None:
    write(class_dir, "house.yaml", "backwards_kinds: [crawl]\nscenes:\n  warm: {send: {console: [/scene/warm 1]}}\n")
    text = CUE.replace("rig: rig.yaml", "rig: rig.yaml\nextends: house.yaml\nbackwards_kinds: []").replace(
        "kind: retro_run", "kind: crawl").replace("(retro_run)", "(crawl)")
    path = write(class_dir, "class.yaml", text)
    assert load_cue_sheet(path).sheet.backwards_kinds == ("retro_run", "reverse_lunge", "sled_pull", "crawl")
    assert floor_problems(path) == [f"{path}:14:54: {DARK_RUN.replace('(retro_run)', '(crawl)')}"]
    write(class_dir, "house.yaml", "backwards_kinds: []\n")
    path = write(class_dir, "class.yaml", CUE.replace("rig: rig.yaml", "rig: rig.yaml\nextends: house.yaml"))
    assert floor_problems(path) == [f"{path}:13:58: {DARK_RUN}"]


def test_an_unknown_kind_is_an_error_with_did_you_mean(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", CUE.replace("kind: retro_run", "kind: retro-run").replace(
        "warmup: {scene: warm}", "warmpu: {scene: warm}"))
    known = ("warmup, retro_run, reverse_lunge, sled_pull, recovery, cooldown, stretch, or a kind added to "
             "'backwards_kinds:'")
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:9:3: unknown kind 'warmpu' under 'looks:' (did you mean 'warmup'?): kinds are {known}",
        f"{path}:11:5: segment 'Warm-up' has no scene: give it 'scene:' or add a look for kind 'warmup' under "
        "'looks:'",
        f"{path}:12:23: unknown kind 'retro-run' (did you mean 'retro_run'?): kinds are {known}",
    ]
    path = write(class_dir, "class.yaml", "backwards_kinds: [sled-pull, crawl]\n" + CUE.lstrip("\n"))
    assert problems_of(load_cue_sheet, path) == [
        f"{path}:1:19: unknown kind 'sled-pull' in 'backwards_kinds:' (did you mean 'sled_pull'?): it adds kinds "
        "to the built-in retro_run, reverse_lunge, sled_pull; give a new kind a name unlike the known ones"]


# -- the rig's blackout needs a floor scene (item 2) ---------------------------------------------------------
BLACKOUT_RIG = RIG + "blackout: {console: [/blackout 1]}\n"
NO_FLOOR_SCENE = ("the rig 'Test rig' has a 'blackout:' scene but no 'floor_scene:': a blackout pressed before "
                  "'Run' (retro_run) would stay dark while people move backwards; give the rig a floor_scene that "
                  "keeps its floor_light 30%")


def test_a_rig_with_a_blackout_and_no_floor_scene_cannot_run_a_backwards_class(class_dir: Path) -> None:
    write(class_dir, "rig.yaml", BLACKOUT_RIG)
    path = write(class_dir, "class.yaml", CUE.replace("scene: dark}", "scene: warm}"))
    expected = f"{path}:12:23: {NO_FLOOR_SCENE}"
    assert floor_problems(path) == [expected]
    check = run_showctl("check", str(path))
    assert (check.returncode, check.stdout.splitlines()) == (1, [expected])
    run = run_showctl("run", str(path), "--sim")
    assert (run.returncode, run.stderr.splitlines()) == (1, [expected])
    # With a floor scene the class is fine; without a backwards part, or without a blackout, it needs none.
    write(class_dir, "rig.yaml", BLACKOUT_RIG + "floor_scene: {console: [/floor 0.3]}\n")
    assert floor_problems(path) == []
    write(class_dir, "rig.yaml", BLACKOUT_RIG)
    assert floor_problems(write(class_dir, "class.yaml", CUE.replace(
        "scene: dark}", "scene: warm}").replace("kind: retro_run", "kind: cooldown"))
    ) == []
    write(class_dir, "rig.yaml", RIG)
    assert floor_problems(path) == []
