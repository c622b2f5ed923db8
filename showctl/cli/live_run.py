"""`showctl run CUEFILE --live`: the class plan in wall-clock time, the lights on a live beat source.

The music plays elsewhere (a phone into the mixer, the DJ booth): no track is analysed. The beat comes
from `--source link` (an Ableton Link session), `midi-clock` (`--midi-in PORT`, or a virtual input to
connect), `audio` (the default input, or `--audio-in DEVICE`), `tap` (keys `t` and `1`), or `auto`:
every source that can be opened, the beat from the first one locked in that order, each change announced.
Keys: `t` tap, `1` this is the one, `x` double (x2) and `/` halve (/2) the tempo, `f` freeze the tempo,
`q` twice to quit; Ctrl-C works too. Every exit sends the safe scene.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from showctl.cli.commands import TERMINAL_REPORT, err_console, out_console
from showctl.cli.live import LiveSourceScreen, keyboard
from showctl.cues.load import check_against_rig, load_cue_sheet
from showctl.errors import ProblemsError, ShowctlError
from showctl.live import (
    BeatSource,
    FallbackSource,
    LineInSource,
    LinkSource,
    MidiClockSource,
    Steered,
    TapTempo,
)
from showctl.live.plan import LivePlanner, live_plan
from showctl.outputs import load_rig
from showctl.player import MonotonicClock
from showctl.player.controls import QUIT_CONFIRM_SECONDS
from showctl.player.live import LivePlayer
from showctl.show import open_outputs, rig_path_for, simulated_rig
from showctl.sim import Received
from showctl.timeline.model import Event
from showctl.units import format_clock

__all__ = ["AUTO_ORDER", "SOURCES", "run_live"]

AUTO_ORDER = ("link", "midi-clock", "audio", "tap")  # the order a studio wants them in
SOURCES = ("auto", *AUTO_ORDER)


def run_live(cuefile: str, rig_file: str | None, *, source: str, midi_in: str | None, sim: bool,
             audio_in: str | None = None, speed: float = 1.0, start: float = 0.0) -> int:
    if speed != 1 or start:
        raise ShowctlError("--speed and --from do not apply to --live: the music sets the time")
    if midi_in is not None and source not in ("midi-clock", "auto"):
        raise ShowctlError(f"--midi-in is for --source midi-clock (the source is '{source}')")
    if audio_in is not None and source not in ("audio", "auto"):
        raise ShowctlError(f"--audio-in is for --source audio (the source is '{source}')")
    if source not in SOURCES:
        raise ShowctlError(f"unknown beat source '{source}' (choose from {', '.join(SOURCES)})")
    loaded = load_cue_sheet(cuefile)
    rig = load_rig(rig_path_for(loaded, rig_file))
    problems = check_against_rig(loaded, rig)
    if problems:
        raise ProblemsError(problems)
    plan = live_plan(loaded, rig)
    screen_on = out_console.is_terminal
    with ExitStack() as stack:
        out_rig = rig
        if sim:
            out_rig = stack.enter_context(simulated_rig(rig, None if screen_on else _print_received)).rig_for_outputs
            err_console.print(f"simulated rig: {', '.join(f'{n} ({o.transport})' for n, o in rig.outputs.items())}")
        notices: list[str] = []

        def notice(text: str) -> None:
            notices.append(text)
            del notices[:-5]
            if not screen_on:
                err_console.print(f"[yellow]{text}[/yellow]")

        tap = TapTempo()
        beat, opened = _open_sources(source, _Inputs(midi_in, audio_in), tap, stack, notice)
        steered = Steered(beat)
        outputs = open_outputs(out_rig, stack, resilient=True, on_status=TERMINAL_REPORT.warn)
        clock = MonotonicClock()
        # Every source keeps time.monotonic() (tap keys are stamped with it too).
        offset = time.monotonic() - clock.now()
        player = LivePlayer(
            LivePlanner(plan), steered, outputs, clock, source_offset=offset,
            on_event=None if sim or screen_on else lambda e: _print_event(e, rig.transport_of(e.output)),
            on_error=lambda text: err_console.print(f"[red]output error: {text}[/red]"),
            on_notice=notice)
        cap = f", cap {format_clock(plan.cap)}" if plan.cap is not None else ", until you quit"
        err_console.print(f"live class '{plan.sheet_name}': {len(plan.parts)} parts{cap}; beat from {opened}")
        if screen_on:
            from rich.live import Live

            screen = LiveSourceScreen(plan.sheet_name, player, steered, notices)
            stack.enter_context(Live(screen, console=out_console, refresh_per_second=8, screen=False))
        stack.enter_context(keyboard(_live_keys(player, steered, tap, notice)))
        result = player.play()
    ending = "stopped by the instructor" if result.stopped else "finished"
    err_console.print(f"class {ending}: {result.sent} messages sent; safe scene sent")
    return 0


def _print_event(event: Event, transport: str) -> None:
    if event.kind == "scene" or event.kind == "safe":
        out_console.print(f"[bold cyan]{format_clock(event.t)}  {event.output:<10} {transport:<4} {event.message}"
                          f"  ({event.reason})[/bold cyan]")
    else:
        out_console.print(f"{format_clock(event.t)}  {event.output:<10} {transport:<4} {event.message}")


def _print_received(item: Received) -> None:
    out_console.print(f"rig: {item.output:<10} {item.transport:<4} {item.message}")


@dataclass(frozen=True)
class _Inputs:
    """The ports the instructor named: `--midi-in` and `--audio-in` (None: a virtual input, the default input)."""

    midi_in: str | None
    audio_in: str | None


def _open_one(name: str, inputs: _Inputs, tap: TapTempo, stack: ExitStack) -> tuple[BeatSource, str]:
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


def _open_sources(source: str, inputs: _Inputs, tap: TapTempo, stack: ExitStack,
                  notice: Callable[[str], None]) -> tuple[BeatSource, str]:
    """The source asked for, or with `auto` every source that opens, in `AUTO_ORDER` behind a fall-back."""
    if source != "auto":
        return _open_one(source, inputs, tap, stack)
    opened: list[tuple[BeatSource, str]] = []
    missing: list[str] = []
    for name in AUTO_ORDER:
        try:
            opened.append(_open_one(name, inputs, tap, stack))
        except ShowctlError as err:
            missing.append(f"{name}: {err}")
    for line in missing:
        err_console.print(f"[dim]not following {line}[/dim]")
    fallback = FallbackSource([s for s, _ in opened], on_change=notice)
    return fallback, "auto: " + " → ".join(label for _, label in opened)


def _live_keys(player: LivePlayer, steered: Steered, tap: TapTempo,
               notice: Callable[[str], None]) -> Callable[[str], None]:
    """`t` tap, `1` downbeat, `x` double, `/` halve, `f` freeze, `q` twice to quit."""
    quit_until = 0.0

    def press(key: str) -> None:
        nonlocal quit_until
        now = time.monotonic()  # the sources' clock
        if key == "q":
            if now < quit_until:
                notice("quit: ending the class with house lights")
                player.stop()
            else:
                quit_until = now + QUIT_CONFIRM_SECONDS
                notice(f"quit? press q again within {QUIT_CONFIRM_SECONDS:g} s")
        elif key == "t":
            grid = tap.tap(now)
            following = _follows_tap(steered)
            where = "" if following else f" (the beat comes from {steered.name}; taps count when it has none)"
            notice(f"tap: {f'{grid.tempo:.1f} BPM' if grid else 'tap again'}{where}")
        elif key == "1":
            if _follows_tap(steered):
                tap.downbeat(now)
                notice("this is the one: the bar starts on that beat")
            else:
                notice(steered.downbeat(now))
        elif key == "x":
            notice(steered.double())
        elif key == "/":
            notice(steered.halve())
        elif key == "f":
            notice(steered.freeze())

    return press


def _follows_tap(steered: Steered) -> bool:
    source = steered.source
    active = source.active if isinstance(source, FallbackSource) else source
    return isinstance(active, TapTempo) or (isinstance(source, FallbackSource) and active is None
                                            and any(isinstance(s, TapTempo) for s in source.sources))
