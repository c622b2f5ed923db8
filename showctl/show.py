"""A class ready to play, for every front end (`showctl run`, the class screen, tests): the cue file, its rig
and its analysed playlist compiled into a `Show`; `open_class` opens the outputs, starts the music (or the
monotonic clock) and wires the instructor's controls. Front ends say where notes go through a `ClassReport`.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from showctl.analysis import TrackAnalysis, analyze_paths
from showctl.analysis.model import GridCheck
from showctl.analysis.overrides import Overrides
from showctl.cues.check import check_against_rig
from showctl.cues.load import LoadedCueSheet, load_cue_sheet, track_problem
from showctl.errors import AnalysisError, DeviceError, Problem, ProblemsError
from showctl.outputs import Output, open_output
from showctl.outputs.resilient import open_resilient_output
from showctl.player import Clock, MonotonicClock, Player, PlayResult
from showctl.player.audio import AudioClock, audio_unavailable_reason
from showctl.player.clock import LateClock
from showctl.player.controls import Controller
from showctl.player.guardian import start_guardian
from showctl.player.player import CLOCK_TICK_LATE
from showctl.player.remote import osc_remote
from showctl.rig import Rig, load_rig
from showctl.timeline import PlanEdit, Timeline, compile_timeline
from showctl.units import format_clock

__all__ = [
    "LOG_REPORT",
    "Analyse",
    "ClassReport",
    "ClassRun",
    "Rehearsal",
    "Show",
    "StandIn",
    "analyse_quietly",
    "audio_clock",
    "freeze_what_is_loaded",
    "grid_checks",
    "load_show",
    "low_confidence_warnings",
    "open_class",
    "open_outputs",
    "overrides_for",
    "rig_path_for",
    "settle",
]

log = logging.getLogger("showctl")


class StandIn(Protocol):
    """What receives a rehearsal's messages instead of the studio's rig (the simulated rig, `showctl.sim`):
    the rig rewired to reach it, and how many messages each output has delivered to it so far."""

    @property
    def rig_for_outputs(self) -> Rig: ...

    @property
    def counts(self) -> Mapping[str, int]: ...

    def wait_for(self, counts: dict[str, int], timeout: float) -> bool: ...

    def midi_warning(self) -> str | None:
        """Said before the class when the stand-in may lose MIDI (a JACK without realtime), else None."""

    def loss_reason(self) -> str:
        """Why messages may be missing, to follow a count of them ("" when nothing explains it)."""


@dataclass(frozen=True)
class Rehearsal:
    """A class played to a stand-in rather than the studio's rig. The front end chooses it and says what
    stands in (`showctl run --sim` and the class screen: the simulated rig), so the product core never
    imports the simulator. `echoes`: the front end shows each message the stand-in receives."""

    stand_in: Callable[[Rig], AbstractContextManager[StandIn]]
    echoes: bool = False


Analyse = Callable[[Sequence[Path | str], dict[str, Overrides]], list[TrackAnalysis]]


@dataclass(frozen=True)
class ClassReport:
    """Where a class's one-line notes go: the terminal for `showctl run`, the page for `showctl serve`."""

    note: Callable[[str], None]
    warn: Callable[[str], None]
    error: Callable[[str], None]



LOG_REPORT = ClassReport(note=log.info, warn=log.warning, error=log.error)


def analyse_quietly(paths: Sequence[Path | str], overrides: dict[str, Overrides]) -> list[TrackAnalysis]:
    """The playlist's analyses (from the cache when there), without progress output."""
    return analyze_paths(list(paths), overrides=overrides)


def overrides_for(loaded: LoadedCueSheet) -> dict[str, Overrides]:
    """The cue file's per-track corrections (tempo hint, first downbeat, fixed grid), keyed as analysed."""
    result: dict[str, Overrides] = {}
    for entry, path in zip(loaded.sheet.playlist, loaded.track_paths, strict=True):
        grid = (entry.grid.bpm, entry.grid.offset) if entry.grid is not None else None
        found = Overrides(tempo=entry.tempo, first_downbeat=entry.first_downbeat, grid=grid, nudge=entry.nudge)
        if found:
            result[str(path)] = found
    return result



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



def rig_path_for(loaded: LoadedCueSheet, rig_file: str | Path | None) -> Path:
    """`--rig RIGFILE` when given, else the cue file's `rig:`."""
    if rig_file is not None:
        return Path(rig_file)
    if loaded.rig_path is None:
        raise ProblemsError([Problem(loaded.location(()), "no rig: give 'rig:' in the cue file or --rig RIGFILE")])
    return loaded.rig_path



def grid_checks(analysis: TrackAnalysis) -> list[str]:
    """`TrackAnalysis.grid_checks` in words: where a track's beat grid should be checked by ear, and for a
    doubted phase the playlist-entry line that fixes it."""
    return [_grid_check(c) for c in analysis.grid_checks]


# How far a doubted grid may be off, in words, and the `nudge:` that moves it back (`showctl.units.parse_nudge`:
# positive moves the beats later). Half a beat later is half a beat earlier: one grid, one nudge.
_PHASE_WORDS = {0.5: ("half a beat", "half beat"), -0.5: ("half a beat", "half beat"),
                0.25: ("a quarter beat early", "quarter beat"), -0.25: ("a quarter beat late", "-quarter beat")}


def _phase_words(shift: float) -> tuple[str, str]:
    """(how far off, the `nudge:` value that fixes it) for a grid whose likeliest other phase is `shift` beats
    later; a shift the phase doubt does not make (a cache entry can hold any in -0.5..0.5) as a number."""
    if shift in _PHASE_WORDS:
        return _PHASE_WORDS[shift]
    return f"{abs(shift):.2g} of a beat {'early' if shift > 0 else 'late'}", f"{shift:.2g} beat"


def _grid_check(c: GridCheck) -> str:
    if c.bar_shift is not None and c.first_downbeat is not None:
        later = "a beat" if c.bar_shift == 1 else f"{c.bar_shift} beats"
        return (f"bar 1 may be {later} later (the bar lines hardly stand out), confidence {c.confidence:.2f}; "
                f"listen at {format_clock(c.listen or 0.0)} and if so set 'first_downbeat: "
                f"{format_clock(c.first_downbeat)}' in its playlist entry")
    if c.phase_shift is None:
        return (f"low beat-grid confidence {c.confidence:.2f}; check the grid" if c.section is None else
                f"{format_clock(c.start)}–{format_clock(c.end)} {c.section}: low beat-grid confidence "
                f"{c.confidence:.2f}; check the grid there")
    off, nudge = _phase_words(c.phase_shift)
    if c.section is None:
        # The nudge moves the bars with the beats; `first_downbeat:` (taken on the nudged beats) then says
        # where bar 1 is, if it is not.
        return (f"beats may be {off} off (on the snare or hats rather than the kick), confidence "
                f"{c.confidence:.2f}; listen at {format_clock(c.listen or 0.0)} and if so set 'nudge: {nudge}' "
                "in its playlist entry (and 'first_downbeat:' if bar 1 is then wrong), or a 'grid:'")
    # A nudge moves the whole track: a part of it is fixed only by a grid.
    return (f"{format_clock(c.start)}–{format_clock(c.end)} {c.section}: beats may be {off} off there (on the "
            f"snare or hats rather than the kick), confidence {c.confidence:.2f}; listen there and if so set a "
            "'grid:' in its playlist entry")


def low_confidence_warnings(results: Sequence[TrackAnalysis]) -> list[str]:
    """One warning line per `grid_checks` item, naming the track's file."""
    return [f"warning: {r.path}: {check}" for r in results for check in grid_checks(r)]


def load_show(cuefile: str | Path, rig_file: str | Path | None = None, *, analyse: Analyse = analyse_quietly,
              report: ClassReport = LOG_REPORT) -> Show:
    """Cue file + rig + analyses → compiled timeline (raises ShowctlError with locations). `analyse` reads
    the playlist (the command line passes one that shows progress); low confidence goes to `report.warn`."""
    loaded = load_cue_sheet(cuefile)  # the cue file's own problems come before any rig or audio work
    rig_path = rig_path_for(loaded, rig_file)
    rig = load_rig(rig_path)
    problems = check_against_rig(loaded, rig)
    if problems:
        raise ProblemsError(problems)
    try:
        analyses = analyse(loaded.track_paths, overrides_for(loaded))
    except AnalysisError as err:
        raise track_problem(loaded, err) from None  # located at its playlist entry in the cue file
    beatless = [Problem(loaded.location(("playlist", i, "track")),
                        f"no steady beat found in {a.path}: give this entry a 'grid: {{bpm: …, offset: …}}' "
                        "or a 'tempo:' hint")
                for i, a in enumerate(analyses) if not a.beats or a.tempo <= 0]
    if beatless:
        raise ProblemsError(beatless)  # lights cannot follow a beat that is not there
    for line in low_confidence_warnings(analyses):
        report.warn(line)
    timeline = compile_timeline(loaded, analyses, rig)
    for problem in timeline.warnings:  # the class runs; the tech should still know (e.g. flashes thinned)
        report.warn(f"warning: {problem}")
    return Show(loaded, rig, rig_path, timeline, tuple(analyses))



def open_outputs(rig: Rig, stack: ExitStack, *, resilient: bool = False,
                  on_status: Callable[[str], None] | None = None,
                  class_time: Callable[[], float] = time.monotonic) -> dict[str, Output]:
    """Every output of `rig`. `resilient` (a class): an output that is down at start or drops out later is
    reported in one line (`on_status`) and reconnected in the background while the class keeps time. DMX
    fades run on `class_time`."""
    outputs: dict[str, Output] = {}
    if resilient:
        # A class: should showctl be killed outright, its guardian sends the safe scene (`done` at a clean exit,
        # after the outputs below have closed).
        guardian = start_guardian(rig)
        if guardian is None:
            (on_status or LOG_REPORT.warn)("no guardian process: a hard kill (kill -9) would leave the last look")
        else:
            stack.callback(guardian.done)
    for name, config in rig.outputs.items():
        if resilient:
            output: Output = open_resilient_output(
                name, config, rig=rig, on_status=on_status or LOG_REPORT.warn, class_time=class_time)
        else:
            output = open_output(name, rig)
        stack.callback(output.close)
        outputs[name] = output
    return outputs



def audio_clock(show: Show, start: float, speed: float, no_audio: bool, stack: ExitStack,
                 note: Callable[[str], None] = log.info) -> Clock:
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



def settle(result: PlayResult, sim_rig: StandIn | None, report: ClassReport) -> PlayResult:
    """`result`, once the simulated rig (if any) has taken in the last messages (the safe scene) before it
    closes; what never arrived is reported, and so are the overdue MIDI clock ticks the player left out."""
    dropped = {n: h.dropped_ticks for n, h in result.health.items() if h.dropped_ticks}
    if dropped:
        report.warn(f"MIDI clock ticks left out rather than sent in a burst, the player being more than "
                    f"{CLOCK_TICK_LATE * 1000:.0f} ms behind: {dropped} (consoles counting ticks are that many "
                    f"behind in the bar until the next start or song position)")
    if sim_rig is not None:
        sent = {n: h.sent for n, h in result.health.items()}
        if not sim_rig.wait_for(sent, timeout=2.0):
            missing = {n: sent[n] - sim_rig.counts[n] for n in sent if sim_rig.counts[n] < sent[n]}
            report.error(f"the simulated rig missed messages: {missing}{sim_rig.loss_reason()}")
    return result


def freeze_what_is_loaded(stack: ExitStack) -> None:
    """Keep the garbage collector off everything loaded so far, until `stack` closes. A full collection with
    an hour of events (or numpy, librosa and the tracker) in memory takes 40-200 ms: lights would be that late
    whenever one ran. What is loaded before the first cue lives until the end of the class anyway."""
    gc.collect()
    gc.freeze()
    stack.callback(gc.unfreeze)  # a server runs more than one class: let the next one collect this one


@dataclass
class ClassRun:
    """A class ready to play: outputs open, schedule built, music (or the monotonic clock) started, the
    instructor's controls wired. `play()` runs it to its end on the calling thread, safe scene included."""

    show: Show
    start: float
    player: Player
    controller: Controller
    clock: Clock
    sim_rig: StandIn | None
    report: ClassReport

    def play(self) -> PlayResult:
        return settle(self.player.play(self.start), self.sim_rig, self.report)



@contextmanager
def open_class(show: Show, *, start: float = 0.0, speed: float = 1.0, rehearsal: Rehearsal | None = None,
               no_audio: bool = False, report: ClassReport = LOG_REPORT,
               control_host: str = "127.0.0.1", control_port: int | None = 9650,
               control_secret: str | None = None) -> Iterator[ClassRun]:
    """Everything `showctl run` and the class screen (`showctl serve`) do before the first cue, in order:
    the stand-in of a `rehearsal`, the outputs, the prepared schedule, the
    clock (the music starts here) and the controls (plus the OSC remote, unless `control_port` is None; with
    `control_secret`, the first argument of every control message). Closing it closes the outputs, the music
    and the stand-in."""
    tl = show.timeline
    with ExitStack() as stack:
        rig, sim_rig = show.rig, None
        if rehearsal is not None:
            sim_rig = stack.enter_context(rehearsal.stand_in(rig))
            rig = sim_rig.rig_for_outputs
            outputs_text = ", ".join(f"{n} ({o.transport})" for n, o in show.rig.outputs.items())
            shown = " — lines below are what it received" if rehearsal.echoes else ""
            report.note(f"simulated rig: {outputs_text}{shown}")
            if (warning := sim_rig.midi_warning()) is not None:
                report.warn(warning)
        # DMX fades follow the class clock (faster in a rehearsal, still while paused); it starts below.
        class_time = LateClock(start)
        outputs = open_outputs(rig, stack, resilient=True, on_status=report.warn, class_time=class_time.now)
        notes = [f"{len(tl.plan)} parts", format_clock(tl.duration)]
        notes += [f"from {format_clock(start)}"] if start else []
        notes += [f"{speed:g}× speed"] if speed != 1 else []
        report.note(f"class '{show.loaded.sheet.name}': {', '.join(notes)}")
        player = Player(tl, outputs, MonotonicClock(speed=speed, start=start),
                        on_error=lambda text: report.error(f"output error: {text}"))
        player.prepare(start)
        freeze_what_is_loaded(stack)
        clock = audio_clock(show, start, speed, no_audio, stack, report.note)  # the music starts here
        player.clock = class_time.clock = clock
        controller = Controller(player, show.rig, show.loaded.sheet.backwards_kinds, show.recompile)
        if control_port is not None:
            try:
                stack.enter_context(osc_remote(controller, control_host, control_port, secret=control_secret,
                                               warn=report.warn))
                secret = " (each with the shared secret first)" if control_secret is not None else ""
                report.note(f"remote controls: OSC /showctl/next, /showctl/blackout … on "
                            f"{control_host}:{control_port}{secret}")
            except DeviceError as err:
                report.warn(f"no remote controls: {err}")  # the class goes on without them
        yield ClassRun(show, start, player, controller, clock, sim_rig, report)

