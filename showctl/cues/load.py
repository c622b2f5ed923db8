"""Load a cue file strictly, check its references (tracks, scenes, effects, rig outputs), resolve looks.

A cue file may `extends:` a house-style file (which may extend another): the chain is read bottom-up and
overlaid into one document whose marks keep their own file, so every problem points at the file and
line to fix, whichever file of the chain it is in.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from showctl.cues.model import (
    BACKWARDS_KINDS,
    INHERITED_DEFAULTS,
    INHERITED_NAMED,
    KNOWN_KINDS,
    CueSheet,
    CueStyle,
    Look,
    Segment,
)
from showctl.errors import AnalysisError, Location, Problem, ProblemsError
from showctl.messages import OscMessage, OutMessage
from showctl.rig import Rig, load_rig
from showctl.rig.model import check_messages_for_outputs
from showctl.schema import did_you_mean, validate_document
from showctl.yamlfile import NodePath, YamlDocument, load_yaml, overlay

__all__ = [
    "LoadedCueSheet",
    "LoadedCueStyle",
    "ResolvedLook",
    "check_cue_style",
    "check_style_against_rig",
    "countdown_message",
    "is_cue_style",
    "load_cue_sheet",
    "load_cue_style",
    "resolve_look",
    "send_problems",
    "track_problem",
]

# Keys only a class file gives: a house style that others extend has no class plan of its own.
_CLASS_ONLY = ("playlist", "segments", "cap", "allow_fast_strobe", "reason")


@dataclass(frozen=True)
class ResolvedLook:
    """The scene and effects a segment (or one interval phase) uses, and where the scene was chosen."""

    scene: str
    effects: tuple[str, ...]
    scene_node: NodePath
    effects_node: NodePath | None = None  # where the effects were chosen (None: no look gives any)


@dataclass(frozen=True)
class LoadedCueSheet:
    """A validated cue sheet with the file it came from, so paths and errors can be located."""

    sheet: CueSheet
    doc: YamlDocument
    path: Path

    @property
    def track_paths(self) -> list[Path]:
        return [_relative_to(self.doc, ("playlist", i, "track"), entry.track)
                for i, entry in enumerate(self.sheet.playlist)]

    @property
    def rig_path(self) -> Path | None:
        # An inherited `rig:` is relative to the house-style file that names it.
        return _relative_to(self.doc, ("rig",), self.sheet.rig) if self.sheet.rig else None

    def location(self, node: NodePath, *, key: bool = False) -> Location:
        return self.doc.location(node, key=key)


@dataclass(frozen=True)
class LoadedCueStyle:
    """A validated house-style file (and whatever it extends), for `showctl check` on its own."""

    style: CueStyle
    doc: YamlDocument
    path: Path

    @property
    def rig_path(self) -> Path | None:
        return _relative_to(self.doc, ("rig",), self.style.rig) if self.style.rig else None


def _relative_to(doc: YamlDocument, node: NodePath, value: str) -> Path:
    """`value` (a path written at `node`) relative to the file that wrote it."""
    return Path(os.path.normpath(Path(doc.file_of(node)).parent / value))


def countdown_message(message: OutMessage, n: int) -> OutMessage:
    """`message` with `{n}` in its OSC arguments replaced by the count (a bare `{n}` becomes the integer)."""
    if not isinstance(message, OscMessage) or not any(isinstance(a, str) and "{n}" in a for a in message.args):
        return message
    args = tuple(n if a == "{n}" else a.replace("{n}", str(n)) if isinstance(a, str) else a for a in message.args)
    return OscMessage(message.address, args)


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
    effects, effects_node = next(((c.effects, (*n, "effects")) for c, n in candidates if c.effects is not None),
                                 ((), None))
    if scene is None:
        what = f"{phase} phase of segment" if phase else "segment"
        return (f"{what} '{segment.title}' has no scene: give it 'scene:' or add a look for "
                f"kind '{kind}' under 'looks:'")
    return ResolvedLook(scene[0], effects, (*scene[1], "scene"), effects_node)


def _phases(segment: Segment) -> list[str | None]:
    return ["work", "rest"] if segment.intervals is not None else [None]


def _unknown_kind(kind: str, known: Iterable[str], where: str = "") -> str:
    return (f"unknown kind '{kind}'{where}{did_you_mean(kind, known)}: kinds are {', '.join(KNOWN_KINDS)}, "
            "or a kind added to 'backwards_kinds:'")


def _kind_problems(doc: YamlDocument, style: CueSheet | CueStyle) -> list[Problem]:
    """Kinds are known ones: a misspelt `retro-run` would otherwise be a forward kind, and could be dark."""
    problems = []
    known = (*KNOWN_KINDS, *style.backwards_kinds)
    written = doc.data.get("backwards_kinds") if isinstance(doc.data, dict) else None
    for kind in style.backwards_kinds:
        if kind not in KNOWN_KINDS and did_you_mean(kind, KNOWN_KINDS) and isinstance(written, list):
            problems.append(Problem(
                doc.location(("backwards_kinds", written.index(kind))),
                f"unknown kind '{kind}' in 'backwards_kinds:'{did_you_mean(kind, KNOWN_KINDS)}: it adds kinds to the "
                f"built-in {', '.join(BACKWARDS_KINDS)}; give a new kind a name unlike the known ones"))
    for kind in style.looks:
        if kind not in known:
            problems.append(Problem(doc.location(("looks", kind), key=True),
                                    _unknown_kind(kind, known, " under 'looks:'")))
    return problems


def _look_problems(doc: YamlDocument, style: CueSheet | CueStyle) -> list[Problem]:
    problems = _kind_problems(doc, style)
    for kind, look in style.looks.items():
        if look.scene is not None and look.scene not in style.scenes:
            problems.append(Problem(doc.location(("looks", kind, "scene")),
                                    f"unknown scene '{look.scene}'{did_you_mean(look.scene, style.scenes)}"))
        for j, effect in enumerate(look.effects or ()):
            if effect not in style.effects:
                problems.append(Problem(doc.location(("looks", kind, "effects", j)),
                                        f"unknown effect '{effect}'{did_you_mean(effect, style.effects)}"))
    return problems


def _reference_problems(loaded: LoadedCueSheet) -> list[Problem]:
    sheet = loaded.sheet
    problems = _look_problems(loaded.doc, sheet)

    def unknown(kind: str, name: str, names: Iterable[str], node: NodePath) -> None:
        problems.append(Problem(loaded.location(node), f"unknown {kind} '{name}'{did_you_mean(name, names)}"))

    known_kinds = (*KNOWN_KINDS, *sheet.backwards_kinds)
    for i, segment in enumerate(sheet.segments):
        node: NodePath = ("segments", i)
        if segment.kind not in known_kinds:
            problems.append(Problem(loaded.location((*node, "kind")), _unknown_kind(segment.kind, known_kinds)))
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


def send_problems(doc: YamlDocument, style: CueSheet | CueStyle, rig: Rig) -> list[Problem]:
    """Scenes and effects only name outputs `rig` has, with messages of their transport."""
    problems: list[Problem] = []
    for name, scene in style.scenes.items():
        problems += check_messages_for_outputs(doc, ("scenes", name, "send"), scene.send, rig, f"scene '{name}'")
    for name, effect in style.effects.items():
        problems += check_messages_for_outputs(doc, ("effects", name, "send"), effect.send, rig, f"effect '{name}'")
    return problems


def check_style_against_rig(loaded: LoadedCueStyle, rig: Rig) -> list[Problem]:
    """A house style's scenes and effects only name outputs `rig` has, with messages of their transport."""
    return send_problems(loaded.doc, loaded.style, rig)


def _style_document(doc: YamlDocument) -> YamlDocument:
    """A base file validated as a house style; class-only keys are refused with a message saying so."""
    if not isinstance(doc.data, dict):
        raise ProblemsError([Problem(doc.location(()), "a house-style file must be a mapping of keys")])
    problems = [Problem(doc.location((key,), key=True),
                        f"'{key}' belongs in the class file, not in a house style that others extend")
                for key in _CLASS_ONLY if key in doc.data]
    kept = YamlDocument(doc.path, {k: v for k, v in doc.data.items() if k not in _CLASS_ONLY}, doc.marks,
                        doc.key_marks)
    try:
        validate_document(kept, CueStyle)
    except ProblemsError as err:
        problems += err.problems
    if problems:
        raise ProblemsError(problems)
    return kept


def _load_chain(path: str | Path) -> YamlDocument:
    """`path` overlaid on the chain of files it extends (each base validated as a house style first)."""
    child = load_yaml(path)
    chain = [child]
    seen = [Path(path).resolve()]
    doc = child
    while isinstance(doc.data, dict) and isinstance(doc.data.get("extends"), str):
        base_path = _relative_to(doc, ("extends",), doc.data["extends"])
        where = doc.location(("extends",))
        if base_path.resolve() in seen:
            cycle = " → ".join([*(p.name for p in seen[seen.index(base_path.resolve()):]), base_path.name])
            raise ProblemsError([Problem(where, f"'extends' makes a cycle: {cycle}")])
        if not base_path.is_file():
            raise ProblemsError([Problem(where, f"no such file to extend: {base_path}")])
        doc = _style_document(load_yaml(base_path))
        chain.append(doc)
        seen.append(base_path.resolve())
    merged = chain[-1]
    for above in reversed(chain[:-1]):
        merged = overlay(merged, above, inherit=INHERITED_DEFAULTS, merge=INHERITED_NAMED)
    return _all_backwards_kinds(merged, chain)


def _all_backwards_kinds(merged: YamlDocument, chain: list[YamlDocument]) -> YamlDocument:
    """`backwards_kinds:` only adds, along the `extends:` chain too: a class cannot drop a kind its house style
    made backwards. Each name keeps the mark of the file that first wrote it."""
    lists = [(doc, doc.data["backwards_kinds"]) for doc in reversed(chain)
             if isinstance(doc.data, dict) and isinstance(doc.data.get("backwards_kinds"), list)]
    if len(lists) < 2 or not isinstance(merged.data, dict):
        return merged  # nothing to combine: the one list (or none) is already the merged document's
    names: list[object] = []
    marks = {k: v for k, v in merged.marks.items() if k[:1] != ("backwards_kinds",) or len(k) == 1}
    for doc, kinds in lists:
        for j, name in enumerate(kinds):
            if name not in names:
                marks[("backwards_kinds", len(names))] = doc.location(("backwards_kinds", j))
                names.append(name)
    return YamlDocument(merged.path, {**merged.data, "backwards_kinds": names}, marks, merged.key_marks)


def is_cue_style(path: str | Path) -> bool:
    """Whether `path` reads as a house-style file (a mapping with no class plan), for `showctl check`."""
    try:
        data = load_yaml(path).data
    except ProblemsError:
        return False
    return isinstance(data, dict) and "outputs" not in data and not any(k in data for k in _CLASS_ONLY[:2])


def load_cue_style(path: str | Path) -> LoadedCueStyle:
    """Read and check a house-style file (and what it extends) on its own: schema, looks, its rig file."""
    doc = _load_chain(path)
    style = validate_document(_style_document(doc), CueStyle)
    loaded = LoadedCueStyle(style, doc, Path(path))
    problems = _look_problems(doc, style)
    if loaded.rig_path is not None and not loaded.rig_path.is_file():
        problems.append(Problem(doc.location(("rig",)), f"no such rig file: {loaded.rig_path}"))
    if problems:
        raise ProblemsError(problems)
    return loaded


def check_cue_style(path: str | Path) -> LoadedCueStyle:
    """`showctl check` for a house-style file: `load_cue_style`, then its scenes against the rig it names."""
    loaded = load_cue_style(path)
    if loaded.rig_path is not None:
        problems = check_style_against_rig(loaded, load_rig(loaded.rig_path))
        if problems:
            raise ProblemsError(problems)
    return loaded


def track_problem(loaded: LoadedCueSheet, err: AnalysisError) -> ProblemsError:
    """A track that failed analysis, located at its playlist entry in the cue file."""
    for i, path in enumerate(loaded.track_paths):
        if str(path) == err.path:
            return ProblemsError([Problem(loaded.location(("playlist", i, "track")),
                                          f"track cannot be analysed: {path}: {err.reason}")])
    return ProblemsError([Problem(Location(err.path), err.reason)])


def load_cue_sheet(path: str | Path) -> LoadedCueSheet:
    """Read, validate and cross-check a cue file (and the house styles it extends); ProblemsError lists
    every problem found, each in the file it is in.

    Checks that need the rig (outputs, floor light) are `showctl.cues.check.check_against_rig`'s.
    """
    doc = _load_chain(path)
    sheet = validate_document(doc, CueSheet)
    loaded = LoadedCueSheet(sheet, doc, Path(path))
    problems = _reference_problems(loaded)
    if problems:
        raise ProblemsError(problems)
    return loaded
