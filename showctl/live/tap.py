"""Tap tempo: taps in (a key, an OSC message from a tablet), a `PredictedGrid` out. Pure: times are given.

The tempo is a least-squares line through the taps (index → time), so one early or late tap moves it
little; a gap of about two beats counts as two (a missed tap). `downbeat(t)` is "this is the one": the
beat nearest `t` becomes beat 1 of the bar.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from showctl.live.model import PredictedGrid, SourceState

__all__ = ["TapTempo"]


class TapTempo:
    name = "tap"

    def __init__(self, *, keep: int = 8, max_gap: float = 2.0, beats_per_bar: int = 4,
                 min_bpm: float = 40.0, max_bpm: float = 250.0) -> None:
        if keep < 2:
            raise ValueError("keep must be at least 2 taps")
        self.keep, self.max_gap, self.beats_per_bar = keep, max_gap, beats_per_bar
        self.min_bpm, self.max_bpm = min_bpm, max_bpm
        self._taps: deque[tuple[int, float]] = deque(maxlen=keep)  # (beat index, time)
        self._grid: PredictedGrid | None = None
        self._downbeat: float | None = None

    @property
    def state(self) -> SourceState:
        return "locked" if self._grid is not None else "listening"

    def tap(self, t: float) -> PredictedGrid | None:
        """One tap at time `t` (s, any clock the caller keeps using); returns the new grid, if any."""
        if self._taps and (t <= self._taps[-1][1] or t - self._taps[-1][1] > self.max_gap):
            self._taps.clear()  # a pause (or time going backwards): a new tempo starts here
        if not self._taps:
            self._taps.append((0, t))
        else:
            last_index, last_t = self._taps[-1]
            beats = 1
            if self._grid is not None and len(self._taps) >= 3:
                beats = max(1, round((t - last_t) / self._grid.period))  # a missed tap counts its beats
            self._taps.append((last_index + beats, t))
        self._refit()
        return self._grid

    def downbeat(self, t: float) -> PredictedGrid | None:
        """"This is the one": the beat nearest `t` is the downbeat (a tap at `t` too when none is running)."""
        if self._grid is None:
            self.tap(t)
        self._downbeat = t
        self._refit()
        return self._grid

    def grid(self) -> PredictedGrid | None:
        return self._grid

    def _refit(self) -> None:
        if len(self._taps) < 2:
            self._grid = None
            return
        index = np.array([i for i, _ in self._taps], dtype=np.float64)
        times = np.array([t for _, t in self._taps], dtype=np.float64)
        slope, intercept = np.polyfit(index, times, 1)
        if slope <= 0:
            self._grid = None
            return
        tempo = float(np.clip(60.0 / slope, self.min_bpm, self.max_bpm))
        anchor = float(slope * index[-1] + intercept)  # the fitted time of the last tap: a beat
        in_bar = 0
        if self._downbeat is not None:
            in_bar = round((anchor - self._downbeat) / (60.0 / tempo)) % self.beats_per_bar
        # Confidence grows with the number of taps and falls with their spread around the line.
        spread = float(np.std(times - (slope * index + intercept))) / float(slope)
        confidence = float(np.clip(len(self._taps) / self.keep, 0.0, 1.0) * np.clip(1.0 - spread / 0.1, 0.0, 1.0))
        self._grid = PredictedGrid(self.name, tempo, anchor, in_bar, self.beats_per_bar, confidence, "locked")
