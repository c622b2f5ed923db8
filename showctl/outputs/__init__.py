"""Outputs: one transport per kind (OSC, MIDI, DMX) that opens, sends and closes, for the rig's outputs
(`showctl.rig` describes them); `open_output` opens one."""

from __future__ import annotations

from showctl.outputs.base import Output
from showctl.rig import DmxOutputConfig, OscOutputConfig, Rig

__all__ = ["Output", "open_output"]


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
