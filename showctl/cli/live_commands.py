"""`showctl follow`: the live audio tracker run over a file as if it were arriving live."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from showctl.live import follow_file

__all__ = ["block_size", "follow"]


def follow(path: str, *, as_json: bool, block: int) -> int:
    """Print the beats the causal tracker committed to (JSON: t, reported, tempo, downbeat per beat)."""
    result = follow_file(Path(path), block=block)
    if as_json:
        print(json.dumps([b.to_json() for b in result.beats]))
        return 0
    print(f"{'t':>9} {'reported':>9} {'early':>7} {'tempo':>7}  bar  confidence")
    for b in result.beats:
        mark = "1" if b.downbeat else "·"
        print(f"{b.t:9.3f} {b.reported:9.3f} {b.lead * 1000:5.0f}ms {b.tempo:7.1f}  {mark:>3}  {b.confidence:.2f}")
    realtime = result.duration / result.cpu_seconds if result.cpu_seconds > 0 else float("inf")
    print(f"{len(result.beats)} beats committed over {result.duration:.1f} s, state at the end: {result.state}, "
          f"{realtime:.0f}× real time", file=sys.stderr)
    return 0


def block_size(text: str) -> int:
    """argparse type for --block: a whole number of samples, 16 to 65536."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of samples: {text!r}") from None
    if not 16 <= value <= 65536:
        raise argparse.ArgumentTypeError(f"must be 16 to 65536 samples: {text!r}")
    return value
