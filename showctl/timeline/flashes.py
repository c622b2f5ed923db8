"""The 3 Hz flash rule (photosensitive epilepsy): what can flash, and at most 3 flashes in any 1-s window.

One rule for the whole class: the timeline compile applies it to every compiled event, the live planner
to its ticks on the predicted grid. Pure: data in, decisions out.

What can flash is decided here, once: an effect or countdown marked `flash` (the default), and — whatever
its `flash:` says, so `flash: false` is no way around the rule — anything that sends a strobe: an OSC
address the output's profile calls a strobe (`/showctl/strobe 1`), a MIDI note the profile maps to a
strobe, a DMX `strobe=` level on a fixture with a strobe channel. Flashes at the same instant (two effects on
one beat) are one flash to the eye. A fixture's own strobe channel strobes at the fixture's rate (a few to
twenty flashes a second, which showctl cannot see): that is fast strobe in itself, refused unless allowed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from showctl.cues.load import LoadedCueSheet
from showctl.errors import Problem
from showctl.messages import DmxMessage, MidiMessage, OscMessage, OutMessage
from showctl.rig import MidiOutputConfig, OscOutputConfig, Rig
from showctl.rig.dmx import build_patch
from showctl.rig.profiles import OSC_PROFILES

__all__ = [
    "ALLOW_REMEDY", "FLASH_LIMIT_HZ", "FLASH_WINDOW", "MAX_FLASHES", "FlashWindow", "fixture_strobe",
    "most_flashes_in_window", "sends_strobe", "steady_flashes", "strobe_problems", "thin_flashes",
]

FLASH_LIMIT_HZ = 3.0  # photosensitive epilepsy guidance: no flashing faster than 3 per second...
FLASH_WINDOW = 1.0  # s: ...counted as flashes in any one-second window
MAX_FLASHES = round(FLASH_LIMIT_HZ * FLASH_WINDOW)
SAME_INSTANT = 1e-3  # s: flashes closer than this are one flash (effects and a countdown on the same beat)
ALLOW_REMEDY = "set 'allow_fast_strobe: true' with a 'reason:' to allow it"
_EPS = 1e-6  # s: a window is [t, t + 1 s); a 180 BPM pulse (4 beats in exactly 1 s) is within the limit


def fixture_strobe(rig: Rig, message: OutMessage) -> bool:
    """Whether a DMX message sets a strobe level above 0 on a fixture that has a strobe channel."""
    if not isinstance(message, DmxMessage) or not any(k == "strobe" and v > 0 for k, v in message.levels):
        return False
    try:
        fixtures = build_patch(rig).targets(message.target)
    except KeyError:
        return False  # an unknown fixture or group: check_against_rig reports it
    return any("strobe" in f.type.channels for f in fixtures)


def sends_strobe(rig: Rig, output: str, message: OutMessage) -> bool:
    """Whether `message` to `output` fires a strobe (a flash, whatever the sender's `flash:` says)."""
    config = rig.outputs.get(output)
    if isinstance(message, OscMessage):
        return config.is_strobe(message) if isinstance(config, OscOutputConfig) else \
            OSC_PROFILES["generic"].is_strobe(message)
    if isinstance(message, MidiMessage):
        return isinstance(config, MidiOutputConfig) and config.is_strobe(message)
    return fixture_strobe(rig, message)


def _instants(times: Iterable[float]) -> list[float]:
    """Sorted flash times with flashes at the same instant counted once."""
    merged: list[float] = []
    for t in sorted(times):
        if not merged or t - merged[-1] >= SAME_INSTANT:
            merged.append(t)
    return merged


def most_flashes_in_window(times: Iterable[float]) -> int:
    """The most flashes in any 1-s window [t, t + 1 s) of `times`."""
    instants = _instants(times)
    most, lo = 0, 0
    for hi, t in enumerate(instants):
        while t - instants[lo] >= FLASH_WINDOW - _EPS:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def steady_flashes(steps: Sequence[float], period: float, span: float = 48.0) -> int:
    """The most flashes in a second from sources flashing every `steps[i]` beats, all from beat 0, on a
    steady grid of `period` s a beat: what a look writes, at a track's tempo (48 beats cover the common
    cycles of beat, bar and fractional rates)."""
    times = [k * step * period for step in steps for k in range(int(span / step) + 1)]
    return most_flashes_in_window(times)


@dataclass
class FlashWindow:
    """The flashes let through so far; `admits(t)` says whether one more at `t` keeps every 1-s window at
    MAX_FLASHES or fewer. Flashes may be offered out of order (a live grid refitted between windows)."""

    kept: list[float] = field(default_factory=list)  # sorted instants

    def _at(self, t: float) -> bool:
        i = bisect.bisect_left(self.kept, t - SAME_INSTANT + 1e-12)
        return i < len(self.kept) and self.kept[i] - t < SAME_INSTANT

    def admits(self, t: float) -> bool:
        if self._at(t):
            return True  # a flash at an instant already flashing adds nothing
        lo = bisect.bisect_right(self.kept, t - FLASH_WINDOW)
        hi = bisect.bisect_left(self.kept, t + FLASH_WINDOW)
        near = sorted([*self.kept[lo:hi], t])
        return most_flashes_in_window(near) <= MAX_FLASHES

    def add(self, t: float) -> None:
        if not self._at(t):
            bisect.insort(self.kept, t)

    def forget_before(self, t: float) -> None:
        """Drop flashes too old to share a window with anything at or after `t`."""
        del self.kept[:bisect.bisect_right(self.kept, t - FLASH_WINDOW)]


def thin_flashes(flashes: Sequence[tuple[float, bool]]) -> set[int]:
    """Which of `flashes` (time, may be left out) to leave out so that no 1-s window has more than
    MAX_FLASHES. Those that may not be left out (a scene's strobe: it is state, not a pulse) are counted
    first; then the others, in time order, each let through when the window allows it."""
    window = FlashWindow()
    for t, optional in flashes:
        if not optional:
            window.add(t)
    dropped: set[int] = set()
    for i in sorted(range(len(flashes)), key=lambda k: flashes[k][0]):
        t, optional = flashes[i]
        if not optional:
            continue
        if window.admits(t):
            window.add(t)
        else:
            dropped.add(i)
    return dropped


def strobe_problems(loaded: LoadedCueSheet, rig: Rig) -> list[Problem]:
    """Every DMX message of the cue file that runs a fixture's own strobe channel, unless fast strobe is
    allowed: the fixture strobes at its own rate, which is a flash rate above the limit in itself."""
    sheet = loaded.sheet
    if sheet.allow_fast_strobe:
        return []
    sends: list[tuple[tuple[str | int, ...], str, dict[str, tuple[OutMessage, ...]]]] = [
        *((("scenes", name, "send"), f"scene '{name}'", scene.send) for name, scene in sheet.scenes.items()),
        *((("effects", name, "send"), f"effect '{name}'", effect.send) for name, effect in sheet.effects.items()),
        *((("segments", i, "countdown", "send"), f"countdown of '{segment.title}'", segment.countdown.send)
          for i, segment in enumerate(sheet.segments) if segment.countdown is not None),
    ]
    problems: list[Problem] = []
    for node, what, send in sends:
        for output, messages in send.items():
            for k, message in enumerate(messages):
                if not isinstance(message, DmxMessage) or not fixture_strobe(rig, message):
                    continue
                strobes = [f"'{f.name}' ({f.type_name})" for f in build_patch(rig).targets(message.target)
                           if "strobe" in f.type.channels]
                problems.append(Problem(
                    loaded.location((*node, output, k)),
                    f"{what}: '{message}' runs the strobe channel of {', '.join(strobes)}, a flash rate of its own "
                    f"above the {FLASH_LIMIT_HZ:g} Hz limit for photosensitive epilepsy; {ALLOW_REMEDY}"))
    return problems
