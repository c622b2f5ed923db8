"""Overrides from a cue file, for the rare track the tracker gets wrong: pure functions on `TrackAnalysis`.

A cue file can give a track a tempo hint, its first downbeat, or a fixed grid (BPM + offset of the first
beat). Overrides win over what was tracked, and the result names what was overridden
(`TrackAnalysis.overrides`) so `showctl analyze` and the timeline can show it.

`apply_overrides` needs no audio for a grid, a first downbeat, or a tempo hint that is the tracked tempo
or its double or half (the grid is thinned or filled in). A hint at any other tempo means re-tracking:
it raises `NeedsAudioError`, and `showctl.analysis.analyze_file(path, overrides=...)` does that.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass as validated

from showctl.analysis.model import Time, TrackAnalysis

__all__ = ["NeedsAudioError", "Overrides", "apply_overrides", "nudge_from"]

# A hint within this share of the tracked tempo (or of its double or half) is the same grid.
HINT_TOLERANCE = 0.04


class NeedsAudioError(ValueError):
    """The override cannot be applied to the analysis alone: the track has to be re-tracked."""


Bpm = Annotated[float, Field(gt=0.0)]


@validated(frozen=True, config=ConfigDict(allow_inf_nan=False))
class Overrides:
    """What a cue file says about one track (all optional). Validated as built (`ValueError`): a tempo of
    0 BPM or a NaN would give a grid without end."""

    tempo: Bpm | None = None  # BPM hint: re-track near it
    first_downbeat: Time | None = None  # s
    grid: tuple[Bpm, Time] | None = None  # (BPM, offset s of the first beat): a fixed grid
    nudge: Annotated[float, Field(gt=-1.0, lt=1.0)] | None = None  # beats: move the whole grid (0.5: off-beat)

    def __bool__(self) -> bool:
        return (self.tempo is not None or self.first_downbeat is not None or self.grid is not None
                or self.nudge is not None)


def _with(names: tuple[str, ...], name: str) -> tuple[str, ...]:
    return names if name in names else (*names, name)


def _phrase_bars(a: TrackAnalysis) -> int:
    """How many bars the analysis's phrases span (8 when it has too few to tell)."""
    if len(a.phrases) < 2 or len(a.downbeats) < 2:
        return 8
    bar = float(np.median(np.diff(a.downbeats)))
    return max(1, round(float(np.median(np.diff(a.phrases))) / bar))


def _rephrase(a: TrackAnalysis, downbeats: tuple[float, ...]) -> tuple[float, ...]:
    return downbeats[:: _phrase_bars(a)]


def _retempo(a: TrackAnalysis, tempo: float) -> TrackAnalysis:
    """The same grid at the hinted level: as is, doubled (midpoints added) or halved (the parity that
    holds the downbeats kept)."""
    ratio = tempo / a.tempo
    beats = np.asarray(a.beats, dtype=np.float64)
    if abs(ratio - 1.0) <= HINT_TOLERANCE:
        return dataclasses.replace(a, overrides=_with(a.overrides, "tempo"))
    if abs(ratio / 2.0 - 1.0) <= HINT_TOLERANCE and len(beats) >= 2:
        mids = (beats[:-1] + beats[1:]) / 2
        new = tuple(float(b) for b in np.sort(np.concatenate([beats, mids])))
        # The bar doubt was weighed on the other level's beats: no longer said (bar_ambiguity 0).
        return dataclasses.replace(a, tempo=a.tempo * 2, beats=new, bar_ambiguity=0.0,
                                   overrides=_with(a.overrides, "tempo"))
    if abs(ratio * 2.0 - 1.0) <= HINT_TOLERANCE and len(beats) >= 2:
        first = a.downbeats[0] if a.downbeats else float(beats[0])
        parity = int(np.argmin(np.abs(beats - first))) % 2
        kept = tuple(float(b) for b in beats[parity::2])
        bar_beats = max(1, a.beats_per_bar // 2) if a.beats_per_bar % 2 == 0 else a.beats_per_bar
        start = int(np.argmin(np.abs(np.asarray(kept) - first)))
        downbeats = kept[start::bar_beats]
        return dataclasses.replace(a, tempo=a.tempo / 2, beats=kept, downbeats=downbeats, bar_ambiguity=0.0,
                                   phrases=_rephrase(a, downbeats), overrides=_with(a.overrides, "tempo"))
    raise NeedsAudioError(f"{a.path}: a tempo hint of {tempo:g} BPM needs the track re-analysed "
                          f"(tracked at {a.tempo:.1f} BPM)")


def _fixed_grid(a: TrackAnalysis, bpm: float, offset: float) -> TrackAnalysis:
    if bpm <= 0:
        raise ValueError(f"{a.path}: grid tempo must be more than 0 BPM, got {bpm:g}")
    period = 60.0 / bpm
    count = int(np.floor((a.duration - offset) / period)) + 1 if offset < a.duration else 0
    beats = tuple(float(offset + k * period) for k in range(max(0, count)))
    downbeats = beats[:: a.beats_per_bar]
    # The user vouches for the grid everywhere, sections included: the tracker's support for its own grid
    # says nothing about this one.
    sections = tuple(dataclasses.replace(s, confidence=1.0, phase_ambiguity=0.0) for s in a.sections)
    return dataclasses.replace(a, tempo=float(bpm), beats=beats, downbeats=downbeats,
                               phrases=_rephrase(a, downbeats), confidence=1.0, sections=sections,
                               overrides=_with(a.overrides, "grid"), phase_ambiguity=0.0)


def _first_downbeat(a: TrackAnalysis, t: float) -> TrackAnalysis:
    if not a.beats:
        raise ValueError(f"{a.path}: no beats to put a first downbeat on")
    beats = np.asarray(a.beats, dtype=np.float64)
    i0 = int(np.argmin(np.abs(beats - t)))
    downbeats = tuple(float(b) for b in beats[i0 :: a.beats_per_bar])
    return dataclasses.replace(a, downbeats=downbeats, phrases=_rephrase(a, downbeats),
                               overrides=_with(a.overrides, "first_downbeat"))


def _nudge(a: TrackAnalysis, beats_moved: float, since: float | None = None) -> TrackAnalysis:
    """Every beat (and so every downbeat and phrase) moved by `beats_moved` of its own beat: the tracker's
    grid on the snare or the hats, half a beat off the kick, is put back on the kick by 0.5. With `since`
    (track s), only the beats from then on move (the instructor's nudge during class)."""
    if len(a.beats) < 2 or beats_moved == 0:
        return dataclasses.replace(a, overrides=_with(a.overrides, "nudge"))
    beats = np.asarray(a.beats, dtype=np.float64)
    gaps = np.diff(beats)
    before = np.insert(gaps, 0, gaps[0])  # a beat's gap to the one before (the first borrows the next's)
    # Forward: a beat's own gap to the next; backward: to the one before (the ends borrow their neighbour's).
    step = np.append(gaps, gaps[-1]) if beats_moved > 0 else before
    later = beats >= (since if since is not None else -np.inf)
    moved = np.where(later, beats + beats_moved * step, beats)
    keep = (moved >= 0.0) & (moved <= a.duration)
    if not later.all() and later.any():
        # The seam: a moved beat closer than 3/4 of a beat to the last one left in place is left out, so the
        # grid never beats (and an effect never flashes) faster than it did on either side of the seam.
        last = beats[~later][-1]
        keep &= ~later | (moved - last >= 0.75 * before)
    index = {float(b): i for i, b in enumerate(beats)}

    def shifted(times: tuple[float, ...]) -> tuple[float, ...]:
        return tuple(float(moved[i]) for t in times if (i := index.get(float(t))) is not None and keep[i])

    return dataclasses.replace(a, beats=tuple(float(b) for b in moved[keep]), downbeats=shifted(a.downbeats),
                               phrases=shifted(a.phrases), overrides=_with(a.overrides, "nudge"))


def nudge_from(analysis: TrackAnalysis, beats_moved: float, since: float) -> TrackAnalysis:
    """`analysis` with its beats from track time `since` on moved by `beats_moved` of a beat, bars and
    phrases with them; those before stay. A moved beat that would come within 3/4 of a beat of the last one
    before the seam is left out."""
    return _nudge(analysis, float(beats_moved), float(since))


def apply_overrides(
    analysis: TrackAnalysis,
    *,
    tempo: float | None = None,
    first_downbeat: float | None = None,
    grid: tuple[float, float] | None = None,
    nudge: float | None = None,
) -> TrackAnalysis:
    """`analysis` with the cue file's overrides applied; unchanged when none is given.

    - `grid` (BPM, offset): beats every 60/BPM s from `offset` to the end, a downbeat every
      `beats_per_bar` from `offset` (or from `first_downbeat`), confidence 1 for the track and each section
      (the user vouches for it); a `tempo` given with it is ignored.
    - `tempo`: the tracked grid if the hint is its tempo, its double or its half; else `NeedsAudioError`.
    - `nudge` (beats): the whole grid moves by that share of a beat (0.5: onto the off-beat), bars with it.
    - `first_downbeat` (s, last: on the nudged beats): the bars restart at the beat nearest to it; beats
      before it are a pickup.
    Phrases follow the new downbeats (same number of bars per phrase); sections are kept: they come from
    the energy of the audio, not from the grid.
    """
    result = analysis
    if grid is not None:
        result = _fixed_grid(result, float(grid[0]), float(grid[1]))
    elif tempo is not None:
        if tempo <= 0:
            raise ValueError(f"{analysis.path}: tempo hint must be more than 0 BPM, got {tempo:g}")
        result = _retempo(result, float(tempo))
    # The nudge before the first downbeat: a tech gives where bar 1 is heard, on the kick, which is where the
    # nudged beats are; the tracked ones sit half a beat either side of it, a tie either way.
    if nudge is not None:
        result = _nudge(result, float(nudge))
    if first_downbeat is not None:
        result = _first_downbeat(result, float(first_downbeat))
    return result
