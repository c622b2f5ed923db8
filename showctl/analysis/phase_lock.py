"""One beat phase for a steady track: a grid that slips half or a quarter beat part of the way is brought back.

The beat programme (`beats.track_beats`) scores each beat on the onsets around it and penalises only the
*interval* between two beats: sliding half a beat over ten beats costs it next to nothing. Where the
off-beat is as loud as the beat for a while (metal's 8th-note guitars and double kick, a kick playing
16ths), the grid slides onto the off-beat, or a quarter beat early, and back (issue 15: five of the eight
real songs spent from an eighth to over two thirds of their length there). Each stretch looks right on its own; only
the whole track tells which phase is the beat: in music whose tempo is steady, the phase the music holds
clearly in one part is the phase of its ambiguous parts too.

`lock_phase` fits one steady grid to the tracked beats, folded on half a beat (`steady_grid`: beats on
the grid and beats half a beat off it count alike). Where the beats follow it, every beat falls in one of
two *groups*, on the grid or half a beat off it; when both hold a fair share of the beats (`MIN_GROUP`),
every beat is moved onto one group's phase, the group with the stronger evidence over the whole track
(`half_beat_evidence`: the low end's onsets, kick and bass, land on the beat, and the backbeat's accents
alternate beat by beat where the off-beats between them do not). The same again folded on a quarter beat
(`quarter_beat_evidence`: there the full band's onsets decide, the kick being what pulled the grid off).

A grid that does not follow one steady tempo (`GRID_FIT`, `STEADY_TEMPO`: a live band's drift, a ramp, a
tempo change) is left alone, as is one whose beats are all in one group (this never moves a whole track, it
only makes the track agree with itself), and a group whose own beats clearly hold their phase (`HELD_PHASE`:
music that stops and comes back on another beat). The figures come from the real-music set's tuning half
(`bench/bench_realset.py`) and the synthesized corpora (`tests/test_analysis_corpus.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt

from showctl.analysis.peaks import peak_near

__all__ = ["GRID_FIT", "HELD_PHASE", "MIN_GROUP", "STEADY_TEMPO", "half_beat_evidence", "lock_phase",
           "quarter_beat_evidence", "steady_grid", "tempo_drift"]

FloatArray = npt.NDArray[np.float64]
Evidence = Callable[[Mapping[str, FloatArray], float, FloatArray], float]

# How well (0..1) the tracked beats must follow one steady grid, folded on half (or a quarter) of a beat,
# for the grid to be trusted: the mean resultant length of their folded phases. The real songs' grids:
# 0.70-0.99 folded on half a beat, 0.38-0.97 on a quarter (0.44 and 0.38 where quarter slips or jitter
# spread them); those with slips mended here 0.74-0.87. Live-played synthesized tracks: 0.52-0.66.
GRID_FIT = 0.5
# The smaller group must hold at least this share of the beats to be a slip worth mending.
MIN_GROUP = 0.1
# ... and the tempo must be steady: 90 % of the local tempos (the same folded fit over the 2 * `_LOCAL` + 1
# beats around every 8th beat, `tempo_drift`) within this share of the track's. Real songs with slips:
# ≤ 0.7 %; live-played synthesized tracks drifting ±2-3.5 %: ≥ 2 %, and their folded fit (0.52-0.66) may
# pass `GRID_FIT`.
STEADY_TEMPO = 0.01
_LOCAL = 16
# A group is not moved when the evidence on its own beats drops by more than this where they would go
# (`half_beat_evidence` / `quarter_beat_evidence` units, log onset strength): its phase is the music's, not
# a slide (two parts of a track joined off each other's grid: -8 and -9; the groups real songs slid into:
# -1.9 to +0.7).
HELD_PHASE = 4.0
# Fewer beats than this: too few to tell a steady grid.
MIN_BEATS = 32


def steady_grid(beats: FloatArray, fold: int, *, span: float = 0.01) -> tuple[float, float, float]:
    """(period s, time of a grid point s, fit 0..1) of the steady grid `beats` (s) best follow, each beat's
    phase folded on 1/`fold` of a beat. The beat rate is searched within ±`span` of the median interval's,
    in steps that move the last beat by a quarter of the fold, then refined; the fit is the mean resultant
    length of the folded phases (`GRID_FIT`)."""
    b = np.asarray(beats, dtype=np.float64)
    t = b - b[0]
    rate = 1.0 / float(np.median(np.diff(b)))  # beats per second
    cycles = fold * max(float(t[-1]) * rate, 1.0)  # folded cycles from the first beat to the last
    half = int(np.ceil(span * cycles * 4))
    best_fit, best_rate = -1.0, rate
    for width, count in ((span, half), (span / max(1, half), 4)):
        # exp(2πi·fold·t·r) over rates r = r0 (1 + k·step), k = -count..count: one exp for the first and one
        # for the step, then a complex product per rate (an exp per rate and beat cost 10× more).
        step = width / max(1, count)
        z = np.exp(2j * np.pi * fold * t * best_rate * (1.0 - width))
        dz = np.exp(2j * np.pi * fold * t * best_rate * step)
        resultant = np.empty(2 * count + 1)
        for k in range(2 * count + 1):
            resultant[k] = abs(z.mean())
            z *= dz
        k = int(np.argmax(resultant))
        best_fit, best_rate = float(resultant[k]), best_rate * (1.0 - width + k * step)
    angle = float(np.angle(np.mean(np.exp(2j * np.pi * fold * t * best_rate))))
    return 1.0 / best_rate, float(b[0]) + angle / (2 * np.pi * fold * best_rate), best_fit


def tempo_drift(beats: FloatArray, fold: int, period: float) -> float:
    """The 90th percentile of how far (share) the local tempo strays from `period`: the rate that best fits
    the `2 * _LOCAL + 1` beats around every 8th beat, folded alike (so a slip does not count as a change),
    searched within ±5 % in steps of 0.25 %."""
    b = np.asarray(beats, dtype=np.float64)
    width = 2 * _LOCAL + 1
    if len(b) < width:
        return 0.0
    windows = np.lib.stride_tricks.sliding_window_view(b, width)[::8]
    t = windows - windows[:, :1]  # windows × beats, from each window's first beat
    ratios = 1.0 + np.linspace(-0.05, 0.05, 41)
    phase = 2j * np.pi * fold / period * t[:, None, :] * ratios[None, :, None]  # windows × rates × beats
    fits = np.abs(np.exp(phase).mean(axis=2))
    local = 1.0 / ratios[np.argmax(fits, axis=1)]  # each window's period, as a share of `period`
    return float(np.percentile(np.abs(local - 1.0), 90))


def _on(peaks: FloatArray, frame_rate: float, beats: FloatArray) -> FloatArray:
    """The onset strength `peaks` (per frame, `_peaks`) at each beat (s)."""
    frames = np.clip(np.round(beats * frame_rate).astype(np.int64), 0, len(peaks) - 1)
    return peaks[frames]


def _peaks(env: FloatArray) -> FloatArray:
    """Per frame, the strength of the onset there: `env` above its median, the peak within ±2 frames."""
    return peak_near(env - float(np.median(env)))


def _log_mean(values: FloatArray) -> float:
    return float(np.log(max(float(np.mean(values)), 1e-12)))


def _alternation(values: FloatArray, bar: int = 8) -> float:
    """How strongly per-beat `values` alternate beat by beat (odd beats against even ones, in blocks of
    `bar` beats), relative to their mean size."""
    x = values / (float(np.mean(np.abs(values))) + 1e-12)
    n = len(x) // bar * bar
    if n == 0:
        return 0.0
    blocks = x[:n].reshape(-1, bar)
    return float(np.mean(np.abs(blocks[:, 0::2].mean(axis=1) - blocks[:, 1::2].mean(axis=1))))


def half_beat_evidence(peaks: Mapping[str, FloatArray], frame_rate: float, beats: FloatArray) -> float:
    """How much `beats` (s) look like the beat rather than the off-beat half a beat away: the log mean onset
    strength of the low end on them ("kick", "bass"), plus how much the full band and the mids ("full",
    "mid") alternate beat by beat on them (kick and snare take turns on the beats; the 8ths between them do
    not). The full band's own strength is left out: where the grid slid onto the off-beat, the off-beat was
    as loud. `peaks`: per band, the onset strength per frame (`_peaks`). Only differences between grids of
    one track mean anything."""
    return (_log_mean(_on(peaks["kick"], frame_rate, beats)) + _log_mean(_on(peaks["bass"], frame_rate, beats))
            + _alternation(_on(peaks["full"], frame_rate, beats)) + _alternation(_on(peaks["mid"], frame_rate, beats)))


def quarter_beat_evidence(peaks: Mapping[str, FloatArray], frame_rate: float, beats: FloatArray) -> float:
    """How much `beats` (s) look like the beat rather than a quarter beat off it: the log mean onset
    strength of the full band, the kick band and the bass on them (`peaks` as in `half_beat_evidence`).
    A grid a quarter off sits on a kick playing 16ths; the rest of the band plays on the beat."""
    return sum(_log_mean(_on(peaks[name], frame_rate, beats)) for name in ("full", "kick", "bass"))


def lock_phase(beats: FloatArray, bands: Mapping[str, FloatArray], frame_rate: float) -> FloatArray:
    """`beats` (s) with their half-beat slips mended, then their quarter-beat ones (see the module's
    docstring); unchanged when there are none, or when the beats do not follow one steady grid.

    `bands`: the onset envelopes at `frame_rate` the evidence is drawn from: "full" and "mid" (log-mel flux
    of the whole band and of 150-1000 Hz), "kick" and "bass" (linear flux below 150 Hz and 40-300 Hz)."""
    b = np.asarray(beats, dtype=np.float64)
    if len(b) < MIN_BEATS:
        return b
    drawn: dict[str, FloatArray] = {}

    def peaks() -> Mapping[str, FloatArray]:  # drawn once, and only for a grid that may be mended
        if not drawn:
            drawn.update((name, _peaks(env)) for name, env in bands.items())
        return drawn

    b = _lock(b, peaks, frame_rate, 2, half_beat_evidence)
    return _lock(b, peaks, frame_rate, 4, quarter_beat_evidence)


def _lock(beats: FloatArray, peaks: Callable[[], Mapping[str, FloatArray]], frame_rate: float, fold: int,
          evidence: Evidence) -> FloatArray:
    """`beats` all moved onto the phase of one group of the grid folded on 1/`fold` beat, or unchanged."""
    if len(beats) < MIN_BEATS:
        return beats
    period, origin, fit = steady_grid(beats, fold)
    if fit < GRID_FIT:
        return beats
    position = fold * (beats - origin) / period  # in 1/fold beats from a grid point
    slot = np.round(position)
    group = slot.astype(np.int64) % fold
    shares = np.bincount(group, minlength=fold) / len(beats)
    kept = np.flatnonzero(shares >= MIN_GROUP)
    if len(kept) < 2 or tempo_drift(beats, fold, period) > STEADY_TEMPO:
        return beats
    candidates: list[FloatArray] = []
    scores: list[float] = []
    for keep in kept:
        # Each beat moves by whole 1/fold beats onto the kept group's phase, to the nearer such slot
        # (the tracked beat's own timing is kept); a beat far between slots, mid-slide, lands on the grid.
        target = np.round((position - keep) / fold) * fold + keep
        moved = beats + (target - slot) * period / fold
        between = np.abs(position - slot) > 0.25
        moved[between] = origin + target[between] * period / fold
        # Beats whose own onsets clearly hold them where they are stay: the music itself changed phase
        # (it stopped and came back on another beat), the tracker did not slide.
        moving = (target != slot) & ~between
        if evidence(peaks(), frame_rate, moved[moving]) - evidence(peaks(), frame_rate, beats[moving]) < -HELD_PHASE:
            continue
        candidate = _tidy(moved, period)
        candidates.append(candidate)
        scores.append(evidence(peaks(), frame_rate, candidate))
    return candidates[int(np.argmax(scores))] if candidates else beats


def _tidy(beats: FloatArray, period: float) -> FloatArray:
    """`beats` sorted, without a beat closer than half a period to the one kept before it, and each gap of
    1.5 periods or more filled with evenly spaced beats (where two groups met)."""
    b = np.sort(beats)
    kept = [float(b[0])]
    for t in b[1:]:
        if t - kept[-1] >= 0.5 * period:
            kept.append(float(t))
    out = [kept[0]]
    for t in kept[1:]:
        gap = t - out[-1]
        n = round(gap / period)
        if n >= 2 and gap >= 1.5 * period:
            out.extend(out[-1] + gap * np.arange(1, n) / n)
        out.append(t)
    return np.asarray(out, dtype=np.float64)
