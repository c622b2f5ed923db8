"""`showctl run CUEFILE --live`: the class plan in wall-clock time, the lights on a live beat source.

The music plays elsewhere (a phone into the mixer, the DJ booth): no track is analysed. The beat comes
from `--source link` (an Ableton Link session), `midi-clock` (`--midi-in PORT`, or a virtual input to
connect), `audio` (the default input, or `--audio-in DEVICE`), `tap` (keys `t` and `1`), or `auto`:
every source that can be opened, the beat from the first one locked in that order, each change announced.
Keys: `t` tap, `1` this is the one, `x` double (x2) and `/` halve (/2) the tempo, `f` freeze the tempo,
`b` blackout (the floor minimum while people move backwards) and `l` house lights, each on the next downbeat
and off again with the same key, `q` twice to quit; Ctrl-C works too. Every exit sends the safe scene.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial

from showctl.cli.live import LiveSourceScreen, keyboard
from showctl.cli.terminal import TERMINAL_REPORT, err_console, out_console
from showctl.cues.check import check_against_rig
from showctl.cues.load import load_cue_sheet
from showctl.errors import ProblemsError, ShowctlError
from showctl.live import Steered, TapTempo
from showctl.live_class import AUTO_ORDER, SOURCES, SourceInputs, check_source_args, open_live_class
from showctl.player.live import LivePlayer
from showctl.player.live_controls import LiveController, follows_tap
from showctl.player.live_plan import live_plan
from showctl.rig import load_rig
from showctl.show import ClassReport, Rehearsal, rig_path_for
from showctl.sim import Received, simulated_rig
from showctl.timeline.model import Event
from showctl.units import format_clock

__all__ = ["AUTO_ORDER", "SOURCES", "run_live"]


def run_live(cuefile: str, rig_file: str | None, *, source: str, midi_in: str | None, sim: bool,
             audio_in: str | None = None, speed: float = 1.0, start: float = 0.0) -> int:
    if speed != 1 or start:
        raise ShowctlError("--speed and --from do not apply to --live: the music sets the time")
    inputs = SourceInputs(midi_in, audio_in)
    check_source_args(source, inputs)
    loaded = load_cue_sheet(cuefile)
    rig = load_rig(rig_path_for(loaded, rig_file))
    problems = check_against_rig(loaded, rig)
    if problems:
        raise ProblemsError(problems)
    plan = live_plan(loaded, rig)
    screen_on = out_console.is_terminal
    report = ClassReport(note=err_console.print, warn=TERMINAL_REPORT.warn,
                         error=lambda text: err_console.print(f"[red]{text}[/red]"))

    def notice(text: str) -> None:
        if not screen_on:
            err_console.print(f"[yellow]{text}[/yellow]")

    on_event = None if sim or screen_on else lambda e: _print_event(e, rig.transport_of(e.output))
    rehearsal = Rehearsal(partial(simulated_rig, on_receive=None if screen_on else _print_received)) if sim else None
    with open_live_class(plan, source=source, inputs=inputs, rehearsal=rehearsal, report=report, on_notice=notice,
                         on_missing=lambda line: err_console.print(f"[dim]not following {line}[/dim]"),
                         on_event=on_event, control_port=None) as live, contextlib.ExitStack() as stack:
        if screen_on:
            from rich.live import Live

            screen = LiveSourceScreen(plan.sheet_name, live.player, live.steered, live.notices, live.controller)
            stack.enter_context(Live(screen, console=out_console, refresh_per_second=8, screen=False))
        stack.enter_context(keyboard(live.controller.key))
        result = live.play()
    err_console.print(result.summary())
    return 0


def _print_event(event: Event, transport: str) -> None:
    if event.kind == "clock":
        return  # 48 lines a second of MIDI clock would bury the cues (as in a timeline class)
    if event.kind == "scene" or event.kind == "safe":
        out_console.print(f"[bold cyan]{format_clock(event.t)}  {event.output:<10} {transport:<4} {event.message}"
                          f"  ({event.reason})[/bold cyan]")
    else:
        out_console.print(f"{format_clock(event.t)}  {event.output:<10} {transport:<4} {event.message}")


def _print_received(item: Received) -> None:
    if item.message == "clock":
        return
    out_console.print(f"rig: {item.output:<10} {item.transport:<4} {item.message}")


def _live_keys(player: LivePlayer | None, steered: Steered, tap: TapTempo,
               notice: Callable[[str], None]) -> Callable[[str], None]:
    """`t` tap, `1` downbeat, `x` double, `/` halve, `f` freeze, `b` blackout, `l` house lights, `q` twice to
    quit: `LiveController.key`."""
    return LiveController(player, steered, tap, notice=notice).key


_follows_tap = follows_tap
