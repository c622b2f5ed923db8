"""The class's musical grid: every beat of every track placed in class time, with bar and beat numbers."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from showctl.timeline.model import TrackSlot

__all__ = ["ClassGrid", "GridBeat", "next_downbeat"]

_EPS = 1e-6


@dataclass(frozen=True)
class GridBeat:
    t: float  # class time
    track: int  # index into the slots
    bar: int  # bar number in its track, from 1 (0 for a pickup before the first downbeat)
    beat: int  # beat in the bar, from 1


class ClassGrid:
    """Beats of all tracks in class time, with lookups the compiler needs (snapping, bar lengths)."""

    def __init__(self, slots: tuple[TrackSlot, ...]) -> None:
        self.slots = slots
        beats: list[GridBeat] = []
        for index, slot in enumerate(slots):
            beats += _track_beats(index, slot)
        self.beats = tuple(beats)
        self.times = [b.t for b in beats]

    def slot_at(self, t: float) -> int:
        starts = [s.start for s in self.slots]
        return max(0, bisect.bisect_right(starts, t + _EPS) - 1)

    def beat_period_at(self, t: float) -> float:
        analysis = self.slots[self.slot_at(t)].analysis
        return 60.0 / analysis.tempo

    def bar_length_at(self, t: float) -> float:
        slot = self.slots[self.slot_at(t)]
        return self.beat_period_at(t) * slot.analysis.beats_per_bar

    def boundaries(self, snap: str, phrase_bars: int) -> list[float]:
        if snap == "beat":
            return list(self.times)
        if snap == "downbeat":
            return [b.t for b in self.beats if b.beat == 1 and b.bar >= 1]
        if snap == "phrase":
            return [b.t for b in self.beats if b.beat == 1 and b.bar >= 1 and self._phrase_start(b, phrase_bars)]
        return []

    def _phrase_start(self, beat: GridBeat, phrase_bars: int) -> bool:
        # The analysis found the track's phrases (where its music changes): use them; else count bars.
        slot = self.slots[beat.track]
        if slot.analysis.phrases:
            track_t = slot.track_time(beat.t)
            return any(abs(track_t - p) < 0.02 for p in slot.analysis.phrases)
        return (beat.bar - 1) % phrase_bars == 0

    def nearest(self, candidates: list[float], t: float) -> float | None:
        if not candidates:
            return None
        i = bisect.bisect_left(candidates, t)
        near = [candidates[j] for j in (i - 1, i) if 0 <= j < len(candidates)]
        return min(near, key=lambda c: (abs(c - t), c))

    def index_at_or_after(self, t: float) -> int:
        """Index of the first beat at or after `t` (len(beats) when none)."""
        return bisect.bisect_left(self.times, t - _EPS)

    def locate(self, t: float) -> tuple[TrackSlot, float, int]:
        """(slot, time into the track, bar number) at class time `t`."""
        slot = self.slots[self.slot_at(t)]
        i = bisect.bisect_right(self.times, t + _EPS) - 1
        bar = self.beats[i].bar if i >= 0 and self.beats[i].track == self.slot_at(t) else 0
        return slot, slot.track_time(t), bar


def _is_downbeat(b: float, downbeats: list[float]) -> bool:
    i = bisect.bisect_left(downbeats, b - 0.02)
    return i < len(downbeats) and abs(downbeats[i] - b) < 0.02


def _track_beats(index: int, slot: TrackSlot) -> list[GridBeat]:
    """Number the track's beats by its analysed downbeats, then keep those inside the slot."""
    analysis = slot.analysis
    downbeats = sorted(analysis.downbeats)
    pickup = sum(1 for b in analysis.beats if not downbeats or b < downbeats[0] - 0.02)
    result: list[GridBeat] = []
    bar, beat = 0, analysis.beats_per_bar - pickup  # pickup beats lead into beat 1 of bar 1
    for b in analysis.beats:
        if _is_downbeat(b, downbeats):
            bar, beat = bar + 1, 1
        else:
            beat += 1
        t = slot.start + (b - slot.offset)
        if b >= slot.offset - _EPS and t < slot.end - _EPS:
            result.append(GridBeat(t, index, bar, max(beat, 1)))
    return result


def next_downbeat(grid: ClassGrid, at: float, lead: float) -> float:
    """The first downbeat at least `lead` s after `at` (where controls land), or `at + lead` past the grid."""
    downbeats = grid.boundaries("downbeat", 1)
    i = bisect.bisect_left(downbeats, at + lead)
    return downbeats[i] if i < len(downbeats) else at + lead
