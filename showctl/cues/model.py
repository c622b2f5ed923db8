"""The cue file schema: the class plan, playlist, scenes, effects and looks, as pydantic models.

This is the one place the schema lives (`showctl schema` exports it as JSON Schema).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from showctl.rig.model import Messages, Percent
from showctl.units import Length, Rate, parse_clock, parse_length, parse_nudge, parse_rate

__all__ = [
    "BACKWARDS_KINDS", "INHERITED_DEFAULTS", "INHERITED_NAMED", "KNOWN_KINDS", "Countdown", "CueSheet", "CueStyle",
    "Effect", "Intervals", "Look", "PlaylistEntry", "Scene", "Segment", "Snap",
]

KNOWN_KINDS = ("warmup", "retro_run", "reverse_lunge", "sled_pull", "recovery", "cooldown", "stretch")
# People moving backwards cannot see where they go: the floor keeps at least the rig's floor_light.
# A cue file's `backwards_kinds:` only adds to these: no file can make a retro run a forward kind.
BACKWARDS_KINDS = ("retro_run", "reverse_lunge", "sled_pull")

Seconds = Annotated[float, BeforeValidator(parse_clock), Field(json_schema_extra={"examples": ["3:00", "40s"]})]
LengthValue = Annotated[
    Length,
    BeforeValidator(parse_length),
    PlainSerializer(str, return_type=str),
    Field(json_schema_extra={"examples": ["3:00", "16 bars", "end of track"]}),
]
Nudge = Annotated[float, BeforeValidator(parse_nudge),
                  Field(json_schema_extra={"examples": ["half beat", "-quarter beat"]})]
RateValue = Annotated[
    Rate,
    BeforeValidator(parse_rate),
    PlainSerializer(str, return_type=str),
    Field(json_schema_extra={"examples": ["beat", "half beat", "bar", "2 beats"]}),
]
Snap = Literal["downbeat", "beat", "phrase", "none"]
Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class Strict(BaseModel):
    # allow_inf_nan: a string "inf" or "nan" is a float to pydantic; no value here means it.
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)


class FixedGrid(Strict):
    """A beat grid the tech sets by hand, for the rare track the tracker gets wrong."""

    bpm: float = Field(gt=30, lt=300)
    offset: Seconds = Field(default=0.0, description="time of the first beat in the track")


class PlaylistEntry(Strict):
    track: str = Field(description="audio file, relative to the cue file")
    start: Seconds = Field(default=0.0, description="start this far into the track")
    tempo: float | None = Field(default=None, gt=30, lt=300, description="tempo hint (BPM): re-track near it")
    first_downbeat: Seconds | None = Field(default=None, description="where bar 1 starts in the track")
    grid: FixedGrid | None = Field(default=None, description="a fixed grid: overrides the tracker entirely")
    nudge: Nudge | None = Field(default=None, description="move the tracked grid by part of a beat: 'half beat' "
                                "when the lights land on the snare or hats instead of the kick, '-quarter beat' …")


class Scene(Strict):
    """A named look: the messages that set it, per rig output."""

    send: dict[str, Messages] = Field(min_length=1)
    floor: Percent = Field(default=1.0, description="how much light this look leaves on the floor, for what its "
                           "messages do not show (a console's scene button); the check takes the lower of this and "
                           "what the messages send (a blackout, a master level, DMX fixtures through the patch)")


class Effect(Strict):
    """Messages repeated in musical time (a pulse every beat, a chase step every half beat...)."""

    every: RateValue
    send: dict[str, Messages] = Field(min_length=1)
    flash: bool = Field(default=True, description="counts towards the 3 Hz photosensitivity limit (a strobe "
                        "address, strobe note or DMX strobe level counts whatever this says)")


class Look(Strict):
    scene: str | None = None
    effects: tuple[str, ...] | None = None


class Countdown(Strict):
    """Messages on each of the last `beats` beats of every work phase (3, 2, 1, whistle).

    In an OSC argument `{n}` becomes the count: `/showctl/countdown {n}` sends 3, then 2, then 1.
    """

    beats: int = Field(ge=1, le=16, description="how many beats before the end of each work phase")
    send: dict[str, Messages] = Field(min_length=1)
    flash: bool = Field(default=True, description="counts towards the 3 Hz photosensitivity limit (a strobe "
                        "address, strobe note or DMX strobe level counts whatever this says)")


class Intervals(Strict):
    rounds: int = Field(ge=1, le=100)
    work: Seconds
    rest: Seconds

    @model_validator(mode="after")
    def _positive(self) -> Intervals:
        if self.work <= 0:
            raise ValueError("work must be longer than zero")
        if self.rest < 0:
            raise ValueError("rest cannot be negative")
        return self


class Segment(Strict):
    name: str | None = None
    kind: Name
    length: LengthValue | None = None
    intervals: Intervals | None = None
    scene: str | None = None
    effects: tuple[str, ...] | None = None
    work: Look | None = None
    rest: Look | None = None
    countdown: Countdown | None = Field(default=None, description="a 3-2-1 cue before each work phase ends")
    snap: Snap | None = None

    @model_validator(mode="after")
    def _length_or_intervals(self) -> Segment:
        if self.intervals is None and self.length is None:
            raise ValueError("a segment needs a 'length' (e.g. '3:00', '16 bars', 'end of track') or 'intervals'")
        if self.intervals is not None and self.length is not None:
            raise ValueError("give either 'length' or 'intervals', not both")
        if self.intervals is None and (self.work is not None or self.rest is not None):
            raise ValueError("'work' and 'rest' looks belong to a segment with 'intervals'")
        if self.intervals is None and self.countdown is not None:
            raise ValueError("'countdown' belongs to a segment with 'intervals' (it counts down each work phase)")
        return self

    @property
    def title(self) -> str:
        return self.name or self.kind.replace("_", " ")


def _none_as_empty(value: object) -> object:
    return () if value is None else value


def _with_builtin_backwards(value: tuple[str, ...]) -> tuple[str, ...]:
    """The built-in backwards kinds, then the ones a file adds (extend only: `[]` removes nothing)."""
    return tuple(dict.fromkeys((*BACKWARDS_KINDS, *value)))


BackwardsKinds = Annotated[
    tuple[Name, ...], AfterValidator(_with_builtin_backwards),
    Field(description="kinds where people move backwards, added to the built-in retro_run, reverse_lunge and "
          "sled_pull (which no file can remove): the floor keeps the rig's floor_light there")]


# What a cue file takes from the file it `extends:` when it does not give it itself...
INHERITED_DEFAULTS = ("rig", "snap", "max_snap", "phrase_bars", "backwards_kinds")
# ...and the named entries it merges (its own entry wins over the base's entry of the same name).
INHERITED_NAMED = ("scenes", "effects", "looks")


class CueSheet(Strict):
    """A class: what plays, in what order, and what the lights do."""

    name: str
    extends: str | None = Field(
        default=None, description="a house-style file (relative to this one) whose scenes, effects, looks and "
        "defaults this class inherits; this file wins on conflicts")
    rig: str | None = Field(default=None, description="rig file, relative to the cue file")
    cap: Seconds | None = Field(default=None, description="the class never runs longer than this")
    snap: Snap = "downbeat"
    max_snap: float = Field(default=0.5, gt=0, le=4, description="furthest a change may move, in bars")
    phrase_bars: int = Field(default=8, ge=1, le=64)
    allow_fast_strobe: bool = False
    reason: str | None = Field(default=None, description="why fast strobe is allowed (required with it)")
    backwards_kinds: BackwardsKinds = BACKWARDS_KINDS
    playlist: Annotated[tuple[PlaylistEntry, ...], BeforeValidator(_none_as_empty)] = Field(
        json_schema_extra={"minItems": 1})
    scenes: dict[Name, Scene] = Field(default_factory=dict)
    effects: dict[Name, Effect] = Field(default_factory=dict)
    looks: dict[Name, Look] = Field(default_factory=dict, description="scene and effects per segment kind")
    segments: Annotated[tuple[Segment, ...], BeforeValidator(_none_as_empty)] = Field(
        json_schema_extra={"minItems": 1})

    @field_validator("playlist")
    @classmethod
    def _some_tracks(cls, value: tuple[PlaylistEntry, ...]) -> tuple[PlaylistEntry, ...]:
        if not value:
            raise ValueError("the playlist is empty: list at least one track (- track: music/song.mp3)")
        return value

    @field_validator("segments")
    @classmethod
    def _some_segments(cls, value: tuple[Segment, ...]) -> tuple[Segment, ...]:
        if not value:
            raise ValueError("the class is empty: list at least one segment (- {kind: warmup, length: \"5:00\"})")
        return value

    @model_validator(mode="after")
    def _strobe_reason(self) -> CueSheet:
        if self.allow_fast_strobe and not (self.reason and self.reason.strip()):
            raise ValueError("allow_fast_strobe: true needs a 'reason:' saying why (photosensitive epilepsy risk)")
        return self


class CueStyle(Strict):
    """A house-style file: scenes, effects, looks and defaults shared by the cue files that extend it."""

    name: str | None = None
    extends: str | None = Field(default=None, description="a house-style file this one builds on")
    rig: str | None = Field(default=None, description="rig file, relative to this file")
    snap: Snap = "downbeat"
    max_snap: float = Field(default=0.5, gt=0, le=4)
    phrase_bars: int = Field(default=8, ge=1, le=64)
    backwards_kinds: BackwardsKinds = BACKWARDS_KINDS
    scenes: dict[Name, Scene] = Field(default_factory=dict)
    effects: dict[Name, Effect] = Field(default_factory=dict)
    looks: dict[Name, Look] = Field(default_factory=dict)
