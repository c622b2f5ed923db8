"""Benchmark the DMX output's timing: frame rate and spacing, and how long a change waits for its frame.

    python bench/bench_dmx.py [CHANGES]

Opens config/small-studio-rig.yaml's DMX output towards a UDP socket on 127.0.0.1 (no olad needed: the
output's timing is its own), sends CHANGES (default 300) dimmer changes at random phases of the frame, and
prints: the frame rate, the spacing of frames (p50/p99/max), each frame's distance from its absolute
deadline, and change → frame delay measured at the sender (the frame carrying the change left the socket)
and at the receiver (it arrived). A change should wait at most one frame period (25 ms at 40 Hz).
"""

from __future__ import annotations

import itertools
import random
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from showctl.messages import DmxMessage
from showctl.outputs.dmx import SAFE_REPEATS, open_dmx_output
from showctl.rig import load_rig

REPO = Path(__file__).resolve().parents[1]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(changes: int = 300) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    arrivals: list[tuple[float, int]] = []

    def receive() -> None:
        while True:
            try:
                data = sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            arrivals.append((time.monotonic(), data[-512]))

    threading.Thread(target=receive, daemon=True).start()
    rig = load_rig(REPO / "config/small-studio-rig.yaml")
    config = rig.outputs["lights"].model_copy(update={"port": sock.getsockname()[1]})
    rig = rig.model_copy(update={"outputs": {"lights": config}})
    output = open_dmx_output("lights", rig)
    time.sleep(0.2)
    at_sender, at_receiver = [], []
    for i in range(changes):
        level = 100 if i % 2 else 0
        sent = time.monotonic()
        output.send(DmxMessage.parse(f"@par1 dimmer={level}%"))
        version = output.version
        time.sleep(0.04 + random.random() * output.period)
        at_sender.append(next(f.sent for f in output.frames if f.version >= version) - sent)
        expected = round(level * 2.55)
        at_receiver.append(next(t for t, value in arrivals if t >= sent and value == expected) - sent)
    output.close()
    sock.close()
    frames = [f.sent for f in output.frames][1:-SAFE_REPEATS]
    gaps = [b - a for a, b in itertools.pairwise(frames)]
    grid = frames[0]
    off = [((t - grid + output.period / 2) % output.period) - output.period / 2 for t in frames]
    ms = 1000
    print(f"frames: {len(frames)} at {(len(frames) - 1) / (frames[-1] - frames[0]):.2f} Hz "
          f"(configured {config.frame_rate:g} Hz)")
    print(f"frame spacing: p50 {quantile(gaps, .5) * ms:.2f} ms, p99 {quantile(gaps, .99) * ms:.2f} ms, "
          f"max {max(gaps) * ms:.2f} ms, min {min(gaps) * ms:.2f} ms")
    print(f"distance from the absolute deadline: p50 {quantile([abs(o) for o in off], .5) * ms:.2f} ms, "
          f"p99 {quantile([abs(o) for o in off], .99) * ms:.2f} ms")
    for name, delays in (("sender", at_sender), ("receiver", at_receiver)):
        print(f"change → frame at the {name}: mean {statistics.mean(delays) * ms:.2f} ms, "
              f"p50 {quantile(delays, .5) * ms:.2f} ms, p99 {quantile(delays, .99) * ms:.2f} ms, "
              f"max {max(delays) * ms:.2f} ms ({changes} changes)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
