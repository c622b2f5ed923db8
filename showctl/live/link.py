"""Ableton Link in: the tempo, beat and phase a Link session shares (DJ apps, drum machines) → a `PredictedGrid`.

Link already *is* a predicted grid: every peer agrees on a timeline (beat at time), so the grid is read,
not estimated. `aalink` (GPL-3, the optional `link` extra) is imported here only, lazily; it needs an
asyncio loop, so each `LinkSource` runs one on its own thread. The session's bar is Link's quantum (4),
so beat 1 lands where the other peers' bar starts.

States: `listening` until a peer joins; `locked` while at least one peer is there (and, once a peer has
shared start/stop, while the transport plays); `no-beat` when the last peer leaves or the transport
stops: the player then runs on the last good grid and says so.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from typing import Any

from showctl.errors import ShowctlError
from showctl.live.model import PredictedGrid, SourceState

__all__ = ["LINK_MISSING", "LinkSource", "link_grid"]

LINK_MISSING = "Ableton Link needs the optional 'link' extra: pip install 'showctl[link]'"


def _aalink() -> Any:
    try:
        import aalink
    except ImportError:
        raise ShowctlError(LINK_MISSING) from None
    return aalink


def link_grid(beat: float, at: float, tempo: float, quantum: int = 4, *, state: SourceState = "locked",
              confidence: float = 1.0) -> PredictedGrid:
    """The grid through Link beat `beat` (on the session's timeline, bar = `quantum` beats) at time `at`.

    The anchor is the latest whole beat at or before `at`; its place in the bar is its number mod the quantum.
    """
    whole = math.floor(beat)
    anchor = at - (beat - whole) * 60.0 / tempo
    return PredictedGrid("link", tempo, anchor, int(whole % quantum), quantum, confidence, state)


class LinkSource:
    """A Link session joined on its own thread; `grid()` on the `time.monotonic()` clock.

    `tempo` is only what this peer proposes while alone (it never changes the session's tempo by itself).
    Use as a context manager; `close()` leaves the session (the other peers see one peer fewer at once).
    """

    name = "link"

    def __init__(self, *, tempo: float = 120.0, quantum: int = 4) -> None:
        aalink = _aalink()
        self.quantum = quantum
        self._loop = asyncio.new_event_loop()
        self._link: Any = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._peers = 0
        self._had_peers = False
        self._transport_seen = False  # a peer shares start/stop: 'stopped' then means no beat
        self._thread = threading.Thread(target=self._run, args=(aalink, tempo), name="link", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise ShowctlError(f"Ableton Link: cannot join a session ({self._error})")

    def _run(self, aalink: Any, tempo: float) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._join, aalink, tempo)  # aalink wants a running loop when it is made
        try:
            self._loop.run_forever()
        finally:
            link = self._link
            if link is not None:
                link.enabled = False
            self._link = None
            del link  # Link's own threads end here, on the thread that made it
            self._loop.close()

    def _join(self, aalink: Any, tempo: float) -> None:
        try:
            link = aalink.Link(tempo)
            link.quantum = self.quantum
            link.start_stop_sync_enabled = True
            link.set_num_peers_callback(self._on_peers)
            link.set_start_stop_callback(self._on_start_stop)
            link.enabled = True
        except Exception as err:  # a broken install or no network stack at all: one line at the CLI
            self._error = err
            self._loop.stop()
        else:
            self._link = link
        finally:
            self._ready.set()

    def _on_peers(self, count: int) -> None:
        with self._lock:
            self._peers = int(count)
            self._had_peers = self._had_peers or count > 0

    def _on_start_stop(self, playing: bool) -> None:
        with self._lock:
            self._transport_seen = True

    # --- what the player reads --------------------------------------------------------------------

    @property
    def peers(self) -> int:
        link = self._link
        return int(link.num_peers) if link is not None else 0

    @property
    def tempo(self) -> float | None:
        link = self._link
        return float(link.tempo) if link is not None and self.peers else None

    @property
    def state(self) -> SourceState:
        link = self._link
        if link is None:
            return "no-beat"
        peers = int(link.num_peers)
        with self._lock:
            had, transport = self._had_peers or peers > 0, self._transport_seen
            self._had_peers = had
        if peers == 0:
            return "no-beat" if had else "listening"
        if transport and not link.playing:
            return "no-beat"  # the DJ stopped the transport
        return "locked"

    def grid(self) -> PredictedGrid | None:
        """The session's grid now (monotonic clock), or None with no peer / a stopped transport."""
        link = self._link
        if link is None or self.state != "locked":
            return None
        # Link reads its own clock (CLOCK_MONOTONIC_RAW) for the beat; ours (CLOCK_MONOTONIC) is read
        # around it: the beat was "now" between m0 and m1, a few µs apart.
        for _ in range(3):  # a tempo change between the reads would mix two timelines: read again
            tempo = float(link.tempo)
            m0 = time.monotonic()
            beat = float(link.beat)
            m1 = time.monotonic()
            if float(link.tempo) == tempo:
                break
        at = 0.5 * (m0 + m1)
        return link_grid(beat, at, tempo, self.quantum)

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> LinkSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
