"""Shared fixtures: real rig parts (jackd), the demo and library tracks, an isolated analysis cache.

Tests that need a real component skip locally with the reason when it is missing, and fail instead
when SHOWCTL_REQUIRE_RIG=1 (CI), so CI can never pass by skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from showctl.demo.tracks import ensure_demo_tracks
from showctl.errors import DeviceError
from showctl.sim import JackServer

REPO = Path(__file__).resolve().parent.parent
REQUIRE_RIG = os.environ.get("SHOWCTL_REQUIRE_RIG") == "1"


def pytest_configure(config: pytest.Config) -> None:
    # The tests send Ctrl-C (SIGINT) to the showctl they start. A shell without job control starts its
    # background jobs with SIGINT ignored, and an ignored signal stays ignored in every child: `make test &`
    # from a script would then fail each of those tests with a timeout. The children get the default back.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run_showctl(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`showctl ARGS...` in a child process, as a user runs it (wide columns: rich does not wrap lines)."""
    return subprocess.run([sys.executable, "-m", "showctl.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"}, check=False)


def wait_for(check: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """Poll `check` until it is true; fail the test naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.01)  # polling another thread's or process's state


def require_binary(binary: str, why: str) -> None:
    if shutil.which(binary) is not None:
        return
    if REQUIRE_RIG:
        pytest.fail(f"{binary} is not installed but SHOWCTL_REQUIRE_RIG=1 requires it ({why})")
    pytest.skip(f"{binary} is not installed ({why}); CI installs it")


@pytest.fixture(scope="session", autouse=True)
def _analysis_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test session analyses into its own cache: nothing leaks in from a developer's cache."""
    cache = tmp_path_factory.mktemp("analysis-cache")
    previous = os.environ.get("SHOWCTL_CACHE_DIR")
    os.environ["SHOWCTL_CACHE_DIR"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("SHOWCTL_CACHE_DIR", None)
    else:
        os.environ["SHOWCTL_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def demo_tracks() -> list[Path]:
    """The synthesized demo tracks where cues/demo.yaml expects them (written once, when missing)."""
    return ensure_demo_tracks(REPO / "tracks" / "demo")


@pytest.fixture(scope="session")
def library_tracks() -> list[Path]:
    """The synthesized studio library the example classes play (tracks/library/, written once, when missing)."""
    from showctl.demo.library import ensure_library_tracks

    return ensure_library_tracks(REPO / "tracks" / "library")


@pytest.fixture(scope="session")
def jack() -> Iterator[JackServer]:
    """A JACK server (dummy driver, no sound card needed) for real MIDI ports."""
    require_binary("jackd", "real JACK MIDI ports")
    # A private, named server: test sessions side by side (and a studio's own JACK) never share ports.
    with JackServer(name=f"showctl-test-{os.getpid()}") as server:
        yield server


# --- scenarios in a child process, with a JACK server of their own ---------------------------------------


@contextmanager
def own_jackd(tmp: str, prefix: str) -> Iterator[JackServer]:
    """A private JACK server `prefix`<pid> for a scenario in a child process, its pid and prefix noted in `tmp` for
    `run_child` (jackd leaves the child's process group: a hung or crashed child's jackd would live on, and the
    semaphores of clients the child abandoned stay in /dev/shm). Started again under the same name, the newest pid
    is noted."""
    (Path(tmp) / "jackd.prefix").write_text(prefix)
    with JackServer(name=f"{prefix}{os.getpid()}") as server:
        assert server.process is not None
        (Path(tmp) / "jackd.pid").write_text(str(server.process.pid))
        yield server


def stop_pid(pid: int) -> None:
    """SIGTERM `pid` (SIGTERM frees a jackd's slot in JACK's registry of servers), SIGKILL it after 5 s; one
    already gone is fine (the scenario stopped its jackd itself, or it died)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5.0
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # polling another process's exit (not our child: no wait)
    if Path(f"/proc/{pid}").exists():
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


_JACK_CHATTER = ("Cannot connect to server", "jack server is not running", "JackShmReadWritePtr")


def run_child(module: str, scenario: str, tmp_path: Path, timeout: float, hang: str) -> dict[str, Any]:
    """Run `scenario(str(tmp_path))`, a function of the test module `module`, in a child process (a hang may hold
    the GIL: only a parent can see it); fail naming `hang` should it not end in `timeout` s. The child's jackd
    (`own_jackd`) is stopped and its abandoned clients' semaphores removed, whatever happened. Returns the JSON it
    printed last, with its stderr and pid."""
    code = f"import sys; sys.path.insert(0, 'tests'); import {module} as t; t.{scenario}({str(tmp_path)!r})"
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    jackd, prefix = tmp_path / "jackd.pid", tmp_path / "jackd.prefix"
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        pytest.fail(f"{hang} (no exit within {timeout:.0f} s)")
    finally:
        if jackd.exists():
            stop_pid(int(jackd.read_text()))
        if prefix.exists():
            free_crashed_server(f"{prefix.read_text()}{child.pid}")
            remove_semaphores_left(prefix.read_text())
    # libjack repeats a few lines per attempt while its server is away: what else was said comes first.
    said = "\n".join(line for line in err.splitlines() if not line.startswith(_JACK_CHATTER))
    assert child.returncode == 0, f"exit status {child.returncode}:\n{said[-3000:]}"
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["stderr"], result["pid"] = err, child.pid
    return result


def free_crashed_server(name: str) -> None:
    """A JACK server `name` that a scenario killed (a crash: SIGKILL) keeps its slot in JACK's registry of servers,
    which holds 8: enough such leaks and no jackd starts on this machine. One started again under the same name
    takes the dead one's slot over, and frees it as it stops (SIGTERM)."""
    if Path(f"/dev/shm/jack_{name}_{os.getuid()}_0").exists():  # its socket, left behind
        with suppress(DeviceError), JackServer(name=name):  # the test's own verdict matters more than this
            pass


def remove_semaphores_left(server_prefix: str) -> None:
    """libjack leaves a client's semaphore in /dev/shm when the client is never closed (an abandoned one): remove
    those of the servers named `server_prefix`<pid> whose process has ended."""
    for semaphore in Path("/dev/shm").glob(f"jack_sem.*_{server_prefix}*"):
        pid = semaphore.name.split(server_prefix, 1)[1].split("_", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            semaphore.unlink(missing_ok=True)
