"""DMX levels: what the fixtures of a patch are told, as levels per attribute with fades and flashes, and
the 512 slots of each universe they make at a time t. Pure: the DMX transport (`showctl.outputs.dmx`)
sends what `DmxState.render` gives; the floor-light rule (`floor_light`) judges the light it gives.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from showctl.messages import DMX_COLORS, DmxMessage
from showctl.rig.dmx import COLOR_CHANNELS, SNAP_CHANNELS, UNIVERSE_SIZE, DmxPatch, PatchedFixture

__all__ = ["DmxState", "render_messages"]


@dataclass
class _Level:
    """One attribute of one fixture: where it is going (a fade) and a flash on top that falls back."""

    start: float
    target: float
    t0: float = 0.0
    fade: float = 0.0
    flash_peak: float | None = None
    flash_t0: float = 0.0
    flash_length: float = 0.0

    def base(self, t: float) -> float:
        if self.fade <= 0 or t >= self.t0 + self.fade:
            return self.target
        return self.start + (self.target - self.start) * max(0.0, t - self.t0) / self.fade

    def at(self, t: float) -> float:
        base = self.base(t)
        if self.flash_peak is None or t >= self.flash_t0 + self.flash_length:
            return base
        left = 1.0 - max(0.0, t - self.flash_t0) / self.flash_length
        return base + (self.flash_peak - base) * left


def _nearest_wheel_slot(fixture: PatchedFixture, rgb: tuple[float, float, float]) -> int:
    colors = fixture.type.colors
    name = min(colors, key=lambda c: sum((a - b) ** 2 for a, b in zip(DMX_COLORS[c], rgb, strict=True)))
    return colors[name]


class DmxState:
    """Levels (0..1) per fixture attribute of the fixtures on `universes`; renders DMX frames at a time t."""

    def __init__(self, patch: DmxPatch, universes: Sequence[int]) -> None:
        self.patch = patch
        self.universes = tuple(universes)
        self.fixtures = tuple(patch.on(self.universes))
        self._levels: dict[tuple[str, str], _Level] = {}
        self.version = 0  # bumped by every apply(): frames say which state they carried

    def copy(self) -> DmxState:
        """A state that goes on from this one on its own (the patch shared)."""
        other = copy.copy(self)
        other._levels = {key: dataclasses.replace(level) for key, level in self._levels.items()}
        return other

    def _level(self, fixture: PatchedFixture, attribute: str) -> _Level:
        key = (fixture.name, attribute)
        if key not in self._levels:
            default = fixture.type.default(attribute)
            self._levels[key] = _Level(default, default)
        return self._levels[key]

    def _values(self, fixture: PatchedFixture, message: DmxMessage) -> dict[str, float]:
        values = {k: v for k, v in message.levels if fixture.type.takes(k)}
        rgb = message.rgb
        if rgb is not None:
            if {"red", "green", "blue"} <= set(fixture.type.channels):
                values.update(zip(("red", "green", "blue"), rgb, strict=True))
            elif fixture.type.colors and message.color is not None:
                slot = fixture.type.colors.get(message.color)
                values["color_wheel"] = (slot if slot is not None else _nearest_wheel_slot(fixture, rgb)) / 255
        return values

    def apply(self, message: DmxMessage, t: float, *, instant: bool = False) -> None:
        """Start `message` at time `t` (KeyError: no such fixture or group)."""
        for fixture in self.patch.targets(message.target):
            if fixture.universe not in self.universes:
                continue
            for attribute, value in self._values(fixture, message).items():
                level = self._level(fixture, attribute)
                if message.flash and not instant:
                    level.flash_peak, level.flash_t0, level.flash_length = value, t, message.flash
                    continue
                fade = 0.0 if instant or attribute in SNAP_CHANNELS else message.fade
                level.start, level.target, level.t0, level.fade = level.base(t), value, t, fade
                if instant:
                    level.flash_peak = None
        self.version += 1

    def _at(self, fixture: PatchedFixture, attribute: str, t: float) -> float:
        level = self._levels.get((fixture.name, attribute))
        if level is None:
            return fixture.type.default(attribute)
        return min(1.0, max(0.0, level.at(t)))

    def light(self, fixture: PatchedFixture, t: float) -> float:
        """How much light `fixture` gives at `t` (0..1), as `render` drives it: its dimmer (a real channel or
        the virtual one over its colours) times its brightest colour channel; no colour channels, its dimmer."""
        colours = [c for c in fixture.type.channels if c in COLOR_CHANNELS]
        brightest = max((self._at(fixture, c, t) for c in colours), default=1.0)
        return self._at(fixture, "dimmer", t) * brightest if fixture.type.takes("dimmer") else 0.0

    def render(self, t: float) -> dict[int, bytes]:
        """Every universe's 512 slots at time `t`."""
        frames = {u: bytearray(UNIVERSE_SIZE) for u in self.universes}
        for fixture in self.fixtures:
            channels = fixture.type.channels
            frame = frames[fixture.universe]
            virtual_dimmer = "dimmer" not in channels
            dimmer = self._at(fixture, "dimmer", t) if virtual_dimmer else 1.0
            for offset, kind in enumerate(channels):
                slot = fixture.address - 1 + offset
                if kind == "unused":
                    continue
                if kind in ("pan_fine", "tilt_fine"):
                    frame[slot] = round(self._at(fixture, kind[:-5], t) * 65535) & 0xFF
                elif kind in ("pan", "tilt") and f"{kind}_fine" in channels:
                    frame[slot] = round(self._at(fixture, kind, t) * 65535) >> 8
                elif kind in COLOR_CHANNELS:
                    frame[slot] = round(self._at(fixture, kind, t) * dimmer * 255)
                else:
                    frame[slot] = round(self._at(fixture, kind, t) * 255)
        return {u: bytes(f) for u, f in frames.items()}


def render_messages(patch: DmxPatch, universes: Sequence[int], messages: Iterable[DmxMessage]) -> dict[int, bytes]:
    """The frames `messages` give from the fixtures' defaults, fades and flashes left out (the safe frame)."""
    state = DmxState(patch, universes)
    for message in messages:
        state.apply(message, 0.0, instant=True)
    return state.render(0.0)
