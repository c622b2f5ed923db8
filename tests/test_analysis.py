"""Analysis layer: the tracker against synthesized ground truth, the cache, and the user-facing errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

import showctl.analysis as analysis
from showctl.analysis import ANALYSIS_VERSION, TrackAnalysis, analyze_file, analyze_paths, cache
from showctl.analysis.demo import DEMO_TRACKS, Truth, beat_f_measure, ensure_demo_tracks, synthesize_track
from showctl.analysis.tracker import analyze_signal, confidence, onset_envelope
from showctl.errors import AnalysisError

SR = 22050


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    ensure_demo_tracks(directory)
    return directory


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("SHOWCTL_CACHE_DIR", str(directory))
    return directory


def _truth(wav: Path) -> Truth:
    return Truth.from_json(json.loads(wav.with_suffix(".truth.json").read_text(encoding="utf-8")))


def _write_wav(path: Path, y: np.ndarray[Any, Any]) -> Path:
    sf.write(str(path), y, SR, subtype="PCM_16")
    return path


# --- the metric itself, so a broken metric cannot pass the tracker ------------------------------------


def test_f_measure_counts_one_to_one_matches() -> None:
    ref = [1.0, 2.0, 3.0, 4.0]
    assert beat_f_measure(ref, ref) == 1.0
    assert beat_f_measure([1.05, 2.0, 2.01, 3.5], ref) == pytest.approx(0.5)  # 2 hits of 4 / 4
    assert beat_f_measure([x + 0.5 for x in ref], ref) == 0.0  # off-beat: no credit
    assert beat_f_measure([], ref) == 0.0


# --- demo tracks -----------------------------------------------------------------------------------


def test_demo_tracks_written_once_with_truth(demo_dir: Path) -> None:
    wavs = ensure_demo_tracks(demo_dir)
    assert [w.name for w in wavs] == ["01-warmup-100.wav", "02-house-128.wav", "03-run-150.wav"]
    for wav, spec in zip(wavs, DEMO_TRACKS, strict=True):
        info = sf.info(str(wav))
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        assert 60.0 <= info.duration <= 90.0
        truth = _truth(wav)
        assert truth.tempo == spec.bpm and truth.beats_per_bar == 4
        assert truth.beats[0] > 0.3  # a quiet intro: the first beat is not at 0
        assert truth.downbeats == truth.beats[::4]
    mtimes = [w.stat().st_mtime_ns for w in wavs]
    written: list[Path] = []
    ensure_demo_tracks(demo_dir, on_written=written.append)
    assert written == [] and [w.stat().st_mtime_ns for w in wavs] == mtimes


def test_synthesis_is_deterministic() -> None:
    a, ta = synthesize_track(120.0, 8.0, SR, seed=7)
    b, tb = synthesize_track(120.0, 8.0, SR, seed=7)
    c, _ = synthesize_track(120.0, 8.0, SR, seed=8)
    assert np.array_equal(a, b) and ta == tb
    assert not np.array_equal(a, c)
    assert np.diff(ta.beats) == pytest.approx([0.5] * (len(ta.beats) - 1))


@pytest.mark.parametrize("name", [spec.name for spec in DEMO_TRACKS])
def test_demo_track_matches_truth(demo_dir: Path, name: str) -> None:
    wav = demo_dir / f"{name}.wav"
    truth = _truth(wav)
    result = analyze_file(wav)

    assert result.path == str(wav)
    assert result.tempo == pytest.approx(truth.tempo, rel=0.02)
    assert beat_f_measure(result.beats, truth.beats, window=0.07) >= 0.9
    true_down = np.array(truth.downbeats)
    near = [float(np.min(np.abs(true_down - d))) <= 0.07 for d in result.downbeats]
    assert len(result.downbeats) >= 0.9 * len(truth.downbeats)
    assert np.mean(near) >= 0.9
    assert result.confidence > 0.5
    assert result.duration == pytest.approx(sf.info(str(wav)).duration, abs=1e-3)


@pytest.mark.parametrize(("bpm", "style"), [(88.0, "warmup"), (174.0, "house"), (140.0, "run")])
def test_tempo_octave_follows_the_kick(bpm: float, style: str) -> None:
    # 88 and 174 BPM both have their octave inside the class range: the kick has to decide.
    y, truth = synthesize_track(bpm, 30.0, SR, seed=11, style=style, intro_beats=1.0)
    result = analyze_signal(y, SR)
    assert result.tempo == pytest.approx(bpm, rel=0.02)
    assert beat_f_measure(result.beats, truth.beats) >= 0.9


def test_noise_has_low_confidence() -> None:
    y = np.random.default_rng(0).standard_normal(SR * 20) * 0.3
    assert analyze_signal(y, SR).confidence < 0.3


def test_confidence_zero_without_beats() -> None:
    env, rate = onset_envelope(np.zeros(SR * 6, dtype=np.float32) + 0.1, SR)
    assert confidence(env, rate, np.array([1.0, 2.0])) == 0.0


# --- cache -----------------------------------------------------------------------------------------


def _boom(path: str | Path) -> TrackAnalysis:
    raise AssertionError(f"analyze_file called for {path}: the cache was not used")


def test_second_call_hits_cache(demo_dir: Path, _cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav = demo_dir / "02-house-128.wav"
    progress: list[tuple[str, int, int, bool]] = []
    first = analyze_paths([wav], on_progress=lambda *a: progress.append(a))
    entry = cache.entry_path(_cache_dir, cache.cache_key(wav))
    assert entry.exists()
    assert json.loads(entry.read_text(encoding="utf-8"))["version"] == ANALYSIS_VERSION

    monkeypatch.setattr(analysis, "analyze_file", _boom)
    second = analyze_paths([wav], on_progress=lambda *a: progress.append(a))
    assert second == first
    assert progress == [(str(wav), 1, 1, False), (str(wav), 1, 1, True)]


def _fake(path: str | Path) -> TrackAnalysis:
    return TrackAnalysis(path=str(path), duration=6.0, tempo=120.0, beats=(0.5, 1.0), downbeats=(0.5,),
                         confidence=0.9)


def test_cached_result_carries_the_path_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = tmp_path / "a.wav"
    a.write_bytes(b"same bytes")
    b = tmp_path / "b.wav"
    b.write_bytes(b"same bytes")
    monkeypatch.setattr(analysis, "analyze_file", _fake)
    [ra] = analyze_paths([a])
    monkeypatch.setattr(analysis, "analyze_file", _boom)
    [rb] = analyze_paths([b])
    assert (ra.path, rb.path) == (str(a), str(b))
    assert rb.tempo == ra.tempo


def test_corrupt_cache_entry_is_recomputed(
    tmp_path: Path, _cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    track = tmp_path / "t.wav"
    track.write_bytes(b"content")
    calls: list[str] = []

    def counting(path: str | Path) -> TrackAnalysis:
        calls.append(str(path))
        return _fake(path)

    monkeypatch.setattr(analysis, "analyze_file", counting)
    analyze_paths([track])
    entry = cache.entry_path(_cache_dir, cache.cache_key(track))
    entry.write_text('{"path": "t.wav", "tempo": ', encoding="utf-8")  # truncated JSON
    [again] = analyze_paths([track])
    assert calls == [str(track), str(track)]
    assert again == _fake(track)
    assert TrackAnalysis.from_json(json.loads(entry.read_text(encoding="utf-8"))) == _fake(track)
    assert not list(_cache_dir.glob("*.tmp"))  # the atomic write left no temporary behind


def test_cache_key_changes_with_content_and_version(tmp_path: Path) -> None:
    track = tmp_path / "t.wav"
    track.write_bytes(b"one")
    k1 = cache.cache_key(track)
    assert cache.cache_key(track) == k1
    assert cache.cache_key(track, version="other") != k1
    track.write_bytes(b"two")
    assert cache.cache_key(track) != k1


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHOWCTL_CACHE_DIR", str(tmp_path / "c"))
    assert cache.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SHOWCTL_CACHE_DIR")
    assert cache.default_cache_dir().name.lower() == "showctl"


# --- errors, verbatim ------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with pytest.raises(AnalysisError) as err:
        analyze_file(path)
    assert str(err.value) == f"{path}: no such file"
    with pytest.raises(AnalysisError) as err:
        analyze_paths([path])
    assert str(err.value) == f"{path}: no such file"


def test_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(AnalysisError) as err:
        analyze_paths([path])
    assert str(err.value) == f"{path}: cannot read audio (format not recognised)"


def test_silent_track(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "silent.wav", np.zeros(SR * 10))
    with pytest.raises(AnalysisError) as err:
        analyze_file(path)
    assert str(err.value) == f"{path}: track is silent"


def test_too_short_track(tmp_path: Path) -> None:
    y, _ = synthesize_track(120.0, 2.0, SR, seed=1, intro_beats=0.5)
    path = _write_wav(tmp_path / "short.wav", y)
    with pytest.raises(AnalysisError) as err:
        analyze_file(path)
    assert str(err.value) == f"{path}: track is too short to analyse (2.0 s)"


@pytest.mark.slow  # imports librosa for resampling: ~2 s
def test_other_sample_rates_and_stereo_are_resampled(tmp_path: Path) -> None:
    y, truth = synthesize_track(125.0, 12.0, SR, seed=5, intro_beats=1.0)
    stereo = np.stack([y, y], axis=1)
    path = tmp_path / "stereo-44k.wav"
    # 44.1 kHz stereo written by repeating samples: the tracker only needs the beat to survive.
    sf.write(str(path), np.repeat(stereo, 2, axis=0), 2 * SR, subtype="PCM_16")
    result = analyze_file(path)
    assert result.duration == pytest.approx(12.0, abs=0.01)
    assert result.tempo == pytest.approx(125.0, rel=0.02)
    assert beat_f_measure(result.beats, truth.beats) >= 0.9
