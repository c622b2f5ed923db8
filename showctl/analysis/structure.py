"""Phrases and energy sections on top of a beat grid: pure functions of per-frame envelopes and downbeats.

    frame envelopes + downbeats ─▶ bar_features ─▶ novelty ─▶ phrase grid ─▶ sections (labelled by energy)

Class music is built from 4/8/16-bar blocks, and arrangements change (drums in or out, bass in or out,
loudness) at block boundaries. So features are measured per bar, the *novelty* of each bar line is how
much the bars after it differ from the bars before, the phrase grid is the 4-bar alignment that puts the
novelty peaks on its lines, and sections are the stretches between strong novelty peaks on that grid,
labelled from their energy and their neighbours (a quiet stretch first is the intro, last the outro, a
loud one a drop, a quiet one in the middle a breakdown, or a build when drums play and a drop follows).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from showctl.analysis.model import Section

__all__ = ["Structure", "analyze_structure", "bar_features", "bar_lines", "label_sections", "novelty"]

FloatArray = npt.NDArray[np.float64]

PHRASE_BARS = 4  # the unit phrases are counted in; phrase lengths are 4, 8 or 16 bars
NOVELTY_WIDTH = 2  # bars compared on each side of a bar line
MIN_SECTION_BARS = 4


@dataclass(frozen=True)
class Structure:
    phrases: tuple[float, ...]
    phrase_bars: int
    sections: tuple[Section, ...]


def bar_lines(downbeats: FloatArray, duration: float) -> FloatArray:
    """The bar lines over the whole track: the downbeats, extended backwards into a beat-less intro and
    forwards into the tail at the median bar length (intros and outros are usually whole phrases), and
    carried on at that length across a silence inside the track, where the beats stop (`tracker`)."""
    db = np.asarray(downbeats, dtype=np.float64)
    if len(db) < 2:
        return np.array([0.0, duration])
    bar = float(np.median(np.diff(db)))
    before = db[0] - bar * np.arange(int(db[0] // bar), 0, -1)
    after = db[-1] + bar * np.arange(1, int((duration - db[-1]) // bar) + 1)
    # Without these, a 30 s silence would be one "bar": averaged into its neighbours' features, never a
    # section of its own. A line closer than half a bar to the downbeat after the gap would make a sliver.
    gaps = [a + bar * np.arange(1, int((b - a) / bar - 0.5) + 1)
            for a, b in pairwise(db.tolist()) if b - a > 1.5 * bar]
    lines = np.sort(np.concatenate([before, db, *gaps, after]))
    return np.asarray(lines[(lines >= 0) & (lines < duration)], dtype=np.float64)


def bar_features(envelopes: list[FloatArray], frame_rate: float, lines: FloatArray, duration: float) -> FloatArray:
    """Mean of each envelope over each bar, shape (bars, envelopes); bar i runs from lines[i] to lines[i+1]."""
    edges = np.append(lines, duration)
    out = np.zeros((len(lines), len(envelopes)))
    for k, env in enumerate(envelopes):
        idx = np.clip(np.round(edges * frame_rate).astype(np.int64), 0, len(env))
        cum = np.concatenate([[0.0], np.cumsum(env)])
        counts = np.maximum(idx[1:] - idx[:-1], 1)
        out[:, k] = (cum[idx[1:]] - cum[idx[:-1]]) / counts
    return out


def _standardise(features: FloatArray) -> FloatArray:
    """Features in units of their spread across bars, the spread floored at a musically small change
    (1 dB for the first two, loudness; 15 % of the mean for the fluxes), so a steady loop's bar-to-bar
    noise is not blown up into novelty."""
    mean = features.mean(axis=0)
    floor = np.where(np.arange(features.shape[1]) < 2, 1.0, 0.15 * np.abs(mean))
    return np.asarray((features - mean) / np.maximum(features.std(axis=0), np.maximum(floor, 1e-12)))


def novelty(features: FloatArray, width: int = NOVELTY_WIDTH) -> FloatArray:
    """Per bar line i: distance between the mean standardised features of the `width` bars before and
    after it (0 at the first line). A change of arrangement peaks; a steady loop stays near 0."""
    n = len(features)
    z = _standardise(features)
    out = np.zeros(n)
    for i in range(1, n):
        before = z[max(0, i - width) : i].mean(axis=0)
        after = z[i : min(n, i + width)].mean(axis=0)
        out[i] = float(np.linalg.norm(after - before))
    return out


def _phrase_grid(nov: FloatArray) -> tuple[int, int]:
    """(offset in bars, phrase length in bars): the 4-bar offset whose lines carry the most novelty, then
    the longest of 16/8/4 bars whose lines still hold every strong peak."""
    n = len(nov)
    if n < PHRASE_BARS:
        return 0, PHRASE_BARS
    offset = max(range(PHRASE_BARS), key=lambda o: (float(nov[o::PHRASE_BARS].sum()), -o))
    strong = [i for i in _peaks(nov) if (i - offset) % PHRASE_BARS == 0]
    for length in (16, 8):
        if strong and all((i - offset) % length == 0 for i in strong):
            return offset % length, length
        if not strong:
            return offset, 8  # a steady loop: 8-bar phrases, the usual unit of class music
    return offset, PHRASE_BARS


def _peaks(nov: FloatArray) -> list[int]:
    """Bar lines where novelty is the maximum within ±2 bars and well above the track's typical level.
    Lines closer than `NOVELTY_WIDTH` bars to either end are skipped: their windows are cut short."""
    n = len(nov)
    inner = nov[NOVELTY_WIDTH : n - NOVELTY_WIDTH + 1]
    if len(inner) == 0 or float(inner.max()) <= 0:
        return []
    threshold = max(1.0, 0.3 * float(inner.max()))
    return [i for i in range(NOVELTY_WIDTH, n - NOVELTY_WIDTH + 1)
            if nov[i] >= threshold and nov[i] >= float(nov[max(0, i - 2) : i + 3].max())]


def label_sections(energy: list[float], drums: list[float]) -> list[str]:
    """Labels for consecutive sections from their energy (0..1) and drum activity (0..1).

    A drop is within 15 % of the most energetic section; a quieter first section is the intro, a quieter
    last one the outro; in between, a quieter section with drums that leads into a drop is a build, any
    other a breakdown.
    """
    top = max(energy) if energy else 0.0
    drop = [e >= 0.85 * top for e in energy]
    labels: list[str] = []
    n = len(energy)
    for i in range(n):
        if drop[i]:
            labels.append("drop")
        elif i == 0:
            labels.append("intro")
        elif i == n - 1:
            labels.append("outro")
        elif drums[i] >= 0.4 and drop[i + 1]:
            labels.append("build")
        else:
            labels.append("breakdown")
    return labels


def analyze_structure(
    loudness: FloatArray,
    low: FloatArray,
    kick_env: FloatArray,
    snare_env: FloatArray,
    frame_rate: float,
    downbeats: FloatArray,
    duration: float,
) -> Structure:
    """Phrase starts and labelled sections of a track from its frame envelopes and downbeats.

    `loudness` and `low` are the frame power (linear) of the whole band and below 150 Hz; `kick_env` and
    `snare_env` are linear band fluxes (loud hits count more). A section's energy is its loudness and its
    low-end loudness, each against the loudest bar: a build can be nearly as loud as the drop, but the
    drop has the bass.
    """
    db = np.asarray(downbeats, dtype=np.float64)
    if len(db) < 2 * PHRASE_BARS:
        whole = Section(0.0, duration, "drop", 1.0, 0.0)
        return Structure(tuple(float(x) for x in db[:1]), PHRASE_BARS, (whole,))
    lines = bar_lines(db, duration)
    # The tail after the last full bar (a fade, the silence after the drums) is not a bar.
    bar = float(np.median(np.diff(db)))
    lines = lines[lines + bar <= duration + 0.25 * bar]
    loud_db = 10.0 * np.log10(np.maximum(loudness, 1e-12))
    low_db = 10.0 * np.log10(np.maximum(low, 1e-12))
    feats = bar_features([loud_db, low_db, kick_env, snare_env], frame_rate, lines, duration)
    nov = novelty(feats)
    offset, length = _phrase_grid(nov)

    first_real = int(np.argmin(np.abs(lines - db[0])))
    phrases = tuple(float(lines[i]) for i in range(offset, len(lines), length) if i >= first_real)

    # Section boundaries: novelty peaks on the 4-bar grid, at least MIN_SECTION_BARS apart.
    bounds = [0]
    for i in _peaks(nov):
        snapped = offset + PHRASE_BARS * round((i - offset) / PHRASE_BARS)
        if snapped - bounds[-1] >= MIN_SECTION_BARS and len(lines) - snapped >= 2:
            bounds.append(snapped)
    bounds.append(len(lines))

    loud = 10.0 ** ((feats[:, 0] - feats[:, 0].max()) / 20.0)  # 0..1 amplitude against the loudest bar
    bass = 10.0 ** ((feats[:, 1] - feats[:, 1].max()) / 20.0)
    kick = feats[:, 2] / max(float(feats[:, 2].max()), 1e-12)
    energies, drums, strengths = [], [], []
    for a, b in pairwise(bounds):
        energies.append(float(np.clip(0.5 * loud[a:b].mean() + 0.5 * bass[a:b].mean(), 0.0, 1.0)))
        drums.append(float(kick[a:b].mean()))
        strengths.append(1.0 if a == 0 else float(np.clip(nov[a] / max(float(nov.max()), 1e-9), 0.0, 1.0)))
    labels = label_sections(energies, drums)
    starts = [0.0 if a == 0 else float(lines[a]) for a in bounds[:-1]]
    ends = [*starts[1:], duration]
    merged: list[Section] = []
    for s, e, lab, en, c in zip(starts, ends, labels, energies, strengths, strict=True):
        if merged and merged[-1].label == lab:
            # Two drops in a row are one drop to a cue: keep one section, its energy the longer-weighted mean.
            prev = merged[-1]
            w = (prev.end - prev.start) / (e - prev.start)
            merged[-1] = Section(prev.start, e, lab, round(w * prev.energy + (1 - w) * en, 4), prev.boundary)
        else:
            merged.append(Section(s, e, lab, round(en, 4), round(c, 4)))
    return Structure(phrases, length, tuple(merged))
