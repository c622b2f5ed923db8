"""Live beat sources: the beat of music showctl has never seen, as a predicted grid the player follows.

- `AudioBeatTracker`: a causal tracker fed blocks of line-in audio (`follow_file` runs a file as if live);
- `MidiClockSource` / `ClockFit`: MIDI clock in (24 ppqn, start/stop/continue/song position);
- `TapTempo`: taps and "this is the one";
- `LinkSource`: an Ableton Link session (optional extra); `LineInSource`: a real audio input stream;
- `FallbackSource` / `Steered`: automatic fall-back between sources, and the instructor's corrections.
Each gives a `PredictedGrid` (tempo, phase, bar) and a state; the audio tracker also commits each beat
ahead of time as a `BeatEstimate`. Nothing here schedules output: that is the player's job.
"""

from __future__ import annotations

from showctl.live.audio import AudioBeatTracker
from showctl.live.follow import FollowResult, follow_file, follow_signal
from showctl.live.line_in import LineInSource
from showctl.live.link import LinkSource
from showctl.live.midi_clock import ClockFit, MidiClockSource
from showctl.live.model import BeatEstimate, BeatSource, PredictedGrid, SourceState
from showctl.live.steer import FallbackSource, Steered
from showctl.live.tap import TapTempo
from showctl.live.tracker_params import TrackerParams

__all__ = [
    "AudioBeatTracker",
    "BeatEstimate",
    "BeatSource",
    "ClockFit",
    "FallbackSource",
    "FollowResult",
    "LineInSource",
    "LinkSource",
    "MidiClockSource",
    "PredictedGrid",
    "SourceState",
    "Steered",
    "TapTempo",
    "TrackerParams",
    "follow_file",
    "follow_signal",
]
