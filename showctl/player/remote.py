"""The instructor's controls over OSC (`/showctl/next`, `/showctl/blackout` …): a tablet or a console button
reaches the same `Controller` as the keyboard and the class screen."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from showctl.player.controls import CONTROLS, Controller

__all__ = ["osc_remote"]


@contextmanager
def osc_remote(controller: Controller, host: str, port: int) -> Iterator[Any]:
    """The same controls over OSC (`/showctl/next`, `/showctl/blackout` …), for a tablet or a console button."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer

    dispatcher = Dispatcher()
    for name in CONTROLS:
        dispatcher.map(f"/showctl/{name}", lambda _address, *_args, name=name: controller.press(name))
    try:
        server = BlockingOSCUDPServer((host, port), dispatcher)
    except OSError as err:
        from showctl.errors import DeviceError

        raise DeviceError(f"OSC remote {host}:{port}", f"cannot listen ({err.strerror})") from None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="osc-remote",
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
