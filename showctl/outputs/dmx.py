"""DMX to olad: whole universes at a steady frame rate, over OLA's OSC input or sACN (E1.31), unicast.

`send()` only changes the state (levels per fixture attribute, with fades and flashes); a frame thread
renders every universe and sends it on absolute deadlines (`t0 + n / frame_rate`), so a change goes out in
the next frame, at most one frame period after it was sent, and a fade moves a step every frame. Fades and
flashes run on `class_time` (the class clock in a class: a fade of 2 s takes 0.1 s at --speed 20 and stands
still while the class is paused); frames are paced on the monotonic clock whatever the class does.
`close()` sends the rig's safe frame a few times, one frame apart, so one lost packet cannot leave the room
strobing. Errors from the frame thread (olad gone: ICMP "port unreachable") surface on the next `send()`
and in `check()`, so the player and the resilient wrapper see them like any other output's.
"""

from __future__ import annotations

import math
import os
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple

from showctl.errors import DeviceError
from showctl.messages import DmxMessage, OutMessage
from showctl.outputs.base import udp_socket_for
from showctl.rig import Rig
from showctl.rig.dmx import (
    DmxOutputConfig,
    DmxPatch,
    build_patch,
    patch_problems,
)
from showctl.rig.dmx_levels import DmxState
from showctl.rig.model import device_label

__all__ = [
    "SAFE_REPEATS",
    "DmxOutput",
    "E131Sender",
    "FrameRecord",
    "open_dmx_output",
    "osc_universe_packet",
]

SAFE_REPEATS = 5  # safe frames sent by close(), one frame period apart


class FrameRecord(NamedTuple):
    """One frame sent: when its levels were read (monotonic s), when it left, which state version it carried."""

    rendered: float
    sent: float
    version: int
_PROBE_WAIT = 0.02  # s for an ICMP "port unreachable" to come back after the first frame


def _osc_string(text: str) -> bytes:
    raw = text.encode("ascii")
    return raw + b"\0" * (4 - len(raw) % 4)


def osc_universe_packet(universe: int, data: bytes) -> bytes:
    """OLA's OSC input: `/dmx/universe/N` with one blob argument, one byte a slot from slot 1."""
    return (_osc_string(f"/dmx/universe/{universe}") + _osc_string(",b") + struct.pack(">i", len(data)) + data
            + b"\0" * (-len(data) % 4))


class E131Sender:
    """sACN (ANSI E1.31) data packets: 512 slots, start code 0, a sequence number per universe."""

    def __init__(self, source_name: str, priority: int = 100, cid: bytes | None = None) -> None:
        self.cid = cid if cid is not None else uuid.uuid4().bytes
        self.source = source_name.encode("utf-8")[:63].ljust(64, b"\0")
        self.priority = priority
        self._sequence: dict[int, int] = {}

    def packet(self, universe: int, data: bytes) -> bytes:
        sequence = self._sequence.get(universe, 0)
        self._sequence[universe] = (sequence + 1) % 256
        values = b"\0" + data  # start code 0: dimmer data
        dmp = struct.pack("!HBBHHH", 0x7000 | (10 + len(values)), 0x02, 0xA1, 0, 1, len(values)) + values
        framing = (struct.pack("!HI", 0x7000 | (77 + len(dmp)), 0x00000002) + self.source
                   + struct.pack("!BHBBH", self.priority, 0, sequence, 0, universe) + dmp)
        return (struct.pack("!HH12s", 0x0010, 0x0000, b"ASC-E1.17\0\0\0")
                + struct.pack("!HI", 0x7000 | (22 + len(framing)), 0x00000004) + self.cid + framing)


class DmxOutput:
    """A rig's `transport: dmx` output. `safe` is the rig's safe scene for it: the look before the first
    message and the frame `close()` leaves behind. `class_time` is the clock fades and flashes run on."""

    def __init__(self, name: str, config: DmxOutputConfig, patch: DmxPatch, safe: Sequence[DmxMessage] = (),
                 class_time: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.class_time = class_time
        self.latency = config.latency_ms / 1000.0
        self.device = device_label(name, config)
        self.config = config
        self.period = 1.0 / config.frame_rate
        self.safe = tuple(safe)
        self.frames: deque[FrameRecord] = deque(maxlen=10_000)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        self._error: tuple[float, str] | None = None
        self._e131 = E131Sender(f"showctl {name}", config.priority)
        self._state = DmxState(patch, config.universes)
        for message in self.safe:
            self._state.apply(message, 0.0, instant=True)
        self._socket, address = udp_socket_for(self.device, config.host, config.udp_port)
        try:
            self._socket.connect(address)
            self._send_frame(raise_errors=True)
            time.sleep(_PROBE_WAIT)  # not scheduling: letting an ICMP "port unreachable" come back
            self._raise_pending()
        except OSError as err:
            self._socket.close()
            plugin = "OSC" if config.protocol == "osc" else "E1.31 (sACN)"
            raise DeviceError(self.device, f"not reachable ({err.strerror or err}); olad must be running with its "
                                           f"{plugin} plugin on UDP port {config.udp_port}") from None
        self._thread = threading.Thread(target=self._run, name=f"dmx-{name}", daemon=True)
        self._thread.start()

    # -- the player's side ------------------------------------------------------------------------------
    def send(self, message: OutMessage) -> None:
        if not isinstance(message, DmxMessage):
            raise TypeError(f"{self.device} cannot send {message}: not a DMX message")
        with self._lock:
            try:
                self._state.apply(message, self.class_time())
            except KeyError:
                raise DeviceError(self.device, f"no fixture or group '{message.target}' in the patch") from None
        self.check()

    def check(self) -> None:
        """Raise DeviceError when recent frames did not reach the receiver (ICMP "port unreachable")."""
        error = self._error
        if error is not None and time.monotonic() - error[0] < max(0.25, 4 * self.period):
            raise DeviceError(self.device, f"frames not delivered ({error[1]}); has olad stopped?")

    @property
    def version(self) -> int:
        """The state's version: a frame carrying version ≥ v carries every change sent up to v."""
        with self._lock:
            return self._state.version

    def close(self) -> None:
        """Stop the frames and leave the safe frame, sent SAFE_REPEATS times one frame apart."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(timeout=2)
        with self._lock:
            for message in self.safe:
                self._state.apply(message, 0.0, instant=True)
        start = time.monotonic()
        for i in range(SAFE_REPEATS):
            time.sleep(max(0.0, start + i * self.period - time.monotonic()))
            self._send_frame(raise_errors=False)
        self._socket.close()

    # -- frames -----------------------------------------------------------------------------------------
    def _raise_pending(self) -> None:
        code = self._socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))

    def _send_frame(self, *, raise_errors: bool) -> None:
        now = self.class_time()
        with self._lock:
            rendered = time.monotonic()  # inside the lock: every change applied before it is in this frame
            frames = self._state.render(now)
            version = self._state.version
        try:
            for universe, data in frames.items():
                if self.config.protocol == "osc":
                    self._socket.send(osc_universe_packet(universe, data))
                else:
                    self._socket.send(self._e131.packet(universe, data))
        except OSError as err:
            if raise_errors:
                raise
            self._error = (time.monotonic(), err.strerror or str(err))
            return
        self.frames.append(FrameRecord(rendered, time.monotonic(), version))

    def _run(self) -> None:
        deadline = time.monotonic() + self.period
        while not self._stop.wait(max(0.0, deadline - time.monotonic())):
            now = time.monotonic()
            self._send_frame(raise_errors=False)
            deadline += self.period
            if deadline <= now:  # stalled for more than a frame: skip the missed frames, do not burst them
                deadline += math.ceil((now - deadline) / self.period) * self.period


def open_dmx_output(name: str, rig: Rig, class_time: Callable[[], float] = time.monotonic) -> DmxOutput:
    """The rig's DMX output `name`, its patch and safe scene taken from the rig; fades run on `class_time`."""
    config = rig.outputs[name]
    assert isinstance(config, DmxOutputConfig)
    problems = patch_problems(rig)
    if problems:  # load_rig reports these with locations; a rig built in code gets the first one here
        raise DeviceError(device_label(name, config), f"the rig's DMX patch has problems: {problems[0][2]}")
    safe = tuple(m for m in rig.safe_scene.get(name, ()) if isinstance(m, DmxMessage))
    return DmxOutput(name, config, build_patch(rig), safe, class_time)
