"""The compile step is pure: cue sheet + analyses + rig → sorted, explained events. Tested on exact grids."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from showctl.analysis.model import TrackAnalysis
from showctl.cues import load_cue_sheet
from showctl.errors import ProblemsError
from showctl.rig import load_rig
from showctl.timeline import FLASH_LIMIT_HZ, PlanEdit, Timeline, compile_timeline
from showctl.timeline.flashes import most_flashes_in_window

RIG = """
name: Test rig
outputs:
  console: {transport: osc, port: 9000}
  desk: {transport: midi, port: "x:in", clock: true}
safe_scene:
  console: [/house 1]
  desk: [control_change control=7 value=127]
"""

CUE = """
name: Test class
rig: rig.yaml
playlist:
  - track: a.wav
  - track: b.wav
scenes:
  warm: {send: {console: [/scene/warm 1], desk: [program_change program=1]}}
  run: {send: {console: [/scene/run 1]}}
  rest: {send: {console: [/scene/rest 1]}}
effects:
  pulse: {every: EVERY, send: {console: [/pulse 1.0]}}
  accent: {every: bar, flash: false, send: {desk: [note_on note=36 velocity=127]}}
looks:
  warmup: {scene: warm, effects: [accent]}
  retro_run: {scene: run, effects: [pulse, accent]}
  recovery: {scene: rest}
segments:
  - {name: Warm-up, kind: warmup, length: WARMUP}
  - {name: Intervals, kind: retro_run, intervals: {rounds: ROUNDS, work: 20s, rest: 10s}}
  - {name: Sled, kind: sled_pull, length: 8 bars, scene: run}
  - {name: Cool-down, kind: cooldown, length: end of track, scene: rest}
"""


def grid(bpm: float, duration: float, first: float = 0.25, per_bar: int = 4) -> TrackAnalysis:
    period = 60.0 / bpm
    beats = [first + i * period for i in range(int((duration - first) / period) + 1) if first + i * period < duration]
    return TrackAnalysis("t.wav", duration, bpm, tuple(beats), tuple(beats[::per_bar]), 0.9, per_bar)


def compile_class(tmp_path: Path, analyses: list[TrackAnalysis], every: str = "beat", warmup: str = '"1:00"',
                  rounds: int = 2, extra: str = "", edits: Sequence[PlanEdit] = ()) -> Timeline:
    (tmp_path / "rig.yaml").write_text(textwrap.dedent(RIG))
    for name in ("a.wav", "b.wav"):
        (tmp_path / name).write_bytes(b"")
    text = textwrap.dedent(CUE).replace("EVERY", every).replace("WARMUP", warmup).replace("ROUNDS", str(rounds))
    (tmp_path / "class.yaml").write_text(extra + text)
    loaded = load_cue_sheet(tmp_path / "class.yaml")
    return compile_timeline(loaded, analyses, load_rig(tmp_path / "rig.yaml"), edits)


def test_segments_snap_to_downbeats_and_say_so(tmp_path: Path) -> None:
    tl = compile_class(tmp_path, [grid(120, 90), grid(128, 120)])
    rows = [(r.name, r.round, r.phase, round(r.start, 3), r.snapped_to, r.bar) for r in tl.plan]
    # 120 BPM, first beat 0.25 s: a bar is 2 s, downbeats at 0.25 + 2k → 1:00 snaps to 60.25 (bar 31).
    assert rows[:3] == [("Warm-up", None, None, 0.0, "none", 0), ("Intervals", 1, "work", 60.25, "downbeat", 31),
                        ("Intervals", 1, "rest", 80.25, "downbeat", 41)]
    work = next(e for e in tl.events if e.t == 60.25 and e.kind == "scene")
    assert work.reason == ("Intervals round 1: work starts: scene 'run'; snapped from 1:00.0 to downbeat 1:00.2 "
                           "(+0.25 s, bar 31 of a.wav)")


def test_events_sorted_explained_and_inside_the_class(tmp_path: Path) -> None:
    tl = compile_class(tmp_path, [grid(120, 90), grid(128, 120)])
    times = [e.t for e in tl.events]
    assert times == sorted(times)
    assert all(e.reason for e in tl.events)
    assert all(0 <= e.t <= tl.duration for e in tl.events)
    assert tl.events[-1].kind == "safe" and tl.events[-1].t == tl.duration


def test_effects_follow_the_beat(tmp_path: Path) -> None:
    tl = compile_class(tmp_path, [grid(120, 90), grid(128, 120)], every="beat")
    pulses = [e.t for e in tl.events if str(e.message) == "/pulse 1.0"]
    first_work = tl.plan[1]
    inside = [t for t in pulses if first_work.start <= t < first_work.end]
    assert inside[:3] == pytest.approx([60.25, 60.75, 61.25])
    assert len(inside) == 40  # 20 s of work at 120 BPM
    rest = tl.plan[2]
    assert not [t for t in pulses if rest.start <= t < rest.end]  # the rest look has no pulse


def test_midi_clock_24_ppqn_at_the_analysed_tempo(tmp_path: Path) -> None:
    tl = compile_class(tmp_path, [grid(120, 90), grid(128, 120)])
    ticks = [e.t for e in tl.events if str(e.message) == "clock"]
    first_track = [t for t in ticks if t < 88]
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(first_track)}
    assert gaps == {round(0.5 / 24, 9)}
    starts = [e for e in tl.events if str(e.message) == "start"]
    assert [e.t for e in starts] == [0.25]
    assert [str(e.message) for e in tl.events if e.output == "desk"][-2:] == [
        "stop", "control_change channel=0 control=7 value=127 time=0"]


def test_fast_flashing_refused_with_location(tmp_path: Path) -> None:
    with pytest.raises(ProblemsError) as info:
        compile_class(tmp_path, [grid(120, 90), grid(128, 120)], every="quarter beat")
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'class.yaml'}:12:18: effect 'pulse' flashes at 8.0 Hz on a.wav (120 BPM): over the 3 Hz "
        "limit for photosensitive epilepsy; set 'allow_fast_strobe: true' with a 'reason:' to allow it",
        f"{tmp_path / 'class.yaml'}:12:18: effect 'pulse' flashes at 8.5 Hz on b.wav (128 BPM): over the 3 Hz "
        "limit for photosensitive epilepsy; set 'allow_fast_strobe: true' with a 'reason:' to allow it"]
    allowed = compile_class(tmp_path, [grid(120, 90), grid(128, 120)], every="quarter beat",
                            extra="allow_fast_strobe: true\nreason: the studio's strobe class, signed off\n")
    assert any(str(e.message) == "/pulse 1.0" for e in allowed.events)


def test_segment_after_the_end_of_the_playlist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ProblemsError) as info:
        compile_class(tmp_path, [grid(120, 90), grid(128, 60)], warmup='"2:40"')
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'class.yaml'}:20:5: 'Intervals round 1: work' would start at 2:40.0, after the class "
        "ends at 2:30.0 (the end of the playlist)",
        f"{tmp_path / 'class.yaml'}:21:5: 'Sled' would start at 3:40.0, after the class ends at 2:30.0 "
        "(the end of the playlist)",
        f"{tmp_path / 'class.yaml'}:22:5: 'Cool-down' would start at 3:56.9, after the class ends at 2:30.0 "
        "(the end of the playlist)"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Two tracks meeting in a work phase put two pulses 0.27 s apart, within 3 flashes a second.
@example(bpm_a=111.0, bpm_b=114.0, first=0.0, warmup=80, rounds=3)
@given(
    bpm_a=st.floats(85, 180), bpm_b=st.floats(85, 180), first=st.floats(0.0, 1.0),
    warmup=st.integers(20, 80), rounds=st.integers(1, 3),
)
def test_compile_properties(tmp_path: Path, bpm_a: float, bpm_b: float, first: float, warmup: int,
                            rounds: int) -> None:
    analyses = [grid(bpm_a, 150, first), grid(bpm_b, 150, first)]
    try:
        tl = compile_class(tmp_path, analyses, every="beat", warmup=f"{warmup}s", rounds=rounds)
    except ProblemsError as err:
        # Only the 3 Hz rule may refuse this class: a pulse every beat above 180 BPM.
        assert all("flashes at" in str(p) for p in err.problems)
        return
    again = compile_class(tmp_path, analyses, every="beat", warmup=f"{warmup}s", rounds=rounds)
    assert tl == again  # deterministic
    times = [e.t for e in tl.events]
    assert times == sorted(times)
    assert all(0 <= t <= tl.duration for t in times)
    downbeats = {round(t, 9) for a, slot in zip(analyses, tl.tracks, strict=True)
                 for t in (slot.start + d - slot.offset for d in a.downbeats)}
    for row in tl.plan[1:]:
        if row.snapped_to == "downbeat":
            assert round(row.start, 9) in downbeats
            bar = 240.0 / (bpm_a if row.start < tl.tracks[1].start else bpm_b)
            assert abs(row.start - row.planned) <= 0.5 * bar + 1e-6
    for row in tl.plan:
        assert row.end > row.start
    pulses = sorted(e.t for e in tl.events if str(e.message) == "/pulse 1.0")
    # The 3 Hz rule: at most 3 flashes in any 1-s window (two beats may be closer where two tracks meet).
    assert most_flashes_in_window(pulses) <= FLASH_LIMIT_HZ
