"""The player against a fake clock and the real loopback OSC receiver."""

from __future__ import annotations

import pytest

from showctl.messages import MidiMessage, OscMessage
from showctl.outputs import open_output
from showctl.player import FakeClock, MonotonicClock, Player
from showctl.rig import MidiOutputConfig, OscOutputConfig, Rig
from showctl.sim import JackServer, SimulatedRig
from showctl.timeline import Event, Timeline


def make_timeline(n: int = 50) -> Timeline:
    events = tuple(Event(i * 0.5, "console", OscMessage("/step", (i,)), f"step {i}", "effect") for i in range(n))
    safe = (Event(0.0, "console", OscMessage("/house", (1,)), "safe scene", "safe"),)
    return Timeline(events, (), (), n * 0.5, safe)


RIG = Rig(name="test", outputs={"console": OscOutputConfig(transport="osc", port=9000)},
          safe_scene={"console": (OscMessage("/house", (1,)),)})


def test_plays_exactly_the_timeline_in_order() -> None:
    tl = make_timeline()
    clock = FakeClock()
    with SimulatedRig(RIG) as sim:
        output = open_output("console", sim.rig_for_outputs)
        result = Player(tl, {"console": output}, clock).play()
        assert sim.wait_for({"console": len(tl.events)}, timeout=5)
    assert result.completed and result.sent == len(tl.events)
    assert [r.message for r in sim.received] == [str(e.message) for e in tl.events]
    assert clock.now() == tl.events[-1].t


def test_start_mid_class_skips_what_already_happened() -> None:
    tl = make_timeline()
    with SimulatedRig(RIG) as sim:
        output = open_output("console", sim.rig_for_outputs)
        Player(tl, {"console": output}, FakeClock(10.0)).play(start=10.0)
        assert sim.wait_for({"console": 30}, timeout=5)
    assert sim.received[0].message == "/step 20"


def test_interrupt_sends_the_safe_scene() -> None:
    tl = make_timeline()

    def stop_at_step_5(event: Event) -> None:
        if event.reason == "step 5":
            raise KeyboardInterrupt

    with SimulatedRig(RIG) as sim:
        output = open_output("console", sim.rig_for_outputs)
        with pytest.raises(KeyboardInterrupt):
            Player(tl, {"console": output}, FakeClock(), on_event=stop_at_step_5).play()
        assert sim.wait_for({"console": 7}, timeout=5)
    assert [r.message for r in sim.received][-2:] == ["/step 5", "/house 1"]


def test_failing_output_is_reported_once_and_the_class_goes_on() -> None:
    tl = make_timeline(10)
    errors: list[str] = []
    with SimulatedRig(RIG) as sim:
        output = open_output("console", sim.rig_for_outputs)
        output.close()  # the socket is gone: every send fails
        result = Player(tl, {"console": output}, FakeClock(), on_error=errors.append).play()
    assert result.completed
    assert result.health["console"].failed == 10
    assert len(errors) == 1 and errors[0].startswith("output 'console' (OSC 127.0.0.1:")


def test_latency_offset_sends_early() -> None:
    tl = make_timeline(3)
    rig = RIG.model_copy(update={"outputs": {"console": OscOutputConfig(transport="osc", port=9, latency_ms=40)}})
    output = open_output("console", rig)
    assert [round(t, 3) for t, _ in Player(tl, {"console": output}, FakeClock()).schedule()] == [-0.04, 0.46, 0.96]
    output.close()


def test_monotonic_clock_speed_scales_time() -> None:
    clock = MonotonicClock(speed=100.0, start=5.0)
    assert 5.0 <= clock.now() < 6.0
    clock.sleep_until(6.0)  # 1 s of class time is 10 ms of wall time at 100×
    assert clock.now() >= 6.0


def test_a_swapped_timeline_sends_each_event_of_the_current_instant_once() -> None:
    """The rebuilt timeline may order one instant's events differently (here /b before /a at 1 s): after the
    swap, what was already sent at that instant is left out by identity, not by count."""
    def event(t: float, address: str) -> Event:
        return Event(t, "console", OscMessage(address, (1,)), address, "effect")

    first = Timeline((event(0.5, "/x"), event(1.0, "/a"), event(1.0, "/b"), event(2.0, "/end")), (), (), 2.0, ())
    rebuilt = Timeline((event(0.5, "/x"), event(1.0, "/b"), event(1.0, "/a"), event(1.5, "/new"),
                        event(2.0, "/end")), (), (), 2.0, ())
    with SimulatedRig(RIG) as sim:
        output = open_output("console", sim.rig_for_outputs)
        player = Player(first, {"console": output}, FakeClock())

        def on_event(sent: Event) -> None:
            if str(sent.message) == "/a 1":  # an edit arrives right after the first event of 1 s went out
                player.replace_timeline(rebuilt)

        player.on_event = on_event
        player.play()
        assert sim.wait_for({"console": 5}, timeout=5)
    assert [r.message for r in sim.received] == ["/x 1", "/a 1", "/b 1", "/new 1", "/end 1"]


def test_an_early_exit_stops_the_midi_clock_before_the_safe_scene(jack: JackServer) -> None:
    # A console following MIDI clock holds its chases mid-step when ticks just stop: an early exit (Ctrl-C
    # here; quit and crashes take the same path) sends `stop` as the end of the class would.
    safe_desk = MidiMessage.parse("control_change channel=0 control=7 value=127")
    rig = Rig(name="clocked", outputs={"desk": MidiOutputConfig(transport="midi", port="desk", api="jack",
                                                               clock=True)},
              safe_scene={"desk": (safe_desk,)})
    ticks = tuple(Event(i / 48, "desk", MidiMessage("clock"), "MIDI clock", "clock") for i in range(96))
    events = (Event(0.0, "desk", MidiMessage("start"), "MIDI clock starts", "transport"), *ticks,
              Event(2.0, "desk", MidiMessage("stop"), "end of class", "transport"))
    timeline = Timeline(events, (), (), 2.0, (Event(0.0, "desk", safe_desk, "safe scene", "safe"),))

    def interrupt_at_one_second(event: Event) -> None:
        if event.t >= 1.0:
            raise KeyboardInterrupt

    with SimulatedRig(rig) as sim:
        output = open_output("desk", sim.rig_for_outputs)
        try:
            with pytest.raises(KeyboardInterrupt):
                Player(timeline, {"desk": output}, FakeClock(), on_event=interrupt_at_one_second).play()
        finally:
            output.close()
        assert sim.wait_for({"desk": 1 + 49 + 2}, timeout=5)
    received = [r.message for r in sim.received]
    assert received[0] == "start" and received[1:50] == ["clock"] * 49
    assert received[50:] == ["stop", str(safe_desk)]


class _StallingClock(FakeClock):
    """Falls half a second behind once, on the way to class time 1 s, as a starved process does."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = False

    def sleep_until(self, t: float) -> None:
        if t >= 1.0 and not self.stalled:
            self.stalled, t = True, 1.5
        super().sleep_until(t)


def test_overdue_midi_clock_ticks_are_left_out_not_sent_in_a_burst(jack: JackServer) -> None:
    # Half a second behind, 24 ticks are due at once: a console would read them as a leap in tempo (and a long
    # enough stall at rehearsal speed overflows JACK's MIDI buffer). The 22 more than 50 ms late (1.0 s to
    # 1.4375 s) are left out; the other messages of that half second are all sent, and the class says what
    # it left out.
    from showctl.show import ClassReport, settle

    rig = Rig(name="clocked", outputs={"desk": MidiOutputConfig(transport="midi", port="desk", api="jack",
                                                               clock=True)},
              safe_scene={"desk": (MidiMessage.parse("stop"),)})
    note = MidiMessage.parse("note_on channel=0 note=36 velocity=127")
    ticks = tuple(Event(i / 48, "desk", MidiMessage("clock"), "MIDI clock", "clock") for i in range(96))
    events = (Event(0.0, "desk", MidiMessage("start"), "MIDI clock starts", "transport"), *ticks,
              Event(1.2, "desk", note, "bar accent", "effect"),
              Event(2.0, "desk", MidiMessage("stop"), "end of class", "transport"))
    events = tuple(sorted(events, key=lambda e: e.t))
    timeline = Timeline(events, (), (), 2.0, (Event(0.0, "desk", MidiMessage("stop"), "safe scene", "safe"),))
    warnings: list[str] = []
    report = ClassReport(note=lambda _: None, warn=warnings.append, error=warnings.append)
    with SimulatedRig(rig) as sim:
        output = open_output("desk", sim.rig_for_outputs)
        try:
            result = settle(Player(timeline, {"desk": output}, _StallingClock()).play(), sim, report)
        finally:
            output.close()
    received = [r.message for r in sim.received]
    assert received == ["start", *["clock"] * 48, str(note), *["clock"] * 26, "stop"]
    assert result.health["desk"].dropped_ticks == 22 and result.sent == len(events) - 22
    assert warnings == ["MIDI clock ticks left out rather than sent in a burst, the player being more than 50 ms "
                        "behind: {'desk': 22} (consoles counting ticks are that many behind in the bar until the "
                        "next start or song position)"]
