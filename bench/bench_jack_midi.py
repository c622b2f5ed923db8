"""JACK MIDI bursts: how much of a burst one period carries, and what pacing costs a send.

On a private jackd (dummy driver, 48 kHz), for each period size: a burst of one-byte `clock` messages sent
straight through rtmidi (how many arrive: a port carries one buffer a period, 32 KiB on JACK2), then the same
burst through `MidiOutput` unpaced and paced (`PeriodPacer`): arrivals and microseconds a send.
The simulated rig receives; nothing here runs realtime unless jackd may.

    .venv/bin/python bench/bench_jack_midi.py            # ~20 s
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# Run from a checkout without installing: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rtmidi
from rich.console import Console
from rich.table import Table

from showctl.messages import MidiMessage
from showctl.outputs import open_output
from showctl.outputs.midi import MidiOutput, midi_api
from showctl.rig import MidiOutputConfig, Rig
from showctl.sim import JackServer, SimulatedRig

BURST = 30_000
RIG = Rig(name="bench", outputs={"desk": MidiOutputConfig(transport="midi", port="unused", clock=True)},
          safe_scene={"desk": (MidiMessage("stop"),)})


def raw_burst(sim: SimulatedRig, n: int) -> int:
    config = sim.rig_for_outputs.outputs["desk"]
    assert isinstance(config, MidiOutputConfig)
    out = rtmidi.MidiOut(rtapi=midi_api("jack"), name="bench-raw")
    out.open_port(out.get_ports().index(config.port))
    before = sim.counts["desk"]
    for _ in range(n):
        out.send_message([0xF8])
    sim.wait_for({"desk": before + n}, timeout=3)
    out.close_port()
    out.delete()
    return sim.counts["desk"] - before


def output_burst(sim: SimulatedRig, n: int, paced: bool) -> tuple[int, float]:
    output = open_output("desk", sim.rig_for_outputs)
    assert isinstance(output, MidiOutput)
    if not paced:
        output._pacer = None  # the send path before pacing
    before, message = sim.counts["desk"], MidiMessage("clock")
    t0 = time.perf_counter()
    for _ in range(n):
        output.send(message)
    seconds = time.perf_counter() - t0
    sim.wait_for({"desk": before + n}, timeout=10)
    output.close()
    return sim.counts["desk"] - before, seconds / n * 1e6


def main() -> int:
    table = Table("period", "raw rtmidi: 3 000 arrive", f"unpaced: {BURST:,} arrive", "µs/send",
                  f"paced: {BURST:,} arrive", "µs/send", title="JACK MIDI bursts (one-byte clock messages)")
    for period in (256, 1024, 4096):
        with JackServer(period=period, name=f"showctl-bench-{os.getpid()}-{period}"), SimulatedRig(RIG) as sim:
            raw = raw_burst(sim, 3000)
            unpaced, unpaced_us = output_burst(sim, BURST, paced=False)
            paced, paced_us = output_burst(sim, BURST, paced=True)
        table.add_row(str(period), f"{raw:,}", f"{unpaced:,}", f"{unpaced_us:.1f}", f"{paced:,}", f"{paced_us:.1f}")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
