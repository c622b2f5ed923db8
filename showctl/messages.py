"""The messages showctl sends, as small typed values shared by cues, timeline, outputs and the sim.

Text forms are a CLI contract (`showctl timeline --json`, `showctl simulate` logs):
OSC is `/address arg1 arg2`, MIDI is mido's `str(msg)` (`note_on channel=0 note=60 velocity=127 time=0`),
and MIDI real-time messages without data are their bare type (`clock`, `start`, `stop`, `continue`).
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

import mido

__all__ = ["REALTIME_TYPES", "MidiMessage", "OscArg", "OscMessage", "OutMessage", "format_osc_arg"]

OscArg = int | float | str

REALTIME_TYPES = frozenset({"clock", "start", "stop", "continue", "reset", "active_sensing"})


def format_osc_arg(value: OscArg) -> str:
    """One argument as text; floats keep a decimal point so `1.0` (float) and `1` (int) stay apart.

    Floats are shown to 6 significant digits: OSC carries float32, so a receiver sees 0.30000001 for 0.3.
    """
    if isinstance(value, bool):  # bool is an int subclass; the cue schema never produces one
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        text = f"{value:.6g}"
        return text if any(c in text for c in ".e") else text + ".0"
    return shlex.quote(value) if (not value or any(c.isspace() for c in value) or value[0] in "'\"") else value


def _parse_osc_arg(token: str) -> OscArg:
    try:
        return int(token, 10)
    except ValueError:
        pass
    try:
        number = float(token)
    except ValueError:
        return token
    return number if math.isfinite(number) else token


@dataclass(frozen=True)
class OscMessage:
    address: str
    args: tuple[OscArg, ...] = ()

    @classmethod
    def parse(cls, text: str) -> OscMessage:
        """`/address 1 0.5 word "two words"` → OscMessage; raises ValueError with a readable reason."""
        try:
            tokens = shlex.split(text)
        except ValueError as err:
            raise ValueError(f"cannot read OSC message {text!r}: {err}") from None
        if not tokens:
            raise ValueError("empty OSC message: expected '/address arg ...'")
        address = tokens[0]
        if not address.startswith("/"):
            raise ValueError(f"OSC address must start with '/': {address!r}")
        if any(c.isspace() or c in "#*,?[]{}" for c in address):
            raise ValueError(f"OSC address has a character OSC reserves: {address!r}")
        if not address.isascii():
            raise ValueError(f"OSC address must be ASCII: {address!r}")
        return cls(address, tuple(_parse_osc_arg(t) for t in tokens[1:]))

    def __str__(self) -> str:
        return " ".join([self.address, *(format_osc_arg(a) for a in self.args)])


@dataclass(frozen=True)
class MidiMessage:
    """A MIDI message kept as mido's canonical text, so it is hashable, comparable and printable."""

    text: str

    @classmethod
    def parse(cls, text: str) -> MidiMessage:
        """mido's text form (`note_on note=60 velocity=127`; omitted fields take mido's defaults)."""
        cleaned = " ".join(text.split())
        try:
            msg = mido.Message.from_str(cleaned if "time=" in cleaned else cleaned + " time=0")
        except (ValueError, TypeError, LookupError) as err:
            reason = str(err.args[0]) if err.args else type(err).__name__
            raise ValueError(f"cannot read MIDI message {text!r}: {reason}") from None
        return cls.from_mido(msg)

    @classmethod
    def from_mido(cls, msg: mido.Message) -> MidiMessage:
        msg = msg.copy(time=0)
        return cls(msg.type if msg.type in REALTIME_TYPES else str(msg))

    def to_mido(self) -> mido.Message:
        if self.text in REALTIME_TYPES:
            return mido.Message(self.text)
        return mido.Message.from_str(self.text)

    @property
    def type(self) -> str:
        return self.text.split(" ", 1)[0]

    def __str__(self) -> str:
        return self.text


OutMessage = OscMessage | MidiMessage
