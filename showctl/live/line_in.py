"""Line-in audio: a real sounddevice input stream feeding an `AudioBeatTracker`; its grid on `time.monotonic()`.

The music reaches the tracker one input latency after it was played into the mixer, in blocks the audio
system delivers when it pleases: the tracker's own clock (samples received) is tied to the monotonic
clock by the earliest any block arrived over the last `ORIGIN_WINDOW` seconds (a late callback never
makes the music seem later, and the mapping follows the audio clock's drift against the monotonic one:
JACK's dummy driver runs ~1 % slow, a sound card's crystal some 50 ppm off).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from typing import Any

from showctl.errors import DeviceError
from showctl.live.audio import AudioBeatTracker
from showctl.live.model import PredictedGrid, SourceState
from showctl.portaudio import LastCallback, close_stream, in_callback, portaudio, release_portaudio, start_stream

__all__ = ["ORIGIN_WINDOW", "LineInSource", "input_devices"]

ORIGIN_WINDOW = 1.0  # s of blocks whose earliest arrival ties the audio clock to the monotonic clock


def _sounddevice() -> Any:
    """sounddevice, with a hold on PortAudio (`release_portaudio` lets go of it)."""
    try:
        return portaudio()
    except DeviceError:  # an OSError too: PortAudio left behind by a JACK server that stopped
        raise
    except OSError as err:  # PortAudio missing
        raise DeviceError("audio input", f"no audio system ({err}); apt-get install libportaudio2") from None


def input_devices() -> list[str]:
    """Names of the audio devices that can record (the choices for `device`)."""
    sd = _sounddevice()
    try:
        return [str(d["name"]) for d in sd.query_devices() if int(d["max_input_channels"]) > 0]
    finally:
        release_portaudio()


class LineInSource:
    """The input `device` (a name or part of one, an index; None: the default input) → the audio tracker.

    A missing device is a one-line `DeviceError` naming the inputs there are. Use as a context manager.
    """

    name = "audio"

    def __init__(self, device: str | int | None = None, *, blocksize: int = 512) -> None:
        sd = _sounddevice()
        try:
            self._open(sd, device, blocksize)
        finally:
            release_portaudio()  # the stream keeps a hold of its own

    def _open(self, sd: Any, device: str | int | None, blocksize: int) -> None:
        label = "audio input" if device is None else f"audio input '{device}'"
        try:
            info = sd.query_devices(device, kind="input")
        except (sd.PortAudioError, ValueError):
            names = [str(d["name"]) for d in sd.query_devices() if int(d["max_input_channels"]) > 0]
            choices = ", ".join(names) if names else "none (is jackd running?)"
            raise DeviceError(label, f"no such input device (inputs: {choices}); choose one with "
                              "--audio-in NAME, or use --source link, midi-clock or tap") from None
        self.device_name = str(info["name"])
        rate = int(info["default_samplerate"])
        self._tracker = AudioBeatTracker(rate)
        self._lock = threading.Lock()
        self._origin: float | None = None  # time.monotonic() of the tracker's time 0
        self.blocks = 0
        self._last_block = LastCallback()  # when a block last arrived
        # A sliding minimum of (arrival − samples so far) over the window: (block number, value), rising.
        window = max(4, round(ORIGIN_WINDOW * rate / blocksize))
        recent: deque[tuple[int, float]] = deque()

        def feed(indata: Any, frames: int, _time: Any, _status: Any) -> None:
            arrived = time.monotonic()
            in_callback()
            with self._lock:
                self._last_block.at = arrived
                self._tracker.process(indata[:, 0].copy())
                self.blocks += 1
                origin = arrived - self._tracker.now
                while recent and recent[-1][1] >= origin:
                    recent.pop()
                recent.append((self.blocks, origin))
                while recent[0][0] <= self.blocks - window:
                    recent.popleft()
                self._origin = recent[0][1]

        self._stream = start_stream(
            lambda sd: sd.InputStream(device=info["index"], samplerate=rate, channels=1, blocksize=blocksize,
                                      callback=feed),
            f"audio input '{self.device_name}'", "cannot open")
        self._latency = float(self._stream.latency)

    @property
    def state(self) -> SourceState:
        with self._lock:
            return self._tracker.state

    @property
    def tempo(self) -> float | None:
        with self._lock:
            return self._tracker.tempo

    def grid(self) -> PredictedGrid | None:
        with self._lock:
            grid, origin = self._tracker.grid(), self._origin
        if grid is None or origin is None:
            return None
        # Audio reaches the tracker one input latency after it was played into the mixer.
        return dataclasses.replace(grid, anchor=grid.anchor + origin - self._latency)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        # PortAudio's JACK host API keeps a client open while initialised: the last hold let go of terminates it
        # now, before a jackd the simulated rig started stops (left to the interpreter's exit, PortAudio aborts
        # the process). A stream whose JACK server has gone is abandoned instead (closing it would hang).
        close_stream(stream, self._last_block)

    def __enter__(self) -> LineInSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
