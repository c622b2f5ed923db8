"""The guardian sends the rig's safe scene when showctl is killed outright (kill -9): a real `showctl run` in
a child process, its console a real UDP socket here."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, run_showctl, wait_for
from pythonosc.osc_message import OscMessage

from showctl.messages import MidiMessage
from showctl.messages import OscMessage as OscMessageOut
from showctl.player.guardian import Guardian, start_guardian
from showctl.rig import MidiOutputConfig, OscOutputConfig, Rig
from showctl.sim import JackServer, SimulatedRig

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


def guardians(state: Path) -> set[int]:
    """Pids of the running guardians (zombies left out) that log into the state folder `state`: this test's,
    not those of test sessions or CI runs beside it on the machine."""
    found = set()
    mine = f"XDG_STATE_HOME={state}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"showctl.player.guardian" in (entry / "cmdline").read_bytes() and \
                        mine in (entry / "environ").read_bytes().split(b"\0") and alive(int(entry.name)):
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, gone but not yet reaped, does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


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
    while guardians(tmp_path / "state") and time.monotonic() < deadline:
        time.sleep(0.05)  # it exits once it has sent
    assert not guardians(tmp_path / "state")


@pytest.mark.slow
def test_a_clean_end_sends_the_safe_scene_once_and_leaves_no_guardian(tmp_path: Path,
                                                                      demo_tracks: list[Path]) -> None:
    with console() as sock:
        process = start(tmp_path, demo_tracks[0], sock.getsockname()[1], "8s", "--speed", "4")
        _, err = process.communicate(timeout=60)
        got = receive_until(sock, "never", 1.5)
    assert process.returncode == 0, err.decode()
    assert got.count("/house 1") == 1, got  # the class's own; the guardian was told `done`
    assert not guardians(tmp_path / "state")
    assert b"guardian" not in err


def sigterm_to_both_while_showctl_is_stopped(sock: socket.socket, process: subprocess.Popen[bytes],
                                             state: Path) -> int:
    """Once the class runs: showctl stopped (a busy laptop), SIGTERM to it (taken once it runs again) and to
    its guardian, which must not go; the guardian's pid."""
    assert "/scene/dark 1" in receive_until(sock, "/scene/dark 1", 30), "the class never started"
    (guardian,) = guardians(state)
    process.send_signal(signal.SIGSTOP)
    process.send_signal(signal.SIGTERM)
    os.kill(guardian, signal.SIGTERM)
    time.sleep(0.3)  # a guardian that took the signal is gone by now
    return guardian


@pytest.mark.slow
def test_sigterm_to_showctl_and_its_guardian_together_sends_the_safe_scene_once(tmp_path: Path,
                                                                               demo_tracks: list[Path]) -> None:
    """`pkill -f showctl` or a service stop: SIGTERM to both at once. showctl answers with its own safe scene
    and `done`; the guardian must still be there until then (showctl is stopped for a moment here, as on a
    busy laptop, so the guardian meets the signal first) and must not send the safe scene a second time."""
    with console() as sock:
        process = start(tmp_path, demo_tracks[0], sock.getsockname()[1], '"1:00"')
        try:
            guardian = sigterm_to_both_while_showctl_is_stopped(sock, process, tmp_path / "state")
            guardian_stayed = alive(guardian)
            process.send_signal(signal.SIGCONT)
            _, err = process.communicate(timeout=30)
            after = receive_until(sock, "never", 1.5)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert guardian_stayed, "SIGTERM took the guardian down"
    said = err.decode()
    assert process.returncode == 143 and "showctl: terminated" in said and "guardian" not in said, said
    assert after.count("/house 1") == 1 and after[-2:] == ["/house 1", "/blackout 0"], after  # showctl's own
    assert not guardians(tmp_path / "state")
    assert not (tmp_path / "state" / "showctl" / "guardian.log").exists()


@pytest.mark.slow
def test_sigterm_to_both_then_kill_9_of_showctl_still_sends_the_safe_scene_once(tmp_path: Path,
                                                                               demo_tracks: list[Path]) -> None:
    """showctl hangs (stopped here) and never answers the SIGTERM both got; the tech then kills it with
    SIGKILL: the guardian, still there, sends the safe scene."""
    with console() as sock:
        process = start(tmp_path, demo_tracks[0], sock.getsockname()[1], '"1:00"')
        try:
            sigterm_to_both_while_showctl_is_stopped(sock, process, tmp_path / "state")
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            after = receive_until(sock, "/blackout 0", 10)
            after += receive_until(sock, "never", 1)
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
    assert after == ["/house 1", "/blackout 0"], after
    deadline = time.monotonic() + 10
    while guardians(tmp_path / "state") and time.monotonic() < deadline:
        time.sleep(0.05)  # it exits once it has sent and logged
    assert not guardians(tmp_path / "state")
    assert "sent the safe scene to rig 'Guarded rig'" in (tmp_path / "state" / "showctl" / "guardian.log").read_text()


# -- the guardian alone, on a real UDP console and a real JACK MIDI port ---------------------------------------

SAFE = ["/showctl/house 1", "/showctl/strobe 0"]


class Console:
    """A UDP OSC receiver standing in for the lighting console: every message it got, as text."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.port: int = self.socket.getsockname()[1]
        self.got: list[str] = []
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closing.is_set():
            try:
                data = self.socket.recv(65536)
            except TimeoutError:
                continue
            decoded = OscMessage(data)
            self.got.append(" ".join([decoded.address, *(str(a) for a in decoded.params)]))

    def close(self) -> None:
        self._closing.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def udp_console() -> Iterator[Console]:
    receiver = Console()
    yield receiver
    receiver.close()


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's state folder (where guardian.log goes), private to this test."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def rig_for(port: int) -> Rig:
    return Rig(name="Guarded rig", outputs={"console": OscOutputConfig(transport="osc", port=port)},
               safe_scene={"console": tuple(OscMessageOut.parse(m) for m in SAFE)})


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def started(rig: Rig) -> Guardian:
    guardian = start_guardian(rig)
    assert guardian is not None
    return guardian


def test_a_pipe_closed_without_done_sends_the_safe_scene_and_names_the_outputs(udp_console: Console,
                                                                              state_dir: Path) -> None:
    guardian = started(rig_for(udp_console.port))
    assert guardian.process.stdin is not None
    time.sleep(0.3)
    assert udp_console.got == []  # watching: nothing is sent while the class runs
    guardian.process.stdin.close()  # what the kernel does when showctl dies: the end of the pipe, no "done"
    wait_for(lambda: udp_console.got == SAFE, "the safe scene at the console")
    assert guardian.process.wait(10) == 0
    logged = (state_dir / "showctl" / "guardian.log").read_text()
    assert "sent the safe scene to rig 'Guarded rig' (console)" in logged and logged.count("\n") == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_sigterm_or_ctrl_c_leaves_the_guardian_watching(udp_console: Console, state_dir: Path,
                                                        sig: signal.Signals) -> None:
    """A stop sent to every process (`pkill`, systemd, Ctrl-C) must not take the guardian down: showctl may
    still fail to answer it with its own safe scene."""
    guardian = started(rig_for(udp_console.port))
    assert guardian.process.stdin is not None
    # Once it has set its signals aside (the first thing it does, after Python's start-up): /proc tells.
    wait_for(lambda: int(_status(guardian.process.pid)["SigIgn"], 16) & (1 << (sig - 1)), "the signal ignored")
    guardian.process.send_signal(sig)
    time.sleep(0.3)  # a guardian that took the signal would be gone by now
    assert guardian.process.poll() is None
    guardian.process.stdin.close()
    wait_for(lambda: udp_console.got == SAFE, "the safe scene at the console")


@pytest.mark.rig
def test_midi_clocks_get_stop_before_the_safe_scene(jack: JackServer, state_dir: Path) -> None:
    """A real JACK MIDI port (the simulated rig's, listening in this process): the guardian stops the clock
    a console may be following, then sends the safe scene, to every output."""
    rig = Rig(name="Clocked rig", outputs={
        "console": OscOutputConfig(transport="osc", port=9000),
        "desk": MidiOutputConfig(transport="midi", port="unused", clock=True)},
        safe_scene={"console": (OscMessageOut.parse("/showctl/house 1"),),
                    "desk": (MidiMessage.parse("control_change channel=0 control=7 value=127"),)})
    with SimulatedRig(rig) as sim:
        guardian = started(sim.rig_for_outputs)
        assert guardian.process.stdin is not None
        guardian.process.stdin.close()
        assert sim.wait_for({"console": 1, "desk": 2}, timeout=15)
        assert guardian.process.wait(10) == 0
    assert [r.message for r in sim.received if r.output == "desk"] == [
        "stop", "control_change channel=0 control=7 value=127 time=0"]
    assert [r.message for r in sim.received if r.output == "console"] == ["/showctl/house 1"]


def test_an_output_that_cannot_be_reached_is_named_and_the_others_get_theirs(udp_console: Console,
                                                                            state_dir: Path) -> None:
    rig = rig_for(udp_console.port)
    desk = MidiOutputConfig(transport="midi", port="nobody:in", api="jack")
    rig = rig.model_copy(update={"outputs": {"desk": desk, **rig.outputs},
                                 "safe_scene": {"desk": (MidiMessage.parse("stop"),), **rig.safe_scene}})
    guardian = started(rig)
    assert guardian.process.stdin is not None
    guardian.process.stdin.close()
    wait_for(lambda: udp_console.got == SAFE, "the safe scene at the console")
    assert guardian.process.wait(10) == 1
    logged = (state_dir / "showctl" / "guardian.log").read_text()
    assert "sent the safe scene to rig 'Guarded rig' (console); output 'desk' (MIDI " in logged, logged


def test_an_output_that_fails_in_an_unforeseen_way_still_leaves_the_others_their_safe_scene(
        udp_console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only a DeviceError: whatever one output raises, the guardian goes on to the next. (The failure is
    injected: no real component was found that raises anything else; the console is a real UDP socket.)"""
    import showctl.outputs
    from showctl.player.guardian import send_safe_scene

    real_open = showctl.outputs.open_output

    def open_output(name: str, rig: Rig) -> object:
        if name == "broken":
            raise RuntimeError("a driver's surprise")
        return real_open(name, rig)

    monkeypatch.setattr(showctl.outputs, "open_output", open_output)
    rig = rig_for(udp_console.port)
    rig = rig.model_copy(update={"outputs": {"broken": OscOutputConfig(transport="osc", port=9), **rig.outputs}})
    assert send_safe_scene(rig) == {"broken": "output 'broken': RuntimeError: a driver's surprise"}
    wait_for(lambda: udp_console.got == SAFE, "the safe scene at the console")


FORKING_PARENT = """
import os, sys, time
from showctl.messages import OscMessage
from showctl.player.guardian import start_guardian
from showctl.rig import OscOutputConfig, Rig
port = int(sys.argv[1])
rig = Rig(name="Guarded rig", outputs={"console": OscOutputConfig(transport="osc", port=port)},
          safe_scene={"console": (OscMessage.parse("/showctl/house 1"), OscMessage.parse("/showctl/strobe 0"))})
guardian = start_guardian(rig)
child = os.fork()
if child == 0:  # a worker forked during the class: it holds the guardian's pipe too
    time.sleep(60)
    os._exit(0)
print(guardian.process.pid, child, flush=True)
if sys.argv[2:] == ["done"]:  # a clean end: the safe scene sent, the guardian told
    started = time.monotonic()
    guardian.done()
    print(guardian.process.returncode, f"{time.monotonic() - started:.2f}", flush=True)
time.sleep(60)
"""


def test_a_killed_showctl_is_noticed_while_a_forked_child_holds_the_pipe(udp_console: Console,
                                                                         state_dir: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", FORKING_PARENT, str(udp_console.port)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert parent.stdout is not None
    guardian_pid, child = (int(n) for n in parent.stdout.readline().split())
    parent.stdout.close()  # the forked child holds it open: never wait for its end
    try:
        parent.kill()
        parent.wait(10)
        wait_for(lambda: udp_console.got == SAFE, f"the safe scene while the forked child lives ({udp_console.got})",
                 timeout=10)
    finally:
        os.kill(child, signal.SIGKILL)  # ours: the fork the script above made
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    wait_for(lambda: not Path(f"/proc/{guardian_pid}").exists()
             or "zombie" in Path(f"/proc/{guardian_pid}/status").read_text(), "the guardian gone")


def test_a_clean_end_while_a_forked_child_holds_the_pipe_is_quick_and_quiet(udp_console: Console,
                                                                           state_dir: Path) -> None:
    """`done` is enough: the guardian leaves at once, without waiting for an end of the pipe the forked child
    holds back (showctl would wait for it, then kill it)."""
    parent = subprocess.Popen([sys.executable, "-c", FORKING_PARENT, str(udp_console.port), "done"], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert parent.stdout is not None
    _, child = (int(n) for n in parent.stdout.readline().split())
    try:
        status, took = parent.stdout.readline().split()
    finally:
        os.kill(child, signal.SIGKILL)  # ours: the fork the script made
        parent.kill()
        parent.wait()
        parent.stdout.close()
    assert (status, float(took) < 2) == ("0", True), f"exit status {status} after {took} s"
    time.sleep(0.3)  # a safe scene sent by mistake would have arrived by now
    assert udp_console.got == []
    assert not (state_dir / "showctl" / "guardian.log").exists()


def test_a_signal_right_after_the_start_finds_the_guardian_watching(udp_console: Console, state_dir: Path) -> None:
    """`start_guardian` returns once the guardian has set SIGTERM and SIGINT aside: a stop sent to every process
    a moment after the class started (while the guardian's Python was still starting) must not take it down."""
    guardian = started(rig_for(udp_console.port))
    assert guardian.process.stdin is not None
    guardian.process.send_signal(signal.SIGTERM)
    guardian.process.send_signal(signal.SIGINT)
    time.sleep(0.3)  # a guardian that took a signal would be gone by now
    try:
        assert guardian.process.poll() is None, f"a signal took the guardian down ({guardian.process.returncode})"
        guardian.process.stdin.close()
        wait_for(lambda: udp_console.got == SAFE, "the safe scene at the console")
        assert guardian.process.wait(10) == 0
    finally:
        if guardian.process.poll() is None:
            guardian.process.kill()
            guardian.process.wait()


def test_a_guardian_that_does_not_start_is_one_warning_and_no_guardian(monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A guardian that exits at once (here the interpreter is `false`; in a studio, a broken install) is not
    taken for one: the class is told it runs unguarded."""
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(sys, "executable", false)
    assert start_guardian(rig_for(9)) is None
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "no guardian for the safe scene after a hard crash: it exited with status 1"]


def test_the_guardian_runs_this_showctl_whatever_the_working_folder(udp_console: Console, state_dir: Path,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """showctl started from a folder that holds another `showctl` package (a checkout of another version):
    the guardian still runs the showctl that started it, not the one `python -m` would find first there."""
    (tmp_path / "showctl").mkdir()
    (tmp_path / "showctl" / "__init__.py").write_text('raise ImportError("another showctl")\n')
    monkeypatch.chdir(tmp_path)
    guardian = started(rig_for(udp_console.port))
    assert guardian.process.stdin is not None
    guardian.process.stdin.close()
    wait_for(lambda: udp_console.got == SAFE, "the safe scene at the console")
    assert guardian.process.wait(10) == 0
