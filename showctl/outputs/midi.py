"""MIDI out through python-rtmidi (messages built by mido): ALSA where there is a sequencer, else JACK."""

from __future__ import annotations

import os
from pathlib import Path

import rtmidi

from showctl.errors import DeviceError
from showctl.messages import MidiMessage, OutMessage
from showctl.outputs.rig import MidiOutputConfig, device_label

__all__ = ["MidiOutput", "midi_api"]

CLIENT_NAME = "showctl"


def midi_api(api: str) -> int:
    """The rtmidi API for a rig's `api:` setting; `auto` picks ALSA only where its sequencer exists."""
    if api == "jack" or (api == "auto" and not Path("/dev/snd/seq").exists()):
        # Never let a JACK client start a server of its own behind the studio's back.
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        return int(rtmidi.API_UNIX_JACK)
    return int(rtmidi.API_LINUX_ALSA)


class MidiOutput:
    def __init__(self, name: str, config: MidiOutputConfig) -> None:
        self.name = name
        self.latency = config.latency_ms / 1000.0
        self.device = device_label(name, config)
        self.port = config.port
        try:
            self._out = rtmidi.MidiOut(rtapi=midi_api(config.api), name=CLIENT_NAME)
        except rtmidi.SystemError as err:
            raise DeviceError(self.device, f"no MIDI system ({err}); is jackd running?") from None
        ports = self._out.get_ports()
        if config.port not in ports:
            self._out.delete()
            available = ", ".join(ports) if ports else "none"
            raise DeviceError(self.device, f"no such MIDI port (available: {available})")
        try:
            self._out.open_port(ports.index(config.port), name=name)
        except rtmidi.RtMidiError as err:
            raise DeviceError(self.device, f"cannot open ({err})") from None

    def send(self, message: OutMessage) -> None:
        if not isinstance(message, MidiMessage):
            raise TypeError(f"{self.device} cannot send OSC message {message}")
        try:
            self._out.send_message(message.to_mido().bytes())
        except rtmidi.RtMidiError as err:
            raise DeviceError(self.device, f"send failed ({err})") from None

    def check(self) -> None:
        """Raise DeviceError when the port we send to has gone (its program quit, a cable was pulled)."""
        try:
            present = self.port in self._out.get_ports()
        except rtmidi.RtMidiError as err:
            raise DeviceError(self.device, f"MIDI system gone ({err})") from None
        if not present:
            raise DeviceError(self.device, "the MIDI port went away")

    def close(self) -> None:
        self._out.close_port()
        self._out.delete()
