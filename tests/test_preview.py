"""`showctl preview`: one picture of the class. Asserted on the figure's artists (not pixels) and the PNG size."""

from __future__ import annotations

import dataclasses
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from showctl.analysis.model import Section, TrackAnalysis
from showctl.cues import load_cue_sheet
from showctl.cues.load import LoadedCueSheet
from showctl.rig import Rig, load_rig
from showctl.timeline import compile_timeline
from showctl.timeline.preview import PreviewStyle, draw_preview

REPO = Path(__file__).resolve().parent.parent

RIG = """
name: Test rig
floor_light: 30%
outputs:
  console: {transport: osc, port: 9000}
safe_scene:
  console: [/house 1]
"""

CUE = """
name: Preview class
rig: rig.yaml
playlist:
  - track: a.wav
  - track: b.wav
scenes:
  warm: {send: {console: [/scene/warm 1]}}
  run: {floor: 50%, send: {console: [/scene/run 1]}}
  rest: {floor: 60%, send: {console: [/scene/rest 1]}}
effects:
  pulse: {every: beat, send: {console: [/pulse 1.0]}}
looks:
  warmup: {scene: warm}
  retro_run: {scene: run, effects: [pulse]}
  recovery: {scene: rest}
segments:
  - {name: Warm-up, kind: warmup, length: "1:00"}
  - {name: Intervals, kind: retro_run, intervals: {rounds: 3, work: 20s, rest: 10s}}
  - {name: Cool-down, kind: cooldown, length: end of track, scene: rest}
"""


def grid(bpm: float, duration: float, first: float = 0.25) -> TrackAnalysis:
    period = 60.0 / bpm
    beats = [first + i * period for i in range(int((duration - first) / period) + 1) if first + i * period < duration]
    return TrackAnalysis("t.wav", duration, bpm, tuple(beats), tuple(beats[::4]), 0.9, 4)


def preview_class(folder: Path) -> tuple[LoadedCueSheet, Rig]:
    """The preview class and its rig, written into `folder` (its tracks empty: analyses are given)."""
    (folder / "rig.yaml").write_text(textwrap.dedent(RIG))
    (folder / "class.yaml").write_text(textwrap.dedent(CUE))
    for name in ("a.wav", "b.wav"):
        (folder / name).write_bytes(b"")
    return load_cue_sheet(folder / "class.yaml"), load_rig(folder / "rig.yaml")


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_preview_draws_every_plan_row_and_the_floor_rule(tmp_path: Path) -> None:
    loaded, rig = preview_class(tmp_path)
    tl = compile_timeline(loaded, [grid(120, 90), grid(140, 120)], rig)
    style = PreviewStyle(title="Preview class", backwards_kinds=loaded.sheet.backwards_kinds,
                         floor_light=rig.floor_light, scene_floor={n: s.floor for n, s in loaded.sheet.scenes.items()},
                         width=12, height=6, dpi=50)
    fig = draw_preview(tl, style)
    axes = {ax.get_label(): ax for ax in fig.axes}
    assert list(axes) == ["tempo", "plan", "floor", "cues"]
    rows = [p for p in axes["plan"].patches if p.get_gid() == "plan-row"]
    assert len(rows) == len(tl.plan) == 1 + 3 * 2 + 1
    assert [round(p.get_x(), 3) for p in rows] == [round(r.start, 3) for r in tl.plan]
    # Rest phases are drawn paler than work.
    assert [p.get_alpha() for p in rows[1:3]] == [0.9, 0.35]
    # The floor-light rule is hatched over the backwards parts (the six interval phases), at floor_light.
    rules = [p for p in axes["floor"].patches if p.get_gid() == "floor-rule"]
    assert len(rules) == 6 and {round(p.get_height()) for p in rules} == {30}
    # Tempo per track, time axis in M:SS.
    texts = [t.get_text() for t in axes["tempo"].texts]
    assert texts == ["a\n120 BPM", "b\n140 BPM"]
    clock = axes["cues"].xaxis.get_major_formatter()
    assert [clock(t) for t in (0.0, 90.0, 3599.6)] == ["0:00", "1:30", "60:00"]
    out = tmp_path / "class.png"
    fig.savefig(out)
    assert png_size(out) == (600, 300)


def test_preview_hatches_where_a_grid_should_be_checked(tmp_path: Path) -> None:
    loaded, rig = preview_class(tmp_path)
    # Track b (from 1:30 in class time) has a drum-less breakdown from 0:30 to 1:00 of its own time.
    sections = (Section(0.0, 30.0, "drop", 0.9, 1.0, 0.95), Section(30.0, 60.0, "breakdown", 0.3, 0.8, 0.21),
                Section(60.0, 120.0, "drop", 0.9, 0.8, 0.97))
    b = dataclasses.replace(grid(140, 120), sections=sections)
    tl = compile_timeline(loaded, [grid(120, 90), b], rig)
    slot = tl.tracks[1]
    tempo = next(ax for ax in draw_preview(tl, PreviewStyle(dpi=50)).axes if ax.get_label() == "tempo")
    [check] = [p for p in tempo.patches if p.get_gid() == "grid-check"]
    left, right = check.get_x(), check.get_x() + check.get_width()
    assert (left, right) == (pytest.approx(slot.start + 30.0), pytest.approx(slot.start + 60.0))
    assert "check grid (0.21)" in [t.get_text().strip() for t in tempo.texts]
    # A grid the cue file fixed is the tech's word: nothing to check.
    fixed = dataclasses.replace(b, overrides=("grid",))
    tl = compile_timeline(loaded, [grid(120, 90), fixed], rig)
    tempo = next(ax for ax in draw_preview(tl, PreviewStyle(dpi=50)).axes if ax.get_label() == "tempo")
    assert not [p for p in tempo.patches if p.get_gid() == "grid-check"]
    # Bar 1 in doubt: the whole track, said as such.
    bars = dataclasses.replace(grid(140, 120), bar_ambiguity=0.7)
    tl = compile_timeline(loaded, [grid(120, 90), bars], rig)
    tempo = next(ax for ax in draw_preview(tl, PreviewStyle(dpi=50)).axes if ax.get_label() == "tempo")
    assert len([p for p in tempo.patches if p.get_gid() == "grid-check"]) == 1
    assert "check bar 1 (0.30)" in [t.get_text().strip() for t in tempo.texts]


@pytest.mark.slow
def test_preview_command_writes_the_png(tmp_path: Path, demo_tracks: list[Path]) -> None:
    out = tmp_path / "demo.png"
    result = subprocess.run([sys.executable, "-m", "showctl.cli.main", "preview", "cues/demo.yaml", "-o", str(out),
                             "--size", "10x5", "--dpi", "80"], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "COLUMNS": "200"}, check=False)
    assert result.returncode == 0, result.stderr
    assert png_size(out) == (800, 400)
    assert "drew 7 parts" in result.stderr
    bad = subprocess.run([sys.executable, "-m", "showctl.cli.main", "preview", "cues/demo.yaml", "-o",
                          str(tmp_path / "demo.gif")], cwd=REPO, capture_output=True, text=True, timeout=60,
                         check=False)
    assert (bad.returncode, bad.stderr) == (1, f"showctl: {tmp_path / 'demo.gif'}: the picture's name must end in "
                                               ".png, .svg or .pdf\n")
