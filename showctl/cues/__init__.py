"""Cue files: the class plan in strictly validated YAML."""

from showctl.cues.load import LoadedCueSheet, ResolvedLook, check_against_rig, load_cue_sheet, resolve_look
from showctl.cues.model import BACKWARDS_KINDS, KNOWN_KINDS, CueSheet, Effect, Intervals, Look, Scene, Segment

__all__ = [
    "BACKWARDS_KINDS", "KNOWN_KINDS", "CueSheet", "Effect", "Intervals", "LoadedCueSheet", "Look",
    "ResolvedLook", "Scene", "Segment", "check_against_rig", "load_cue_sheet", "resolve_look",
]
