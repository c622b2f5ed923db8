"""The live player: the class plan in wall-clock time, the lights on a beat grid a source predicts.

Before each send it asks the beat source for its grid again, lets the `LivePlanner` decide the moments
due within `output latency + DECIDE_AHEAD`, and sends each event at `beat − output.latency` on an absolute
deadline. A moment is decided once, so nothing is sent twice. When the source holds or loses the beat the
class runs on the last good grid (and says so); every exit sends the safe scene, as `Player` does, after
`stop` to each MIDI clock still running (quitting is how a class without a cap ends).

Overlays (blackout, house lights: `showctl.player.live_controls.LiveController`) work as in `Player`: under one,
scene and effect events are left out (the MIDI clock keeps time), and lifting it re-sends the look the class
is in now — the last scene events sent or left out per output, since a live class has no timeline to look
it up in. `on_part` hears of each part as its start is decided (a backwards part starting in a blackout).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from collections import deque
from collections.abc import Callable, Mapping

from showctl.live.model import BeatSource, PredictedGrid
from showctl.outputs.base import Output
from showctl.player.clock import Clock
from showctl.player.live_plan import LivePart, LivePlanner
from showctl.player.player import Overlay, Player, PlayResult
from showctl.timeline.model import Event, Timeline

__all__ = ["DECIDE_AHEAD", "LivePlayer"]

DECIDE_AHEAD = 0.03  # s: a moment is decided this long before its first send (the freshest grid there is)
_POLL = 0.01  # s: how often a waiting live player asks the source again and looks for controls


class LivePlayer(Player):
    """Plays `planner`'s class to `outputs` on `clock`, following `source`.

    `source_offset` turns the source's times into class time (class = source − offset): 0 when the source
    is fed class time (tap keys), `time.monotonic()` at class start for sources on the monotonic clock.
    """

    def __init__(
        self,
        planner: LivePlanner,
        source: BeatSource,
        outputs: Mapping[str, Output],
        clock: Clock,
        *,
        source_offset: float = 0.0,
        on_event: Callable[[Event], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        safe = tuple(Event(0.0, output, message, "safe scene (house lights)", "safe")
                     for output, messages in planner.plan.rig.safe_scene.items() for message in messages)
        super().__init__(Timeline((), (), (), math.inf, safe), outputs, clock, on_event, on_error)
        self.planner = planner
        self.source = source
        self.source_offset = source_offset
        self.on_notice = on_notice
        self.notices: deque[str] = deque(maxlen=5)
        self.grid: PredictedGrid | None = None  # the grid the lights follow now (class time)
        self.following = "listening"  # what the lights follow: locked, holding, last grid, waiting
        self._last_good: PredictedGrid | None = None
        self.latency = max((o.latency for o in outputs.values()), default=0.0)  # the slowest output's
        self.lead = self.latency + DECIDE_AHEAD
        self.on_part: Callable[[LivePart, float], None] | None = None  # a part and its start, when decided
        self._look: dict[str, tuple[float, list[Event]]] = {}  # output → its latest scene: time, events

    def set_overlay(self, overlay: Overlay | None) -> None:
        """As `Player.set_overlay`; lifting re-sends the latest scene of each output (sent or left out)."""
        if overlay is not None:
            super().set_overlay(overlay)
            return
        self.overlay = None
        for _, events in self._look.values():
            for event in events:
                self._send(event)

    def _scene_state(self) -> tuple[Event, ...]:
        return tuple(event for _, events in list(self._look.values()) for event in events)

    def _keep_look(self, event: Event) -> None:
        if event.kind == "scene":
            t, events = self._look.get(event.output, (math.nan, []))
            self._look[event.output] = (t, [*events, event]) if t == event.t else (event.t, [event])

    def _next_control(self) -> float:
        with self._lock:
            return min((p.at for p in self._pending), default=math.inf)

    def _notice(self, text: str) -> None:
        self.notices.append(text)
        if self.on_notice is not None:
            self.on_notice(text)

    def current_grid(self) -> PredictedGrid | None:
        """The source's grid in class time; the last good one (and a notice) when it has none or holds."""
        grid = self.source.grid()
        name = self.source.name
        if grid is not None:
            grid = dataclasses.replace(grid, anchor=grid.anchor - self.source_offset)
        if grid is not None and grid.state == "locked":
            if self.following != "locked":
                self._notice(f"{name}: locked at {grid.tempo:.1f} BPM")
            self.following, self._last_good = "locked", grid
        elif grid is not None:
            if self.following != grid.state:
                self._notice(f"{name}: {grid.state} — the lights run on its last grid ({grid.tempo:.1f} BPM)")
            self.following = grid.state
            self._last_good = grid
        elif self._last_good is not None:
            if self.following != "lost":
                self._notice(f"{name}: no beat — the lights run on the last good grid "
                             f"({self._last_good.tempo:.1f} BPM)")
            self.following = "lost"
            grid = dataclasses.replace(self._last_good, state="holding")
        elif self.following != "waiting":
            self._notice(f"{name}: no beat yet — parts change at their planned times, effects wait for a beat")
            self.following = "waiting"
        self.grid = grid
        return grid

    def play(self, start: float = 0.0, state: object = None) -> PlayResult:
        """Run the class from its start until it ends, the instructor quits, or an exception (safe scene)."""
        if start:
            raise ValueError("a live class starts at its beginning")
        return self.run_guarded(self._play_live)

    def _send_due(self, due: list[tuple[float, int, Event]]) -> None:
        """Send what is due, in order; of a run of overdue MIDI clock ticks only the last goes out."""
        ticking = set[str]()  # outputs with a clock tick later in `due`
        later_tick_due = [False] * len(due)
        for k in range(len(due) - 1, -1, -1):
            later_tick_due[k] = due[k][2].output in ticking
            if due[k][2].kind == "clock":
                ticking.add(due[k][2].output)
        for (send_at, _, event), later in zip(due, later_tick_due, strict=True):
            self._keep_look(event)
            if self._drop_overdue_tick(event, send_at, later):
                pass
            elif not self._suppressed(event) and self._send(event):
                self.sent += 1
            if self.on_event is not None:
                self.on_event(event)

    def _play_live(self) -> None:
        queue: list[tuple[float, int, Event]] = []
        order = itertools.count()
        while True:
            self._due()
            now = self.clock.now()
            # Moments due soon are decided from the freshest grid, then wait in send order.
            known = len(self.planner.fixed)
            for event in self.planner.take(self.current_grid(), now + self.lead):
                heapq.heappush(queue, (event.t - self._latency(event), next(order), event))
            for k in range(known, len(self.planner.fixed)):
                if self.on_part is not None:
                    self.on_part(self.planner.plan.parts[k], self.planner.fixed[k].start)
            while queue and queue[0][0] <= self.clock.now():
                due: list[tuple[float, int, Event]] = []
                while queue and queue[0][0] <= self.clock.now():
                    due.append(heapq.heappop(queue))
                self._send_due(due)
            if self.planner.ended and not queue:
                return
            wake = min(now + _POLL, self._next_control())
            if queue:
                wake = min(wake, queue[0][0])
            self.clock.sleep_until(wake)
