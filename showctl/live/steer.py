"""Choosing and steering a live beat source: automatic fall-back, and the instructor's corrections.

- `FallbackSource`: several sources in the order a studio wants them (Link → MIDI clock → audio → tap);
  the beat comes from the first one locked. A higher source takes over again once it has been locked for
  `settle` seconds (no flapping on one good estimate); each change is announced in one line.
- `Steered`: what the instructor hears better than any tracker: `x2` / `/2` (the source has the right
  pulse at double or half the tempo), `1` (this is the one: the bar starts on the nearest beat) and
  freeze (keep the current tempo and phase running whatever the source says).

Pure apart from `now`, which is injected (the monotonic clock by default).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence

from showctl.live.model import BeatSource, PredictedGrid, SourceState

__all__ = ["FallbackSource", "Steered", "scale_grid"]

MAX_FACTOR = 4.0


def scale_grid(grid: PredictedGrid, factor: float) -> PredictedGrid:
    """`grid` at `factor` × its tempo (a power of two), keeping its downbeats where they were.

    Doubling puts a beat between every two; halving keeps every other beat, those in step with the bar.
    """
    if factor == 1.0:
        return grid
    # The next downbeat at or after the anchor: beats of the new grid count from there.
    to_downbeat = (-grid.anchor_in_bar) % grid.beats_per_bar
    downbeat = grid.anchor + to_downbeat * grid.period
    if factor > 1:
        steps = round(to_downbeat * factor)  # new beats from the anchor to that downbeat
        in_bar = (-steps) % grid.beats_per_bar
        return dataclasses.replace(grid, tempo=grid.tempo * factor, anchor_in_bar=in_bar)
    return dataclasses.replace(grid, tempo=grid.tempo * factor, anchor=downbeat, anchor_in_bar=0)


class Steered:
    """`source` with the instructor's corrections applied; the same `BeatSource` surface."""

    def __init__(self, source: BeatSource) -> None:
        self.source = source
        self.factor = 1.0
        self.bar_shift = 0  # beats (ours, after ×/÷) added to the source's place in the bar (`1`)
        self.frozen: PredictedGrid | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def state(self) -> SourceState:
        return "locked" if self.frozen is not None else self.source.state

    def grid(self) -> PredictedGrid | None:
        if self.frozen is not None:
            return self.frozen
        grid = self.source.grid()
        return None if grid is None else self._apply(grid)

    def _apply(self, grid: PredictedGrid) -> PredictedGrid:
        grid = scale_grid(grid, self.factor)
        if self.bar_shift:
            grid = dataclasses.replace(grid, anchor_in_bar=(grid.anchor_in_bar + self.bar_shift) % grid.beats_per_bar)
        return grid

    # --- the keys ---------------------------------------------------------------------------------

    def double(self) -> str:
        return self._scale(2.0)

    def halve(self) -> str:
        return self._scale(0.5)

    def _scale(self, by: float) -> str:
        factor = self.factor * by
        if not 1 / MAX_FACTOR <= factor <= MAX_FACTOR:
            return f"tempo stays ×{_factor_text(self.factor)} (at most ×4, at least ×1/4)"
        self.factor = factor
        self.bar_shift = round(self.bar_shift * by)  # the one stays where the instructor put it (whole beats)
        if self.frozen is not None:
            self.frozen = scale_grid(self.frozen, by)
        grid = self.grid()
        now = f": {grid.tempo:.1f} BPM" if grid is not None else ""
        return f"tempo ×{_factor_text(factor)} of {self.source.name}{now}"

    def freeze(self) -> str:
        """Toggle: keep the grid playing now, whatever the source says; again to follow the source."""
        if self.frozen is not None:
            self.frozen = None
            return f"unfrozen: following {self.source.name} again"
        grid = self.grid()
        if grid is None:
            return "nothing to freeze yet: no beat"
        self.frozen = dataclasses.replace(grid, state="locked", confidence=1.0)
        return f"frozen at {grid.tempo:.1f} BPM (f again to follow {self.source.name})"

    def downbeat(self, t: float) -> str:
        """This is the one: the beat nearest `t` (the source's clock) starts the bar."""
        grid = self.grid()
        if grid is None:
            return "no beat to set the one on yet"
        n = round(grid.position(t))
        shift = (-grid.in_bar(n)) % grid.beats_per_bar
        if self.frozen is not None:
            self.frozen = dataclasses.replace(grid, anchor_in_bar=(grid.anchor_in_bar + shift) % grid.beats_per_bar)
        else:
            self.bar_shift = (self.bar_shift + shift) % grid.beats_per_bar
        return "this is the one: the bar starts on that beat"


def _factor_text(factor: float) -> str:
    return f"{factor:g}" if factor >= 1 else f"1/{round(1 / factor)}"


class FallbackSource:
    """The first locked of `sources` (in order); the one it had while none is locked.

    `on_change` gets one line each time the source the beat comes from changes.
    """

    def __init__(self, sources: Sequence[BeatSource], *, settle: float = 1.0,
                 on_change: Callable[[str], None] | None = None, now: Callable[[], float] = time.monotonic) -> None:
        if not sources:
            raise ValueError("at least one beat source")
        self.sources = tuple(sources)
        self.settle = settle
        self.on_change = on_change
        self._now = now
        self.active: BeatSource | None = None
        self._locked_since: dict[str, float] = {}

    @property
    def name(self) -> str:
        return self.active.name if self.active is not None else "auto"

    @property
    def state(self) -> SourceState:
        return self.active.state if self.active is not None else "listening"

    def grid(self) -> PredictedGrid | None:
        now = self._now()
        grids = {s.name: s.grid() for s in self.sources}
        for s in self.sources:
            g = grids[s.name]
            if g is not None and g.state == "locked":
                self._locked_since.setdefault(s.name, now)
            else:
                self._locked_since.pop(s.name, None)
        current = self.active
        current_grid = grids[current.name] if current is not None else None
        current_locked = current_grid is not None and current_grid.state == "locked"
        rank = {s.name: i for i, s in enumerate(self.sources)}
        chosen = current
        for s in self.sources:
            since = self._locked_since.get(s.name)
            if since is None:
                continue
            if current is None or not current_locked:
                chosen = s  # nothing locked to keep: the best locked one now
                break
            if rank[s.name] < rank[current.name] and now - since >= self.settle:
                chosen = s  # a better source has held its lock long enough to take over
                break
            if s is current:
                break
        if chosen is not current and chosen is not None:
            self._announce(current, chosen, current_grid)
            self.active = chosen
        return grids[self.active.name] if self.active is not None else None

    def _announce(self, old: BeatSource | None, new: BeatSource, old_grid: PredictedGrid | None) -> None:
        if self.on_change is None:
            return
        if old is None:
            self.on_change(f"beat source: {new.name}")
            return
        if old_grid is not None and old_grid.state == "locked":
            why = f"{new.name} is locked again"
        else:
            why = f"{old.name}: {old_grid.state if old_grid is not None else 'no beat'}"
        self.on_change(f"beat source: {old.name} → {new.name} ({why})")

