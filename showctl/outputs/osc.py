"""OSC over UDP (python-osc).

The socket is connected to the receiver, so on the same machine (and wherever ICMP comes back) a
receiver that went away shows up as an error on the next send, or in `check()`, instead of silence.
"""

from __future__ import annotations

import os
import socket

from pythonosc.osc_message_builder import OscMessageBuilder

from showctl.errors import DeviceError
from showctl.messages import OscMessage, OutMessage
from showctl.outputs.base import udp_socket_for
from showctl.rig import OscOutputConfig
from showctl.rig.model import device_label

__all__ = ["OscOutput", "encode_osc"]


def encode_osc(message: OscMessage) -> bytes:
    """The datagram for `message`: ints as int32, floats as float32, strings as strings."""
    builder = OscMessageBuilder(address=message.address)
    for arg in message.args:
        builder.add_arg(arg)
    return bytes(builder.build().dgram)


class OscOutput:
    def __init__(self, name: str, config: OscOutputConfig) -> None:
        self.name = name
        self.latency = config.latency_ms / 1000.0
        self.device = device_label(name, config)
        self._socket, address = udp_socket_for(self.device, config.host, config.port)
        try:
            self._socket.connect(address)
        except OSError as err:
            self._socket.close()
            raise DeviceError(self.device, f"cannot reach ({err.strerror or err})") from None

    def send(self, message: OutMessage) -> None:
        if not isinstance(message, OscMessage):
            raise TypeError(f"{self.device} cannot send MIDI message {message}")
        self.send_bytes(encode_osc(message))

    def send_bytes(self, datagram: bytes) -> None:
        try:
            self._socket.send(datagram)
        except OSError as err:
            raise DeviceError(self.device, f"send failed ({err.strerror or err})") from None

    def check(self) -> None:
        """Raise DeviceError when the receiver reported it is not there (ICMP port unreachable)."""
        code = self._socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise DeviceError(self.device, f"not reachable ({os.strerror(code)})")

    def close(self) -> None:
        self._socket.close()
