"""Outputs: the rig file and one class per transport (OSC, MIDI, DMX), opened by `open_outputs`."""

from __future__ import annotations

from showctl.outputs.base import Output
from showctl.outputs.rig import DmxOutputConfig, MidiOutputConfig, OscOutputConfig, Rig, load_rig

__all__ = ["DmxOutputConfig", "MidiOutputConfig", "OscOutputConfig", "Output", "Rig", "load_rig", "open_output"]


def open_output(name: str, rig: Rig) -> Output:
    """Open the rig's output `name` (raises DeviceError when it cannot be reached)."""
    config = rig.outputs[name]
    if isinstance(config, DmxOutputConfig):
        from showctl.outputs.dmx import open_dmx_output

        return open_dmx_output(name, rig)
    if isinstance(config, OscOutputConfig):
        from showctl.outputs.osc import OscOutput

        return OscOutput(name, config)
    from showctl.outputs.midi import MidiOutput

    return MidiOutput(name, config)
