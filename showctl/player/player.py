"""The player: sends each timeline event at its time on an injected clock; safe scene on every exit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from showctl.errors import DeviceError
from showctl.outputs.base import Output
from showctl.player.clock import Clock
from showctl.timeline.model import Event, Timeline
from showctl.timeline.seek import events_from_seek

__all__ = ["OutputHealth", "PlayResult", "Player"]

log = logging.getLogger("showctl.player")


@dataclass
class OutputHealth:
    sent: int = 0
    failed: int = 0
    last_error: str | None = None


@dataclass
class PlayResult:
    completed: bool
    sent: int
    health: dict[str, OutputHealth] = field(default_factory=dict)


class Player:
    """Plays `timeline` to `outputs` on `clock`.

    A failing output is logged once per failure streak and skipped; the class keeps time. Whatever ends
    the run (end of class, Ctrl-C, an exception), the rig's safe scene goes out before `play` returns.
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

    def _send(self, event: Event) -> bool:
        output = self.outputs.get(event.output)
        if output is None:
            return False
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
        for event in self.timeline.safe_scene:
            self._send(event)

    def schedule(self, start: float = 0.0) -> list[tuple[float, Event]]:
        """(send time, event) in send order: each output's latency offset moves its events earlier."""

        def latency(event: Event) -> float:
            output = self.outputs.get(event.output)
            return output.latency if output is not None else 0.0

        events = events_from_seek(self.timeline, start)  # MIDI clocks resume with song position + continue
        # sorted() is stable: events due at the same instant keep the timeline's order.
        return sorted(((e.t - latency(e), e) for e in events), key=lambda pair: pair[0])

    def play(self, start: float = 0.0) -> PlayResult:
        """Send every event from class time `start` on; returns when the class ends."""
        sent, completed = 0, False
        try:
            if start > 0:
                # Mid-class: put the rig in the look a full run would have reached by now.
                for event in self.timeline.scene_state_at(start):
                    sent += self._send(event)
            for send_at, event in self.schedule(start):
                self.clock.sleep_until(send_at)
                if self._send(event):
                    sent += 1
                if self.on_event is not None:
                    self.on_event(event)
            completed = True
        finally:
            if not completed:
                # Ctrl-C or a crash mid-class: the room gets house lights before anything else happens.
                self.send_safe_scene()
        return PlayResult(completed, sent, self.health)
