"""The values every live beat source gives the player: committed beats and a predicted beat grid.

A source never hands the player raw beat events to react to (they would land 10–70 ms late). It keeps a
`PredictedGrid` (tempo, where one beat falls, where the bar starts, how sure it is) up to date; the player
schedules each cue on the grid's next beats, each output early by its own latency. `BeatEstimate` is one
beat a source committed to ahead of time (what `showctl follow` prints).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["BeatEstimate", "BeatSource", "PredictedGrid", "SourceState"]

# listening: no grid yet; locked: the grid follows the music; holding: evidence is weak or gone (a
# breakdown, the clock stopped), the last good grid runs on; no-beat: nothing to follow (silence, noise).
SourceState = Literal["listening", "locked", "holding", "no-beat"]


@dataclass(frozen=True)
class BeatEstimate:
    """One beat a source committed to: it happens at `t` (s, the source's clock), decided at `reported`.

    `reported < t` for a beat predicted ahead of time (the point: lights are sent early).
    """

    t: float
    reported: float
    tempo: float  # BPM
    downbeat: bool
    confidence: float  # 0..1

    @property
    def lead(self) -> float:
        """How long before the beat it was committed (s); negative when committed late."""
        return self.t - self.reported

    def to_json(self) -> dict[str, Any]:
        """The `showctl follow --json` contract: exactly t, reported, tempo, downbeat."""
        return {"t": round(self.t, 4), "reported": round(self.reported, 4), "tempo": round(self.tempo, 2),
                "downbeat": self.downbeat}


@dataclass(frozen=True)
class PredictedGrid:
    """A beat grid running forward from what a source knows now: beat n is at `anchor + n·60/tempo`.

    `anchor` is one beat's time (s, on the source's clock) and `anchor_in_bar` its place in the bar
    (0 = the downbeat). Valid until the source publishes a new grid; a holding source keeps publishing its
    last good grid with a falling `confidence`, so the lights never stop.
    """

    source: str
    tempo: float
    anchor: float
    anchor_in_bar: int = 0
    beats_per_bar: int = 4
    confidence: float = 1.0
    state: SourceState = "locked"

    def __post_init__(self) -> None:
        if not (self.tempo > 0 and math.isfinite(self.tempo)):
            raise ValueError(f"tempo must be a positive number, got {self.tempo}")
        if self.beats_per_bar < 1:
            raise ValueError(f"beats_per_bar must be at least 1, got {self.beats_per_bar}")

    @property
    def period(self) -> float:
        """Seconds per beat."""
        return 60.0 / self.tempo

    def position(self, t: float) -> float:
        """Beats since the anchor at time `t` (fractional; negative before it)."""
        return (t - self.anchor) / self.period

    def beat_time(self, n: int) -> float:
        """Time of beat `n` counted from the anchor (0 = the anchor)."""
        return self.anchor + n * self.period

    def in_bar(self, n: int) -> int:
        """Place of beat `n` (from the anchor) in its bar: 0 = the downbeat."""
        return (self.anchor_in_bar + n) % self.beats_per_bar

    def next_beats(self, after: float, count: int = 4) -> tuple[float, ...]:
        """The next `count` beat times strictly after `after`."""
        first = math.floor(self.position(after)) + 1
        return tuple(self.beat_time(first + k) for k in range(count))

    def next_downbeat(self, after: float) -> float:
        """The first downbeat strictly after `after`: where a segment change should land."""
        n = math.floor(self.position(after)) + 1
        n += (-self.in_bar(n)) % self.beats_per_bar
        return self.beat_time(n)


class BeatSource(Protocol):
    """What the player needs from any live source (audio, MIDI clock, tap, Link)."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> SourceState: ...

    def grid(self) -> PredictedGrid | None:
        """The current predicted grid, or None before the source has one."""
        ...
