"""The messages showctl sends, as small typed values shared by cues, timeline, outputs and the sim.

Text forms are a CLI contract (`showctl timeline --json`, `showctl simulate` logs):
OSC is `/address arg1 arg2`, MIDI is mido's `str(msg)` (`note_on channel=0 note=60 velocity=127 time=0`),
and MIDI real-time messages without data are their bare type (`clock`, `start`, `stop`, `continue`).
DMX is `@fixture-or-group attribute=value ...` (`@front-pars dimmer=80% color=red fade=2s`).
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
from dataclasses import dataclass

import mido

from showctl.units import parse_clock, parse_percent

__all__ = [
    "CLOCK_PPQN", "DMX_COLORS", "DMX_LEVELS", "REALTIME_TYPES", "DmxMessage", "MidiMessage", "OscArg", "OscMessage",
    "OutMessage", "format_osc_arg",
]

OscArg = int | float | str

REALTIME_TYPES = frozenset({"clock", "start", "stop", "continue", "reset", "active_sensing"})
CLOCK_PPQN = 24  # MIDI clock: 24 `clock` messages per quarter note (beat), sent and received


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


# What a DMX message may set, fixture-independent, each 0..1 (`dimmer=80%`); `color=` sets red/green/blue.
DMX_LEVELS = ("dimmer", "red", "green", "blue", "white", "amber", "uv", "pan", "tilt", "strobe", "color_wheel",
              "gobo", "zoom", "focus", "speed", "haze", "fan", "control")
DMX_COLORS: dict[str, tuple[float, float, float]] = {
    "white": (1.0, 1.0, 1.0), "warm": (1.0, 0.6, 0.25), "red": (1.0, 0.0, 0.0), "orange": (1.0, 0.35, 0.0),
    "amber": (1.0, 0.5, 0.0), "yellow": (1.0, 1.0, 0.0), "green": (0.0, 1.0, 0.0), "cyan": (0.0, 1.0, 1.0),
    "blue": (0.0, 0.0, 1.0), "purple": (0.5, 0.0, 1.0), "magenta": (1.0, 0.0, 1.0), "pink": (1.0, 0.3, 0.6),
    "black": (0.0, 0.0, 0.0),
}
_DMX_TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _dmx_level(text: str, key: str, token: str) -> float:
    try:
        return parse_percent(token if token.endswith("%") else float(token))
    except ValueError:
        raise ValueError(f"'{text}': {key}={token}: expected a level from 0% to 100%") from None


@dataclass(frozen=True)
class DmxMessage:
    """Fixture-independent values for a fixture or a group of the rig's DMX patch.

    `levels` are 0..1 per attribute (DMX_LEVELS); `color` is a name from DMX_COLORS or `#rrggbb`;
    `fade` moves there over that many seconds; `flash` jumps there and falls back to the look underneath
    over that many seconds (a pulse). Which channels that means is the fixture type's business.
    """

    target: str
    levels: tuple[tuple[str, float], ...] = ()
    color: str | None = None
    fade: float = 0.0
    flash: float = 0.0

    @classmethod
    def parse(cls, text: str) -> DmxMessage:
        """`@front-pars dimmer=80% color=red fade=2s` → DmxMessage; raises ValueError with a readable reason."""
        tokens = text.split()
        if not tokens or not tokens[0].startswith("@"):
            raise ValueError(f"a DMX message starts with '@fixture-or-group': {text!r}")
        target = tokens[0][1:]
        if not _DMX_TARGET.match(target):
            raise ValueError(f"not a fixture or group name: {tokens[0]!r}")
        levels: dict[str, float] = {}
        color: str | None = None
        times = {"fade": 0.0, "flash": 0.0}
        seen: set[str] = set()
        for token in tokens[1:]:
            key, sep, value = token.partition("=")
            if not sep or not value:
                raise ValueError(f"'{text}': expected attribute=value, got {token!r}")
            if key in seen:
                raise ValueError(f"'{text}': {key} is given twice")
            seen.add(key)
            if key == "color":
                if value.lower() not in DMX_COLORS and not _HEX_COLOR.match(value):
                    raise ValueError(f"'{text}': unknown colour {value!r} (colours: {', '.join(DMX_COLORS)}, "
                                     "or #rrggbb)")
                color = value.lower()
            elif key in times:
                try:
                    times[key] = parse_clock(value)
                except ValueError:
                    raise ValueError(f"'{text}': {key}={value}: expected a time like 2s or 0.25s") from None
            elif key in DMX_LEVELS:
                levels[key] = _dmx_level(text, key, value)
            else:
                close = difflib.get_close_matches(key, [*DMX_LEVELS, "color", "fade", "flash"], n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValueError(f"'{text}': unknown DMX attribute '{key}'{hint}")
        if not levels and color is None:
            raise ValueError(f"'{text}': set at least one value (e.g. dimmer=80% or color=red)")
        if color is not None and {"red", "green", "blue"} & set(levels):
            raise ValueError(f"'{text}': give either color= or red/green/blue levels, not both")
        if times["fade"] and times["flash"]:
            raise ValueError(f"'{text}': give either fade= or flash=, not both")
        return cls(target, tuple(levels.items()), color, times["fade"], times["flash"])

    @property
    def rgb(self) -> tuple[float, float, float] | None:
        """The colour as red, green, blue levels (0..1), or None when the message sets no colour."""
        if self.color is None:
            return None
        if self.color.startswith("#"):
            return (int(self.color[1:3], 16) / 255, int(self.color[3:5], 16) / 255, int(self.color[5:7], 16) / 255)
        return DMX_COLORS[self.color]

    @property
    def attributes(self) -> tuple[str, ...]:
        """What this message sets (`color` stands for red, green and blue)."""
        return (*(k for k, _ in self.levels), *(("color",) if self.color is not None else ()))

    def __str__(self) -> str:
        parts = [f"@{self.target}", *(f"{k}={round(v * 100, 3):g}%" for k, v in self.levels)]
        parts += [f"color={self.color}"] if self.color is not None else []
        parts += [f"fade={self.fade:g}s"] if self.fade else []
        parts += [f"flash={self.flash:g}s"] if self.flash else []
        return " ".join(parts)


OutMessage = OscMessage | MidiMessage | DmxMessage
