"""Output timing: how late each message leaves against its scheduled time, and the sender's CPU use.

One synthetic class is played three ways over loopback, in the same run:
- `naive`: sleeps the gap between messages (`sleep(delta)` in a loop: errors add up);
- `deadline`: sleeps to each absolute deadline (`sleep(t0 + t - now)`);
- `showctl`: the Player on MonotonicClock (sleep to 1.5 ms before the deadline, then yield until it).
The class: OSC every 10 ms to a UDP socket, a MIDI note every 125 ms and MIDI clock at 120 BPM (24 ppqn,
20.8 ms) to JACK ports. The error is (moment `send()` returned) − (scheduled time). CPU is the sender
thread's CPU time over wall time (% of one core). Receivers do not run Python code in this process.

    .venv/bin/python bench/bench_outputs.py               # ~45 s
    .venv/bin/python bench/bench_outputs.py --minutes 10  # the showctl sender for 10 minutes
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import rtmidi
from rich.console import Console
from rich.table import Table

from showctl.messages import MidiMessage, OscMessage
from showctl.outputs.base import Output
from showctl.outputs.midi import MidiOutput
from showctl.outputs.osc import OscOutput
from showctl.player import MonotonicClock, Player
from showctl.rig import MidiOutputConfig, OscOutputConfig
from showctl.sim import JackServer
from showctl.timeline.model import Event, Timeline

OSC_GAP, NOTE_GAP, TICK = 0.010, 0.125, 60.0 / 120.0 / 24


def bench_class(duration: float) -> Timeline:
    events = [Event(i * OSC_GAP, "osc", OscMessage("/showctl/pulse", (i % 2,)), "", "effect")
              for i in range(int(duration / OSC_GAP))]
    events += [Event(i * NOTE_GAP, "midi", MidiMessage.parse(f"note_on note={36 + i % 4}"), "", "effect")
               for i in range(int(duration / NOTE_GAP))]
    events += [Event(i * TICK, "clock", MidiMessage("clock"), "", "clock") for i in range(int(duration / TICK))]
    return Timeline(tuple(sorted(events, key=lambda e: e.t)), (), (), duration, ())


@dataclass(frozen=True)
class Result:
    sender: str
    errors: Mapping[str, Sequence[float]]  # output → seconds late, per message
    cpu: float  # fraction of one core
    seconds: float


Sender = Callable[[Timeline, Mapping[str, Output]], tuple[dict[str, list[float]], float]]


def naive(timeline: Timeline, outputs: Mapping[str, Output]) -> tuple[dict[str, list[float]], float]:
    errors: dict[str, list[float]] = {name: [] for name in outputs}
    t0, previous = time.monotonic(), 0.0
    for event in timeline.events:
        time.sleep(event.t - previous)
        previous = event.t
        outputs[event.output].send(event.message)
        errors[event.output].append(time.monotonic() - t0 - event.t)
    return errors, t0


def deadline(timeline: Timeline, outputs: Mapping[str, Output]) -> tuple[dict[str, list[float]], float]:
    errors: dict[str, list[float]] = {name: [] for name in outputs}
    t0 = time.monotonic()
    for event in timeline.events:
        left = t0 + event.t - time.monotonic()
        if left > 0:
            time.sleep(left)
        outputs[event.output].send(event.message)
        errors[event.output].append(time.monotonic() - t0 - event.t)
    return errors, t0


def player(timeline: Timeline, outputs: Mapping[str, Output]) -> tuple[dict[str, list[float]], float]:
    errors: dict[str, list[float]] = {name: [] for name in outputs}
    clock = MonotonicClock()

    def record(event: Event) -> None:
        errors[event.output].append(clock.now() - event.t)

    run = Player(timeline, outputs, clock, on_event=record)
    clock.restart(0.0)
    run.play()
    return errors, 0.0


def measure(name: str, sender: Sender, timeline: Timeline, outputs: Mapping[str, Output]) -> Result:
    cpu0, wall0 = time.thread_time(), time.monotonic()
    errors, _ = sender(timeline, outputs)
    cpu, wall = time.thread_time() - cpu0, time.monotonic() - wall0
    return Result(name, errors, cpu / wall, wall)


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=14.0, help="length of each baseline run (default 14)")
    parser.add_argument("--minutes", type=float, default=None, help="run the showctl sender this long (e.g. 10)")
    args = parser.parse_args(argv)
    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    console = Console(highlight=False, width=120)
    with ExitStack() as stack:
        stack.enter_context(JackServer())
        sink = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        sink.bind(("127.0.0.1", 0))  # never read: the kernel drops what overflows, the sender never waits
        for role in ("midi", "clock"):
            midi_in = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=f"showctl-bench-{role}")
            # No callback and clock ignored: JACK's thread drops the ticks without Python (a full queue of them
            # would only print warnings), and the notes fit the queue.
            midi_in.ignore_types(timing=True)
            midi_in.open_virtual_port("in")
            stack.callback(midi_in.delete)
        outputs: dict[str, Output] = {
            "osc": OscOutput("osc", OscOutputConfig(transport="osc", port=sink.getsockname()[1])),
            "midi": MidiOutput("midi", MidiOutputConfig(transport="midi", port="showctl-bench-midi:in", api="jack")),
            "clock": MidiOutput("clock", MidiOutputConfig(transport="midi", port="showctl-bench-clock:in",
                                                          api="jack", clock=True)),
        }
        for output in outputs.values():
            stack.callback(output.close)
        showctl_seconds = args.minutes * 60 if args.minutes else args.seconds
        results = []
        for name, sender, seconds in (("naive sleep(gap)", naive, args.seconds),
                                      ("deadline sleep", deadline, args.seconds),
                                      ("showctl Player", player, showctl_seconds)):
            print(f"running {name} for {seconds:g} s", file=sys.stderr)
            results.append(measure(name, sender, bench_class(seconds), outputs))
    table = Table("sender", "output", "messages", "p50 ms", "p99 ms", "max ms", "mean ms", "CPU % of a core",
                  title="output timing over loopback: (send returned) − (scheduled)")
    for result in results:
        for output, errors in result.errors.items():
            ms = [e * 1000 for e in errors]
            table.add_row(result.sender, output, str(len(ms)), f"{quantile(ms, 0.5):.3f}", f"{quantile(ms, 0.99):.3f}",
                          f"{max(ms):.3f}", f"{statistics.fmean(ms):.3f}", f"{100 * result.cpu:.1f}")
    console.print(table)
    clock_errors = results[-1].errors["clock"]
    jitter = [b - a for a, b in itertools.pairwise(clock_errors)]
    print(f"showctl MIDI clock tick-to-tick jitter: p99 {1000 * quantile([abs(j) for j in jitter], 0.99):.3f} ms "
          f"over {len(clock_errors)} ticks ({results[-1].seconds:.0f} s)")
    ours = [e for errors in results[-1].errors.values() for e in errors]
    for baseline in results[1:-1]:
        theirs = [e for errors in baseline.errors.values() for e in errors]
        print(f"showctl / {baseline.sender}: p50 {quantile(ours, 0.5) / quantile(theirs, 0.5):.2f}×, "
              f"p99 {quantile(ours, 0.99) / quantile(theirs, 0.99):.2f}× (all outputs)")
    print(f"goal p50 ≤ 0.05 ms, p99 ≤ 0.1 ms, max ≤ 5 ms at ≤ 10 % of a core: showctl p50 "
          f"{1000 * quantile(ours, 0.5):.3f}, p99 {1000 * quantile(ours, 0.99):.3f}, max {1000 * max(ours):.3f} ms "
          f"at {100 * results[-1].cpu:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
