"""Downbeats: the bar phase (and metre) where bass accents and chord changes line up with the beats."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from showctl.analysis.peaks import peak_near as _peak_near

FloatArray = npt.NDArray[np.float64]

# --- downbeats ---------------------------------------------------------------------------------------


def downbeat_cues(beats: FloatArray, kick_env: FloatArray, pitch: FloatArray, frame_rate: float) -> FloatArray:
    """Per beat, how much it sounds like beat 1 of a bar (standardised, higher = more likely).

    Two cues: the kick-band onset strength at the beat (`kick_env`: bass roots and accented kicks fall on
    beat 1) and how much the `chroma` (`pitch`) of the beat differs from the beat before (chords change
    at the bar line), each standardised, summed. Both envelopes are at `frame_rate`.
    """
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < 2:
        return np.zeros(len(beats))
    frames = np.clip(np.round(beats * frame_rate).astype(np.int64), 0, len(kick_env) - 1)
    accent = _peak_near(kick_env)[frames]

    edges = np.clip(np.round(np.append(beats, beats[-1] + np.median(np.diff(beats))) * frame_rate)
                    .astype(np.int64), 0, pitch.shape[1])
    # Per-beat means from running sums: one pass over the chroma instead of one slice per beat.
    running = np.concatenate([np.zeros((12, 1)), np.cumsum(pitch, axis=1)], axis=1)
    spans = np.diff(edges)
    per_beat = ((running[:, edges[1:]] - running[:, edges[:-1]]) / np.maximum(spans, 1)).T
    norms = np.linalg.norm(per_beat, axis=1) + 1e-9
    unit = per_beat / norms[:, None]
    change = np.zeros(len(beats))
    change[1:] = 1.0 - np.sum(unit[1:] * unit[:-1], axis=1)
    return _zscore(accent) + _zscore(change)


def _phase_scores(cue: FloatArray, beats_per_bar: int) -> list[float]:
    return [float(np.mean(cue[p::beats_per_bar])) for p in range(beats_per_bar)]


def estimate_metre(cue: FloatArray, candidates: tuple[int, ...] = (4, 3)) -> int:
    """Beats per bar: the metre whose bar phase stands out most from its other phases.

    Folding the downbeat cue by the true metre puts every bar line in one phase; folding by a wrong one
    spreads them evenly, so all phases score alike. The contrast (best phase minus the mean of the others)
    decides; 4/4 is kept unless another metre's contrast is clearly (25 %) higher, since nearly all
    class music is in four.
    """
    default = candidates[0]
    if len(cue) < 4 * max(candidates):
        return default

    def contrast(m: int) -> float:
        scores = sorted(_phase_scores(cue, m), reverse=True)
        return scores[0] - float(np.mean(scores[1:]))

    best = max(candidates, key=contrast)
    return best if best == default or contrast(best) > 1.25 * max(contrast(default), 1e-9) else default


def estimate_downbeats(beats: FloatArray, cue: FloatArray, beats_per_bar: int = 4) -> FloatArray:
    """Downbeat times: the bar phase (0..beats_per_bar-1) whose beats carry the strongest `cue` (per beat,
    from `downbeat_cues`)."""
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < 2 * beats_per_bar:
        return beats[:1].copy()
    phase = int(np.argmax(_phase_scores(cue, beats_per_bar)))
    return beats[phase::beats_per_bar].copy()


def _zscore(x: FloatArray) -> FloatArray:
    sd = float(np.std(x))
    return (x - np.mean(x)) / sd if sd > 0 else np.zeros_like(x)
