"""Parsing of the units techs write in cue files: clock times, lengths in bars, musical rates, percents."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Length", "Rate", "format_clock", "parse_clock", "parse_length", "parse_percent", "parse_rate"]

_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d{2}(?:\.\d+)?)$")
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?)$")
_MINUTES = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|min|mins|minutes?)$")
_BARS = re.compile(r"^(\d+)\s*bars?$")
_BEATS = re.compile(r"^(\d+(?:\.\d+)?|\d+/\d+)\s*(beats?|bars?)$")
_TRACK_END = ("end of track", "until end of track", "until the end of the track", "track")


def parse_clock(value: object) -> float:
    """`"3:00"`, `"1:02:03"`, `"40s"`, `"2 min"` or a number of seconds → seconds (finite: NaN or infinity
    would break every sum and `format_clock` later, far from the value)."""
    seconds = _clock(value)
    if not math.isfinite(seconds):
        raise ValueError(f"expected a time like '3:00', '1:02:03', '40s' or '2 min', got {value!r}")
    return seconds


def _clock(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a time like '3:00' or '40s', got {value}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a time cannot be negative: {value}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a time like '3:00' or '40s', got {value!r}")
    text = value.strip().lower()
    if m := _CLOCK.match(text):
        hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), float(m.group(3))
        if seconds >= 60 or (m.group(1) and minutes >= 60):
            raise ValueError(f"not a valid time: {value!r} (seconds and minutes go up to 59)")
        return hours * 3600 + minutes * 60 + seconds
    if m := _SECONDS.match(text):
        return float(m.group(1))
    if m := _MINUTES.match(text):
        return float(m.group(1)) * 60
    raise ValueError(f"expected a time like '3:00', '1:02:03', '40s' or '2 min', got {value!r}")


def format_clock(seconds: float) -> str:
    """Seconds → `M:SS.s` (class time as an instructor reads it)."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    minutes, rest = divmod(seconds, 60)
    if round(rest, 1) >= 60:
        minutes, rest = minutes + 1, 0.0
    return f"{sign}{int(minutes)}:{rest:04.1f}"


@dataclass(frozen=True)
class Length:
    """A segment length: a time, a number of bars, or until the end of the track playing at its start."""

    kind: Literal["time", "bars", "track_end"]
    value: float = 0.0

    def __str__(self) -> str:
        if self.kind == "time":
            return format_clock(self.value)
        if self.kind == "bars":
            return f"{int(self.value)} bars"
        return "end of track"


def parse_length(value: object) -> Length:
    if isinstance(value, str):
        text = " ".join(value.strip().lower().split())
        if m := _BARS.match(text):
            bars = int(m.group(1))
            if bars <= 0:
                raise ValueError("a length in bars must be at least 1 bar")
            return Length("bars", float(bars))
        if text in _TRACK_END:
            return Length("track_end")
    try:
        seconds = parse_clock(value)
    except ValueError:
        raise ValueError(
            f"expected a length like '3:00', '40s', '16 bars' or 'end of track', got {value!r}"
        ) from None
    if seconds <= 0:
        raise ValueError("a length must be longer than zero")
    return Length("time", seconds)


@dataclass(frozen=True)
class Rate:
    """How often an effect fires, in beats (a bar is `beats_per_bar` beats, known only per track)."""

    beats: float = 1.0
    bars: float = 0.0

    def in_beats(self, beats_per_bar: int) -> float:
        return self.beats if self.bars == 0 else self.bars * beats_per_bar

    def __str__(self) -> str:
        if self.bars:
            return "bar" if self.bars == 1 else f"{self.bars:g} bars"
        return "beat" if self.beats == 1 else f"{self.beats:g} beats"


def parse_rate(value: object) -> Rate:
    """`beat`, `bar`, `half beat`, `2 beats`, `1/2 beat`, `4 bars` → Rate."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < math.inf:
        return Rate(beats=float(value))
    if isinstance(value, str):
        text = " ".join(value.strip().lower().replace("_", " ").split())
        named = {"beat": Rate(1.0), "bar": Rate(0.0, 1.0), "half beat": Rate(0.5), "quarter beat": Rate(0.25),
                 "2 bars": Rate(0.0, 2.0)}
        if text in named:
            return named[text]
        if m := _BEATS.match(text):
            number = m.group(1)
            amount = float(number.split("/")[0]) / float(number.split("/")[1]) if "/" in number else float(number)
            if 0 < amount < math.inf:
                return Rate(0.0, amount) if m.group(2).startswith("bar") else Rate(amount)
    raise ValueError(f"expected a rate like 'beat', 'half beat', 'bar', '2 beats' or '4 bars', got {value!r}")


def parse_percent(value: object) -> float:
    """`40%`, `0.4` or `40` (read as percent when > 1) → 0..1."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"expected a percentage like '40%', got {value!r}") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value) / 100 if value > 1 else float(value)
    else:
        raise ValueError(f"expected a percentage like '40%', got {value!r}")
    if not 0 <= number <= 1:
        raise ValueError(f"a percentage must be between 0% and 100%, got {value!r}")
    return number


def parse_nudge(value: object) -> float:
    """`half beat`, `-quarter beat`, `1/3 beat` or a number of beats, between -1 and 1 (exclusive) → beats."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        beats = float(value)
    elif isinstance(value, str):
        text = value.strip()
        sign = -1.0 if text.startswith("-") else 1.0
        try:
            rate = parse_rate(text.lstrip("+-").strip())
        except ValueError:
            rate = Rate(0.0, 1.0)  # refused below, with the nudge's own words
        beats = sign * rate.beats if not rate.bars else math.inf
    else:
        beats = math.inf
    if not -1.0 < beats < 1.0 or beats == 0.0:
        raise ValueError(f"expected a nudge of part of a beat like 'half beat', '-quarter beat' or 0.25, got {value!r}")
    return beats
