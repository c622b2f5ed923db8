"""The guardian sends the rig's safe scene when showctl is killed outright (kill -9): a real `showctl run` in
a child process, its console a real UDP socket here."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import REPO, run_showctl
from pythonosc.osc_message import OscMessage

RIG = """
name: Guarded rig
floor_light: 30%
outputs:
  console: {transport: osc, host: 127.0.0.1, port: PORT}
safe_scene: {console: [/house 1, /blackout 0]}
blackout: {console: [/blackout 1]}
floor_scene: {console: [/floor 0.3, /blackout 0]}
"""

CUE = """
name: Guarded class
rig: rig.yaml
playlist: [{track: TRACK}]
scenes:
  dark: {send: {console: [/scene/dark 1]}}
looks:
  warmup: {scene: dark}
segments:
  - {name: Warm-up, kind: warmup, length: LENGTH}
"""


def guardians() -> set[int]:
    """Pids of guardian processes running now."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"showctl.player.guardian" in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def console() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    return sock


def receive_until(sock: socket.socket, wanted: str, timeout: float) -> list[str]:
    """Messages as text until `wanted` arrives (or `timeout` s pass)."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and wanted not in got:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        message = OscMessage(data)
        got.append(" ".join([message.address, *map(str, message.params)]))
    return got


def start(folder: Path, track: Path, port: int, length: str, *extra: str) -> subprocess.Popen[bytes]:
    (folder / "rig.yaml").write_text(textwrap.dedent(RIG).replace("PORT", str(port)))
    (folder / "class.yaml").write_text(textwrap.dedent(CUE).replace("TRACK", str(track)).replace("LENGTH", length))
    assert run_showctl("check", str(folder / "class.yaml")).returncode == 0  # analysed: the run starts at once
    return subprocess.Popen([sys.executable, "-m", "showctl.cli.main", "run", str(folder / "class.yaml"),
                             "--no-audio", "--control-port", "0", *extra], cwd=REPO, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "XDG_STATE_HOME": str(folder / "state")})


@pytest.mark.slow
def test_kill_9_mid_class_still_ends_in_the_safe_scene(tmp_path: Path, demo_tracks: list[Path]) -> None:
    before = guardians()
    with console() as sock:
        process = start(tmp_path, demo_tracks[0], sock.getsockname()[1], '"1:00"')
        try:
            assert "/scene/dark 1" in receive_until(sock, "/scene/dark 1", 30), "the class never started"
            process.send_signal(signal.SIGKILL)  # no handler, no finally: only the guardian can act now
            process.wait(timeout=10)
            after = receive_until(sock, "/blackout 0", 10)
        finally:
            if process.poll() is None:
                process.kill()
            assert process.stderr is not None
            said = process.stderr.read().decode()
    assert "/house 1" in after, (after, said)
    assert after[after.index("/house 1"):] == ["/house 1", "/blackout 0"]
    assert "showctl guardian: showctl ended without its safe scene (killed?): sent the safe scene to rig " \
           "'Guarded rig'" in said
    log = (tmp_path / "state" / "showctl" / "guardian.log").read_text()
    assert "sent the safe scene to rig 'Guarded rig'" in log
    deadline = time.monotonic() + 10
    while guardians() - before and time.monotonic() < deadline:
        time.sleep(0.05)  # it exits once it has sent
    assert not guardians() - before


@pytest.mark.slow
def test_a_clean_end_sends_the_safe_scene_once_and_leaves_no_guardian(tmp_path: Path,
                                                                      demo_tracks: list[Path]) -> None:
    before = guardians()
    with console() as sock:
        process = start(tmp_path, demo_tracks[0], sock.getsockname()[1], "8s", "--speed", "4")
        _, err = process.communicate(timeout=60)
        got = receive_until(sock, "never", 1.5)
    assert process.returncode == 0, err.decode()
    assert got.count("/house 1") == 1, got  # the class's own; the guardian was told `done`
    assert guardians() <= before
    assert b"guardian" not in err
