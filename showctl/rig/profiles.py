"""Console profiles: what each kind of receiver accepts, as data. Adding a console is adding a profile here.

A rig output names its profile (`profile: qlcplus`); `showctl check` then holds every message the cue
files send to that output to the profile, so a tech hears about `/scene 1 2` before the class, not when
QLC+ silently turns it into two input channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from showctl.messages import REALTIME_TYPES, MidiMessage, OscMessage

__all__ = ["MIDI_PROFILES", "OSC_PROFILES", "TRANSPORT_TYPES", "MidiProfile", "OscProfile"]

TRANSPORT_TYPES = REALTIME_TYPES | {"songpos"}


@dataclass(frozen=True)
class OscProfile:
    name: str
    summary: str
    max_args: int | None = None  # None: any number of arguments
    int_range: tuple[int, int] | None = None  # None: any int
    float_range: tuple[float, float] | None = None  # None: any float
    strings: bool = True  # may an argument be a string?
    # An address with a part containing one of these words fires the console's strobe (the 3 Hz rule counts it
    # as a flash whatever the cue file's `flash:` says); all-zero arguments turn it off instead.
    strobe_words: tuple[str, ...] = ("strobe",)
    # How much light a message puts on the floor (showctl.rig.floor_light), by the last part of its path:
    # `/…/blackout 1` darkens everything (0 lifts it), `/…/dimmer 0.4` sets the master to 40 %.
    blackout_names: tuple[str, ...] = ("blackout",)
    level_names: tuple[str, ...] = ("dimmer", "master", "grandmaster", "intensity", "floor")
    int_full: int | None = None  # an int argument at full; None: 0 and 1 are off and full, more is out of 255

    @property
    def rule(self) -> str:
        """What this profile accepts, in words (for error messages)."""
        parts = []
        if self.max_args is not None:
            parts.append(f"at most {self.max_args} argument(s) per path")
        if self.float_range is not None:
            parts.append(f"floats {self.float_range[0]:g}..{self.float_range[1]:g}")
        if self.int_range is not None:
            parts.append(f"ints {self.int_range[0]}..{self.int_range[1]}")
        if not self.strings:
            parts.append("no strings")
        return ", ".join(parts) or "anything"

    def is_strobe(self, message: OscMessage) -> bool:
        """Whether `message` fires a strobe: a strobe address with no arguments or some non-zero one."""
        parts = [p.lower() for p in message.address.split("/")]
        if not any(word in p for p in parts for word in self.strobe_words):
            return False
        return not message.args or any(a != 0 for a in message.args)

    def problem(self, message: OscMessage) -> str | None:
        """Why `message` does not suit this profile, or None."""
        if self.max_args is not None and len(message.args) > self.max_args:
            return f"'{message}' has {len(message.args)} arguments; send one value per path"
        for arg in message.args:
            if isinstance(arg, str):
                if not self.strings:
                    return f"'{message}' has a string argument {arg!r}"
            elif isinstance(arg, int) and not isinstance(arg, bool):
                if self.int_range is not None and not self.int_range[0] <= arg <= self.int_range[1]:
                    return f"'{message}': {arg} is outside ints {self.int_range[0]}..{self.int_range[1]}"
            elif isinstance(arg, float) and self.float_range is not None and not (
                self.float_range[0] <= arg <= self.float_range[1]
            ):
                return f"'{message}': {arg:g} is outside floats {self.float_range[0]:g}..{self.float_range[1]:g}"
        return None

    def floor_level(self, message: OscMessage) -> float | None:
        """The light `message` leaves on the floor (0..1): 0 for a blackout, a master level as sent; None when
        the profile knows nothing of the message (a scene button, a pulse)."""
        name = message.address.rstrip("/").rsplit("/", 1)[-1].lower()
        value = message.args[0] if message.args else None
        if name in self.blackout_names:
            off = value is not None and (value in (0, 0.0) or str(value).lower() in ("0", "off", "false"))
            return 1.0 if off else 0.0
        if name in self.level_names and isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, int):
                full = self.int_full if self.int_full is not None else (1 if value <= 1 else 255)
                return min(1.0, max(0.0, value / full))
            return min(1.0, max(0.0, value))
        return None


@dataclass(frozen=True)
class MidiProfile:
    name: str
    summary: str
    message_types: frozenset[str] | None = None  # None: any MIDI message
    needs_clock: bool = False  # the output must have `clock: true`
    strobe_notes: frozenset[int] = frozenset()  # notes the receiver maps to a strobe (flashes, for the 3 Hz rule)

    def is_strobe(self, message: MidiMessage) -> bool:
        """Whether `message` fires a strobe: a note on (velocity > 0) of one of `strobe_notes`."""
        if message.type != "note_on" or not self.strobe_notes:
            return False
        msg = message.to_mido()
        return bool(msg.velocity > 0 and msg.note in self.strobe_notes)

    def problem(self, message: MidiMessage) -> str | None:
        if message.type in TRANSPORT_TYPES:
            return None  # clock and transport always go: a safe scene may stop the clock
        if self.message_types is not None and message.type not in self.message_types:
            allowed = ", ".join(sorted(self.message_types)) or "no cue messages at all (clock only)"
            return f"'{message}' is a {message.type}; this profile takes {allowed}"
        return None


OSC_PROFILES: dict[str, OscProfile] = {
    p.name: p
    for p in (
        OscProfile("generic", "messages go out exactly as written in the cue file"),
        # QLC+ maps each OSC path to one input channel (several arguments become path_0, path_1...),
        # reads a float f as int(255·f) and passes ints 0..255 through (256 and up break it).
        OscProfile("qlcplus", "QLC+ Virtual Console widgets by OSC path (see showctl export-qlc)",
                   max_args=1, int_range=(0, 255), float_range=(0.0, 1.0), strings=False, int_full=255),
    )
}

MIDI_PROFILES: dict[str, MidiProfile] = {
    p.name: p
    for p in (
        MidiProfile("generic", "any MIDI message as written in the cue file"),
        MidiProfile("notes", "note on/off, CC and program change, for consoles and apps that map MIDI to cues",
                    message_types=frozenset({"note_on", "note_off", "control_change", "program_change"})),
        MidiProfile("clock", "MIDI clock only (24 ppqn, start/stop/continue, song position)",
                    message_types=frozenset(), needs_clock=True),
    )
}
