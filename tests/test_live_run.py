"""`showctl run --live`: the plan in wall-clock time on a predicted grid (tap, pure, fake clock), and a real
run following a JACK MIDI clock sender to the simulated rig, ended by SIGINT."""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from showctl.cli.main import main
from showctl.cues import load_cue_sheet
from showctl.live import PredictedGrid, SourceState, TapTempo
from showctl.messages import OutMessage
from showctl.outputs import Output, open_output
from showctl.player import FakeClock
from showctl.player.live import LivePlayer
from showctl.player.live_plan import LivePlanner, live_plan
from showctl.rig import Rig, load_rig
from showctl.sim import JackServer, SimulatedRig
from showctl.timeline import Event

REPO = Path(__file__).resolve().parent.parent

RIG = """
name: OSC rig
outputs:
  console: {transport: osc, port: 9000}
  desk: {transport: osc, port: 9001}
safe_scene: {console: [/house 1, /blackout 0], desk: [/house 1, /blackout 0]}
"""

CUE = """
name: Live class
rig: rig.yaml
cap: "0:40"
playlist: [{track: a.wav}]
scenes:
  warm: {send: {console: [/scene/warm 1], desk: [/scene/warm 1]}}
  run: {send: {console: [/scene/run 1]}}
  rest: {send: {console: [/scene/rest 1]}}
effects:
  pulse: {every: beat, send: {console: [/pulse 1]}}
  accent: {every: bar, flash: false, send: {desk: [/accent 1]}}
  chase: {every: half beat, flash: false, send: {console: [/chase 1]}}
looks:
  warmup: {scene: warm, effects: [pulse, accent]}
  retro_run: {scene: run, effects: [pulse, chase]}
  recovery: {scene: rest, effects: [accent]}
segments:
  - {name: Warm-up, kind: warmup, length: "0:10.1"}
  - {name: Intervals, kind: retro_run, intervals: {rounds: 1, work: 10s, rest: 5s}}
  - {name: Sled, kind: warmup, length: 4 bars}
  - {name: Cool-down, kind: cooldown, length: end of track, scene: warm}
"""

# Taps at 120 BPM before the class starts; the 8th is "the one": downbeats at -0.25 + 2k s.
TAPS = [-3.75 + 0.5 * k for k in range(8)]


def write_class(tmp_path: Path, cue: str = CUE, rig: str = RIG) -> tuple[Path, Rig]:
    (tmp_path / "rig.yaml").write_text(textwrap.dedent(rig))
    (tmp_path / "class.yaml").write_text(textwrap.dedent(cue))
    (tmp_path / "a.wav").write_bytes(b"")
    return tmp_path / "class.yaml", load_rig(tmp_path / "rig.yaml")


def tapped(bpm: float = 120.0) -> TapTempo:
    tap = TapTempo()
    for k in range(8):
        tap.tap(-3.75 + k * 60.0 / bpm)
    tap.downbeat(-3.75 + 7 * 60.0 / bpm)
    return tap


def on_grid(t: float, grid: PredictedGrid, step: float = 1.0) -> bool:
    """Whether class time `t` falls on the grid every `step` beats (1 µs)."""
    position = grid.position(t) / step
    return abs(position - round(position)) * step * grid.period < 1e-6


# --- the pure plan --------------------------------------------------------------------------------


def test_window_ticks_land_on_predicted_beats_and_the_change_on_a_downbeat(tmp_path: Path) -> None:
    path, rig = write_class(tmp_path)
    planner = LivePlanner(live_plan(load_cue_sheet(path), rig))
    grid = tapped().grid()
    assert grid is not None and grid.tempo == pytest.approx(120.0)
    events: list[Event] = []
    t = 0.0
    while t < 12.0:  # windows of 1 s, as the live player asks for them (shorter there)
        events += planner.take(grid, t + 1.0)
        t += 1.0
    pulses = [e for e in events if str(e.message) == "/pulse 1"]
    accents = [e for e in events if str(e.message) == "/accent 1"]
    chases = [e for e in events if str(e.message) == "/chase 1"]
    assert len(pulses) == 24 and all(on_grid(e.t, grid) for e in pulses)
    assert [round(e.t, 6) for e in accents] == [1.75, 3.75, 5.75, 7.75]  # bars: downbeats of the warm-up only
    assert all(on_grid(e.t, grid, 0.5) for e in chases) and round(chases[0].t, 6) == 9.75
    assert len({(e.t, e.output, str(e.message)) for e in events}) == len(events)  # nothing decided twice
    change = next(e for e in events if str(e.message) == "/scene/run 1")
    # Planned at 10.1 s: the nearest predicted downbeat is 9.75 s (8.75 s and 11.75 s are further).
    assert change.t == pytest.approx(9.75)
    assert change.reason == ("Intervals round 1: work starts: scene 'run'; live: predicted downbeat 0:09.7 "
                             "(-0.35 s from planned 0:10.1), 120.0 BPM from tap")
    assert pulses[0].reason == "effect 'pulse' every beat: live: predicted beat 2, 120.0 BPM from tap"


def test_a_beat_the_refitted_grid_moves_before_the_window_is_still_sent_once(tmp_path: Path) -> None:
    # A MIDI clock's grid is refitted on every tick: between two windows its phase may move a few ms earlier,
    # putting the next beat just before the new window's start. It was never decided (a pulse lost, seen in
    # the JACK MIDI-clock run); it is now, once.
    path, rig = write_class(tmp_path)
    planner = LivePlanner(live_plan(load_cue_sheet(path), rig))
    grid = tapped().grid()
    assert grid is not None
    beat = grid.beat_time(round(grid.position(3.0)))  # a beat of the warm-up
    events = planner.take(grid, beat - 0.001)  # the window ends 1 ms before it
    earlier = dataclasses.replace(grid, anchor=grid.anchor - 0.004)  # refitted: the beat is 3 ms before lo
    events += planner.take(earlier, beat + 0.2)
    events += planner.take(earlier, beat + 2.0)
    pulses = [e.t for e in events if str(e.message) == "/pulse 1"]
    assert [t for t in pulses if beat - 0.3 < t < beat + 0.3] == [pytest.approx(beat - 0.004)]
    gaps = [b - a for a, b in itertools.pairwise(pulses)]
    assert min(gaps) > 0.4 and max(gaps) < 0.6  # one pulse a beat (0.5 s), none lost, none twice


def test_the_first_beat_of_a_part_is_sent_with_its_scene_when_a_refit_moves_it_a_hair_earlier(
        tmp_path: Path) -> None:
    # Seen in 1 JACK MIDI-clock run in 5: the run scene on time, its first pulse 50 ms late. The part started
    # on a beat at the very end of a window; the next refit moved that beat 0.08 ms earlier, before the part's
    # start, where ticks were not counted, until a later refit put it back after the start (late by then).
    path, rig = write_class(tmp_path)
    planner = LivePlanner(live_plan(load_cue_sheet(path), rig))
    grid = tapped().grid()
    assert grid is not None
    events = planner.take(grid, 9.75 + 5e-10)  # the change to 'run' at 9.75, decided at the window's very end
    assert [e.t for e in events if str(e.message) == "/scene/run 1"] == [pytest.approx(9.75)]
    earlier = dataclasses.replace(grid, anchor=grid.anchor - 0.00008)
    events += planner.take(earlier, 9.75 + 0.02)
    first = [e for e in events if str(e.message) == "/pulse 1" and 9.5 < e.t < 10.0]
    assert [e.t for e in first] == [pytest.approx(9.75)]  # with the scene, not after it
    events += planner.take(dataclasses.replace(grid, anchor=grid.anchor + 0.0001), 11.0)  # and only once
    assert len([e for e in events if str(e.message) == "/pulse 1" and 9.5 < e.t < 10.0]) == 1


def test_bars_count_at_the_live_tempo_and_the_class_ends_at_the_cap(tmp_path: Path) -> None:
    path, rig = write_class(tmp_path)
    planner = LivePlanner(live_plan(load_cue_sheet(path), rig))
    grid = tapped().grid()
    events = planner.take(grid, 60.0)
    starts = [(round(e.t, 6), str(e.message)) for e in events if e.kind == "scene" and e.output == "console"]
    # Rest planned at 20.1 s → 19.75; sled at 25.1 → 25.75 (+0.65 s, within half a bar of 2 s); 4 bars later.
    assert starts == [(0.0, "/scene/warm 1"), (9.75, "/scene/run 1"), (19.75, "/scene/rest 1"),
                      (25.75, "/scene/warm 1"), (33.75, "/scene/warm 1")]
    assert [(e.t, str(e.message)) for e in events if e.kind == "safe"] == \
        [(40.0, "/house 1"), (40.0, "/blackout 0")] * 2
    assert planner.ended and planner.take(grid, 100.0) == []


def test_fast_flash_is_thinned_to_3_hz(tmp_path: Path) -> None:
    path, rig = write_class(tmp_path, CUE.replace("chase: {every: half beat, flash: false,",
                                                  "chase: {every: half beat,"))
    planner = LivePlanner(live_plan(load_cue_sheet(path), rig))
    grid = tapped(150.0).grid()  # half beats at 150 BPM: 5 Hz
    assert grid is not None
    chases = [e for e in planner.take(grid, 20.0) if str(e.message) == "/chase 1"]
    gaps = [b.t - a.t for a, b in itertools.pairwise(chases)]
    assert chases and min(gaps) >= 1 / 3 - 1e-9
    assert all(on_grid(e.t, grid, 0.5) for e in chases)
    assert chases[0].reason.endswith("150.0 BPM from tap (thinned to the 3 Hz limit)")


def test_end_of_track_before_the_last_segment_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = write_class(tmp_path, CUE.replace('length: "0:10.1"', "length: end of track"))
    assert main(["run", str(path), "--live"]) == 1
    err = capsys.readouterr().err
    assert err == (f"{path}:19:43: 'Warm-up' lasts until the end of the track, but a live class has no tracks "
                   "to end: give it a time ('3:00') or bars ('16 bars'); only the last segment may run to the end\n")


def test_live_flag_mistakes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = write_class(tmp_path)
    assert main(["run", str(path), "--live", "--speed", "2"]) == 1
    assert capsys.readouterr().err == "showctl: --speed and --from do not apply to --live: the music sets the time\n"
    assert main(["run", str(path), "--source", "midi-clock"]) == 1
    assert capsys.readouterr().err == ("showctl: --source, --midi-in and --audio-in choose a live beat source: "
                                       "add --live\n")


# --- the live player on a fake clock, over the loopback OSC receiver -----------------------------


class Stamped:
    """A real output whose sends are stamped with the fake clock's time; `latency` as given."""

    def __init__(self, output: Output, clock: FakeClock, latency: float, log: list[tuple[float, str, str]]) -> None:
        self.output, self.clock, self.log = output, clock, log
        self.name, self.latency = output.name, latency

    def send(self, message: OutMessage) -> None:
        self.log.append((self.clock.now(), self.name, str(message)))
        self.output.send(message)

    def close(self) -> None:
        self.output.close()


class Script:
    """A beat source that plays a script: (from class time, grid or None, state)."""

    name = "script"

    def __init__(self, clock: FakeClock, script: list[tuple[float, PredictedGrid | None]]) -> None:
        self.clock, self.script = clock, script

    def _now(self) -> PredictedGrid | None:
        return [g for t, g in self.script if t <= self.clock.now()][-1]

    @property
    def state(self) -> SourceState:
        grid = self._now()
        return grid.state if grid is not None else "no-beat"

    def grid(self) -> PredictedGrid | None:
        return self._now()


def play_live(tmp_path: Path, source: Script | TapTempo, clock: FakeClock, latency: dict[str, float], *,
              rig_text: str = RIG, setup: Callable[[LivePlayer], None] | None = None,
              ) -> tuple[list[tuple[float, str, str]], list[str], list[str], LivePlayer]:
    """The class played to the simulated rig; `setup` gets the player before it plays."""
    path, rig = write_class(tmp_path, rig=rig_text)
    log: list[tuple[float, str, str]] = []
    notices: list[str] = []
    with SimulatedRig(rig) as sim:
        outputs = {n: Stamped(open_output(n, sim.rig_for_outputs), clock, latency.get(n, 0.0), log)
                   for n in rig.outputs}
        player = LivePlayer(LivePlanner(live_plan(load_cue_sheet(path), rig)), source, outputs, clock,
                            on_notice=notices.append)
        if setup is not None:
            setup(player)
        result = player.play()
        assert result.completed
        assert sim.wait_for({n: h.sent for n, h in result.health.items()}, timeout=5)
        received = [r.message for r in sim.received if r.output == "console"]
        for output in outputs.values():
            output.close()
    return log, received, notices, player


def test_live_player_sends_each_event_once_at_beat_minus_latency(tmp_path: Path) -> None:
    clock = FakeClock()
    tap = tapped()
    grid = tap.grid()
    assert grid is not None
    log, received, notices, _ = play_live(tmp_path, tap, clock, {"desk": 0.04})
    assert notices == ["tap: locked at 120.0 BPM"]
    console = [(t, m) for t, o, m in log if o == "console"]
    assert [m for _, m in console] == received  # the loopback receiver got exactly what was sent, in order
    assert len(set(log)) == len(log)
    pulses = [t for t, m in console if m == "/pulse 1"]
    assert pulses and all(on_grid(t, grid) for t in pulses)
    accents = [t for t, o, m in log if o == "desk" and m == "/accent 1"]
    assert accents[:2] == pytest.approx([1.71, 3.71])  # 40 ms early: the desk's latency
    assert [m for _, m in console][-2:] == ["/house 1", "/blackout 0"] and clock.now() == pytest.approx(40.0)


def test_when_the_source_loses_the_beat_the_lights_run_on_the_last_grid(tmp_path: Path) -> None:
    clock = FakeClock()
    locked = PredictedGrid("script", 120.0, 0.0)
    faster = PredictedGrid("script", 125.0, 6.0)
    source = Script(clock, [(0.0, locked), (6.0, faster), (14.0, None), (30.0, faster)])
    log, _, notices, _ = play_live(tmp_path, source, clock, {})
    assert notices == ["script: locked at 120.0 BPM",  # a new tempo while locked is followed, not announced
                       "script: no beat — the lights run on the last good grid (125.0 BPM)",
                       "script: locked at 125.0 BPM"]
    pulses = [t for t, _, m in log if m == "/pulse 1"]
    # Every pulse on the grid playing when it was decided; after the loss, on the 125 BPM grid still.
    assert all(on_grid(t, locked) for t in pulses if t < 6.0 - 0.05)
    assert all(on_grid(t, faster) for t in pulses if t > 6.0)
    assert any(14.0 < t < 30.0 for t in pulses)
    gaps = [b - a for a, b in itertools.pairwise(pulses)]
    assert min(gaps) >= 0.5 * 60.0 / 125.0 - 1e-9  # a grid change never gives a double pulse


# --- blackout and house lights in a live class (LiveController on the live player, fake clock) ------------

RIG_LIGHTS = RIG + """
blackout: {console: [/blackout 1], desk: [/blackout 1]}
floor_scene: {console: [/floor 0.3, /blackout 0], desk: [/blackout 0]}
"""


class Pressed:
    """At one press: what the screens showed as pending right after it, and the grid the lights followed."""

    def __init__(self, pending: list[tuple[str, float]], grid: PredictedGrid | None) -> None:
        self.pending, self.grid = pending, grid


def play_pressing(tmp_path: Path, presses: list[tuple[float, str]], *, clock: FakeClock | None = None,
                  source: Script | None = None, rig_text: str = RIG_LIGHTS,
                  ) -> tuple[list[tuple[float, str, str]], list[str], dict[float, Pressed]]:
    """The class on a fake clock (tapped at 120 BPM, or `source`) with the instructor's `presses` (class time,
    control) through `LiveController`: what the rig got, what was said (answers, then the player's notices),
    and what each press saw."""
    from showctl.live.steer import Steered
    from showctl.player.live_controls import LiveController

    clock = clock or FakeClock()
    beat = source if source is not None else tapped()
    said: list[str] = []
    seen: dict[float, Pressed] = {}

    def setup(player: LivePlayer) -> None:
        controller = LiveController(player, Steered(beat), TapTempo(), notice=said.append)

        def press(t: float, name: str) -> None:
            controller.press(name)
            seen[t] = Pressed([(p.label, p.lands_at) for p in controller.pending_now()], player.grid)

        for t, name in presses:
            player.at(t, lambda t=t, name=name: press(t, name))

    log, _, notices, _ = play_live(tmp_path, beat, clock, {}, rig_text=rig_text, setup=setup)
    return log, [*said, *notices], seen


def between(log: list[tuple[float, str, str]], lo: float, hi: float) -> list[tuple[float, str, str]]:
    """What the rig got in [lo, hi), times rounded to the µs."""
    return [(round(t, 6), o, m) for t, o, m in log if lo - 1e-9 <= t < hi - 1e-9]


def test_blackout_in_a_forward_part_lands_on_the_next_downbeat_and_lifting_restores_the_look(tmp_path: Path) -> None:
    # Downbeats of the tapped grid: 1.75, 3.75, 5.75, 7.75 … The warm-up (forward) runs until 9.75.
    log, said, seen = play_pressing(tmp_path, [(2.0, "blackout"), (6.0, "blackout")])
    assert said[:2] == ["blackout: lands on the next bar (0:03.7)", "lights back: lands on the next bar (0:07.7)"]
    assert seen[2.0].pending == [("blackout", pytest.approx(3.75))]  # what the screens show until it lands
    assert between(log, 3.7, 7.75) == [(3.75, "console", "/blackout 1"), (3.75, "desk", "/blackout 1")]
    assert any(m == "/pulse 1" for _, _, m in between(log, 3.0, 3.75))  # the look ran until the downbeat
    restored = between(log, 7.75, 7.76)
    # A console holds its blackout: lifting it releases it (the safe scene's messages to its controls) first.
    assert restored[:4] == [(7.75, "console", "/blackout 0"), (7.75, "desk", "/blackout 0"),
                            (7.75, "console", "/scene/warm 1"), (7.75, "desk", "/scene/warm 1")]
    assert (7.75, "console", "/pulse 1") in restored  # the effects go on from that downbeat
    assert not any(m == "/floor 0.3" for _, _, m in log)


def test_blackout_in_a_backwards_part_dims_to_the_floor_and_never_goes_dark(tmp_path: Path) -> None:
    # Intervals (retro_run: people run backwards) from 9.75 to 25.75.
    log, said, _ = play_pressing(tmp_path, [(12.0, "blackout"), (16.0, "blackout")])
    assert said[0] == ("dim to the floor minimum 30% (people move backwards: no blackout): lands on the next bar "
                       "(0:13.7)")
    assert not any(m == "/blackout 1" for _, _, m in log)
    assert between(log, 13.75, 17.75) == [(13.75, "console", "/floor 0.3"), (13.75, "console", "/blackout 0"),
                                          (13.75, "desk", "/blackout 0")]
    assert [m for _, _, m in between(log, 17.75, 17.76)][:3] == ["/blackout 0", "/blackout 0", "/scene/run 1"]


def test_a_backwards_part_starting_in_a_blackout_lifts_it_to_the_floor(tmp_path: Path) -> None:
    log, said, _ = play_pressing(tmp_path, [(6.0, "blackout"), (11.0, "blackout")])
    assert "backwards segment: blackout lifted to the floor minimum 30%" in said
    assert between(log, 7.75, 11.75) == [(7.75, "console", "/blackout 1"), (7.75, "desk", "/blackout 1"),
                                         (9.75, "console", "/floor 0.3"), (9.75, "console", "/blackout 0"),
                                         (9.75, "desk", "/blackout 0")]  # as Intervals starts, not a beat later
    # Lifting restores the look of the part playing now, whose start was held back under the overlay.
    assert [m for _, _, m in between(log, 11.75, 11.76)][:3] == ["/blackout 0", "/blackout 0", "/scene/run 1"]


def test_house_lights_send_the_safe_scene_and_the_beat_keeps_time_under_them(tmp_path: Path) -> None:
    clock = FakeClock()
    locked = PredictedGrid("script", 120.0, 0.0)  # downbeats 0, 2, 4 …
    faster = PredictedGrid("script", 125.0, 3.0)  # from 3 s: downbeats 3.0, 4.92, 6.84 …
    source = Script(clock, [(0.0, locked), (3.0, faster)])
    log, said, seen = play_pressing(tmp_path, [(1.0, "house"), (5.0, "house")], clock=clock, source=source)
    assert said[:2] == ["house lights: lands on the next bar (0:02.0)",
                        "house lights off, show back: lands on the next bar (0:06.8)"]
    assert between(log, 2.0, 6.84) == [(2.0, "console", "/house 1"), (2.0, "console", "/blackout 0"),
                                       (2.0, "desk", "/house 1"), (2.0, "desk", "/blackout 0")]
    # Under the house lights the player kept following the source: the look comes back on its new grid.
    assert seen[5.0].grid == faster
    assert between(log, 6.84, 6.85)[:2] == [(6.84, "console", "/scene/warm 1"), (6.84, "desk", "/scene/warm 1")]
    back = [t for t, _, m in log if m == "/pulse 1" and 6.84 - 1e-9 <= t < 9.0]
    assert back[0] == pytest.approx(6.84) and all(on_grid(t, faster) for t in back)


def test_blackout_without_the_rigs_scenes_is_refused_and_without_a_beat_lands_at_once(tmp_path: Path) -> None:
    log, said, _ = play_pressing(tmp_path, [(2.0, "blackout"), (12.0, "blackout")], rig_text=RIG)
    assert said[:2] == ["blackout: the rig file has no 'blackout:' scene",
                        "blackout refused: people are moving backwards and the rig has no floor_scene"]
    assert not any(m in ("/blackout 1", "/floor 0.3") for _, _, m in log)
    clock = FakeClock()
    log, said, seen = play_pressing(tmp_path, [(2.5, "house")], clock=clock, source=Script(clock, [(0.0, None)]))
    assert said[0] == "house lights: now (no beat to land on)" and seen[2.5].pending == []
    assert between(log, 2.5, 2.51) == [(2.5, "console", "/house 1"), (2.5, "console", "/blackout 0"),
                                       (2.5, "desk", "/house 1"), (2.5, "desk", "/blackout 0")]


# --- a real run following a JACK MIDI clock ----------------------------------------------------------


LIVE_DEMO = """
name: Live demo
rig: {rig}
playlist: [{{track: {track}}}]
scenes:
  warm: {{send: {{console: [/showctl/scene/warm 1], desk: [program_change channel=0 program=1]}}}}
  run: {{send: {{console: [/showctl/scene/run 1], desk: [program_change channel=0 program=2]}}}}
effects:
  beat-pulse: {{every: beat, send: {{console: [/showctl/pulse 1.0]}}}}
segments:
  - {{name: Warm-up, kind: warmup, length: 4s, scene: warm, effects: [beat-pulse]}}
  - {{name: Run, kind: retro_run, length: end of track, scene: run, effects: [beat-pulse]}}
"""

BPM = 125.0


def _jack_connected(port: str) -> bool:
    try:
        out = subprocess.run(["jack_lsp", "-c"], capture_output=True, text=True, timeout=10, check=False).stdout
    except subprocess.TimeoutExpired:
        return False  # a busy machine: ask again
    lines = out.splitlines()
    return any(line == port and i + 1 < len(lines) and lines[i + 1].startswith(" ") for i, line in enumerate(lines))


@pytest.mark.rig
@pytest.mark.slow
def test_live_run_follows_a_jack_midi_clock_and_sigint_sends_the_safe_scene(
        tmp_path: Path, demo_tracks: list[Path], jack: JackServer) -> None:
    # Two causes made this fail 1 run in 5-10 on a 2-core VM (it was run twice then): the MIDI clock follower
    # locked on two ticks of a JACK burst (400 or 60,000 BPM; now it waits for a beat of ticks), and a part's
    # first pulse went out 50 ms late when a refit moved its beat a hair before the part's start (now counted).
    # The timing tolerances add this run's own measured noise (the sender's beats off their straight line).
    # A third (session 7, 1 looped run in 8 beside other work): JACK lost a clock tick under load and every
    # later pulse came one tick (20 ms) late; the follower now finds lost ticks (test_live.py).
    _follow_a_jack_midi_clock(tmp_path / "run", demo_tracks)


def _follow_a_jack_midi_clock(tmp_path: Path, demo_tracks: list[Path]) -> None:
    import rtmidi

    from showctl.outputs.midi import midi_api

    tmp_path.mkdir()
    demo = load_rig(REPO / "config/demo-rig.yaml")
    sender = rtmidi.MidiOut(rtapi=midi_api("jack"), name="showctl-test-clock")
    sender.open_virtual_port("clock-out")
    beats: list[float] = []  # when the sender sent each beat's first clock, from 'start' on
    stop, started = threading.Event(), threading.Event()

    def send_clock() -> None:
        while not _jack_connected("showctl-test-clock:clock-out") and not stop.is_set():
            time.sleep(0.05)  # waiting for showctl to connect, not pacing the clock
        t = time.monotonic() + 0.05
        k = -1  # clocks keep coming, as from a DJ app; 'start' goes out once showctl runs its class
        while not stop.is_set():
            while (left := t - time.monotonic()) > 0:
                time.sleep(left)  # to an absolute deadline: no drift
            if k < 0 and started.is_set():
                sender.send_message([0xFA])  # start: the next clock is beat 1 of bar 1
                k = 0
            if k >= 0 and k % 24 == 0:
                beats.append(time.monotonic())
            sender.send_message([0xF8])
            if k >= 0:
                k += 1
            t += 60.0 / BPM / 24

    thread = threading.Thread(target=send_clock)
    thread.start()
    try:
        with SimulatedRig(demo) as sim:
            rig_file = tmp_path / "rig.yaml"
            rig_file.write_text(yaml.safe_dump(sim.rig_for_outputs.model_dump(mode="json")))
            cue = tmp_path / "live.yaml"
            cue.write_text(textwrap.dedent(LIVE_DEMO.format(rig=rig_file, track=demo_tracks[0])))
            process = subprocess.Popen(
                [sys.executable, "-m", "showctl.cli.main", "run", str(cue), "--live", "--source", "midi-clock",
                 "--midi-in", "showctl-test-clock:clock-out"],
                cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "COLUMNS": "200"},
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and process.poll() is None:
                if any(r.message == "/showctl/scene/warm 1" for r in sim.received):
                    # showctl is up (a Python process starting can miss a tick or two): the DJ presses play.
                    started.set()
                after_change = [r for r in sim.received if r.message == "/showctl/scene/run 1"]
                if after_change and sum(1 for r in sim.received
                                       if r.arrival > after_change[0].arrival and r.message != "clock") >= 8:
                    break
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=30)
            time.sleep(0.3)  # the last datagrams and JACK periods
            received = list(sim.received)
    finally:
        stop.set()
        thread.join(timeout=5)
        sender.close_port()
        sender.delete()
    assert process.returncode == 130, stderr
    assert stderr.rstrip().endswith("showctl: interrupted") and "Traceback" not in stderr
    assert "midi-clock: locked at " in stderr  # (at the tempo of its first ticks: the fit settles within a beat)
    period = 60.0 / BPM
    pulses = [r.arrival for r in received if r.message == "/showctl/pulse 1.0" and r.arrival > beats[1]]
    assert len(pulses) >= 8
    gaps = sorted(b - a for a, b in itertools.pairwise(pulses))
    assert gaps[len(gaps) // 2] == pytest.approx(period, abs=0.002), stderr  # median spacing: 125 BPM
    # This run's own timing noise: how far the sender's beats strayed from their straight line (its sleeps
    # woke late on a loaded machine); the tolerances below are a quiet machine's plus that.
    sent = np.asarray(beats)
    k = np.arange(len(sent))
    slope, intercept = np.polyfit(k, sent, 1)
    noise = float(np.max(np.abs(sent - (intercept + slope * k))))
    late = [min(abs(p - b) for b in beats) for p in pulses]
    worst = int(np.argmax(late))
    signed = [p - min(beats, key=lambda b, p=p: abs(p - b)) for p in pulses]
    assert max(late) < 0.015 + noise, (  # each pulse on a sent beat (JACK delivers per 5.3 ms period)
        f"pulse {worst} of {len(pulses)} is {signed[worst] * 1000:+.1f} ms from the nearest beat sent "
        f"(noise {noise * 1000:.2f} ms); all: {[round(x * 1000, 1) for x in signed]}; {stderr[-800:]}")
    change = next(r for r in received if r.message == "/showctl/scene/run 1")
    desk_change = next((r for r in received if r.message.startswith("program_change channel=0 program=2")), None)
    assert desk_change is not None, ([r.message for r in received if r.output == "desk" and r.message != "clock"],
                                     stderr)
    bar_starts = beats[::4]
    assert min(abs(change.arrival - b) for b in bar_starts) < 0.015 + noise  # a predicted downbeat
    assert min(abs(desk_change.arrival - b) for b in bar_starts) < 0.02 + noise
    safe = {name: [str(m) for m in messages] for name, messages in demo.safe_scene.items()}
    for output, messages in safe.items():
        last = [r.message for r in received if r.output == output][-len(messages):]
        assert last == messages, output
