"""A live class ready to play, for every front end (`showctl run --live`, the class screen, tests).

`open_live_class` does what `showctl.show.open_class` does for a class on its analysed playlist, for a
class whose music plays elsewhere: the simulated rig (rehearsals), the beat source(s), the instructor's
corrections (`Steered`) and taps, the outputs, the `LivePlayer` and its `LiveController` (plus the OSC
remote, unless `control_port` is None). `check_sources` opens each source once and closes it: what the class
screen shows before Start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from showctl.errors import DeviceError, ShowctlError
from showctl.live.line_in import LineInSource
from showctl.live.link import LinkSource
from showctl.live.midi_clock import MidiClockSource
from showctl.live.model import BeatSource
from showctl.live.steer import FallbackSource, Steered
from showctl.live.tap import TapTempo
from showctl.player import MonotonicClock, PlayResult
from showctl.player.live import LivePlayer
from showctl.player.live_controls import LiveController
from showctl.player.live_plan import LivePlan, LivePlanner
from showctl.player.remote import osc_remote
from showctl.show import LOG_REPORT, ClassReport, Rehearsal, StandIn, freeze_what_is_loaded, open_outputs, settle
from showctl.timeline.model import Event
from showctl.units import format_clock

__all__ = ["AUTO_ORDER", "SOURCES", "LiveClass", "SourceCheck", "SourceInputs", "check_sources", "open_live_class",
           "open_sources"]

AUTO_ORDER = ("link", "midi-clock", "audio", "tap")  # the order a studio wants them in
SOURCES = ("auto", *AUTO_ORDER)


@dataclass(frozen=True)
class SourceInputs:
    """The ports the instructor named: `--midi-in` and `--audio-in` (None: a virtual input, the default input)."""

    midi_in: str | None = None
    audio_in: str | None = None


def check_source_args(source: str, inputs: SourceInputs) -> None:
    """The source and ports make sense together (ShowctlError, one line, when not)."""
    if inputs.midi_in is not None and source not in ("midi-clock", "auto"):
        raise ShowctlError(f"--midi-in is for --source midi-clock (the source is '{source}')")
    if inputs.audio_in is not None and source not in ("audio", "auto"):
        raise ShowctlError(f"--audio-in is for --source audio (the source is '{source}')")
    if source not in SOURCES:
        raise ShowctlError(f"unknown beat source '{source}' (choose from {', '.join(SOURCES)})")


def open_one(name: str, inputs: SourceInputs, tap: TapTempo, stack: ExitStack) -> tuple[BeatSource, str]:
    """One source, opened (ShowctlError, one line, when it cannot be) and what to call it."""
    if name == "tap":
        return tap, "tap (keys t and 1)"
    if name == "link":
        link = stack.enter_context(LinkSource())
        return link, "link (Ableton Link)"
    if name == "midi-clock":
        clock_in = stack.enter_context(MidiClockSource(inputs.midi_in))
        return clock_in, f"midi-clock ({clock_in.port_name})"
    line_in = stack.enter_context(LineInSource(inputs.audio_in))
    return line_in, f"audio ({line_in.device_name})"


def open_sources(source: str, inputs: SourceInputs, tap: TapTempo, stack: ExitStack, *,
                 notice: Callable[[str], None], on_missing: Callable[[str], None]) -> tuple[BeatSource, str]:
    """The source asked for, or with `auto` every source that opens, in `AUTO_ORDER` behind a fall-back
    (`on_missing` gets `name: why` for each that does not open)."""
    if source != "auto":
        return open_one(source, inputs, tap, stack)
    opened: list[tuple[BeatSource, str]] = []
    missing: list[str] = []
    for name in AUTO_ORDER:
        try:
            opened.append(open_one(name, inputs, tap, stack))
        except ShowctlError as err:
            missing.append(f"{name}: {err}")
    for line in missing:
        on_missing(line)
    fallback = FallbackSource([s for s, _ in opened], on_change=notice)
    return fallback, "auto: " + " → ".join(label for _, label in opened)


@dataclass(frozen=True)
class SourceCheck:
    """One source tried before class: does it open, and what it says (port, device, Link peers)."""

    name: str
    ok: bool
    detail: str


def check_sources(source: str, inputs: SourceInputs) -> tuple[SourceCheck, ...]:
    """Open each source the class would use (all of `AUTO_ORDER` for `auto`) and close it again."""
    names = AUTO_ORDER if source == "auto" else (source,)
    found: list[SourceCheck] = []
    for name in names:
        with ExitStack() as stack:
            try:
                opened, label = open_one(name, inputs, TapTempo(), stack)
            except ShowctlError as err:
                found.append(SourceCheck(name, False, str(err)))
                continue
            detail = label
            if isinstance(opened, LinkSource):
                time.sleep(0.3)  # Link finds the session's peers within a few hundred ms; this is a one-off check
                peers = opened.peers
                detail += f": {peers} peer{'s' if peers != 1 else ''}"
                detail += "" if peers else " yet (start Link in the DJ app)"
            elif name == "tap":
                detail = "tap: the Tap button (or key t) and This is the one (key 1)"
            found.append(SourceCheck(name, True, detail))
    return tuple(found)


@dataclass
class LiveClass:
    """A live class ready to play: sources open, outputs open, controls wired. `play()` runs it to its end
    on the calling thread, safe scene included."""

    plan: LivePlan
    player: LivePlayer
    steered: Steered
    tap: TapTempo
    controller: LiveController
    opened: str  # where the beat comes from, as announced
    notices: list[str]
    sim_rig: StandIn | None
    report: ClassReport
    sent: list[Event] = field(default_factory=list)

    def play(self) -> PlayResult:
        return settle(self.player.play(), self.sim_rig, self.report)


@contextmanager
def open_live_class(plan: LivePlan, *, source: str = "auto", inputs: SourceInputs = SourceInputs(),
                    rehearsal: Rehearsal | None = None, report: ClassReport = LOG_REPORT,
                    on_notice: Callable[[str], None] | None = None,
                    on_missing: Callable[[str], None] | None = None,
                    on_event: Callable[[Event], None] | None = None, control_host: str = "127.0.0.1",
                    control_port: int | None = None, control_secret: str | None = None) -> Iterator[LiveClass]:
    """Everything before the first cue of a live class, in order: the stand-in of a `rehearsal`, the beat
    source(s) (`on_missing`: those `auto` could not open), the outputs,
    the player on the monotonic clock (every source keeps `time.monotonic`), the controls (plus the OSC
    remote, unless `control_port` is None). `on_notice` gets each line the class says (sources, controls).
    Closing it closes the sources, the outputs and the stand-in."""
    check_source_args(source, inputs)
    rig = plan.rig
    with ExitStack() as stack:
        out_rig, sim_rig = rig, None
        if rehearsal is not None:
            sim_rig = stack.enter_context(rehearsal.stand_in(rig))
            out_rig = sim_rig.rig_for_outputs
            report.note(f"simulated rig: {', '.join(f'{n} ({o.transport})' for n, o in rig.outputs.items())}")
            if (warning := sim_rig.midi_warning()) is not None:
                report.warn(warning)
        notices: list[str] = []

        def notice(text: str) -> None:
            notices.append(text)
            del notices[:-5]
            if on_notice is not None:
                on_notice(text)

        tap = TapTempo()
        beat, opened = open_sources(source, inputs, tap, stack, notice=notice, on_missing=on_missing or report.note)
        steered = Steered(beat)
        outputs = open_outputs(out_rig, stack, resilient=True, on_status=report.warn)
        clock = MonotonicClock()
        # Every source keeps time.monotonic() (taps are stamped with it too).
        offset = time.monotonic() - clock.now()
        player = LivePlayer(LivePlanner(plan), steered, outputs, clock, source_offset=offset, on_event=on_event,
                            on_error=lambda text: report.error(f"output error: {text}"), on_notice=notice)
        controller = LiveController(player, steered, tap, notice=notice)
        freeze_what_is_loaded(stack)
        if control_port is not None:
            try:
                stack.enter_context(osc_remote(controller, control_host, control_port, secret=control_secret,
                                               warn=report.warn))
                report.note(f"remote controls: OSC /showctl/tap, /showctl/one … on {control_host}:{control_port}")
            except DeviceError as err:
                report.warn(f"no remote controls: {err}")  # the class goes on without them
        cap = f", cap {format_clock(plan.cap)}" if plan.cap is not None else ", until you quit"
        report.note(f"live class '{plan.sheet_name}': {len(plan.parts)} parts{cap}; beat from {opened}")
        yield LiveClass(plan, player, steered, tap, controller, opened, notices, sim_rig, report)
