"""Benchmark the class screen: N screens on one class over WebSockets, and the button → pending round trip.

    python bench/bench_web.py [SCREENS] [PRESSES] [--same-process]

Serves the demo class on an OSC-only rig (no JACK needed) with uvicorn on 127.0.0.1 in a child process (as a
laptop would, with the phones elsewhere), connects SCREENS (default 30) WebSocket clients from this process,
starts the class on the simulated rig, and has one screen press "house" PRESSES (default 40) times. Prints
the updates every screen received (all of them, or it says which it missed) and, as p50/p95/max:

- echo: a ping answered at once by the same server loop through the same per-screen queue, between the
  presses and under the same load: the baseline, what the machine and the clients cost with no work;
- press → the first state built after it (showing it pending) on the pressing screen, and on all screens.

Goal: p95 ≤ 50 ms on all screens, on loopback. `--same-process` runs the server on a thread of this process
instead, as the tests do: its loop then shares the GIL with the 30 clients, which shows in the tail.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_web import crowd_round_trips, osc_class, percentiles, served  # noqa: E402  # the test's own helpers

from showctl.demo.tracks import ensure_demo_tracks  # noqa: E402


@contextmanager
def demo_server() -> Iterator[tuple[str, str]]:
    """The class screen on a thread here, with the demo class on an OSC-only rig: (WebSocket URL, cue file)."""
    tracks = ensure_demo_tracks(REPO / "tracks" / "demo")
    with tempfile.TemporaryDirectory() as folder, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as console:
        console.bind(("127.0.0.1", 0))
        cue = osc_class(Path(folder), tracks, console.getsockname()[1])
        with served(Path(folder)) as srv:
            yield srv.ws_url, str(cue)


def serve_until_stdin_closes() -> int:
    with demo_server() as (url, cue):
        print(url, cue, flush=True)
        sys.stdin.read()
    return 0


@contextmanager
def child_server() -> Iterator[tuple[str, str]]:
    child = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        url, cue = child.stdout.readline().split()
        yield url, cue
    finally:
        child.stdin.close()
        child.wait(30)


def main(screens: int = 30, presses: int = 40, same_process: bool = False) -> int:
    with (demo_server() if same_process else child_server()) as (url, cue):
        crowd = asyncio.run(crowd_round_trips(url, cue, screens, presses))
    seqs = crowd.seqs
    first, last = max(s[0] for s in seqs), min(s[-1] for s in seqs)
    missed = sum(len(set(range(first, last + 1)) - set(s)) for s in seqs)
    where = "a thread of this process" if same_process else "a child process"
    print(f"{screens} screens, {last - first + 1} state updates each while a class ran: "
          f"{'none missed' if missed == 0 else f'{missed} missed'} (server on {where})")
    echo = percentiles(crowd.echo)
    print(f"round trips over {presses} presses    p50 / p95 / max ms   p95 ÷ echo's")
    for label, trips in (("echo (baseline)", crowd.echo), ("press → pending, presser", crowd.presser),
                         (f"press → pending, all {screens}", crowd.everyone)):
        p50, p95, top = percentiles(trips)
        print(f"  {label:<28} {p50:5.1f} / {p95:5.1f} / {top:5.1f}   {p95 / echo[1]:5.1f}×")
    print("goal: p95 ≤ 50 ms on all screens")
    return 0 if missed == 0 else 1


if __name__ == "__main__":
    if "--serve" in sys.argv:
        sys.exit(serve_until_stdin_closes())
    numbers = [int(a) for a in sys.argv[1:] if not a.startswith("--")]
    sys.exit(main(*numbers[:2], same_process="--same-process" in sys.argv))
