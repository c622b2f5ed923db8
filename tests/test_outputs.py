"""Outputs over the real transports: OSC on a loopback UDP socket, MIDI through real JACK ports."""

from __future__ import annotations

import pytest

from showctl.errors import DeviceError
from showctl.messages import MidiMessage, OscMessage
from showctl.outputs import open_output
from showctl.rig import MidiOutputConfig, OscOutputConfig, Rig
from showctl.sim import JackServer, SimulatedRig


def rig_with(**outputs: OscOutputConfig | MidiOutputConfig) -> Rig:
    safe = {name: (OscMessage("/house", (1,)),) if o.transport == "osc" else (MidiMessage.parse("stop"),)
            for name, o in outputs.items()}
    return Rig(name="test", outputs=outputs, safe_scene=safe)


def test_osc_over_loopback_keeps_types_and_order() -> None:
    rig = rig_with(console=OscOutputConfig(transport="osc", port=9000))
    sent = [OscMessage.parse(t) for t in ("/scene/warm 1", "/dimmer 0.5", "/label 'two words'", "/bang")]
    sent += [OscMessage("/n", (i,)) for i in range(200)]
    with SimulatedRig(rig) as sim:
        output = open_output("console", sim.rig_for_outputs)
        for message in sent:
            output.send(message)
        assert sim.wait_for({"console": len(sent)}, timeout=5)
        output.close()
    assert [r.message for r in sim.received] == [str(m) for m in sent]
    assert sim.received[1].message == "/dimmer 0.5"  # a float stays a float (not '/dimmer 0')
    assert sim.received[2].message == "/label 'two words'"


def test_osc_unresolvable_host_is_one_line() -> None:
    rig = rig_with(console=OscOutputConfig(transport="osc", host="no-such-host.invalid", port=9000))
    with pytest.raises(DeviceError) as info:
        open_output("console", rig)
    assert str(info.value).startswith("output 'console' (OSC no-such-host.invalid:9000): cannot resolve host")


def test_midi_over_real_jack_ports(jack: JackServer) -> None:
    rig = rig_with(desk=MidiOutputConfig(transport="midi", port="unused", clock=True))
    texts = ["note_on channel=0 note=60 velocity=127 time=0", "note_off channel=0 note=60 velocity=0 time=0",
             "control_change channel=3 control=7 value=99 time=0", "program_change channel=0 program=5 time=0",
             "start", *["clock"] * 48, "stop"]
    with SimulatedRig(rig) as sim:
        output = open_output("desk", sim.rig_for_outputs)
        for text in texts:
            output.send(MidiMessage.parse(text))
        assert sim.wait_for({"desk": len(texts)}, timeout=5)
        output.close()
    assert [r.message for r in sim.received] == texts
    assert all(r.transport == "midi" for r in sim.received)


def test_missing_midi_port_names_the_device(jack: JackServer) -> None:
    rig = rig_with(desk=MidiOutputConfig(transport="midi", port="nobody:in", api="jack"))
    with pytest.raises(DeviceError) as info:
        open_output("desk", rig)
    assert str(info.value).startswith("output 'desk' (MIDI port 'nobody:in'): no such MIDI port (available: ")
