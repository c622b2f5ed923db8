"""`showctl run cues/demo.yaml --live --source audio --sim`: the demo class on line-in audio, end to end.

A JACK dummy server stands in for the sound card; a separate player process plays a generated 128 BPM house
track into showctl's input port over JACK; the simulated rig (its MIDI desk on the same server) records what
the lights got. Then the music stops: the class runs on the last good grid and says so; SIGINT ends it with
the safe scene.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import soundfile as sf
from conftest import REPO, wait_for
from test_live_sources import jack_ports, play_into

from showctl.demo.tracks import synthesize_track
from showctl.sim import JackServer


@pytest.mark.rig
@pytest.mark.slow
def test_the_demo_class_runs_on_line_in_audio(tmp_path: Path, demo_tracks: list[Path], jack: JackServer) -> None:
    y, _ = synthesize_track(128.0, 20.0, 48000, 12, style="house")
    track = tmp_path / "house-128.wav"
    sf.write(track, y, 48000)
    before = set(jack_ports())
    process = subprocess.Popen(
        [sys.executable, "-m", "showctl.cli.main", "run", "cues/demo.yaml", "--live", "--source", "audio", "--sim"],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"})
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda s=s, into=into: into.extend(iter(s.readline, "")), daemon=True)
               for s, into in ((process.stdout, out), (process.stderr, err))]
    for reader in readers:
        reader.start()
    player: subprocess.Popen[str] | None = None

    def accents() -> int:
        return sum(1 for line in list(out) if line.startswith("rig: desk") and "note_on" in line)

    try:
        wait_for(lambda: any(line.startswith("live class ") for line in list(err)), "the live class started", 30)
        ours = [p for p in jack_ports() if p.endswith(":in_0") and p not in before]
        assert len(ours) == 1, (jack_ports(), "".join(err))
        player = play_into(track, ours[0], tmp_path / "written.json")
        wait_for(lambda: any("audio: locked at " in line for line in list(err)), "locked on the line-in audio", 30)
        wait_for(lambda: accents() >= 3, "bar accents on the audio grid", 30)
        wait_for(lambda: player is not None and player.poll() is not None, "the track played out", 60)
        wait_for(lambda: any(line.startswith("audio: ") and "last good grid" in line for line in list(err)),
              "the music stopping announced", 30)
        after = accents()
        wait_for(lambda: accents() >= after + 2, "the lights running on after the music stopped", 30)
    finally:
        if player is not None and player.poll() is None:
            player.kill()
            player.wait()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        for reader in readers:
            reader.join(timeout=5)
    stderr = "".join(err)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    locked = next(line for line in err if "audio: locked at " in line)
    tempo = float(locked.split("audio: locked at ")[1].split()[0])
    assert tempo == pytest.approx(128.0, rel=0.02), locked
    console = [line.split(None, 3)[-1].strip() for line in out if line.startswith("rig: console")]
    assert console[-3:] == ["/showctl/house 1", "/showctl/strobe 0", "/showctl/blackout 0"], out[-5:]  # safe scene
