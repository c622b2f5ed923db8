"""A real QLC+ 4.12 console, headless: started on a workspace, read back over its web API websocket.

Tests and benches only (needs `qlcplus` from Debian and, for reading back, PyPI `websocket-client`).
QLC+'s web server has no authentication and it opens UDP *:3330: fine on a test machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from showctl.errors import DeviceError
from showctl.sim.process import stop_process

__all__ = ["QlcPlus", "free_tcp_port"]


def free_tcp_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class QlcPlus:
    """Context manager: `qlcplus --web --operate` on `workspace`, stopped by its pid (waits for the exit:
    a second instance could otherwise share the OSC port with the one still shutting down)."""

    def __init__(self, workspace: Path, web_port: int | None = None, start_timeout: float = 15.0) -> None:
        self.workspace = workspace
        self.web_port = web_port or free_tcp_port()
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._runtime: tempfile.TemporaryDirectory[str] | None = None
        self._ws: Any = None

    def __enter__(self) -> QlcPlus:
        binary = shutil.which("qlcplus")
        if binary is None:
            raise DeviceError("qlcplus", "not installed (apt-get install qlcplus)")
        self._runtime = tempfile.TemporaryDirectory(prefix="showctl-qlc-")
        os.chmod(self._runtime.name, 0o700)
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": self._runtime.name,
               "HOME": self._runtime.name}  # QLC+ writes its settings under $HOME: keep the user's untouched
        self.process = subprocess.Popen(
            [binary, "--web", "--web-port", str(self.web_port), "--operate", "--nowm", "--nogui",
             "--open", str(self.workspace)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                last = err.strip().splitlines()[-1] if err.strip() else f"exit code {self.process.returncode}"
                self.stop()
                raise DeviceError("qlcplus", f"did not start: {last}")
            try:
                self._connect()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise DeviceError("qlcplus", f"web API did not answer on port {self.web_port} "
                                                 f"within {self.start_timeout:g} s") from None
                time.sleep(0.05)  # polling a child's start-up, not scheduling events

    def _connect(self) -> None:
        import websocket  # dev extra: only the tests talk to QLC+'s web API

        try:
            self._ws = websocket.create_connection(f"ws://127.0.0.1:{self.web_port}/qlcplusWS", timeout=5)
        except websocket.WebSocketException as err:
            raise OSError(str(err)) from None

    def call(self, *parts: str | int) -> list[str]:
        """`QLC+API|name|args...` → the reply's fields after the API name."""
        request = "|".join(["QLC+API", *map(str, parts)])
        self._ws.send(request)
        while True:
            reply = str(self._ws.recv())
            fields = reply.split("|")
            # QLC+ also pushes widget changes unasked: keep reading until the answer to this call.
            if fields[:2] == ["QLC+API", str(parts[0])]:
                return fields[2:]

    def channels(self, universe: int, first: int, count: int) -> list[int]:
        """DMX values of `count` channels from `first` (both 1-based, as QLC+'s API counts)."""
        fields = self.call("getChannelsValues", universe, first, count)
        return [int(fields[i + 1]) for i in range(0, len(fields) - 2, 3)]

    def function_status(self, function_id: int) -> str:
        return self.call("getFunctionStatus", function_id)[0]

    def widget_status(self, widget_id: int) -> str:
        return self.call("getWidgetStatus", widget_id)[0]

    def wait_until(self, check: Any, timeout: float = 2.0) -> Any:
        """Poll `check()` until it returns something truthy (QLC+ applies input on its 50 Hz tick)."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.01)  # polling QLC+ for a state change, not scheduling events

    def stop(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        stop_process(self.process, timeout=10)
        self.process = None
        if self._runtime is not None:
            self._runtime.cleanup()
            self._runtime = None

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
