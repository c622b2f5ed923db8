"""The result of analysing one track: the typed value the rest of showctl reads."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator
from pydantic.dataclasses import dataclass as validated

__all__ = ["ANALYSIS_VERSION", "BAR_DOUBT", "LOW_CONFIDENCE", "PHASE_DOUBT", "SECTION_LABELS", "GridCheck", "Section",
           "TrackAnalysis"]

# Bump when the tracker changes what it returns: cached results from another version are recomputed.
# 3: metre detection (3/4), backbeat-based octave choice, phrases, sections, overrides.
# 4: silence and beat-less tracks come back without beats (tempo 0, confidence 0); faster, same grids.
# 5: analysed at 11025 Hz from one spectrogram (chroma included): beat times move by a few ms.
# 6: beats stop at silence (>= 1 s, 50 dB below the loudest moment) and at the file's end instead of going on
#    over the noise floor or a ring-out, and are tracked afresh after a silent break; confidence scaled by
#    the share of the track that sounds. Demo tracks unchanged.
# 7: each section's `confidence` is the beat grid's support inside it (it was how clearly the section's start
#    stands out, now `boundary`); a silence inside the beat gets bar lines, so it can be a section of its own.
# 8: beats end where the drums stop (lasting hits) instead of going on to a cut-off under a chord held after them.
# 9: music that starts on the file's first sample gets its beat (and downbeat) at 0.000; bars counted from it.
#    The tempo octave may reach 200 BPM (was 180) where the drums support it: 190 BPM rock is 190, not 95;
#    driving 8ths are no longer heard at 2/3 of the tempo (113 for 170).
# 10: `phase_ambiguity` (track and section) and `phase_shift`: how likely the grid is a half or a quarter beat
#    off (`showctl.analysis.phase`); the track's and each section's `confidence` are at most 1 - it.
# 11: each section's `confidence` carries the track's doubt: the track's grid confidence (and phase doubt) times
#    the section's support over the track's average (`confidence.section_trust`), not the support alone.
# 12: `bar_ambiguity` and `bar_shift`: how likely bar 1 is elsewhere, and where (`downbeats.bar_doubt`).
ANALYSIS_VERSION = "12"

SECTION_LABELS = ("intro", "build", "drop", "breakdown", "outro")
LOW_CONFIDENCE = 0.5  # below this a grid (a track's, a section's) should be checked by ear
# Above this phase ambiguity the low confidence is the phase's doubt (confidence <= 1 - ambiguity): the check
# names the fix (`nudge`), not only the doubt.
PHASE_DOUBT = 1.0 - LOW_CONFIDENCE
# Above this bar ambiguity bar 1 is named for a check by ear, with the `first_downbeat:` that would move it.
BAR_DOUBT = 0.5

# Pydantic validates every analysis as it is built, the tracker's and a cache entry's alike: a cache entry
# is a file anyone can edit (or a bug can write), and `beats_per_bar: 0` or reversed beats would make the
# timeline loop forever or play a wrong class. NaN and infinities are refused everywhere.
_CHECKED = ConfigDict(allow_inf_nan=False)
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Time = Annotated[float, Field(ge=0.0)]
# How far (beats) a doubted grid may be off: later, or earlier when negative; half a beat either way is the
# same grid, and 0 would be no other phase at all (refused in `TrackAnalysis._check`).
PhaseShift = Annotated[float, Field(ge=-0.5, le=0.5)]
_MIN_BEATS_PER_BAR, _MAX_BEATS_PER_BAR = 2, 12


def _increasing(name: str, times: tuple[float, ...]) -> None:
    for i, (a, b) in enumerate(itertools.pairwise(times)):
        if b <= a:
            raise ValueError(f"{name} must increase ({name}[{i}] = {times[i]:g}, {name}[{i + 1}] = {times[i + 1]:g})")


@validated(frozen=True, config=_CHECKED)
class Section:
    """A stretch of a track with one energy level: `label` is one of `SECTION_LABELS`.

    `confidence` is the track's `confidence` narrowed to the section: the track's doubt in its grid (a wrong
    tempo octave or phase is wrong everywhere) times how well the grid is supported there against the rest
    of the track (`confidence.section_trust`), so a breakdown without drums or a silence can be flagged for
    a check by ear while the rest of the track is trusted. The structure step leaves it at 0; the tracker
    fills it in.
    """

    start: Time  # s
    end: Time  # s
    label: str
    energy: Fraction  # 0..1, against the loudest, busiest part of the track
    boundary: Fraction  # 0..1: how clearly the section's start stands out (1 for the first section)
    confidence: Fraction = 0.0  # 0..1: the track grid's confidence × the section's support over the track's
    # 0..1: how likely the section's beats are a half or a quarter beat off (`showctl.analysis.phase`);
    # `confidence` is at most 1 - it.
    phase_ambiguity: Fraction = 0.0

    @model_validator(mode="after")
    def _check(self) -> Section:
        if self.end < self.start:
            raise ValueError(f"section ends ({self.end:g} s) before it starts ({self.start:g} s)")
        if self.label not in SECTION_LABELS:
            raise ValueError(f"unknown section label {self.label!r}")
        return self

    def to_json(self) -> dict[str, Any]:
        return {"start": round(self.start, 6), "end": round(self.end, 6), "label": self.label,
                "energy": round(self.energy, 4), "confidence": round(self.confidence, 4),
                "boundary": round(self.boundary, 4), "phase_ambiguity": round(self.phase_ambiguity, 4)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Section:
        return cls(float(data["start"]), float(data["end"]), str(data["label"]), float(data.get("energy", 0.0)),
                   float(data.get("boundary", 0.0)), float(data.get("confidence", 0.0)),
                   float(data.get("phase_ambiguity", 0.0)))


@dataclass(frozen=True)
class GridCheck:
    """A stretch of a track (s) whose beat grid should be checked by ear; `section` None: the whole track.

    `phase_shift` (beats: 0.5, 0.25, -0.25) when the doubt is over the grid's phase rather than its support:
    the beats may sit that far off (on the snare or the hats rather than the kick), and `listen` (s) is a
    moment to hear it at (the start of the loudest section, where the drums play).

    `bar_shift` (beats, 1 or more) when the doubt is over where bar 1 is, not the beats: the bar lines may fall
    that many beats later, at `first_downbeat` (s) first, the value of the cue file's override that moves them
    there; `confidence` is then 1 - the bar ambiguity.
    """

    start: float
    end: float
    confidence: float
    section: str | None
    phase_shift: float | None = None
    listen: float | None = None
    bar_shift: int | None = None
    first_downbeat: float | None = None


@validated(frozen=True, config=_CHECKED)
class TrackAnalysis:
    """Tempo, beat grid, bars, phrases and sections of one audio file. Times are seconds from the start.

    Fields added after the first JSON contract (`phrases`, `sections`, `overrides`) have defaults, so
    older callers and older cache entries still construct and load.

    Validated as it is built (a `ValueError` otherwise): times finite, beats, downbeats and phrases strictly
    increasing, a tempo finite and not negative (0: no beat found), 2 to 12 beats in a bar, fractions in 0..1
    (the phase ambiguities included), a phase shift in -0.5..0.5 beats and not 0.
    """

    path: str
    duration: Time
    tempo: Time  # BPM
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    confidence: Fraction  # 0..1: how much to trust the grid
    beats_per_bar: Annotated[int, Field(ge=_MIN_BEATS_PER_BAR, le=_MAX_BEATS_PER_BAR)] = 4
    version: str = field(default=ANALYSIS_VERSION)
    phrases: tuple[float, ...] = ()  # phrase starts (s): downbeats opening 4/8/16-bar groups
    sections: tuple[Section, ...] = ()
    # What a cue file's override replaced ("tempo", "first_downbeat", "grid"); empty = all tracked.
    overrides: tuple[str, ...] = ()
    # 0..1: how likely the whole grid is off by `phase_shift` beats (0.5, 0.25 or -0.25): beats on the
    # snare or the hats rather than the kick (`showctl.analysis.phase`); `confidence` is at most 1 - it.
    phase_ambiguity: Fraction = 0.0
    phase_shift: PhaseShift = 0.5
    # 0..1: how likely bar 1 is `bar_shift` beats after where the downbeats put it (`downbeats.bar_doubt`: the
    # bar lines' evidence hardly prefers one beat of the bar); 0 where it cannot be told (a track with silent
    # breaks, each stretch with its own bars, or a long one analysed a window at a time).
    bar_ambiguity: Fraction = 0.0
    bar_shift: Annotated[int, Field(ge=1, lt=_MAX_BEATS_PER_BAR)] = 2

    @model_validator(mode="after")
    def _check(self) -> TrackAnalysis:
        for name in ("beats", "downbeats", "phrases"):
            _increasing(name, getattr(self, name))
        if self.beats and self.tempo <= 0:
            raise ValueError("a track with beats needs a tempo above 0 BPM")
        if self.phase_shift == 0:
            raise ValueError("phase_shift must name another phase (a share of a beat other than 0)")
        if self.bar_ambiguity > 0 and self.bar_shift >= self.beats_per_bar:  # no doubt: no other bar line named
            raise ValueError(f"bar_shift ({self.bar_shift}) must be less than beats_per_bar ({self.beats_per_bar})")
        return self

    def _bar_check(self) -> tuple[GridCheck, ...]:
        """Bar 1 in doubt (`bar_ambiguity` above `BAR_DOUBT`), unless the cue file says where it is: a check
        naming the `first_downbeat:` that moves the bar lines `bar_shift` beats later (the earliest beat where
        they would fall), to hear at the loudest section's first bar line."""
        if self.bar_ambiguity <= BAR_DOUBT or {"grid", "first_downbeat"} & set(self.overrides) or not self.downbeats:
            return ()
        first = self.beats.index(self.downbeats[0]) if self.downbeats[0] in self.beats else None
        if first is None:
            return ()
        later = self.beats[(first + self.bar_shift) % self.beats_per_bar]
        loudest = max(self.sections, key=lambda s: s.energy, default=None)
        listen = next((d for d in self.downbeats if loudest is None or d >= loudest.start), self.downbeats[0])
        return (GridCheck(0.0, self.duration, 1.0 - self.bar_ambiguity, None, listen=listen,
                          bar_shift=self.bar_shift, first_downbeat=later),)

    @property
    def grid_checks(self) -> tuple[GridCheck, ...]:
        """Where the grid should be checked by ear: the whole track when its confidence is low, else each
        section whose own is (a breakdown without drums, a silence); nothing for a grid the cue file fixed.

        Where the phase is in doubt (`phase_ambiguity` > `PHASE_DOUBT`), the check says so (`phase_shift`)
        so the fix can be named; once the cue file nudges the grid, a confidence that only the phase doubt
        held down (it is 1 - the doubt) is the tech's word too, and is not checked again.

        Where bar 1 is in doubt (`bar_ambiguity` > `BAR_DOUBT`) and the beats are not (a grid in doubt as a
        whole is checked first: its bars move with it), a check names the `first_downbeat:` that moves it.
        """
        if "grid" in self.overrides:
            return ()  # the tech's word, in every section
        beats = self._beat_checks()
        return beats if any(c.section is None for c in beats) else beats + self._bar_check()

    def _beat_checks(self) -> tuple[GridCheck, ...]:
        """The checks of the beats themselves (see `grid_checks`)."""
        nudged = "nudge" in self.overrides

        def doubted(confidence: float, ambiguity: float) -> tuple[bool, float | None]:
            """(check it, the phase shift to name or None)."""
            if nudged:
                return confidence < LOW_CONFIDENCE and confidence < 1.0 - ambiguity - 1e-3, None
            phase = ambiguity > PHASE_DOUBT
            return confidence < LOW_CONFIDENCE or phase, self.phase_shift if phase else None

        check, shift = doubted(self.confidence, self.phase_ambiguity)
        if check:
            # The whole grid is in doubt: a check per section would only repeat it. A doubted phase is heard
            # best where the drums play: the loudest section.
            loudest = max(self.sections, key=lambda s: s.energy, default=None)
            listen = max(loudest.start if loudest is not None else 0.0, self.beats[0] if self.beats else 0.0)
            return (GridCheck(0.0, self.duration, self.confidence, None, shift, listen if shift is not None else None),)
        found = []
        for s in self.sections:
            check, shift = doubted(s.confidence, s.phase_ambiguity)
            if check:
                at = s.start if shift is not None else None
                found.append(GridCheck(s.start, s.end, s.confidence, s.label, shift, at))
        return tuple(found)

    def to_json(self) -> dict[str, Any]:
        """The `showctl analyze --json` object (field names are a CLI contract)."""
        return {
            "path": self.path,
            "duration": round(self.duration, 6),
            "tempo": round(self.tempo, 3),
            "beats": [round(b, 6) for b in self.beats],
            "downbeats": [round(b, 6) for b in self.downbeats],
            "confidence": round(self.confidence, 4),
            "beats_per_bar": self.beats_per_bar,
            "version": self.version,
            "phrases": [round(p, 6) for p in self.phrases],
            "sections": [s.to_json() for s in self.sections],
            "overrides": list(self.overrides),
            "phase_ambiguity": round(self.phase_ambiguity, 4),
            "phase_shift": self.phase_shift,
            "bar_ambiguity": round(self.bar_ambiguity, 4),
            "bar_shift": self.bar_shift,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrackAnalysis:
        return cls(
            path=str(data["path"]),
            duration=float(data["duration"]),
            tempo=float(data["tempo"]),
            beats=tuple(float(b) for b in data["beats"]),
            downbeats=tuple(float(b) for b in data["downbeats"]),
            confidence=float(data["confidence"]),
            beats_per_bar=int(data.get("beats_per_bar", 4)),
            version=str(data.get("version", ANALYSIS_VERSION)),
            phrases=tuple(float(p) for p in data.get("phrases", [])),
            sections=tuple(Section.from_json(s) for s in data.get("sections", [])),
            overrides=tuple(str(o) for o in data.get("overrides", [])),
            phase_ambiguity=float(data.get("phase_ambiguity", 0.0)),
            phase_shift=float(data.get("phase_shift", 0.5)),
            bar_ambiguity=float(data.get("bar_ambiguity", 0.0)),
            bar_shift=int(data.get("bar_shift", 2)),
        )
