"""Timeline: the pure compile step, cue sheet + analyses + rig → sorted, explained events."""

from showctl.timeline.compile import PlanEdit, compile_timeline
from showctl.timeline.flashes import FLASH_LIMIT_HZ
from showctl.timeline.model import Event, PlanRow, Timeline, TrackSlot

__all__ = ["FLASH_LIMIT_HZ", "Event", "PlanEdit", "PlanRow", "Timeline", "TrackSlot", "compile_timeline"]
