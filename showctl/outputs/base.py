"""The Output protocol every transport implements (mido-style: a small public surface)."""

from __future__ import annotations

import socket
from typing import Any, Protocol, runtime_checkable

from showctl.errors import DeviceError
from showctl.messages import OutMessage

__all__ = ["Output", "udp_socket_for"]


@runtime_checkable
class Output(Protocol):
    """Sends messages to one rig output. `send` raises DeviceError when the device cannot take it."""

    name: str
    latency: float  # seconds; the player sends this much early (negative: late)

    def send(self, message: OutMessage) -> None: ...

    def close(self) -> None: ...


def udp_socket_for(device: str, host: str, port: int) -> tuple[socket.socket, Any]:
    """A UDP socket of the right family for `host` and the address to reach it; one line naming `device`
    when the host does not resolve."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    except socket.gaierror as err:
        raise DeviceError(device, f"cannot resolve host ({err.strerror})") from None
    return socket.socket(info[0], socket.SOCK_DGRAM), info[4]

