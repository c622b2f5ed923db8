"""What happens when: the compiled Timeline, its events and the class rundown (plan rows)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from showctl.analysis.model import TrackAnalysis
from showctl.errors import Problem
from showctl.messages import OutMessage

__all__ = ["BeatPosition", "Event", "EventKind", "PlanRow", "Timeline", "TrackSlot", "beat_position", "slot_playing"]

EventKind = Literal["clock", "transport", "scene", "effect", "safe"]
# Order of events that fall at the same instant: MIDI start/stop first, then the clock tick (after a start),
# then the new look, then effects on top of it, and the safe scene last of all.
KIND_ORDER: dict[str, int] = {"transport": 0, "clock": 1, "scene": 2, "effect": 3, "safe": 4}


@dataclass(frozen=True)
class Event:
    t: float  # seconds from class start (musical time: output latency offsets are applied by the player)
    output: str
    message: OutMessage
    reason: str
    kind: EventKind

    def to_json(self) -> dict[str, Any]:
        """The `showctl timeline --json` object (field names are a CLI contract)."""
        return {"t": round(self.t, 6), "output": self.output, "message": str(self.message), "reason": self.reason}


@dataclass(frozen=True)
class TrackSlot:
    """Where a track sits in class time: it plays from `offset` s into the file, from class time `start`."""

    path: str
    analysis: TrackAnalysis
    start: float
    end: float
    offset: float
    nudge: float | None = None  # beats: the cue file's `nudge:` (already in `analysis`; the nudge key starts from it)

    def track_time(self, t: float) -> float:
        return t - self.start + self.offset

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def slot_playing(slots: Sequence[TrackSlot], t: float) -> int | None:
    """The index of the track playing at class time `t`; None before the first or after the last."""
    return next((i for i, s in enumerate(slots) if s.start <= t < s.end), None)


@dataclass(frozen=True)
class BeatPosition:
    """Where the music is at a moment, for the screens: the track's tempo, its bar and the beat in that bar."""

    tempo: float
    beats_per_bar: int
    bar: int  # downbeats so far in the track (0 before its first)
    beat: int  # beats since the last downbeat, that one counted as 1 (0 before the first downbeat)


def beat_position(slots: Sequence[TrackSlot], t: float) -> BeatPosition | None:
    """The position at class time `t` in the track playing then (after the class: in its last track)."""
    k = slot_playing(slots, t)
    slot = slots[k] if k is not None else (slots[-1] if slots else None)
    if slot is None:
        return None
    analysis, track_t = slot.analysis, slot.track_time(t)
    bar = bisect.bisect_right(analysis.downbeats, track_t)
    beat = 0
    if bar:
        last_downbeat = analysis.downbeats[bar - 1]
        beat = bisect.bisect_right(analysis.beats, track_t) - bisect.bisect_left(analysis.beats, last_downbeat)
    return BeatPosition(analysis.tempo, analysis.beats_per_bar, bar, beat)


@dataclass(frozen=True)
class PlanRow:
    """One row of `showctl plan`: a segment, or one phase (work/rest) of one interval round."""

    name: str
    kind: str
    round: int | None
    phase: Literal["work", "rest"] | None
    planned: float
    start: float
    end: float
    snapped_to: Literal["downbeat", "beat", "phrase", "none"]
    track: str
    track_time: float
    bar: int
    scene: str
    effects: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The `showctl plan --json` object (field names are a CLI contract)."""
        return {
            "name": self.name, "kind": self.kind, "round": self.round, "phase": self.phase,
            "planned": round(self.planned, 6), "start": round(self.start, 6), "end": round(self.end, 6),
            "snapped_to": self.snapped_to, "track": self.track, "track_time": round(self.track_time, 6),
            "bar": self.bar, "scene": self.scene, "effects": list(self.effects),
        }


@dataclass(frozen=True)
class Timeline:
    events: tuple[Event, ...]
    plan: tuple[PlanRow, ...]
    tracks: tuple[TrackSlot, ...]
    duration: float
    safe_scene: tuple[Event, ...]  # what every exit sends (t is meaningless here: sent when needed)
    warnings: tuple[Problem, ...] = ()  # located, for `showctl check`/`plan`: the class runs, but look here

    def events_from(self, t: float) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.t >= t)

    def scene_state_at(self, t: float) -> tuple[Event, ...]:
        """The scene messages a full run would have left each output in just before class time `t`.

        Starting mid-class sends these first, so the rig is in exactly the look it would have had. Effects
        are momentary (a pulse, a chase step) and carry no state; MIDI clock position is the clock's own.
        """
        latest: dict[str, float] = {}
        for event in self.events:
            if event.t >= t:
                break
            if event.kind == "scene":
                latest[event.output] = event.t
        return tuple(e for e in self.events if e.kind == "scene" and latest.get(e.output) == e.t and e.t < t)
