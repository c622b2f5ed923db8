"""Instructor controls as plan edits: the music's beats stay, the plan moves, changes land on downbeats."""

from __future__ import annotations

from pathlib import Path

from test_timeline import compile_class, grid

from showctl.analysis.model import TrackAnalysis
from showctl.timeline import PlanEdit, Timeline

# 120 BPM from 0.25 s: downbeats every 2 s at 0.25 + 2k. Warm-up 1:00, then 2 × (20 s work / 10 s rest).
ANALYSES: list[TrackAnalysis] = [grid(120, 90), grid(128, 120)]


def rows(tl: Timeline) -> list[tuple[str, int | None, str | None, float, float]]:
    return [(r.name, r.round, r.phase, round(r.start, 3), round(r.end, 3)) for r in tl.plan]


def test_next_ends_the_part_on_the_next_downbeat_and_moves_the_rest(tmp_path: Path) -> None:
    plain = compile_class(tmp_path, ANALYSES)
    edited = compile_class(tmp_path, ANALYSES, edits=[PlanEdit("next", 30.9)])
    assert rows(edited)[0] == ("Warm-up", None, None, 0.0, 32.25)  # 30.9 → downbeat 32.25
    assert rows(edited)[1][:4] == ("Intervals", 1, "work", 32.25)
    assert edited.plan[1].snapped_to == "downbeat"
    # The rest of the plan keeps its lengths: work is still 20 s, snapped to downbeats.
    assert edited.plan[2].start - edited.plan[1].start == plain.plan[2].start - plain.plan[1].start
    scene = next(e for e in edited.events if e.t == 32.25 and e.kind == "scene")
    assert scene.reason == ("Intervals round 1: work starts: scene 'run'; instructor: next at 0:30.9, landed "
                            "on the next downbeat 0:32.2")
    # Before the control lands, nothing changes.
    assert [e for e in edited.events if e.t < 31] == [e for e in plain.events if e.t < 31]


def test_extend_adds_a_round(tmp_path: Path) -> None:
    plain = compile_class(tmp_path, ANALYSES)
    edited = compile_class(tmp_path, ANALYSES, edits=[PlanEdit("extend", 65.0)])
    rounds = [r.round for r in edited.plan if r.name == "Intervals" and r.phase == "work"]
    assert rounds == [1, 2, 3]
    sled = next(r for r in edited.plan if r.name == "Sled")
    shift = sled.start - next(r for r in plain.plan if r.name == "Sled").start
    assert abs(shift - 30.0) <= 0.5 * 240 / 128  # one more 20 s + 10 s round, snapped to a downbeat


def test_hold_then_release(tmp_path: Path) -> None:
    held = compile_class(tmp_path, ANALYSES, edits=[PlanEdit("hold", 70.0)])
    assert rows(held)[-1][:3] == ("Intervals", 1, "work") and held.plan[-1].end == held.duration
    released = compile_class(tmp_path, ANALYSES, edits=[PlanEdit("hold", 70.0), PlanEdit("release", 95.1)])
    work, rest = released.plan[1], released.plan[2]
    # Track 2 (128 BPM) starts at 90 s: its downbeats are 1.875 s apart from 90.25.
    assert (round(work.end, 3), rest.phase, round(rest.start, 3)) == (95.875, "rest", 95.875)
    assert [r.name for r in released.plan][-2:] == ["Sled", "Cool-down"]


def test_next_in_the_last_part_ends_the_class(tmp_path: Path) -> None:
    plain = compile_class(tmp_path, ANALYSES)
    last = plain.plan[-1]
    edited = compile_class(tmp_path, ANALYSES, edits=[PlanEdit("next", last.start + 5)])
    assert edited.duration < plain.duration
    assert edited.events[-1].kind == "safe" and edited.events[-1].t == edited.duration
