"""`load_rig`: a rig file read, validated (`model.validate_rig`) and its scenes judged by the floor-light
rule (`floor_light`), which needs a valid `Rig` to judge: so the model never imports the rule."""

from __future__ import annotations

from pathlib import Path

from showctl.errors import Problem, ProblemsError
from showctl.rig.floor_light import floor_scene_problem, safe_scene_problem
from showctl.rig.model import Rig, validate_rig
from showctl.yamlfile import YamlDocument, load_yaml

__all__ = ["load_rig"]


def load_rig(path: str | Path) -> Rig:
    """Read and validate a rig file; ProblemsError lists every problem as PATH:LINE:COL: message."""
    doc = load_yaml(path)
    rig = validate_rig(doc)
    problems = _scene_problems(doc, rig)
    if problems:
        raise ProblemsError(problems)
    return rig


def _scene_problems(doc: YamlDocument, rig: Rig) -> list[Problem]:
    """The floor_scene and safe_scene judged from what they send, after a blackout."""
    problems = []
    dark = floor_scene_problem(rig)
    if dark is not None and dark.where[:1] == ("blackout",):
        where: tuple[str | int, ...] = ("floor_scene", dark.output) if dark.output in rig.floor_scene else \
            ("floor_scene",)
        problems.append(Problem(doc.location(where), (
            f"floor_scene: the blackout's {dark.says()} and nothing here releases it: a console holds its blackout, "
            "so the floor would stay dark while people move backwards; add the message that lifts it "
            "(e.g. '/showctl/blackout 0')")))
    elif dark is not None:
        problems.append(Problem(
            doc.location(dark.where or ("floor_scene",)),
            f"floor_scene: {dark.says()}, under the rig's floor_light {rig.floor_light:.0%}: the blackout key gives "
            "this look while people move backwards"))
    dark = safe_scene_problem(rig)
    if dark is not None:
        where = dark.where if dark.where[:1] != ("blackout",) else \
            ("safe_scene", dark.output) if dark.output in rig.safe_scene else ("safe_scene",)
        problems.append(Problem(doc.location(where), (
            f"safe_scene: after a blackout the floor stays under the rig's floor_light {rig.floor_light:.0%} "
            f"({dark.says()}): every exit and the house-lights key send this scene, so it must lift the "
            "blackout (e.g. '/showctl/blackout 0')")))
    return problems
