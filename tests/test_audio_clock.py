"""The audio clock: never a hang, an exception or a dead stream at a class's end."""

from __future__ import annotations

import time

import pytest

from showctl.player.audio import AudioClock

# --- now() racing close() -----------------------------------------------------------------------------------


class _ClosedBetweenReads:
    """`_stream` as `close()` on another thread leaves it between two reads: there at the first, None after."""

    def __init__(self, stream: object) -> None:
        self.stream: object | None = stream

    def __get__(self, clock: object, owner: type | None = None) -> object | None:
        stream, self.stream = self.stream, None
        return stream

    def __set__(self, clock: object, value: object) -> None:
        pass  # AudioClock.__init__ sets None


def test_now_reads_the_stream_once_however_close_races_it() -> None:
    class Stream:
        time = 100.25

    class Raced(AudioClock):
        _stream = _ClosedBetweenReads(Stream())

    clock = Raced([], start=10.0)
    clock._anchor, clock._anchor_wall = (12.0, 100.0), time.monotonic()
    assert clock.now() == pytest.approx(12.25)  # the old code read it twice: AttributeError on None
    assert clock.now() == 10.0  # closed: the class's start, as before the first callback
