"""PortAudio (through sounddevice), shared by what plays audio (`player.audio`) and what records it
(`live.line_in`): initialised when wanted, and let go explicitly."""

from __future__ import annotations

from typing import Any

__all__ = ["portaudio", "release_portaudio"]


def portaudio() -> Any:
    """sounddevice with PortAudio initialised (it may have been released by `release_portaudio`).
    OSError when the PortAudio library is missing."""
    import sounddevice as sd

    if sd._initialized == 0:
        sd._initialize()
    return sd


def release_portaudio() -> None:
    """Terminate PortAudio now. Its JACK host API keeps a JACK client open while initialised; left to the
    interpreter's exit, terminating it after the JACK server has gone (the simulated rig's own jackd stops
    first) fails an assertion inside PortAudio and aborts the process."""
    import sounddevice as sd

    while sd._initialized:
        sd._terminate()
