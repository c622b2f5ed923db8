"""Player: making the timeline happen on time."""

from showctl.player.clock import Clock, FakeClock, MonotonicClock
from showctl.player.player import OutputHealth, Player, PlayResult

__all__ = ["Clock", "FakeClock", "MonotonicClock", "OutputHealth", "PlayResult", "Player"]
