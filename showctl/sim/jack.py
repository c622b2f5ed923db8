"""A JACK server for machines without a sound card: reuse a running one, or start jackd's dummy driver."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import IO

from showctl.errors import DeviceError
from showctl.sim.process import stop_process

__all__ = ["JackServer", "jack_running"]


def _env() -> dict[str, str]:
    # JACK clients must never start a server of their own; JACK_DEFAULT_SERVER (if set) picks the server.
    return {**os.environ, "JACK_NO_START_SERVER": "1"}


def realtime_permitted() -> bool:
    """Whether a process started here may run realtime (SCHED_FIFO) threads: asked of the kernel by trying,
    since root in a container may lack the capability and a user may have an rtprio limit."""
    probe = "import os; os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))"
    try:
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def jack_running() -> bool:
    if shutil.which("jack_lsp") is None:
        return False
    result = subprocess.run(["jack_lsp"], env=_env(), capture_output=True, timeout=10, check=False)
    return result.returncode == 0


class JackServer:
    """Context manager: jackd with the dummy driver (started only when none runs; stopped by its pid).

    `name` starts a private, named server and points this process (and its children) at it through
    JACK_DEFAULT_SERVER, so test sessions running side by side never see each other's ports.
    """

    def __init__(self, rate: int = 48000, period: int = 256, name: str | None = None) -> None:
        self.rate, self.period, self.name = rate, period, name
        self.process: subprocess.Popen[bytes] | None = None
        self._previous: str | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> JackServer:
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        if self.name is not None:
            self._previous = os.environ.get("JACK_DEFAULT_SERVER")
            os.environ["JACK_DEFAULT_SERVER"] = self.name
        if jack_running():
            return self
        jackd = shutil.which("jackd")
        if jackd is None:
            self._restore()
            raise DeviceError("jackd", "not installed; MIDI needs JACK here (apt-get install jackd2)")
        named = ["-n", self.name] if self.name is not None else []
        # Realtime when allowed: JACK then runs its own and its clients' process threads (the simulated rig's
        # MIDI ports among them) ahead of everything else, so a busy machine cannot make a client miss its
        # cycle, which loses that cycle's MIDI ("client was not finished" xruns).
        realtime = ["--realtime"] if realtime_permitted() else ["--no-realtime"]
        # jackd's messages go to a file, not a pipe nobody reads: a long run's xrun lines would fill a pipe
        # and block jackd.
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [jackd, *named, *realtime, "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)],
            stdout=subprocess.DEVNULL, stderr=self._log, env=_env(),
        )
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log.seek(0)
                err = self._log.read().decode(errors="replace")
                last = err.strip().splitlines()[-1] if err.strip() else f"exit code {self.process.returncode}"
                self._restore()
                raise DeviceError("jackd", f"did not start: {last}")
            if jack_running():
                return self
            time.sleep(0.05)  # polling a child process's start-up, not scheduling events
        self.stop()
        raise DeviceError("jackd", "did not answer within 10 s")

    def _restore(self) -> None:
        if self.name is None:
            return
        if self._previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = self._previous

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self._restore()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
