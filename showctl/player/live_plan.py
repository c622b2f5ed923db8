"""The class plan in wall-clock time over a predicted beat grid (`showctl run --live`). Pure: times are given.

With the music playing elsewhere there is no analysis to compile ahead: the plan runs in class seconds as
written, and each musical moment is decided shortly before it happens from the grid the source predicts
now. `LivePlan` is the cue sheet turned into parts (segments and interval phases, each with its look);
`LivePlanner.take(grid, until)` decides every moment before `until` exactly once and returns its events:

- a part starts on the predicted downbeat nearest its planned time (within `max_snap` bars, else at the
  planned time, as the compiler snaps);
- effects tick on predicted beats (every beat / bar / half beat …); everything that can flash keeps the 3 Hz
  rule of the compiled class (showctl.timeline.flashes: at most 3 flashes in any second, whatever effects
  add up to at the live tempo): a flash the window has no room for is left out, and the ticks say so;
- MIDI outputs with `clock: true` get MIDI clock as in a timeline class: `start` on the first predicted
  downbeat, 24 ticks a beat on the grid (`showctl.player.clock_out`), `stop` at the end; under an overlay the
  player still sends it, so a console's chases keep time;
- the class ends, with the safe scene, at the cap or the end of the last part.

Lengths in bars count bars of the tempo playing when the part starts. `end of track` means nothing without
tracks: only the last segment may use it (the class then runs to its `cap`, or until the instructor quits).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from showctl.cues.check import check_against_rig
from showctl.cues.load import LoadedCueSheet, resolve_look
from showctl.errors import Problem, ProblemsError
from showctl.live.model import PredictedGrid
from showctl.messages import CLOCK_PPQN, MidiMessage, OutMessage
from showctl.player.clock_out import LiveClockOut
from showctl.rig import Rig
from showctl.timeline.compile import _note_off, _title
from showctl.timeline.flashes import (
    FLASH_LIMIT_HZ,
    MAX_FLASHES,
    FlashWindow,
    sends_strobe,
    steady_flashes,
    strobe_problems,
)
from showctl.timeline.model import KIND_ORDER, Event, EventKind
from showctl.units import format_clock

__all__ = ["DEFAULT_TEMPO", "LivePart", "LivePlan", "LivePlanner", "live_plan"]

DEFAULT_TEMPO = 120.0  # BPM: bars are counted at this tempo while no source has a beat yet
_MIN_PHASE = 0.25  # s: a part shorter than this after snapping would be a glitch (as in compile)
_EPS = 1e-6

_Add = Callable[[float, str, OutMessage, str, EventKind], None]  # collects one event: t, output, message, reason


@dataclass(frozen=True)
class LivePart:
    """One segment, or one work/rest phase of one interval round, as written."""

    segment: int
    round: int | None
    phase: str | None
    title: str
    kind: str
    scene: str
    effects: tuple[str, ...]
    snap: str
    seconds: float | None  # its length in time; None: counted in `bars`, or (last part) open-ended
    bars: int | None


@dataclass(frozen=True)
class LivePlan:
    loaded: LoadedCueSheet
    rig: Rig
    parts: tuple[LivePart, ...]
    cap: float | None
    clocked: tuple[str, ...]  # the MIDI outputs that get MIDI clock (`clock: true` in the rig)

    @property
    def sheet_name(self) -> str:
        return self.loaded.sheet.name


def live_plan(loaded: LoadedCueSheet, rig: Rig) -> LivePlan:
    """The cue sheet as live parts; ProblemsError (located) for what cannot run live, and for what `showctl
    check` refuses against `rig` (the floor rule above all: a live class is held to the same cue file rules)."""
    sheet = loaded.sheet
    parts: list[LivePart] = []
    problems: list[Problem] = check_against_rig(loaded, rig)
    for i, segment in enumerate(sheet.segments):
        snap = segment.snap or sheet.snap
        iv = segment.intervals
        if iv is not None:
            for r in range(iv.rounds):
                for phase, seconds in (("work", iv.work), ("rest", iv.rest)):
                    if seconds <= 0:
                        continue
                    look = resolve_look(sheet, i, phase)
                    assert not isinstance(look, str)  # load_cue_sheet reports missing looks
                    parts.append(LivePart(i, r + 1, phase, _title(segment, r + 1, phase), segment.kind, look.scene,
                                          look.effects, snap, seconds, None))
            continue
        length = segment.length
        assert length is not None  # the schema requires length or intervals
        look = resolve_look(sheet, i, None)
        assert not isinstance(look, str)
        if length.kind == "track_end" and i != len(sheet.segments) - 1:
            problems.append(Problem(
                loaded.location(("segments", i, "length")),
                f"'{segment.title}' lasts until the end of the track, but a live class has no tracks to end: "
                "give it a time ('3:00') or bars ('16 bars'); only the last segment may run to the end"))
            continue
        timed = length.value if length.kind == "time" else None
        bars = int(length.value) if length.kind == "bars" else None
        parts.append(LivePart(i, None, None, segment.title, segment.kind, look.scene, look.effects, snap, timed,
                              bars))
    problems += strobe_problems(loaded, rig)
    if problems:
        raise ProblemsError(problems)
    return LivePlan(loaded, rig, tuple(parts), sheet.cap, rig.clocked_outputs)


@dataclass
class _Fixed:
    """A part whose start is decided: where it was planned and where it landed."""

    planned: float
    start: float


@dataclass
class LivePlanner:
    """Decides each moment of a live class once, from the grid given at the time (class seconds).

    `take` is deterministic in its arguments and the moments already decided; the scheduler calls it with
    the freshest grid just before each send, so a tempo change reaches the next beat, not the next bar.
    """

    plan: LivePlan
    decided_until: float = 0.0
    fixed: list[_Fixed] = field(default_factory=list)
    last_tick: dict[str, float] = field(default_factory=dict)  # effect → class time of its latest tick
    clock: LiveClockOut = field(default_factory=LiveClockOut)  # the MIDI clock of every clocked output
    flashes: FlashWindow = field(default_factory=FlashWindow)  # the 3 Hz rule: flashes sent lately
    look_flashes: dict[tuple[int, float, int], tuple[frozenset[str], int]] = field(default_factory=dict)
    ended: bool = False
    end: float | None = None  # class time the class ended (set when the end is decided)

    # -- the parts ----------------------------------------------------------------------------------
    def _planned_end(self, k: int, grid: PredictedGrid | None) -> tuple[float, str]:
        """Planned end of part `k` (fixed) and how it was counted."""
        part, fixed = self.plan.parts[k], self.fixed[k]
        if part.seconds is not None:
            return fixed.planned + part.seconds, ""
        if part.bars is not None:
            tempo = grid.tempo if grid is not None else DEFAULT_TEMPO
            per_bar = grid.beats_per_bar if grid is not None else 4
            counted = "" if grid is not None else f" (no beat yet: counted at {DEFAULT_TEMPO:g} BPM)"
            # Bars count from where the part really started (its downbeat), as the compiler counts them.
            return fixed.start + part.bars * per_bar * 60.0 / tempo, counted
        return math.inf, ""  # the last segment, 'end of track': until the cap or quit

    def class_end(self, grid: PredictedGrid | None) -> float:
        """When the class ends as known now (the cap, or the end of the last part)."""
        cap = self.plan.cap if self.plan.cap is not None else math.inf
        if len(self.fixed) < len(self.plan.parts):
            return cap
        return min(cap, self._planned_end(len(self.fixed) - 1, grid)[0])

    def current(self) -> LivePart | None:
        return self.plan.parts[len(self.fixed) - 1] if self.fixed else None

    def _boundary(self, planned: float, mode: str, previous: float, grid: PredictedGrid | None) -> tuple[float, str]:
        """Where a part planned at `planned` starts on `grid`, and why (the snapping rule of compile)."""
        where = f"planned {format_clock(planned)}"
        if grid is None:
            return planned, f"at {where}: no beat yet"
        if mode == "none":
            return planned, f"at {where} (snap: none)"
        max_snap = self.plan.loaded.sheet.max_snap
        bar = grid.period * grid.beats_per_bar
        if mode == "beat":
            step, name = grid.period, "beat"
            first = grid.next_beats(planned - step - _EPS, 1)[0]
        else:  # downbeat; a phrase is not known live: its downbeat is the best there is
            step, name = bar, "downbeat"
            first = grid.next_downbeat(planned - step - _EPS)
        candidates = [c for c in (first, first + step) if c > previous + _MIN_PHASE]
        if not candidates:
            return planned, f"at {where}: no {name} after the previous part"
        chosen = min(candidates, key=lambda c: (abs(c - planned), c))
        if abs(chosen - planned) > max_snap * bar + 1e-9:
            return planned, f"kept at {where}: no predicted {name} within {max_snap:g} bar"
        return chosen, (f"live: predicted {name} {format_clock(chosen)} ({chosen - planned:+.2f} s from {where}), "
                        f"{_tempo_text(grid)}")

    # -- deciding -----------------------------------------------------------------------------------
    def take(self, grid: PredictedGrid | None, until: float) -> list[Event]:
        """Decide every moment before class time `until` not decided yet; their events, in time order."""
        if self.ended or until <= self.decided_until:
            return []
        out: list[tuple[float, int, int, Event]] = []

        def add(t: float, output: str, message: OutMessage, reason: str, kind: EventKind) -> None:
            out.append((t, KIND_ORDER[kind], len(out), Event(t, output, message, reason, kind)))

        lo = self.decided_until
        self.flashes.forget_before(lo - 10.0)  # s: well past any look-back of a refitted grid (a quarter step)
        if not self.fixed:
            self._start_part(0.0, 0.0, "class start", add)
        while True:
            k = len(self.fixed) - 1
            start = self.fixed[k].start
            class_end = self.class_end(grid)
            if k + 1 < len(self.plan.parts):
                planned, counted = self._planned_end(k, grid)
                if planned >= class_end - _MIN_PHASE:
                    stop, nxt = class_end, None
                else:
                    t, note = self._boundary(planned, self.plan.parts[k + 1].snap, start, grid)
                    stop, nxt = max(t, lo), (planned, note + counted)
            else:
                stop, nxt = class_end, None
            self._effects(k, grid, max(lo, start), min(stop, until), stop, add)
            if stop >= until:
                break
            if nxt is None:
                for output, messages in self.plan.rig.safe_scene.items():
                    for message in messages:
                        add(stop, output, message, "end of class: safe scene (house lights)", "safe")
                self.ended, self.end = True, stop
                break
            self._start_part(nxt[0], stop, nxt[1], add)
            lo = stop
        self._clock(grid, self.decided_until, self.end if self.end is not None else until, add)
        self.decided_until = until
        return [e for *_, e in sorted(out, key=lambda x: x[:3])]

    def _start_part(self, planned: float, t: float, note: str, add: _Add) -> None:
        k = len(self.fixed)
        part = self.plan.parts[k]
        self.fixed.append(_Fixed(planned, t))
        for output, messages in self.plan.loaded.sheet.scenes[part.scene].send.items():
            for message in messages:
                add(t, output, message, f"{part.title} starts: scene '{part.scene}'; {note}", "scene")
                if sends_strobe(self.plan.rig, output, message):
                    self.flashes.add(t)  # a scene's strobe is state: counted, never left out

    def _clock(self, grid: PredictedGrid | None, lo: float, hi: float, add: _Add) -> None:
        """MIDI clock in [lo, hi) to every clocked output, and `stop` once the class has ended."""
        if not self.plan.clocked:
            return
        for moment in self.clock.take(grid, lo, hi) + (self.clock.stop(hi) if self.ended else []):
            kind: EventKind = "clock" if moment.message == "clock" else "transport"
            if moment.message == "stop":
                reason = "end of class: MIDI clock stops"
            else:
                assert grid is not None  # start and ticks are only decided on a grid
                reason = (f"MIDI clock starts on the predicted downbeat, {_tempo_text(grid)}"
                          if moment.message == "start" else f"MIDI clock {CLOCK_PPQN} ppqn: live: {_tempo_text(grid)}")
            message = MidiMessage(moment.message)
            for output in self.plan.clocked:
                add(moment.t, output, message, reason, kind)

    def _effects(self, k: int, grid: PredictedGrid | None, lo: float, hi: float, part_end: float, add: _Add) -> None:
        """Ticks of part `k`'s effects at predicted beats in [lo, hi) (the part ends at `part_end`)."""
        if grid is None or hi <= lo:
            return
        sheet = self.plan.loaded.sheet
        part, start = self.plan.parts[k], self.fixed[k].start
        guarded = not sheet.allow_fast_strobe
        flashing, together = self._look_flashes(k, grid)
        for name in part.effects:
            effect = sheet.effects[name]
            flash = guarded and name in flashing
            step = effect.every.in_beats(grid.beats_per_bar)
            least = 0.5 * step * grid.period
            if flash and step * grid.period < 1.0 / FLASH_LIMIT_HZ:
                # Too fast alone: every other tick (or fewer) keeps it regular, not 3 quick flashes and a gap.
                least = max(least, 1.0 / FLASH_LIMIT_HZ)
            thinned = flash and (together > MAX_FLASHES or step * grid.period < 1.0 / FLASH_LIMIT_HZ)
            # A grid refitted since the last window may put a beat a little before `lo` (a MIDI clock or a
            # tracker moves its phase by milliseconds): look back a quarter step, or that beat fell between two
            # windows and was never sent; `last_tick` keeps a beat already sent from going twice.
            back = 0.25 * step * grid.period
            for t, where in _ticks(grid, start, step, bool(effect.every.bars), lo - back, hi):
                last = self.last_tick.get(name)
                if last is not None and t - last < least - 1e-9:
                    continue
                self.last_tick[name] = t  # decided, sent or left out
                if flash:
                    if not self.flashes.admits(t):
                        continue  # the 3 Hz rule: this second has its flashes already
                    self.flashes.add(t)
                reason = f"effect '{name}' every {effect.every}: live: predicted {where}, {_tempo_text(grid)}"
                if thinned:
                    reason += f" (thinned to the {FLASH_LIMIT_HZ:g} Hz limit)"
                for output, messages in effect.send.items():
                    for message in messages:
                        add(t, output, message, reason, "effect")
                        note_off = _note_off(message)
                        if note_off is not None:
                            # Released halfway to the next tick, so consoles see a clean retrigger.
                            off = min(t + max(least, step * grid.period) / 2, part_end)
                            add(off, output, note_off, f"{reason} (note off)", "effect")


    def _look_flashes(self, k: int, grid: PredictedGrid) -> tuple[frozenset[str], int]:
        """Part `k`'s effects that can flash, and the most flashes in a second they add up to at the grid's
        tempo (over the limit, their ticks say they are thinned). Kept while the tempo holds: `take` runs often."""
        key = (k, grid.period, grid.beats_per_bar)
        if key not in self.look_flashes:
            sheet, rig = self.plan.loaded.sheet, self.plan.rig
            flashing = frozenset(name for name in self.plan.parts[k].effects if sheet.effects[name].flash or any(
                sends_strobe(rig, output, m) for output, messages in sheet.effects[name].send.items()
                for m in messages))
            steps = [sheet.effects[name].every.in_beats(grid.beats_per_bar) for name in flashing]
            self.look_flashes = {key: (flashing, steady_flashes(steps, grid.period))}
        return self.look_flashes[key]


REFIT_SLACK = 0.005  # s: how far a refitted grid may move a beat the part started on (measured: < 0.3 ms)


def _ticks(grid: PredictedGrid, start: float, step: float, on_bars: bool, lo: float,
           hi: float) -> Iterator[tuple[float, str]]:
    """Predicted tick times in [lo, hi) of an effect every `step` beats in a part that started at `start`.

    Ticks count from the first beat (bar rates: the first downbeat) at or after the part's start. A beat up to
    `REFIT_SLACK` before the start is the part's first: the part started on it, and the grid was refitted
    since by a fraction of a millisecond (a MIDI clock, a tracker); skipped there, it came back once a later
    refit put it after the start, and was sent that late (~50 ms, 1 class in 5 on a loaded machine).
    """
    first = math.ceil(grid.position(start) - max(1e-6, REFIT_SLACK / grid.period))
    if on_bars:
        first += (-grid.in_bar(first)) % grid.beats_per_bar
    k = max(0, math.ceil((grid.position(lo) - first) / step - 1e-6))
    while True:
        position = first + k * step
        t = max(start, grid.anchor + position * grid.period)  # never before the part's own scene
        if t >= hi - 1e-9:
            return
        whole = math.floor(position + 1e-9)
        frac = position - whole
        beat = grid.in_bar(whole) + 1
        where = "downbeat" if beat == 1 and frac < 1e-9 else f"beat {beat + frac:g}"
        yield t, where
        k += 1


def _tempo_text(grid: PredictedGrid) -> str:
    held = "" if grid.state == "locked" else f", {grid.state}"
    return f"{grid.tempo:.1f} BPM from {grid.source}{held}"
