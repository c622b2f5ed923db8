"""Compile a cue sheet, its tracks' analyses and a rig into a Timeline. Pure: no clocks, no sockets.

Segment changes are planned in class time as written, then moved to the nearest musical boundary
(`snap`) no further than `max_snap` bars; every event carries a reason a tech can read.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import mido

from showctl.analysis.model import TrackAnalysis
from showctl.analysis.overrides import nudge_from
from showctl.cues.floor import floor_problems
from showctl.cues.load import LoadedCueSheet, ResolvedLook, countdown_message, resolve_look
from showctl.cues.model import Segment
from showctl.errors import Problem, ProblemsError
from showctl.messages import CLOCK_PPQN, MidiMessage, OutMessage
from showctl.rig import Rig
from showctl.timeline.flashes import (
    ALLOW_REMEDY,
    FLASH_LIMIT_HZ,
    MAX_FLASHES,
    most_flashes_in_window,
    sends_strobe,
    steady_flashes,
    strobe_problems,
    thin_flashes,
)
from showctl.timeline.grid import ClassGrid, next_downbeat
from showctl.timeline.model import KIND_ORDER, Event, EventKind, PlanRow, Timeline, TrackSlot, slot_playing
from showctl.units import Length, format_clock

__all__ = ["CONTROL_LEAD", "NUDGE_BEATS", "Nudge", "PlanEdit", "compile_timeline", "nudge_step", "nudges"]

_MIN_PHASE = 0.25  # s: a snapped phase shorter than this would be a glitch, not a look
CONTROL_LEAD = 0.15  # real s: a control lands on a downbeat at least this far ahead, so nothing is sent late
# The instructor's nudge: a grid on the snare or the hats is half a beat off the kick (the cue file's `nudge:`).
NUDGE_BEATS = 0.5


@dataclass(frozen=True)
class PlanEdit:
    """An instructor's control that changes the plan, pressed at class time `at`. A `nudge` moves the grid of
    the track playing by half a beat (`nudge_step`) from `at + lead` on, not only the plan."""

    kind: Literal["next", "extend", "hold", "release", "nudge"]
    at: float
    lead: float = CONTROL_LEAD  # class s: lands on the first downbeat at least this far after `at`


@dataclass(frozen=True)
class _Boundary:
    planned: float
    t: float
    snapped_to: str
    note: str


@dataclass(frozen=True)
class _Phase:
    segment: int
    round: int | None
    phase: str | None
    planned: float
    start: _Boundary
    end: float


def nudge_step(written: float | None, earlier: int) -> float:
    """Beats the instructor's next nudge of a track moves its grid, after `earlier` nudges of it: away from
    the phase the cue file gave it (`written`: its `nudge:`), then back."""
    away = -NUDGE_BEATS if (written or 0.0) > 0 else NUDGE_BEATS
    return away if earlier % 2 == 0 else -away


@dataclass(frozen=True)
class Nudge:
    """One of the instructor's nudges, where it lands: track `track`'s beats move `step` beats from its own
    time `since` on; `earlier` nudges of that track came before it."""

    track: int
    step: float
    since: float
    earlier: int


def nudges(slots: Sequence[TrackSlot], edits: Sequence[PlanEdit]) -> tuple[Nudge, ...]:
    """The nudges among `edits`, in order, each in the track playing where it lands (a nudge landing between
    or after the tracks moves nothing). Where tracks sit does not depend on their beats."""
    found: list[Nudge] = []
    for edit in edits:
        t = edit.at + edit.lead
        k = slot_playing(slots, t)
        if edit.kind != "nudge" or k is None:
            continue
        earlier = sum(1 for n in found if n.track == k)
        found.append(Nudge(k, nudge_step(slots[k].nudge, earlier), slots[k].track_time(t), earlier))
    return tuple(found)


def _nudged(loaded: LoadedCueSheet, analyses: Sequence[TrackAnalysis],
            edits: Sequence[PlanEdit]) -> tuple[TrackAnalysis, ...]:
    """The analyses with the instructor's nudges replayed in order: the beats before each stay where the
    class played them."""
    result = list(analyses)
    for nudge in nudges(_slots(loaded, analyses), edits):
        result[nudge.track] = nudge_from(result[nudge.track], nudge.step, nudge.since)
    return tuple(result)


def _slots(loaded: LoadedCueSheet, analyses: Sequence[TrackAnalysis]) -> tuple[TrackSlot, ...]:
    slots, t = [], 0.0
    for entry, path, analysis in zip(loaded.sheet.playlist, loaded.track_paths, analyses, strict=True):
        length = max(0.0, analysis.duration - entry.start)
        slots.append(TrackSlot(str(path), analysis, t, t + length, entry.start, entry.nudge))
        t += length
    return tuple(slots)


class _Compiler:
    def __init__(self, loaded: LoadedCueSheet, analyses: Sequence[TrackAnalysis], rig: Rig) -> None:
        self.loaded, self.sheet, self.rig = loaded, loaded.sheet, rig
        self.slots = _slots(loaded, analyses)
        self.grid = ClassGrid(self.slots)
        self.problems: list[Problem] = []
        self.events: list[tuple[float, int, int, Event]] = []
        self.last_tick: dict[str, float] = {}  # effect name → class time of its latest tick
        # The 3 Hz rule's input: event index → whether it may be left out (effects; a scene's strobe may not).
        self.flashes: dict[int, bool] = {}
        self.note_offs: dict[int, int] = {}  # event index of a note on → its note off (left out with it)
        self.warnings: list[Problem] = []
        self.edits: tuple[PlanEdit, ...] = ()
        # Instructor edits, resolved: the phase (segment, round, phase) that ends early or late, and where.
        self.forced: dict[tuple[int, int | None, str | None], tuple[float, str]] = {}
        self.extra_rounds: dict[int, int] = {}

    # -- boundaries --------------------------------------------------------------------------------
    def snap(self, planned: float, mode: str, previous: float) -> _Boundary:
        if mode == "none":
            return _Boundary(planned, planned, "none", f"at {format_clock(planned)} (snap: none)")
        window = self.sheet.max_snap * self.grid.bar_length_at(planned)
        candidates = [c for c in self.grid.boundaries(mode, self.sheet.phrase_bars) if c > previous + _MIN_PHASE]
        chosen = self.grid.nearest(candidates, planned)
        if chosen is None or abs(chosen - planned) > window + 1e-9:
            return _Boundary(planned, planned, "none",
                             f"kept at {format_clock(planned)}: no {mode} within {self.sheet.max_snap:g} bar")
        slot, _, bar = self.grid.locate(chosen)
        shift = chosen - planned
        return _Boundary(planned, chosen, mode,
                         f"snapped from {format_clock(planned)} to {mode} {format_clock(chosen)} "
                         f"({shift:+.2f} s, bar {bar} of {slot.name})")

    def bars_after(self, start: float, bars: int) -> float:
        downbeats = self.grid.boundaries("downbeat", self.sheet.phrase_bars)
        i = bisect.bisect_left(downbeats, start - 1e-6)
        if i + bars < len(downbeats):
            return downbeats[i + bars]
        # Past the last analysed downbeat: continue at the tempo of the end of the playlist.
        last = downbeats[-1] if downbeats else start
        extra = i + bars - (len(downbeats) - 1)
        return max(start, last) + extra * self.grid.bar_length_at(last)

    def segment_end(self, length: Length, planned: float, start: float) -> float:
        """Planned end of a segment planned at `planned` that actually starts at `start` (bars count from there)."""
        if length.kind == "time":
            return planned + length.value
        if length.kind == "bars":
            return self.bars_after(start, int(length.value))
        return self.slots[self.grid.slot_at(planned)].end

    # -- plan ----------------------------------------------------------------------------------------
    def phases(self) -> tuple[list[_Phase], float]:
        sheet = self.sheet
        playlist_end = self.slots[-1].end
        class_end = min(playlist_end, sheet.cap) if sheet.cap is not None else playlist_end
        phases: list[_Phase] = []
        planned, previous = 0.0, -1.0
        pushed_out = False  # an instructor's edit moved the rest of the plan past the end of the class
        for i, segment in enumerate(sheet.segments):
            if pushed_out:
                break
            mode = segment.snap or sheet.snap
            length = segment.length
            iv = segment.intervals
            if iv is None:
                assert length is not None  # the schema requires length or intervals
                starts: list[tuple[int | None, str | None, float]] = [(None, None, 0.0)]
                cycle = 0.0
            else:
                rounds = iv.rounds + self.extra_rounds.get(i, 0)
                cycle = iv.work + iv.rest
                starts = [(r + 1, p, r * cycle + (iv.work if p == "rest" else 0.0))
                          for r in range(rounds) for p in ("work", "rest") if p == "work" or iv.rest > 0]
            for round_, phase, offset in starts:
                at = planned + offset
                forced = self.forced.get(_key(phases[-1])) if phases else None
                if forced is not None:
                    # The instructor ended the previous part here: everything after moves with it.
                    planned += forced[0] - at
                    at = forced[0]
                if at >= class_end - _MIN_PHASE:
                    if self.edits or forced is not None:
                        pushed_out = True
                        break
                    self.problems.append(Problem(
                        self.loaded.location(("segments", i)),
                        f"'{_title(segment, round_, phase)}' would start at {format_clock(at)}, after the class "
                        f"ends at {format_clock(class_end)} ({_end_reason(sheet.cap, playlist_end)})"))
                    if iv is None and length is not None:
                        planned = self.segment_end(length, at, at)  # so later segments are reported right
                    break
                if not phases:
                    boundary = _Boundary(0.0, 0.0, "none", "class start")
                elif forced is not None:
                    boundary = _Boundary(at, at, "downbeat", forced[1])
                else:
                    boundary = self.snap(at, mode, previous)
                phases.append(_Phase(i, round_, phase, at, boundary, 0.0))
                previous = boundary.t
                if iv is None and length is not None:
                    planned = self.segment_end(length, at, boundary.t)
            if iv is not None and not pushed_out:
                planned = planned + len([s for s in starts if s[1] == "work"]) * cycle
        end = min(planned, class_end)
        if end < class_end - _MIN_PHASE and not pushed_out:
            class_end = end
        last_forced = self.forced.get(_key(phases[-1])) if phases else None
        if last_forced is not None and last_forced[0] < class_end:
            class_end = last_forced[0]  # 'next' in the last part of the class ends the class there
        resolved: list[_Phase] = []
        for k, p in enumerate(phases):
            stop = phases[k + 1].start.t if k + 1 < len(phases) else class_end
            resolved.append(_Phase(p.segment, p.round, p.phase, p.planned, p.start, stop))
        return resolved, class_end

    # -- events --------------------------------------------------------------------------------------
    def add(self, t: float, output: str, message: OutMessage, reason: str, kind: EventKind) -> int:
        event = Event(t, output, message, reason, kind)
        self.events.append((t, KIND_ORDER[kind], len(self.events), event))
        return len(self.events) - 1

    def scene_events(self, p: _Phase, look: ResolvedLook) -> None:
        segment = self.sheet.segments[p.segment]
        for output, messages in self.sheet.scenes[look.scene].send.items():
            for message in messages:
                what = _title(segment, p.round, p.phase)
                index = self.add(p.start.t, output, message, f"{what} starts: scene '{look.scene}'; {p.start.note}",
                                 "scene")
                if sends_strobe(self.rig, output, message):
                    self.flashes[index] = False

    def effect_events(self, p: _Phase, look: ResolvedLook) -> None:
        grid = self.grid
        for name in look.effects:
            effect = self.sheet.effects[name]
            first = grid.index_at_or_after(p.start.t)
            if first >= len(grid.beats):
                continue
            if effect.every.bars:
                # Bar rates land on downbeats: start at the first downbeat of the phase.
                while first < len(grid.beats) and grid.beats[first].beat != 1:
                    first += 1
            step = effect.every.in_beats(self.slots[grid.slot_at(p.start.t)].analysis.beats_per_bar)
            position = float(first)
            while True:
                t = _time_at(grid.times, position)
                if t is None or t >= p.end - 1e-6:
                    break
                if self.too_soon(name, step, t):
                    position += step
                    continue
                self.last_tick[name] = t
                base = grid.beats[int(position)]
                frac = position - int(position)
                where = f"bar {base.bar} beat {base.beat + frac:g} of {self.slots[base.track].name}"
                reason = f"effect '{name}' every {effect.every}: {where}"
                next_t = _time_at(grid.times, position + step)
                for output, messages in effect.send.items():
                    for message in messages:
                        index = self.add(t, output, message, reason, "effect")
                        if effect.flash or sends_strobe(self.rig, output, message):
                            self.flashes[index] = True
                        note_off = _note_off(message)
                        if note_off is not None:
                            # Release the note halfway to the next step so consoles see a clean retrigger.
                            gap = (next_t if next_t is not None else t + step * grid.beat_period_at(t)) - t
                            self.note_offs[index] = self.add(min(t + gap / 2, p.end), output, note_off,
                                                             f"{reason} (note off)", "effect")
                position += step

    def too_soon(self, name: str, step_beats: float, t: float) -> bool:
        """Where two tracks meet, the last beat of one and the first of the next can be a fraction of a
        beat apart: skip a tick that would come less than half a step after the effect's previous one."""
        last = self.last_tick.get(name)
        if last is None:
            return False
        return t - last < 0.5 * step_beats * self.grid.beat_period_at(t) - 1e-9

    def clock_events(self, class_end: float) -> None:
        clocked = self.rig.clocked_outputs
        if not clocked:
            return
        times = [t for t in self.grid.boundaries("downbeat", 1) if t < class_end]
        if not times:
            return
        beats = [t for t in self.grid.times if times[0] - 1e-6 <= t < class_end]
        periods = [b - a for a, b in itertools.pairwise(beats)] or [self.grid.beat_period_at(beats[0])]
        periods.append(periods[-1])  # after the last beat, keep its tempo until the class ends
        for output in clocked:
            self.add(beats[0], output, MidiMessage("start"), "MIDI clock starts on the first downbeat", "transport")
            for a, period in zip(beats, periods, strict=True):
                reason = f"MIDI clock {CLOCK_PPQN} ppqn at {60.0 / period:.1f} BPM"
                for k in range(CLOCK_PPQN):
                    t = a + period * k / CLOCK_PPQN
                    if t >= class_end - 1e-9:
                        break
                    self.add(t, output, MidiMessage("clock"), reason, "clock")
            self.add(class_end, output, MidiMessage("stop"), "end of class: MIDI clock stops", "transport")

    def apply_edits(self, edits: Sequence[PlanEdit]) -> None:
        """Replay the instructor's edits in order, each against the plan the ones before it made."""
        self.edits = tuple(edits)
        for edit in edits:
            if edit.kind == "nudge":
                continue  # moved the grid before the plan was made (`_nudged`)
            phases, _ = self.phases()
            current = next((p for p in phases if p.start.t <= edit.at < p.end), None)
            if current is None:
                continue
            key = _key(current)
            if edit.kind == "extend":
                if self.sheet.segments[current.segment].intervals is not None:
                    self.extra_rounds[current.segment] = self.extra_rounds.get(current.segment, 0) + 1
            elif edit.kind == "hold":
                self.forced[key] = (math.inf, "held by the instructor")
            elif edit.kind == "release" and self.forced.get(key, (0.0,))[0] != math.inf:
                continue  # nothing held: a stray release changes nothing
            else:
                at = next_downbeat(self.grid, edit.at, edit.lead)
                what = "released" if edit.kind == "release" else "next"
                self.forced[key] = (at, f"instructor: {what} at {format_clock(edit.at)}, landed on the next "
                                        f"downbeat {format_clock(at)}")

    # -- cue-file checks and cues on the resolved plan (issue 5) ------------------------------------
    def check_phases(self, phases: Sequence[_Phase], class_end: float) -> None:
        """Refuse a plan that snapping squeezed (a phase under half its written length) or whose intervals
        run past the end of the class. Live instructor edits move the plan on purpose: not checked then."""
        if self.edits:
            return
        for k, p in enumerate(phases[:-1]):
            written, snapped = phases[k + 1].planned - p.planned, p.end - p.start.t
            if snapped < max(_MIN_PHASE, written / 2):
                segment = self.sheet.segments[p.segment]
                self.problems.append(Problem(
                    self.loaded.location(("segments", p.segment)),
                    f"'{_title(segment, p.round, p.phase)}' collapses to {max(snapped, 0.0):.2f} s after snapping "
                    f"(written {written:.2f} s): {p.start.note}, but the next part starts at "
                    f"{format_clock(p.end)}; make it longer or give the segment 'snap: beat' or 'snap: none'"))
        playlist_end = self.slots[-1].end
        for i, segment in enumerate(self.sheet.segments):
            iv = segment.intervals
            first = next((p for p in phases if p.segment == i), None)
            if iv is None or first is None:
                continue
            end = first.planned + iv.rounds * (iv.work + iv.rest)
            if end > class_end + 1e-6:
                self.problems.append(Problem(
                    self.loaded.location(("segments", i, "intervals")),
                    f"intervals of '{segment.title}' ({iv.rounds} × {format_clock(iv.work)} work / "
                    f"{format_clock(iv.rest)} rest) run from {format_clock(first.planned)} to {format_clock(end)}, "
                    f"{format_clock(end - class_end)} past {_end_reason(self.sheet.cap, playlist_end)} at "
                    f"{format_clock(class_end)}"))

    def countdown_events(self, phases: Sequence[_Phase]) -> None:
        """The countdown cue: on each of the last N beats of every work phase, N … 1 (`{n}` in OSC args)."""
        grid = self.grid
        for k, p in enumerate(phases):
            segment = self.sheet.segments[p.segment]
            countdown = segment.countdown
            if countdown is None or p.phase != "work":
                continue
            lo, hi = grid.index_at_or_after(p.start.t), grid.index_at_or_after(p.end)
            beats = grid.beats[max(lo, hi - countdown.beats):hi]
            following = phases[k + 1] if k + 1 < len(phases) else None
            if following is None:
                before = "the end of the class"
            elif following.segment != p.segment:
                before = f"'{self.sheet.segments[following.segment].title}'"
            else:
                before = "rest" if following.phase == "rest" else f"round {following.round}"
            for n, beat in zip(range(len(beats), 0, -1), beats, strict=True):
                slot = self.slots[beat.track]
                reason = (f"{segment.title} round {p.round}: countdown {n} before {before} "
                          f"(bar {beat.bar} beat {beat.beat} of {slot.name})")
                for output, messages in countdown.send.items():
                    for message in messages:
                        counted = countdown_message(message, n)
                        index = self.add(beat.t, output, counted, reason, "effect")
                        if countdown.flash or sends_strobe(self.rig, output, counted):
                            self.flashes[index] = True

    # -- the 3 Hz flash rule (showctl.timeline.flashes) ----------------------------------------------
    def check_flash_rates(self, phases: Sequence[_Phase]) -> None:
        """What the cue file writes, at each track's own tempo: each flashing effect (or countdown) alone, then
        a look's flashing effects together, at most 3 flashes in a second; else a located problem."""
        limit = f"over the {FLASH_LIMIT_HZ:g} Hz limit for photosensitive epilepsy"
        for p in phases:
            segment = self.sheet.segments[p.segment]
            look = resolve_look(self.sheet, p.segment, p.phase)
            assert not isinstance(look, str)  # load_cue_sheet reports missing looks
            for slot in (s for s in self.slots if s.start < p.end - 1e-6 and s.end > p.start.t + 1e-6):
                tempo, per_bar = slot.analysis.tempo, slot.analysis.beats_per_bar
                on = f"on {slot.name} ({tempo:.0f} BPM)"
                together: list[tuple[str, float]] = []
                alone_over = False
                for name in look.effects:
                    effect = self.sheet.effects[name]
                    strobe = self.strobe_in(effect.send)
                    if not effect.flash and strobe is None:
                        continue
                    step = effect.every.in_beats(per_bar)
                    together.append((f"effect '{name}' every {effect.every}", step))
                    rate = tempo / 60.0 / step
                    if rate > FLASH_LIMIT_HZ + 1e-9:
                        alone_over = True
                        why = "" if effect.flash else \
                            f"it sends a strobe ('{strobe}'), a flash whatever its 'flash: false' says; "
                        self.flash_problem(("effects", name, "every"),
                                           f"effect '{name}' flashes at {rate:.1f} Hz {on}: {why}{limit}; "
                                           f"{ALLOW_REMEDY}")
                countdown = segment.countdown
                # A countdown is a burst of its beats: 3 of them fit any tempo, a 4th not above 180 BPM.
                if countdown is not None and p.phase == "work" and (
                        countdown.flash or self.strobe_in(countdown.send) is not None) and most_flashes_in_window(
                        k * 60.0 / tempo for k in range(countdown.beats)) > MAX_FLASHES:
                    self.flash_problem(("segments", p.segment, "countdown"),
                                       f"countdown of '{segment.title}' flashes at {tempo / 60.0:.1f} Hz {on}: "
                                       f"{limit}; give it 'flash: false' if it does not flash, or set "
                                       "'allow_fast_strobe: true' with a 'reason:'")
                most = steady_flashes([step for _, step in together], 60.0 / tempo) if len(together) > 1 else 0
                if most > MAX_FLASHES and not alone_over:
                    self.flash_problem(("segments", p.segment),
                                       f"'{segment.title}' flashes {most} times in a second {on}: "
                                       f"{' and '.join(what for what, _ in together)} together; {limit}; "
                                       f"{ALLOW_REMEDY}")

    def strobe_in(self, send: dict[str, tuple[OutMessage, ...]]) -> str | None:
        """The first message of `send` that fires a strobe, as text (None: none does)."""
        return next((str(m) for output, messages in send.items() for m in messages
                     if sends_strobe(self.rig, output, m)), None)

    def flash_problem(self, node: tuple[str | int, ...], message: str) -> None:
        problem = Problem(self.loaded.location(node), message)  # one per thing and track
        if problem not in self.problems:
            self.problems.append(problem)

    def thin_flashes(self, phases: Sequence[_Phase]) -> None:
        """The rule over the compiled events: leave out the flashes that would put more than 3 in a second
        (the music speeding up, two tracks meeting, a countdown over a pulse), saying so once per segment."""
        order = sorted(self.flashes)
        dropped = {order[k] for k in thin_flashes([(self.events[i][0], self.flashes[i]) for i in order])}
        if not dropped:
            return
        by_segment: dict[int, list[float]] = {}
        for i in sorted(dropped):
            t = self.events[i][0]
            p = next((p for p in phases if p.start.t <= t < p.end), phases[-1])
            by_segment.setdefault(p.segment, []).append(t)
        for segment_index, times in sorted(by_segment.items()):
            instants = sorted(set(times))
            fastest = max(instants, key=self.local_tempo)
            slot = self.slots[self.grid.slot_at(fastest)]
            left_out = f"{len(instants)} flash{'' if len(instants) == 1 else 'es'} left out"
            self.warnings.append(Problem(
                self.loaded.location(("segments", segment_index)),
                f"'{self.sheet.segments[segment_index].title}': the music reaches {self.local_tempo(fastest):.0f} "
                f"BPM on {slot.name}: {left_out} from {format_clock(instants[0])} so that no second has more than "
                f"{MAX_FLASHES} (the {FLASH_LIMIT_HZ:g} Hz limit for photosensitive epilepsy)"))
        gone = dropped | {self.note_offs[i] for i in dropped if i in self.note_offs}
        self.events = [e for e in self.events if e[2] not in gone]

    def local_tempo(self, t: float) -> float:
        """The tempo of the beat interval around class time `t` (a ramp's tempo there, not the track's)."""
        times = self.grid.times
        i = bisect.bisect_right(times, t + 1e-6)
        if 0 < i < len(times):
            return 60.0 / (times[i] - times[i - 1])
        return 60.0 / self.grid.beat_period_at(t)

    def compile(self) -> Timeline:
        phases, class_end = self.phases()
        rows: list[PlanRow] = []
        for p in phases:
            segment = self.sheet.segments[p.segment]
            look = resolve_look(self.sheet, p.segment, p.phase)
            assert not isinstance(look, str)  # load_cue_sheet reports missing looks
            self.scene_events(p, look)
            self.effect_events(p, look)
            slot, track_time, bar = self.grid.locate(p.start.t)
            rows.append(PlanRow(segment.title, segment.kind, p.round, p.phase,  # type: ignore[arg-type]
                                p.planned, p.start.t, p.end, p.start.snapped_to,  # type: ignore[arg-type]
                                slot.path, track_time, bar, look.scene, look.effects))
        self.countdown_events(phases)
        if not self.sheet.allow_fast_strobe:
            self.problems += strobe_problems(self.loaded, self.rig)
            self.check_flash_rates(phases)
            self.thin_flashes(phases)
        self.check_phases(phases, class_end)
        if not self.edits:  # the plan as written (edits move times, never looks): the floor rule of showctl check
            self.problems += floor_problems(self.loaded, self.rig)
        self.clock_events(class_end)
        safe: list[Event] = []
        for output, messages in self.rig.safe_scene.items():
            for message in messages:
                self.add(class_end, output, message, "end of class: safe scene (house lights)", "safe")
                safe.append(Event(class_end, output, message, "safe scene (house lights)", "safe"))
        if self.problems:
            raise ProblemsError(self.problems)
        events = tuple(e for *_, e in sorted(self.events, key=lambda x: x[:3]))
        return Timeline(events, tuple(rows), self.slots, class_end, tuple(safe), tuple(self.warnings))


def _time_at(times: list[float], position: float) -> float | None:
    """Class time of a fractional beat position (linear between beats)."""
    i = int(position)
    if i >= len(times):
        return None
    frac = position - i
    if frac == 0:
        return times[i]
    if i + 1 >= len(times):
        return None
    return times[i] + frac * (times[i + 1] - times[i])


def _key(phase: _Phase) -> tuple[int, int | None, str | None]:
    return (phase.segment, phase.round, phase.phase)


def _note_off(message: OutMessage) -> MidiMessage | None:
    if isinstance(message, MidiMessage) and message.type == "note_on":
        msg = message.to_mido()
        if msg.velocity > 0:
            return MidiMessage.from_mido(mido.Message("note_off", channel=msg.channel, note=msg.note, velocity=0))
    return None


def _title(segment: Segment, round_: int | None, phase: str | None) -> str:
    if round_ is None:
        return segment.title
    return f"{segment.title} round {round_}: {phase}"


def _end_reason(cap: float | None, playlist_end: float) -> str:
    if cap is not None and cap < playlist_end:
        return "the class cap"
    return "the end of the playlist"


def compile_timeline(
    loaded: LoadedCueSheet, analyses: Sequence[TrackAnalysis], rig: Rig, edits: Sequence[PlanEdit] = ()
) -> Timeline:
    """Cue sheet + one analysis per playlist entry + rig → Timeline. Raises ProblemsError when it cannot.

    `edits` are the instructor's controls so far (next, extend, hold, release, nudge), replayed in order:
    the music does not move, the plan does, and every change lands on a downbeat; a nudge moves the beats
    of the track playing from where it lands on.
    """
    if len(analyses) != len(loaded.sheet.playlist):
        raise ValueError("compile_timeline needs one analysis per playlist entry")
    compiler = _Compiler(loaded, _nudged(loaded, analyses, edits), rig)
    compiler.apply_edits(edits)
    return compiler.compile()
