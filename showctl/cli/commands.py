"""What each `showctl` command does. Effects live here, at the edge: files, sockets, the terminal."""

from __future__ import annotations

import gc
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from showctl.analysis import TrackAnalysis, analyze_paths
from showctl.analysis.overrides import Overrides
from showctl.cli.live import LiveScreen, control_keys, keyboard, osc_remote
from showctl.cli.progress import AnalysisProgress
from showctl.cues.load import (
    LoadedCueSheet,
    check_against_rig,
    check_cue_style,
    is_cue_style,
    load_cue_sheet,
    track_problem,
)
from showctl.errors import AnalysisError, DeviceError, Location, Problem, ProblemsError, ShowctlError
from showctl.messages import DmxMessage
from showctl.outputs import Output, Rig, load_rig, open_output
from showctl.outputs.dmx import render_messages
from showctl.outputs.dmx_rig import DmxOutputConfig, build_patch
from showctl.outputs.resilient import open_resilient_output
from showctl.player import Clock, MonotonicClock, Player, PlayResult
from showctl.player.audio import AudioClock, audio_unavailable_reason
from showctl.player.controls import Controller
from showctl.sim import JackServer, Received, SimulatedRig
from showctl.timeline import Event, PlanEdit, PlanRow, Timeline, compile_timeline
from showctl.units import format_clock
from showctl.yamlfile import load_yaml

__all__ = ["TERMINAL_REPORT", "ClassReport", "ClassRun", "Show", "analyze", "check", "load_show", "open_class",
           "plan", "run", "simulate", "timeline"]

LOW_CONFIDENCE = 0.5
# Off a terminal (logs, CI, pipes) lines are not wrapped at rich's default of 80 columns.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)


# -- shared steps -------------------------------------------------------------------------------------
def _overrides(loaded: LoadedCueSheet) -> dict[str, Overrides]:
    """The cue file's per-track corrections (tempo hint, first downbeat, fixed grid), keyed as analysed."""
    result: dict[str, Overrides] = {}
    for entry, path in zip(loaded.sheet.playlist, loaded.track_paths, strict=True):
        grid = (entry.grid.bpm, entry.grid.offset) if entry.grid is not None else None
        found = Overrides(tempo=entry.tempo, first_downbeat=entry.first_downbeat, grid=grid)
        if found:
            result[str(path)] = found
    return result


def _analyses(paths: Sequence[Path | str], overrides: dict[str, Overrides] | None = None) -> list[TrackAnalysis]:
    """Analyse (or read from the cache) with progress on stderr: a fresh playlist takes a few seconds."""
    with AnalysisProgress(err_console, len(paths)) as progress:
        return analyze_paths(list(paths), on_progress=progress, overrides=overrides)


@dataclass(frozen=True)
class Show:
    loaded: LoadedCueSheet
    rig: Rig
    rig_path: Path
    timeline: Timeline
    analyses: tuple[TrackAnalysis, ...]

    def recompile(self, edits: tuple[PlanEdit, ...]) -> Timeline:
        """The timeline with the instructor's edits so far (same music, same rig)."""
        return compile_timeline(self.loaded, self.analyses, self.rig, edits)


def _rig_path(loaded: LoadedCueSheet, rig_file: str | None) -> Path:
    if rig_file is not None:
        return Path(rig_file)
    if loaded.rig_path is None:
        raise ProblemsError([Problem(loaded.location(()), "no rig: give 'rig:' in the cue file or --rig RIGFILE")])
    return loaded.rig_path


def load_show(cuefile: str, rig_file: str | None) -> Show:
    """Cue file + rig + analyses → compiled timeline (raises ShowctlError with locations)."""
    loaded = load_cue_sheet(cuefile)  # the cue file's own problems come before any rig or audio work
    rig_path = _rig_path(loaded, rig_file)
    rig = load_rig(rig_path)
    problems = check_against_rig(loaded, rig)
    if problems:
        raise ProblemsError(problems)
    try:
        analyses = _analyses(loaded.track_paths, overrides=_overrides(loaded))
    except AnalysisError as err:
        raise track_problem(loaded, err) from None  # located at its playlist entry in the cue file
    beatless = [Problem(loaded.location(("playlist", i, "track")),
                        f"no steady beat found in {a.path}: give this entry a 'grid: {{bpm: …, offset: …}}' "
                        "or a 'tempo:' hint")
                for i, a in enumerate(analyses) if not a.beats or a.tempo <= 0]
    if beatless:
        raise ProblemsError(beatless)  # lights cannot follow a beat that is not there
    _warn_low_confidence(analyses)
    return Show(loaded, rig, rig_path, compile_timeline(loaded, analyses, rig), tuple(analyses))


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
    _warn_low_confidence([r for r in results if r.beats])
    return 1 if failed else 0


def _warn_low_confidence(results: Sequence[TrackAnalysis]) -> None:
    for r in results:
        # A fixed grid from the cue file is the tech's word: no warning about the tracker's confidence.
        if r.confidence < LOW_CONFIDENCE and "grid" not in r.overrides:
            err_console.print(f"warning: {r.path}: low beat-grid confidence {r.confidence:.2f}; check the grid")


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
                load_show(file, None)
        except ProblemsError as err:
            failed = True
            for problem in err.problems:
                print(problem)
        except ShowctlError as err:
            failed = True
            print(Problem(Location(file), str(err)))
        else:
            print(f"ok {file}")
    return 1 if failed else 0


# -- timeline / plan ----------------------------------------------------------------------------------
def timeline(cuefile: str, rig_file: str | None, *, as_json: bool) -> int:
    show = load_show(cuefile, rig_file)
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
    show = load_show(cuefile, rig_file)
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
@contextmanager
def _simulated_rig(rig: Rig, on_receive: Callable[[Received], None] | None = None) -> Iterator[SimulatedRig]:
    """The simulated rig for `rig`, with a JACK server when it has MIDI outputs."""
    with ExitStack() as stack:
        if any(o.transport == "midi" for o in rig.outputs.values()):
            stack.enter_context(JackServer())
        yield stack.enter_context(SimulatedRig(rig, on_receive=on_receive))


def _open_outputs(rig: Rig, stack: ExitStack, *, resilient: bool = False,
                  on_status: Callable[[str], None] | None = None) -> dict[str, Output]:
    """Every output of `rig`. `resilient` (a class): an output that is down at start or drops out later is
    reported in one line (`on_status`) and reconnected in the background while the class keeps time."""
    outputs: dict[str, Output] = {}
    for name, config in rig.outputs.items():
        if resilient:
            output: Output = open_resilient_output(
                name, config, rig=rig, on_status=on_status or TERMINAL_REPORT.warn)
        else:
            output = open_output(name, rig)
        stack.callback(output.close)
        outputs[name] = output
    return outputs


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
    show = load_show(cuefile, rig_file)
    events = show.timeline.events
    # DMX goes out as whole frames at the output's frame rate, not one packet per message: a DMX output is
    # checked by the look its last frame carries once the class has been sent (every fade done).
    dmx = {name for name, config in show.rig.outputs.items() if config.transport == "dmx"}
    with _simulated_rig(show.rig) as sim, ExitStack() as stack:
        outputs = _open_outputs(sim.rig_for_outputs, stack)
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
        raise DeviceError(f"simulated rig ({what})", f"messages did not arrive within 5 s: {missing}")


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


def _audio_clock(show: Show, start: float, speed: float, no_audio: bool, stack: ExitStack,
                 note: Callable[[str], None] = err_console.print) -> Clock:
    """The audio device's DAC clock when the class plays its music here, else the monotonic clock."""
    if no_audio or speed != 1:
        why = "--no-audio" if no_audio else f"--speed {speed:g}"
        note(f"no audio ({why}): lights run on the monotonic clock")
        return MonotonicClock(speed=speed, start=start)
    reason = audio_unavailable_reason()
    if reason is None:
        try:
            audio = stack.enter_context(AudioClock(show.timeline.tracks, start=start))
        except DeviceError as err:
            reason = str(err)
        else:
            note(f"audio: playing the playlist; lights locked to the DAC clock "
                 f"(output latency {audio.latency * 1000:.1f} ms)")
            return audio
    note(f"no audio: {reason}; lights run on the monotonic clock")
    return MonotonicClock(speed=speed, start=start)


@dataclass(frozen=True)
class ClassReport:
    """Where a class's one-line notes go: the terminal for `showctl run`, the page for `showctl serve`."""

    note: Callable[[str], None]
    warn: Callable[[str], None]
    error: Callable[[str], None]


TERMINAL_REPORT = ClassReport(note=err_console.print,
                              warn=lambda text: err_console.print(f"[yellow]{text}[/yellow]"),
                              error=lambda text: err_console.print(f"[red]{text}[/red]"))


@dataclass
class ClassRun:
    """A class ready to play: outputs open, schedule built, music (or the monotonic clock) started, the
    instructor's controls wired. `play()` runs it to its end on the calling thread, safe scene included."""

    show: Show
    start: float
    player: Player
    controller: Controller
    clock: Clock
    sim_rig: SimulatedRig | None
    report: ClassReport

    def play(self) -> PlayResult:
        result = self.player.play(self.start)
        if self.sim_rig is not None:
            # Let the simulated rig take in the last messages (the safe scene) before it closes.
            sent = {n: h.sent for n, h in result.health.items()}
            if not self.sim_rig.wait_for(sent, timeout=2.0):
                missing = {n: sent[n] - self.sim_rig.counts[n] for n in sent if self.sim_rig.counts[n] < sent[n]}
                self.report.error(f"the simulated rig missed messages: {missing}")
        return result


@contextmanager
def open_class(show: Show, *, start: float = 0.0, speed: float = 1.0, sim: bool = False, no_audio: bool = False,
               on_receive: Callable[[Received], None] | None = None, report: ClassReport = TERMINAL_REPORT,
               control_host: str = "127.0.0.1", control_port: int | None = 9650) -> Iterator[ClassRun]:
    """Everything `showctl run` and the class screen (`showctl serve`) do before the first cue, in order:
    the simulated rig (`sim`, telling `on_receive` what arrives), the outputs, the prepared schedule, the
    clock (the music starts here) and the controls (plus the OSC remote, unless `control_port` is None).
    Closing it closes the outputs, the music and the simulated rig."""
    tl = show.timeline
    with ExitStack() as stack:
        rig, sim_rig = show.rig, None
        if sim:
            sim_rig = stack.enter_context(_simulated_rig(rig, on_receive))
            rig = sim_rig.rig_for_outputs
            outputs_text = ", ".join(f"{n} ({o.transport})" for n, o in show.rig.outputs.items())
            shown = "" if on_receive is None else " — lines below are what it received"
            report.note(f"simulated rig: {outputs_text}{shown}")
        outputs = _open_outputs(rig, stack, resilient=True, on_status=report.warn)
        notes = [f"{len(tl.plan)} parts", format_clock(tl.duration)]
        notes += [f"from {format_clock(start)}"] if start else []
        notes += [f"{speed:g}× speed"] if speed != 1 else []
        report.note(f"class '{show.loaded.sheet.name}': {', '.join(notes)}")
        player = Player(tl, outputs, MonotonicClock(speed=speed, start=start),
                        on_error=lambda text: report.error(f"output error: {text}"))
        player.prepare(start)
        # A full garbage collection with an hour of events in memory takes 100-200 ms: lights would be that
        # late whenever one ran. What is loaded now lives until the end of the class anyway.
        gc.collect()
        gc.freeze()
        stack.callback(gc.unfreeze)  # a server runs more than one class: let the next one collect this one
        clock = _audio_clock(show, start, speed, no_audio, stack, report.note)  # the music starts here
        player.clock = clock
        controller = Controller(player, show.rig, show.loaded.sheet.backwards_kinds, show.recompile)
        if control_port is not None:
            try:
                stack.enter_context(osc_remote(controller, control_host, control_port))
                report.note(f"remote controls: OSC /showctl/next, /showctl/blackout … on "
                            f"{control_host}:{control_port}")
            except DeviceError as err:
                report.warn(f"no remote controls: {err}")  # the class goes on without them
        yield ClassRun(show, start, player, controller, clock, sim_rig, report)


def run(cuefile: str, rig_file: str | None, *, speed: float, start: float, sim: bool, no_audio: bool = False,
        control_host: str = "127.0.0.1", control_port: int = 9650, live: bool = False, source: str = "auto",
        midi_in: str | None = None, audio_in: str | None = None) -> int:
    if live:  # the music plays elsewhere: the plan runs in wall-clock time on a live beat source
        from showctl.cli.live_run import run_live

        return run_live(cuefile, rig_file, source=source, midi_in=midi_in, audio_in=audio_in, sim=sim, speed=speed,
                        start=start)
    show = load_show(cuefile, rig_file)
    tl = show.timeline
    if start >= tl.duration:
        raise ShowctlError(f"--from {format_clock(start)} is after the end of the class ({format_clock(tl.duration)})")
    live = out_console.is_terminal
    display = _RunDisplay(show, start)
    with ExitStack() as stack:
        session = stack.enter_context(open_class(
            show, start=start, speed=speed, sim=sim, no_audio=no_audio,
            on_receive=None if live else display.received, control_host=control_host, control_port=control_port))
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
    ending = "stopped by the instructor" if result.stopped else "finished"
    err_console.print(f"class {ending}: {result.sent} messages sent; safe scene sent")
    return 0
