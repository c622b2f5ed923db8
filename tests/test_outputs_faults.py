"""Outputs that survive faults: the simulated rig stopped and restarted mid-run (real UDP and JACK ports)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from conftest import own_jackd, require_binary, run_child

from showctl.errors import DeviceError
from showctl.messages import MidiMessage, OscMessage
from showctl.outputs.resilient import open_resilient_output
from showctl.player import MonotonicClock, Player, PlayResult
from showctl.rig import MidiOutputConfig, OscOutputConfig, Rig
from showctl.sim import JackServer, SimulatedRig
from showctl.timeline.model import Event, Timeline

RIG = Rig(
    name="faults",
    outputs={"console": OscOutputConfig(transport="osc", port=9000),
             "desk": MidiOutputConfig(transport="midi", port="x")},
    safe_scene={"console": (OscMessage("/house", (1,)),),
                "desk": (MidiMessage.parse("control_change control=7 value=127"),)},
)
STEP = 0.05


def level_timeline(duration: float) -> Timeline:
    """Every 50 ms each output gets the next level: /level i on the console, CC 7 = i on the desk."""
    events: list[Event] = []
    for i in range(int(duration / STEP)):
        events.append(Event(i * STEP, "console", OscMessage("/level", (i,)), f"step {i}", "scene"))
        events.append(Event(i * STEP, "desk", MidiMessage.parse(f"control_change control=7 value={i}"), "", "scene"))
    return Timeline(tuple(events), (), (), duration, ())


def values(sim: SimulatedRig, output: str) -> list[int]:
    """The levels `output` received: `/level 5` → 5, `control_change ... value=5 time=0` → 5."""
    if output == "console":
        return [int(r.message.split()[-1]) for r in sim.received if r.output == output]
    return [int(r.message.split("value=")[1].split()[0]) for r in sim.received if r.output == output]


@pytest.mark.rig
@pytest.mark.slow
def test_rig_stopped_and_restarted_mid_run(jack: JackServer) -> None:
    status: list[str] = []
    with SimulatedRig(RIG) as first:
        rewired = first.rig_for_outputs
        console_config = rewired.outputs["console"]
        assert isinstance(console_config, OscOutputConfig)
        outputs = {name: open_resilient_output(name, config, on_status=status.append, max_backoff=0.2)
                   for name, config in rewired.outputs.items()}
        clock = MonotonicClock()
        player = Player(level_timeline(3.0), outputs, clock, on_error=status.append)
        results: list[PlayResult] = []
        thread = threading.Thread(target=lambda: results.append(player.play()))
        thread.start()
        clock.sleep_until(1.0)
    # The rig is gone from t = 1.0 s (its UDP port closed, its JACK port removed) until t = 1.8 s.
    clock.sleep_until(1.8)
    with SimulatedRig(RIG, osc_ports={"console": console_config.port}) as second:
        thread.join()
        assert second.wait_for({"console": 10, "desk": 10}, timeout=2)
        time.sleep(0.1)
        for output in outputs.values():
            output.close()
    [result] = results
    assert result.completed
    for name in ("console", "desk"):
        before, after = values(first, name), values(second, name)
        # Before the fault: every level, in order, from 0.
        assert before == list(range(len(before))) and 15 <= len(before) <= 21, before
        # After it: the current state once (a level reached while down), then every level from there on;
        # what was sent while down never bursts out.
        assert 36 <= after[0] <= 45 and after[1:] == list(range(after[0] + 1, 60)), after
        assert result.health[name].failed > 0
        assert outputs[name].reconnects == 1  # type: ignore[attr-defined]
    reconnected = [s for s in status if "reconnected" in s]
    assert sorted(s.split(": reconnected")[0] for s in reconnected) == [
        f"output 'console' (OSC 127.0.0.1:{console_config.port})", "output 'desk' (MIDI port 'showctl-sim-desk:in')"]
    assert all(s.endswith("; re-sent its current state (1 message(s))") for s in reconnected), reconnected
    assert "output 'console' is back after" in " ".join(status)


def test_panic_goes_out_ahead_of_the_queue() -> None:
    rig = Rig(name="p", outputs={"console": OscOutputConfig(transport="osc", port=9000)},
              safe_scene={"console": (OscMessage("/house", (1,)),)})
    with SimulatedRig(rig) as sim:
        # A console that loses bursts: messages are paced 20 ms apart, so 100 of them make a 2 s queue.
        output = open_resilient_output("console", sim.rig_for_outputs.outputs["console"], min_gap=0.02)
        for i in range(100):
            output.send(OscMessage("/n", (i,)))
        output.panic([OscMessage("/house", (1,)), OscMessage("/strobe", (0,))])
        assert sim.wait_for({"console": 2}, timeout=1)
        time.sleep(0.1)
        output.close()
    texts = [r.message for r in sim.received]
    assert texts[-2:] == ["/house 1", "/strobe 0"]
    assert len(texts) <= 4, texts  # at most the message in flight went before the panic
    assert output.dropped >= 98


def test_a_fault_the_background_check_found_is_named_by_the_next_send() -> None:
    # The output's own check notices a console gone between two cues; the next cue's error is then the first
    # line the instructor sees about it, and must say what went wrong, not only "down".
    rig = Rig(name="q", outputs={"console": OscOutputConfig(transport="osc", port=9000)},
              safe_scene={"console": ()})
    with SimulatedRig(rig) as sim:
        output = open_resilient_output("console", sim.rig_for_outputs.outputs["console"], check_interval=0.02,
                                       max_backoff=5.0)
    try:
        output.send(OscMessage("/n", (0,)))  # goes out; the "port unreachable" it earns is the check's to read
        deadline = time.monotonic() + 5
        while output.up and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not output.up, "the check never noticed the console had gone"
        with pytest.raises(DeviceError) as info:
            output.send(OscMessage("/n", (1,)))
        assert str(info.value) == (f"{output.device}: not reachable (Connection refused); reconnecting in the "
                                   "background, message dropped")
    finally:
        output.close()


@pytest.mark.rig
def test_midi_port_missing_at_start_then_appears(jack: JackServer) -> None:
    config = MidiOutputConfig(transport="midi", port="showctl-sim-desk:in", api="jack")
    status: list[str] = []
    output = open_resilient_output("desk", config, on_status=status.append, max_backoff=0.1)
    try:
        assert status[0].startswith("output 'desk' (MIDI port 'showctl-sim-desk:in'): no such MIDI port (available: ")
        assert status[0].endswith("; retrying in the background")
        with pytest.raises(DeviceError) as info:
            output.send(MidiMessage.parse("program_change program=3"))
        # The cause is said again: to the instructor this may be the first line about the desk.
        assert str(info.value) == status[0].removesuffix("; retrying in the background") + (
            "; reconnecting in the background, message dropped")
        rig = Rig(name="late", outputs={"desk": config}, safe_scene={"desk": ()})
        with SimulatedRig(rig) as sim:
            # The wanted state (program 3) arrives as soon as the port exists, without anyone sending again.
            assert sim.wait_for({"desk": 1}, timeout=2), status
            deadline = time.monotonic() + 2
            while not output.up and time.monotonic() < deadline:
                time.sleep(0.01)  # the probe went out; the output is up once the port has kept it
            output.send(MidiMessage.parse("note_on note=60"))
            assert sim.wait_for({"desk": 2}, timeout=2)
        assert [r.message for r in sim.received] == ["program_change channel=0 program=3 time=0",
                                                    "note_on channel=0 note=60 velocity=64 time=0"]
    finally:
        output.close()


def jack_death_scenario(tmp: str) -> None:
    """Run in a child process by the test below (a hang there holds the GIL: only a parent can see it): a class
    whose JACK server is stopped at 1 s, with a burst of MIDI clock after that fills rtmidi's ring buffer, and
    JACK back at 2 s. Prints what happened as JSON."""
    status: list[str] = []
    results: list[PlayResult] = []
    timeline = level_timeline(4.0)
    burst = tuple(Event(1.2 + i * 0.0001, "desk", MidiMessage.parse("clock"), "", "transport") for i in range(4000))
    timeline = Timeline(tuple(sorted(timeline.events + burst, key=lambda e: e.t)), (), (), 4.0, ())
    with own_jackd(tmp, "showctl-death-") as server, SimulatedRig(RIG) as sim:
        outputs = {n: open_resilient_output(n, config, on_status=status.append, max_backoff=0.2)
                   for n, config in sim.rig_for_outputs.outputs.items()}
        clock = MonotonicClock()
        player = Player(timeline, outputs, clock, on_error=status.append)
        thread = threading.Thread(target=lambda: results.append(player.play()), daemon=True)
        thread.start()
        clock.sleep_until(1.0)
        assert server.process is not None
        # Stopped, not killed: a SIGKILLed jackd leaves its slot in JACK's shared registry of 8 servers, and after
        # a few of those no jackd starts on this machine. The watch hears both the same way; the ring buffer
        # fills the same way.
        server.process.terminate()
        server.process.wait()
        clock.sleep_until(2.0)
        with own_jackd(tmp, "showctl-death-"):  # JACK comes back; the simulated desk with it
            desk_rig = Rig(name="desk only", outputs={"desk": RIG.outputs["desk"]}, safe_scene={"desk": ()})
            with SimulatedRig(desk_rig) as desk_sim:
                thread.join()
                desk_back = desk_sim.wait_for({"desk": 1}, timeout=5)
        sim.wait_for({"console": 80}, timeout=5)
        for output in outputs.values():
            output.close()
    print(json.dumps({"completed": results[0].completed, "console": values(sim, "console"), "status": status,
                      "desk_back": desk_back}))


@pytest.mark.rig
@pytest.mark.slow
def test_the_jack_server_dying_mid_run_never_hangs_the_class(tmp_path: Path) -> None:
    # With the server gone, rtmidi's JACK send spins for ever once its ring buffer is full, holding the GIL
    # (100 % CPU, no signal handler, no safe scene). The class must keep time on its other outputs, say so
    # once, and take MIDI back when JACK returns.
    require_binary("jackd", "a JACK server to stop mid-class")
    result = run_child("test_outputs_faults", "jack_death_scenario", tmp_path, 90,
                       "the class hung after the JACK server died (a MIDI send that never returns)")
    assert result["completed"]
    assert result["console"] == list(range(80))  # the console kept every step, the whole time
    # The first line about the desk names the cause, whether a send or the background check noticed first.
    desk = [s for s in result["status"] if s.startswith("output 'desk' (MIDI port 'showctl-sim-desk:in'): ")]
    assert desk and desk[0].split("): ", 1)[1].startswith("the JACK server stopped"), result["status"]
    assert result["desk_back"]
    assert any(s.startswith("output 'desk'") and "reconnected" in s for s in result["status"]), result["status"]


def test_a_reconnect_sends_the_look_of_now_not_every_scene_ever_sent() -> None:
    # Three scenes one after another, each its own OSC address: on a console that restarted, re-sending every
    # address ever set would switch warm and rest on again beside run.
    rig = Rig(name="looks", outputs={"console": OscOutputConfig(transport="osc", port=9000)},
              safe_scene={"console": (OscMessage("/house", (1,)),)})
    scenes = [Event(t, "console", OscMessage(f"/scene/{name}", (1,)), name, "scene")
              for t, name in ((0.0, "warm"), (0.3, "rest"), (0.6, "run"))]
    ticks = [Event(i * STEP, "console", OscMessage("/tick", (i,)), "", "effect") for i in range(int(2.5 / STEP))]
    timeline = Timeline(tuple(sorted(scenes + ticks, key=lambda e: e.t)), (), (), 2.5, ())
    status: list[str] = []
    with SimulatedRig(rig) as first:
        config = first.rig_for_outputs.outputs["console"]
        assert isinstance(config, OscOutputConfig)
        output = open_resilient_output("console", config, on_status=status.append, max_backoff=0.2)
        clock = MonotonicClock()
        player = Player(timeline, {"console": output}, clock, on_error=status.append)
        thread = threading.Thread(target=player.play)
        thread.start()
        clock.sleep_until(1.0)
    clock.sleep_until(1.6)  # the console is off from 1.0 to 1.6 s
    with SimulatedRig(rig, osc_ports={"console": config.port}) as second:
        thread.join()
        time.sleep(0.1)
        output.close()
    assert [r.message for r in first.received if r.message.startswith("/scene")] == [
        "/scene/warm 1", "/scene/rest 1", "/scene/run 1"]
    back = [r.message for r in second.received if not r.message.startswith("/tick")]
    assert back[0] == "/scene/run 1" and "/scene/warm 1" not in back and "/scene/rest 1" not in back, back
    assert any("re-sent its current state (1 message(s))" in s for s in status), status
