"""MIDI out through python-rtmidi (messages built by mido): ALSA where there is a sequencer, else JACK."""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import Any

import rtmidi

from showctl.errors import DeviceError
from showctl.messages import MidiMessage, OutMessage
from showctl.outputs.rig import MidiOutputConfig, device_label

__all__ = ["JackWatch", "MidiOutput", "abandon", "midi_api"]

CLIENT_NAME = "showctl"


def midi_api(api: str) -> int:
    """The rtmidi API for a rig's `api:` setting; `auto` picks ALSA only where its sequencer exists."""
    if api == "jack" or (api == "auto" and not Path("/dev/snd/seq").exists()):
        # Never let a JACK client start a server of its own behind the studio's back.
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        return int(rtmidi.API_UNIX_JACK)
    return int(rtmidi.API_LINUX_ALSA)


def abandon(jack_client: object) -> None:
    """Never free `jack_client` (a JACK client of a server that died: rtmidi's or JACK-Client's): closing it,
    even by the garbage collector or at interpreter exit, crashes the process (segmentation fault) inside
    libjack. A few kB leaked once per JACK crash, against a safe scene that could never be sent."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(jack_client))


class JackWatch:
    """Hears the JACK server stop, and its xruns, through a client of its own (python-rtmidi tells nothing of
    either).

    Why it matters: once the server is gone, rtmidi's JACK send waits for room in its ring buffer that nothing
    drains any more, spinning on sched_yield while holding the GIL, so no thread, signal handler or safe scene
    can run again. `MidiOutput` asks `stopped` before every send and never enters that wait.
    """

    def __init__(self, device: str) -> None:
        try:
            import jack  # JACK-Client; only where MIDI goes through JACK
        except OSError as err:  # it loads libjack when imported
            raise DeviceError(device, f"no JACK library ({err}); install jackd2") from None

        self.stopped = threading.Event()
        try:
            self._client: Any = jack.Client(f"{CLIENT_NAME}-watch", no_start_server=True)
        except jack.JackError as err:
            raise DeviceError(device, f"no JACK server ({err}); is jackd running?") from None
        self._client.set_shutdown_callback(lambda _status, _reason: self._server_stopped())
        # JACK tells every client of each xrun (some client missed its period): that period's MIDI is lost
        # between the ports involved. Counted so a loss can be explained rather than just counted.
        self.xruns = 0
        self._client.set_xrun_callback(lambda _delayed_usecs: self._xrun())
        self.realtime = bool(self._client.realtime)  # whether jackd runs its clients' periods realtime
        self._client.activate()

    def _xrun(self) -> None:
        self.xruns += 1  # one notification thread calls this: no lock needed

    def _server_stopped(self) -> None:
        abandon(self._client)
        self.stopped.set()

    def close(self) -> None:
        if not self.stopped.is_set():  # a client of a dead server is left alone: closing it could wait on it
            self._client.deactivate()
            self._client.close()


class MidiOutput:
    def __init__(self, name: str, config: MidiOutputConfig) -> None:
        self.name = name
        self.latency = config.latency_ms / 1000.0
        self.device = device_label(name, config)
        self.port = config.port
        api = midi_api(config.api)
        self._watch = JackWatch(self.device) if api == rtmidi.API_UNIX_JACK else None
        try:
            self._out = rtmidi.MidiOut(rtapi=api, name=CLIENT_NAME)
        except rtmidi.SystemError as err:
            self._close_watch()
            raise DeviceError(self.device, f"no MIDI system ({err}); is jackd running?") from None
        ports = self._out.get_ports()
        if config.port not in ports:
            self._out.delete()
            self._close_watch()
            available = ", ".join(ports) if ports else "none"
            raise DeviceError(self.device, f"no such MIDI port (available: {available})")
        try:
            self._out.open_port(ports.index(config.port), name=name)
        except rtmidi.RtMidiError as err:
            self._close_watch()
            raise DeviceError(self.device, f"cannot open ({err})") from None

    def _server_stopped(self) -> bool:
        return self._watch is not None and self._watch.stopped.is_set()

    def _close_watch(self) -> None:
        if self._watch is not None:
            self._watch.close()

    def send(self, message: OutMessage) -> None:
        if not isinstance(message, MidiMessage):
            raise TypeError(f"{self.device} cannot send OSC message {message}")
        if self._server_stopped():
            raise DeviceError(self.device, "the JACK server stopped")
        try:
            self._out.send_message(message.to_mido().bytes())
        except rtmidi.RtMidiError as err:
            raise DeviceError(self.device, f"send failed ({err})") from None

    def check(self) -> None:
        """Raise DeviceError when the port we send to has gone (its program quit, a cable was pulled)."""
        if self._server_stopped():
            raise DeviceError(self.device, "the JACK server stopped")
        try:
            present = self.port in self._out.get_ports()
        except rtmidi.RtMidiError as err:
            raise DeviceError(self.device, f"MIDI system gone ({err})") from None
        if not present:
            raise DeviceError(self.device, "the MIDI port went away")

    def close(self) -> None:
        if self._server_stopped():
            abandon(self._out)
        else:
            self._out.close_port()
            self._out.delete()
        self._close_watch()
