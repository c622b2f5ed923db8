"""Starting mid-class: where each MIDI clock stands at class time t (song position pointer). Pure.

A MIDI clock follower counts ticks from `start`. When a class starts at t instead of 0, each clocked output
gets `songpos` (position in 16th notes = 6 ticks since the clock's `start`) and `continue`, then ticks
resume from that position. The follower takes the first tick after `continue` as the tick *at* the song
position, so the resume waits for the next 16th-note boundary at or after t; the ticks between t and it are
not sent.
"""

from __future__ import annotations

from showctl.messages import MidiMessage
from showctl.timeline.model import KIND_ORDER, Event, Timeline

__all__ = ["TICKS_PER_16TH", "clock_state_at", "events_from_seek"]

TICKS_PER_16TH = 6  # 24 ppqn / 4 sixteenths a beat
SPP_MAX = 16383  # song position is 14 bits


def clock_state_at(timeline: Timeline, t: float) -> list[Event]:
    """`songpos` + `continue` for each output whose MIDI clock runs at class time `t` (after its `start`,
    before its `stop`), timed at the first 16th-note tick at or after `t`. Empty at t ≤ the clock's start."""
    started: dict[str, float] = {}
    ticks: dict[str, list[float]] = {}
    stopped: set[str] = set()
    for event in timeline.events:
        if event.kind == "transport" and isinstance(event.message, MidiMessage):
            if event.message.text == "start":
                started[event.output] = event.t
                ticks[event.output] = []
            elif event.message.text == "stop" and event.output in started and event.t < t:
                stopped.add(event.output)
        elif event.kind == "clock" and event.output in ticks:
            ticks[event.output].append(event.t)
    result: list[Event] = []
    for output, start in started.items():
        if t <= start or output in stopped:
            continue
        times = ticks[output]
        before = sum(1 for tick in times if tick < t - 1e-9)
        sixteenth = -(-before // TICKS_PER_16TH)  # ceil: the next 16th-note boundary
        tick = sixteenth * TICKS_PER_16TH
        if tick >= len(times) or sixteenth > SPP_MAX:
            continue  # no 16th left before the clock stops: it just stops
        at = times[tick]
        reason = f"start mid-class: MIDI clock resumes at 16th note {sixteenth} (bar {sixteenth // 16 + 1})"
        result.append(Event(at, output, MidiMessage(f"songpos pos={sixteenth} time=0"), reason, "transport"))
        result.append(Event(at, output, MidiMessage("continue"), reason, "transport"))
    return result


def events_from_seek(timeline: Timeline, t: float) -> tuple[Event, ...]:
    """The events to play when the class starts at `t`: `timeline.events_from(t)` with each running MIDI clock
    resumed by `clock_state_at` (its ticks before the resume point dropped). At t = 0 it is events_from(0)."""
    resume = clock_state_at(timeline, t)
    if not resume:
        return timeline.events_from(t)
    resume_at = {e.output: e.t for e in resume}
    kept = [e for e in timeline.events_from(t)
            if not (e.kind == "clock" and e.t < resume_at.get(e.output, float("-inf")) - 1e-9)]
    # Stable sort: at the resume instant songpos and continue (transport) go before the tick (clock).
    return tuple(sorted([*resume, *kept], key=lambda e: (e.t, KIND_ORDER[e.kind])))
