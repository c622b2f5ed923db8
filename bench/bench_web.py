"""Benchmark the class screen: N screens on one class over WebSockets, and the button → pending round trip.

    python bench/bench_web.py [SCREENS] [PRESSES]

Serves the demo class on an OSC-only rig (no JACK needed) with uvicorn on 127.0.0.1, connects SCREENS
(default 30) WebSocket clients, starts the class on the simulated rig, and has one screen press "house"
PRESSES (default 40) times. Prints the updates every screen received (all of them, or it says which it
missed) and the round trip from sending a press to receiving a state that shows it pending: p50/p95/max.
Goal: p95 ≤ 50 ms on loopback.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_web import _screens_and_round_trips, osc_class, served  # noqa: E402  # the test's own helpers

from showctl.analysis.demo import ensure_demo_tracks  # noqa: E402


def main(screens: int = 30, presses: int = 40) -> int:
    tracks = ensure_demo_tracks(REPO / "tracks" / "demo")
    with tempfile.TemporaryDirectory() as folder, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as console:
        console.bind(("127.0.0.1", 0))
        cue = osc_class(Path(folder), tracks, console.getsockname()[1])
        with served(Path(folder)) as srv:
            seqs, trips = asyncio.run(_screens_and_round_trips(srv.ws_url, str(cue), screens, presses))
    first, last = max(s[0] for s in seqs), min(s[-1] for s in seqs)
    missed = sum(len(set(range(first, last + 1)) - set(s)) for s in seqs)
    ms = sorted(t * 1000 for t in trips)
    p95 = statistics.quantiles(ms, n=20)[18]
    print(f"{screens} screens, {last - first + 1} state updates each while a class ran: "
          f"{'none missed' if missed == 0 else f'{missed} missed'}")
    print(f"button → pending round trip over {len(ms)} presses: p50 {statistics.median(ms):.1f} ms, "
          f"p95 {p95:.1f} ms, max {ms[-1]:.1f} ms (goal p95 ≤ 50 ms)")
    return 0 if missed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(*(int(a) for a in sys.argv[1:3])))
