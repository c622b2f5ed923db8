"""The floor never goes dark while people move backwards: how much light each look of a backwards part leaves
on the floor, and whether the rig's blackout key has a floor scene to fall back on there. Pure: no I/O.

`floor_problems` is the one rule; `check_against_rig` runs it, so `showctl check`, `run`, `run --live`, the
class screen and `simulate` all refuse the same cue files with the same lines.
"""

from __future__ import annotations

from showctl.cues.load import LoadedCueSheet, phases, resolve_look
from showctl.errors import Problem
from showctl.outputs.rig import Rig

__all__ = ["floor_problems"]


def floor_problems(loaded: LoadedCueSheet, rig: Rig) -> list[Problem]:
    """Every way `loaded` could leave the floor below the rig's floor_light while people move backwards."""
    return [*_blackout_problems(loaded, rig), *_look_problems(loaded, rig)]


def _blackout_problems(loaded: LoadedCueSheet, rig: Rig) -> list[Problem]:
    """The instructor's blackout key dims to the rig's floor_scene in a backwards part, and lifts a blackout to
    it as one starts: a rig with a blackout and no floor_scene would leave the floor dark there."""
    sheet = loaded.sheet
    first = next((i for i, s in enumerate(sheet.segments) if s.kind in sheet.backwards_kinds), None)
    if first is None or not rig.blackout or rig.floor_scene:
        return []
    segment = sheet.segments[first]
    return [Problem(loaded.location(("segments", first, "kind")),
                    f"the rig '{rig.name}' has a 'blackout:' scene but no 'floor_scene:': a blackout pressed before "
                    f"'{segment.title}' ({segment.kind}) would stay dark while people move backwards; give the rig "
                    f"a floor_scene that keeps its floor_light {rig.floor_light:.0%}")]


def _look_problems(loaded: LoadedCueSheet, rig: Rig) -> list[Problem]:
    sheet = loaded.sheet
    problems = []
    for i, segment in enumerate(sheet.segments):
        if segment.kind not in sheet.backwards_kinds:
            continue
        for phase in phases(segment):
            look = resolve_look(sheet, i, phase)
            if isinstance(look, str) or look.scene not in sheet.scenes:
                continue
            floor = sheet.scenes[look.scene].floor
            if floor < rig.floor_light:
                problems.append(Problem(
                    loaded.location(look.scene_node),
                    f"scene '{look.scene}' leaves the floor at {floor:.0%} during '{segment.title}' "
                    f"({segment.kind}): people moving backwards need at least the rig's floor_light "
                    f"{rig.floor_light:.0%}",
                ))
    return problems
