"""`showctl run CUEFILE --live`: the class plan in wall-clock time, the lights on a live beat source.

The music plays elsewhere (a phone into the mixer, the DJ booth): no track is analysed. The beat comes
from `--source tap` (keys `t` and `1`), `midi-clock` (`--midi-in PORT`, or a virtual input to connect) or
`audio` (the default input device). Keys: `t` tap, `1` this is the one, `q` twice to quit; Ctrl-C works
too. Every exit sends the safe scene.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from showctl.cli.commands import _open_outputs, _rig_path, _simulated_rig, err_console, out_console
from showctl.cli.live import keyboard
from showctl.cues.load import check_against_rig, load_cue_sheet
from showctl.errors import DeviceError, ProblemsError, ShowctlError
from showctl.live import AudioBeatTracker, BeatSource, MidiClockSource, PredictedGrid, SourceState, TapTempo
from showctl.live.plan import LivePlanner, live_plan
from showctl.outputs import load_rig
from showctl.player import MonotonicClock
from showctl.player.controls import QUIT_CONFIRM_SECONDS
from showctl.player.live import LivePlayer
from showctl.sim import Received
from showctl.timeline.model import Event
from showctl.units import format_clock

__all__ = ["SOURCES", "run_live"]

SOURCES = ("tap", "midi-clock", "audio")


def run_live(cuefile: str, rig_file: str | None, *, source: str, midi_in: str | None, sim: bool,
             speed: float = 1.0, start: float = 0.0) -> int:
    if speed != 1 or start:
        raise ShowctlError("--speed and --from do not apply to --live: the music sets the time")
    if midi_in is not None and source != "midi-clock":
        raise ShowctlError(f"--midi-in is for --source midi-clock (the source is '{source}')")
    loaded = load_cue_sheet(cuefile)
    rig = load_rig(_rig_path(loaded, rig_file))
    problems = check_against_rig(loaded, rig)
    if problems:
        raise ProblemsError(problems)
    plan = live_plan(loaded, rig)
    with ExitStack() as stack:
        out_rig = rig
        if sim:
            out_rig = stack.enter_context(_simulated_rig(rig, _print_received)).rig_for_outputs
            err_console.print(f"simulated rig: {', '.join(f'{n} ({o.transport})' for n, o in rig.outputs.items())}")
        beat = _open_source(source, midi_in, stack)
        outputs = _open_outputs(out_rig, stack, resilient=True)
        clock = MonotonicClock()
        # Tap keys are stamped with class time; the other sources keep time.monotonic().
        offset = 0.0 if isinstance(beat, TapTempo) else time.monotonic() - clock.now()
        player = LivePlayer(
            LivePlanner(plan), beat, outputs, clock, source_offset=offset,
            on_event=None if sim else lambda e: _print_event(e, rig.transport_of(e.output)),
            on_error=lambda text: err_console.print(f"[red]output error: {text}[/red]"),
            on_notice=lambda text: err_console.print(f"[yellow]{text}[/yellow]"))
        cap = f", cap {format_clock(plan.cap)}" if plan.cap is not None else ", until you quit"
        err_console.print(f"live class '{plan.sheet_name}': {len(plan.parts)} parts{cap}; beat from {beat.name}"
                          + (f" ({beat.port_name})" if isinstance(beat, MidiClockSource) else ""))
        stack.enter_context(keyboard(_live_keys(player, beat, clock)))
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


def _open_source(source: str, midi_in: str | None, stack: ExitStack) -> BeatSource:
    if source == "tap":
        return TapTempo()
    if source == "midi-clock":
        return stack.enter_context(MidiClockSource(midi_in))
    if source == "audio":
        return stack.enter_context(_AudioInput())
    raise ShowctlError(f"unknown beat source '{source}' (choose from {', '.join(SOURCES)})")


class _AudioInput:
    """The default input device feeding an `AudioBeatTracker`; its grid on the `time.monotonic()` clock."""

    name = "audio"

    def __init__(self) -> None:
        try:
            import sounddevice as sd
        except OSError as err:  # PortAudio missing
            raise DeviceError("audio input", f"no audio system ({err})") from None
        try:
            device = sd.query_devices(kind="input")
        except (sd.PortAudioError, ValueError):
            names = [str(d["name"]) for d in sd.query_devices() if int(d["max_input_channels"]) > 0]
            raise DeviceError("audio input", "no input device (inputs: " + (", ".join(names) or "none")
                              + "); or use --source tap or --source midi-clock") from None
        rate = int(device["default_samplerate"])
        self._tracker = AudioBeatTracker(rate)
        self._lock = threading.Lock()
        self._origin: float | None = None  # time.monotonic() of the tracker's time 0

        def feed(indata: Any, frames: int, _time: Any, _status: Any) -> None:
            arrived = time.monotonic()
            with self._lock:
                self._tracker.process(indata[:, 0].copy())
                origin = arrived - self._tracker.now
                self._origin = origin if self._origin is None else min(self._origin, origin)

        try:
            self._stream = sd.InputStream(samplerate=rate, channels=1, blocksize=512, callback=feed)
            self._stream.start()
        except sd.PortAudioError as err:
            raise DeviceError(f"audio input '{device['name']}'", f"cannot open ({err})") from None
        self._latency = float(self._stream.latency)

    @property
    def state(self) -> SourceState:
        with self._lock:
            return self._tracker.state

    def grid(self) -> PredictedGrid | None:
        with self._lock:
            grid, origin = self._tracker.grid(), self._origin
        if grid is None or origin is None:
            return None
        import dataclasses

        # Audio reaches the tracker one input latency after it was played into the mixer.
        return dataclasses.replace(grid, anchor=grid.anchor + origin - self._latency)

    def __enter__(self) -> _AudioInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stream.stop()
        self._stream.close()


def _live_keys(player: LivePlayer, beat: BeatSource, clock: MonotonicClock) -> Callable[[str], None]:
    """`t` tap, `1` downbeat, `q` twice to quit."""
    quit_until = 0.0

    def press(key: str) -> None:
        nonlocal quit_until
        if key == "q":
            if time.monotonic() < quit_until:
                err_console.print("quit: ending the class with house lights")
                player.stop()
            else:
                quit_until = time.monotonic() + QUIT_CONFIRM_SECONDS
                err_console.print(f"quit? press q again within {QUIT_CONFIRM_SECONDS:g} s")
        elif key in ("t", "1"):
            if not isinstance(beat, TapTempo):
                err_console.print(f"'{key}' sets the beat with --source tap (the beat comes from {beat.name})")
                return
            grid = beat.tap(clock.now()) if key == "t" else beat.downbeat(clock.now())
            what = "tap" if key == "t" else "this is the one"
            err_console.print(f"{what}: {f'{grid.tempo:.1f} BPM' if grid else 'tap again'}")

    return press
