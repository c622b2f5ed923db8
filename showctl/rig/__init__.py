"""The rig: what a studio has, described in its rig file — outputs (OSC consoles, MIDI ports, DMX through
olad), fixtures and their patch, receiver profiles, the floor light and the safe, blackout and floor
scenes. Pure description: loading and validating it, and judging what a look does to the floor; nothing
here opens a socket. The timeline, the live planner and the transports (`showctl.outputs`) all read it.
"""

from __future__ import annotations

from showctl.rig.load import load_rig
from showctl.rig.model import DmxOutputConfig, MidiOutputConfig, OscOutputConfig, Rig

__all__ = ["DmxOutputConfig", "MidiOutputConfig", "OscOutputConfig", "Rig", "load_rig"]
