"""The simulated rig (tests, CI, `showctl simulate`, `showctl run --sim`). Product code never imports it."""

from showctl.sim.jack import JackServer, jack_running
from showctl.sim.rig import Received, SimulatedRig

__all__ = ["JackServer", "Received", "SimulatedRig", "jack_running"]
