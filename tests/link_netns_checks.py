"""Ableton Link checks that must run inside a private network namespace (`unshare -n`, loopback up): a second,
real Link session is the peer. Run by tests/test_link.py::test_link_in_a_private_network_namespace; not
collected on its own (its name does not start with test_), since Link outside a namespace would reach the LAN.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for

from showctl.live import LinkSource, PredictedGrid

REPO = Path(__file__).resolve().parent.parent

class Peer:
    """Another Link session (a DJ app), on its own asyncio loop thread, with its own `aalink.Link`."""

    def __init__(self, tempo: float) -> None:
        import aalink

        self.loop = asyncio.new_event_loop()
        self.link: Any = None
        ready = threading.Event()

        def make() -> None:  # aalink wants a running loop when it is made
            try:
                self.link = aalink.Link(tempo)
                self.link.quantum = 4
                self.link.enabled = True
            finally:
                ready.set()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(make)
            self.loop.run_forever()
            self.link.enabled = False
            self.link = None  # leaving the session: the other peers see it go at once
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait()

    def set_tempo(self, tempo: float) -> None:
        self.link.tempo = tempo

    def beat_now(self) -> tuple[float, float]:
        """(time.monotonic(), the session's beat then)."""
        m0 = time.monotonic()
        beat = float(self.link.beat)
        return 0.5 * (m0 + time.monotonic()), beat

    def close(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer(128.0)
    yield p
    p.close()


def beat_error(grid: PredictedGrid, peer: Peer) -> float:
    """Seconds between our grid's beat (and bar) and the peer's at one moment, wrapped to ± half a bar."""
    at, theirs = peer.beat_now()
    ours = grid.position(at) + grid.anchor_in_bar
    bar = grid.beats_per_bar
    diff = (ours - theirs + bar / 2) % bar - bar / 2
    return diff * grid.period


def test_netns_tempo_phase_and_a_tempo_change_are_shared(peer: Peer) -> None:
    with LinkSource(tempo=100.0) as source:
        assert source.state in ("listening", "locked")
        wait_for(lambda: source.state == "locked", "the peer found")
        # Which of two meeting sessions' timelines wins is Link's choice: the DJ sets the tempo once both are in.
        peer.set_tempo(128.0)
        wait_for(lambda: (g := source.grid()) is not None and abs(g.tempo - 128.0) < 1e-3, "128 BPM shared")
        grid = source.grid()
        assert grid is not None and grid.source == "link" and grid.state == "locked"
        assert abs(beat_error(grid, peer)) < 0.001  # beats (and the bar) agree within 1 ms
        peer.set_tempo(140.0)  # Link sends µs per beat: 140.00014 BPM arrives
        wait_for(lambda: (g := source.grid()) is not None and abs(g.tempo - 140.0) < 1e-3, "140 BPM followed")
        grid = source.grid()
        assert grid is not None and abs(beat_error(grid, peer)) < 0.001


def test_netns_peer_leaving_is_no_beat(peer: Peer) -> None:
    with LinkSource() as source:
        wait_for(lambda: source.state == "locked", "the peer found")
        peer.close()
        wait_for(lambda: source.state == "no-beat", "the peer gone")
        assert source.grid() is None and source.peers == 0


@pytest.mark.parametrize("source", ["link", "auto"])
def test_netns_the_demo_class_runs_on_link_and_on_after_the_peer_leaves(peer: Peer, source: str) -> None:
    env = {**os.environ, "COLUMNS": "200", "JACK_DEFAULT_SERVER": f"showctl-link-{os.getpid()}-{source}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "showctl.cli.main", "run", "cues/demo.yaml", "--live", "--source", source, "--sim"],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda s=s, into=into: into.extend(iter(s.readline, "")), daemon=True)
               for s, into in ((process.stdout, out), (process.stderr, err))]
    for reader in readers:
        reader.start()

    def accents() -> int:
        return sum(1 for line in list(out) if line.startswith("rig: desk") and "note_on" in line)

    try:
        wait_for(lambda: any("link: locked at " in line for line in list(err)), "locked to the peer", 30)
        peer.set_tempo(128.0)  # (the session's tempo is the peer's to set once showctl has joined)
        wait_for(lambda: accents() >= 3, "bar accents on the Link grid", 30)
        peer.close()
        wait_for(lambda: any("link: no beat" in line for line in list(err)), "the peer's leaving announced", 30)
        after = accents()
        wait_for(lambda: accents() >= after + 2, "the lights running on after the peer left", 30)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        for reader in readers:
            reader.join(timeout=5)
    stderr = "".join(err)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "link: no beat — the lights run on the last good grid (128.0 BPM)" in stderr
    if source == "auto":  # every source opened here (Link, a MIDI clock input, the JACK input, tap); Link first
        assert "beat from auto: link (Ableton Link) → midi-clock (" in stderr and "→ audio (system) → tap" in stderr
        assert "beat source: link\n" in stderr
    console = [line.split(None, 3)[-1].strip() for line in out if line.startswith("rig: console")]
    assert console[-3:] == ["/showctl/house 1", "/showctl/strobe 0", "/showctl/blackout 0"], out[-5:]  # safe scene
