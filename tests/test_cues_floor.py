"""The floor never goes dark while people move backwards (issue 14): which kinds are backwards, how much
light a look leaves on the floor (judged from what it sends), and the rig's blackout / floor_scene."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_showctl
from test_cues import problems_of, write
from test_cues_files import grid

from showctl.cues import check_against_rig, load_cue_sheet
from showctl.errors import ProblemsError
from showctl.player.live_plan import live_plan
from showctl.rig import load_rig
from showctl.rig.dmx import FIXTURE_TYPES, FixtureType
from showctl.rig.floor_light import blackout_release
from showctl.timeline import compile_timeline

RIG = """
name: Test rig
floor_light: 30%
outputs:
  console: {transport: osc, port: 9000}
safe_scene:
  console: [/house 1, /blackout 0]
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
    write(class_dir, "rig.yaml", BLACKOUT_RIG + "floor_scene: {console: [/floor 0.3, /blackout 0]}\n")
    assert floor_problems(path) == []
    write(class_dir, "rig.yaml", BLACKOUT_RIG)
    assert floor_problems(write(class_dir, "class.yaml", CUE.replace(
        "scene: dark}", "scene: warm}").replace("kind: retro_run", "kind: cooldown"))
    ) == []
    write(class_dir, "rig.yaml", RIG)
    assert floor_problems(path) == []


# -- darkness judged from what a look sends (items 3, 4) -----------------------------------------------------
def dark_line(subject: str, level: str, why: str, part: str = "'Run' (retro_run)") -> str:
    return (f"{subject} leaves the floor at {level} during {part}: {why}; people moving backwards need at least "
            "the rig's floor_light 30%")


def test_a_scene_that_sends_blackout_is_dark_whatever_floor_it_declares(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", CUE.replace("dark: {floor: 0%, send: {console: [/scene/dark 1]}}",
                                                      "dark: {send: {console: [/scene/dark 1, /blackout 1]}}"))
    assert floor_problems(path) == [
        f"{path}:12:58: {dark_line('scene', '0%', '...')}".replace(
            "scene leaves", "scene 'dark' leaves").replace("...", "'/blackout 1' to output 'console' blacks it out")]
    path = write(class_dir, "class.yaml", CUE.replace("dark: {floor: 0%, send: {console: [/scene/dark 1]}}",
                                                      "dark: {floor: 90%, send: {console: [/showctl/dimmer 0.1]}}"))
    assert floor_problems(path) == [f"{path}:12:58: " + dark_line(
        "scene 'dark'", "10%", "'/showctl/dimmer 0.1' to output 'console' sets it to 10%")]


def test_an_effect_that_blacks_out_every_bar_in_a_backwards_part_is_a_dark_look(class_dir: Path) -> None:
    text = CUE.replace("dark: {floor: 0%, send: {console: [/scene/dark 1]}}",
                       "dark: {send: {console: [/scene/dark 1]}}\neffects:\n  drop: {every: bar, flash: false, "
                       "send: {console: [/blackout 1, /blackout 0]}}\n"
                       "  out: {every: bar, send: {console: /blackout 1}}")
    path = write(class_dir, "class.yaml", text.replace("scene: dark}", "scene: dark, effects: [drop, out]}"))
    assert floor_problems(path) == [f"{path}:15:80: " + dark_line(
        "effect 'out' (over scene 'dark')", "0%", "'/blackout 1' to output 'console' blacks it out")]
    # Out and back in one tick leaves the floor lit; the warm-up's blackout effect latches into the run.
    path = write(class_dir, "class.yaml", text.replace("scene: dark}", "scene: dark, effects: [drop]}"))
    assert floor_problems(path) == []
    path = write(class_dir, "class.yaml", text.replace("warmup: {scene: warm}",
                                                       "warmup: {scene: warm, effects: [out]}"))
    assert floor_problems(path) == [f"{path}:15:58: " + dark_line(
        "scene 'dark'", "0%", "'/blackout 1' to output 'console' blacks it out (still in force from effect 'out')")]


def test_a_blackout_latched_by_an_earlier_look_still_darkens_a_backwards_part(class_dir: Path) -> None:
    text = CUE.replace("warm: {send: {console: [/scene/warm 1]}}",
                       "warm: {send: {console: [/scene/warm 1, /blackout 1]}}").replace(
        "dark: {floor: 0%, send: {console: [/scene/dark 1]}}", "dark: {send: {console: [/scene/dark 1]}}")
    path = write(class_dir, "class.yaml", text)
    assert floor_problems(path) == [f"{path}:12:58: " + dark_line(
        "scene 'dark'", "0%", "'/blackout 1' to output 'console' blacks it out (still in force from scene 'warm')")]
    path = write(class_dir, "class.yaml", text.replace("[/scene/dark 1]", "[/scene/dark 1, /blackout 0]"))
    assert floor_problems(path) == []


def test_a_control_the_rigs_blackout_pulls_down_is_a_floor_level(class_dir: Path) -> None:
    write(class_dir, "rig.yaml", RIG.replace("safe_scene:", "  desk: {transport: midi, port: 'x:in'}\nsafe_scene:")
          + "  desk: [control_change control=7 value=127]\nblackout: {desk: [control_change control=7 value=0]}\n"
          "floor_scene: {desk: [control_change control=7 value=38]}\n")  # 38/127: 30 % as a 7-bit fader sends it
    path = write(class_dir, "class.yaml", CUE.replace("dark: {floor: 0%, send: {console: [/scene/dark 1]}}",
                                                      "dark: {send: {desk: [control_change control=7 value=25]}}"))
    assert floor_problems(path) == [f"{path}:12:58: " + dark_line(
        "scene 'dark'", "20%", "'control_change channel=0 control=7 value=25 time=0' to output 'desk' sets it to 20%")]
    assert floor_problems(write(class_dir, "class.yaml", CUE.replace(
        "dark: {floor: 0%, send: {console: [/scene/dark 1]}}",
        "dark: {send: {desk: [control_change control=7 value=38]}}"))) == []
    # The rig's own floor scene is judged the same way, at its line in the rig file.
    rig = write(class_dir, "rig.yaml", (class_dir / "rig.yaml").read_text().replace("value=38", "value=20"))
    assert problems_of(load_rig, rig) == [
        f"{rig}:10:22: floor_scene: 'control_change channel=0 control=7 value=20 time=0' to output 'desk' sets it "
        "to 16%, under the rig's floor_light 30%: the blackout key gives this look while people move backwards"]


def test_qlcplus_dimmer_ints_are_out_of_255(class_dir: Path) -> None:
    write(class_dir, "rig.yaml", RIG.replace("port: 9000}", "port: 9000, profile: qlcplus}"))
    path = write(class_dir, "class.yaml", CUE.replace("dark: {floor: 0%, send: {console: [/scene/dark 1]}}",
                                                      "dark: {send: {console: [/showctl/dimmer 51]}}"))
    assert floor_problems(path) == [f"{path}:12:58: " + dark_line(
        "scene 'dark'", "20%", "'/showctl/dimmer 51' to output 'console' sets it to 20%")]


# -- DMX: the floor's light through the patch (item 4) -------------------------------------------------------
DMX_RIG = """
name: DMX rig
floor_light: 30%
outputs:
  lights: {transport: dmx, universes: [1]}
fixtures:
  par1: {type: rgbw-par, address: 1}
  par2: {type: rgbw-par, address: 7}
  head: {type: moving-head, address: 20}
  hazer: {type: hazer, address: 40}
  spot: {type: dimmer, address: 50, lights_floor: false}
groups:
  pars: [par1, par2]
safe_scene:
  lights: ["@pars dimmer=100% color=white", "@head dimmer=0", "@spot dimmer=0", "@hazer haze=0"]
blackout: {lights: ["@pars dimmer=0", "@head dimmer=0"]}
floor_scene: {lights: ["@pars dimmer=30%", "@head dimmer=0"]}
"""

DMX_CUE = """
name: DMX class
rig: rig.yaml
playlist:
  - track: a.wav
scenes:
  warm: {send: {lights: ["@pars dimmer=70%"]}}
  dark: {floor: 80%, send: {lights: ["@pars dimmer=0"]}}
looks:
  warmup: {scene: warm}
segments:
  - {name: Warm-up, kind: warmup, length: "1:00"}
  - {name: Run, kind: retro_run, length: 16 bars, scene: dark}
"""


def test_dmx_darkness_is_computed_from_the_patch_not_the_declared_floor(class_dir: Path) -> None:
    write(class_dir, "rig.yaml", DMX_RIG)
    path = write(class_dir, "class.yaml", DMX_CUE)
    assert floor_problems(path) == [f"{path}:12:58: " + dark_line(
        "scene 'dark'", "0%", "'@pars dimmer=0%' leaves fixture 'par1' at 0%")]
    path = write(class_dir, "class.yaml", DMX_CUE.replace('"@pars dimmer=0"', '"@par2 color=black"'))
    assert floor_problems(path) == [f"{path}:12:58: " + dark_line(
        "scene 'dark'", "0%", "'@par2 color=black' leaves fixture 'par2' at 0%")]
    # Moving heads, a hazer and a fixture flagged `lights_floor: false` do not light the floor.
    path = write(class_dir, "class.yaml", DMX_CUE.replace(
        '"@pars dimmer=0"', '"@head dimmer=0", "@hazer haze=0", "@spot dimmer=0", "@pars dimmer=40%"'))
    assert floor_problems(path) == []


def test_dmx_state_carries_from_the_look_before(class_dir: Path) -> None:
    write(class_dir, "rig.yaml", DMX_RIG)
    path = write(class_dir, "class.yaml", DMX_CUE.replace('"@pars dimmer=70%"', '"@par1 dimmer=10%"').replace(
        '"@pars dimmer=0"', '"@head dimmer=100%"'))
    assert floor_problems(path) == [f"{path}:12:58: " + dark_line(
        "scene 'dark'", "10%", "'@par1 dimmer=10%' leaves fixture 'par1' at 10% (still in force from scene 'warm')")]


def test_a_dmx_floor_scene_that_leaves_the_floor_dark_is_a_rig_error(tmp_path: Path) -> None:
    path = write(tmp_path, "rig.yaml", DMX_RIG.replace('floor_scene: {lights: ["@pars dimmer=30%"',
                                                       'floor_scene: {lights: ["@pars dimmer=0%"'))
    assert problems_of(load_rig, path) == [
        f"{path}:16:24: floor_scene: '@pars dimmer=0%' leaves fixture 'par1' at 0%, under the rig's floor_light 30%: "
        "the blackout key gives this look while people move backwards"]


LATCH_RIG = """name: Latch rig
floor_light: 30%
outputs:
  console: {transport: osc, port: 9000}
  desk: {transport: midi, port: 'x:in'}
safe_scene:
  console: [/house 1]
  desk: [control_change control=7 value=127]
blackout: {console: [/blackout 1], desk: [control_change control=7 value=0]}
floor_scene: {console: [/floor 0.3], desk: [control_change control=7 value=38]}
"""


def test_a_floor_scene_or_safe_scene_that_leaves_the_blackout_held_is_a_rig_error(tmp_path: Path) -> None:
    # A console holds its blackout until a message lifts it: '/floor 0.3' after '/blackout 1' is still dark, and
    # so is the house light. The MIDI fader the blackout pulled down is set again by both: released.
    path = write(tmp_path, "rig.yaml", LATCH_RIG)
    assert problems_of(load_rig, path) == [
        f"{path}:7:12: safe_scene: after a blackout the floor stays under the rig's floor_light 30% ('/blackout 1' to "
        "output 'console' blacks it out): every exit and the house-lights key send this scene, so it must lift the "
        "blackout (e.g. '/showctl/blackout 0')",
        f"{path}:10:24: floor_scene: the blackout's '/blackout 1' to output 'console' blacks it out and nothing here "
        "releases it: a console holds its blackout, so the floor would stay dark while people move backwards; add "
        "the message that lifts it (e.g. '/showctl/blackout 0')"]
    fixed = write(tmp_path, "fixed.yaml", LATCH_RIG.replace("[/house 1]", "[/house 1, /blackout 0]").replace(
        "[/floor 0.3]", "[/floor 0.3, /blackout 0]"))
    rig = load_rig(fixed)
    assert {o: [str(m) for m in ms] for o, ms in blackout_release(rig).items()} == {
        "console": ["/blackout 0"], "desk": ["control_change channel=0 control=7 value=127 time=0"]}


# -- the line that made it unsafe (item 6) -------------------------------------------------------------------
HOUSE = """
rig: rig.yaml
scenes:
  run: {floor: 60%, send: {console: [/scene/run 1]}}
looks:
  retro_run: {scene: run}
"""


def test_a_class_that_lowers_its_house_styles_floor_is_pointed_at(class_dir: Path) -> None:
    house = write(class_dir, "house.yaml", HOUSE)
    text = CUE.replace("rig: rig.yaml", "extends: house.yaml").replace(", scene: dark}", "}")
    path = write(class_dir, "class.yaml", text.replace("dark: {floor: 0%,", "run: {floor: 10%,"))
    assert floor_problems(path) == [f"{path}:7:16: " + DARK_RUN.replace("'dark'", "'run'").replace(" 0%", " 10%")]
    path = write(class_dir, "class.yaml", text.replace("dark: {floor: 0%, send: {console: [/scene/dark 1]}}",
                                                      "run: {send: {console: [/scene/run 1, /blackout 1]}}"))
    assert floor_problems(path) == [f"{path}:7:40: " + dark_line(
        "scene 'run'", "0%", "'/blackout 1' to output 'console' blacks it out")]
    # The house style's own dark look is the house style's line.
    write(class_dir, "house.yaml", HOUSE.replace("floor: 60%", "floor: 20%"))
    path = write(class_dir, "class.yaml", text)
    assert floor_problems(path) == [f"{house}:5:22: " + DARK_RUN.replace("'dark'", "'run'").replace(" 0%", " 20%")]


def test_a_live_class_is_held_to_the_same_floor_rule(class_dir: Path) -> None:
    write(class_dir, "rig.yaml", BLACKOUT_RIG + "floor_scene: {console: [/floor 0.3, /blackout 0]}\n")
    path = write(class_dir, "class.yaml", CUE.replace("dark: {floor: 0%, send: {console: [/scene/dark 1]}}",
                                                      "dark: {send: {console: [/scene/dark 1, /blackout 1]}}"))
    expected = f"{path}:12:58: " + dark_line("scene 'dark'", "0%", "'/blackout 1' to output 'console' blacks it out")
    assert problems_of(live_plan, load_cue_sheet(path), load_rig(class_dir / "rig.yaml")) == [expected]
    run = run_showctl("run", str(path), "--live", "--sim", "--source", "tap")
    assert (run.returncode, run.stderr.splitlines()) == (1, [expected])


def test_the_timeline_compile_refuses_a_dark_backwards_look_too(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", CUE)
    with pytest.raises(ProblemsError) as info:
        compile_timeline(load_cue_sheet(path), [grid(120, 120)], load_rig(class_dir / "rig.yaml"))
    assert [str(p) for p in info.value.problems] == [f"{path}:12:58: {DARK_RUN}"]


def test_a_countdown_that_blacks_out_in_a_backwards_part_is_dark(class_dir: Path) -> None:
    path = write(class_dir, "class.yaml", CUE.replace(
        "  - {name: Run, kind: retro_run, length: 16 bars, scene: dark}",
        "  - name: Run\n    kind: retro_run\n    scene: warm\n    intervals: {rounds: 2, work: 20s, rest: 10s}\n"
        "    rest: {scene: warm}\n    countdown: {beats: 3, send: {console: ['/blackout {n}']}}"))
    assert floor_problems(path) == [f"{path}:17:16: " + dark_line(
        "the countdown of 'Run'", "0%", "'/blackout 1' to output 'console' blacks it out")]


def test_a_floor_fixture_nothing_lights_is_dark(class_dir: Path) -> None:
    rig = DMX_RIG.replace("address: 50, lights_floor: false}", "address: 50}").replace('"@spot dimmer=0", ', "")
    write(class_dir, "rig.yaml", rig.replace('dimmer=30%", "@head dimmer=0"', 'dimmer=30%", "@spot dimmer=1"'))
    path = write(class_dir, "class.yaml", DMX_CUE.replace('"@pars dimmer=0"', '"@pars dimmer=50%"'))
    assert floor_problems(path) == [f"{path}:12:58: " + dark_line(
        "scene 'dark'", "0%", "fixture 'spot' lights the floor but nothing lights it (light it in the look, or give "
        "it 'lights_floor: false' in the rig)")]


def test_which_fixture_types_light_the_floor_by_default() -> None:
    lights = {name: t.floor_light for name, t in FIXTURE_TYPES.items()}
    assert lights == {"dimmer": True, "rgb-par": True, "rgbw-par": True, "moving-head": False, "strobe": False,
                      "hazer": False}
    assert FixtureType(channels=("dimmer", "red", "green", "blue", "strobe", "control", "speed")).floor_light
    assert not FixtureType(channels=("dimmer", "red", "green", "blue"), lights_floor=False).floor_light
