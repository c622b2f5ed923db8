"""What the class screen shows, as small typed values. The studio fills them; the app turns them into JSON
(`to_json`) at the web edge and nowhere else."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from showctl.live_class import SourceCheck
from showctl.player.live_controls import LiveBeatView

__all__ = [
    "CheckItem", "ClassChoice", "LiveView", "OutputHealthView", "PairedDevice", "PendingView", "Phase",
    "RunOptions", "RunSummary", "StudioView", "TrackView", "to_json",
]

Phase = Literal["idle", "preparing", "ready", "not-ready", "running", "stopping"]
TrackState = Literal["waiting", "analysing", "cached", "analysed", "failed"]


@dataclass(frozen=True)
class ClassChoice:
    """A class the picker offers: a cue file in the cues folder (house styles are left out)."""

    path: str  # as `showctl check` would be given it (relative to the working directory when inside it)
    name: str  # the file name


@dataclass(frozen=True)
class TrackView:
    path: str
    name: str
    state: TrackState
    tempo: float | None = None
    confidence: float | None = None
    low_confidence: bool = False
    checks: tuple[str, ...] = ()  # where to check the grid by ear (`showctl.show.grid_checks`)
    overrides: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class OutputHealthView:
    name: str
    transport: str
    device: str  # `output 'console' (OSC 127.0.0.1:9000)`
    reachable: bool | None  # None: not checked (yet), or simulated
    reason: str  # why not, or how it was checked


@dataclass(frozen=True)
class CheckItem:
    label: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class RunOptions:
    """How Start runs the class: on the simulated rig (rehearsal) or not, how many times faster than real time,
    and whether the playlist plays from this laptop (at 1×; otherwise the music comes from elsewhere).

    `live`: the music plays elsewhere and the beat comes from a live `source` (`showctl run --live --source`),
    with `midi_in` / `audio_in` as `--midi-in` / `--audio-in`; speed and music do not apply."""

    sim: bool = False
    speed: float = 1.0
    music: bool = True
    live: bool = False
    source: str = "auto"
    midi_in: str | None = None
    audio_in: str | None = None


@dataclass(frozen=True)
class PendingView:
    name: str
    label: str
    lands_at: float  # class time
    lands_in: float  # class seconds from now


@dataclass(frozen=True)
class LiveView:
    """A running class, as the big screen and the phones show it."""

    name: str
    now: float
    duration: float
    speed: float
    segment: str | None
    kind: str | None
    round: int | None
    rounds: int | None
    phase: Literal["work", "rest"] | None
    left: float  # class seconds left in this part (the big countdown)
    backwards: bool
    tempo: float
    beats_per_bar: int
    beat: int  # 1-based beat in the bar (0 before the first downbeat)
    bar: int
    scene: str | None
    effects: tuple[str, ...]
    next_name: str | None
    next_in: float | None
    pending: tuple[PendingView, ...]
    paused: bool
    held: bool
    overlay: str | None
    outputs: tuple[OutputHealthView, ...]
    sent: int


@dataclass(frozen=True)
class RunSummary:
    """How the last class ended."""

    name: str
    text: str
    completed: bool
    sent: int


@dataclass(frozen=True)
class PairedDevice:
    id: str  # public, short: what the laptop shows and revokes by (never the token)
    label: str
    paired_at: float  # time.time()
    last_seen: float


@dataclass(frozen=True)
class StudioView:
    """The whole state of the studio page at one moment (one WebSocket message)."""

    phase: Phase
    classes: tuple[ClassChoice, ...]
    selected: str | None
    class_name: str | None
    problems: tuple[str, ...]  # `PATH:LINE:COL: message`, exactly as `showctl check` prints them
    tracks: tuple[TrackView, ...]
    analysed: int
    outputs: tuple[OutputHealthView, ...]
    tempo_source: str
    preview: int | None  # version of /preview.png, None when there is none
    checklist: tuple[CheckItem, ...]
    ready: bool
    options: RunOptions
    live: LiveView | None
    live_source: LiveBeatView | None  # a live class running (the music from elsewhere)
    live_controls: tuple[str, ...]  # what its buttons may press
    sources: tuple[SourceCheck, ...] | None  # the live sources tried before class (None: not checked yet)
    last_run: RunSummary | None
    notices: tuple[str, ...]
    version: int


def to_json(value: object) -> Any:
    """A dataclass (or a tuple of them) as plain JSON values; floats rounded to milliseconds."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, float):
        return round(value, 3)
    return value
