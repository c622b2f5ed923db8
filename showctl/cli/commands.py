"""What each `showctl` command does. Effects live here, at the edge: files, sockets, the terminal."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path

from rich.table import Table

from showctl.analysis import TrackAnalysis, analyze_paths
from showctl.analysis.overrides import Overrides
from showctl.cli.live import LiveScreen, control_keys, keyboard
from showctl.cli.progress import AnalysisProgress
from showctl.cli.terminal import TERMINAL_REPORT, err_console, out_console
from showctl.cues.load import check_cue_style, is_cue_style
from showctl.errors import AnalysisError, DeviceError, ProblemsError, ShowctlError, problems_in
from showctl.messages import DmxMessage
from showctl.player import Clock
from showctl.rig import load_rig
from showctl.rig.dmx import DmxOutputConfig, build_patch
from showctl.rig.dmx_levels import render_messages
from showctl.show import (
    Rehearsal,
    Show,
    load_show,
    low_confidence_warnings,
    open_class,
    open_outputs,
)
from showctl.sim import Received, SimulatedRig, simulated_rig
from showctl.timeline import Event, PlanRow
from showctl.units import format_clock
from showctl.yamlfile import load_yaml

__all__ = ["analyze", "check", "load_show_with_progress", "plan", "run", "simulate", "timeline"]



# -- shared steps -------------------------------------------------------------------------------------
def _analyses(paths: Sequence[Path | str], overrides: dict[str, Overrides]) -> list[TrackAnalysis]:
    """Analyse (or read from the cache) with progress on stderr: a fresh playlist takes a few seconds."""
    with AnalysisProgress(err_console, len(paths)) as progress:
        return analyze_paths(list(paths), on_progress=progress, overrides=overrides)


def load_show_with_progress(cuefile: str, rig_file: str | None) -> Show:
    """The show, its playlist analysed with progress on stderr and its warnings there too."""
    return load_show(cuefile, rig_file, analyse=_analyses, report=TERMINAL_REPORT)


# -- analyze ------------------------------------------------------------------------------------------
def _sections_text(analysis: TrackAnalysis) -> str:
    return " · ".join(f"{sec.label} {format_clock(sec.start)}" for sec in analysis.sections) or "—"


def analyze(paths: Sequence[str], *, as_json: bool) -> int:
    """Every good file analysed and printed; one `PATH: problem` line on stderr per bad one, exit 1 if any."""
    failed: list[AnalysisError] = []

    def report(err: AnalysisError) -> None:
        failed.append(err)
        err_console.print(f"showctl: {err}", markup=False)

    with AnalysisProgress(err_console, len(paths)) as progress:
        results = analyze_paths(list(paths), on_progress=progress, on_error=report)
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=None))
    else:
        table = Table("track", "duration", "tempo", "metre", "beats", "bars", "confidence", "sections")
        for r in results:
            confidence = f"{r.confidence:.2f}" + (f" (overridden: {', '.join(r.overrides)})" if r.overrides else "")
            tempo = f"{r.tempo:.1f} BPM" if r.beats else "—"
            table.add_row(r.path, format_clock(r.duration), tempo, f"{r.beats_per_bar}/4", str(len(r.beats)),
                          str(len(r.downbeats)), confidence, _sections_text(r))
        out_console.print(table)
    for r in results:
        if not r.beats:  # silence, noise, a drone: reported without an invented grid
            err_console.print(f"warning: {r.path}: no beat found (confidence 0); give the track a grid "
                              "in the cue file to use it", markup=False)
    for line in low_confidence_warnings([r for r in results if r.beats]):
        err_console.print(line, markup=False)
    return 1 if failed else 0


# -- check --------------------------------------------------------------------------------------------
def _is_rig_file(path: str) -> bool:
    try:
        data = load_yaml(path).data
    except ProblemsError:
        return False
    return isinstance(data, dict) and "outputs" in data and "segments" not in data


def check(files: Sequence[str]) -> int:
    """`ok FILE` for each good file; otherwise every problem as PATH:LINE:COL: message, exit 1."""
    failed = False
    for file in files:
        try:
            if _is_rig_file(file):
                load_rig(file)
            elif is_cue_style(file):
                check_cue_style(file)  # a house style others extend: no class plan to compile
            else:
                load_show_with_progress(file, None)
        except ShowctlError as err:
            failed = True
            for problem in problems_in(file, err):
                print(problem)
        else:
            print(f"ok {file}")
    return 1 if failed else 0


# -- timeline / plan ----------------------------------------------------------------------------------
def timeline(cuefile: str, rig_file: str | None, *, as_json: bool) -> int:
    show = load_show_with_progress(cuefile, rig_file)
    if as_json:
        print(json.dumps([e.to_json() for e in show.timeline.events]))
        return 0
    table = Table("time", "output", "message", "reason")
    clock_ticks = 0
    for event in show.timeline.events:
        if event.kind == "clock":
            clock_ticks += 1
            continue
        table.add_row(f"{format_clock(event.t)}", event.output, str(event.message), event.reason)
    out_console.print(table)
    out_console.print(f"{len(show.timeline.events)} events over {format_clock(show.timeline.duration)} "
                      f"({clock_ticks} MIDI clock ticks not listed)")
    return 0


def plan(cuefile: str, rig_file: str | None, *, as_json: bool) -> int:
    show = load_show_with_progress(cuefile, rig_file)
    rows = show.timeline.plan
    if as_json:
        print(json.dumps([r.to_json() for r in rows], indent=1))
        return 0
    table = Table("start", "end", "segment", "kind", "round", "phase", "scene", "snapped", "track", "bar")
    for r in rows:
        table.add_row(format_clock(r.start), format_clock(r.end), r.name, r.kind, str(r.round or ""), r.phase or "",
                      r.scene, f"{r.snapped_to} ({r.start - r.planned:+.2f} s)", Path(r.track).name, str(r.bar))
    out_console.print(table)
    return 0


# -- simulate / run -----------------------------------------------------------------------------------


# Messages in flight to the simulated rig per output: enough to keep JACK's period busy, few enough that
# neither the UDP socket buffer nor rtmidi's JACK ring buffer can overflow and drop one.
_WINDOW = 32


def _dmx_final_frames(show: Show, output: str) -> dict[int, bytes]:
    """The frames DMX `output` holds once every message of the class has been sent and every fade is done."""
    config = show.rig.outputs[output]
    assert isinstance(config, DmxOutputConfig)
    safe = [m for m in show.rig.safe_scene.get(output, ()) if isinstance(m, DmxMessage)]
    sent = [e.message for e in show.timeline.events if e.output == output and isinstance(e.message, DmxMessage)]
    return render_messages(build_patch(show.rig), config.universes, [*safe, *sent])


def simulate(cuefile: str, rig_file: str | None, log_path: Path) -> int:
    show = load_show_with_progress(cuefile, rig_file)
    events = show.timeline.events
    # DMX goes out as whole frames at the output's frame rate, not one packet per message: a DMX output is
    # checked by the look its last frame carries once the class has been sent (every fade done).
    dmx = {name for name, config in show.rig.outputs.items() if config.transport == "dmx"}
    with simulated_rig(show.rig) as sim, ExitStack() as stack:
        outputs = open_outputs(sim.rig_for_outputs, stack)
        sent = dict.fromkeys(set(outputs) - dmx, 0)
        for event in events:
            output = event.output
            if output in sent and sent[output] - sim.counts[output] >= _WINDOW:
                _wait(sim, {output: sent[output] - _WINDOW + 1}, event.output)
            outputs[output].send(event.message)
            if output in sent:
                sent[output] += 1
        _wait(sim, sent, "the rig")
        longest_fade = max((e.message.fade for e in events if isinstance(e.message, DmxMessage)), default=0.0)
        for name in sorted(dmx):
            if not sim.wait_for_dmx(name, _dmx_final_frames(show, name), timeout=5.0 + longest_fade):
                raise DeviceError(f"simulated rig output '{name}'", "its last DMX frame is not the class's final look")
        received = {name: deque(r for r in sim.received if r.output == name) for name in sent}
    lines: list[str] = []
    for index, event in enumerate(events):
        if event.output in dmx:
            lines.append(json.dumps({"t": round(event.t, 6), "transport": "dmx", "message": str(event.message)}))
            continue
        got = received[event.output].popleft()
        if got.message != str(event.message):
            raise DeviceError(f"simulated rig output '{event.output}'",
                              f"event {index} at {event.t:.3f} s: sent '{event.message}', received '{got.message}'")
        lines.append(json.dumps({"t": round(event.t, 6), "transport": got.transport, "message": got.message}))
    extra = {name: len(q) for name, q in received.items() if q}
    if extra:
        raise DeviceError("simulated rig", f"received messages nobody sent: {extra}")
    try:
        log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as err:
        raise DeviceError(str(log_path), f"cannot write log ({err.strerror})") from None
    clock = sum(1 for e in events if e.kind == "clock")
    received_text = "the rig received all of them, in order"
    if dmx:
        received_text += f" (DMX {', '.join(sorted(dmx))}: as frames, ending in the class's final look)"
    err_console.print(f"simulated {len(events)} messages ({len(events) - clock} cues, {clock} MIDI clock ticks) "
                      f"over {format_clock(show.timeline.duration)} of class: {received_text} → {log_path}")
    return 0


def _wait(sim: SimulatedRig, counts: dict[str, int], what: str) -> None:
    if not sim.wait_for(counts, timeout=5.0):
        missing = {o: n - sim.counts[o] for o, n in counts.items() if sim.counts[o] < n}
        raise DeviceError(f"simulated rig ({what})",
                          f"messages did not arrive within 5 s: {missing}{sim.loss_reason()}")


class _RunDisplay:
    """What `showctl run` prints: each part of the class as it starts, and each message as it goes out
    (or, with --sim, as the simulated rig receives it). MIDI clock ticks are not listed: 60 a second."""

    def __init__(self, show: Show, start: float) -> None:
        self.show = show
        self.clock: Clock | None = None
        # Parts that ended before `start` are not announced; the one playing at `start` is.
        self.rows = iter([r for r in show.timeline.plan if r.end > start])
        self.upcoming: PlanRow | None = next(self.rows, None)
        self.lock = threading.Lock()

    def message(self, output: str, message: str, t: float) -> None:
        if message == "clock":
            return
        transport = self.show.rig.transport_of(output)
        with self.lock:
            out_console.print(f"[bold]{format_clock(t)}[/bold]  {output:<10} {transport:<4} {message}")

    def received(self, item: Received) -> None:
        self.message(item.output, item.message, self.clock.now() if self.clock is not None else 0.0)

    def event(self, event: Event, *, show_message: bool, notices: deque[str] | None = None) -> None:
        while notices:
            with self.lock:
                out_console.print(f"[yellow]{notices.popleft()}[/yellow]")
        while self.upcoming is not None and self.upcoming.start <= event.t:
            row = self.upcoming
            label = row.name + (f" round {row.round} {row.phase}" if row.round else "")
            with self.lock:
                out_console.print(f"[bold cyan]{format_clock(row.start)}  ▶ {label}: scene '{row.scene}'[/bold cyan]")
            self.upcoming = next(self.rows, None)
        if show_message:
            self.message(event.output, str(event.message), event.t)


def run(cuefile: str, rig_file: str | None, *, speed: float, start: float, sim: bool, no_audio: bool = False,
        control_host: str = "127.0.0.1", control_port: int = 9650, live: bool = False, source: str = "auto",
        midi_in: str | None = None, audio_in: str | None = None, control_secret: str | None = None) -> int:
    if live:  # the music plays elsewhere: the plan runs in wall-clock time on a live beat source
        from showctl.cli.live_run import run_live

        return run_live(cuefile, rig_file, source=source, midi_in=midi_in, audio_in=audio_in, sim=sim, speed=speed,
                        start=start)
    show = load_show_with_progress(cuefile, rig_file)
    tl = show.timeline
    if start >= tl.duration:
        raise ShowctlError(f"--from {format_clock(start)} is after the end of the class ({format_clock(tl.duration)})")
    live = out_console.is_terminal
    display = _RunDisplay(show, start)
    with ExitStack() as stack:
        rehearsal = Rehearsal(partial(simulated_rig, on_receive=None if live else display.received),
                              echoes=not live) if sim else None
        session = stack.enter_context(open_class(
            show, start=start, speed=speed, rehearsal=rehearsal, no_audio=no_audio, report=TERMINAL_REPORT,
            control_host=control_host,
            control_port=control_port, control_secret=control_secret))
        display.clock = session.clock
        controller = session.controller
        if live:
            from rich.live import Live

            stack.enter_context(keyboard(control_keys(controller)))
            stack.enter_context(Live(LiveScreen(show.loaded.sheet.name, controller), console=out_console,
                                     refresh_per_second=8, screen=False))
        else:
            session.player.on_event = lambda e: display.event(e, show_message=not sim, notices=controller.notices)
        result = session.play()
    err_console.print(result.summary())
    return 0
