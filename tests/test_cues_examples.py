"""The example classes that play the studio library compile to the class they describe (slow: real audio)."""

from __future__ import annotations

from pathlib import Path

import pytest

from showctl.show import load_show

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("cuefile", "duration", "work_rounds", "countdowns"), [
    ("cues/retro-run-45.yaml", 45 * 60, 8 + 4 + 6 + 5, 3 * (8 + 6)),
    # The sled class ends with its 8-minute cool-down (written from 21:53, snapped), inside the 30:00 cap.
    ("cues/sled-pull-30.yaml", 29 * 60 + 52.7, 6 + 5, 4 * 6 * 2 + 4 * 5),
])
def test_library_classes_compile(library_tracks: list[Path], cuefile: str, duration: float, work_rounds: int,
                                 countdowns: int) -> None:
    show = load_show(str(REPO / cuefile), None)
    tl = show.timeline
    assert tl.duration == pytest.approx(duration, abs=0.5)
    assert sum(1 for r in tl.plan if r.phase == "work") == work_rounds
    assert sum(1 for e in tl.events if "countdown" in e.reason) == countdowns
    assert all(e.reason for e in tl.events) and [e.t for e in tl.events] == sorted(e.t for e in tl.events)
    assert all(0 <= e.t <= tl.duration for e in tl.events)
    # People move backwards in most of the class: those parts never take a scene darker than floor_light.
    floors = {name: scene.floor for name, scene in show.loaded.sheet.scenes.items()}
    backwards = [r for r in tl.plan if r.kind in show.loaded.sheet.backwards_kinds]
    assert backwards and all(floors[r.scene] >= show.rig.floor_light for r in backwards)
