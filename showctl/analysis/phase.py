"""Phase doubt: how plausible it is that a tracked beat grid sits a half or a quarter beat off.

The beat tracker's own confidence (`tracker.confidence`: pulse × salience × steadiness) sees a grid at the
wrong metrical level, but not one in the wrong phase: a grid on the off-beat hats or the snare is as
periodic, as steady and as much on onsets as the grid on the kick. Real music gets this wrong (issue 15:
metal's double kick puts kicks on every 8th or 16th, so nothing tells the beat from the off-beat but the
accents), and a cue on "the beat" then lands between the beats for a whole class.

`phase_doubt` compares the evidence on the tracked beats with the evidence on the same grid shifted by a
quarter, a half and three quarters of a beat (each beat moved by that share of its own interval), on the
envelopes the tracker already computed, and looks for the grid jumping between phases:

- the kick band (log flux) carries the beat in class music: a clear kick on the grid and little between
  (off-beat house: shifted/tracked ≈ 0.15) settles the phase. Where the kick is as strong off the grid
  (`KICK_CLEAR`: ratio ≥ 0.5 starts to count), the full band decides, and doubt is the product of the two
  (a double kick under guitars that are as loud between the beats: both ≈ 0.8);
- a snare/clap band much stronger on the shifted grid than on the tracked one (`SNARE_OFF`): a grid on
  off-beat kicks with every snare and hat between its beats. The open hats of house music, which leak into
  the snare band, stay below it (≈ 2× on the synthesized corpus);
- jumps: beats more than `JUMP_BEATS` of a beat off the straight line through the 8 beats before them (a
  steady track's grid flipping between phases, as the tracker did in two real songs). `JUMP_SHARE` of such
  beats is full doubt.

The thresholds come from the real-music set's tuning half and the synthesized corpus; `bench/bench_phase.py`
measures the Spearman correlation of the confidence with beat F before and after.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from showctl.analysis.confidence import section_trust
from showctl.analysis.model import TrackAnalysis
from showctl.analysis.peaks import peak_near  # the tracker's own peak picking, shared, not copied

__all__ = ["JUMP_BEATS", "JUMP_SHARE", "KICK_CLEAR", "NO_DOUBT", "SHIFTS", "SNARE_OFF", "PhaseDoubt", "phase_doubt",
           "section_phase_doubt", "with_phase_doubt"]

FloatArray = npt.NDArray[np.float64]

# The alternatives to the tracked phase, in beats later: a quarter, a half, three quarters (a quarter early).
SHIFTS = (0.25, 0.5, 0.75)
# (start, width) of the ramp from "the band settles the phase" (0) to "no help" (1), over shifted/tracked.
KICK_CLEAR = (0.5, 0.5)
FULL_CLEAR = (0.3, 0.5)
SNARE_OFF = (3.0, 3.0)
# A beat this far (share of a beat) off the line through the previous `_JUMP_WINDOW` beats has jumped.
JUMP_BEATS = 0.12
JUMP_SHARE = 0.08
_JUMP_WINDOW = 8
# Fewer beats than this: too few to weigh one phase against another (no doubt reported).
MIN_BEATS = 8


@dataclass(frozen=True)
class PhaseDoubt:
    """`ambiguity` 0..1: 0 the tracked phase is clear, 1 another phase is as likely. `shift` (beats): the
    likeliest other phase, 0.5 (half a beat later, the same as half a beat earlier), 0.25 or -0.25."""

    ambiguity: float
    shift: float


NO_DOUBT = PhaseDoubt(0.0, 0.5)


def _ramp(x: float, start: float, width: float) -> float:
    return float(np.clip((x - start) / width, 0.0, 1.0))


def _jumped(beats: FloatArray) -> npt.NDArray[np.bool_]:
    """Per beat, whether it lies more than `JUMP_BEATS` of a beat off the straight line through the
    `_JUMP_WINDOW` beats before it. Beats after a gap of more than two beats (a silence, a new stretch)
    start afresh: their window is not judged."""
    n = len(beats)
    out = np.zeros(n, dtype=bool)
    w = _JUMP_WINDOW
    if n <= w:
        return out
    ibi = np.diff(beats)
    typical = float(np.median(ibi))
    x = np.arange(w, dtype=np.float64)
    x_c = x - x.mean()
    sxx = float(np.dot(x_c, x_c))
    for i in range(w, n):
        window = beats[i - w : i]
        if np.any(ibi[i - w : i] > 2.0 * typical):
            continue
        slope = float(np.dot(x_c, window - window.mean())) / sxx
        if slope <= 0:
            continue
        predicted = window.mean() + slope * (w - x.mean())
        out[i] = abs(beats[i] - predicted) / slope > JUMP_BEATS
    return out


@dataclass(frozen=True)
class _Evidence:
    """Per beat, each band's strength on the tracked beat and on each shifted one (arrays over beats)."""

    on: dict[str, FloatArray]
    shifted: dict[float, dict[str, FloatArray]]
    jumped: npt.NDArray[np.bool_]


def _evidence(bands: dict[str, FloatArray], frame_rate: float, beats: FloatArray) -> _Evidence:
    ibi = np.diff(beats)
    step = np.append(ibi, ibi[-1])  # the last beat moves by the interval before it

    def at(env: FloatArray, times: FloatArray) -> FloatArray:
        frames = np.clip(np.round(times * frame_rate).astype(np.int64), 0, len(env) - 1)
        return env[frames]

    peaks = {name: peak_near(env - float(np.median(env))) for name, env in bands.items()}
    on = {name: at(p, beats) for name, p in peaks.items()}
    shifted = {phi: {name: at(p, beats + phi * step) for name, p in peaks.items()} for phi in SHIFTS}
    return _Evidence(on, shifted, _jumped(beats))


def _doubt(ev: _Evidence, where: npt.NDArray[np.bool_]) -> PhaseDoubt:
    """`PhaseDoubt` from the beats selected by `where`."""
    if int(np.count_nonzero(where)) < MIN_BEATS:
        return NO_DOUBT

    def ratio(phi: float, band: str) -> float:
        on = float(np.mean(ev.on[band][where]))
        off = float(np.mean(ev.shifted[phi][band][where]))
        if on <= 1e-12:
            return 10.0 if off > 1e-12 else 1.0  # nothing on the grid: whatever is off it is as likely
        return float(np.clip(off / on, 0.0, 10.0))

    best, shift = 0.0, 0.5
    for phi in SHIFTS:
        kick = _ramp(ratio(phi, "kick"), *KICK_CLEAR) * _ramp(ratio(phi, "full"), *FULL_CLEAR)
        snare = _ramp(ratio(phi, "snare"), *SNARE_OFF)
        doubt = max(kick, snare)
        if doubt > best:
            best, shift = doubt, (phi if phi <= 0.5 else phi - 1.0)
    jumps = _ramp(float(np.mean(ev.jumped[where])), 0.0, JUMP_SHARE)
    if jumps > best:
        best, shift = jumps, 0.5
    return PhaseDoubt(round(best, 4), shift)


def phase_doubt(full: FloatArray, kick: FloatArray, snare: FloatArray, frame_rate: float,
                beats: Sequence[float] | FloatArray) -> PhaseDoubt:
    """The doubt over the tracked phase of `beats` (s), from the tracker's full-band and kick-band log flux
    and snare-band linear flux (`tracker.onset_envelopes`, `tracker.snare_envelope`), all at `frame_rate`."""
    return section_phase_doubt(full, kick, snare, frame_rate, beats, [])[0]


def section_phase_doubt(
    full: FloatArray, kick: FloatArray, snare: FloatArray, frame_rate: float,
    beats: Sequence[float] | FloatArray, sections: Sequence[tuple[float, float]],
) -> list[PhaseDoubt]:
    """[the whole track's doubt, then each section's (start, end in s)]: one pass over the envelopes.

    A section with fewer than `MIN_BEATS` beats (a silence, a short intro) has no doubt: there is too little
    to weigh, and its own confidence already says how little its grid is supported."""
    times = np.asarray(beats, dtype=np.float64)
    n = min(len(full), len(kick), len(snare))
    if len(times) < MIN_BEATS or n == 0:
        return [NO_DOUBT for _ in range(1 + len(sections))]
    ev = _evidence({"full": full[:n], "kick": kick[:n], "snare": snare[:n]}, frame_rate, times)
    out = [_doubt(ev, np.ones(len(times), dtype=bool))]
    out.extend(_doubt(ev, (times >= start) & (times < end)) for start, end in sections)
    return out


def with_phase_doubt(analysis: TrackAnalysis, full: FloatArray, kick: FloatArray, snare: FloatArray,
                     frame_rate: float, *, grid: float) -> TrackAnalysis:
    """The tracker's `analysis` with its phase doubt: `phase_ambiguity` and `phase_shift` for the track,
    `phase_ambiguity` for each section, and no confidence (track or section) above the certainty of its
    phase, 1 - the doubt. A grid in the wrong phase (on the off-beat, a quarter off) is as periodic and as
    much on onsets as the right one, so the tracker's own confidence cannot see it.

    The sections of `analysis` hold their support (`confidence.section_confidence`); each section's
    `confidence` becomes `confidence.section_trust` of it and `grid` (the track's grid confidence before
    the share that sounds), with the track's phase doubt: the one grid's doubt is every section's."""
    spans = [(s.start, s.end) for s in analysis.sections]
    track, *doubts = section_phase_doubt(full, kick, snare, frame_rate, analysis.beats, spans)
    trust = section_trust([s.confidence for s in analysis.sections], spans, min(grid, 1.0 - track.ambiguity))
    sections = tuple(dataclasses.replace(s, confidence=round(min(t, 1.0 - d.ambiguity), 4),
                                         phase_ambiguity=d.ambiguity)
                     for s, t, d in zip(analysis.sections, trust, doubts, strict=True))
    return dataclasses.replace(analysis, confidence=min(analysis.confidence, 1.0 - track.ambiguity),
                               sections=sections, phase_ambiguity=track.ambiguity, phase_shift=track.shift)
