"""OSC over UDP (python-osc)."""

from __future__ import annotations

import socket

from pythonosc.osc_message_builder import OscMessageBuilder

from showctl.errors import DeviceError
from showctl.messages import OscMessage, OutMessage
from showctl.outputs.rig import OscOutputConfig

__all__ = ["OscOutput"]


class OscOutput:
    def __init__(self, name: str, config: OscOutputConfig) -> None:
        self.name = name
        self.latency = config.latency_ms / 1000.0
        self.device = f"output '{name}' (OSC {config.host}:{config.port})"
        try:
            info = socket.getaddrinfo(config.host, config.port, type=socket.SOCK_DGRAM)[0]
        except socket.gaierror as err:
            raise DeviceError(self.device, f"cannot resolve host ({err.strerror})") from None
        self._address = info[4]
        self._socket = socket.socket(info[0], socket.SOCK_DGRAM)

    def send(self, message: OutMessage) -> None:
        if not isinstance(message, OscMessage):
            raise TypeError(f"{self.device} cannot send MIDI message {message}")
        builder = OscMessageBuilder(address=message.address)
        for arg in message.args:
            builder.add_arg(arg)
        try:
            self._socket.sendto(builder.build().dgram, self._address)
        except OSError as err:
            raise DeviceError(self.device, f"send failed ({err.strerror or err})") from None

    def close(self) -> None:
        self._socket.close()
