"""The JACK server this process uses, seen from outside any JACK client: whether it is still there, what to do
with a client of one that died (JACK MIDI in `outputs.midi` and the simulated rig, PortAudio's JACK host API in
`portaudio`), and when a new client may be opened (`before_new_client`)."""

from __future__ import annotations

import ctypes
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

from showctl.errors import DeviceError

__all__ = ["PARK_TIMEOUT", "ServerSocket", "abandon", "before_new_client", "close_rtmidi", "note_process_thread"]

PARK_TIMEOUT = 2.0  # s `before_new_client` waits for a JACK thread to leave Python


class ServerSocket:
    """The server's request socket, /dev/shm/jack_<server>_<uid>_0, as it was when this was made.

    jackd removes it as it stops (SIGTERM, a quit), often before its clients hear of it: a client hears through a
    callback, which for Python code needs the GIL, and a thread stuck inside libjack may hold that. A stat (~1 µs)
    needs neither. A server started again under the same name makes a new socket (another inode): still gone for
    the clients of the old one. A server that crashed (SIGKILL, a segmentation fault, the OOM killer) leaves the
    file behind, but nothing listens on it any more: the kernel's table of sockets (/proc/net/unix) says so.
    """

    def __init__(self) -> None:
        server = os.environ.get("JACK_DEFAULT_SERVER") or "default"
        self.path = Path(f"/dev/shm/jack_{server}_{os.getuid()}_0")
        self._inode = self._current()  # None where this JACK keeps no socket there: then never `gone`
        # Whether the kernel's table showed the server listening: only then does its absence say the server died
        # (a process in another network namespace than jackd's, or without /proc, never sees it listed).
        self._listed = self._inode is not None and _listening(self.path) is True

    def _current(self) -> int | None:
        try:
            return self.path.stat().st_ino
        except OSError:
            return None

    def removed(self) -> bool:
        """Whether the server seen when this was made has stopped cleanly (its socket removed or replaced): a stat,
        for checks before every message, where the server's shutdown callback tells of a crash."""
        return self._inode is not None and self._current() != self._inode

    def gone(self) -> bool:
        """Whether the server seen when this was made has stopped: its socket removed or replaced, or, left behind
        by a crash, no longer listened on (~20 µs, more with many sockets open)."""
        return self.removed() or (self._listed and _listening(self.path) is False)


def _listening(path: Path) -> bool | None:
    """Whether a UNIX socket listens at `path`, as /proc/net/unix lists the bound sockets of this network
    namespace; None where there is no such table to read."""
    try:
        table = Path("/proc/net/unix").read_bytes()
    except OSError:
        return None
    wanted = os.fsencode(path)
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) == 8 and fields[7] == wanted:  # Num RefCount Protocol Flags Type St Inode Path
            return True
    return False


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


# Threads of libjack that run Python (PortAudio's process thread runs our stream callbacks): native thread id ->
# the server whose thread it is. Written by the threads themselves, holding the GIL.
_process_threads: dict[int, ServerSocket] = {}


def note_process_thread(server: ServerSocket) -> None:
    """Say, from a Python callback that a JACK client's own thread runs (PortAudio's stream callbacks), that this
    thread is one of `server`'s, so `before_new_client` waits for it to be out of Python once `server` stops.
    Called at every callback: a dictionary look-up (~0.1 µs) when nothing changed."""
    tid = threading.get_native_id()
    if _process_threads.get(tid) is not server:
        _process_threads[tid] = server


def before_new_client(device: str) -> None:
    """Call before this process opens any JACK client (rtmidi's, JACK-Client's, PortAudio's): returns once no
    thread of a stopped JACK server is in Python, or could enter it. DeviceError `device` should one stay in
    Python for `PARK_TIMEOUT` s.

    Why: the first JACK client opened after a server died makes libjack close every client of the old one,
    pthread_cancel-ling their threads ("Jack server was closed but clients are still allocated, cleanup...").
    A thread cancelled while it runs a Python callback, or waits for the GIL to run one, dies holding the GIL or
    its mutex, and every thread of the process then waits for it for ever: the audio callback on PortAudio's
    process thread, when a MIDI output reconnected after JACK stopped mid-class. Such a thread is let run (the GIL
    handed over) until it waits in libjack for a period that its dead server will never start: cancelled there,
    it holds nothing of Python's.
    """
    for tid, server in list(_process_threads.items()):
        if not server.gone():  # its server runs: no client of it is cleaned up
            if not Path(f"/proc/self/task/{tid}").exists():
                _process_threads.pop(tid, None)  # a PortAudio terminated since: each initialisation has its own
            continue
        deadline = time.monotonic() + PARK_TIMEOUT
        while True:
            state = _thread_state(tid)
            if state == "gone":
                _process_threads.pop(tid, None)
                break
            if state == "parked":
                break
            if time.monotonic() > deadline:
                raise DeviceError(device, "a thread of the JACK server that stopped is still busy in Python; "
                                  "opening a JACK client now would hang showctl (try again)")
            time.sleep(0.002)  # hands the GIL over: the thread ends its callback and goes back into libjack


def _thread_state(tid: int) -> Literal["gone", "parked", "busy"]:
    """"gone" (the thread has ended), "parked" (blocked in a system call on one of libjack's semaphores: waiting
    for a period), or "busy" (anything else, the GIL's wait among it). JACK2's semaphores on Linux are futexes in
    files /dev/shm/jack_sem.* (or, built with POSIX semaphores, sem.jack_sem.*) that each client maps."""
    try:
        call = Path(f"/proc/self/task/{tid}/syscall").read_text().split()
    except FileNotFoundError:
        return "gone"
    except OSError:  # no /proc here: handing the GIL over once has to do
        time.sleep(0.05)
        return "parked"
    if len(call) < 2 or not call[0].isdigit():
        return "busy"  # "running"
    address = int(call[1], 16)  # the call's first argument: the futex waited on
    for line in Path("/proc/self/maps").read_text().splitlines():
        if "jack_sem." in line:
            low, high = (int(bound, 16) for bound in line.split(maxsplit=1)[0].split("-"))
            if low <= address < high:
                return "parked"
    return "busy"
