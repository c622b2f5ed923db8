"""How much light a rig's looks leave on the floor, judged from what the messages send, not from a number a
cue file declares. Pure: no I/O (the DMX state is `DmxState`, the same model the DMX output renders).

- DMX: every fixture that lights the floor (`lights_floor`, by default PARs and washes, not moving heads,
  strobes or hazers) through the patch; the floor gets the light of its darkest such fixture. State carries
  from look to look, starting from the rig's safe scene (the DMX output's look before the first message).
- OSC: what the output's profile knows (`/…/blackout 1`, `/…/dimmer 0.2`: `OscProfile.floor_level`).
- OSC and MIDI: what the rig's own `blackout:` scene says darkens. A message to the same address (OSC) or
  the same controller, note or program (MIDI) darkens too: a fader the blackout pulls to 0 is a master level
  (`control=7 value=38` is 30 %); a switch the blackout sets (`/scene/black 1`, a note, a program) is dark
  when set the same way.
A control keeps its level until a later message changes it, as a console's blackout latch does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

from showctl.messages import DmxMessage, MidiMessage, OscArg, OscMessage, OutMessage
from showctl.rig.dmx import COLOR_CHANNELS, DmxOutputConfig, build_patch
from showctl.rig.dmx_levels import DmxState
from showctl.rig.model import OscOutputConfig, Rig

__all__ = ["FLOOR_QUANTUM", "FloorMeter", "FloorReading", "Where", "blackout_release", "floor_scene_problem",
           "safe_scene_problem"]

# A level one 7-bit step under the minimum is the minimum as a MIDI fader can send it (30 % is value 38).
FLOOR_QUANTUM = 0.5 / 127
Where = tuple[str | int, ...]  # where a message was written (a node path in its file); () for the safe scene


@dataclass(frozen=True)
class FloorReading:
    """The floor's light from one cause: `message` (written at `where`) to `output`; `fixture` for DMX."""

    level: float
    output: str
    message: OutMessage | None  # None: a floor fixture nothing has set (not even the safe scene)
    where: Where
    fixture: str | None = None

    def says(self) -> str:
        """The cause in words: `'/blackout 1' to output 'console'`, `'@pars dimmer=0%' leaves fixture 'par1' at 0%`."""
        if self.message is None:
            return (f"fixture '{self.fixture}' lights the floor but nothing lights it (light it in the look, or give "
                    "it 'lights_floor: false' in the rig)")
        if self.fixture is not None:
            return f"'{self.message}' leaves fixture '{self.fixture}' at {self.level:.0%}"
        verb = "blacks it out" if self.level <= 0 else f"sets it to {self.level:.0%}"
        return f"'{self.message}' to output '{self.output}' {verb}"


def _is_zero(value: OscArg | int) -> bool:
    return not isinstance(value, str) and value == 0


_ControlKey = tuple[str | int, ...]


class FloorMeter:
    """The floor's light as a rig's messages arrive: `apply` each message, `darkest` says the lowest reading."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.patch = build_patch(rig)
        self.controls: dict[_ControlKey, FloorReading] = {}
        self.dmx: dict[str, DmxState] = {}
        self.fixture_cause: dict[tuple[str, str], tuple[OutMessage | None, Where]] = {}
        for name, config in rig.outputs.items():
            if isinstance(config, DmxOutputConfig):
                self.dmx[name] = DmxState(self.patch, config.universes)
                for message in rig.safe_scene.get(name, ()):
                    self.apply(name, message, ())

    def copy(self) -> FloorMeter:
        """A meter that goes on from here on its own (to judge an effect at its peak and drop it after)."""
        other = copy.copy(self)
        other.controls, other.fixture_cause = dict(self.controls), dict(self.fixture_cause)
        other.dmx = {name: state.copy() for name, state in self.dmx.items()}
        return other

    def apply(self, output: str, message: OutMessage, where: Where) -> None:
        """`message` sent to `output` (written at `where`); messages the rig cannot send are ignored (the
        output checks report them)."""
        if isinstance(message, DmxMessage):
            self._apply_dmx(output, message, where)
            return
        found = self._control(output, message)
        if found is not None:
            key, level = found
            self.controls[key] = FloorReading(level, output, message, where)

    def _apply_dmx(self, output: str, message: DmxMessage, where: Where) -> None:
        state = self.dmx.get(output)
        if state is None or (message.target not in self.patch.fixtures and message.target not in self.patch.groups):
            return
        state.apply(message, 0.0, instant=True)  # a flash judged at its peak; a fade where it ends
        if "dimmer" in message.attributes or "color" in message.attributes or \
                set(message.attributes) & set(COLOR_CHANNELS):
            for fixture in self.patch.targets(message.target):
                self.fixture_cause[(output, fixture.name)] = (message, where)

    def _control(self, output: str, message: OutMessage) -> tuple[_ControlKey, float] | None:
        """The control `message` sets and the floor level it leaves, or None when it says nothing of the floor."""
        blackout = self.rig.blackout.get(output, ())
        if isinstance(message, OscMessage):
            for dark in blackout:
                if isinstance(dark, OscMessage) and dark.address == message.address:
                    return (output, message.address), _set_like(dark.args[:1], message.args[:1])
            config = self.rig.outputs.get(output)
            if isinstance(config, OscOutputConfig):
                level = config.osc_profile.floor_level(message)
                if level is not None:
                    return (output, message.address), level
            return None
        if not isinstance(message, MidiMessage) or message.type not in ("control_change", "note_on", "note_off",
                                                                         "program_change"):
            return None
        sent = message.to_mido()
        for dark in blackout:
            if not isinstance(dark, MidiMessage):
                continue
            black = dark.to_mido()
            if black.type == "control_change" and sent.type == "control_change" and \
                    (black.channel, black.control) == (sent.channel, sent.control):
                return (output, "cc", sent.channel, sent.control), _set_like((black.value,), (sent.value,), 127)
            if black.type == "note_on" and sent.type in ("note_on", "note_off") and \
                    (black.channel, black.note) == (sent.channel, sent.note):
                on = sent.type == "note_on" and sent.velocity > 0
                return (output, "note", sent.channel, sent.note), 0.0 if on else 1.0
            if black.type == "program_change" and sent.type == "program_change" and black.channel == sent.channel:
                return (output, "program", sent.channel), 0.0 if black.program == sent.program else 1.0
        return None

    def _control_key(self, output: str, message: OutMessage) -> _ControlKey | None:
        found = None if isinstance(message, DmxMessage) else self._control(output, message)
        return found[0] if found is not None else None

    def readings(self) -> list[FloorReading]:
        """What each known cause leaves on the floor now."""
        readings = list(self.controls.values())
        for output, state in self.dmx.items():
            for fixture in state.fixtures:
                if not fixture.lights_floor:
                    continue
                message, where = self.fixture_cause.get((output, fixture.name), (None, ()))
                readings.append(FloorReading(state.light(fixture, 0.0), output, message, where, fixture.name))
        return readings

    def darkest(self) -> FloorReading | None:
        """The lowest light any known cause leaves on the floor now; None when no message said anything."""
        return min(self.readings(), key=lambda r: r.level, default=None)


def _set_like(black: tuple[OscArg | int, ...], sent: tuple[OscArg | int, ...], full: int | None = None) -> float:
    """The level a message to a control the rig's blackout uses leaves: the blackout pulls a fader to 0 (then
    the value is a level) or sets a switch (then the same setting is dark, 0 is lit)."""
    value = sent[0] if sent else None
    if black and _is_zero(black[0]):  # a fader: the value is the level
        if isinstance(value, int | float) and not isinstance(value, bool):
            scale = full if full is not None else (1 if isinstance(value, float) or value <= 1 else 255)
            return min(1.0, max(0.0, value / scale))
        return 1.0
    return 1.0 if value is not None and _is_zero(value) else 0.0


def _after_blackout(rig: Rig) -> FloorMeter:
    """A meter in the state the rig's `blackout:` scene leaves (its messages at ("blackout", output, i))."""
    meter = FloorMeter(rig)
    for output, messages in rig.blackout.items():
        for i, message in enumerate(messages):
            meter.apply(output, message, ("blackout", output, i))
    return meter


def _scene_problem(rig: Rig, scene: Literal["floor_scene", "safe_scene"], minimum: float, *,
                   latched_only: bool = False) -> FloorReading | None:
    """The cause when `scene`, sent after the rig's blackout (a console's blackout latches until a message
    releases it), leaves the floor under `minimum`; its `where` is the message's node in the rig file, or the
    blackout's message the scene never releases. `latched_only`: only what the blackout left dark counts."""
    meter = _after_blackout(rig)
    for output, messages in getattr(rig, scene).items():
        for i, message in enumerate(messages):
            meter.apply(output, message, (scene, output, i))
    dark = [r for r in meter.readings() if r.level < minimum - FLOOR_QUANTUM
            and (not latched_only or r.where[:1] == ("blackout",))]
    return min(dark, key=lambda r: r.level, default=None)


def floor_scene_problem(rig: Rig) -> FloorReading | None:
    """The cause when the rig's `floor_scene` (what the blackout key gives while people move backwards, and
    what a blackout is lifted to as a backwards part starts) leaves the floor under its `floor_light`. A rig
    without one is judged by the class that needs it (`showctl.cues.floor`)."""
    return _scene_problem(rig, "floor_scene", rig.floor_light) if rig.floor_scene else None


def safe_scene_problem(rig: Rig) -> FloorReading | None:
    """The cause when the rig's `safe_scene` (every exit, the house-lights key) leaves a blackout latched: the
    house lights must come up whatever look the class had."""
    return _scene_problem(rig, "safe_scene", rig.floor_light, latched_only=True) if rig.blackout else None


def blackout_release(rig: Rig) -> dict[str, tuple[OutMessage, ...]]:
    """Per output, the safe scene's messages that set a control the rig's blackout latches (`safe_scene_problem`
    makes sure they release it): what lifting a blackout sends before the look comes back, since a look's own
    scene may never touch the blackout's control (`/showctl/blackout 0`)."""
    meter = FloorMeter(rig)
    latched = {key for output, messages in rig.blackout.items() for message in messages
               if (key := meter._control_key(output, message)) is not None}
    return {output: released for output, messages in rig.safe_scene.items()
            if (released := tuple(m for m in messages if meter._control_key(output, m) in latched))}
