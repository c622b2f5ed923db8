"""Synthesized demo tracks with known beats, so showctl can be tried (and tested) without copyrighted audio.

`synthesize_track` is pure: it returns samples and the ground truth (tempo, beat and downbeat times).
`ensure_demo_tracks` writes the three demo tracks (16-bit WAV, 22050 Hz mono) and a `NAME.truth.json`
beside each, only when missing. `python -m showctl.analysis.demo DIR` does the same from a shell.

The tracks are music-like on purpose, so that they exercise the tracker the way class music does:
kick on every beat, snare/clap on 2 and 4, hats (off-beat open hats in the house track, which tempt a
tracker into the wrong phase), a bass line, a chord pad that changes every bar, a stronger accent on
beat 1 of each bar, and a quiet intro so the first beat is not at 0 s.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEMO_SAMPLE_RATE",
    "DEMO_TRACKS",
    "DemoSpec",
    "Truth",
    "beat_f_measure",
    "ensure_demo_tracks",
    "synthesize_track",
]

FloatArray = npt.NDArray[np.float64]

DEMO_SAMPLE_RATE = 22050


@dataclass(frozen=True)
class Truth:
    """What the synthesizer actually played: the answer a tracker should find."""

    tempo: float
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    beats_per_bar: int = 4

    def to_json(self) -> dict[str, Any]:
        return {
            "tempo": self.tempo,
            "beats": [round(b, 6) for b in self.beats],
            "downbeats": [round(b, 6) for b in self.downbeats],
            "beats_per_bar": self.beats_per_bar,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Truth:
        return cls(
            tempo=float(data["tempo"]),
            beats=tuple(float(b) for b in data["beats"]),
            downbeats=tuple(float(b) for b in data["downbeats"]),
            beats_per_bar=int(data.get("beats_per_bar", 4)),
        )


@dataclass(frozen=True)
class DemoSpec:
    """One demo track: file stem and the arguments given to `synthesize_track`."""

    name: str
    bpm: float
    seconds: float
    seed: int
    style: str
    intro_beats: float


DEMO_TRACKS: tuple[DemoSpec, ...] = (
    DemoSpec("01-warmup-100", bpm=100.0, seconds=72.0, seed=1, style="warmup", intro_beats=2.0),
    DemoSpec("02-house-128", bpm=128.0, seconds=75.0, seed=2, style="house", intro_beats=1.5),
    DemoSpec("03-run-150", bpm=150.0, seconds=66.0, seed=3, style="run", intro_beats=2.5),
)

# A minor-key four-chord loop (Am F C G), as MIDI note numbers; the pad changes chord every bar.
_PROGRESSION: tuple[tuple[int, int, int], ...] = ((57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62))


def _hz(note: float) -> float:
    return float(440.0 * 2.0 ** ((note - 69.0) / 12.0))


def _add(out: FloatArray, start_s: float, sound: FloatArray, sr: int) -> None:
    """Mix `sound` into `out` starting at `start_s`, clipped to the buffer."""
    i0 = round(start_s * sr)
    if i0 >= len(out) or i0 + len(sound) <= 0:
        return
    s0 = max(0, -i0)
    i0 = max(0, i0)
    n = min(len(sound) - s0, len(out) - i0)
    out[i0 : i0 + n] += sound[s0 : s0 + n]


def _kick(sr: int, gain: float) -> FloatArray:
    # Pitch sweep 140 → 48 Hz with a fast click: the low-frequency thump a tracker should lock onto.
    t = np.arange(int(0.30 * sr)) / sr
    freq = 48.0 + 92.0 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    body = np.sin(phase) * np.exp(-t / 0.12)
    click = np.exp(-t / 0.002) * 0.3
    return gain * (body + click)


def _noise_burst(
    rng: np.random.Generator, sr: int, seconds: float, decay: float, highpass: bool
) -> FloatArray:
    n = int(seconds * sr)
    noise = rng.standard_normal(n)
    if highpass:
        # A first difference is a cheap high-pass: hats live above ~5 kHz.
        noise = np.diff(noise, prepend=0.0) * 0.5
    t = np.arange(n) / sr
    env = np.exp(-t / decay)
    return np.asarray(noise * env, dtype=np.float64)


def _snare(rng: np.random.Generator, sr: int, gain: float) -> FloatArray:
    burst = _noise_burst(rng, sr, 0.25, 0.07, highpass=False)
    t = np.arange(len(burst)) / sr
    tone = np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.05)
    return gain * (0.5 * burst + 0.6 * tone)


def _tone(sr: int, freq: float, seconds: float, attack: float, release: float, harmonics: int) -> FloatArray:
    """A band-limited saw-ish tone with an attack/release envelope (bass, pad)."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    wave = np.zeros(n)
    for h in range(1, harmonics + 1):
        if freq * h < sr / 2 - 1000:
            wave += np.sin(2 * np.pi * freq * h * t) / h
    env = np.minimum(1.0, t / max(attack, 1e-4))
    tail = np.clip((seconds - t) / max(release, 1e-4), 0.0, 1.0)
    return np.asarray(wave * env * tail, dtype=np.float64)


def synthesize_track(
    bpm: float,
    seconds: float,
    sr: int = DEMO_SAMPLE_RATE,
    seed: int = 0,
    *,
    style: str = "house",
    intro_beats: float = 2.0,
    beats_per_bar: int = 4,
) -> tuple[FloatArray, Truth]:
    """Synthesize a music-like track at a steady `bpm`; return (mono samples in -1..1, truth).

    `style` picks the groove: "house" (off-beat open hats, off-beat bass), "warmup" (closed 8th hats,
    bass on the beat), "run" (16th hats, rolling 8th bass). The first `intro_beats` beats hold only a
    quiet pad; the drums (and the true beats) start after it. Deterministic for a given seed.
    """
    if style not in ("house", "warmup", "run"):
        raise ValueError(f"unknown style {style!r}")
    rng = np.random.default_rng(seed)
    period = 60.0 / bpm
    out = np.zeros(round(seconds * sr))
    first = intro_beats * period
    # Drums stop a second before the end so the last beat is not cut off mid-hit.
    n_beats = int(np.floor((seconds - 1.0 - first) / period)) + 1
    beats = first + period * np.arange(n_beats)
    n_bars = int(np.ceil(n_beats / beats_per_bar))

    kick = _kick(sr, 0.8)
    kick_accent = _kick(sr, 1.0)
    for i, b in enumerate(beats):
        _add(out, b, kick_accent if i % beats_per_bar == 0 else kick, sr)
        if i % beats_per_bar in (1, 3):
            # Clap timing wanders by a few ms, as played or swung parts do.
            _add(out, b + rng.normal(0.0, 0.003), _snare(rng, sr, 0.45), sr)
        if i % (beats_per_bar * 4) == 0:
            _add(out, b, _noise_burst(rng, sr, 1.5, 0.5, highpass=True) * 0.35, sr)  # crash every 4 bars

    # Hats.
    for b in beats:
        if style == "house":
            open_hat = _noise_burst(rng, sr, 0.2, 0.08, True) * 0.55
            _add(out, b + period / 2 + rng.normal(0.0, 0.002), open_hat, sr)
            _add(out, b + rng.normal(0.0, 0.002), _noise_burst(rng, sr, 0.05, 0.012, True) * 0.2, sr)
        elif style == "warmup":
            for k in range(2):
                g = 0.3 if k == 1 else 0.22
                _add(out, b + k * period / 2 + rng.normal(0.0, 0.003),
                     _noise_burst(rng, sr, 0.06, 0.015, True) * g, sr)
        else:
            for k in range(4):
                g = 0.28 if k == 2 else 0.16
                _add(out, b + k * period / 4 + rng.normal(0.0, 0.002),
                     _noise_burst(rng, sr, 0.05, 0.01, True) * g, sr)

    # Bass and pad follow the bar's chord; the bass plays the root an octave and a half below the pad.
    for bar in range(n_bars):
        chord = _PROGRESSION[bar % len(_PROGRESSION)]
        root = chord[0] - 24
        bar_start = first + bar * beats_per_bar * period
        # The root on beat 1 rings longer and louder: the bar accent a downbeat finder listens for.
        _add(out, bar_start, _tone(sr, _hz(root), period * 0.9, 0.005, 0.05, 6) * 0.35, sr)
        for k in range(beats_per_bar):
            if bar * beats_per_bar + k >= n_beats:
                break  # the bass stops with the drums: every note it plays is on or between true beats
            t = bar_start + k * period
            if style == "house":
                _add(out, t + period / 2, _tone(sr, _hz(root + 12), period * 0.4, 0.005, 0.05, 6) * 0.18, sr)
            elif style == "warmup" and k > 0:
                _add(out, t, _tone(sr, _hz(root), period * 0.8, 0.01, 0.05, 6) * 0.2, sr)
            elif style == "run":
                for h in range(2):
                    if k == 0 and h == 0:
                        continue
                    note = _tone(sr, _hz(root), period * 0.4, 0.005, 0.03, 6) * 0.18
                    _add(out, t + h * period / 2, note, sr)
        pad_beats = min(beats_per_bar, n_beats - bar * beats_per_bar)
        pad = sum(_tone(sr, _hz(n) * (1.0 + 0.002 * j), pad_beats * period, 0.04, 0.08, 4)
                  for j, n in enumerate(chord))
        _add(out, bar_start, np.asarray(pad) * 0.09, sr)

    # The intro: the first chord swells in quietly before the drums start.
    intro = sum(_tone(sr, _hz(n), first, first * 0.8, 0.02, 3) for n in _PROGRESSION[-1])
    _add(out, 0.0, np.asarray(intro) * 0.05, sr)

    out += rng.standard_normal(len(out)) * 1e-4  # a noise floor, as any recording has
    out *= 0.89 / np.max(np.abs(out))
    truth = Truth(
        tempo=float(bpm),
        beats=tuple(float(b) for b in beats),
        downbeats=tuple(float(b) for b in beats[::beats_per_bar]),
        beats_per_bar=beats_per_bar,
    )
    return out, truth


def beat_f_measure(estimated: Sequence[float], reference: Sequence[float], window: float = 0.07) -> float:
    """Beat-tracking F-measure (as in mir_eval): one-to-one matches within ±`window` seconds."""
    est = sorted(estimated)
    ref = sorted(reference)
    if not est or not ref:
        return 0.0
    used = [False] * len(est)
    hits = 0
    j = 0
    for r in ref:
        # Greedy in time order is exact here: windows are narrower than half a beat period.
        while j < len(est) and est[j] < r - window:
            j += 1
        k = j
        while k < len(est) and est[k] <= r + window:
            if not used[k]:
                used[k] = True
                hits += 1
                break
            k += 1
    precision = hits / len(est)
    recall = hits / len(ref)
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def ensure_demo_tracks(directory: Path, on_written: Callable[[Path], None] | None = None) -> list[Path]:
    """Write the demo WAVs and their `.truth.json` into `directory` where missing; return the WAV paths."""
    import soundfile as sf  # deferred: importing the analysis package should not need libsndfile loaded

    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for spec in DEMO_TRACKS:
        wav = directory / f"{spec.name}.wav"
        truth_path = directory / f"{spec.name}.truth.json"
        paths.append(wav)
        if wav.exists() and truth_path.exists():
            continue
        y, truth = synthesize_track(
            spec.bpm, spec.seconds, DEMO_SAMPLE_RATE, spec.seed, style=spec.style,
            intro_beats=spec.intro_beats,
        )
        if not wav.exists():
            sf.write(str(wav), y, DEMO_SAMPLE_RATE, subtype="PCM_16")
            if on_written is not None:
                on_written(wav)
        if not truth_path.exists():
            truth_path.write_text(json.dumps(truth.to_json(), indent=1) + "\n", encoding="utf-8")
            if on_written is not None:
                on_written(truth_path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m showctl.analysis.demo DIR", file=sys.stderr)
        return 2
    ensure_demo_tracks(Path(args[0]), on_written=lambda p: print(f"wrote {p}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
