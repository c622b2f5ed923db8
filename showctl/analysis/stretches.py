"""Long tracks analysed a stretch at a time, so memory stays bounded whatever the length.

An hour-long mix, or a whole day's recording, would need gigabytes if the tracker saw it at once (its
spectrogram alone is 90 MB an hour). `analyze_stream` takes the samples as they are decoded, at
`ANALYSIS_RATE`: a track of up to `WHOLE` seconds is analysed whole, exactly as `analyze_signal` would;
a longer one in windows of `STRETCH` seconds that overlap by `OVERLAP`, each tracked on its own (tempo,
phase, bars, sections, like the stretches between long silences). Neighbouring windows hand over in
the middle of their overlap, where each has `OVERLAP / 2` seconds of music on either side to settle
on: the beats, bars, phrases and sections of each window are kept up to that seam.

Held at once: at most `WHOLE` seconds at 11,025 Hz (41 MB) and one window's analysis (~200 MB), for
any length. What changes over one long file: each window has its own tempo (a DJ mix's tempo drifts),
the track's `tempo` is the one most of its beats follow, and its `confidence` (and `phase_ambiguity`) the
windows' own weighted by the time each one covers.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from showctl.analysis.model import Section, TrackAnalysis
from showctl.analysis.tracker import ANALYSIS_RATE, analyze_signal

__all__ = ["OVERLAP", "STRETCH", "WHOLE", "analyze_stream"]

STRETCH = 600.0  # s: a window's new music; the next window starts this much later
OVERLAP = 30.0  # s: music two neighbouring windows share; they hand over in its middle
# A track up to this long is analysed whole: the last window may run up to half a stretch longer than the
# others rather than leave a short one at the end with too little music to find its tempo in.
WHOLE = STRETCH * 1.5 + OVERLAP

@dataclass(frozen=True)
class _Window:
    """One window's analysis, its place in the track (s) and the part of the track it speaks for."""

    analysis: TrackAnalysis
    offset: float
    keep_from: float
    keep_to: float

    def times(self, values: tuple[float, ...]) -> list[float]:
        """`values` (window time) moved to track time, those in the window's kept part."""
        moved = (v + self.offset for v in values)
        return [t for t in moved if self.keep_from <= t < self.keep_to]


def analyze_stream(
    blocks: Iterable[npt.NDArray[np.float32]],
    path: str = "",
    *,
    tempo_hint: float | None = None,
    stretch: float = STRETCH,
    overlap: float = OVERLAP,
) -> TrackAnalysis:
    """Analyse mono float32 `blocks` at `ANALYSIS_RATE` as they come (see the module's docstring).

    Raises `AnalysisError` as `analyze_signal` does (a too-short track, samples that are not finite).
    """
    rate = ANALYSIS_RATE
    step, shared = round(stretch * rate), round(overlap * rate)
    whole = step + step // 2 + shared
    held: list[npt.NDArray[np.float32]] = []
    count = 0  # samples in `held`
    start = 0  # track sample where `held` begins
    windows: list[_Window] = []
    for block in blocks:
        held.append(np.asarray(block, dtype=np.float32))
        count += len(block)
        while count > whole:
            buffer = np.concatenate(held)
            window = buffer[: step + shared]
            offset = start / rate
            keep_from = 0.0 if not windows else offset + overlap / 2
            keep_to = offset + stretch + overlap / 2
            windows.append(_Window(analyze_signal(window, rate, path, tempo_hint=tempo_hint), offset,
                                   keep_from, keep_to))
            held, count, start = [buffer[step:]], len(buffer) - step, start + step
            del buffer, window
    rest = np.concatenate(held) if held else np.zeros(0, dtype=np.float32)
    held.clear()
    last = analyze_signal(rest, rate, path, tempo_hint=tempo_hint)
    if not windows:
        return last
    offset = start / rate
    windows.append(_Window(last, offset, offset + overlap / 2, float("inf")))
    return _stitched(windows, path, duration=offset + len(rest) / rate)


def _stitched(windows: list[_Window], path: str, duration: float) -> TrackAnalysis:
    """One analysis of the whole track from its windows' kept parts."""
    beats: list[float] = []
    downbeats: list[float] = []
    phrases: list[float] = []
    sections: list[Section] = []
    tempo_votes: Counter[float] = Counter()
    metre_votes: Counter[int] = Counter()
    weighted_confidence = 0.0
    doubts: dict[float, float] = {}  # phase shift: its windows' phase ambiguity × the time they cover
    for window in windows:
        found = window.analysis
        kept = window.times(found.beats)
        if beats and kept:
            # Two grids meet at the seam: one beat may fall on either side of it, a phase jump leaves a
            # short interval. Nothing closer than half a beat to the beat before it.
            least = 30.0 / found.tempo
            kept = [t for t in kept if t - beats[-1] >= least]
        beats.extend(kept)
        held = set(kept)
        downbeats.extend(t for t in window.times(found.downbeats) if t in held)
        phrases.extend(t for t in window.times(found.phrases) if not phrases or t > phrases[-1])
        sections = _joined(sections, _kept_sections(window))
        if kept:
            tempo_votes[found.tempo] += len(kept)
            metre_votes[found.beats_per_bar] += len(kept)
        covered = min(window.keep_to, duration) - window.keep_from
        weighted_confidence += found.confidence * max(0.0, covered)
        doubts[found.phase_shift] = doubts.get(found.phase_shift, 0.0) + found.phase_ambiguity * max(0.0, covered)
    tempo = tempo_votes.most_common(1)[0][0] if tempo_votes else 0.0
    # The phase doubt weighed like the confidence (each window's confidence is at most 1 - its doubt, so the
    # track's stays at most 1 - the track's); the shift the doubt weighs most on.
    shift = max(doubts, key=doubts.__getitem__) if doubts else 0.5
    return TrackAnalysis(
        path=path,
        duration=duration,
        tempo=tempo,
        beats=tuple(beats),
        downbeats=tuple(downbeats),
        confidence=min(1.0, weighted_confidence / duration) if duration > 0 else 0.0,
        beats_per_bar=metre_votes.most_common(1)[0][0] if metre_votes else 4,
        phrases=tuple(phrases),
        sections=tuple(sections),
        phase_ambiguity=min(1.0, sum(doubts.values()) / duration) if duration > 0 else 0.0,
        phase_shift=shift,
    )


def _kept_sections(window: _Window) -> list[Section]:
    """The window's sections in track time, cut to its kept part."""
    kept = []
    for sec in window.analysis.sections:
        start = max(sec.start + window.offset, window.keep_from)
        end = min(sec.end + window.offset, window.keep_to)
        if end > start:
            kept.append(dataclasses.replace(sec, start=start, end=end))
    return kept


def _joined(before: list[Section], after: list[Section]) -> list[Section]:
    """`before` then `after`; a section running over the seam (the same label on both sides) stays one."""
    if not before or not after or before[-1].label != after[0].label:
        return before + after
    a, b = before[-1], after[0]
    span_a, span_b = a.end - a.start, b.end - b.start
    total = span_a + span_b

    def mean(x: float, y: float) -> float:
        return (x * span_a + y * span_b) / total if total > 0 else x

    merged = dataclasses.replace(a, end=b.end, energy=mean(a.energy, b.energy),
                                 confidence=mean(a.confidence, b.confidence),
                                 phase_ambiguity=mean(a.phase_ambiguity, b.phase_ambiguity))
    return [*before[:-1], merged, *after[1:]]
