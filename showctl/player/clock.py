"""Clocks: where the player gets the time. Injected, so tests use a fake that jumps instantly.

Every clock counts class seconds. Waiting is always to an absolute deadline, never `sleep(delta)`
in a loop, so errors never add up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "FakeClock", "LateClock", "MonotonicClock", "wait_out"]

# Sleep on a timer until this close to a deadline, then spin, yielding (other threads: MIDI callbacks, the
# audio callback). Tried in session 3: a spin that holds the CPU for the last 0.3–0.6 ms costs half the CPU
# but was 2–3× later at p99 on a loaded machine (median of 5 runs each); the send itself (encode + loopback
# delivery, ~0.1 ms) is most of the p50 either way.
_SPIN = 0.0015
_PAUSED_POLL = 0.02


def wait_out(left: Callable[[], float]) -> None:
    """Return as soon as `left()` (real seconds to a deadline) is ≤ 0: a timer sleep to `_SPIN` before it,
    then a spin of at most `_SPIN` that lets other threads run."""
    while (remaining := left()) > 0:
        if remaining > _SPIN:
            time.sleep(remaining - _SPIN)  # absolute deadline: the next pass measures again
        else:
            time.sleep(0)  # yield the GIL and the CPU while spinning


class Clock(Protocol):
    # Class seconds per real second: 1 for a class, more for a rehearsal (`--speed`). Controls use it to
    # land far enough ahead in real time for the timeline to be rebuilt before their bar.
    speed: float

    def now(self) -> float:
        """Class time in seconds."""
        ...

    def sleep_until(self, t: float) -> None:
        """Return at class time `t` (at once when it has passed), or sooner while paused."""
        ...

    def pause(self) -> None:
        """Stop class time (the instructor's pause): `now()` holds until `resume()`."""
        ...

    def resume(self) -> None: ...


class MonotonicClock:
    """`time.monotonic`, optionally `speed`× faster (rehearsals), starting at class time `start`."""

    def __init__(self, speed: float = 1.0, start: float = 0.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._paused_at: float | None = None
        self.restart(start)

    def restart(self, start: float = 0.0) -> None:
        """Class time `start` is now."""
        self._origin = time.monotonic() - start / self.speed

    def now(self) -> float:
        if self._paused_at is not None:
            return self._paused_at
        return (time.monotonic() - self._origin) * self.speed

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self.now()

    def resume(self) -> None:
        if self._paused_at is not None:
            self.restart(self._paused_at)
            self._paused_at = None

    def sleep_until(self, t: float) -> None:
        if self._paused_at is not None:
            time.sleep(_PAUSED_POLL)  # paused: class time stands still; the caller checks again
            return
        deadline = self._origin + t / self.speed
        wait_out(lambda: deadline - time.monotonic())


class FakeClock:
    """A clock that jumps to each deadline instantly; records how far it was asked to go."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self.speed = 1.0

    def now(self) -> float:
        return self.t

    def sleep_until(self, t: float) -> None:
        self.t = max(self.t, t)

    def pause(self) -> None:
        pass  # a fake clock only moves when asked to

    def resume(self) -> None:
        pass


class LateClock:
    """Class time for what is built before the class clock exists (the outputs open before the music starts
    that clock): `start` until `clock` is set, then `clock.now()`."""

    def __init__(self, start: float = 0.0) -> None:
        self.start = start
        self.clock: Clock | None = None

    def now(self) -> float:
        clock = self.clock
        return self.start if clock is None else clock.now()
