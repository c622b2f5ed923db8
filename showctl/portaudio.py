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

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from showctl.errors import DeviceError
from showctl.jackd import ServerSocket, abandon, before_new_client, note_process_thread

__all__ = ["STALLED", "LastCallback", "close_stream", "in_callback", "portaudio", "release_portaudio",
           "start_stream"]

log = logging.getLogger("showctl.audio")


class _Stream(Protocol):
    def start(self) -> None: ...
    def close(self) -> None: ...


T = TypeVar("T", bound=_Stream)
STALLED = 0.5  # s without a callback before a stream counts as stopped

_lock = threading.RLock()
_holds = 0  # holds taken (`portaudio`, `start_stream`) and not let go yet
_server = ServerSocket()  # the JACK server PortAudio joined when it was last initialised
_left_open = False  # a stream was abandoned: PortAudio stays initialised for good (see `close_stream`)
_server_lost = False  # ... because its JACK server stopped: PortAudio's JACK client is dead for good


def portaudio() -> Any:
    """sounddevice, with a hold taken on PortAudio: let go of it with `release_portaudio`. The first hold
    initialises PortAudio afresh, so its device list is the current one (JACK's ports come and go with jackd).
    OSError when the PortAudio library is missing; DeviceError once its JACK server has stopped."""
    global _holds, _server
    with _lock:
        if _server_lost:
            raise DeviceError("audio", "the JACK server stopped while audio played; restart showctl to play "
                              "audio again")
        import sounddevice as sd

        if _holds == 0:
            while sd._initialized:  # sounddevice's own, at import, or a hold let go of since
                sd._terminate()
            before_new_client("audio")  # initialising opens PortAudio's JACK client
            sd._initialize()
            if not _left_open:  # else PortAudio kept its first initialisation, and the JACK client of that
                _server = ServerSocket()
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


def in_callback() -> None:
    """First thing in every stream callback: PortAudio's JACK host API runs them on its JACK client's process
    thread, which libjack may cancel once the server stops (see `jackd.before_new_client`)."""
    note_process_thread(_server)


class LastCallback:
    """When a stream's device last called back, on `time.monotonic()` (starting the stream counts as one): how a
    stream that stopped calling back is told (`silent_for`), by `close_stream` and the audio clock."""

    def __init__(self) -> None:
        self.at = time.monotonic()  # set by the stream's callback: one float, written whole

    def silent_for(self) -> float:
        return time.monotonic() - self.at


def close_stream(stream: Any, last: LastCallback | None = None) -> None:
    """Stop and close `stream` (from `start_stream`) and let go of its hold on PortAudio, unless its JACK server has
    stopped or the stream has made no callback for more than `STALLED` (by `last`): then the stream is
    abandoned instead (left open, never freed; one warning).

    Why: PortAudio's JACK host API stops a stream by waiting for a process cycle that a dead server never runs
    (10 minutes, in pthread_cond_timedwait), and then closing it, or terminating PortAudio (sounddevice does at
    exit), fails an assertion on the dead server (jack_port_unregister, jack_deactivate) and aborts the process: a
    class would hang at its end, in the dark. So PortAudio is never terminated in this process after that.
    """
    global _left_open, _server_lost
    with _lock:
        server_gone = _server.gone()
        silent_for = last.silent_for() if last is not None else 0.0
        if not server_gone and silent_for <= STALLED:
            stream.stop()
            stream.close()
            release_portaudio()
            return
        import sounddevice as sd

        abandon(stream)  # its callback stays callable, should the device ever call back again
        if not _left_open and sd._initialized > 0:
            # One initialisation PortAudio keeps for good (sounddevice no longer counts it): no Pa_Terminate, ours
            # or sounddevice's at exit, ever gets to its JACK host API.
            sd._initialized -= 1
            _left_open = True
        _server_lost = _server_lost or server_gone
        why = "the JACK server stopped" if server_gone else f"no audio callback for {silent_for:.1f} s"
        log.warning("audio: %s: its stream is left open, not closed (closing would hang the process); PortAudio "
                    "stays initialised until showctl exits", why)
        release_portaudio()
