"""Shared fixtures: real rig parts (jackd), the demo and library tracks, an isolated analysis cache.

Tests that need a real component skip locally with the reason when it is missing, and fail instead
when SHOWCTL_REQUIRE_RIG=1 (CI), so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from showctl.demo.tracks import ensure_demo_tracks
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
