"""Instructor controls through the real player and the loopback OSC receiver, on a fake clock."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest
from test_timeline import grid

from showctl.cues import load_cue_sheet
from showctl.messages import OutMessage
from showctl.outputs import open_output
from showctl.player import FakeClock, Player
from showctl.player.controls import Controller, ControlName
from showctl.rig import load_rig
from showctl.sim import SimulatedRig
from showctl.timeline import Event, PlanEdit, Timeline, compile_timeline
from showctl.timeline.compile import nudges
from showctl.timeline.model import BeatPosition, TrackSlot, beat_position

RIG = """
name: OSC rig
outputs:
  console: {transport: osc, port: 9000}
safe_scene: {console: [/house 1, /blackout 0]}
blackout: {console: [/blackout 1]}
floor_scene: {console: [/floor 0.3, /blackout 0]}
"""

CUE = """
name: Controls class
rig: rig.yaml
playlist: [{track: a.wav}]
scenes:
  warm: {send: {console: [/scene/warm 1]}}
  run: {send: {console: [/scene/run 1]}}
  rest: {send: {console: [/scene/rest 1]}}
effects:
  pulse: {every: beat, send: {console: [/pulse 1]}}
looks:  # a pulse every beat everywhere: the fake clock only stops at events, so controls land on time
  warmup: {scene: warm, effects: [pulse]}
  retro_run: {scene: run, effects: [pulse]}
  recovery: {scene: rest, effects: [pulse]}
segments:
  - {name: Warm-up, kind: warmup, length: "0:30"}
  - {name: Intervals, kind: retro_run, intervals: {rounds: 2, work: 20s, rest: 10s}}
  - {name: Cool-down, kind: cooldown, length: end of track, scene: warm, effects: [pulse]}
"""


def run_with_presses(tmp_path: Path, presses: dict[float, ControlName], speed: float = 1.0,
                     cue: str = CUE) -> tuple[list[tuple[float, str]], Controller]:
    """Play the class on a fake clock (running `speed`× real time, as in a rehearsal), pressing controls
    when class time passes each key of `presses`."""
    (tmp_path / "rig.yaml").write_text(textwrap.dedent(RIG))
    (tmp_path / "class.yaml").write_text(textwrap.dedent(cue))
    (tmp_path / "a.wav").write_bytes(b"")
    loaded, rig = load_cue_sheet(tmp_path / "class.yaml"), load_rig(tmp_path / "rig.yaml")
    analyses = [grid(120, 150)]  # downbeats every 2 s from 0.25 s

    def recompile(edits: tuple[PlanEdit, ...]) -> Timeline:
        return compile_timeline(loaded, analyses, rig, edits)

    clock = FakeClock()
    clock.speed = speed
    sent_at: list[tuple[float, str]] = []  # class time each message left, as the player sent it
    with SimulatedRig(rig) as sim:
        output = open_output("console", sim.rig_for_outputs)
        send = output.send

        def send_and_note(message: OutMessage) -> None:
            sent_at.append((clock.now(), str(message)))
            send(message)

        output.send = send_and_note  # type: ignore[method-assign]
        player = Player(recompile(()), {"console": output}, clock)
        controller = Controller(player, rig, loaded.sheet.backwards_kinds, recompile)
        todo = sorted(presses.items())

        def on_event(event: Event) -> None:
            while todo and clock.now() >= todo[0][0]:
                controller.press(todo.pop(0)[1])

        player.on_event = on_event
        player.play()
        sent = player.health["console"].sent
        assert sim.wait_for({"console": sent}, timeout=5), f"the rig received {sim.counts['console']} of {sent}"
        # What the rig received, in order, with the class time each message was sent at.
        assert [r.message for r in sim.received] == [m for _, m in sent_at]
    return sent_at, controller


def scenes(log: list[tuple[float, str]]) -> list[str]:
    return [m for _, m in log if not m.startswith("/pulse")]


def test_next_moves_on_at_the_next_bar(tmp_path: Path) -> None:
    log, controller = run_with_presses(tmp_path, {10.0: "next"})
    assert scenes(log)[:3] == ["/scene/warm 1", "/scene/run 1", "/scene/rest 1"]
    assert controller.notices[0] == "next part: lands on the next bar (0:12.2)"


def test_controls_land_far_enough_ahead_in_real_time_at_rehearsal_speed(tmp_path: Path) -> None:
    # At 20× the 0.15 s lead is 3 s of class time: pressed at 10 s, "next" cannot land before 13 s.
    _, controller = run_with_presses(tmp_path, {10.0: "next"}, speed=20)
    assert controller.notices[0] == "next part: lands on the next bar (0:14.2)"
    assert controller.edits[0].lead == 3.0


def test_no_event_is_lost_or_repeated_when_an_edit_swaps_the_timeline(tmp_path: Path) -> None:
    log, controller = run_with_presses(tmp_path, {10.0: "next", 35.0: "extend", 50.0: "next"})
    final = controller.recompile(controller.edits)
    sent = [m for _, m in log]
    assert sent == [str(e.message) for e in final.events]


def test_blackout_during_backwards_segment_dims_to_the_floor(tmp_path: Path) -> None:
    # 35 s is inside the first retro-run work phase (30.25–50.25 s): people move backwards.
    log, controller = run_with_presses(tmp_path, {35.0: "blackout", 36.0: "blackout"})
    messages = scenes(log)
    assert "/blackout 1" not in messages
    assert messages[messages.index("/scene/run 1") + 1] == "/floor 0.3"
    assert controller.notices[0].startswith("dim to the floor minimum 30% (people move backwards: no blackout)")
    # Lifting it releases a console's held blackout, then restores the timeline's look.
    assert messages[messages.index("/floor 0.3") + 1:][:3] == ["/blackout 0", "/blackout 0", "/scene/run 1"]


def test_blackout_is_lifted_when_a_backwards_segment_starts(tmp_path: Path) -> None:
    log, _ = run_with_presses(tmp_path, {20.0: "blackout"})
    messages = scenes(log)
    assert messages[:3] == ["/scene/warm 1", "/blackout 1", "/floor 0.3"]  # the floor comes up at 30.25 s


def floor_lifted_at(log: list[tuple[float, str]]) -> float:
    """Class time the floor came up: the first floor look after a blackout."""
    blackout = next(t for t, m in log if m == "/blackout 1")
    return next(t for t, m in log if m == "/floor 0.3" and t >= blackout)


def test_a_blackout_lifts_to_the_floor_when_next_starts_the_backwards_part_early(tmp_path: Path) -> None:
    # Blackout in the warm-up (lands 6.25 s), then next (lands 10.25 s): the retro run starts at 10.25 s, not
    # at its planned 30.25 s, and the floor must come up as it starts.
    log, controller = run_with_presses(tmp_path, {5.0: "blackout", 8.0: "next"})
    assert floor_lifted_at(log) == 10.25
    assert "backwards segment: blackout lifted to the floor minimum 30%" in controller.notices


def test_a_blackout_and_next_landing_on_the_same_bar_give_the_floor(tmp_path: Path) -> None:
    # Both land at 10.25 s, where the retro run now starts: no dark moment in it at all.
    log, _ = run_with_presses(tmp_path, {9.0: "blackout", 9.1: "next"})
    assert all(t < 10.25 for t, m in log if m == "/blackout 1")
    assert next(t for t, m in log if m == "/floor 0.3") == 10.25


def test_a_held_warm_up_stays_blacked_out_and_the_floor_comes_with_the_late_backwards_part(tmp_path: Path) -> None:
    # Hold the warm-up past the retro run's planned start (30.25 s), then next at 40 s: it starts at 42.25 s.
    log, _ = run_with_presses(tmp_path, {5.0: "blackout", 8.0: "hold", 40.0: "next"})
    assert floor_lifted_at(log) == 42.25


def test_quit_needs_confirming_and_ends_with_house_lights(tmp_path: Path) -> None:
    log, controller = run_with_presses(tmp_path, {5.0: "quit", 5.1: "quit"})
    assert scenes(log)[-2:] == ["/house 1", "/blackout 0"]
    assert list(controller.notices) == ["quit? press q again within 3 s", "quit: ending the class with house lights"]


def test_extend_and_hold(tmp_path: Path) -> None:
    log, _ = run_with_presses(tmp_path, {35.0: "extend"})
    assert scenes(log).count("/scene/run 1") == 3
    log, _ = run_with_presses(tmp_path, {35.0: "hold", 100.0: "hold"})
    messages = scenes(log)
    assert messages[:3] == ["/scene/warm 1", "/scene/run 1", "/scene/rest 1"]



def pulses(log: list[tuple[float, str]]) -> list[float]:
    return [t for t, m in log if m == "/pulse 1"]


def test_nudge_moves_the_beats_half_a_beat_from_where_it_lands_and_again_moves_them_back(tmp_path: Path) -> None:
    # Beats every 0.5 s from 0.25 s. Nudge pressed at the 10.25-s pulse lands 0.15 s later: the pulses from
    # then on come at x.0 and x.5, and the retro run (planned on the downbeat at 30.25 s) starts at 30.5 s.
    # The second nudge (at 40 s) puts them back on x.25 and x.75.
    log, controller = run_with_presses(tmp_path, {10.0: "nudge", 40.0: "nudge"})
    times = pulses(log)
    assert [t for t in times if 9.0 < t < 12.0] == [9.25, 9.75, 10.25, 11.0, 11.5]
    assert [t for t in times if 38.9 < t < 42.0] == [39.0, 39.5, 40.0, 40.75, 41.25, 41.75]
    # Never two beats closer than 3/4 of a beat, at either seam: no effect flashes faster than it did.
    assert min(b - a for a, b in itertools.pairwise(times)) == 0.5
    assert next(t for t, m in log if m == "/scene/run 1") == 30.5
    # The class sent exactly the timeline the edits make: nothing lost, nothing sent twice at a seam.
    assert [m for _, m in log] == [str(e.message) for e in controller.recompile(controller.edits).events]
    assert list(controller.notices) == [
        "nudge: the beats of 'a.wav' move half a beat later (press again to move them back); to keep it, set "
        "'nudge: half beat' on this track in the cue file",
        "nudge: the beats of 'a.wav' move half a beat earlier, back where the cue file has them"]


def test_the_first_nudge_moves_away_from_the_cue_files_own_nudge(tmp_path: Path) -> None:
    """A track the cue file already nudged half a beat later: the key moves it back first."""
    cue = CUE.replace("playlist: [{track: a.wav}]", "playlist: [{track: a.wav, nudge: half beat}]")
    _, controller = run_with_presses(tmp_path, {10.0: "nudge"}, cue=cue)
    assert list(controller.notices)[-1] == (
        "nudge: the beats of 'a.wav' move half a beat earlier (press again to move them back); to keep it, "
        "remove 'nudge:' from this track in the cue file")


def test_each_nudge_lands_in_the_track_playing_then() -> None:
    """Nudges are counted per track (press twice: there and back), from the cue file's own `nudge:`; one
    landing after the last track moves nothing."""
    a = grid(120, 60)
    slots = (TrackSlot("a.wav", a, 0.0, 60.0, 0.0, nudge=0.5), TrackSlot("b.wav", a, 60.0, 120.0, 5.0))
    edits = (PlanEdit("nudge", 10.0), PlanEdit("next", 20.0), PlanEdit("nudge", 70.0), PlanEdit("nudge", 30.0),
             PlanEdit("nudge", 130.0), PlanEdit("nudge", 80.0, lead=0.0))
    found = nudges(slots, edits)
    assert [(n.track, n.step, n.earlier) for n in found] == [(0, -0.5, 0), (1, 0.5, 0), (0, 0.5, 1), (1, -0.5, 1)]
    assert [n.since for n in found] == pytest.approx([10.15, 15.15, 30.15, 25.0])


def test_the_screens_read_bar_and_beat_from_the_track_playing() -> None:
    a = grid(120, 60)  # beats every 0.5 s from 0.25, downbeats every 2 s
    slots = (TrackSlot("a.wav", a, 0.0, 60.0, 0.0), TrackSlot("b.wav", a, 60.0, 120.0, 10.0))
    assert beat_position(slots, 0.1) == BeatPosition(120.0, 4, 0, 0)  # before the first downbeat
    assert beat_position(slots, 0.25) == BeatPosition(120.0, 4, 1, 1)
    assert beat_position(slots, 3.9) == BeatPosition(120.0, 4, 2, 4)
    assert beat_position(slots, 60.3) == BeatPosition(120.0, 4, 6, 1)  # b.wav from 10 s in: 10.3 s
    assert beat_position(slots, 500.0) == beat_position(slots, 119.99)  # after the class: the last track
    assert beat_position((), 1.0) is None


def test_a_nudge_is_pure_in_the_compile_step(tmp_path: Path) -> None:
    """The same edits compile to the same timeline; the beats before the seam do not move."""
    from showctl.analysis.overrides import nudge_from

    analysis = grid(120, 60)
    moved = nudge_from(analysis, -0.5, since=10.3)  # earlier: the first moved beat would be 0.25 beat after 10.25
    assert [b for b in moved.beats if 9.0 < b < 12.0] == [9.25, 9.75, 10.25, 11.0, 11.5]
    assert moved.downbeats[:5] == analysis.downbeats[:5] and 12.0 in moved.downbeats
    assert "nudge" in moved.overrides
