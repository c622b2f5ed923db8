"""MIDI clock out in a live class: start on a predicted downbeat, 24 ticks a beat on the freshest grid, stop.

Pure: the tick decision on given grids and times, and the planner's events. Then the live player on a fake
clock (the clock keeps time under a blackout and when the source loses the beat; quitting stops it), and a
real run to the simulated rig over a real JACK MIDI port.
"""

from __future__ import annotations

import itertools
import math
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_live_run import Script, on_grid, tapped

from showctl.cues import load_cue_sheet
from showctl.live import PredictedGrid
from showctl.messages import CLOCK_PPQN, MidiMessage, OutMessage
from showctl.outputs import Output, open_output
from showctl.player import FakeClock, MonotonicClock
from showctl.player.clock import Clock
from showctl.player.clock_out import ClockMoment, LiveClockOut
from showctl.player.controls import overlay_events
from showctl.player.live import LivePlayer
from showctl.player.live_plan import LivePlanner, live_plan
from showctl.player.player import Overlay
from showctl.rig import Rig, load_rig
from showctl.sim import JackServer, SimulatedRig
from showctl.timeline import Event

RIG = """
name: Clock rig
outputs:
  console: {transport: osc, port: 9000}
  desk: {transport: midi, port: "showctl-sim-desk:in", clock: true}
  pads: {transport: midi, port: "showctl-sim-pads:in"}
safe_scene:
  console: [/house 1, /blackout 0]
  desk: [control_change channel=0 control=120 value=0]
  pads: [program_change channel=0 program=0]
blackout: {console: [/blackout 1]}
floor_scene: {console: [/floor 0.3, /blackout 0]}
"""

CUE = """
name: Clock class
rig: rig.yaml
CAP
playlist: [{track: a.wav}]
scenes:
  warm: {send: {console: [/scene/warm 1], pads: [program_change channel=0 program=1]}}
  run: {send: {console: [/scene/run 1], pads: [program_change channel=0 program=2]}}
effects:
  pulse: {every: beat, send: {console: [/pulse 1]}}
segments:
  - {name: Warm-up, kind: warmup, length: 4s, scene: warm, effects: [pulse]}
  - {name: Run, kind: retro_run, length: end of track, scene: run, effects: [pulse]}
"""

LEAD = 0.03  # s: how far ahead the live player decides (DECIDE_AHEAD, no output latency)
SAFE_DESK = str(MidiMessage.parse("control_change channel=0 control=120 value=0"))


def write_class(tmp_path: Path, cap: str | None = '"0:06"', rig: str = RIG) -> tuple[Path, Rig]:
    (tmp_path / "rig.yaml").write_text(textwrap.dedent(rig))
    (tmp_path / "class.yaml").write_text(textwrap.dedent(CUE).replace("CAP", f"cap: {cap}" if cap else ""))
    (tmp_path / "a.wav").write_bytes(b"")
    return tmp_path / "class.yaml", load_rig(tmp_path / "rig.yaml")


def decide(clock: LiveClockOut, grid_at: Callable[[float], PredictedGrid | None], lo: float, hi: float,
           step: float = 0.01) -> list[ClockMoment]:
    """What the clock decides when asked every `step` s from `lo` to `hi`, as the live player asks: the
    moments up to `LEAD` ahead, on the grid the source gives at the time."""
    moments: list[ClockMoment] = []
    decided, now = lo, lo
    while now < hi:
        moments += clock.take(grid_at(now), decided, now + LEAD)
        decided, now = now + LEAD, now + step
    return moments


def tick_times(moments: list[ClockMoment]) -> list[float]:
    return [m.t for m in moments if m.message == "clock"]


# --- the decision, pure ---------------------------------------------------------------------------


def test_steady_tempo_starts_on_the_first_downbeat_then_ticks_every_24th_of_a_beat() -> None:
    grid = PredictedGrid("fake", 125.0, anchor=0.3, anchor_in_bar=2)  # downbeats at 1.26, 3.18 …
    tick = grid.period / CLOCK_PPQN
    clock = LiveClockOut()
    moments = decide(clock, lambda _: grid, 0.0, 10.0, step=0.013)
    assert moments[0].message == "start" and moments[0].t == pytest.approx(1.26)
    ticks = tick_times(moments)
    assert ticks[0] == moments[0].t  # the first tick goes with the start, as in a timeline class
    assert ticks == pytest.approx([1.26 + k * tick for k in range(len(ticks))], abs=1e-9) and ticks[-1] > 10.0
    assert all(on_grid(t, grid) for t in ticks[::CLOCK_PPQN])  # each beat's first tick on a predicted beat
    # Asked all at once, the clock decides the same ticks: the windows only say how fresh the grid is.
    assert tick_times(LiveClockOut().take(grid, 0.0, ticks[-1] + tick / 2)) == pytest.approx(ticks, abs=1e-9)
    assert clock.stop(10.5) == [ClockMoment(10.5, "stop")] and clock.stop(11.0) == []
    assert clock.take(grid, 10.5, 12.0) == []  # stopped: nothing more


def test_a_tempo_step_lands_on_the_new_grid_at_the_next_beat() -> None:
    slow = PredictedGrid("fake", 120.0, 0.0)
    fast = PredictedGrid("fake", 126.0, 6.0)  # a source refitting: the beat at 6.0, faster from there
    clock = LiveClockOut()
    ticks = tick_times(decide(clock, lambda t: slow if t < 6.2 else fast, 0.0, 12.0))
    assert ticks[0] == 0.0
    beats = ticks[::CLOCK_PPQN]
    assert all(on_grid(t, slow) for t in beats if t < 6.2)
    after = [k for k, t in enumerate(ticks) if t >= 6.2 and k % CLOCK_PPQN == 0]
    assert ticks[after[0]] == pytest.approx(6.0 + fast.period)  # the next beat is on the new grid already
    assert all(on_grid(ticks[k], fast) for k in after)
    settled = ticks[after[0]:]
    assert all(b - a == pytest.approx(fast.period / CLOCK_PPQN, abs=1e-9) for a, b in itertools.pairwise(settled))


@settings(max_examples=60, deadline=None)
@given(bpm_a=st.floats(70, 180), bpm_b=st.floats(70, 180), shift=st.floats(0.0, 1.0), change=st.floats(3.0, 4.0),
       step=st.floats(0.004, 0.02))
def test_any_grid_change_is_followed_within_the_next_beat_and_no_tick_jolts(
        bpm_a: float, bpm_b: float, shift: float, change: float, step: float) -> None:
    old = PredictedGrid("fake", bpm_a, 0.0)
    new = PredictedGrid("fake", bpm_b, change + shift * 60.0 / bpm_b)  # any tempo, any phase
    ticks = tick_times(decide(LiveClockOut(), lambda t: old if t < change else new, 0.0, change + 6.0, step))
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    shortest = min(old.period, new.period) / CLOCK_PPQN
    longest = max(old.period, new.period) / CLOCK_PPQN
    assert min(gaps) >= shortest / 2 - 1e-9 and max(gaps) <= longest * 2 + 1e-9  # forwards, never a jolt
    # Ticks from `change + LEAD` on were decided on the new grid: the first beat there, or the one after (when
    # the change came late in a beat), lands on it, and every later one; from there the ticks are steady.
    beats = [k for k in range(0, len(ticks), CLOCK_PPQN) if ticks[k] >= change + LEAD]
    landed = next(k for k in beats if on_grid(ticks[k], new))
    assert landed <= beats[1] and all(on_grid(ticks[k], new) for k in beats if k >= landed)
    assert ticks[landed] - change < 2.5 * max(old.period, new.period)
    assert all(g == pytest.approx(new.period / CLOCK_PPQN, abs=1e-9) for g in gaps[landed:])


def test_ticks_run_on_while_the_source_holds_and_nothing_new_is_decided_without_a_grid() -> None:
    locked = PredictedGrid("fake", 120.0, 0.0)
    held = PredictedGrid("fake", 120.0, 0.0, confidence=0.2, state="holding")
    clock = LiveClockOut()
    assert decide(clock, lambda _: None, 0.0, 1.0) == []  # no beat yet: no start
    ticks = tick_times(decide(clock, lambda t: locked if t < 3.0 else held, 1.0, 8.0))
    assert ticks[0] == 2.0 and ticks[-1] > 7.9  # started on the downbeat at 2.0, ran on through the hold
    assert all(b - a == pytest.approx(locked.period / CLOCK_PPQN, abs=1e-9) for a, b in itertools.pairwise(ticks))
    assert clock.take(None, 8.03, 9.0) == []  # the player never asks without a grid once it had one
    later = tick_times(clock.take(held, 9.0, 9.5))  # asked again later: the next tick goes at once, then on
    assert later[0] == 9.0 and len(set(ticks + later)) == len(ticks) + len(later)


# --- the planner's events --------------------------------------------------------------------------


def test_the_planner_sends_start_ticks_and_stop_to_each_clocked_output(tmp_path: Path) -> None:
    path, rig = write_class(tmp_path)
    planner = LivePlanner(live_plan(load_cue_sheet(path), rig))
    grid = tapped(125.0).grid()  # downbeats at -0.39 + 1.92 k: the first in the class at 1.53
    assert grid is not None
    events: list[Event] = []
    t = 0.0
    while not planner.ended:
        events += planner.take(grid, t + LEAD)
        t += 0.01
    desk = [e for e in events if e.output == "desk"]
    assert not any(e.output == "pads" and e.kind in ("clock", "transport") for e in events)  # no `clock: true`
    assert [(e.t, str(e.message), e.kind, e.reason) for e in desk[:2]] == [
        (pytest.approx(1.53), "start", "transport", "MIDI clock starts on the predicted downbeat, 125.0 BPM from tap"),
        (pytest.approx(1.53), "clock", "clock", "MIDI clock 24 ppqn: live: 125.0 BPM from tap")]
    ticks = [e.t for e in desk if e.kind == "clock"]
    assert len(ticks) == math.floor((6.0 - 1.53) / (grid.period / CLOCK_PPQN) - 1e-6) + 1 and ticks[-1] < 6.0
    assert [(e.t, str(e.message), e.kind, e.reason) for e in desk[-2:]] == [
        (6.0, "stop", "transport", "end of class: MIDI clock stops"),
        (6.0, SAFE_DESK, "safe", "end of class: safe scene (house lights)")]


# --- the live player on a fake clock, to recording outputs --------------------------------------------


class Recorder:
    """An output that records what it is sent, stamped with the clock's time."""

    def __init__(self, name: str, clock: Clock, log: list[tuple[float, str, str]], latency: float = 0.0) -> None:
        self.name, self.clock, self.log, self.latency = name, clock, log, latency

    def send(self, message: OutMessage) -> None:
        self.log.append((self.clock.now(), self.name, str(message)))

    def close(self) -> None:
        pass


def test_the_clock_keeps_time_under_a_blackout_and_a_lost_beat_and_quitting_stops_it(tmp_path: Path) -> None:
    path, rig = write_class(tmp_path, cap=None)  # runs until the instructor quits
    clock = FakeClock()
    grid = PredictedGrid("script", 120.0, 0.5)  # beats every 0.5 s, downbeats at 0.5, 2.5, 4.5 …
    source = Script(clock, [(0.0, grid), (8.0, None)])  # the beat is lost at 8 s
    log: list[tuple[float, str, str]] = []
    outputs: dict[str, Output] = {n: Recorder(n, clock, log, 0.01 if n == "desk" else 0.0) for n in rig.outputs}
    notices: list[str] = []
    player = LivePlayer(LivePlanner(live_plan(load_cue_sheet(path), rig)), source, outputs, clock,
                        on_notice=notices.append)
    blackout = Overlay("blackout", overlay_events("blackout", rig.blackout))
    player.at(4.0, lambda: player.set_overlay(blackout))
    player.at(6.0, lambda: player.set_overlay(None))
    player.at(12.0, player.stop)
    result = player.play()
    assert result.stopped and not result.completed
    assert notices[-1] == "script: no beat — the lights run on the last good grid (120.0 BPM)"
    desk = [(t, m) for t, o, m in log if o == "desk"]
    assert desk[:2] == [(pytest.approx(0.49), "start"), (pytest.approx(0.49), "clock")]  # the desk's 10 ms early
    ticks = [t + 0.01 for t, m in desk if m == "clock"]  # class times
    tick = grid.period / CLOCK_PPQN
    assert all(b - a == pytest.approx(tick, abs=1e-9) for a, b in itertools.pairwise(ticks))
    half = tick / 2  # count between ticks, not on them
    assert sum(1 for t in ticks if 4.0 + half <= t < 6.0 + half) == 4 * CLOCK_PPQN  # 4 beats under the blackout
    assert [m for t, o, m in log if o == "console" and 4.0 <= t < 6.0] == ["/blackout 1"]  # the look waited
    assert sum(1 for t in ticks if 8.0 + half <= t < 11.5 + half) == 7 * CLOCK_PPQN  # the beat lost: runs on
    assert ticks[-1] > 11.95
    assert [m for _, m in desk[-2:]] == ["stop", SAFE_DESK]  # quitting: the clock stops, then the safe scene
    assert sum(1 for _, m in desk if m == "stop") == 1 and not any(o == "pads" and m == "clock" for _, o, m in log)


# --- a real run to the simulated rig over JACK MIDI --------------------------------------------------


@pytest.mark.rig
@pytest.mark.slow
def test_a_live_class_sends_midi_clock_at_the_sources_tempo_over_jack(tmp_path: Path, jack: JackServer) -> None:
    path, rig = write_class(tmp_path)  # a 6 s class; the tap grid (class time) at 125 BPM from before it
    source = tapped(125.0)
    grid = source.grid()
    assert grid is not None
    period = grid.period
    with SimulatedRig(rig) as sim:
        outputs = {n: open_output(n, sim.rig_for_outputs) for n in rig.outputs}
        try:
            clock = MonotonicClock()
            origin = time.monotonic()  # class time 0 (within microseconds)
            sent: list[Event] = []
            player = LivePlayer(LivePlanner(live_plan(load_cue_sheet(path), rig)), source, outputs, clock,
                                on_event=sent.append)
            result = player.play()
            assert result.completed
            assert sim.wait_for({n: h.sent for n, h in result.health.items()}, timeout=5)
        finally:
            for output in outputs.values():
                output.close()
        received = [r for r in sim.received if r.output == "desk"]
        pads = [r.message for r in sim.received if r.output == "pads"]
    texts = [r.message for r in received]
    assert texts[0] == "start" and texts[-2:] == ["stop", SAFE_DESK]
    assert set(texts[1:-2]) == {"clock"}
    assert len(texts) - 3 == sum(1 for e in sent if e.output == "desk" and e.kind == "clock")  # none lost
    assert pads == [f"program_change channel=0 program={p} time=0" for p in (1, 2, 0)]  # no clock: not asked
    ticks = np.array([r.arrival for r in received if r.message == "clock"])
    assert len(ticks) / ((received[-2].arrival - received[0].arrival) / period) == pytest.approx(CLOCK_PPQN, abs=0.3)
    index = np.arange(len(ticks))
    fitted, intercept = (float(c) for c in np.polyfit(index, ticks, 1))
    assert 60.0 / (CLOCK_PPQN * fitted) == pytest.approx(125.0, abs=0.5)
    # The start on the predicted downbeat. How late a message may arrive is this run's own delivery noise, the
    # ticks' spread about their straight line (JACK delivers once per 5.3 ms period; a loaded machine adds its
    # scheduling delays), on top of the 20 ms a quiet machine needs.
    noise = float(np.percentile(np.abs(ticks - (intercept + fitted * index)), 99))
    assert received[0].arrival - (origin + 1.53) == pytest.approx(0.0, abs=0.02 + noise), noise
