"""PortAudio (through sounddevice), shared by what plays audio (`player.audio`) and what records it
(`live.line_in`), maybe on different threads at once (the web app checks a line-in source while a class plays).

PortAudio is not thread-safe, and terminating it closes every stream still open: so one lock is held around
initialise + open + start and around stop + close + release, and each user takes a hold of its own
(`portaudio`, `start_stream`) and lets go of that one only (`release_portaudio`, `close_stream`). PortAudio
terminates when the last hold is let go, not left to the interpreter's exit: its JACK host API keeps a JACK
client open while initialised, and terminating it after the JACK server has gone (the simulated rig's own jackd
stops first) fails an assertion inside PortAudio and aborts the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from showctl.errors import DeviceError

__all__ = ["close_stream", "portaudio", "release_portaudio", "start_stream"]


class _Stream(Protocol):
    def start(self) -> None: ...
    def close(self) -> None: ...


T = TypeVar("T", bound=_Stream)

_lock = threading.RLock()
_holds = 0  # holds taken (`portaudio`, `start_stream`) and not let go yet


def portaudio() -> Any:
    """sounddevice, with a hold taken on PortAudio: let go of it with `release_portaudio`. The first hold
    initialises PortAudio afresh, so its device list is the current one (JACK's ports come and go with jackd).
    OSError when the PortAudio library is missing."""
    global _holds
    with _lock:
        import sounddevice as sd

        if _holds == 0:
            while sd._initialized:  # sounddevice's own, at import, or a hold let go of since
                sd._terminate()
            sd._initialize()
        _holds += 1
        return sd


def release_portaudio() -> None:
    """Let go of one hold taken by `portaudio`. The last one terminates PortAudio now, while the JACK server its
    JACK host API joined still runs (see the module's docstring)."""
    global _holds
    with _lock:
        if _holds <= 0:
            raise RuntimeError("release_portaudio() without a hold on PortAudio")
        _holds -= 1
        if _holds == 0:
            import sounddevice as sd

            while sd._initialized:
                sd._terminate()


def start_stream(make: Callable[[Any], T], device: str, failed: str) -> T:
    """`make(sounddevice)` a stream, start it, and keep a hold on PortAudio for it until `close_stream`. PortAudio
    refusing is a DeviceError `device`: `failed` (its reason), with no stream left open and no hold kept."""
    with _lock:
        sd = portaudio()
        stream: T | None = None
        try:
            stream = make(sd)
            stream.start()
        except BaseException as err:
            if stream is not None:
                stream.close()
            release_portaudio()
            if isinstance(err, (sd.PortAudioError, ValueError)):
                raise DeviceError(device, f"{failed} ({err})") from None
            raise
        return stream


def close_stream(stream: Any) -> None:
    """Stop and close `stream` (from `start_stream`) and let go of its hold on PortAudio."""
    with _lock:
        stream.stop()
        stream.close()
        release_portaudio()
