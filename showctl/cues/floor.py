"""The floor never goes dark while people move backwards: how much light each look of a backwards part leaves
on the floor, and whether the rig's blackout key has a floor scene to fall back on there. Pure: no I/O.

`floor_problems` is the one rule: `check.check_against_rig` runs it (so `showctl check`, `run`, `simulate`, the class
screen and `live_plan` refuse the same cue files with the same lines), and so does `compile_timeline`.
"""

from __future__ import annotations

from dataclasses import dataclass

from showctl.cues.load import LoadedCueSheet, countdown_message, resolve_look
from showctl.cues.model import Segment
from showctl.errors import Problem
from showctl.messages import DmxMessage, OutMessage
from showctl.rig import Rig
from showctl.rig.floor_light import FLOOR_QUANTUM, FloorMeter, FloorReading
from showctl.yamlfile import NodePath

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


@dataclass(frozen=True)
class _Dark:
    """One thing that darkens a backwards part: what (`subject`), how much, why, chosen where, caused where."""

    subject: str
    level: float
    why: str
    chosen: NodePath
    cause: NodePath
    quantum: float = 0.0  # a sent level this far under the minimum is the minimum as the transport can send it


def _sent(meter: FloorMeter, sends: dict[str, tuple[OutMessage, ...]], node: NodePath, *,
          keep: FloorMeter | None = None) -> None:
    """Apply a look's messages (written at `node`) to `meter`; those that stay (not a flash) to `keep` too."""
    for output, messages in sends.items():
        for j, message in enumerate(messages):
            meter.apply(output, message, (*node, output, j))
            if keep is not None and not (isinstance(message, DmxMessage) and message.flash):
                keep.apply(output, message, (*node, output, j))


def _play_order(segment: Segment) -> list[str | None]:
    """The phases in the order they play, interval rounds twice so a rest's look carries into the next work."""
    iv = segment.intervals
    if iv is None:
        return [None]
    return ["work", "rest", "work", "rest"] if iv.rest > 0 else ["work"]


def _look_problems(loaded: LoadedCueSheet, rig: Rig) -> list[Problem]:
    """Play the looks in class order through a `FloorMeter` (what each message leaves on the floor, with DMX
    and console state carried from look to look) and judge every backwards part: its scene as it lands, each
    effect and countdown at its peak, and the scene's declared `floor:` (the lowest of all counts)."""
    sheet = loaded.sheet
    meter = FloorMeter(rig)
    problems: list[Problem] = []
    for i, segment in enumerate(sheet.segments):
        for phase in _play_order(segment):
            look = resolve_look(sheet, i, phase)
            if isinstance(look, str) or look.scene not in sheet.scenes:
                continue  # load_cue_sheet reports it
            scene = sheet.scenes[look.scene]
            scene_node: NodePath = ("scenes", look.scene)
            _sent(meter, scene.send, (*scene_node, "send"))
            darks: list[_Dark] = []
            declared = (*scene_node, "floor") if "floor" in scene.model_fields_set else scene_node
            darks.append(_Dark(f"scene '{look.scene}'", scene.floor, "", look.scene_node, declared))
            darks += _reading(f"scene '{look.scene}'", meter.darkest(), look.scene_node, scene_node)
            for j, name in enumerate(look.effects):
                effect = sheet.effects.get(name)
                if effect is None:
                    continue
                peak = meter.copy()
                _sent(peak, effect.send, ("effects", name, "send"), keep=meter)
                chosen = (*look.effects_node, j) if look.effects_node is not None else look.scene_node
                darks += _reading(f"effect '{name}' (over scene '{look.scene}')", peak.darkest(), chosen,
                                  ("effects", name))
            if segment.countdown is not None and phase == "work":
                peak = meter.copy()
                node: NodePath = ("segments", i, "countdown")
                counted = {o: tuple(countdown_message(m, 1) for m in ms) for o, ms in segment.countdown.send.items()}
                _sent(peak, counted, (*node, "send"))
                darks += _reading(f"the countdown of '{segment.title}'", peak.darkest(), node, node)
            if segment.kind not in sheet.backwards_kinds:
                continue
            problem = _judge(loaded, rig, segment, darks)
            if problem is not None and problem not in problems:
                problems.append(problem)
    return problems


def _reading(subject: str, reading: FloorReading | None, chosen: NodePath, own: NodePath) -> list[_Dark]:
    """`reading` as a cause of `subject` (whose messages are written under `own`), saying where a cause sent
    by an earlier look comes from."""
    if reading is None:
        return []
    why = reading.says()
    where = reading.where
    if where == ():
        if reading.message is not None:
            why += " (the rig's safe scene, which no look since has changed)"
    elif where[:len(own)] != own:
        source = f"scene '{where[1]}'" if where[0] == "scenes" else f"effect '{where[1]}'" \
            if where[0] == "effects" else "a countdown"
        why += f" (still in force from {source})"
    return [_Dark(subject, reading.level, why, chosen, where or chosen, FLOOR_QUANTUM)]


def _judge(loaded: LoadedCueSheet, rig: Rig, segment: Segment, darks: list[_Dark]) -> Problem | None:
    """The darkest cause under the rig's floor_light, at the line that made it unsafe: where the look was
    chosen, unless the class file lowered the floor of a look its house style chose (then the class's line)."""
    under = [d for d in darks if d.level < rig.floor_light - d.quantum]
    if not under:
        return None
    dark = min(under, key=lambda d: d.level)
    chosen, cause = loaded.location(dark.chosen), loaded.location(dark.cause)
    here = cause if cause.path == loaded.doc.path and chosen.path != loaded.doc.path else chosen
    why = f"{dark.why}; " if dark.why else ""
    return Problem(here, f"{dark.subject} leaves the floor at {dark.level:.0%} during '{segment.title}' "
                         f"({segment.kind}): {why}people moving backwards need at least the rig's floor_light "
                         f"{rig.floor_light:.0%}")
