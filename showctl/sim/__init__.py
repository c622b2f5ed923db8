"""The simulated rig (tests, CI, `showctl simulate`, `showctl run --sim`). Product code never imports it: a
front end that rehearses passes `simulated_rig` to the class as its `showctl.show.Rehearsal`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from showctl.rig import Rig
from showctl.sim.jack import JackServer, jack_running
from showctl.sim.rig import Received, SimulatedRig

__all__ = ["JackServer", "Received", "SimulatedRig", "jack_running", "simulated_rig"]


@contextmanager
def simulated_rig(rig: Rig, on_receive: Callable[[Received], None] | None = None) -> Iterator[SimulatedRig]:
    """The simulated rig for `rig`, with a JACK server when it has MIDI outputs."""
    with ExitStack() as stack:
        if any(o.transport == "midi" for o in rig.outputs.values()):
            stack.enter_context(JackServer())
        yield stack.enter_context(SimulatedRig(rig, on_receive=on_receive))
