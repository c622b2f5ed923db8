"""An output that survives its device going away: reconnect in the background, never burst stale messages.

`ResilientOutput` wraps a real output (opened by a function, so it can open it again):
- while the device is down, `send` drops the message (raises DeviceError, so the player counts it) and
  only remembers it as the wanted state; nothing is queued to burst out later;
- a background thread reopens it with backoff (0.05 s doubling to `max_backoff`), probes it by re-sending
  the current state (last value per OSC address / MIDI program and controller per channel) and, when the
  device took it, marks it up and reports one line;
- while up, it checks the device between messages (a JACK port that vanished, an ICMP "port unreachable");
- `panic(messages)` sends the safe scene ahead of anything queued and drops what was queued.

Messages go out on the caller's thread when nothing is queued (no hand-off: the player's timing stands);
with `min_gap` set (a console that loses bursts) they are paced from a queue by the background thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from showctl.errors import DeviceError
from showctl.messages import DmxMessage, OscMessage, OutMessage
from showctl.outputs.base import Output
from showctl.rig.profiles import TRANSPORT_TYPES

if TYPE_CHECKING:
    from showctl.rig import Rig

__all__ = ["Checkable", "LookAware", "ResilientOutput", "open_resilient_output", "state_key"]

log = logging.getLogger("showctl.outputs")


@runtime_checkable
class Checkable(Protocol):
    def check(self) -> None:
        """Raise DeviceError when the device is known to be gone."""
        ...


@runtime_checkable
class LookAware(Protocol):
    """An output that asks its player for the look it should show (`look()`) when it comes back."""

    look: Callable[[], Sequence[OutMessage]] | None


def state_key(message: OutMessage) -> tuple[str, ...] | None:
    """What a message sets on the receiver (its state), or None when it is momentary (notes, clock)."""
    if isinstance(message, OscMessage):
        return ("osc", message.address)
    if isinstance(message, DmxMessage):  # a flash falls back by itself: momentary
        return None if message.flash else ("dmx", message.target, *sorted(message.attributes))
    if message.type in TRANSPORT_TYPES or message.type in ("note_on", "note_off", "sysex"):
        return None
    msg = message.to_mido()
    if message.type == "control_change":
        return ("cc", str(msg.channel), str(msg.control))
    return (message.type, str(getattr(msg, "channel", "")))


class ResilientOutput:
    """An Output that reconnects by itself. `opener()` opens the real output (raises DeviceError)."""

    def __init__(
        self,
        name: str,
        device: str,
        opener: Callable[[], Output],
        *,
        latency: float = 0.0,
        min_gap: float = 0.0,
        max_backoff: float = 2.0,
        check_interval: float = 0.2,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.name, self.device, self.latency = name, device, latency
        self.min_gap, self.max_backoff, self.check_interval = min_gap, max_backoff, check_interval
        self.on_status = on_status or log.info
        self._opener = opener
        self._cv = threading.Condition()
        self._io = threading.Lock()  # every call into the real output holds this
        self._queue: deque[OutMessage] = deque()
        self._urgent: deque[OutMessage] = deque()
        self._state: dict[tuple[str, ...], OutMessage] = {}
        # The player's look for this output now (set by Player): a reconnect sends that, not every OSC address
        # ever set (`/scene/warm 1`, `/scene/run 1` … would all light up again).
        self.look: Callable[[], Sequence[OutMessage]] | None = None
        self._resent = 0
        self._version = 0
        self._closed = False
        self._down_reason: str | None = None
        self.reconnects = 0
        self.dropped = 0
        self._out: Output | None = None
        try:
            self._out = opener()
        except DeviceError as err:
            self._down_reason = err.reason
            self.on_status(f"{err}; retrying in the background")
        self._thread = threading.Thread(target=self._run, name=f"output-{name}", daemon=True)
        self._thread.start()

    @property
    def up(self) -> bool:
        return self._out is not None

    # -- the player's side ------------------------------------------------------------------------------
    def send(self, message: OutMessage) -> None:
        with self._cv:
            key = state_key(message)
            if key is not None:
                self._state.pop(key, None)  # re-insert: the state keeps the order things last changed in
                self._state[key] = message
                self._version += 1
            out = self._out
            if out is None:
                self.dropped += 1
                # The reason comes first: when the background check noticed the fault before any send, this is
                # the first (and only) line the instructor sees about it.
                if self._closed:
                    raise DeviceError(self.device, "closed; message dropped")
                raise DeviceError(self.device, f"{self._down_reason or 'down'}; reconnecting in the background, "
                                               "message dropped")
            if self.min_gap > 0 or self._queue or self._urgent:
                self._queue.append(message)
                self._cv.notify_all()
                return
        with self._io:
            try:
                out.send(message)
            except DeviceError as err:
                self._went_down(out, err)
                raise

    def panic(self, messages: Sequence[OutMessage]) -> None:
        """Send `messages` (the safe scene) before anything queued; what was queued is dropped."""
        with self._cv:
            self.dropped += len(self._queue)
            self._queue.clear()
            for message in messages:
                key = state_key(message)
                if key is not None:
                    self._state.pop(key, None)
                    self._state[key] = message
            self._urgent.extend(messages)
            self._cv.notify_all()
        if self.min_gap == 0:
            self._drain_urgent()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join(timeout=5)
        with self._io, self._cv:
            if self._out is not None:
                self._out.close()
                self._out = None

    # -- background --------------------------------------------------------------------------------------
    def _went_down(self, out: Output, err: DeviceError) -> None:
        with self._cv:
            if self._out is not out:
                return  # someone already noticed
            self._out = None
            self._down_reason = err.reason
            self._cv.notify_all()
        try:
            out.close()
        except Exception:  # the device is gone: closing it may fail too, and nothing depends on it
            log.debug("closing %s failed", self.device, exc_info=True)

    def _drain_urgent(self) -> None:
        while True:
            with self._cv:
                if not self._urgent or self._out is None:
                    return
                message, out = self._urgent.popleft(), self._out
            with self._io:
                try:
                    out.send(message)
                except DeviceError as err:
                    self._went_down(out, err)
                    return

    def _run(self) -> None:
        backoff = 0.05
        attempts = 0
        last_sent = 0.0
        while True:
            with self._cv:
                if self._closed:
                    return
                out = self._out
            if out is None:
                attempts += 1
                if self._reconnect():
                    self.on_status(f"{self.device}: reconnected after {attempts} attempt(s); "
                                   f"re-sent its current state ({self._resent} message(s))")
                    backoff, attempts = 0.05, 0
                    continue
                with self._cv:
                    self._cv.wait_for(lambda: self._closed, timeout=backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            self._drain_urgent()
            with self._cv:
                message = self._queue.popleft() if self._queue else None
            if message is not None:
                wait = last_sent + self.min_gap - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # pacing a slow console: a gap, not a schedule
                with self._io:
                    try:
                        out.send(message)
                        last_sent = time.monotonic()
                    except DeviceError as err:
                        self._went_down(out, err)
                continue
            def woken(current: Output = out) -> bool:
                return self._closed or bool(self._queue) or bool(self._urgent) or self._out is not current

            with self._cv:
                self._cv.wait_for(woken, timeout=self.check_interval)
                idle = not (self._queue or self._urgent or self._closed) and self._out is out
            if idle and isinstance(out, Checkable):
                with self._io:
                    try:
                        out.check()
                    except DeviceError as err:
                        self._went_down(out, err)

    def _wanted(self) -> list[OutMessage]:
        """The state to re-send (holding `_cv`): what was last sent to each control, but of the OSC addresses
        only those the player's look sets now (when it says): `/scene/warm 1` sent an hour ago is not part
        of the look any more. Values come from what was sent, not from the look: the player may be about to
        send the look's newest message itself, and it must not arrive twice."""
        if self.look is None:
            return list(self._state.values())
        in_look = {state_key(m) for m in self.look()}
        return [m for key, m in self._state.items() if key[0] != "osc" or key in in_look]

    def _reconnect(self) -> bool:
        """Open, send the current state, and call it up only if the device took it (and nothing changed)."""
        try:
            out = self._opener()
        except DeviceError:
            return False
        for _ in range(3):
            with self._cv:
                version, state = self._version, self._wanted()
            self._resent = len(state)
            try:
                with self._io:
                    for message in state:
                        out.send(message)
                time.sleep(0.02)  # let an ICMP "port unreachable" come back before asking
                if isinstance(out, Checkable):
                    with self._io:
                        out.check()
            except DeviceError:
                out.close()
                return False
            with self._cv:
                if version == self._version and not self._closed:
                    self._out = out
                    self._down_reason = None
                    self.reconnects += 1
                    self._queue.clear()  # anything queued before the fault is stale: the state covers it
                    self._cv.notify_all()
                    return True
        out.close()
        return False


def open_resilient_output(name: str, config: object, *, on_status: Callable[[str], None] | None = None,
                          rig: Rig | None = None, class_time: Callable[[], float] = time.monotonic,
                          **options: float) -> ResilientOutput:
    """`ResilientOutput` for one rig output config (OSC, MIDI, or DMX: that needs the `rig` for its patch;
    its fades run on `class_time`)."""
    from showctl.outputs.midi import MidiOutput
    from showctl.outputs.osc import OscOutput
    from showctl.rig import DmxOutputConfig, MidiOutputConfig, OscOutputConfig
    from showctl.rig.model import device_label

    if isinstance(config, DmxOutputConfig):
        if rig is None or rig.outputs.get(name) != config:
            raise TypeError(f"a DMX output needs the rig it is patched in: open_resilient_output({name!r}, config, "
                            "rig=rig)")
        from showctl.outputs.dmx import open_dmx_output

        dmx_rig = rig

        def open_dmx() -> Output:
            return open_dmx_output(name, dmx_rig, class_time)

        opener: Callable[[], Output] = open_dmx
    elif isinstance(config, OscOutputConfig):
        osc_config = config

        def open_osc() -> Output:
            return OscOutput(name, osc_config)

        opener = open_osc
    elif isinstance(config, MidiOutputConfig):
        midi_config = config

        def open_midi() -> Output:
            return MidiOutput(name, midi_config)

        opener = open_midi
    else:
        raise TypeError(f"not an output config: {config!r}")
    return ResilientOutput(name, device_label(name, config), opener, latency=config.latency_ms / 1000.0,
                           on_status=on_status, **options)
