"""MIDI through a real JACK server to the real simulated rig: nothing the class sends is lost without a word.

JACK carries a port's MIDI in one buffer per period (32 KiB on JACK2: about 2 700 one-byte messages); what
does not fit is dropped. And a client that misses its period (an xrun) loses that period's MIDI.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import own_jackd, require_binary, run_child, wait_for

from showctl.messages import MidiMessage
from showctl.outputs import open_output
from showctl.player.player import OutputHealth, PlayResult
from showctl.rig import MidiOutputConfig, Rig
from showctl.show import ClassReport, settle
from showctl.sim import JackServer, SimulatedRig


def _desk_rig() -> Rig:
    config = MidiOutputConfig(transport="midi", port="unused", clock=True)
    return Rig(name="test", outputs={"desk": config}, safe_scene={"desk": (MidiMessage.parse("stop"),)})


@pytest.mark.slow
def test_a_burst_larger_than_a_jack_period_arrives_whole(jack: JackServer) -> None:
    # A player that fell behind, or a fake clock, hands over many messages at once. With a long period
    # (4096 frames, as studios running jackd without realtime often choose) one period's share of 30 000
    # clock ticks is far more than a port's buffer holds: unpaced, JACK dropped the rest without a word.
    burst = 30_000
    with JackServer(period=4096, name=f"showctl-test-long-period-{os.getpid()}"), \
            SimulatedRig(_desk_rig()) as sim:
        output = open_output("desk", sim.rig_for_outputs)
        try:
            for _ in range(burst):
                output.send(MidiMessage("clock"))
            arrived = sim.wait_for({"desk": burst}, timeout=30)
        finally:
            output.close()
        assert arrived, f"the rig received {sim.counts['desk']} of {burst} clock ticks"
    assert {r.message for r in sim.received} == {"clock"}


@pytest.mark.slow
def test_midi_the_rig_missed_is_explained_by_the_xruns_jack_reported(jack: JackServer) -> None:
    import jack as jack_client  # JACK-Client

    with SimulatedRig(_desk_rig()) as sim:
        # A client that overruns one period, as a starved one does on a busy machine without realtime
        # scheduling: JACK reports an xrun to every client.
        stalled = threading.Event()
        staller: Any = jack_client.Client("showctl-test-staller", no_start_server=True)

        @staller.set_process_callback  # type: ignore[misc]
        def _process(frames: int) -> None:
            if not stalled.is_set():
                stalled.set()
                time.sleep(4 * frames / staller.samplerate)  # overrun the cycle on purpose

        staller.activate()
        try:
            wait_for(lambda: sim.xruns > 0, "the simulated rig hears JACK's xrun")
        finally:
            staller.deactivate()
            staller.close()
        errors: list[str] = []
        report = ClassReport(note=lambda _: None, warn=lambda _: None, error=errors.append)
        # One message more than arrived: what a lost JACK period looks like to the class.
        result = PlayResult(True, 1, {"desk": OutputHealth(sent=sim.counts["desk"] + 1)})
        settle(result, sim, report)
    assert len(errors) == 1
    assert errors[0].startswith("the simulated rig missed messages: {'desk': 1}; JACK reported ")
    assert "xrun" in errors[0]



CLOSE_DURING_XRUNS = """
import sys, threading, time
import jack
from showctl.outputs.midi import JackWatch

late = jack.Client("showctl-test-late", no_start_server=True)
late.set_process_callback(lambda frames: time.sleep(0.008))  # over a 5.3-ms period: an xrun every cycle
late.activate()

def busy() -> None:  # another thread wants the GIL all the time, as the player's and the screen's do
    while True:
        sum(range(1000))

threading.Thread(target=busy, daemon=True).start()
xruns = 0
for _ in range(int(sys.argv[1])):
    watch = JackWatch("test")
    time.sleep(0.03)
    xruns += watch.xruns
    watch.close()
print(f"closed; {xruns} xruns heard", flush=True)
"""


@pytest.mark.rig
def test_closing_the_jack_watch_while_jack_reports_xruns_never_hangs_the_process(jack: JackServer) -> None:
    """jack_client_close cancels the client's notification thread; one cancelled inside a Python callback,
    waiting for the GIL, took the GIL's mutex with it and the process hung for good (a live class at its end,
    1 run in ~60). Before the fix this hung within 100 closes every time (3 of 3)."""
    import subprocess
    import sys

    from conftest import REPO

    child = subprocess.Popen([sys.executable, "-c", CLOSE_DURING_XRUNS, "60"], cwd=REPO, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        out, _ = child.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        child.kill()  # its JACK clients go with it: the server lives on for the next tests
        child.communicate()
        pytest.fail("the process hung closing a JACK client while JACK reported xruns")
    assert child.returncode == 0 and out.startswith("closed; "), out
    assert int(out.split()[1]) > 0, "no xrun was reported: the test did not test the race"


def server_dies_under_a_busy_gil(tmp: str) -> None:
    """A child's scenario: the JACK server stops while Python holds the GIL, and a new JACK client opens."""
    import ctypes.util

    from showctl.jackd import ServerSocket
    from showctl.outputs.midi import JackWatch

    with own_jackd(tmp, "showctl-test-cancel-") as server:
        assert server.process is not None
        watch = JackWatch("test")
        socket = str(ServerSocket().path).encode()
        keeps_gil = ctypes.PyDLL(ctypes.util.find_library("jack"))  # PyDLL: calls that never release the GIL
        libc = ctypes.PyDLL(None)
        sys.setswitchinterval(1000)  # nor does this thread hand the GIL over on its own: the watch waits for it
        server.process.terminate()
        while libc.access(socket, 0) == 0:
            pass
        until = time.monotonic() + 0.5  # time for the watch's JACK thread to hear of it
        while time.monotonic() < until:
            pass
        # A new client of this process's libjack: it closes every client of the dead server, cancelling their
        # threads (a reconnecting output does the same).
        keeps_gil.jack_client_open(b"showctl-test-late", 1, None)  # 1: JackNoStartServer
        sys.setswitchinterval(0.005)
        time.sleep(0.1)  # the GIL is handed over: it hung here for good when the cancelled thread held its mutex
        print(json.dumps({"gone": watch.gone()}), flush=True)


@pytest.mark.rig
def test_a_jack_server_dying_while_python_is_busy_never_hangs_the_process(tmp_path: Path) -> None:
    """A JACK notice handled in Python waits for the GIL; libjack cancels that thread when this process opens
    its next JACK client after the server died, and a thread cancelled so dies holding the GIL's mutex: every
    thread then hangs for good (a CI run, the server stopped mid-class and the MIDI output reconnecting).
    The watch's notices are counted in C instead. The old watch hung here every time."""
    require_binary("jackd", "a JACK server to stop")
    result = run_child("test_outputs_jack_midi", "server_dies_under_a_busy_gil", tmp_path, 60,
                       "the process hung once its JACK server died while Python was busy")
    assert result["gone"]


def clients_outlive_their_server_restart(tmp: str) -> None:
    _clients_outlive_their_server(tmp, crash=False)


def clients_outlive_their_server_crash(tmp: str) -> None:
    _clients_outlive_their_server(tmp, crash=True)


def _clients_outlive_their_server(tmp: str, *, crash: bool) -> None:
    """A child's scenario: a MIDI clock input, a simulated rig and a MIDI output to it, all on a JACK server that
    stops and starts again (or, `crash`, is killed and leaves its socket file behind, as a crashed jackd does,
    and a MIDI output tries to reconnect); each closed after that new JACK client."""
    import ctypes
    import ctypes.util
    import signal

    import rtmidi

    from showctl.live import MidiClockSource
    from showctl.outputs.midi import midi_api

    rig = Rig(name="restart", outputs={"desk": MidiOutputConfig(transport="midi", port="unused")},
              safe_scene={"desk": ()})
    closed: list[str] = []

    def close_all() -> None:
        for what, close in (("MIDI clock input", clock_in.close), ("MIDI output", desk.close),
                            ("simulated rig", sim.close)):
            print(f"closing the {what}", file=sys.stderr, flush=True)
            close()
            closed.append(what)

    with own_jackd(tmp, "showctl-test-restart-") as server:
        assert server.process is not None
        clock_in = MidiClockSource(api="jack", client="showctl-test-clock")
        sim = SimulatedRig(rig).__enter__()
        desk = open_output("desk", sim.rig_for_outputs)
        server.process.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
        server.process.wait()
        if crash:
            assert Path(f"/dev/shm/jack_{server.name}_{os.getuid()}_0").exists(), "no socket left: tests nothing"
            # A client opening (the output reconnecting) finds no server, but first frees the dead one's clients.
            libjack = ctypes.CDLL(ctypes.util.find_library("jack"))
            libjack.jack_client_open.restype = ctypes.c_void_p
            assert libjack.jack_client_open(b"showctl-test-probe", 1, None) is None  # 1: JackNoStartServer
            # Closing a freed client is a use after free that may or may not crash: what decides is that each
            # client is seen as one of a dead server, and so left alone.
            assert clock_in._server is not None and clock_in._server.gone(), "the crashed server is not seen gone"
            close_all()
    if not crash:
        with own_jackd(tmp, "showctl-test-restart-"):  # JACK restarted: the next client frees the dead one's clients
            probe = rtmidi.MidiOut(rtapi=midi_api("jack"), name="showctl-test-probe")
            close_all()
            probe.delete()
    print(json.dumps({"closed": closed}), flush=True)


@pytest.mark.rig
@pytest.mark.parametrize("death", ["restart", "crash"])
def test_midi_ports_whose_jack_server_died_close_without_crashing(tmp_path: Path, death: str) -> None:
    # Once a JACK server dies, the next JACK client this process opens makes libjack free every client of the
    # old one behind rtmidi's back; closing such a port afterwards crashed the process (a segmentation fault
    # at the end of a class, or of a rehearsal on the simulated rig). A crashed server ("crash": SIGKILL) leaves
    # its socket file: that it is no longer listened on says it died.
    require_binary("jackd", "a JACK server to stop")
    result = run_child("test_outputs_jack_midi", f"clients_outlive_their_server_{death}", tmp_path, 60,
                       "closing MIDI ports of a dead JACK server hung")
    assert result["closed"] == ["MIDI clock input", "MIDI output", "simulated rig"]
