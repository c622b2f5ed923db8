"""MIDI clock out in a live class: `start`, 24 ticks a beat on the predicted grid, `stop`. Pure: times are given.

A timeline class knows every beat before it plays (the compiler's `clock_events`); a live class knows only the
grid its source predicts now. `LiveClockOut` decides the ticks one at a time, each from the tick before it and
the grid given when it is decided, so the clock follows the freshest grid there is:

- `start` (and the first tick) on the first predicted downbeat once there is a grid, as the timeline starts
  its clock on the first downbeat;
- the ticks left of a beat are spread evenly up to the beat the grid predicts next: at a steady tempo they are
  period/24 apart, and after a tempo (or phase) change the next beat's tick lands on the new grid. When that
  beat is too near or too far for the ticks left (they would come at over twice or under half the tempo's tick
  rate), they are spread up to the beat after it instead: the clock is on the new grid within the next beat,
  without a jolt a console would take for a tempo;
- each tick is decided once and never before the one before it: a follower counts ticks (24 a beat, from
  `start`), so every tick counts; a beat always has exactly 24;
- `stop` when the class ends.

Which outputs get the clock, and the reasons a tech reads, are the planner's (`LivePlanner`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from showctl.live.model import PredictedGrid
from showctl.messages import CLOCK_PPQN

__all__ = ["ClockMoment", "LiveClockOut", "next_tick"]

MAX_STRETCH = 2.0  # a tick comes at no less than half, and no more than twice, the rate of the tempo's ticks
_EPS = 1e-9


@dataclass(frozen=True)
class ClockMoment:
    """One MIDI real-time message of the clock at class time `t`."""

    t: float
    message: Literal["start", "clock", "stop"]


@dataclass
class LiveClockOut:
    """Where the MIDI clock out of a live class stands: what it decided so far (class seconds)."""

    started: float | None = None  # when `start` goes (None: no grid yet)
    ticks: int = 0  # ticks decided, the one with `start` included
    last: float = -math.inf  # when the latest tick goes
    stopped: bool = False

    def take(self, grid: PredictedGrid | None, lo: float, hi: float) -> list[ClockMoment]:
        """`start` and the ticks in [lo, hi) not decided yet, on `grid`; nothing new without a grid.

        A tick the new grid puts before `lo` (decided already, as far as the caller knows) goes at `lo`.
        """
        if grid is None or self.stopped or hi <= lo:
            return []
        moments: list[ClockMoment] = []
        if self.started is None:
            t = grid.next_downbeat(lo - _EPS)
            if t >= hi:
                return []
            self.started = t
            moments.append(ClockMoment(t, "start"))
        else:
            t = max(next_tick(grid, self.last, self.ticks), lo)
        while t < hi:
            moments.append(ClockMoment(t, "clock"))
            self.ticks, self.last = self.ticks + 1, t
            t = next_tick(grid, t, self.ticks)
        return moments

    def stop(self, t: float) -> list[ClockMoment]:
        """`stop` at class time `t` (never before the latest tick), once, when the clock has started."""
        if self.started is None or self.stopped:
            return []
        self.stopped = True
        return [ClockMoment(max(t, self.last), "stop")]


def next_tick(grid: PredictedGrid, last: float, ticks: int) -> float:
    """When tick number `ticks` goes (0 goes with `start`), tick `ticks − 1` having gone at `last`.

    The ticks left of the current beat are spread evenly up to the predicted beat nearest where they would
    end at the grid's tempo; if no beat keeps them within `MAX_STRETCH` of that tempo's tick rate (a change
    found near the end of a beat), they are spread over the next beat's 24 as well, up to the beat after.
    """
    tick = grid.period / CLOCK_PPQN
    left = CLOCK_PPQN - (ticks - 1) % CLOCK_PPQN  # gaps from `last` to the next beat's first tick: 1 … 24
    for gaps in (left, left + CLOCK_PPQN):
        nearest = round(grid.position(last + gaps * tick))
        spans = [grid.beat_time(n) - last for n in (nearest - 1, nearest, nearest + 1)]
        stretches = [(abs(math.log(span / (gaps * tick))), span) for span in spans if span > 0]
        fitting = [(off, span) for off, span in stretches if off <= math.log(MAX_STRETCH) + _EPS]
        if fitting:
            return last + min(fitting)[1] / gaps
    return last + tick  # not reached: 24 more gaps always fit a beat (beats are 24 ticks apart, ×2 either way)
