"""A class file against the rig it runs on: outputs and messages (`load.send_problems`), countdowns as sent,
and the floor-light rule (`floor.floor_problems`). Apart from the loader, which the floor rule builds on."""

from __future__ import annotations

from showctl.cues.floor import floor_problems
from showctl.cues.load import LoadedCueSheet, countdown_message, send_problems
from showctl.cues.model import Countdown
from showctl.errors import Problem
from showctl.messages import OutMessage
from showctl.rig import Rig
from showctl.rig.model import check_messages_for_outputs

__all__ = ["check_against_rig"]


def check_against_rig(loaded: LoadedCueSheet, rig: Rig) -> list[Problem]:
    """Scenes and effects only name outputs the rig has; backwards segments keep the floor lit."""
    sheet, doc = loaded.sheet, loaded.doc
    problems = send_problems(doc, sheet, rig)
    for i, segment in enumerate(sheet.segments):
        if segment.countdown is not None:
            # Checked as sent: with `{n}` already replaced by a count.
            sends = _counted(segment.countdown)
            problems += check_messages_for_outputs(doc, ("segments", i, "countdown", "send"), sends, rig,
                                                   f"countdown of '{segment.title}'")
    return problems + floor_problems(loaded, rig)


def _counted(countdown: Countdown) -> dict[str, tuple[OutMessage, ...]]:
    return {output: tuple(countdown_message(m, 1) for m in messages) for output, messages in countdown.send.items()}
