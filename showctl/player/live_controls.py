"""The instructor's live controls and what the live screens show, shared by every front end.

`LiveController.press(name)` is the one code path for the terminal keys (t, 1, x, /, f, b, l, q), the class
screen's buttons and the OSC remote (`/showctl/tap`, `/showctl/one`, `/showctl/blackout` …). `live_beat_view`
is the state of a live class at one moment (part, time left, tempo, beat, LOCKED/HOLDING/NO BEAT/FROZEN,
source, ×factor, overlay, pending controls), computed once and drawn by the terminal screen
(`showctl.cli.live.LiveSourceScreen`) and the page alike.

Blackout and house lights work as in a class on its playlist (`showctl.player.controls.OverlayControls`, the
same code and wording): each lands on the predicted next downbeat (at once while there is no beat) and shows
as pending until then; `LivePlayer` holds the look under the overlay and restores the current one when it is
lifted. Blackout never darkens the floor while people move backwards (the cue sheet's `backwards_kinds`): in
such a part it dims to the rig's floor scene, and a backwards part starting during a blackout lifts it there.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from showctl.live.steer import FallbackSource, Steered
from showctl.live.tap import TapTempo
from showctl.player.controls import QUIT_CONFIRM_SECONDS, ControlName, OverlayControls, PendingControl
from showctl.units import format_clock

if TYPE_CHECKING:
    from showctl.player.live import LivePlayer
    from showctl.player.live_plan import LivePart

__all__ = ["LIVE_CONTROLS", "LIVE_KEY_CONTROLS", "LiveBeatView", "LiveControlName", "LiveController",
           "follows_tap", "live_beat_view"]

LiveControlName = Literal["tap", "one", "double", "halve", "freeze", "blackout", "house", "quit"]
LIVE_CONTROLS: tuple[LiveControlName, ...] = ("tap", "one", "double", "halve", "freeze", "blackout", "house", "quit")
# The terminal's keys for them (`x2` and `/2` are typed as x and /; b and l as in a class on its playlist).
LIVE_KEY_CONTROLS: dict[str, LiveControlName] = {"t": "tap", "1": "one", "x": "double", "/": "halve", "f": "freeze",
                                                 "b": "blackout", "l": "house", "q": "quit"}
# A stamped tap further than this from its arrival (s) is not trusted: the sender's clock is off.
MAX_STAMP_SKEW = 1.0


def follows_tap(steered: Steered) -> bool:
    """Whether taps set the beat now: the source is the tap, or `auto` has no beat yet and tap is in it."""
    source = steered.source
    active = source.active if isinstance(source, FallbackSource) else source
    return isinstance(active, TapTempo) or (isinstance(source, FallbackSource) and active is None
                                            and any(isinstance(s, TapTempo) for s in source.sources))


class LiveController(OverlayControls):
    """The live controls on `steered` (and `tap`, and `player` for blackout, house lights and quit). `notice`
    gets each one-line answer, and what the class says by itself (a backwards part lifting a blackout).

    Times are on the sources' clock (`time.monotonic`, injected as `now`). A press may carry the moment it was
    made (`at`, e.g. a phone's tap stamped on the phone and mapped to this clock): within `MAX_STAMP_SKEW` of
    now it is used instead of the arrival time, so network jitter does not reach the tap tempo. Blackout and
    house lights are on the player's class clock and land on the downbeat its grid predicts.
    """

    controls = LIVE_CONTROLS

    def __init__(self, player: LivePlayer | None, steered: Steered, tap: TapTempo, *,
                 notice: Callable[[str], None] | None = None, now: Callable[[], float] = time.monotonic) -> None:
        self.player, self.steered, self.tap = player, steered, tap
        self.notice = notice or (lambda _text: None)
        self.now = now
        self.notices: deque[str] = deque(maxlen=5)
        self.taps: deque[float] = deque(maxlen=16)  # when the taps were made (the sources' clock)
        self.pending: list[PendingControl] = []
        self.blackout = self.house = False
        self.backwards_kinds: tuple[str, ...] = ()
        self._quit_until = 0.0
        self._lock = threading.Lock()
        if player is not None:
            plan = player.planner.plan
            self.rig, self.backwards_kinds = plan.rig, plan.loaded.sheet.backwards_kinds
            player.on_part = self._part_decided

    # -- blackout and house lights on the live player (OverlayControls) ------------------------------
    def _stage(self) -> LivePlayer:
        assert self.player is not None  # _act refuses overlays without a player
        return self.player

    def _land(self) -> float:
        """The predicted next downbeat of the grid the lights follow (its messages reach the slowest output
        by then); at once while there is no beat."""
        player = self._stage()
        now, grid = player.clock.now(), player.grid
        return now if grid is None else grid.next_downbeat(now + player.latency)

    def _pend(self, name: ControlName, label: str, at: float) -> str:
        if at <= self._stage().clock.now():
            return f"{label}: now (no beat to land on)"
        return super()._pend(name, label, at)

    def _overlay_at(self, t: float, action: Callable[[], None]) -> None:
        # Sent as the events of that moment are (early by the latency), so the look changes on the beat.
        player = self._stage()
        player.at(t - player.latency, action)

    def part_at(self, t: float) -> LivePart | None:
        """The part playing at class time `t`, as decided so far."""
        planner = self._stage().planner
        fixed = list(planner.fixed)
        k = next((k for k in range(len(fixed) - 1, -1, -1) if fixed[k].start <= t), None)
        return planner.plan.parts[k] if k is not None else None

    def backwards_at(self, t: float) -> bool:
        part = self.part_at(t)
        return part is not None and part.kind in self.backwards_kinds

    def _part_decided(self, part: LivePart, start: float) -> None:
        """The player decided where `part` starts: a backwards one lifts a blackout to the floor as it starts
        (every one is watched, whether dark now or not: a blackout may land before it starts)."""
        if part.kind in self.backwards_kinds and self.rig.floor_scene:
            self._overlay_at(start, lambda: self.floor_if_dark(start))

    def _said(self, text: str) -> None:
        self.notices.append(text)
        self.notice(text)

    def key(self, key: str) -> None:
        """A terminal key (LIVE_KEY_CONTROLS); other keys are ignored."""
        if key in LIVE_KEY_CONTROLS:
            self.press(LIVE_KEY_CONTROLS[key])

    def press(self, name: str, at: float | None = None) -> str:
        """Act on a live control; returns (and tells `notice`) the one line the screens show."""
        if name not in LIVE_CONTROLS:
            raise ValueError(f"no live control '{name}' (controls: {', '.join(LIVE_CONTROLS)})")
        now = self.now()
        when = at if at is not None and abs(at - now) <= MAX_STAMP_SKEW else now
        with self._lock:
            text = self._act(name, now, when)
        self.notices.append(text)
        self.notice(text)
        return text

    def _act(self, name: str, now: float, when: float) -> str:
        steered = self.steered
        if name in ("blackout", "house"):
            if self.player is None:
                return f"{name}: no class is running"
            return self._blackout() if name == "blackout" else self._house()
        if name == "quit":
            if now < self._quit_until:
                if self.player is not None:
                    self.player.stop()
                return "quit: ending the class with house lights"
            self._quit_until = now + QUIT_CONFIRM_SECONDS
            return f"quit? press q again within {QUIT_CONFIRM_SECONDS:g} s"
        if name == "tap":
            self.taps.append(when)
            grid = self.tap.tap(when)
            where = "" if follows_tap(steered) else \
                f" (the beat comes from {steered.name}; taps count when it has none)"
            return f"tap: {f'{grid.tempo:.1f} BPM' if grid else 'tap again'}{where}"
        if name == "one":
            if follows_tap(steered):
                self.tap.downbeat(when)
                return "this is the one: the bar starts on that beat"
            return steered.downbeat(when)
        if name == "double":
            return steered.double()
        if name == "halve":
            return steered.halve()
        return steered.freeze()


BeatState = Literal["LOCKED", "HOLDING", "FROZEN", "NO BEAT", "LAST GRID"]


@dataclass(frozen=True)
class LiveBeatView:
    """A live class at one moment, for the terminal screen and the page."""

    name: str
    now: float  # class time
    part: str | None  # the part's title (None before the first part)
    kind: str | None
    phase: str | None  # work / rest
    left: float | None  # s left in the part (None: counted in bars, or open-ended)
    next_part: str | None
    state: BeatState  # LOCKED · HOLDING · FROZEN · NO BEAT (none yet) · LAST GRID (lost: the last good one runs)
    source: str  # where the beat comes from (the grid's source, else the steered source's name)
    source_state: str  # the source's own state: listening, locked, holding, no-beat
    tempo: float | None  # BPM the lights follow (None: no beat)
    confidence: float | None
    factor: float  # the instructor's ×2 / ÷2
    beats_per_bar: int
    beat: int | None  # 0-based place in the bar of the beat playing now (None: no beat)
    taps_count: bool  # taps set the beat now
    sent: int
    backwards: bool = False  # people move backwards in this part: the floor stays lit
    overlay: str | None = None  # blackout, floor, house: the look that has taken over
    pending: tuple[PendingControl, ...] = ()  # controls pressed, landing on the next downbeat


def live_beat_view(name: str, player: object, steered: Steered,
                   controller: LiveController | None = None) -> LiveBeatView:
    """What `player` (a `LivePlayer`), `steered` and `controller` (pending controls) show now."""
    from showctl.player.live import LivePlayer

    assert isinstance(player, LivePlayer)
    now = player.clock.now()
    planner = player.planner
    part = planner.current()
    left: float | None = None
    upcoming: str | None = None
    if part is not None:
        if part.seconds is not None:
            left = max(0.0, planner.fixed[-1].planned + part.seconds - now)
        k = len(planner.fixed)
        upcoming = planner.plan.parts[k].title if k < len(planner.plan.parts) else None
    grid, following = player.grid, player.following
    state: BeatState
    if grid is None or following in ("waiting", "listening"):
        state, tempo, confidence, beat, per_bar, source = "NO BEAT", None, None, None, 4, steered.name
    else:
        n = math.floor(grid.position(now))
        state = "LOCKED" if following == "locked" else "HOLDING" if following == "holding" else "LAST GRID"
        if steered.frozen is not None:
            state = "FROZEN"
        tempo, confidence, beat = grid.tempo, grid.confidence, grid.in_bar(n)
        per_bar, source = grid.beats_per_bar, grid.source
    return LiveBeatView(
        name=name, now=now, part=part.title if part else None, kind=part.kind if part else None,
        phase=part.phase if part else None, left=left, next_part=upcoming, state=state, source=source,
        source_state=steered.state, tempo=tempo, confidence=confidence, factor=steered.factor,
        beats_per_bar=per_bar, beat=beat, taps_count=follows_tap(steered), sent=player.sent,
        backwards=controller is not None and part is not None and part.kind in controller.backwards_kinds,
        overlay=player.overlay.name if player.overlay is not None else None,
        pending=tuple(controller.pending_now()) if controller is not None and controller.player is not None else ())


def beat_text(view: LiveBeatView) -> str:
    """The beat line without colour: `♪ 126.0 BPM ×2  ●○○○  LOCKED   from audio, confidence 80%`."""
    if view.tempo is None:
        return f"NO BEAT  ({view.source}: {view.source_state})"
    factor = "" if view.factor == 1 else f"  ×{view.factor:g}"
    dots = "".join("●" if i == view.beat else "○" for i in range(view.beats_per_bar))
    state = "NO BEAT: last good grid" if view.state == "LAST GRID" else view.state
    return f"♪ {view.tempo:.1f} BPM{factor}  {dots}  {state}   from {view.source}, confidence {view.confidence:.0%}"


def left_text(view: LiveBeatView) -> str:
    return f"{format_clock(view.left)} left" if view.left is not None else ""
