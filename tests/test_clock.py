"""MIDI clock: song position pointer when a class starts mid-way, and the tick rate, over real JACK ports."""

from __future__ import annotations

import numpy as np
import pytest

from showctl.messages import MidiMessage
from showctl.outputs import open_output
from showctl.player import MonotonicClock, Player
from showctl.rig import MidiOutputConfig, Rig
from showctl.sim import JackServer, SimulatedRig
from showctl.timeline.model import Event, Timeline
from showctl.timeline.seek import clock_state_at, events_from_seek

BPM = 120.0
TICK = 60.0 / BPM / 24  # 20.83 ms


def clock_timeline(start: float = 0.5, beats: int = 8) -> Timeline:
    """What compile emits for a steady 120 BPM track: start on the first downbeat, 24 ticks a beat, stop."""
    events = [Event(start, "clock", MidiMessage("start"), "start", "transport")]
    events += [Event(start + k * TICK, "clock", MidiMessage("clock"), "tick", "clock") for k in range(24 * beats)]
    end = start + beats * 24 * TICK
    events.append(Event(end, "clock", MidiMessage("stop"), "stop", "transport"))
    safe = (Event(end, "clock", MidiMessage("stop"), "safe", "safe"),)
    return Timeline(tuple(sorted(events, key=lambda e: e.t)), (), (), end, safe)


def test_no_song_position_before_the_clock_starts() -> None:
    timeline = clock_timeline()
    assert clock_state_at(timeline, 0.0) == []
    assert clock_state_at(timeline, 0.5) == []  # the start itself is played
    assert events_from_seek(timeline, 0.2) == timeline.events_from(0.2)


def test_song_position_is_the_next_sixteenth_after_the_seek() -> None:
    timeline = clock_timeline()
    seek = 0.5 + 96 * TICK + 0.001  # just after beat 4: 97 ticks have gone by
    resume = clock_state_at(timeline, seek)
    at = 0.5 + 102 * TICK  # tick 102 = 16th note 17
    assert [(str(e.message), e.t) for e in resume] == [("songpos pos=17 time=0", at), ("continue", at)]
    played = events_from_seek(timeline, seek)
    assert [str(e.message) for e in played[:3]] == ["songpos pos=17 time=0", "continue", "clock"]
    assert played[2].t == at
    assert sum(1 for e in played if e.kind == "clock") == 24 * 8 - 102
    assert str(played[-1].message) == "stop"


def test_no_song_position_after_the_clock_stopped() -> None:
    timeline = clock_timeline()
    assert clock_state_at(timeline, timeline.duration + 1) == []


@pytest.mark.rig
@pytest.mark.slow
def test_seek_sends_song_position_then_ticks_at_the_tempo(jack: JackServer) -> None:
    rig = Rig(name="clock", outputs={"clock": MidiOutputConfig(transport="midi", port="x", clock=True)},
              safe_scene={"clock": (MidiMessage("stop"),)})
    timeline = clock_timeline(start=0.5, beats=8)
    seek = 0.5 + 96 * TICK + 0.001
    with SimulatedRig(rig) as sim:
        output = open_output("clock", sim.rig_for_outputs)
        try:
            result = Player(timeline, {"clock": output}, MonotonicClock(start=seek)).play(seek)
            assert result.completed
            assert sim.wait_for({"clock": result.sent}, timeout=2)
        finally:
            output.close()
    texts = [r.message for r in sim.received]
    assert texts[:3] == ["songpos pos=17 time=0", "continue", "clock"]
    assert texts[-1] == "stop"
    ticks = [r.arrival for r in sim.received if r.message == "clock"]
    assert len(ticks) == 24 * 8 - 102
    # JACK delivers MIDI once per period (5.3 ms): fit a line through all arrivals for the tick period.
    period = float(np.polyfit(np.arange(len(ticks)), np.array(ticks), 1)[0])
    assert 60.0 / (24 * period) == pytest.approx(BPM, abs=0.5)
