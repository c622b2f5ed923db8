"""Cue files: the class plan in strictly validated YAML (with `extends:` for a studio's house style)."""

from showctl.cues.check import check_against_rig
from showctl.cues.load import (
    LoadedCueSheet,
    LoadedCueStyle,
    ResolvedLook,
    check_cue_style,
    check_style_against_rig,
    countdown_message,
    is_cue_style,
    load_cue_sheet,
    load_cue_style,
    resolve_look,
    track_problem,
)
from showctl.cues.model import (
    BACKWARDS_KINDS,
    KNOWN_KINDS,
    Countdown,
    CueSheet,
    CueStyle,
    Effect,
    Intervals,
    Look,
    Scene,
    Segment,
)

__all__ = [
    "BACKWARDS_KINDS", "KNOWN_KINDS", "Countdown", "CueSheet", "CueStyle", "Effect", "Intervals", "LoadedCueSheet",
    "LoadedCueStyle", "Look", "ResolvedLook", "Scene", "Segment", "check_against_rig", "check_cue_style",
    "check_style_against_rig", "countdown_message", "is_cue_style", "load_cue_sheet", "load_cue_style", "resolve_look",
    "track_problem",
]
