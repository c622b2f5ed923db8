"""The instructor's controls: each lands on the next bar, shows as pending until then, and goes through
the player — the same code path for the keyboard, the OSC remote and (later) the web screen.

Blackout never darkens the floor while people move backwards: in those segments it gives the rig's
floor scene (its `floor_light` minimum) instead, and says so.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from showctl.player.player import Overlay, Player
from showctl.rig import Rig
from showctl.rig.floor_light import blackout_release
from showctl.timeline.compile import CONTROL_LEAD, PlanEdit, nudges
from showctl.timeline.grid import ClassGrid, next_downbeat
from showctl.timeline.model import Event, PlanRow, Timeline, slot_playing
from showctl.units import format_clock

__all__ = ["CONTROLS", "ControlName", "Controller", "OverlayControls", "PendingControl", "overlay_events"]

ControlName = Literal["pause", "next", "extend", "hold", "nudge", "blackout", "house", "quit"]
CONTROLS: tuple[ControlName, ...] = ("pause", "next", "extend", "hold", "nudge", "blackout", "house", "quit")
QUIT_CONFIRM_SECONDS = 3.0


@dataclass(frozen=True)
class PendingControl:
    name: ControlName
    label: str
    lands_at: float


def overlay_events(name: str, messages: Mapping[str, Sequence[object]]) -> tuple[Event, ...]:
    """An overlay's look (`Overlay.events`) from one of the rig's scenes (`blackout`, `floor_scene`)."""
    return tuple(Event(0.0, output, message, name, "scene")  # type: ignore[arg-type]
                 for output, items in messages.items() for message in items)


class OverlayControls:
    """Blackout and house lights, shared by `Controller` (a class on its playlist) and `LiveController`.

    Each lands where the controller says (`_land`: the next bar), shows as pending until then, and pressing
    again lifts it, which restores the current look. Blackout in a backwards part gives the rig's floor
    scene instead; a backwards part starting during a blackout lifts it to the floor (`floor_if_dark`, which
    the controller runs as such a part starts).
    """

    rig: Rig
    pending: list[PendingControl]
    notices: deque[str]
    blackout: bool
    house: bool
    _lock: threading.Lock

    # -- what each controller provides ---------------------------------------------------------------
    def _stage(self) -> Player:
        """The player the overlays go to."""
        raise NotImplementedError

    def _land(self) -> float:
        """Class time a control pressed now lands at."""
        raise NotImplementedError

    def backwards_at(self, t: float) -> bool:
        raise NotImplementedError

    def _overlay_at(self, t: float, action: Callable[[], None]) -> None:
        """Run `action` (an overlay change) on the player's thread so that it lands at class time `t`."""
        self._stage().at(t, action)

    def _watch_backwards(self, at: float) -> None:
        """A blackout lands at `at`: have `floor_if_dark` run as each backwards part after it starts."""

    def _said(self, text: str) -> None:
        """A line the class says by itself (not the answer to a press)."""
        self.notices.append(text)

    # -- shared --------------------------------------------------------------------------------------
    def pending_now(self) -> list[PendingControl]:
        now = self._stage().clock.now()
        with self._lock:
            self.pending = [p for p in self.pending if p.lands_at > now]
            return list(self.pending)

    def _pend(self, name: ControlName, label: str, at: float) -> str:
        self.pending.append(PendingControl(name, label, at))
        return f"{label}: lands on the next bar ({format_clock(at)})"

    def _set_overlay_at(self, at: float, overlay: Overlay | None) -> None:
        player = self._stage()
        self._overlay_at(at, lambda: player.set_overlay(overlay))

    def _floor_overlay(self) -> Overlay:
        return Overlay("floor", overlay_events("floor light (backwards segment)", self.rig.floor_scene))

    def _blackout(self) -> str:
        at = self._land()
        if self.blackout:
            self.blackout = False
            # The look's own scenes may never touch the blackout's control, and a console holds its blackout
            # until told: the messages that release it go first (`blackout_release`), then the look comes back.
            release = Overlay("blackout", overlay_events("blackout lifted", blackout_release(self.rig)))
            player = self._stage()

            def lift() -> None:
                player.set_overlay(release)
                player.set_overlay(None)

            self._overlay_at(at, lift)
            return self._pend("blackout", "lights back", at)
        if self.backwards_at(at):
            if not self.rig.floor_scene:
                return "blackout refused: people are moving backwards and the rig has no floor_scene"
            self.blackout = True
            self._set_overlay_at(at, self._floor_overlay())
            return self._pend("blackout", f"dim to the floor minimum {self.rig.floor_light:.0%} (people move "
                                          "backwards: no blackout)", at)
        if not self.rig.blackout:
            return "blackout: the rig file has no 'blackout:' scene"
        self.blackout = True
        blackout = Overlay("blackout", overlay_events("blackout", self.rig.blackout))
        player = self._stage()

        def land() -> None:
            # Decided again as it lands, not only when pressed: a `next` pressed after the blackout may have
            # moved a backwards part to start on this very bar, where not even a moment may be dark.
            if self.rig.floor_scene and self.backwards_at(at):
                self._lift_to_floor()
            else:
                player.set_overlay(blackout)

        self._overlay_at(at, land)
        # A backwards segment starting during the blackout lifts the floor to its minimum when it starts.
        if self.rig.floor_scene:
            self._watch_backwards(at)
        return self._pend("blackout", "blackout", at)

    def floor_if_dark(self, t: float) -> None:
        """On the player's thread as class time `t` comes: a blackout there becomes the floor minimum if a
        backwards part plays at `t` — in the class as it is now (a next, extend or hold may have moved the part
        since this was scheduled)."""
        player = self._stage()
        if (self.blackout and player.overlay is not None and player.overlay.name == "blackout"
                and self.rig.floor_scene and self.backwards_at(t)):
            self._lift_to_floor()

    def _lift_to_floor(self) -> None:
        self._stage().set_overlay(self._floor_overlay())
        self._said(f"backwards segment: blackout lifted to the floor minimum {self.rig.floor_light:.0%}")

    def _house(self) -> str:
        at = self._land()
        self.house = not self.house
        if not self.house:
            self._set_overlay_at(at, None)
            return self._pend("house", "house lights off, show back", at)
        self._set_overlay_at(at, Overlay("house", tuple(self._stage().timeline.safe_scene)))
        return self._pend("house", "house lights", at)


def _keep_nudge(beats: float) -> str:
    """What to write in the cue file for a track whose grid should stay `beats` of a beat from the tracker's."""
    if abs(beats) < 1e-9:
        return "remove 'nudge:' from this track in the cue file"
    words = {0.5: "half beat", -0.5: "-half beat"}.get(round(beats, 6), f"{beats:g}")
    return f"set 'nudge: {words}' on this track in the cue file"


class Controller(OverlayControls):
    def __init__(self, player: Player, rig: Rig, backwards_kinds: tuple[str, ...],
                 recompile: Callable[[tuple[PlanEdit, ...]], Timeline]) -> None:
        self.player = player
        self.rig = rig
        self.backwards_kinds = backwards_kinds
        self.recompile = recompile
        self.edits: tuple[PlanEdit, ...] = ()
        self.pending: list[PendingControl] = []
        self.notices: deque[str] = deque(maxlen=5)
        self.held = self.blackout = self.house = self.paused = False
        self._quit_armed_until = 0.0
        self._lock = threading.Lock()
        self._grid = ClassGrid(player.timeline.tracks)

    # -- queries for the screens ---------------------------------------------------------------------
    def row_at(self, t: float) -> PlanRow | None:
        return next((r for r in self.player.timeline.plan if r.start <= t < r.end), None)

    def backwards_at(self, t: float) -> bool:
        row = self.row_at(t)
        return row is not None and row.kind in self.backwards_kinds

    # -- pressing ------------------------------------------------------------------------------------
    def press(self, name: ControlName) -> str:
        """Act on a control; returns the one line the screens show."""
        actions: dict[ControlName, Callable[[], str]] = {
            "pause": self._pause, "next": self._next, "extend": self._extend, "hold": self._hold,
            "nudge": self._nudge, "blackout": self._blackout, "house": self._house, "quit": self._quit,
        }
        with self._lock:
            text = actions[name]()
        self.notices.append(text)
        return text

    def _stage(self) -> Player:
        return self.player

    def _watch_backwards(self, at: float, timeline: Timeline | None = None) -> None:
        # Each start is checked again when it comes (`floor_if_dark`): a later edit may have moved the part.
        for row in (timeline or self.player.timeline).plan:
            if row.start >= at and row.kind in self.backwards_kinds:
                self.player.at(row.start, functools.partial(self.floor_if_dark, row.start))

    def _lead(self) -> float:
        # CONTROL_LEAD is real time (rebuilding the timeline takes tens of ms): in a rehearsal at 20× speed
        # it spans 20× more class time, or a control could land on a bar that has already been played.
        return CONTROL_LEAD * max(1.0, self.player.clock.speed)

    def _land(self) -> float:
        return next_downbeat(self._grid, self.player.clock.now(), self._lead())

    def _edit(self, kind: Literal["next", "extend", "hold", "release", "nudge"]) -> Timeline:
        self.edits = (*self.edits, PlanEdit(kind, self.player.clock.now(), self._lead()))
        timeline = self.recompile(self.edits)
        self.player.replace_timeline(timeline)
        self._grid = ClassGrid(timeline.tracks)  # a nudge moves beats: controls land on the new bars
        if self.blackout and self.rig.floor_scene:
            # The edit moves parts: the floor must come up where a backwards part now starts, not where it was.
            self._watch_backwards(self.player.clock.now(), timeline)
        return timeline

    def _pause(self) -> str:
        if self.paused:
            self.paused = False
            self.player.at(self.player.clock.now(), lambda: self.player.set_paused(False))
            return "resumed"
        self.paused = True
        at = self._land()
        self.player.at(at, lambda: self.player.set_paused(True))
        return self._pend("pause", "pause", at)

    def _next(self) -> str:
        was_held, self.held = self.held, False
        self._edit("release" if was_held else "next")
        return self._pend("next", "next part" if not was_held else "release hold, next part", self._land())

    def _extend(self) -> str:
        now = self.player.clock.now()
        row = self.row_at(now)
        if row is None or row.round is None:
            return f"nothing to extend: '{row.name if row else 'the class'}' has no intervals"
        self._edit("extend")
        return f"extend: one more round of '{row.name}'"

    def _hold(self) -> str:
        if self.held:
            return self._next()
        self.held = True
        self._edit("hold")
        return "hold: this part goes on until you press h or n again"

    def _nudge(self) -> str:
        if slot_playing(self.player.timeline.tracks, self.player.clock.now() + self._lead()) is None:
            return "nothing to nudge: no track is playing"
        timeline = self._edit("nudge")
        nudge = nudges(timeline.tracks, self.edits)[-1]  # this press: it landed in a track
        slot = timeline.tracks[nudge.track]
        said = f"nudge: the beats of '{slot.name}' move half a beat {'later' if nudge.step > 0 else 'earlier'}"
        if nudge.earlier % 2 == 1:
            return said + ", back where the cue file has them"
        return f"{said} (press again to move them back); to keep it, {_keep_nudge((slot.nudge or 0.0) + nudge.step)}"

    def _quit(self) -> str:
        now = time.monotonic()
        if now < self._quit_armed_until:
            self.player.stop()
            return "quit: ending the class with house lights"
        self._quit_armed_until = now + QUIT_CONFIRM_SECONDS
        return f"quit? press q again within {QUIT_CONFIRM_SECONDS:g} s"
