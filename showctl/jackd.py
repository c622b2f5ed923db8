"""The JACK server this process uses, seen from outside any JACK client: whether it is still there, and what to
do with a client of one that died (JACK MIDI in `outputs.midi` and the simulated rig, PortAudio's JACK host API
in `portaudio`)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

__all__ = ["ServerSocket", "abandon", "close_rtmidi"]


class ServerSocket:
    """The server's request socket, /dev/shm/jack_<server>_<uid>_0, as it was when this was made.

    jackd removes it as it stops (SIGTERM, a quit), often before its clients hear of it: a client hears through a
    callback, which for Python code needs the GIL, and a thread stuck inside libjack may hold that. A stat (~1 µs)
    needs neither. A server started again under the same name makes a new socket (another inode): still gone for
    the clients of the old one.
    """

    def __init__(self) -> None:
        server = os.environ.get("JACK_DEFAULT_SERVER") or "default"
        self.path = Path(f"/dev/shm/jack_{server}_{os.getuid()}_0")
        self._inode = self._current()  # None where this JACK keeps no socket there: then never `gone`

    def _current(self) -> int | None:
        try:
            return self.path.stat().st_ino
        except OSError:
            return None

    def gone(self) -> bool:
        """Whether the server seen when this was made has stopped (its socket removed or replaced)."""
        return self._inode is not None and self._current() != self._inode


def abandon(jack_client: object) -> None:
    """Never free `jack_client` (a JACK client of a server that died: rtmidi's or JACK-Client's, or a PortAudio
    stream on one): closing it, even by the garbage collector or at interpreter exit, crashes the process
    (segmentation fault) inside libjack, or waits for the dead server. A few kB leaked once per JACK crash,
    against a safe scene that could never be sent."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(jack_client))


def close_rtmidi(port: Any, *, server_gone: bool) -> None:
    """Close and free an rtmidi MidiIn or MidiOut, or abandon it when `server_gone` (its JACK server has stopped,
    as its `ServerSocket` or a JackWatch says: a shutdown callback alone may not have run yet).

    A dead server's client must never be closed. Once the server stops, the next JACK client this process opens
    (a reconnecting output, a simulated desk, a server started again under the same name) makes libjack close
    and delete every client of the old server behind rtmidi's back (JackLibGlobals: "Jack server was closed but
    clients are still allocated, cleanup..."). A later `close_port` then calls through the freed client: a
    segmentation fault in jack_port_unregister (a CI run and a test loop died so)."""
    if server_gone:
        abandon(port)
        return
    port.close_port()
    port.delete()
