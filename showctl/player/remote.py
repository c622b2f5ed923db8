"""The instructor's controls over OSC (`/showctl/next`, `/showctl/blackout` …, or for a live class
`/showctl/tap`, `/showctl/one` …): a tablet or a console button reaches the same controller as the keyboard
and the class screen."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from showctl.player.controls import CONTROLS

__all__ = ["Pressable", "osc_remote"]


class Pressable(Protocol):
    """A controller the remote can press: `Controller` (a class on its playlist) or `LiveController`."""

    def press(self, name: Any) -> str: ...


@contextmanager
def osc_remote(controller: Pressable, host: str, port: int, controls: Sequence[str] | None = None) -> Iterator[Any]:
    """The same controls over OSC (`/showctl/NAME`), for a tablet or a console button. `controls`: the names
    to answer (default: the controller's `controls`, else those of `Controller`)."""
    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer

    names = tuple(controls if controls is not None else getattr(controller, "controls", CONTROLS))
    dispatcher = Dispatcher()
    for name in names:
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
