"""Playing the playlist through the audio device, and the clock that follows its DAC.

Lights must follow what the speakers play, not what the CPU thinks the time is: the player's clock is
the audio device's own (`outputBufferDacTime`, when the first sample of each block reaches the DAC), so
output latency is already included and nothing drifts between the music and the lights over an hour.
sounddevice is imported lazily: it needs PortAudio (libportaudio2), which analysis and cues never do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from showctl.errors import DeviceError
from showctl.player.clock import wait_out
from showctl.portaudio import (
    STALLED,
    LastCallback,
    close_stream,
    in_callback,
    portaudio,
    release_portaudio,
    start_stream,
)
from showctl.timeline.model import TrackSlot, slot_playing

__all__ = ["AudioClock", "audio_unavailable_reason"]

log = logging.getLogger("showctl.audio")


def audio_unavailable_reason() -> str | None:
    """Why no audio output can be used here (None when one can)."""
    try:
        sd = portaudio()
    except DeviceError as err:  # PortAudio unusable in this process (its JACK server stopped under it)
        return err.reason
    except OSError as err:  # PortAudio library missing
        return f"PortAudio is not installed ({err}); apt-get install libportaudio2"
    try:
        sd.query_devices(kind="output")
    except (sd.PortAudioError, ValueError) as err:
        return f"no audio output device ({err})"
    finally:
        release_portaudio()
    return None


class AudioClock:
    """Plays the timeline's tracks from class time `start` and tells class time by the DAC.

    Tracks are decoded and resampled one ahead on a loader thread, so memory stays at two tracks
    whatever the class length. A block the loader has not filled in time plays silence and is logged
    (an underrun is not fatal: the clock keeps counting samples, so the lights stay on time).
    """

    def __init__(self, slots: Sequence[TrackSlot], start: float = 0.0, device: int | str | None = None,
                 blocksize: int = 256) -> None:
        self.slots = tuple(slots)
        self.start = start
        self.device = device
        self.blocksize = blocksize
        self.samplerate = 48000
        self.speed = 1.0  # the music plays in real time
        self.underruns = 0
        self.paused = False  # while paused the device plays silence and class time stands still
        self.stalled = False  # the device stopped calling back: class time runs on the monotonic clock
        self._last_callback = LastCallback()
        self._frames_done = 0  # frames handed to the device since `start`
        self._anchor: tuple[float, float] | None = None  # (class time, DAC time) of the latest block
        self._lock = threading.Lock()  # the callback's anchor, for `now`
        self._stream_lock = threading.Lock()  # the stream, for `now` and `latency` on other threads than `close`'s
        self._buffers: dict[int, npt.NDArray[np.float32]] = {}
        self._loader: threading.Thread | None = None
        self._stream: Any = None
        self._closed = False

    # -- loading -------------------------------------------------------------------------------------
    def _load(self, index: int) -> None:
        import soundfile as sf
        import soxr

        slot = self.slots[index]
        try:
            data, sr = sf.read(slot.path, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, OSError, RuntimeError) as err:
            log.warning("%s: cannot play audio (%s): silence instead", slot.path, err)
            data, sr = np.zeros((1, 1), dtype=np.float32), self.samplerate
        mono = data.mean(axis=1)
        if sr != self.samplerate:
            mono = soxr.resample(mono, sr, self.samplerate)
        self._buffers[index] = np.ascontiguousarray(mono, dtype=np.float32)

    def _load_ahead(self, index: int) -> None:
        for i in (index, index + 1):
            if i < len(self.slots) and i not in self._buffers:
                self._load(i)

    # -- the audio callback (PortAudio's thread: no allocation-heavy work, no locks held long) -------
    def _fill(self, out: npt.NDArray[np.float32], frames: int) -> None:
        out.fill(0.0)
        written = 0
        while written < frames:
            t = self.start + (self._frames_done + written) / self.samplerate
            index = slot_playing(self.slots, t)
            if index is None:
                return  # after the playlist: silence
            slot = self.slots[index]
            n = min(frames - written, max(1, round((slot.end - t) * self.samplerate)))
            buffer = self._buffers.get(index)
            if buffer is None:
                self.underruns += 1  # the loader is late: silence, the clock keeps counting
            else:
                at = round(slot.track_time(t) * self.samplerate)
                chunk = buffer[at:at + n]
                out[written:written + len(chunk)] = chunk[:, None]
            written += n

    def _callback(self, out: npt.NDArray[np.float32], frames: int, info: Any, status: Any) -> None:
        in_callback()
        if self._closed:  # a stream left open by `close` whose device came back
            import sounddevice as sd

            out.fill(0.0)
            raise sd.CallbackAbort
        if status.output_underflow:
            self.underruns += 1
        class_time = self.start + self._frames_done / self.samplerate
        with self._lock:
            self._anchor = (class_time, float(info.outputBufferDacTime))
            self._last_callback.at = time.monotonic()
        if self.paused:
            out.fill(0.0)
            return
        self._fill(out, frames)
        self._frames_done += frames

    # -- Clock protocol ------------------------------------------------------------------------------
    def now(self) -> float:
        with self._lock:
            anchor, anchor_wall = self._anchor, self._last_callback.at
        # Under the stream's lock: `close` (maybe on another thread) takes the stream away, then closes it.
        with self._stream_lock:
            stream = self._stream
            if anchor is None or stream is None:
                return self.start
            class_time, dac = anchor
            if self.paused:
                return class_time
            since = time.monotonic() - anchor_wall
            if since > STALLED:
                # The device stopped calling back (a JACK server gone, a pulled interface): keep the class on
                # the monotonic clock from the last block heard rather than freezing the lights.
                if not self.stalled:
                    self.stalled = True
                    log.warning("audio device stopped: lights continue on the monotonic clock")
                return class_time + since
            return class_time + (float(stream.time) - dac)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def sleep_until(self, t: float) -> None:
        if self.paused:
            time.sleep(0.02)  # paused: class time stands still; the caller checks again
            return
        wait_out(lambda: t - self.now())  # an absolute deadline on the DAC clock

    # -- lifetime ------------------------------------------------------------------------------------
    def __enter__(self) -> AudioClock:
        first = slot_playing(self.slots, self.start) or 0
        self._load_ahead(first)
        self._loader = threading.Thread(target=self._keep_loading, name="audio-loader", daemon=True)
        self._closed = False
        self._last_callback = LastCallback()  # starting counts as a sign of life, until the first callback
        stream = start_stream(
            lambda sd: sd.OutputStream(samplerate=self.samplerate, channels=2, dtype="float32",
                                       blocksize=self.blocksize, device=self.device, callback=self._callback),
            f"audio device {self.device or '(default)'}", "cannot play")
        with self._stream_lock:
            self._stream = stream
        try:
            self._loader.start()
            deadline = time.monotonic() + 2.0
            while self._anchor is None and time.monotonic() < deadline:
                time.sleep(0.005)  # waiting for the device's first callback, not scheduling events
        except BaseException:  # Ctrl-C, or no thread for the loader: no stream left playing
            self.close()
            raise
        return self

    def _keep_loading(self) -> None:
        while self._stream is not None:
            t = self.now()
            current = slot_playing(self.slots, t)
            if current is None:
                return
            self._load_ahead(current)
            for old in [i for i in self._buffers if i < current]:
                del self._buffers[old]  # keep memory at two tracks
            time.sleep(0.5)  # polling the playhead for the next track to decode, not scheduling events

    @property
    def latency(self) -> float:
        with self._stream_lock:
            return float(self._stream.latency) if self._stream is not None else 0.0

    def close(self) -> None:
        with self._stream_lock:
            stream, self._stream = self._stream, None
        if stream is None:
            return
        self._closed = True  # the callback plays silence and ends the stream, should it ever be called again
        close_stream(stream, self._last_callback)  # abandoned, not closed, if the device stopped calling back

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
