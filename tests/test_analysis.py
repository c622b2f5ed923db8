"""Analysis layer: the tracker against synthesized ground truth, the cache, and the user-facing errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import require_binary
from rich.console import Console

import showctl.analysis as analysis
from showctl.analysis import (
    ANALYSIS_VERSION,
    Section,
    TrackAnalysis,
    analyze_file,
    analyze_paths,
    apply_overrides,
    cache,
    read_audio,
)
from showctl.analysis.confidence import section_trust
from showctl.analysis.evaluate import Truth
from showctl.analysis.model import LOW_CONFIDENCE
from showctl.analysis.tracker import analyze_signal, confidence, onset_envelope, section_confidence
from showctl.cli.progress import AnalysisProgress
from showctl.demo.tracks import DEMO_TRACKS, beat_f_measure, ensure_demo_tracks, synthesize_track
from showctl.errors import AnalysisError
from showctl.show import low_confidence_warnings
from showctl.units import format_clock

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


def _cached_once(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, list[str]]:
    """A track analysed once (by `_fake`, counted) into the cache: the track, its cache entry, the analyses."""
    track = tmp_path / "t.wav"
    track.write_bytes(b"content")
    calls: list[str] = []

    def counting(path: str | Path) -> TrackAnalysis:
        calls.append(str(path))
        return _fake(path)

    monkeypatch.setattr(analysis, "analyze_file", counting)
    analyze_paths([track])
    return track, cache.entry_path(cache_dir, cache.cache_key(track)), calls


def test_corrupt_cache_entry_is_recomputed(
    tmp_path: Path, _cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    track, entry, calls = _cached_once(tmp_path, _cache_dir, monkeypatch)
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


def test_silence_and_noise_get_no_beats(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "silent.wav", np.zeros(SR * 10))
    silent = analyze_file(path)
    assert (silent.beats, silent.downbeats, silent.tempo, silent.confidence) == ((), (), 0.0, 0.0)
    assert silent.duration == pytest.approx(10.0)
    noise = analyze_signal(np.random.default_rng(0).standard_normal(SR * 20) * 0.3, SR)
    assert (noise.beats, noise.confidence) == ((), 0.0)


def test_too_short_track(tmp_path: Path) -> None:
    y, _ = synthesize_track(120.0, 2.0, SR, seed=1, intro_beats=0.5)
    path = _write_wav(tmp_path / "short.wav", y)
    with pytest.raises(AnalysisError) as err:
        analyze_file(path)
    assert str(err.value) == f"{path}: track is too short to analyse (2.0 s)"


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


def test_truncated_and_empty_files(tmp_path: Path) -> None:
    y, _ = synthesize_track(120.0, 12.0, SR, seed=1)
    whole = _write_wav(tmp_path / "whole.wav", y).read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(AnalysisError) as err:
        analyze_file(cut)
    assert str(err.value) == f"{cut}: file is truncated (6.0 s of the 12.0 s its header declares)"
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AnalysisError) as err:
        analyze_file(empty)
    assert str(err.value) == f"{empty}: cannot read audio (file is empty)"


# --- many files: in parallel, in order, every bad one reported ----------------------------------------


def test_parallel_analysis_keeps_input_order_and_reports_each_track(tmp_path: Path, _cache_dir: Path) -> None:
    wavs = []
    for k, bpm in enumerate((96.0, 128.0, 150.0)):
        y, _ = synthesize_track(bpm, 12.0, SR, seed=k, intro_beats=1.0)
        wavs.append(_write_wav(tmp_path / f"t{k}.wav", y))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 100)
    paths = [wavs[0], bad, wavs[1], wavs[2]]
    progress: list[tuple[str, int, int, bool]] = []
    errors: list[AnalysisError] = []
    results = analyze_paths(paths, on_progress=lambda *a: progress.append(a), on_error=errors.append, workers=2)
    assert [r.path for r in results] == [str(w) for w in wavs]
    assert [round(r.tempo) for r in results] == [96, 128, 150]
    assert [str(e) for e in errors] == [f"{bad}: cannot read audio (format not recognised)"]
    assert sorted(p[0] for p in progress) == sorted(str(w) for w in wavs)
    assert len({p[1] for p in progress}) == 3 and {p[1] for p in progress} <= {1, 2, 3, 4}
    assert all(p[2] == 4 for p in progress)
    assert all(not p[3] for p in progress)
    sequential = [analyze_file(w) for w in wavs]
    assert [r.beats for r in results] == [TrackAnalysis.from_json(r.to_json()).beats for r in sequential]
    # Warm: every track from the cache, the bad one reported again.
    again = analyze_paths(paths, on_error=errors.append, workers=2)
    assert again == results and len(errors) == 2
    with pytest.raises(AnalysisError, match="format not recognised"):
        analyze_paths(paths)  # without on_error the first problem stops the run


def test_analyze_command_reports_every_bad_file_and_prints_the_good_one(tmp_path: Path) -> None:
    y, _ = synthesize_track(128.0, 12.0, SR, seed=2, intro_beats=1.0)
    good = _write_wav(tmp_path / "good.wav", y)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are my class notes, not a song\n" * 20, encoding="utf-8")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 4])
    silence = _write_wav(tmp_path / "silence.wav", np.zeros(SR * 10))
    clip = _write_wav(tmp_path / "clip.wav", synthesize_track(120.0, 2.0, SR, seed=1, intro_beats=0.5)[0])
    names = [empty, not_audio, good, truncated, silence, clip]
    result = subprocess.run([sys.executable, "-m", "showctl.cli.main", "analyze", "--json", *map(str, names)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    printed = json.loads(result.stdout)
    assert [r["path"] for r in printed] == [str(good), str(silence)]
    assert printed[0]["confidence"] > 0.5 and round(printed[0]["tempo"]) == 128
    assert (printed[1]["beats"], printed[1]["confidence"], printed[1]["tempo"]) == ([], 0.0, 0.0)
    # Workers finish in any order: one line per bad file, whatever the order.
    errors = sorted(line for line in result.stderr.splitlines() if line.startswith("showctl:"))
    assert errors == sorted([
        f"showctl: {empty}: cannot read audio (file is empty)",
        f"showctl: {not_audio}: cannot read audio (format not recognised)",
        f"showctl: {truncated}: file is truncated (3.0 s of the 12.0 s its header declares)",
        f"showctl: {clip}: track is too short to analyse (2.0 s)",
    ])
    assert f"warning: {silence}: no beat found (confidence 0); give the track a grid in the cue file to use it" \
        in result.stderr.splitlines()

    only_good = subprocess.run([sys.executable, "-m", "showctl.cli.main", "analyze", str(good)],
                               capture_output=True, text=True, timeout=120, check=False)
    assert only_good.returncode == 0, only_good.stderr
    assert "128.0" in only_good.stdout and "showctl:" not in only_good.stderr


def test_pcm16_is_read_as_libsndfile_reads_it(tmp_path: Path) -> None:
    y, _ = synthesize_track(120.0, 6.0, SR, seed=3)
    mono = _write_wav(tmp_path / "mono.wav", y)
    stereo = tmp_path / "stereo.wav"
    sf.write(str(stereo), np.stack([y, 0.5 * y], axis=1), SR, subtype="PCM_16")
    for path in (mono, stereo):
        samples, sr = read_audio(path)
        expected = sf.read(str(path), dtype="float32", always_2d=True)[0].mean(axis=1)
        assert sr == SR and samples.dtype == np.float32
        np.testing.assert_allclose(samples, expected, rtol=0, atol=1e-7)


def test_missing_file_stops_the_run_before_any_analysis(tmp_path: Path, _cache_dir: Path) -> None:
    y, _ = synthesize_track(120.0, 8.0, SR, seed=4)
    good = [_write_wav(tmp_path / f"g{k}.wav", y * (0.5 + 0.1 * k)) for k in range(2)]
    missing = tmp_path / "gone.wav"
    with pytest.raises(AnalysisError, match="no such file"):
        analyze_paths([*good, missing], workers=2)
    assert not list(_cache_dir.glob("*.json"))  # nothing was analysed, so nothing was cached


def test_progress_lines_off_a_terminal_and_a_summary_on_one(tmp_path: Path, _cache_dir: Path) -> None:
    y, _ = synthesize_track(120.0, 8.0, SR, seed=6)
    wav = _write_wav(tmp_path / "t.wav", y)
    plain = io.StringIO()
    with AnalysisProgress(Console(file=plain, force_terminal=False, width=200), 1) as progress:
        analyze_paths([wav], on_progress=progress)
    assert plain.getvalue() == f"analysed 1/1: {wav}\n"
    term = io.StringIO()
    with AnalysisProgress(Console(file=term, force_terminal=True, width=200, color_system=None), 2) as progress:
        analyze_paths([wav, tmp_path / "nope.wav"], on_progress=progress, on_error=lambda err: None)
    text = term.getvalue()
    assert f"cached   {wav}" in text
    assert "2 tracks: 0 analysed, 1 from the cache, 1 failed in " in text


def test_analyze_command_reports_bad_compressed_files(tmp_path: Path) -> None:
    # Every compressed format libsndfile here writes, cut short; text and nothing under audio names.
    y, _ = synthesize_track(128.0, 12.0, SR, seed=2, intro_beats=1.0)
    formats = {"flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"), "mp3": ("MP3", "MPEG_LAYER_III")}
    good, cut = [], []
    for ext, (fmt, subtype) in formats.items():
        if fmt not in sf.available_formats() or subtype not in sf.available_subtypes(fmt):
            continue
        path = tmp_path / f"good.{ext}"
        sf.write(str(path), y, SR, format=fmt, subtype=subtype)
        good.append(path)
        half = tmp_path / f"cut.{ext}"
        half.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        cut.append(half)
    assert good, "libsndfile here writes none of FLAC, OGG, MP3"
    text = [tmp_path / f"notes.{ext}" for ext in formats]
    for path in text:
        path.write_text("these are my class notes, not a song\n" * 20, encoding="utf-8")
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    names = [*cut, good[0], *text, empty, *good[1:]]
    result = subprocess.run([sys.executable, "-m", "showctl.cli.main", "analyze", "--json", *map(str, names)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert [r["path"] for r in json.loads(result.stdout)] == [str(p) for p in good]
    assert all(round(r["tempo"]) == 128 for r in json.loads(result.stdout))
    expected = {
        "cut.flac": "file is truncated or damaged (decoding fails at 5.6 s of the 12.0 s its header declares: "
                    "flac decoder lost sync)",
        "cut.ogg": "file is truncated (its stream stops at 5.6 s, without the end-of-stream mark)",
        "cut.mp3": "file is truncated (6.0 s of the 12.0 s its header declares)",
    }
    wanted = [f"showctl: {p}: {expected[p.name]}" for p in cut]
    wanted += [f"showctl: {p}: cannot read audio (format not recognised)" for p in text]
    wanted.append(f"showctl: {empty}: cannot read audio (file is empty)")
    # Exactly one line per bad file, nothing else: no traceback, no decoder chatter (mpg123's notes).
    lines = [line for line in result.stderr.splitlines() if not line.startswith("analysed ")]
    assert sorted(lines) == sorted(wanted)



# --- confidence per section --------------------------------------------------------------------------------


def _pad(seconds: float, bpm: float) -> np.ndarray[Any, Any]:
    """A drum-less pad: three-note chords held two bars each, swelling in over 0.8 s (no pulse to hear)."""
    t = np.arange(round(seconds * SR)) / SR
    hold = 2 * 4 * 60.0 / bpm
    chords = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)]
    out = np.zeros_like(t)
    for k, start in enumerate(np.arange(0.0, seconds, hold)):
        inside = (t >= start) & (t < start + hold + 0.5)
        since = t[inside] - start
        swell = np.minimum(1.0, since / 0.8) * np.clip((hold + 0.5 - since) / 0.5, 0.0, 1.0)
        for note in chords[k % len(chords)]:
            out[inside] += 0.1 * swell * np.sin(2 * np.pi * 440.0 * 2 ** ((note - 69) / 12) * since)
    return out


def test_section_confidence_is_the_share_of_beats_on_onsets_times_the_share_that_sounds() -> None:
    # 100 frames/s, a beat every 50 frames (120 BPM): 40 s of clicks on the beats, 40 s of flutter that the
    # grid runs on through, 40 s of silence without beats.
    rate = 100.0
    rng = np.random.default_rng(1)
    env = np.zeros(12000)
    env[0:4000:50] = 10.0
    env[4000:8000] = rng.uniform(0.0, 1.0, 4000)
    sounding = np.arange(12000) < 8000
    beats = np.arange(0, 8000, 50) / rate
    clicks, flutter, silence, half_clicks, half_silent = section_confidence(
        env, sounding, rate, beats, 120.0, [(0.0, 40.0), (40.0, 80.0), (80.0, 120.0), (20.0, 60.0), (20.0, 100.0)])
    assert clicks == pytest.approx(1.0)
    assert flutter < 0.1  # beats on noise stand no higher than the noise around them
    assert silence == 0.0
    assert half_clicks == pytest.approx(0.5, abs=0.05)  # half the beats it should hold are on clicks
    # The same clicks, and silence instead of the flutter: every beat where it sounds, but half of it is silent.
    silent_after = np.where(sounding, env, 0.0)
    silent_after[4000:] = 0.0
    assert section_confidence(silent_after, np.arange(12000) < 4000, rate, beats[beats < 40.0], 120.0,
                              [(20.0, 60.0)]) == [pytest.approx(0.5)]
    # A third of the beats it should hold on clicks, three quarters of it sounding.
    assert half_silent == pytest.approx(0.25, abs=0.03)
    assert section_confidence(env, sounding, rate, np.zeros(0), 120.0, [(0.0, 40.0)]) == [0.0]  # no grid


def test_a_sections_confidence_is_the_tracks_grid_weighed_by_its_support_against_the_tracks() -> None:
    # Dense guitars over a right grid: every section's beats stand little above the frames between them
    # (support ~0.1, as in real metal songs), but no less than the track's elsewhere: the track's grid decides.
    assert section_trust([0.1, 0.1, 0.1], [(0.0, 60.0), (60.0, 80.0), (80.0, 200.0)], 0.9) == pytest.approx([0.9] * 3)
    # Against the track's mean support, weighted by length (here 0.11).
    assert section_trust([0.1, 0.12], [(0.0, 50.0), (50.0, 100.0)], 0.5) == pytest.approx([0.5 / 1.1, 0.6 / 1.1])
    # Drums around a drum-less breakdown: the breakdown is doubted, the drums trusted more than the track
    # (whose confidence the breakdown held down), at most fully.
    drums, pad, again = section_trust([0.95, 0.1, 0.95], [(0.0, 60.0), (60.0, 90.0), (90.0, 150.0)], 0.7)
    assert pad < 0.1 < 0.7 < drums == pytest.approx(0.7 * 0.95 / 0.78) and again == drums
    assert section_trust([0.9, 0.1], [(0.0, 10.0), (10.0, 100.0)], 1.0)[0] == 1.0
    # The grid's doubt (a wrong tempo octave or phase is wrong everywhere) is every section's.
    assert section_trust([0.97], [(0.0, 60.0)], 0.2) == [pytest.approx(0.2)]
    assert section_trust([0.0, 0.0], [(0.0, 10.0), (10.0, 20.0)], 0.9) == [0.0, 0.0]  # nothing supported
    assert section_trust([], [], 0.9) == []


@pytest.mark.parametrize(("style", "bpm"), [("house", 128.0), ("hiphop", 90.0), ("dnb", 174.0)])
def test_every_section_of_a_track_with_drums_throughout_has_a_trusted_grid(style: str, bpm: float) -> None:
    # Hip-hop and drum & bass leave a beat or two of each bar without kick or snare (hats only): ~0.8.
    y, _ = synthesize_track(bpm, 60.0, SR, seed=40, style=style, intro_beats=1.0)
    result = analyze_signal(y, SR, path="drums.wav")
    assert result.sections
    assert all(s.confidence >= 0.7 for s in result.sections), result.sections
    assert low_confidence_warnings([result]) == []


def _section_at(result: TrackAnalysis, t: float) -> Section:
    return next(s for s in result.sections if s.start <= t < s.end)


def test_a_drumless_breakdown_is_a_low_confidence_section_and_the_drums_around_it_are_trusted(tmp_path: Path) -> None:
    # 128 BPM house with its drums replaced by a pad from 30 to 60 s: the tracker carries the grid through
    # the pad (rightly: the drums come back in phase), but nothing there is heard on it.
    y, _ = synthesize_track(128.0, 90.0, SR, seed=41, style="house", intro_beats=1.0)
    a, b = 30 * SR, 60 * SR
    y[a:b] = _pad(30.0, 128.0)
    wav = _write_wav(tmp_path / "pad.wav", y)
    result = analyze_file(wav)
    pad = _section_at(result, 45.0)
    bar = 4 * 60.0 / 128.0
    # The breakdown is found (on the 4-bar grid of phrases) around the pad and scored low ...
    assert (pad.label, abs(pad.start - 30.0) <= 4 * bar, abs(pad.end - 60.0) <= 4 * bar) == ("breakdown", True, True)
    assert pad.confidence < 0.4
    # ... while the sections with drums keep a trusted grid (one may hold a bar or two of the pad: the
    # boundaries sit on the phrase grid), and the track as a whole is trusted too.
    drums = [s for s in result.sections if s is not pad]
    assert drums and all(s.confidence >= 0.8 for s in drums), result.sections
    assert result.confidence >= LOW_CONFIDENCE

    # `showctl analyze`: the field in the JSON, and one warning line naming the file and the section.
    as_json = subprocess.run([sys.executable, "-m", "showctl.cli.main", "analyze", "--json", str(wav)],
                             capture_output=True, text=True, timeout=120, check=False)
    assert as_json.returncode == 0, as_json.stderr
    sections = json.loads(as_json.stdout)[0]["sections"]
    assert {"start", "end", "label", "confidence"} <= set(sections[0])
    assert [s["confidence"] for s in sections] == [round(s.confidence, 4) for s in result.sections]
    table = subprocess.run([sys.executable, "-m", "showctl.cli.main", "analyze", str(wav)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert table.returncode == 0, table.stderr
    warnings = [line for line in table.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {wav}: {format_clock(pad.start)}–{format_clock(pad.end)} breakdown: low beat-grid "
                        f"confidence {pad.confidence:.2f}; check the grid there"]


def test_a_silent_stretch_is_a_section_without_grid_confidence() -> None:
    # 8 s of digital silence in the middle of a house track: the beats stop, and the silence is a section
    # of its own (bar lines carried across it) that no beat supports.
    y, _ = synthesize_track(128.0, 90.0, SR, seed=42, style="house", intro_beats=1.0)
    y[40 * SR : 48 * SR] = 0.0
    result = analyze_signal(y, SR, path="gap.wav")
    gap = _section_at(result, 44.0)
    assert 39.0 <= gap.start <= 41.0 and 47.0 <= gap.end <= 49.0, result.sections
    assert gap.confidence <= 0.05
    assert all(s.confidence >= 0.9 for s in result.sections if s is not gap), result.sections


def test_low_confidence_warnings_name_the_section_unless_the_whole_track_is_in_doubt() -> None:
    def track(confidence: float, *sections: Section, overrides: tuple[str, ...] = ()) -> TrackAnalysis:
        return TrackAnalysis(path="tracks/x.wav", duration=200.0, tempo=128.0, beats=(1.0, 1.5), downbeats=(1.0,),
                             confidence=confidence, sections=sections, overrides=overrides)

    drop = Section(0.0, 130.0, "drop", 1.0, 1.0, 0.95)
    breakdown = Section(130.0, 160.0, "breakdown", 0.3, 0.8, 0.31)
    outro = Section(160.0, 200.0, "outro", 0.5, 0.6, 0.49)
    assert low_confidence_warnings([track(0.9, drop, breakdown, outro)]) == [
        "warning: tracks/x.wav: 2:10.0–2:40.0 breakdown: low beat-grid confidence 0.31; check the grid there",
        "warning: tracks/x.wav: 2:40.0–3:20.0 outro: low beat-grid confidence 0.49; check the grid there",
    ]
    assert low_confidence_warnings([track(0.3, drop, breakdown)]) == [
        "warning: tracks/x.wav: low beat-grid confidence 0.30; check the grid"]
    assert low_confidence_warnings([track(0.9, drop)]) == []
    # A fixed grid from the cue file: the user vouches for it, sections included.
    fixed = apply_overrides(track(0.9, drop, breakdown), grid=(128.0, 0.5))
    assert [s.confidence for s in fixed.sections] == [1.0, 1.0]
    assert low_confidence_warnings([fixed]) == []


def test_section_confidence_round_trips_through_json() -> None:
    section = Section(12.5, 40.0, "build", 0.62, 0.8, 0.4321)
    data = section.to_json()
    assert (data["confidence"], data["boundary"]) == (0.4321, 0.8)
    assert Section.from_json(data) == section


# --- cache entries are checked, never trusted (issue 14 item 12) --------------------------------------------

_BAD_ENTRIES = {
    "no beats in a bar": {"beats_per_bar": 0},
    "13 beats in a bar": {"beats_per_bar": 13},
    "beats reversed": {"beats": [1.0, 0.5]},
    "downbeats reversed": {"beats": [0.5, 1.0, 1.5], "downbeats": [1.5, 0.5]},
    "beat at NaN": {"beats": [0.5, float("nan")]},
    "tempo NaN": {"tempo": float("nan")},
    "tempo infinite": {"tempo": float("inf")},
    "negative tempo": {"tempo": -120.0},
    "confidence above 1": {"confidence": 7.0},
    "duration infinite": {"duration": float("inf")},
    "section ends before it starts": {"sections": [{"start": 4.0, "end": 1.0, "label": "drop", "energy": 1.0}]},
    "phase ambiguity NaN": {"phase_ambiguity": float("nan")},
    "phase ambiguity above 1": {"phase_ambiguity": 1.5},
    "phase ambiguity negative": {"phase_ambiguity": -0.1},
    "phase shift infinite": {"phase_shift": float("inf")},
    "phase shift past half a beat": {"phase_shift": 0.75},
    "phase shift 0": {"phase_shift": 0.0},
    "section phase ambiguity above 1": {"sections": [{"start": 0.0, "end": 1.0, "label": "drop", "energy": 1.0,
                                                      "phase_ambiguity": 2.0}]},
}


@pytest.mark.parametrize("change", _BAD_ENTRIES.values(), ids=list(_BAD_ENTRIES))
def test_an_invalid_cache_entry_is_reanalysed_with_a_notice(
    tmp_path: Path, _cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    change: dict[str, Any],
) -> None:
    track, entry, calls = _cached_once(tmp_path, _cache_dir, monkeypatch)
    data = json.loads(entry.read_text(encoding="utf-8"))
    entry.write_text(json.dumps({**data, **change}), encoding="utf-8")  # json writes NaN and Infinity too
    caplog.clear()
    [again] = analyze_paths([track])
    assert calls == [str(track), str(track)]  # analysed again, not trusted
    assert again == _fake(track)
    notices = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(notices) == 1 and notices[0].startswith(f"ignoring invalid cache entry {entry}: ")
    assert "\n" not in notices[0]
    assert TrackAnalysis.from_json(json.loads(entry.read_text(encoding="utf-8"))) == _fake(track)  # rewritten


@pytest.mark.parametrize("change", _BAD_ENTRIES.values(), ids=list(_BAD_ENTRIES))
def test_the_analysis_model_refuses_an_impossible_grid(change: dict[str, Any]) -> None:
    good = _fake("t.wav").to_json()
    with pytest.raises(ValueError):
        TrackAnalysis.from_json({**good, **change})


def test_overrides_refuse_non_finite_and_impossible_values() -> None:
    from showctl.analysis import Overrides

    for bad in ({"grid": (0.0, 0.0)}, {"grid": (float("nan"), 0.0)}, {"grid": (120.0, float("inf"))},
                {"tempo": 0.0}, {"tempo": float("inf")}, {"first_downbeat": float("nan")},
                {"first_downbeat": -1.0}):
        with pytest.raises(ValueError):
            Overrides(**bad)
    assert Overrides(tempo=128.0, first_downbeat=0.5, grid=(128.0, 0.25)).grid == (128.0, 0.25)


def test_a_nudge_moves_the_whole_grid_by_part_of_a_beat() -> None:
    # A grid on the snare or hats, half a beat off the kick: `nudge: half beat` in the playlist entry puts the
    # lights back on the kick; each beat moves by half of its own beat (a tempo change moves with it).
    from showctl.analysis.overrides import apply_overrides

    tracked = TrackAnalysis(path="t.wav", duration=6.0, tempo=120.0, beats=(0.25, 0.75, 1.25, 1.75, 2.35, 2.95),
                            downbeats=(0.25, 2.35), phrases=(0.25,), confidence=0.9)
    later = apply_overrides(tracked, nudge=0.5)
    assert later.beats == pytest.approx((0.5, 1.0, 1.5, 2.05, 2.65, 3.25))
    assert later.downbeats == pytest.approx((0.5, 2.65)) and later.phrases == pytest.approx((0.5,))
    assert later.overrides == ("nudge",)
    earlier = apply_overrides(tracked, nudge=-0.5)
    assert earlier.beats == pytest.approx((0.0, 0.5, 1.0, 1.5, 2.05, 2.65))  # the first borrows the next gap


def test_a_nudge_in_the_cue_file_is_validated_where_written(tmp_path: Path) -> None:
    from showctl.cues import load_cue_sheet
    from showctl.errors import ProblemsError

    cue = tmp_path / "class.yaml"
    for track in ("a.wav", "b.wav"):
        (tmp_path / track).write_bytes(b"")
    cue.write_text("name: Nudged\nplaylist:\n  - {track: a.wav, nudge: half beat}\n  - {track: b.wav, nudge: 2 bars}\n"
                   "scenes: {warm: {send: {console: [/warm 1]}}}\n"
                   "segments:\n  - {name: W, kind: warmup, length: 30s, scene: warm}\n")
    with pytest.raises(ProblemsError) as info:
        load_cue_sheet(cue)
    assert [str(p) for p in info.value.problems] == [
        f"{cue}:4:27: expected a nudge of part of a beat like 'half beat', '-quarter beat' or 0.25, got '2 bars'"]
    cue.write_text(cue.read_text().replace("2 bars", "-quarter beat"))
    sheet = load_cue_sheet(cue).sheet
    assert [e.nudge for e in sheet.playlist] == [0.5, -0.25]


@pytest.mark.slow
def test_an_m4a_track_is_decoded_through_ffmpeg(tmp_path: Path, demo_tracks: list[Path]) -> None:
    # AAC in .m4a is what most instructors' libraries hold; libsndfile cannot read it.
    require_binary("ffmpeg", "m4a/AAC decoding")
    wav = demo_tracks[1]
    m4a = tmp_path / "track.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-c:a", "aac", "-b:a", "160k", str(m4a)],
                   check=True)
    from_wav, from_m4a = analyze_file(wav), analyze_file(m4a)
    assert from_m4a.tempo == pytest.approx(from_wav.tempo, rel=0.01)
    assert from_m4a.duration == pytest.approx(from_wav.duration, abs=0.1)
    # AAC's encoder delay shifts the audio by a few ms at most: the same grid, beat for beat.
    assert len(from_m4a.beats) == pytest.approx(len(from_wav.beats), abs=2)
    offsets = [min(abs(b - w) for w in from_wav.beats) for b in from_m4a.beats]
    assert float(np.median(offsets)) < 0.03


def test_a_broken_m4a_is_one_line(tmp_path: Path) -> None:
    require_binary("ffmpeg", "m4a/AAC decoding")
    broken = tmp_path / "broken.m4a"
    broken.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(range(256)) * 8)
    with pytest.raises(AnalysisError) as info:
        analyze_file(broken)
    text = str(info.value)
    assert text.startswith(f"{broken}: cannot read audio (ffmpeg: ") and "\n" not in text, text
