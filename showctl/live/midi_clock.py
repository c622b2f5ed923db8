"""MIDI clock in: `clock` (24 per beat), `start`/`stop`/`continue` and song position → a `PredictedGrid`.

Tick arrival times jitter by the audio interface's period (JACK delivers MIDI once per period: ±18 BPM
tick to tick at 256/48000), so the tempo is a least-squares line through the last `window` ticks (96 =
4 beats: ±0.015 BPM measured on JACK), not tick to tick. When the newest beat of ticks leaves that line by
far more than the jitter explains, the tempo stepped: the fit restarts from that beat, so a step is
followed within a beat or two instead of 4.

A clock tick can be lost on the way (JACK drops a period's MIDI when a client misses its cycle; a USB
interface hiccups), and the position is counted in ticks: one lost tick would put every later beat one tick
(20 ms at 125 BPM) late until the next start or song position. So a tick that arrives far off the fitted line
starts a check against that line frozen: when the ticks after it keep one steady offset of a whole number of
ticks, at the same tempo, for `RECOUNT_AFTER` ticks, that many were lost (or, negative, doubled) and the
count moves by it. A late tick or a burst catching up comes back to the line and changes nothing; a tempo
change drifts off it and is the step rule's to follow.

`ClockFit` is the pure part (times are given); `MidiClockSource` feeds it from a real MIDI input port
(python-rtmidi, JACK where there is no ALSA sequencer).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from showctl.errors import DeviceError
from showctl.jackd import ServerSocket, before_new_client, close_rtmidi
from showctl.live.model import PredictedGrid, SourceState
from showctl.messages import CLOCK_PPQN

__all__ = ["ClockFit", "MidiClockSource"]

SHORT = CLOCK_PPQN  # the newest beat of ticks, checked against the long fit for a tempo step
OFF_LINE = 0.5  # ticks: a tick this far off the fitted line may follow lost (or doubled) ticks
RECOUNT_AFTER = CLOCK_PPQN // 2  # ticks at one steady whole-tick offset before the count is corrected
# Ticks per tick: how far the offset may drift over those ticks and still be one steady offset (JACK's
# period jitter moves it ±0.2 of a tick at 125 BPM; a tempo step of 1 % drifts it 0.01 a tick).
STEADY_DRIFT = 0.006


FloatArray = npt.NDArray[np.float64]


def _line(seq: FloatArray, t: FloatArray) -> tuple[float, float, float]:
    """Least-squares t = a + b·seq: (a, b, residual standard deviation)."""
    x = seq - seq.mean()
    b = float(np.dot(x, t - t.mean()) / np.dot(x, x))
    a = float(t.mean() - b * seq.mean())
    resid = t - (a + b * seq)
    return a, b, float(np.sqrt(np.mean(resid**2)))


class ClockFit:
    """The tempo and position of an incoming MIDI clock, from tick times (s, one monotonic clock).

    `latency` (s) is subtracted from every arrival: the constant delivery delay (one JACK period).
    """

    name = "midi-clock"

    def __init__(self, *, window: int = 4 * CLOCK_PPQN, latency: float = 0.0, beats_per_bar: int = 4,
                 timeout: float = 0.5, hold_seconds: float = 60.0) -> None:
        self.window, self.latency, self.beats_per_bar = window, latency, beats_per_bar
        self.timeout, self.hold_seconds = timeout, hold_seconds
        self._ticks: deque[tuple[int, float]] = deque(maxlen=window)  # (sequence number, time)
        self._seq = 0
        self._fit: tuple[float, float, float] | None = None
        self.running = False
        self._song = -1  # song position (ticks) of the newest clock counted while running; -1: none yet
        self._song_seq = 0  # the sequence number of that clock
        self._last_tick: float | None = None
        self._stopped_at: float | None = None
        # The lost-tick check: the line frozen when a tick came far off it, the ticks' offsets from it since
        # (in ticks), and the sequence number of the first of them.
        self._frozen: tuple[float, float, float] | None = None
        self._offsets: list[float] = []
        self._off_from = 0
        self.recounted = 0  # ticks found lost (negative: doubled) since the fit began

    # --- messages ---------------------------------------------------------------------------------

    def clock(self, t: float) -> None:
        t -= self.latency
        if self._last_tick is not None and t - self._last_tick > self.timeout:
            self._ticks.clear()  # the clock came back after a gap: old ticks say nothing about now
            self._frozen = None
        self._last_tick = t
        self._seq += 1
        if self.running:
            self._song += 1
            self._song_seq = self._seq
        missed = self._missed(t)
        if missed:
            self._recount(missed)
        self._ticks.append((self._seq, t))
        self._refit()

    def _missed(self, t: float) -> int:
        """Ticks lost (negative: doubled) before the tick at `t`, numbered `self._seq`, once found sure."""
        if self._frozen is None:
            if self._fit is None or len(self._ticks) < 2 * SHORT:
                return 0
            a, b, _ = self._fit
            if abs(t - (a + b * self._seq)) < OFF_LINE * b:
                return 0
            self._frozen, self._offsets, self._off_from = self._fit, [], self._seq
        a, b, _ = self._frozen
        offset = (t - (a + b * self._seq)) / b
        whole = round(offset)
        if whole == 0 or len(self._offsets) >= 4 * RECOUNT_AFTER:
            self._frozen = None  # back on the line (a late tick, a burst), or drifting (a tempo change)
            return 0
        self._offsets.append(offset)
        recent = np.asarray(self._offsets[-RECOUNT_AFTER:])
        if len(recent) < RECOUNT_AFTER or any(round(x) != whole for x in recent):
            return 0
        drift = float(np.polyfit(np.arange(len(recent)), recent, 1)[0])
        if abs(drift) > STEADY_DRIFT:
            return 0
        self._frozen = None
        return whole

    def _recount(self, missed: int) -> None:
        """Renumber from the first tick after the lost ones: the count moves by `missed` ticks."""
        self._ticks = deque(((s + missed if s >= self._off_from else s, x) for s, x in self._ticks),
                            maxlen=self.window)
        self._seq += missed
        if self.running:
            self._song += missed
            self._song_seq = self._seq
        self.recounted += missed

    def start(self, t: float) -> None:
        """Start from the top: the next clock is beat 1 of bar 1."""
        self.running = True
        self._song = -1
        self._stopped_at = None

    def stop(self, t: float) -> None:
        """Stop: the position holds where it is (clocks may keep coming: they still give the tempo)."""
        self.running = False
        self._stopped_at = t - self.latency

    def cont(self, t: float) -> None:
        """Continue: the next clock is the tick after the one it stopped on (or the song position set)."""
        self.running = True
        self._stopped_at = None

    def song_position(self, sixteenths: int, t: float) -> None:
        """Song position pointer (in 16th notes = 6 ticks): the next clock counted lands there."""
        self._song = sixteenths * 6 - 1
        self._song_seq = self._seq

    def message(self, kind: str, t: float, value: int = 0) -> None:
        """Dispatch one message by its mido type ('clock', 'start', 'stop', 'continue', 'songpos')."""
        if kind == "clock":
            self.clock(t)
        elif kind == "start":
            self.start(t)
        elif kind == "stop":
            self.stop(t)
        elif kind == "continue":
            self.cont(t)
        elif kind == "songpos":
            self.song_position(value, t)

    # --- what the player reads --------------------------------------------------------------------

    @property
    def tempo(self) -> float | None:
        """BPM from the fit, None before a beat of ticks."""
        if self._fit is None:
            return None
        return 60.0 / (CLOCK_PPQN * self._fit[1])

    def state_at(self, now: float) -> SourceState:
        if self._fit is None:
            return "listening"
        quiet_since = self._stopped_at if not self.running else None
        if self._last_tick is not None and now - self._last_tick > self.timeout:
            quiet_since = self._last_tick if quiet_since is None else min(quiet_since, self._last_tick)
        if quiet_since is None:
            return "locked"
        return "holding" if now - quiet_since <= self.hold_seconds else "no-beat"

    def grid_at(self, now: float) -> PredictedGrid | None:
        """The grid at time `now`: locked while ticks arrive and the transport runs, else the last one held."""
        state = self.state_at(now)
        if self._fit is None or state == "no-beat":
            return None
        a, b, _ = self._fit
        tempo = 60.0 / (CLOCK_PPQN * b)
        # Without start/song position the position is unknown: every 24th tick from the first is a beat.
        ticks, seq = (self._song, self._song_seq) if self._song >= 0 else (self._seq - 1, self._seq)
        # The newest beat boundary at or before that tick, on the fitted line.
        back = ticks % CLOCK_PPQN
        anchor = a + b * (seq - back)
        beat = ticks // CLOCK_PPQN
        confidence = 1.0 if state == "locked" else 0.5
        return PredictedGrid(self.name, tempo, anchor, beat % self.beats_per_bar, self.beats_per_bar, confidence,
                             state)

    # --- internals --------------------------------------------------------------------------------

    def _refit(self) -> None:
        if len(self._ticks) < SHORT:
            # Less than a beat of ticks says nothing yet: JACK delivers them in bursts, one per period, and a
            # line through two or three of a burst locked at 400 or 60,000 BPM (seen in the JACK MIDI-clock run).
            self._fit = None
            return
        fit = self._fit_all()
        if len(self._ticks) >= 2 * SHORT:
            seq = np.array([s for s, _ in self._ticks], dtype=np.float64)
            t = np.array([x for _, x in self._ticks], dtype=np.float64)
            _, b_short, _ = _line(seq[-SHORT:], t[-SHORT:])
            # Standard error of the short slope from the long fit's residuals (quantisation jitter).
            x = seq[-SHORT:] - seq[-SHORT:].mean()
            se = max(fit[2], 1e-4) / float(np.sqrt(np.dot(x, x)))
            if abs(b_short - fit[1]) > 6.0 * se and abs(b_short / fit[1] - 1.0) > 0.005:
                for _ in range(len(self._ticks) - SHORT):
                    self._ticks.popleft()
                fit = self._fit_all()
        self._fit = fit

    def _fit_all(self) -> tuple[float, float, float]:
        seq = np.array([s for s, _ in self._ticks], dtype=np.float64)
        t = np.array([x for _, x in self._ticks], dtype=np.float64)
        return _line(seq, t)


class MidiClockSource:
    """A MIDI input port feeding a `ClockFit`; times are `time.monotonic()` at arrival.

    `port=None` opens a virtual input (`CLIENT:clock-in`) a sender connects to; a name connects to that
    existing output port. Use as a context manager; `close()` releases the port.
    """

    name = "midi-clock"

    def __init__(self, port: str | None = None, *, api: str = "auto", client: str = "showctl-clock",
                 latency: float = 0.0, window: int = 4 * CLOCK_PPQN) -> None:
        import mido
        import rtmidi

        from showctl.outputs.midi import midi_api

        self.fit = ClockFit(window=window, latency=latency)
        self._lock = threading.Lock()
        label = f"MIDI clock input '{port or client + ':clock-in'}'"
        rtapi = midi_api(api)
        if rtapi == rtmidi.API_UNIX_JACK:
            before_new_client(label)
        try:
            self._in = rtmidi.MidiIn(rtapi=rtapi, name=client, queue_size_limit=4096)
        except rtmidi.SystemError as err:
            raise DeviceError(label, f"no MIDI system ({err}); is jackd running?") from None
        # Through JACK, whether its server stopped decides how this input may be closed (jackd.close_rtmidi).
        self._server = ServerSocket() if rtapi == rtmidi.API_UNIX_JACK else None
        self._in.ignore_types(sysex=True, timing=False, active_sense=True)  # keep clock messages
        try:
            if port is None:
                self._in.open_virtual_port("clock-in")
                self.port_name = f"{client}:clock-in"
            else:
                ports = self._in.get_ports()
                if port not in ports:
                    self._in.delete()
                    available = ", ".join(ports) if ports else "none"
                    raise DeviceError(label, f"no such MIDI port (available: {available})")
                self._in.open_port(ports.index(port), name="clock-in")
                self.port_name = port
        except rtmidi.RtMidiError as err:
            raise DeviceError(label, f"cannot open ({err})") from None

        # No Python callback: rtmidi would run it on JACK's process thread, waiting for the GIL, and under
        # load that overruns the cycle and loses ticks. rtmidi queues them; our thread drains the queue and
        # times each tick by rtmidi's own delta times (taken on JACK's clock), re-anchored to the drain time.
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._drain, args=(mido,), name="midi-clock-in", daemon=True)
        self._thread.start()

    def _drain(self, mido: Any) -> None:
        last: float | None = None
        while not self._closing.is_set():
            item = self._in.get_message()
            if item is None:
                self._closing.wait(0.001)
                continue
            data, delta = item
            now = time.monotonic()
            t = now if last is None else last + delta
            if t > now or t < now - 0.01:
                t = now  # the queue's timing drifted from ours (or a long gap): start again from now
            last = t
            try:
                msg = mido.Message.from_bytes(data)
            except ValueError:
                continue  # a malformed message from the sender: ignored, like a cable glitch
            with self._lock:
                self.fit.message(msg.type, t, int(getattr(msg, "pos", 0)))

    @property
    def state(self) -> SourceState:
        with self._lock:
            return self.fit.state_at(time.monotonic())

    @property
    def tempo(self) -> float | None:
        with self._lock:
            return self.fit.tempo

    def grid(self) -> PredictedGrid | None:
        with self._lock:
            return self.fit.grid_at(time.monotonic())

    def close(self) -> None:
        self._closing.set()
        self._thread.join(timeout=1)
        close_rtmidi(self._in, server_gone=self._server is not None and self._server.gone())

    def __enter__(self) -> MidiClockSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
