"""The Output protocol every transport implements (mido-style: a small public surface)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from showctl.messages import OutMessage

__all__ = ["Output"]


@runtime_checkable
class Output(Protocol):
    """Sends messages to one rig output. `send` raises DeviceError when the device cannot take it."""

    name: str
    latency: float  # seconds; the player sends this much early (negative: late)

    def send(self, message: OutMessage) -> None: ...

    def close(self) -> None: ...
