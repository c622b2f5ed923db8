"""The CLI contracts, run as a user runs them: a subprocess, its stdout, stderr and exit code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_showctl

from showctl.sim import JackServer

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden" / "demo.jsonl"


showctl = run_showctl


def test_analyze_json_contract(demo_tracks: list[Path]) -> None:
    result = showctl("analyze", "--json", *(str(p) for p in demo_tracks))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [d["path"] for d in data] == [str(p) for p in demo_tracks]
    for item in data:
        assert {"path", "duration", "tempo", "beats", "downbeats", "confidence"} <= set(item)
        assert 0 <= item["confidence"] <= 1
        assert item["beats"] == sorted(item["beats"]) and set(item["downbeats"]) <= set(item["beats"])
    assert [round(d["tempo"]) for d in data] == [100, 128, 150]


def test_user_mistakes_are_one_line_without_traceback(tmp_path: Path) -> None:
    cases = {
        ("analyze", "nope.wav"): "showctl: nope.wav: no such file\n",
        ("timeline", "nope.yaml"): "nope.yaml: no such file\n",
        ("run", "nope.yaml"): "nope.yaml: no such file\n",
    }
    for args, expected in cases.items():
        result = showctl(*args, cwd=tmp_path)
        assert (result.returncode, result.stderr) == (1, expected), args
    result = showctl("run", "cues/demo.yaml", "--speed", "0")
    assert result.returncode == 2 and "must be more than 0: '0'" in result.stderr


def test_check_reports_every_problem_with_locations(tmp_path: Path, demo_tracks: list[Path]) -> None:
    result = showctl("check", "cues/demo.yaml", "config/demo-rig.yaml")
    assert (result.returncode, result.stdout) == (0, "ok cues/demo.yaml\nok config/demo-rig.yaml\n"), result.stderr
    broken = (REPO / "cues/demo.yaml").read_text().replace("scene: run,", "scene: rnu,").replace(
        "02-house-128.wav", "02-house-129.wav").replace("rig: ../config/demo-rig.yaml", "rig: ../rig.yaml")
    path = tmp_path / "cues" / "broken.yaml"
    path.parent.mkdir()
    path.write_text(broken)
    result = showctl("check", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{path}:4:6: no such rig file: {tmp_path / 'rig.yaml'}",
        f"{path}:10:12: no such track file: {tmp_path / 'tracks/demo/01-warmup-100.wav'}",
        f"{path}:11:12: no such track file: {tmp_path / 'tracks/demo/02-house-129.wav'}",
        f"{path}:12:12: no such track file: {tmp_path / 'tracks/demo/03-run-150.wav'}",
        f"{path}:51:22: unknown scene 'rnu' (did you mean 'run'?)",
    ]


@pytest.mark.rig
def test_simulate_receives_exactly_the_timeline(tmp_path: Path, demo_tracks: list[Path], jack: JackServer) -> None:
    timeline = showctl("timeline", "cues/demo.yaml", "--json")
    assert timeline.returncode == 0, timeline.stderr
    events = json.loads(timeline.stdout)
    assert all(set(e) == {"t", "output", "message", "reason"} and e["reason"] for e in events)
    log = tmp_path / "x.jsonl"
    result = showctl("simulate", "cues/demo.yaml", "--log", str(log))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(set(line) == {"t", "transport", "message"} for line in lines)
    assert [(x["t"], x["message"]) for x in lines if x["message"] != "clock"] == [
        (e["t"], e["message"]) for e in events if e["message"] != "clock"]
    clock = [x["t"] for x in lines if x["message"] == "clock"]
    assert clock == [e["t"] for e in events if e["message"] == "clock"]
    # The golden log (reviewed, committed) holds the cues; the clock is checked above against the timeline.
    cues = "".join(json.dumps(x) + "\n" for x in lines if x["message"] != "clock")
    if os.environ.get("SHOWCTL_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(cues)
    assert cues == GOLDEN.read_text(), "the demo's log changed: review, then SHOWCTL_UPDATE_GOLDEN=1 make test"


@pytest.mark.rig
@pytest.mark.slow
def test_run_on_the_simulated_rig(demo_tracks: list[Path], jack: JackServer) -> None:
    result = showctl("run", "cues/demo.yaml", "--sim", "--speed", "100")
    assert result.returncode == 0, result.stderr
    assert "▶ Retro-run intervals round 1 work: scene 'run'" in result.stdout
    notes = [line for line in result.stderr.splitlines() if not line.startswith("analysed ")]  # a fresh cache
    assert notes[:3] == [
        "simulated rig: console (osc), desk (midi) — lines below are what it received",
        "class 'Demo retro class': 7 parts, 3:33.0, 100× speed",
        "no audio (--speed 100): lights run on the monotonic clock"]
    assert "class finished" in result.stderr
    assert "/showctl/house 1" in result.stdout  # the safe scene arrived at the rig


def test_cue_file_grid_override_wins(tmp_path: Path, demo_tracks: list[Path]) -> None:
    text = (REPO / "cues/demo.yaml").read_text().replace(
        "  - track: ../tracks/demo/01-warmup-100.wav",
        "  - track: ../tracks/demo/01-warmup-100.wav\n    grid: {bpm: 120, offset: 0.5}",
    ).replace("rig: ../config/demo-rig.yaml", f"rig: {REPO / 'config/demo-rig.yaml'}").replace(
        "../tracks/demo/", f"{REPO / 'tracks/demo'}/")
    cue = tmp_path / "override.yaml"
    cue.write_text(text)
    result = showctl("plan", str(cue), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    # A fixed 120 BPM grid from 0.5 s: bars are 2 s, so the 1:00 change lands on the downbeat at 60.5 s.
    assert (rows[1]["planned"], rows[1]["start"], rows[1]["snapped_to"]) == (60.0, 60.5, "downbeat")


def test_plan_counts_bar_1_from_a_downbeat_at_the_very_start(tmp_path: Path) -> None:
    """A track whose first downbeat is at 0.000 s: that bar is bar 1, and "4 bars" end at 8 s (120 BPM).

    The analysis used to lose the beat at t = 0 (the first frames hold no onset), so the bar from 2 s was
    called bar 1 and every bar of the class was numbered one early (issue 15)."""
    import numpy as np
    import soundfile as sf

    from showctl.demo.tracks import synthesize_track

    samples, truth = synthesize_track(120.0, 30.0, 22050, 7, style="warmup", intro_beats=0.0)
    assert truth.downbeats[0] == 0.0
    track = tmp_path / "from-zero.wav"
    sf.write(str(track), samples.astype(np.float32), 22050)
    cue = tmp_path / "from-zero.yaml"
    cue.write_text(f"""name: From zero
rig: {REPO / 'config/demo-rig.yaml'}
snap: downbeat
playlist:
  - track: {track}
scenes:
  warm: {{send: {{console: [/showctl/scene/warm 1]}}}}
  run: {{send: {{console: [/showctl/scene/run 1]}}}}
looks:
  warmup: {{scene: warm, effects: []}}
  retro_run: {{scene: run, effects: []}}
segments:
  - {{name: Warm-up, kind: warmup, length: 4 bars}}
  - {{name: Run, kind: retro_run, length: end of track}}
""")
    result = showctl("plan", str(cue), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["name"], r["bar"]) for r in rows] == [("Warm-up", 1), ("Run", 5)]
    assert rows[1]["start"] == pytest.approx(8.0, abs=0.03)


def test_a_track_without_a_beat_is_an_error_at_its_playlist_entry(tmp_path: Path, demo_tracks: list[Path]) -> None:
    import numpy as np
    import soundfile as sf

    noise = tmp_path / "noise.wav"
    sf.write(str(noise), np.random.default_rng(1).normal(0, 0.2, 22050 * 20).astype(np.float32), 22050)
    text = (REPO / "cues/demo.yaml").read_text().replace(
        "  - track: ../tracks/demo/01-warmup-100.wav", f"  - track: {noise}").replace(
        "rig: ../config/demo-rig.yaml", f"rig: {REPO / 'config/demo-rig.yaml'}").replace(
        "../tracks/demo/", f"{REPO / 'tracks/demo'}/")
    cue = tmp_path / "noise.yaml"
    cue.write_text(text)
    result = showctl("plan", str(cue))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"{cue}:10:12: no steady beat found in {noise}: give this entry a 'grid: {{bpm: …, offset: …}}' or a "
        "'tempo:' hint")
