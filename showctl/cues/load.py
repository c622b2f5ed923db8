"""Load a cue file strictly, check its references (tracks, scenes, effects, rig outputs), resolve looks."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from showctl.cues.model import CueSheet, Look, Segment
from showctl.errors import Location, Problem, ProblemsError
from showctl.outputs.rig import Rig, check_messages_for_outputs
from showctl.schema import did_you_mean, validate_document
from showctl.yamlfile import NodePath, YamlDocument, load_yaml

__all__ = ["LoadedCueSheet", "ResolvedLook", "check_against_rig", "load_cue_sheet", "resolve_look"]


@dataclass(frozen=True)
class ResolvedLook:
    """The scene and effects a segment (or one interval phase) uses, and where the scene was chosen."""

    scene: str
    effects: tuple[str, ...]
    scene_node: NodePath


@dataclass(frozen=True)
class LoadedCueSheet:
    """A validated cue sheet with the file it came from, so paths and errors can be located."""

    sheet: CueSheet
    doc: YamlDocument
    path: Path

    @property
    def track_paths(self) -> list[Path]:
        return [Path(os.path.normpath(self.path.parent / entry.track)) for entry in self.sheet.playlist]

    @property
    def rig_path(self) -> Path | None:
        return Path(os.path.normpath(self.path.parent / self.sheet.rig)) if self.sheet.rig else None

    def location(self, node: NodePath, *, key: bool = False) -> Location:
        return self.doc.location(node, key=key)


def resolve_look(sheet: CueSheet, index: int, phase: str | None = None) -> ResolvedLook | str:
    """The look of segment `index` (phase 'work'/'rest' for intervals), or a message saying what is missing.

    Precedence: the segment's own `work:`/`rest:` look, then its `scene:`/`effects:` (work only), then
    `looks:` for its kind (rest phases use `looks: recovery`).
    """
    segment: Segment = sheet.segments[index]
    node: NodePath = ("segments", index)
    candidates: list[tuple[Look, NodePath]] = []
    if phase is not None:
        own = segment.work if phase == "work" else segment.rest
        if own is not None:
            candidates.append((own, (*node, phase)))
    if phase != "rest":
        candidates.append((Look(scene=segment.scene, effects=segment.effects), node))
    kind = "recovery" if phase == "rest" else segment.kind
    if kind in sheet.looks:
        candidates.append((sheet.looks[kind], ("looks", kind)))
    scene = next(((c.scene, n) for c, n in candidates if c.scene is not None), None)
    effects = next((c.effects for c, _ in candidates if c.effects is not None), ())
    if scene is None:
        what = f"{phase} phase of segment" if phase else "segment"
        return (f"{what} '{segment.title}' has no scene: give it 'scene:' or add a look for "
                f"kind '{kind}' under 'looks:'")
    return ResolvedLook(scene[0], effects, (*scene[1], "scene"))


def _phases(segment: Segment) -> list[str | None]:
    return ["work", "rest"] if segment.intervals is not None else [None]


def _reference_problems(loaded: LoadedCueSheet) -> list[Problem]:
    sheet, problems = loaded.sheet, []

    def unknown(kind: str, name: str, names: Iterable[str], node: NodePath) -> None:
        problems.append(Problem(loaded.location(node), f"unknown {kind} '{name}'{did_you_mean(name, names)}"))

    for kind, look in sheet.looks.items():
        if look.scene is not None and look.scene not in sheet.scenes:
            unknown("scene", look.scene, sheet.scenes, ("looks", kind, "scene"))
        for j, effect in enumerate(look.effects or ()):
            if effect not in sheet.effects:
                unknown("effect", effect, sheet.effects, ("looks", kind, "effects", j))
    for i, segment in enumerate(sheet.segments):
        node: NodePath = ("segments", i)
        own_looks = [(Look(scene=segment.scene, effects=segment.effects), node)]
        own_looks += [(look, (*node, p)) for p, look in (("work", segment.work), ("rest", segment.rest)) if look]
        for look, look_node in own_looks:
            if look.scene is not None and look.scene not in sheet.scenes:
                unknown("scene", look.scene, sheet.scenes, (*look_node, "scene"))
            for j, effect in enumerate(look.effects or ()):
                if effect not in sheet.effects:
                    unknown("effect", effect, sheet.effects, (*look_node, "effects", j))
        for phase in _phases(segment):
            resolved = resolve_look(sheet, i, phase)
            if isinstance(resolved, str):
                problems.append(Problem(loaded.location(node), resolved))
    for i, track in enumerate(loaded.track_paths):
        if not track.is_file():
            problems.append(Problem(loaded.location(("playlist", i, "track")), f"no such track file: {track}"))
    rig_path = loaded.rig_path
    if rig_path is not None and not rig_path.is_file():
        problems.append(Problem(loaded.location(("rig",)), f"no such rig file: {rig_path}"))
    return problems


def check_against_rig(loaded: LoadedCueSheet, rig: Rig) -> list[Problem]:
    """Scenes and effects only name outputs the rig has; backwards segments keep the floor lit."""
    sheet, doc = loaded.sheet, loaded.doc
    problems: list[Problem] = []
    for name, scene in sheet.scenes.items():
        problems += check_messages_for_outputs(doc, ("scenes", name, "send"), scene.send, rig, f"scene '{name}'")
    for name, effect in sheet.effects.items():
        problems += check_messages_for_outputs(doc, ("effects", name, "send"), effect.send, rig, f"effect '{name}'")
    for i, segment in enumerate(sheet.segments):
        if segment.kind not in sheet.backwards_kinds:
            continue
        for phase in _phases(segment):
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


def load_cue_sheet(path: str | Path) -> LoadedCueSheet:
    """Read, validate and cross-check a cue file on its own; ProblemsError lists every problem found.

    Checks that need the rig (outputs, floor light) are `check_against_rig`'s.
    """
    doc = load_yaml(path)
    sheet = validate_document(doc, CueSheet)
    loaded = LoadedCueSheet(sheet, doc, Path(path))
    problems = _reference_problems(loaded)
    if problems:
        raise ProblemsError(problems)
    return loaded
