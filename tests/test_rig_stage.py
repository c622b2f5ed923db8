"""`showctl rig`: the simulated rig in its own process, driven by `showctl run` over the real transports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from showctl.rig import load_rig
from showctl.sim import JackServer, Received
from showctl.sim.stage import Stage

REPO = Path(__file__).resolve().parent.parent


def test_stage_follows_looks_and_clock_tempo() -> None:
    stage = Stage(load_rig(REPO / "config/demo-rig.yaml"))
    stage.receive(Received("console", "osc", "/showctl/scene/run 1", 0.0))
    stage.receive(Received("console", "osc", "/showctl/pulse 1.0", 0.1))
    stage.receive(Received("desk", "midi", "start", 0.0))
    for tick in range(48):  # 24 ppqn at 120 BPM: a tick every 1/48 s
        stage.receive(Received("desk", "midi", "clock", tick / 48))
    stage.receive(Received("desk", "midi", "program_change channel=0 program=2 time=0", 1.0))
    console, desk = stage.views["console"], stage.views["desk"]
    assert console.look == "/showctl/scene/run 1"
    assert desk.look == "program_change channel=0 program=2"
    assert desk.running is True
    assert desk.clock_bpm == pytest.approx(120.0)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.rig
@pytest.mark.slow
def test_run_drives_the_rig_in_another_process(tmp_path: Path, demo_tracks: list[Path], jack: JackServer) -> None:
    rig_text = (REPO / "config/demo-rig.yaml").read_text().replace("port: 9000", f"port: {_free_port()}").replace(
        "showctl-sim-desk:in", f"stage-{os.getpid()}:desk")
    rig_file = tmp_path / "rig.yaml"
    rig_file.write_text(rig_text)
    env = {**os.environ, "COLUMNS": "200"}
    rig = subprocess.Popen([sys.executable, "-m", "showctl.cli.main", "rig", "--rig", str(rig_file), "--seconds", "12"],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 10
    assert rig.stderr is not None
    first = rig.stderr.readline()  # "simulated rig ... listening": the rig is ready
    assert "listening" in first and time.monotonic() < deadline, first
    run = subprocess.run([sys.executable, "-m", "showctl.cli.main", "run", "cues/demo.yaml", "--rig", str(rig_file),
                          "--from", "3:25", "--speed", "2", "--no-audio", "--control-port", str(_free_port())],
                         cwd=REPO, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    out, err = rig.communicate(timeout=30)
    assert "console    osc  /showctl/scene/cool 1" in out
    assert "desk: " in err and "showing program_change channel=0 program=5" in err
    assert "console: " in err and "/showctl/strobe 0" in out  # the safe scene arrived
