"""MIDI through a real JACK server to the real simulated rig: nothing the class sends is lost without a word.

JACK carries a port's MIDI in one buffer per period (32 KiB on JACK2: about 2 700 one-byte messages); what
does not fit is dropped. And a client that misses its period (an xrun) loses that period's MIDI.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from conftest import wait_for

from showctl.messages import MidiMessage
from showctl.outputs import open_output
from showctl.player.player import OutputHealth, PlayResult
from showctl.rig import MidiOutputConfig, Rig
from showctl.show import ClassReport, settle
from showctl.sim import JackServer, SimulatedRig


def _desk_rig() -> Rig:
    config = MidiOutputConfig(transport="midi", port="unused", clock=True)
    return Rig(name="test", outputs={"desk": config}, safe_scene={"desk": (MidiMessage.parse("stop"),)})


@pytest.mark.slow
def test_a_burst_larger_than_a_jack_period_arrives_whole(jack: JackServer) -> None:
    # A player that fell behind, or a fake clock, hands over many messages at once. With a long period
    # (4096 frames, as studios running jackd without realtime often choose) one period's share of 30 000
    # clock ticks is far more than a port's buffer holds: unpaced, JACK dropped the rest without a word.
    burst = 30_000
    with JackServer(period=4096, name=f"showctl-test-long-period-{os.getpid()}"), \
            SimulatedRig(_desk_rig()) as sim:
        output = open_output("desk", sim.rig_for_outputs)
        try:
            for _ in range(burst):
                output.send(MidiMessage("clock"))
            arrived = sim.wait_for({"desk": burst}, timeout=30)
        finally:
            output.close()
        assert arrived, f"the rig received {sim.counts['desk']} of {burst} clock ticks"
    assert {r.message for r in sim.received} == {"clock"}


@pytest.mark.slow
def test_midi_the_rig_missed_is_explained_by_the_xruns_jack_reported(jack: JackServer) -> None:
    import jack as jack_client  # JACK-Client

    with SimulatedRig(_desk_rig()) as sim:
        # A client that overruns one period, as a starved one does on a busy machine without realtime
        # scheduling: JACK reports an xrun to every client.
        stalled = threading.Event()
        staller: Any = jack_client.Client("showctl-test-staller", no_start_server=True)

        @staller.set_process_callback  # type: ignore[misc]
        def _process(frames: int) -> None:
            if not stalled.is_set():
                stalled.set()
                time.sleep(4 * frames / staller.samplerate)  # overrun the cycle on purpose

        staller.activate()
        try:
            wait_for(lambda: sim.xruns > 0, "the simulated rig hears JACK's xrun")
        finally:
            staller.deactivate()
            staller.close()
        errors: list[str] = []
        report = ClassReport(note=lambda _: None, warn=lambda _: None, error=errors.append)
        # One message more than arrived: what a lost JACK period looks like to the class.
        result = PlayResult(True, 1, {"desk": OutputHealth(sent=sim.counts["desk"] + 1)})
        settle(result, sim, report)
    assert len(errors) == 1
    assert errors[0].startswith("the simulated rig missed messages: {'desk': 1}; JACK reported ")
    assert "xrun" in errors[0]

