"""Rig files: the outputs a studio has (OSC consoles, MIDI ports), their latency offsets and the safe scene.

```yaml
name: Demo rig
floor_light: 30%            # the least light the floor may get while people move backwards
outputs:
  console: {transport: osc, host: 127.0.0.1, port: 9000, profile: generic, latency_ms: 20}
  desk:    {transport: midi, port: "showctl-sim-desk:in", clock: true}
safe_scene:                 # house lights: sent on every exit
  console: ["/showctl/house 1"]
  desk: ["control_change control=7 value=127"]
```
`profile` says what the receiver accepts (showctl/rig/profiles.py); `latency_ms` sends that much
early (negative: late) to make up for a slow console or projector.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from showctl.errors import Problem, ProblemsError
from showctl.messages import DmxMessage, MidiMessage, OscMessage, OutMessage
from showctl.rig.dmx import DmxOutputConfig, Fixture, FixtureType, GroupMembers, dmx_message_problem, patch_problems
from showctl.rig.profiles import MIDI_PROFILES, OSC_PROFILES, MidiProfile, OscProfile
from showctl.schema import did_you_mean, validate_document
from showctl.units import parse_percent
from showctl.yamlfile import YamlDocument

__all__ = [
    "DmxOutputConfig",
    "Message",
    "Messages",
    "MidiOutputConfig",
    "OscOutputConfig",
    "OutputConfig",
    "Rig",
    "device_label",
    "parse_message",
    "validate_rig",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # "inf" is a float to pydantic


def parse_message(item: object) -> OutMessage:
    """An OSC (`/address args`), DMX (`@group dimmer=80%`) or MIDI (mido text: `note_on note=60`) message."""
    if isinstance(item, OscMessage | MidiMessage | DmxMessage):
        return item
    if not isinstance(item, str):
        raise ValueError(f"expected a message like '/showctl/scene 1' or 'note_on note=60', got {item!r}")
    if item.strip().startswith("@"):
        return DmxMessage.parse(item)
    return OscMessage.parse(item) if item.strip().startswith("/") else MidiMessage.parse(item)


def _as_list(value: object) -> object:
    return value if isinstance(value, list | tuple) else [value]


Message = Annotated[
    OutMessage,
    PlainValidator(parse_message),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["/showctl/scene/warm 1", "note_on channel=0 note=60"]}),
]
Messages = Annotated[tuple[Message, ...], BeforeValidator(_as_list)]
Percent = Annotated[float, BeforeValidator(parse_percent)]


def _known(name: str, profiles: dict[str, OscProfile] | dict[str, MidiProfile], transport: str) -> str:
    if name not in profiles:
        raise ValueError(f"unknown {transport} profile '{name}'{did_you_mean(name, profiles)} "
                         f"(profiles: {', '.join(profiles)})")
    return name


class OscOutputConfig(Strict):
    transport: Literal["osc"]
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)
    profile: str = Field(default="generic", description=f"console profile: {', '.join(OSC_PROFILES)}")
    latency_ms: float = Field(default=0.0, description="send this much early (negative: late), in ms")
    strobe_addresses: tuple[str, ...] = Field(
        default=(), description="more addresses that fire the console's strobe (the 3 Hz rule counts them)")

    @field_validator("profile")
    @classmethod
    def _profile_known(cls, name: str) -> str:
        return _known(name, OSC_PROFILES, "OSC")

    @property
    def osc_profile(self) -> OscProfile:
        return OSC_PROFILES[self.profile]

    def is_strobe(self, message: OscMessage) -> bool:
        """Whether `message` fires a strobe: by its profile, or at one of this output's `strobe_addresses`."""
        on = not message.args or any(a != 0 for a in message.args)
        return self.osc_profile.is_strobe(message) or (on and message.address in self.strobe_addresses)

    def problem(self, message: OutMessage) -> str | None:
        return self.osc_profile.problem(message) if isinstance(message, OscMessage) else None


class MidiOutputConfig(Strict):
    transport: Literal["midi"]
    port: str = Field(min_length=1, description="MIDI port to send to, by name (JACK: 'client:port')")
    api: Literal["auto", "jack", "alsa"] = "auto"
    clock: bool = Field(default=False, description="send MIDI clock (24 ppqn) following the analysed tempo")
    profile: str = Field(default="generic", description=f"console profile: {', '.join(MIDI_PROFILES)}")
    latency_ms: float = Field(default=0.0, description="send this much early (negative: late), in ms")
    strobe_notes: tuple[Annotated[int, Field(ge=0, le=127)], ...] = Field(
        default=(), description="notes the receiver maps to a strobe (the 3 Hz rule counts them as flashes)")

    @field_validator("profile")
    @classmethod
    def _profile_known(cls, name: str) -> str:
        return _known(name, MIDI_PROFILES, "MIDI")

    def is_strobe(self, message: MidiMessage) -> bool:
        """Whether `message` fires a strobe: a note on of a strobe note of the profile or of this output."""
        profile = self.midi_profile
        mapped = dataclasses.replace(profile, strobe_notes=profile.strobe_notes | frozenset(self.strobe_notes))
        return mapped.is_strobe(message)

    @model_validator(mode="after")
    def _clock_profile_has_clock(self) -> MidiOutputConfig:
        if MIDI_PROFILES[self.profile].needs_clock and not self.clock:
            raise ValueError(f"profile '{self.profile}' sends MIDI clock: set 'clock: true'")
        return self

    @property
    def midi_profile(self) -> MidiProfile:
        return MIDI_PROFILES[self.profile]

    def problem(self, message: OutMessage) -> str | None:
        return self.midi_profile.problem(message) if isinstance(message, MidiMessage) else None


OutputConfig = Annotated[OscOutputConfig | MidiOutputConfig | DmxOutputConfig, Field(discriminator="transport")]


class Rig(Strict):
    name: str
    floor_light: Percent = 0.3
    outputs: dict[str, OutputConfig] = Field(min_length=1)
    safe_scene: dict[str, Messages]
    blackout: dict[str, Messages] = Field(default_factory=dict, description="the instructor's blackout key")
    floor_scene: dict[str, Messages] = Field(
        default_factory=dict, description="the look that keeps floor_light: blackout during backwards segments")
    fixture_types: dict[str, FixtureType] = Field(default_factory=dict, description="DMX fixture models (channels)")
    fixtures: dict[str, Fixture] = Field(default_factory=dict, description="DMX patch: type, universe, address")
    groups: dict[str, GroupMembers] = Field(default_factory=dict, description="named sets of fixtures")

    @model_validator(mode="after")
    def _safe_scene_covers_outputs(self) -> Rig:
        # Checked by load_rig with locations; kept here too so a Rig built in code is never unsafe.
        missing = sorted(set(self.outputs) - set(self.safe_scene))
        if missing:
            raise ValueError(f"safe_scene has nothing for output(s) {', '.join(missing)}")
        return self

    def transport_of(self, output: str) -> str:
        return self.outputs[output].transport

    @property
    def clocked_outputs(self) -> tuple[str, ...]:
        """The MIDI outputs that send MIDI clock (`clock: true`)."""
        return tuple(n for n, o in self.outputs.items() if isinstance(o, MidiOutputConfig) and o.clock)


def device_label(name: str, config: OscOutputConfig | MidiOutputConfig | DmxOutputConfig) -> str:
    """How errors name an output: `output 'console' (OSC 127.0.0.1:9000)`."""
    if isinstance(config, OscOutputConfig):
        return f"output '{name}' (OSC {config.host}:{config.port})"
    if isinstance(config, DmxOutputConfig):
        return f"output '{name}' (DMX {config.protocol} {config.host}:{config.udp_port})"
    return f"output '{name}' (MIDI port '{config.port}')"


def check_messages_for_outputs(
    doc: YamlDocument, node: tuple[str | int, ...], sends: dict[str, tuple[OutMessage, ...]], rig: Rig, what: str
) -> list[Problem]:
    """Every output named in `sends` exists in `rig` and gets messages of its transport."""
    problems: list[Problem] = []
    for output, messages in sends.items():
        if output not in rig.outputs:
            hint = did_you_mean(output, rig.outputs)
            problems.append(Problem(doc.location((*node, output), key=True),
                                    f"{what}: the rig '{rig.name}' has no output '{output}'{hint}"))
            continue
        transport = rig.transport_of(output)
        for i, message in enumerate(messages):
            kind = "osc" if isinstance(message, OscMessage) else "dmx" if isinstance(message, DmxMessage) else "midi"
            if kind != transport:
                problems.append(Problem(doc.location((*node, output, i)),
                                        f"{what}: output '{output}' is {transport.upper()}, "
                                        f"but '{message}' is a {kind.upper()} message"))
                continue
            config = rig.outputs[output]
            if isinstance(config, DmxOutputConfig):
                reason = dmx_message_problem(rig, output, message) if isinstance(message, DmxMessage) else None
                if reason is not None:
                    problems.append(Problem(doc.location((*node, output, i)), f"{what}: output '{output}': {reason}"))
                continue
            reason = config.problem(message)
            if reason is not None:
                problems.append(Problem(doc.location((*node, output, i)),
                                        f"{what}: output '{output}' (profile {config.profile}): {reason}"))
    return problems


def validate_rig(doc: YamlDocument) -> Rig:
    """A rig file's document as a `Rig`, every rule checked but the floor light's (`showctl.rig.load`);
    ProblemsError lists every problem as PATH:LINE:COL: message."""
    if isinstance(doc.data, dict) and isinstance(doc.data.get("outputs"), dict) and isinstance(
        doc.data.get("safe_scene"), dict
    ):
        missing = [o for o in doc.data["outputs"] if o not in doc.data["safe_scene"]]
        if missing:
            raise ProblemsError([
                Problem(doc.location(("safe_scene",), key=True),
                        f"safe_scene has nothing for output '{o}': every output needs its safe state")
                for o in missing
            ])
    rig = validate_document(doc, Rig)
    problems = check_messages_for_outputs(doc, ("safe_scene",), rig.safe_scene, rig, "safe_scene")
    problems += check_messages_for_outputs(doc, ("blackout",), rig.blackout, rig, "blackout")
    problems += check_messages_for_outputs(doc, ("floor_scene",), rig.floor_scene, rig, "floor_scene")
    problems += [Problem(doc.location(node, key=key), message) for node, key, message in patch_problems(rig)]
    if problems:
        raise ProblemsError(problems)
    return rig
