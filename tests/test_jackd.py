"""Seeing the JACK server stop from outside any JACK client: by its request socket in /dev/shm; and waiting, before
a new JACK client opens, for a dead server's threads to be out of Python."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from showctl import jackd
from showctl.errors import DeviceError
from showctl.jackd import ServerSocket, before_new_client, note_process_thread


def test_a_server_socket_removed_or_replaced_is_a_server_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"showctl-socket-test-{os.getpid()}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    socket = Path(f"/dev/shm/jack_{name}_{os.getuid()}_0")
    assert not ServerSocket().gone()  # no socket there (another JACK, another place): never gone
    socket.touch()
    try:
        seen = ServerSocket()
        assert seen.path == socket and not seen.gone()
        socket.unlink()
        assert seen.gone()  # the server stopped
        socket.touch()
        assert seen.gone()  # one started again under the same name: the old one's clients are still dead
        assert not ServerSocket().gone()
    finally:
        socket.unlink(missing_ok=True)


def test_a_server_socket_left_behind_by_a_crash_is_a_server_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A crashed jackd (SIGKILL, a segmentation fault) leaves its socket file; nothing listens on it any more."""
    name = f"showctl-crash-test-{os.getpid()}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    path = Path(f"/dev/shm/jack_{name}_{os.getuid()}_0")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
        listener.listen()
        seen = ServerSocket()
        assert not seen.gone() and not seen.removed()
        listener.close()  # the process died: its sockets closed, the file stays
        assert path.exists()
        assert seen.gone()
        assert not seen.removed()  # the stat alone, checked before every MIDI message, cannot tell
    finally:
        listener.close()
        path.unlink(missing_ok=True)


@pytest.fixture
def stopped_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerSocket]:
    """A ServerSocket of a server that has stopped (its socket made, seen, removed), and no JACK threads noted."""
    name = f"showctl-park-test-{os.getpid()}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)
    monkeypatch.setattr(jackd, "_process_threads", {})
    socket = Path(f"/dev/shm/jack_{name}_{os.getuid()}_0")
    socket.touch()
    try:
        server = ServerSocket()
    finally:
        socket.unlink()
    assert server.gone()
    yield server


def test_a_stopped_servers_thread_busy_in_python_refuses_a_new_client_then_lets_it_open(
        stopped_server: ServerSocket, monkeypatch: pytest.MonkeyPatch) -> None:
    # A thread that runs Python for a dead server and never goes back into libjack (here: waiting on a lock, not
    # on a JACK semaphore): cancelling it would hang the process, so the open is refused rather than made.
    monkeypatch.setattr(jackd, "PARK_TIMEOUT", 0.1)
    noted, release = threading.Event(), threading.Event()

    def callback() -> None:
        note_process_thread(stopped_server)
        noted.set()
        release.wait()

    thread = threading.Thread(target=callback)
    thread.start()
    try:
        noted.wait()
        started = time.monotonic()
        with pytest.raises(DeviceError) as refused:
            before_new_client("desk")
        assert time.monotonic() - started >= 0.1
        assert str(refused.value) == ("desk: a thread of the JACK server that stopped is still busy in Python; "
                                      "opening a JACK client now would hang showctl (try again)")
    finally:
        release.set()
        thread.join()
    before_new_client("desk")  # the thread has ended: nothing left to wait for
    assert jackd._process_threads == {}


def test_threads_of_a_running_server_are_never_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jackd, "_process_threads", {})
    running = ServerSocket()  # no socket to lose here: never gone
    release = threading.Event()
    thread = threading.Thread(target=lambda: (note_process_thread(running), release.wait()))
    thread.start()
    try:
        while not jackd._process_threads:
            time.sleep(0.001)  # polling the other thread's note
        started = time.monotonic()
        before_new_client("desk")  # its process thread cycles: it is never parked, and never cleaned up either
        assert time.monotonic() - started < 0.05
    finally:
        release.set()
        thread.join()
    before_new_client("desk")
    assert jackd._process_threads == {}  # an ended thread is forgotten


# Calls that open a JACK client (through JACK, when the API or the server makes it so): python-rtmidi's ports,
# JACK-Client's client, PortAudio's initialisation (its JACK host API opens one).
_CLIENT_OPENERS = {("rtmidi", "MidiOut"), ("rtmidi", "MidiIn"), ("jack", "Client"), ("sd", "_initialize")}


def test_every_jack_client_showctl_opens_is_opened_after_the_guard() -> None:
    """`before_new_client` must run before every JACK client this process opens: one opened without it, after a
    server died, can hang the process for good (see `jackd.before_new_client`). Each opener in showctl/ must call
    it earlier in the same function; a new opener that forgets fails here, naming the file and line."""
    import ast

    from conftest import REPO

    unguarded, openers = [], 0
    for path in sorted((REPO / "showctl").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            guards, opens = [], []
            for node in ast.walk(function):
                if not isinstance(node, ast.Call):
                    continue
                callee = node.func
                if isinstance(callee, ast.Name) and callee.id == "before_new_client":
                    guards.append(node.lineno)
                elif (isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name)
                      and (callee.value.id, callee.attr) in _CLIENT_OPENERS):
                    opens.append(node.lineno)
            openers += len(opens)
            unguarded += [f"{path.relative_to(REPO)}:{line}" for line in opens if not any(g < line for g in guards)]
    assert openers >= 6, "the openers are no longer found (renamed imports?): this test checks nothing"
    assert unguarded == [], f"JACK clients opened without jackd.before_new_client first: {unguarded}"
