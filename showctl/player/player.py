"""The player: sends each timeline event at its time on an injected clock; safe scene on every exit.

While a class runs, the instructor's controls reach the player from other threads (keys, OSC): a new
timeline (next, extend, hold), an overlay (blackout, house lights) or a pause, each landing at a class
time the control chose (the next bar). The player only ever looks at them between two sends.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from showctl.errors import DeviceError
from showctl.messages import MidiMessage, OutMessage
from showctl.outputs.base import Output
from showctl.outputs.resilient import LookAware
from showctl.player.clock import Clock
from showctl.timeline.model import Event, Timeline
from showctl.timeline.seek import events_from_seek

__all__ = ["CLOCK_TICK_LATE", "OutputHealth", "Overlay", "PlayResult", "Player", "StopRequested"]

log = logging.getLogger("showctl.player")

# How often (class seconds) a waiting player looks for controls: well under a beat, far above the OS tick.
_CONTROL_POLL = 0.05
# A MIDI clock tick more than this late (real seconds) is dropped when a later tick to the same output is
# due too, rather than sent in a burst with it: a console reads a burst of ticks as a leap in tempo, and a
# stall's worth of them (plus a rehearsal's speed) can overflow a JACK period's MIDI buffer. The price: a
# console counting ticks is that many behind in the bar until the next start, continue or song position.
# 50 ms is 3 ticks at 150 BPM: far beyond the player's usual lateness (well under 1 ms), so only a stall.
CLOCK_TICK_LATE = 0.05


class StopRequested(Exception):
    """The instructor confirmed quit: the class ends here, with the safe scene."""


@dataclass
class OutputHealth:
    sent: int = 0
    failed: int = 0
    last_error: str | None = None
    dropped_ticks: int = 0  # overdue MIDI clock ticks left out rather than sent in a burst


@dataclass
class PlayResult:
    completed: bool
    sent: int
    health: dict[str, OutputHealth] = field(default_factory=dict)
    stopped: bool = False  # the instructor quit before the end

    @property
    def ending(self) -> str:
        """How the class ended, in the words every front end uses."""
        if self.stopped:
            return "stopped by the instructor"
        return "finished" if self.completed else "ended early"

    def summary(self) -> str:
        """The one line a front end shows when the class is over."""
        return f"class {self.ending}: {self.sent} message{'' if self.sent == 1 else 's'} sent; safe scene sent"


@dataclass(frozen=True)
class Overlay:
    """A look that takes over from the timeline (blackout, house lights) until it is lifted."""

    name: str
    events: tuple[Event, ...]  # sent when it lands; t is ignored


@dataclass
class _Pending:
    at: float
    apply: Callable[[], None]


class Player:
    """Plays `timeline` to `outputs` on `clock`.

    A failing output is logged once per failure streak and skipped; the class keeps time. Whatever ends
    the run (end of class, Ctrl-C, an exception, quit), the rig's safe scene goes out before `play` returns,
    after `stop` to each MIDI clock still running.
    """

    def __init__(
        self,
        timeline: Timeline,
        outputs: Mapping[str, Output],
        clock: Clock,
        on_event: Callable[[Event], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.timeline = timeline
        self.outputs = outputs
        self.clock = clock
        self.on_event = on_event
        self.on_error = on_error or log.warning
        self.health = {name: OutputHealth() for name in outputs}
        self.overlay: Overlay | None = None
        self.paused = False
        self._lock = threading.Lock()
        self._new_timeline: Timeline | None = None
        self._pending: list[_Pending] = []
        self._stop = False
        self._prepared: dict[float, list[tuple[float, Event]]] = {}
        self._clocks_running: dict[str, None] = {}  # outputs sent a MIDI clock `start`/`continue`, no `stop` yet
        self.sent = 0  # messages sent by the current play()
        for name, output in outputs.items():
            if isinstance(output, LookAware):  # a reconnecting output re-sends the look now, not its history
                output.look = functools.partial(self.look_of, name)

    # -- controls (any thread) -----------------------------------------------------------------------
    def replace_timeline(self, timeline: Timeline) -> None:
        """Continue with `timeline` (recompiled with an edit that lands later): already-sent events stay sent."""
        with self._lock:
            self._new_timeline = timeline

    def at(self, t: float, action: Callable[[], None]) -> None:
        """Run `action` on the player's thread once class time reaches `t`."""
        with self._lock:
            self._pending.append(_Pending(t, action))

    def look_of(self, output: str) -> list[OutMessage]:
        """What `output` shows now (any thread): the overlay's look, else the timeline's latest scenes."""
        overlay = self.overlay
        events = overlay.events if overlay is not None else self._scene_state()
        return [e.message for e in events if e.output == output]

    def _scene_state(self) -> tuple[Event, ...]:
        return self.timeline.scene_state_at(self.clock.now() + 1e-6)

    def set_overlay(self, overlay: Overlay | None) -> None:
        """Called through `at`: send the overlay's look, or lift it and restore the timeline's look."""
        self.overlay = overlay
        if overlay is not None:
            for event in overlay.events:
                self._send(event)
        else:
            for event in self.timeline.scene_state_at(self.clock.now() + 1e-6):
                self._send(event)

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if paused:
            self.clock.pause()
        else:
            self.clock.resume()

    def stop(self) -> None:
        """End the class at the next check (within _CONTROL_POLL)."""
        self._stop = True

    # -- sending -------------------------------------------------------------------------------------
    def _send(self, event: Event) -> bool:
        output = self.outputs.get(event.output)
        if output is None:
            return False
        if event.kind == "transport":
            if str(event.message) in ("start", "continue"):
                self._clocks_running[event.output] = None
            elif str(event.message) == "stop":
                self._clocks_running.pop(event.output, None)
        health = self.health[event.output]
        try:
            output.send(event.message)
        except DeviceError as err:
            if health.last_error is None:
                self.on_error(str(err))
            health.failed += 1
            health.last_error = str(err)
            return False
        if health.last_error is not None:
            self.on_error(f"output '{event.output}' is back after {health.failed} failed message(s)")
            health.last_error = None
        health.sent += 1
        return True

    def send_safe_scene(self) -> None:
        # A class that ends early (quit, Ctrl-C, a crash) stops the consoles' MIDI clocks as its end would:
        # a console left waiting for ticks would hold its chases mid-step.
        for output in list(self._clocks_running):
            self._send(Event(self.clock.now(), output, MidiMessage("stop"), "class ended early: MIDI clock stops",
                             "transport"))
        for event in self.timeline.safe_scene:
            self._send(event)

    def _drop_overdue_tick(self, event: Event, send_at: float, later_tick_due: bool) -> bool:
        """True (and counted) when clock tick `event`, due at `send_at`, is left out: a later tick to the same
        output is already due and this one is more than CLOCK_TICK_LATE late."""
        if event.kind != "clock" or not later_tick_due:
            return False
        if (self.clock.now() - send_at) / self.clock.speed <= CLOCK_TICK_LATE:
            return False
        if event.output in self.health:
            self.health[event.output].dropped_ticks += 1
        return True

    def _latency(self, event: Event) -> float:
        output = self.outputs.get(event.output)
        return output.latency if output is not None else 0.0

    def schedule(self, start: float = 0.0, timeline: Timeline | None = None) -> list[tuple[float, Event]]:
        """(send time, event) in send order: each output's latency offset moves its events earlier."""
        events = events_from_seek(timeline or self.timeline, start)  # MIDI clocks resume with SPP + continue
        # sorted() is stable: events due at the same instant keep the timeline's order.
        return sorted(((e.t - self._latency(e), e) for e in events), key=lambda pair: pair[0])

    def prepare(self, start: float = 0.0) -> None:
        """Build the schedule for `play(start)` now, before the clock starts: for an hour-long class it takes
        a tenth of a second, which would otherwise make the first events late while the music plays."""
        self._prepared = {start: self.schedule(start)}

    def _suppressed(self, event: Event) -> bool:
        # Under an overlay the look is the overlay's: scenes and effects wait; the MIDI clock keeps time.
        return self.overlay is not None and event.kind in ("scene", "effect")

    def _due(self) -> None:
        """Apply controls whose time has come."""
        now = self.clock.now()
        with self._lock:
            due = [p for p in self._pending if p.at <= now]
            self._pending = [p for p in self._pending if p.at > now]
        for pending in due:
            pending.apply()
        if self._stop:
            raise StopRequested

    def _wait(self, send_at: float) -> bool:
        """Wait until `send_at`, handling controls meanwhile; False when a new timeline arrived first."""
        while True:
            self._due()
            if self._new_timeline is not None:
                return False
            now = self.clock.now()
            if now >= send_at and not self.paused:
                return True
            self.clock.sleep_until(min(send_at, now + _CONTROL_POLL))

    def _swap(self, done_until: float, done_at_instant: list[tuple[str, str]]) -> list[tuple[float, Event]]:
        """The new timeline's schedule after what has been sent: identical up to the edit, which lands later.
        Of the events due at `done_until`, exactly those already sent (`done_at_instant`) are left out: the
        rebuilt timeline may order or explain that instant's events differently."""
        with self._lock:
            timeline, self._new_timeline = self._new_timeline, None
        assert timeline is not None
        self.timeline = timeline
        schedule = [(s, e) for s, e in self.schedule(0.0, timeline) if s >= done_until]
        sent = list(done_at_instant)
        kept: list[tuple[float, Event]] = []
        for send_at, event in schedule:
            key = (event.output, str(event.message))
            if send_at == done_until and key in sent:
                sent.remove(key)
                continue
            kept.append((send_at, event))
        return kept

    def run_guarded(self, body: Callable[[], None]) -> PlayResult:
        """Run `body` (which counts what it sends in `self.sent`) with the exit discipline every player
        shares: quit ends it cleanly, and whatever else ends it early (Ctrl-C, quit, a crash), the room
        gets house lights before anything else happens."""
        self.sent, completed, stopped = 0, False, False
        try:
            body()
            completed = True
        except StopRequested:
            stopped = True
        finally:
            if not completed:
                self.send_safe_scene()
        return PlayResult(completed, self.sent, self.health, stopped)

    def play(self, start: float = 0.0, state: Sequence[Event] | None = None) -> PlayResult:
        """Send every event from class time `start` on; returns when the class ends."""
        return self.run_guarded(lambda: self._play(start, state))

    def _play(self, start: float, state: Sequence[Event] | None) -> None:
        if start > 0:
            # Mid-class: put the rig in the look a full run would have reached by now.
            for event in self.timeline.scene_state_at(start) if state is None else state:
                self.sent += self._send(event)
        schedule, i = self._prepared.pop(start, None) or self.schedule(start), 0
        next_tick = _next_ticks(schedule)
        done_until, done_at_instant = start, list[tuple[str, str]]()
        while i < len(schedule):
            send_at, event = schedule[i]
            if not self._wait(send_at):
                schedule, i = self._swap(done_until, done_at_instant), 0
                next_tick = _next_ticks(schedule)
                continue
            later = next_tick[i]
            if self._drop_overdue_tick(event, send_at, later >= 0 and schedule[later][0] <= self.clock.now()):
                pass
            elif not self._suppressed(event) and self._send(event):
                self.sent += 1
            if send_at != done_until:
                done_at_instant = []
            done_at_instant.append((event.output, str(event.message)))
            done_until = send_at
            i += 1
            if self.on_event is not None:
                self.on_event(event)


def _next_ticks(schedule: Sequence[tuple[float, Event]]) -> list[int]:
    """For each entry of `schedule`, the index of the next MIDI clock tick to the same output (-1: none)."""
    following: list[int] = [-1] * len(schedule)
    last: dict[str, int] = {}
    for i in range(len(schedule) - 1, -1, -1):
        event = schedule[i][1]
        following[i] = last.get(event.output, -1)
        if event.kind == "clock":
            last[event.output] = i
    return following
