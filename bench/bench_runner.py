"""Class runner timing: how far each event's send moment is from its scheduled time on the audio DAC clock.

The demo class (or, for runs longer than it, Retro Run 45 over the studio library) plays on the JACK dummy
driver, with its music streaming through sounddevice, to a simulated rig over real transports (UDP OSC and
JACK MIDI, in a child process so its receivers do not share this process's GIL or CPU figure). Three
senders, measured in the same run, each with the music playing from class time 0 on a fresh `AudioClock`:
- `naive sleep(gap)`: sleeps the gap between events (errors add up);
- `deadline sleep`: sleeps to absolute deadlines on `time.monotonic` (started together with the music);
- `showctl Player`: the real Player on the `AudioClock` (DAC time, sleep to 1.5 ms before, then yield).
The error of an event is (DAC class time when `send()` is called) − (its scheduled class time), read from the
AudioClock by a recording Output wrapped around each real output; p50/p99/max are of |error|. CPU is this
process's CPU time over wall time (% of one core), music callback and track loader included; the
`audio only` row is the music playing with no sender, for reference. The rig must receive every message,
in order; what it missed is reported.

    .venv/bin/python bench/bench_runner.py               # ~80 s: 20 s per sender
    .venv/bin/python bench/bench_runner.py --minutes 10  # the showctl Player for 10 minutes
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from showctl.messages import OutMessage
from showctl.outputs import Output, open_output
from showctl.player import Player
from showctl.player.audio import AudioClock, audio_unavailable_reason
from showctl.rig import Rig, load_rig
from showctl.sim import JackServer, SimulatedRig
from showctl.timeline.model import Timeline
from showctl.timeline.seek import events_from_seek
from showctl.units import format_clock

REPO = Path(__file__).resolve().parent.parent
GOAL_P99, GOAL_MAX, GOAL_CPU = 0.002, 0.005, 0.10


# -- the simulated rig, in a child process ------------------------------------------------------------------
def serve_rig(rig_file: str) -> int:
    """Child: stand a simulated rig in for `rig_file`; print the rewired rig; on each stdin line `report`
    print (and forget) what arrived since the last one; exit on end of input."""
    with SimulatedRig(load_rig(rig_file)) as sim:
        print(json.dumps(sim.rig_for_outputs.model_dump(mode="json")), flush=True)
        for line in sys.stdin:
            if line.strip() != "report":
                continue
            time.sleep(0.2)  # the last datagrams and JACK periods arrive
            received, sim.received = sim.received, []
            print(json.dumps([[r.output, r.message, r.arrival] for r in received]), flush=True)
    return 0


class RigProcess:
    def __init__(self, rig_file: Path) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve-rig", str(rig_file)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulated rig did not start (exit code {self.process.wait()})")
        self.rig = Rig.model_validate(json.loads(line))

    def report(self) -> list[tuple[str, str, float]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("report\n")
        self.process.stdin.flush()
        return [(o, m, a) for o, m, a in json.loads(self.process.stdout.readline())]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


# -- measuring ---------------------------------------------------------------------------------------------
class Recording:
    """An Output that notes the DAC class time and time.monotonic() of each send, then forwards it. Times go
    into arrays and messages are strings: nothing per send for the garbage collector to walk."""

    def __init__(self, inner: Output) -> None:
        self.inner = inner
        self.name = inner.name
        self.latency = inner.latency
        self.clock: AudioClock | None = None
        self.class_times = array("d")  # on the AudioClock (DAC), when send() was called
        self.monotonic = array("d")
        self.messages: list[str] = []

    def reset(self, clock: AudioClock) -> None:
        self.clock, self.class_times, self.monotonic, self.messages = clock, array("d"), array("d"), []

    def send(self, message: OutMessage) -> None:
        assert self.clock is not None
        self.class_times.append(self.clock.now())
        self.monotonic.append(time.monotonic())
        self.messages.append(str(message))
        self.inner.send(message)

    def close(self) -> None:
        self.inner.close()


Sender = Callable[[Timeline, Mapping[str, Output], AudioClock], None]


def naive(timeline: Timeline, outputs: Mapping[str, Output], audio: AudioClock) -> None:
    previous = audio.now()
    for event in timeline.events:
        time.sleep(max(0.0, event.t - previous))
        previous = event.t
        outputs[event.output].send(event.message)


def deadline(timeline: Timeline, outputs: Mapping[str, Output], audio: AudioClock) -> None:
    class0, mono0 = audio.now(), time.monotonic()  # the music and the monotonic timer start together
    for event in timeline.events:
        left = mono0 + (event.t - event_latency(outputs, event.output) - class0) - time.monotonic()
        if left > 0:
            time.sleep(left)
        outputs[event.output].send(event.message)


def showctl_player(timeline: Timeline, outputs: Mapping[str, Output], audio: AudioClock) -> None:
    Player(timeline, outputs, audio).play()


def idle(timeline: Timeline, outputs: Mapping[str, Output], audio: AudioClock) -> None:
    audio.sleep_until(timeline.duration)


def event_latency(outputs: Mapping[str, Output], name: str) -> float:
    return outputs[name].latency


@dataclass
class Result:
    sender: str
    seconds: float
    cpu: float  # fraction of one core
    errors: list[float] = field(default_factory=list)  # seconds, per event
    transit: dict[str, list[float]] = field(default_factory=dict)  # transport → rig arrival − send
    underruns: int = 0
    drift_ppm: float = 0.0  # DAC clock against time.monotonic over the run
    lost: dict[str, int] = field(default_factory=dict)  # output → messages the rig did not receive (in order)
    gc_pauses: list[float] = field(default_factory=list)  # seconds, each full (generation 2) collection
    worst: list[tuple[float, float, str]] = field(default_factory=list)  # (error, scheduled, what)


def window(timeline: Timeline, start: float, seconds: float) -> Timeline:
    """`seconds` of the class from class time `start`, moved to start at 0 (music, events and MIDI clock
    position as `--from` would have them: the clock resumes with song position pointer + continue)."""
    events = tuple(replace(e, t=e.t - start) for e in events_from_seek(timeline, start)
                   if e.t < start + seconds and e.kind != "safe")
    tracks = tuple(replace(s, start=s.start - start, end=s.end - start) for s in timeline.tracks if s.end > start)
    return Timeline(events, timeline.plan, tracks, seconds, timeline.safe_scene)


class GcPauses:
    """Full garbage collections while it is entered, and how long each stopped the world."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.pauses.append(time.perf_counter() - self._started)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


def measure(name: str, sender: Sender, timeline: Timeline, outputs: Mapping[str, Recording], rig: RigProcess,
            transports: Mapping[str, str]) -> Result:
    with AudioClock(timeline.tracks) as audio, GcPauses() as pauses:
        for output in outputs.values():
            output.reset(audio)
        cpu0, wall0, class0 = time.process_time(), time.monotonic(), audio.now()
        sender(timeline, outputs, audio)
        cpu, wall, class1 = time.process_time() - cpu0, time.monotonic() - wall0, audio.now()
        underruns = audio.underruns
    result = Result(name, wall, cpu / wall, underruns=underruns, drift_ppm=((class1 - class0) / wall - 1) * 1e6,
                    gc_pauses=pauses.pauses)
    received = rig.report()
    expected = {n: [e for e in timeline.events if e.output == n] for n in outputs}
    for output_name, output in outputs.items():
        events = expected[output_name]
        got = [(m, a) for o, m, a in received if o == output_name]
        if output.messages != [str(e.message) for e in events]:
            raise SystemExit(f"{name}: '{output_name}' sent something else than the timeline")
        if [m for m, _ in got] != output.messages:
            result.lost[output_name] = len(output.messages) - len(got)
        else:
            result.transit.setdefault(transports[output_name], []).extend(
                a - sent for sent, (_, a) in zip(output.monotonic, got, strict=True))
        for at, event in zip(output.class_times, events, strict=True):
            result.errors.append(at - (event.t - output.latency))
            result.worst.append((result.errors[-1], event.t, f"{output_name} {event.message}"))
    result.worst = sorted(result.worst, key=lambda w: -abs(w[0]))[:3]
    return result


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def show(console: Console, results: Sequence[Result], what: str) -> None:
    table = Table("sender", "events", "p50 ms", "p99 ms", "max ms", "mean ms", "> 2 ms", "CPU % of a core",
                  "underruns", title=f"{what}: |DAC class time at send − scheduled|")
    for r in results:
        if not r.errors:
            table.add_row(r.sender, "0", "", "", "", "", "", f"{100 * r.cpu:.1f}", str(r.underruns))
            continue
        ms = [abs(e) * 1000 for e in r.errors]
        table.add_row(r.sender, str(len(ms)), f"{quantile(ms, 0.5):.3f}", f"{quantile(ms, 0.99):.3f}",
                      f"{max(ms):.3f}", f"{statistics.fmean(e * 1000 for e in r.errors):+.3f}",
                      str(sum(1 for m in ms if m > 2)), f"{100 * r.cpu:.1f}", str(r.underruns))
    console.print(table)
    player = next(r for r in results if r.sender == "showctl Player")
    base = [abs(e) for e in player.errors]
    for r in results:
        if r is player or not r.errors:
            continue
        other = [abs(e) for e in r.errors]
        ratios = [quantile(other, q) / max(quantile(base, q), 1e-9) for q in (0.5, 0.99)]
        ratios.append(max(other) / max(max(base), 1e-9))
        console.print(f"{r.sender} / showctl Player: p50 ×{ratios[0]:.1f}, p99 ×{ratios[1]:.1f}, "
                      f"max ×{ratios[2]:.1f} (over {r.seconds:.0f} s vs {player.seconds:.0f} s)")
    p99, worst = quantile(base, 0.99), max(base)
    verdict = ["met" if ok else "MISSED" for ok in (p99 <= GOAL_P99, worst <= GOAL_MAX, player.cpu <= GOAL_CPU)]
    console.print(f"goals (issue 7): p99 ≤ 2 ms {verdict[0]} ({p99 * 1000:.3f}), max ≤ 5 ms {verdict[1]} "
                  f"({worst * 1000:.3f}), CPU ≤ 10 % {verdict[2]} ({player.cpu * 100:.1f} %)")
    for transport, transit in sorted(player.transit.items()):
        ms = [t * 1000 for t in transit]
        console.print(f"showctl Player, send → simulated rig over {transport}: p50 {quantile(ms, 0.5):.3f} ms, "
                      f"p99 {quantile(ms, 0.99):.3f} ms, max {max(ms):.3f} ms ({len(ms)} messages)")
    worst_text = ", ".join(f"{1000 * e:+.2f} ms at {t:.3f} s ({what})" for e, t, what in player.worst)
    console.print(f"showctl Player, worst: {worst_text}")
    gc_text = f"longest {1000 * max(player.gc_pauses):.1f} ms" if player.gc_pauses else "none"
    console.print(f"showctl Player, full garbage collections during the run: {len(player.gc_pauses)} ({gc_text})")
    for r in results:
        if r.lost:
            console.print(f"[red]{r.sender}: the simulated rig did not receive {r.lost}[/red] (a JACK client that "
                          f"misses its cycle loses that cycle's MIDI: see jackd's 'XRun ... was not finished')")
    console.print(f"music (DAC class time) against time.monotonic during the Player run: {player.drift_ppm:+.0f} ppm "
                  f"(what a monotonic scheduler would drift from the music)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each sender's run (default 20)")
    parser.add_argument("--from", dest="start", type=float, default=60.0,
                        help="class time each run starts at, in seconds (default 60: the demo's first intervals)")
    parser.add_argument("--minutes", type=float, default=None, help="run the showctl Player this long (e.g. 10)")
    parser.add_argument("--serve-rig", metavar="RIGFILE", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.serve_rig:
        return serve_rig(args.serve_rig)
    from showctl.demo.tracks import ensure_demo_tracks
    from showctl.show import load_show

    os.environ.setdefault("JACK_NO_START_SERVER", "1")
    console = Console(highlight=False, width=130)
    player_seconds = args.minutes * 60 if args.minutes else args.seconds
    ensure_demo_tracks(REPO / "tracks" / "demo")
    show_ = load_show(str(REPO / "cues" / "demo.yaml"), None)
    if args.start + player_seconds > show_.timeline.duration:  # the demo class is 4:30: a longer run plays Retro Run 45
        from showctl.demo.library import ensure_library_tracks

        ensure_library_tracks(REPO / "tracks" / "library")
        show_ = load_show(str(REPO / "cues" / "retro-run-45.yaml"), None)
    what = f"{show_.loaded.sheet.name} from {format_clock(args.start)}, JACK dummy driver 48 kHz / 256 frames"
    with ExitStack() as stack:
        stack.enter_context(JackServer())
        reason = audio_unavailable_reason()
        if reason is not None:
            print(f"bench_runner: {reason}", file=sys.stderr)
            return 1
        rig = RigProcess(show_.rig_path)
        stack.callback(rig.close)
        outputs = {n: Recording(open_output(n, rig.rig)) for n in rig.rig.outputs}
        for output in outputs.values():
            stack.callback(output.close)
        transports = {n: rig.rig.transport_of(n) for n in outputs}
        results = []
        for name, sender, seconds in (("audio only", idle, 3.0),
                                      ("naive sleep(gap)", naive, args.seconds),
                                      ("deadline sleep", deadline, args.seconds),
                                      ("showctl Player", showctl_player, player_seconds)):
            print(f"running {name} for {seconds:g} s", file=sys.stderr)
            timeline = window(show_.timeline, args.start, seconds)
            if sender is idle:
                timeline = Timeline((), timeline.plan, timeline.tracks, seconds, timeline.safe_scene)
            results.append(measure(name, sender, timeline, outputs, rig, transports))
    show(console, results, what)
    return 0


if __name__ == "__main__":
    sys.exit(main())
