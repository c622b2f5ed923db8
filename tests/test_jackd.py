"""Seeing the JACK server stop from outside any JACK client: by its request socket in /dev/shm."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from showctl.jackd import ServerSocket


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
