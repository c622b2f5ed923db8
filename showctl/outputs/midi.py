"""MIDI out through python-rtmidi (messages built by mido): ALSA where there is a sequencer, else JACK."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import time
from pathlib import Path
from typing import Any

import rtmidi

from showctl.errors import DeviceError
from showctl.jackd import ServerSocket, abandon, before_new_client, close_rtmidi
from showctl.messages import MidiMessage, OutMessage
from showctl.rig import MidiOutputConfig
from showctl.rig.model import device_label

__all__ = ["JackWatch", "MidiOutput", "midi_api"]

CLIENT_NAME = "showctl"

# JACK carries a MIDI port's events for one period in one buffer (32 KiB on JACK2, whatever the period): a
# 24-byte header, then 12 bytes an event, plus its data when longer than 4 bytes. rtmidi's process callback
# moves everything sent since the last period into that buffer and silently drops what does not fit (libjack
# prints "JackMidiBuffer::ReserveEvent - the buffer does not have enough room"): measured, 2727 of a burst of
# 3000 clock ticks arrived. The budget per period is half the buffer, since a period's callback can carry the
# end of one period's sends and the start of the next's.
_MIDI_BUFFER_HEADER = 24
_MIDI_EVENT_BYTES = 12
_MIDI_INLINE_BYTES = 4
_MIDI_TYPE = b"8 bit raw midi"


def midi_api(api: str) -> int:
    """The rtmidi API for a rig's `api:` setting; `auto` picks ALSA only where its sequencer exists."""
    if api == "jack" or (api == "auto" and not Path("/dev/snd/seq").exists()):
        # Never let a JACK client start a server of its own behind the studio's back.
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        return int(rtmidi.API_UNIX_JACK)
    return int(rtmidi.API_LINUX_ALSA)


class NativeCount:
    """A count that a libjack thread raises with no Python on its stack: the callback handed to libjack is libc's
    own `sem_post`, on a semaphore of ours.

    Why no Python callback: when a JACK server dies, the next JACK client this process opens makes libjack close
    every client of the old server, cancelling (pthread_cancel) their notification threads. A thread cancelled
    while it waited for the GIL in a Python callback dies holding the GIL's own mutex, and every thread of the
    process then waits for it for ever (a CI run hung so: the server stopped mid-class, the output reconnected).
    """

    def __init__(self) -> None:
        self._semaphore = ctypes.create_string_buffer(64)  # a sem_t is 32 bytes on x86-64 glibc: room to spare
        if _LIBC.sem_init(self._semaphore, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "sem_init failed")

    @property
    def callback(self) -> tuple[int, int]:
        """The (function, argument) pair for a libjack `void|int callback(void *arg)`."""
        return _SEM_POST, ctypes.addressof(self._semaphore)

    @property
    def value(self) -> int:
        count = ctypes.c_int(0)
        _LIBC.sem_getvalue(self._semaphore, ctypes.byref(count))
        return count.value


_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.sem_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint]
_LIBC.sem_getvalue.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
_SEM_POST = int(ctypes.cast(_LIBC.sem_post, ctypes.c_void_p).value or 0)


class JackWatch:
    """Hears the JACK server stop, and its xruns, through a client of its own (python-rtmidi tells nothing of
    either).

    Why it matters: once the server is gone, rtmidi's JACK send waits for room in its ring buffer that nothing
    drains any more, spinning on sched_yield while holding the GIL, so no thread, signal handler or safe scene
    can run again. `MidiOutput` asks `gone()` before every send and never enters that wait.
    """

    def __init__(self, device: str) -> None:
        try:
            import jack  # JACK-Client; only where MIDI goes through JACK
        except OSError as err:  # it loads libjack when imported
            raise DeviceError(device, f"no JACK library ({err}); install jackd2") from None

        self._stopped = False
        before_new_client(device)
        try:
            self.client: Any = jack.Client(f"{CLIENT_NAME}-watch", no_start_server=True)
        except jack.JackError as err:
            raise DeviceError(device, f"no JACK server ({err}); is jackd running?") from None
        # JACK tells every client of each xrun (some client missed its period): that period's MIDI is lost
        # between the ports involved. Counted so a loss can be explained rather than just counted. Both counts
        # are raised in C (see NativeCount).
        self._xruns, self._shutdowns = NativeCount(), NativeCount()
        libjack, handle = _libjack(), _client_address(self.client)
        libjack.jack_set_xrun_callback(handle, *self._xruns.callback)
        libjack.jack_on_shutdown(handle, *self._shutdowns.callback)
        self.realtime = bool(self.client.realtime)  # whether jackd runs its clients' periods realtime
        self.client.activate()
        # The server's request socket: jackd removes it as it stops, often before this client hears of it (the
        # shutdown notice comes on a thread that a busy server may not have served). A stat before every send.
        self._socket = ServerSocket()

    @property
    def xruns(self) -> int:
        return self._xruns.value

    def gone(self, *, thorough: bool = False) -> bool:
        """Whether the server has stopped: its socket is gone, or it said so. Before every message a stat of the
        socket does (a crash is told by the shutdown callback); `thorough` (before a close, which a dead server
        could hang) also asks the kernel whether the socket a crash left behind is still listened on."""
        if not self._stopped and (self._socket.removed() or self._shutdowns.value > 0
                                  or (thorough and self._socket.gone())):
            # A client of a dead server is never closed (jackd.abandon), and the semaphores its threads may
            # still post to live as long as it does.
            abandon(self.client)
            abandon(self._xruns)
            abandon(self._shutdowns)
            self._stopped = True
        return self._stopped

    def close(self) -> None:
        if self.gone(thorough=True):  # a client of a dead server is left alone: closing it could wait on it
            return
        self.client.deactivate()
        self.client.close()


@functools.cache
def _libjack() -> ctypes.CDLL:
    """libjack, the one JACK-Client loaded (only then is it known to be there), for the calls JACK-Client does
    not wrap."""
    libjack = ctypes.CDLL(ctypes.util.find_library("jack") or "libjack.so.0")
    libjack.jack_set_xrun_callback.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    libjack.jack_on_shutdown.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    libjack.jack_on_shutdown.restype = None
    if hasattr(libjack, "jack_port_type_get_buffer_size"):  # not in an old libjack (_midi_buffer_bytes)
        libjack.jack_port_type_get_buffer_size.restype = ctypes.c_size_t
        libjack.jack_port_type_get_buffer_size.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return libjack


def _client_address(client: Any) -> int:
    """`client`'s jack_client_t pointer. These are JACK-Client's private names: pyproject pins the versions
    they are known in, and every JackWatch reaches them (any JACK MIDI test fails should they move)."""
    import jack

    return int(jack._ffi.cast("uintptr_t", client._ptr))


def _midi_buffer_bytes(client: Any) -> int:
    """The size of a MIDI port's buffer for one period on `client`'s server (JACK-Client does not ask it)."""
    libjack = _libjack()
    if not hasattr(libjack, "jack_port_type_get_buffer_size"):
        return int(client.blocksize) * 4  # an old libjack: the audio buffer's size, a floor for MIDI's
    return int(libjack.jack_port_type_get_buffer_size(_client_address(client), _MIDI_TYPE))


class PeriodPacer:
    """Holds a sender back (sleeping to the next JACK period) once what it sent this period would not fit
    in half a MIDI port buffer: a burst (a player catching up, a fake clock) then arrives whole."""

    def __init__(self, watch: JackWatch) -> None:
        self._watch = watch
        self.budget = (_midi_buffer_bytes(watch.client) - _MIDI_BUFFER_HEADER) // 2
        # Read once. Should the period grow while the output is open (jack_bufsize), the pacer's periods are
        # shorter than JACK's until it reopens.
        self._frames, self._rate = int(watch.client.blocksize), float(watch.client.samplerate)
        self._used = 0
        self._period_ends = 0.0  # time.monotonic() when the current period ends, by the last frame_time read
        self.waits = 0  # how often a send waited for the next period

    def _next_period(self) -> None:
        """Start counting a new period: JACK's frame time (read about once a period, since a read costs as
        much as the send it paces while rtmidi is busy) says when it ends."""
        now = int(self._watch.client.frame_time)  # counts frames, wrapping at 2**32: a new period anyway
        left = (now // self._frames + 1) * self._frames - now
        self._period_ends = time.monotonic() + left / self._rate
        self._used = 0

    def admit(self, size: int) -> bool:
        """True once a `size`-byte message fits in this period's budget; False if the server stopped."""
        cost = _MIDI_EVENT_BYTES + (size if size > _MIDI_INLINE_BYTES else 0)
        while not self._watch.gone():
            if time.monotonic() >= self._period_ends:
                self._next_period()
            if self._used == 0 or self._used + cost <= self.budget:
                self._used += cost
                return True
            self.waits += 1
            # To an absolute deadline (the period's end, read from JACK's frame time), measured again each pass;
            # JACK's period, not the class: the player's own waits go through its injected Clock.
            time.sleep(max(self._period_ends - time.monotonic(), 0.0))
        return False


class MidiOutput:
    def __init__(self, name: str, config: MidiOutputConfig) -> None:
        self.name = name
        self.latency = config.latency_ms / 1000.0
        self.device = device_label(name, config)
        self.port = config.port
        api = midi_api(config.api)
        self._watch = JackWatch(self.device) if api == rtmidi.API_UNIX_JACK else None
        self._pacer = PeriodPacer(self._watch) if self._watch is not None else None
        if self._watch is not None:
            before_new_client(self.device)
        try:
            self._out = rtmidi.MidiOut(rtapi=api, name=CLIENT_NAME)
        except rtmidi.SystemError as err:
            self._close_watch()
            raise DeviceError(self.device, f"no MIDI system ({err}); is jackd running?") from None
        ports = self._out.get_ports()
        if config.port not in ports:
            self._out.delete()
            self._close_watch()
            available = ", ".join(ports) if ports else "none"
            raise DeviceError(self.device, f"no such MIDI port (available: {available})")
        try:
            self._out.open_port(ports.index(config.port), name=name)
        except rtmidi.RtMidiError as err:
            self._close_watch()
            raise DeviceError(self.device, f"cannot open ({err})") from None

    def _server_stopped(self, *, thorough: bool = False) -> bool:
        return self._watch is not None and self._watch.gone(thorough=thorough)

    def _close_watch(self) -> None:
        if self._watch is not None:
            self._watch.close()

    def send(self, message: OutMessage) -> None:
        if not isinstance(message, MidiMessage):
            raise TypeError(f"{self.device} cannot send OSC message {message}")
        if self._server_stopped():
            raise DeviceError(self.device, "the JACK server stopped")
        data = message.to_mido().bytes()
        if self._pacer is not None and not self._pacer.admit(len(data)):
            raise DeviceError(self.device, "the JACK server stopped")
        try:
            self._out.send_message(data)
        except rtmidi.RtMidiError as err:
            raise DeviceError(self.device, f"send failed ({err})") from None

    def check(self) -> None:
        """Raise DeviceError when the port we send to has gone (its program quit, a cable was pulled)."""
        if self._server_stopped():
            raise DeviceError(self.device, "the JACK server stopped")
        try:
            present = self.port in self._out.get_ports()
        except rtmidi.RtMidiError as err:
            raise DeviceError(self.device, f"MIDI system gone ({err})") from None
        if not present:
            raise DeviceError(self.device, "the MIDI port went away")

    def close(self) -> None:
        close_rtmidi(self._out, server_gone=self._server_stopped(thorough=True))
        self._close_watch()
