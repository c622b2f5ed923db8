"""DMX in rig files: fixture types (their channels), the patch (universe + start address), groups, and the
`transport: dmx` output that sends whole universes to olad (OLA's OSC input, or sACN / E1.31).

```yaml
outputs:
  lights: {transport: dmx, host: 127.0.0.1, protocol: osc, universes: [1], frame_rate: 40}
fixture_types:                # the studio's own models; FIXTURE_TYPES below are built in
  par-7ch: {channels: [dimmer, red, green, blue, strobe, unused, unused]}
fixtures:
  par1: {type: par-7ch, universe: 1, address: 1}   # lights the floor (a PAR); `lights_floor: false` says not
groups:
  front-pars: [par1, par2]
safe_scene:
  lights: ["@house dimmer=100% color=white", "@strobe dimmer=0 strobe=0"]
```
Cue files address fixtures and groups with fixture-independent values (`@front-pars dimmer=80% color=red`,
showctl.messages.DmxMessage); each fixture type turns them into its channels. Pure data and checks: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from showctl.messages import DMX_COLORS, DmxMessage
from showctl.schema import did_you_mean
from showctl.units import parse_percent

if TYPE_CHECKING:
    from showctl.rig.model import Rig

__all__ = [
    "FIXTURE_TYPES", "ChannelKind", "DmxOutputConfig", "DmxPatch", "Fixture", "FixtureType", "PatchedFixture",
    "build_patch", "dmx_message_problem", "patch_problems",
]

ChannelKind = Literal[
    "dimmer", "red", "green", "blue", "white", "amber", "uv", "pan", "pan_fine", "tilt", "tilt_fine", "strobe",
    "color_wheel", "gobo", "zoom", "focus", "speed", "haze", "fan", "control", "unused",
]
UNIVERSE_SIZE = 512
# Channels that jump instead of fading: a fading colour wheel or gobo would spin through every slot.
SNAP_CHANNELS = frozenset({"color_wheel", "gobo", "control"})
COLOR_CHANNELS = ("red", "green", "blue", "white", "amber")
NodePath = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # "inf" is a float to pydantic


def _as_list(value: object) -> object:
    return value if isinstance(value, list | tuple) else [value]


Level = Annotated[float, BeforeValidator(parse_percent)]


class FixtureType(_Strict):
    """A fixture model: its channels in order from the start address, and what its wheel's slots are."""

    channels: tuple[ChannelKind, ...] = Field(min_length=1, max_length=UNIVERSE_SIZE)
    colors: dict[str, int] = Field(default_factory=dict,
                                   description="colour wheel: colour name → DMX value of its slot (0..255)")
    defaults: dict[ChannelKind, Level] = Field(
        default_factory=dict, description="level of a channel nothing has set yet (e.g. tilt: 50%)")
    lights_floor: bool | None = Field(
        default=None, description="whether fixtures of this type light the floor people move on (default: "
        "washes and PARs do; moving heads, strobes and hazers do not)")

    @model_validator(mode="after")
    def _consistent(self) -> FixtureType:
        for name, value in self.colors.items():
            if name not in DMX_COLORS:
                raise ValueError(f"colour wheel slot '{name}' is not a colour showctl knows "
                                 f"({', '.join(DMX_COLORS)})")
            if not 0 <= value <= 255:
                raise ValueError(f"colour wheel slot '{name}': {value} is outside DMX values 0..255")
        if self.colors and "color_wheel" not in self.channels:
            raise ValueError("'colors' names colour wheel slots, but the channels have no color_wheel")
        missing = [c for c in self.defaults if c not in self.channels]
        if missing:
            raise ValueError(f"defaults for channel(s) the type does not have: {', '.join(missing)}")
        return self

    def default(self, attribute: str) -> float:
        """The level of `attribute` before anything sets it."""
        return next((v for k, v in self.defaults.items() if k == attribute), 0.0)

    def takes(self, attribute: str) -> bool:
        """Whether a message's `attribute` (DMX_LEVELS or 'color') does anything on this type."""
        if attribute == "dimmer":
            return "dimmer" in self.channels or any(c in self.channels for c in COLOR_CHANNELS)
        if attribute == "color":
            return {"red", "green", "blue"} <= set(self.channels) or bool(self.colors)
        return attribute in self.channels

    @property
    def floor_light(self) -> bool:
        """Whether it lights the floor (`lights_floor`, else judged from its channels): a wash or a PAR does;
        a moving head's beam goes wherever it points, a strobe only flashes and a hazer makes no light."""
        if self.lights_floor is not None:
            return self.lights_floor
        channels = set(self.channels)
        if channels & {"pan", "tilt", "haze", "fan"}:
            return False
        return bool(channels & set(COLOR_CHANNELS)) or channels == {"dimmer"}


FIXTURE_TYPES: dict[str, FixtureType] = {
    "dimmer": FixtureType(channels=("dimmer",)),
    "rgb-par": FixtureType(channels=("red", "green", "blue")),
    "rgbw-par": FixtureType(channels=("dimmer", "red", "green", "blue", "white", "strobe")),
    "moving-head": FixtureType(
        channels=("pan", "pan_fine", "tilt", "tilt_fine", "speed", "dimmer", "strobe", "color_wheel", "gobo"),
        colors={"white": 0, "red": 16, "blue": 32, "green": 48, "yellow": 64, "magenta": 80, "cyan": 96,
                "orange": 112},
        defaults={"pan": 0.5, "tilt": 0.5}),
    "strobe": FixtureType(channels=("dimmer", "strobe")),
    "hazer": FixtureType(channels=("haze", "fan")),
}


class Fixture(_Strict):
    """One fixture in the patch."""

    type: str = Field(min_length=1, description="a fixture type: the rig's fixture_types or a built-in one")
    universe: int = Field(default=1, ge=1, le=63999)
    address: int = Field(ge=1, le=UNIVERSE_SIZE, description="DMX start address (1..512)")
    lights_floor: bool | None = Field(
        default=None, description="whether it lights the floor people move on (default: its type's)")


GroupMembers = Annotated[tuple[str, ...], BeforeValidator(_as_list), Field(min_length=1)]


class DmxOutputConfig(_Strict):
    transport: Literal["dmx"]
    host: str = Field(default="127.0.0.1", description="olad (or an sACN node), unicast")
    protocol: Literal["osc", "sacn"] = Field(
        default="osc", description="osc: OLA's OSC input (a blob per universe); sacn: E1.31 unicast")
    port: int | None = Field(default=None, ge=1, le=65535, description="default: 7770 for osc, 5568 for sacn")
    universes: Annotated[tuple[int, ...], BeforeValidator(_as_list)] = Field(default=(1,), min_length=1)
    frame_rate: float = Field(default=40.0, ge=1, le=44, description="whole-universe frames per second")
    priority: int = Field(default=100, ge=0, le=200, description="sACN priority")
    latency_ms: float = Field(default=0.0, description="send this much early (negative: late), in ms")

    @model_validator(mode="after")
    def _universes_valid(self) -> DmxOutputConfig:
        if len(set(self.universes)) != len(self.universes):
            raise ValueError("a universe is listed twice")
        if any(not 1 <= u <= 63999 for u in self.universes):
            raise ValueError("universes are numbered 1..63999")
        return self

    @property
    def udp_port(self) -> int:
        return self.port if self.port is not None else (7770 if self.protocol == "osc" else 5568)

    def problem(self, message: object) -> str | None:
        return None  # DMX messages are checked against the patch: dmx_message_problem


@dataclass(frozen=True)
class PatchedFixture:
    name: str
    type_name: str
    type: FixtureType
    universe: int
    address: int
    lights_floor: bool = False  # counts for the floor light people moving backwards need

    @property
    def last(self) -> int:
        return self.address + len(self.type.channels) - 1

    def __str__(self) -> str:
        return f"'{self.name}' ({self.type_name}) at {self.universe}/{self.address}-{self.last}"


@dataclass(frozen=True)
class DmxPatch:
    """Fixtures by name (types resolved) and groups; `targets` answers what a message name means."""

    fixtures: Mapping[str, PatchedFixture]
    groups: Mapping[str, tuple[str, ...]]

    def targets(self, name: str) -> tuple[PatchedFixture, ...]:
        """The fixtures a message to `name` (a fixture or a group) sets; KeyError when it is neither."""
        if name in self.fixtures:
            return (self.fixtures[name],)
        return tuple(self.fixtures[f] for f in self.groups[name] if f in self.fixtures)

    def names(self) -> list[str]:
        return [*self.fixtures, *self.groups]

    def on(self, universes: tuple[int, ...]) -> Iterator[PatchedFixture]:
        return (f for f in self.fixtures.values() if f.universe in universes)


def _types(rig: Rig) -> dict[str, FixtureType]:
    return {**FIXTURE_TYPES, **rig.fixture_types}


def build_patch(rig: Rig) -> DmxPatch:
    """The rig's patch; fixtures of unknown types are left out (patch_problems reports them)."""
    types = _types(rig)
    fixtures = {name: PatchedFixture(name, f.type, types[f.type], f.universe, f.address,
                                     f.lights_floor if f.lights_floor is not None else types[f.type].floor_light)
                for name, f in rig.fixtures.items() if f.type in types}
    return DmxPatch(fixtures, dict(rig.groups))


def patch_problems(rig: Rig) -> list[tuple[NodePath, bool, str]]:
    """(node path, points at the key, message) for every problem in the rig's fixtures and groups."""
    problems: list[tuple[NodePath, bool, str]] = []
    types = _types(rig)
    for name, fixture in rig.fixtures.items():
        if fixture.type not in types:
            hint = did_you_mean(fixture.type, types)
            problems.append((("fixtures", name, "type"), False, f"fixture '{name}': unknown fixture type "
                             f"'{fixture.type}'{hint} (types: {', '.join(types)})"))
    patch = build_patch(rig)
    dmx_universes = {u for o in rig.outputs.values() if isinstance(o, DmxOutputConfig) for u in o.universes}
    taken: dict[tuple[int, int], PatchedFixture] = {}
    for patched in patch.fixtures.values():
        where: NodePath = ("fixtures", patched.name, "address")
        if patched.last > UNIVERSE_SIZE:
            problems.append((where, False, f"fixture {patched} runs past channel {UNIVERSE_SIZE}: "
                                           f"{len(patched.type.channels)} channels from {patched.address}"))
        if patched.universe not in dmx_universes:
            sent = ", ".join(str(u) for u in sorted(dmx_universes)) or "none"
            problems.append((("fixtures", patched.name, "universe"), False,
                             f"fixture '{patched.name}' is on universe {patched.universe}, which no DMX output sends "
                             f"(universes sent: {sent})"))
        slots = [(patched.universe, c) for c in range(patched.address, min(patched.last, UNIVERSE_SIZE) + 1)]
        clashes = {taken[slot].name: taken[slot] for slot in slots if slot in taken}
        for other in clashes.values():
            problems.append((where, False, f"fixture {patched} overlaps fixture {other}"))
        for slot in slots:
            taken.setdefault(slot, patched)
    for group, members in rig.groups.items():
        if group in rig.fixtures:
            problems.append((("groups", group), True, f"group '{group}' has the name of a fixture"))
        for i, member in enumerate(members):
            if member not in rig.fixtures:
                problems.append((("groups", group, i), False, f"group '{group}': no fixture '{member}'"
                                 f"{did_you_mean(member, rig.fixtures)}"))
    return problems


def dmx_message_problem(rig: Rig, output: str, message: DmxMessage) -> str | None:
    """Why `message` cannot go to the rig's DMX output `output`, or None."""
    patch = build_patch(rig)
    config = rig.outputs[output]
    assert isinstance(config, DmxOutputConfig)
    if message.target not in rig.fixtures and message.target not in rig.groups:
        return f"'{message}': no fixture or group '{message.target}'{did_you_mean(message.target, patch.names())}"
    fixtures = patch.targets(message.target)
    off = [f.name for f in fixtures if f.universe not in config.universes]
    if off:
        return f"'{message}': fixture(s) {', '.join(off)} are not on universe(s) this output sends"
    for attribute in message.attributes:
        if fixtures and not any(f.type.takes(attribute) for f in fixtures):
            kinds = ", ".join(sorted({f.type_name for f in fixtures}))
            return f"'{message}': no fixture in '{message.target}' ({kinds}) has {attribute}"
    if message.color is not None and not message.color.startswith("#"):
        for f in fixtures:
            if not {"red", "green", "blue"} <= set(f.type.channels) and f.type.colors \
                    and message.color not in f.type.colors:
                return (f"'{message}': fixture '{f.name}' ({f.type_name}) has no {message.color} on its colour wheel "
                        f"(wheel: {', '.join(f.type.colors)})")
    return None
