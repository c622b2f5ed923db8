"""Confidence: how far the grid's beats stand on onsets against the frames between them, per track and per
section."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from showctl.analysis.beats import tempo_from_beats
from showctl.analysis.peaks import peak_near as _peak_near
from showctl.analysis.tempo import _autocorrelation, _comb

FloatArray = npt.NDArray[np.float64]

# --- confidence --------------------------------------------------------------------------------------


def confidence(env: FloatArray, frame_rate: float, beats: FloatArray) -> float:
    """How much to trust the beat grid, 0..1.

    The product of three checks, each mapped to 0..1:
    - pulse: the envelope's autocorrelation at the beat period (is there a periodic pulse at all?);
    - salience: onset strength on the beats against the envelope's typical level (do beats sit on onsets?);
    - steadiness: spread of the inter-beat intervals (is the grid regular?).
    Noise and rubato score low; a steady four-on-the-floor track scores close to 1.
    """
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < 4 or len(env) == 0:
        return 0.0
    ibi = np.diff(beats)
    # The grid's least-squares period, not the median interval: beats sit on whole frames, and a period
    # rounded to a whole frame drifts off the pulse by the 3rd or 4th multiple the comb looks at.
    grid_tempo = tempo_from_beats(beats)
    period = 60.0 / grid_tempo if grid_tempo else float(np.median(ibi))
    lag = period * frame_rate
    acf = _autocorrelation(env, int(np.ceil(4 * lag)) + 2)
    pulse = float(np.clip(_comb(acf, np.array([lag]), 4)[0] / 0.4, 0.0, 1.0))

    frames = np.clip(np.round(beats * frame_rate).astype(np.int64), 0, len(env) - 1)
    on_beat = float(np.mean(_peak_near(env)[frames]))
    typical = float(np.mean(env)) + 1e-9
    salience = float(np.clip((on_beat / typical - 1.5) / 2.0, 0.0, 1.0))

    spread = float(np.std(ibi) / period)
    steadiness = float(np.clip(1.0 - spread / 0.15, 0.0, 1.0))
    # A product, not a mean: any one failed check (no pulse, beats off the onsets, ragged grid) is enough
    # to distrust the grid.
    return float(np.clip(pulse * salience * steadiness, 0.0, 1.0))


# The contrast (a beat's onset strength over the section's typical level) at which a beat starts to count as
# on an onset, and at which it counts fully. A beat the tracker carries across a drum-less pad lands on the
# pad's flutter, at ~1.2× (median, on synthesized and spliced tracks); kicks and snares stand 5-50× above
# it, plucks ~3×, a beat with only hats on it (hip-hop, drum & bass) 1.5-2.5×.
ONSET_CONTRAST = (1.5, 3.0)
# No section's typical level counts as less than this share of the track's median on-beat strength: where
# the flux is ~0 between beats (a clean synthesized part), a ripple would otherwise stand out infinitely.
CONTRAST_FLOOR = 0.1


def section_confidence(
    env: FloatArray, sounding: npt.NDArray[np.bool_], frame_rate: float, beats: FloatArray, tempo: float,
    sections: Sequence[tuple[float, float]],
) -> list[float]:
    """Per section (start, end) in seconds: how well the beat grid is supported inside it, 0..1.

    The share of the beats the section should hold (its sounding length over the beat period) that sit on
    a clear onset of `env` (the envelope the beats were tracked on; `ONSET_CONTRAST` above the section's
    typical level, the median of the same peak-picked envelope over its sounding frames), times the share
    of the section that sounds (`sounding`): a silence holds no beat to trust, and a beat the tracker
    carried through a drum-less breakdown is not heard there. A share, not the track's `confidence`
    (pulse × salience × steadiness): a few bars are too short for a periodicity check. The section's
    `confidence` is this support weighed against the track's (`section_trust`).

    Reuses the envelope the beats were tracked on: one peak-picking pass and a median per section.
    """
    beats = np.asarray(beats, dtype=np.float64)
    n = min(len(env), len(sounding))
    if n == 0 or tempo <= 0 or len(beats) == 0:
        return [0.0 for _ in sections]
    peaks = _peak_near(env[:n])
    frames = np.clip(np.round(beats * frame_rate).astype(np.int64), 0, n - 1)
    strength = peaks[frames]
    floor = CONTRAST_FLOOR * float(np.median(strength))
    period = 60.0 * frame_rate / tempo  # frames
    lo, hi = ONSET_CONTRAST
    out: list[float] = []
    for start, end in sections:
        a, b = (min(n, max(0, round(t * frame_rate))) for t in (start, end))
        heard = sounding[a:b]
        count = int(np.count_nonzero(heard))
        if count == 0:
            out.append(0.0)
            continue
        typical = max(float(np.median(peaks[a:b][heard])), floor, 1e-12)
        inside = strength[(beats >= start) & (beats < end)]
        on_onset = np.clip((inside / typical - lo) / (hi - lo), 0.0, 1.0)
        support = min(1.0, float(on_onset.sum()) / max(count / period, 1.0))
        out.append(support * count / (b - a))
    return out


def section_trust(support: Sequence[float], sections: Sequence[tuple[float, float]], grid: float) -> list[float]:
    """Per section (start, end) in seconds: its `confidence`, 0..1, from its `support` (`section_confidence`)
    and `grid`, the track's grid confidence (the stretches' `confidence` before the share of the track that
    sounds, at most 1 - the track's phase doubt).

    `grid` × the section's support over the track's (the sections' mean support, weighted by length), at
    most 1. A section's beats come from the one grid: a wrong tempo octave or phase is wrong in every
    section, and the support cannot see it (a grid on the off-beats or at double time stands on onsets
    too), so the track's doubt is the section's. Support sets where the grid holds less or more than on the
    track's average: a section above it may be trusted more than the track (the drums around a drum-less
    breakdown, which held the track's confidence down), one below it less. Against the track's own
    average, not an absolute level: how far beats stand above the frames between them depends on the music
    (dense metal guitars: ~0.1 on a right grid) more than on the grid.
    """
    weights = np.array([max(0.0, end - start) for start, end in sections], dtype=np.float64)
    values = np.asarray(support, dtype=np.float64)
    if len(values) == 0:
        return []
    typical = float(np.dot(weights, values) / weights.sum()) if weights.sum() > 0 else 0.0
    if typical <= 0.0:
        return [0.0 for _ in sections]
    return [float(np.clip(grid * v / typical, 0.0, 1.0)) for v in values]
