"""Benchmark the showctl beat tracker against plain `librosa.beat.beat_track` on the demo tracks.

    python bench/bench_analysis.py [DEMO_DIR]

Writes the demo tracks (into a temporary directory unless DEMO_DIR is given), then for each track prints
seconds, × realtime, tempo error and beat F-measure (±70 ms) for both trackers, the time ratio
ours/baseline, and the time of a cache hit. librosa's import and numba JIT warm-up are timed once on
their own so they do not land on the first track.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

# Run from a checkout without installing: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import soundfile as sf

from showctl.analysis import analyze_file, analyze_paths
from showctl.analysis.demo import Truth, beat_f_measure, ensure_demo_tracks


def _baseline(path: Path) -> tuple[float, list[float]]:
    import librosa

    y, sr = sf.read(str(path), dtype="float32")
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    return float(np.atleast_1d(tempo)[0]), [float(b) for b in beats]


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="showctl-bench-") as tmp:
        demo_dir = Path(argv[0]) if argv else Path(tmp) / "demo"
        wavs = ensure_demo_tracks(demo_dir)

        t0 = time.perf_counter()
        import librosa

        librosa.beat.beat_track(y=np.random.default_rng(0).standard_normal(22050 * 3).astype(np.float32),
                                sr=22050)
        warmup = time.perf_counter() - t0

        header = (f"{'track':16} | {'ours s':>6} {'×RT':>6} {'tempo%':>6} {'F':>5} | "
                  f"{'base s':>6} {'×RT':>6} {'tempo%':>6} {'F':>5} | {'ours/base':>9}")
        print(header)
        print("-" * len(header))
        totals = [0.0, 0.0]
        for wav in wavs:
            truth = Truth.from_json(json.loads(wav.with_suffix(".truth.json").read_text(encoding="utf-8")))
            duration = sf.info(str(wav)).duration

            t = time.perf_counter()
            ours = analyze_file(wav)
            ours_s = time.perf_counter() - t
            t = time.perf_counter()
            base_tempo, base_beats = _baseline(wav)
            base_s = time.perf_counter() - t
            totals[0] += ours_s
            totals[1] += base_s

            def err(tempo: float, truth: Truth = truth) -> float:
                return 100.0 * abs(tempo - truth.tempo) / truth.tempo

            print(f"{wav.stem:16} | {ours_s:6.2f} {duration / ours_s:6.0f} {err(ours.tempo):6.2f} "
                  f"{beat_f_measure(ours.beats, truth.beats):5.3f} | {base_s:6.2f} {duration / base_s:6.0f} "
                  f"{err(base_tempo):6.2f} {beat_f_measure(base_beats, truth.beats):5.3f} | "
                  f"{ours_s / base_s:9.2f}")
        print(f"total: ours {totals[0]:.2f} s, baseline {totals[1]:.2f} s "
              f"(baseline paid {warmup:.2f} s librosa import + numba warm-up beforehand, not counted)")

        cache_dir = Path(tmp) / "cache"
        analyze_paths(wavs, cache_dir=cache_dir)
        t = time.perf_counter()
        analyze_paths(wavs, cache_dir=cache_dir)
        hit = time.perf_counter() - t
        print(f"cache hit: {1000 * hit / len(wavs):.1f} ms per track (sha256 of the file + JSON read)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
