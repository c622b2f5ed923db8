"""The instructor's live screen (rich), the keyboard (the OSC remote: showctl.player.remote).

Readable from three metres: the part of the class and the time left in it are the biggest things on the
screen. Without a terminal (CI, `</dev/null`) `showctl run` prints plain log lines instead.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from showctl.player.controls import Controller, ControlName
from showctl.player.live_controls import LiveBeatView, LiveController, beat_text, left_text, live_beat_view
from showctl.timeline.model import PlanRow, beat_position
from showctl.units import format_clock

__all__ = ["KEYS", "LIVE_KEYS", "LiveScreen", "LiveSourceScreen", "control_keys", "keyboard"]

KEYS: dict[str, ControlName] = {" ": "pause", "n": "next", "e": "extend", "h": "hold", "o": "nudge",
                                "b": "blackout", "l": "house", "q": "quit"}
# `showctl run --live`: the beat is the instructor's to correct (x2 and /2 are typed as the keys x and /).
LIVE_KEYS = ("t tap · 1 this is the one · x double (x2) · / halve (/2) · f freeze tempo · b blackout · l house lights"
             " · q quit (twice)")
_KIND_COLOURS = {"warmup": "yellow", "retro_run": "red", "reverse_lunge": "magenta", "sled_pull": "bright_red",
                 "recovery": "green", "cooldown": "blue"}


class LiveScreen:
    """A rich renderable redrawn a few times a second from the player's state."""

    def __init__(self, name: str, controller: Controller) -> None:
        self.name = name
        self.controller = controller

    def _beat(self, t: float) -> tuple[float, str]:
        player = self.controller.player
        at = beat_position(player.timeline.tracks, t)
        if at is None:
            return 0.0, ""
        dots = "".join("●" if i == at.beat - 1 else "○" for i in range(at.beats_per_bar))
        return at.tempo, f"{dots}  bar {at.bar}"

    def __rich__(self) -> Group:
        controller = self.controller
        player = controller.player
        timeline = player.timeline
        now = player.clock.now()
        row = controller.row_at(now)
        upcoming: PlanRow | None = next((r for r in timeline.plan if r.start > now), None)
        tempo, beat = self._beat(now)
        header = Text.assemble((f"{self.name}  ", "bold"), (f"{format_clock(now)} / {format_clock(timeline.duration)}",
                                                            "bold cyan"), f"   ♪ {tempo:.0f} BPM  {beat}")
        if row is None:
            part = Text("class over", style="bold")
        else:
            colour = _KIND_COLOURS.get(row.kind, "white")
            if row.phase == "rest":
                colour = "green"
            label = row.name.upper()
            if row.round and row.phase:
                label += f" — ROUND {row.round} — {row.phase.upper()}"
            part = Text.assemble((f"▶ {label}\n", f"bold {colour}"),
                                 (f"   {format_clock(max(0.0, row.end - now))} left", f"bold {colour}"))
            if row.kind in controller.backwards_kinds:
                part.append("   (backwards: the floor stays lit)", style="dim")
        info = Table.grid(padding=(0, 2))
        info.add_row("scene", row.scene if row else "—", "effects", ", ".join(row.effects) if row else "—")
        info.add_row("next", f"{upcoming.name}{f' {upcoming.phase}' if upcoming and upcoming.phase else ''} in "
                             f"{format_clock(upcoming.start - now)}" if upcoming else "end of class",
                     "class left", format_clock(max(0.0, timeline.duration - now)))
        overlay = player.overlay.name.upper() if player.overlay is not None else ""
        states = [s for s, on in (("PAUSED", player.paused), ("HOLD", controller.held), (overlay, bool(overlay)))
                  if on]
        health = "  ".join(f"{name} {'✗ ' + (h.last_error or '') if h.last_error else '✓'} {h.sent}"
                           for name, h in player.health.items())
        info.add_row("outputs", health, "state", " ".join(states) or "running")
        pending = "  ".join(f"{p.label} → {format_clock(p.lands_at)}" for p in controller.pending_now())
        info.add_row("pending", pending or "—", "", "")
        notices = "\n".join(controller.notices)
        keys = "space pause · n next · e extend · h hold · o nudge ½ beat · b blackout · l house lights · q quit"
        return Group(Panel(Group(header, Text(""), part), border_style="cyan"), info, Text(notices, style="yellow"),
                     Text(keys, style="dim"))


class LiveSourceScreen:
    """The `--live` screen: the part and its time left, and, as big, where the beat comes from and how sure
    it is, with a plain NO BEAT when there is none (the lights then run on the last good grid). Drawn from
    `live_beat_view`, the same view the class screen shows."""

    def __init__(self, name: str, player: Any, steered: Any, notices: list[str],
                 controller: LiveController | None = None) -> None:
        self.name, self.player, self.steered, self.notices = name, player, steered, notices
        self.controller = controller

    def __rich__(self) -> Group:
        view = live_beat_view(self.name, self.player, self.steered, self.controller)
        header = Text.assemble((f"{self.name}  ", "bold"), (format_clock(view.now), "bold cyan"))
        if view.part is None:
            body = Text("starting", style="bold")
        else:
            colour = "green" if view.phase == "rest" else _KIND_COLOURS.get(view.kind or "", "white")
            body = Text(f"▶ {view.part.upper()}", style=f"bold {colour}")
            if view.left is not None:
                body.append(f"\n   {left_text(view)}", style=f"bold {colour}")
            if view.backwards:
                body.append("   (backwards: the floor stays lit)", style="dim")
        if view.overlay is not None:
            body.append(f"\n{view.overlay.upper()}", style="bold yellow")
        if view.tempo is None:
            beat = Text(beat_text(view), style="bold red")
        else:
            state_style = {"LOCKED": "bold green", "HOLDING": "bold yellow", "FROZEN": "bold cyan"}.get(
                view.state, "bold red")
            head, state, tail = _split_state(beat_text(view), view)
            beat = Text.assemble((head, "bold"), (state, state_style), tail)
        pending = "  ".join(f"pending: {p.label} → {format_clock(p.lands_at)}" for p in view.pending)
        notices = "\n".join(self.notices)
        return Group(Panel(Group(header, Text(""), body), border_style="cyan"), beat,
                     Text(pending, style="bold yellow"), Text(notices, style="yellow"), Text(LIVE_KEYS, style="dim"))


def _split_state(text: str, view: LiveBeatView) -> tuple[str, str, str]:
    """`beat_text` cut around its state word, to colour it."""
    word = "NO BEAT: last good grid" if view.state == "LAST GRID" else view.state
    head, _, tail = text.partition(word)
    return head, word, tail


@contextlib.contextmanager
def keyboard(on_key: Callable[[str], None]) -> Iterator[bool]:
    """Read single keys from a terminal on a thread, calling `on_key` with each (lower case); yields
    whether keys are being read at all (False without a terminal)."""
    if not sys.stdin.isatty():
        yield False
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                on_key(os.read(fd, 1).decode(errors="ignore").lower())

    tty.setcbreak(fd)
    thread = threading.Thread(target=read, name="keyboard", daemon=True)
    thread.start()
    try:
        yield True
    finally:
        stop.set()
        thread.join(timeout=1)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def control_keys(controller: Controller) -> Callable[[str], None]:
    """The instructor's keys (KEYS) pressed on `controller`."""

    def on_key(key: str) -> None:
        if key in KEYS:
            controller.press(KEYS[key])

    return on_key
