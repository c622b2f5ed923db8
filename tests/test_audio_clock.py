"""The audio clock and PortAudio's lifetime: never a hang or a dead stream at a class's end (a JACK server gone,
a line-in check on another thread, Ctrl-C while the music starts), on real JACK servers with the dummy driver.

The scenarios that could hang or abort a process run in a child process (a hang in PortAudio may hold the GIL:
only a parent can see it) with a hard timeout.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import own_jackd, require_binary, run_child, wait_for

from showctl.analysis.model import TrackAnalysis
from showctl.player.audio import AudioClock
from showctl.sim import JackServer
from showctl.timeline.model import TrackSlot


def short_track(path: Path, seconds: float) -> TrackSlot:
    """A `seconds`-long track (a quiet 440 Hz tone) written to `path`, as the only slot of a class."""
    t = np.arange(round(seconds * 48000)) / 48000
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000)
    beats = tuple(0.25 + 0.5 * i for i in range(int(seconds * 2) - 1))
    return TrackSlot(str(path), TrackAnalysis(str(path), seconds, 120.0, beats, beats[::4], 0.9, 4), 0.0, seconds, 0.0)


def wait_for_anchor(clock: AudioClock, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while clock._anchor is None:
        assert time.monotonic() < deadline, "the audio clock never heard from its device"
        time.sleep(0.01)  # polling the audio callback's first anchor


# --- the JACK server stops while the music plays ------------------------------------------------------------


def server_gone_scenario(tmp: str) -> None:
    """A class plays through its own JACK server; the server stops (SIGTERM); 1 s later the class ends and its
    audio clock closes; the process exits normally (sounddevice's atexit handler included)."""
    from showctl.player.audio import audio_unavailable_reason

    slot = short_track(Path(tmp) / "tone.wav", 20.0)
    with own_jackd(tmp, "showctl-audio-") as server:
        clock = AudioClock([slot])
        clock.__enter__()
        wait_for_anchor(clock)
        assert server.process is not None
        # Stopped, not killed: a SIGKILLed jackd keeps its slot in JACK's registry of 8 servers.
        server.process.terminate()
        server.process.wait()
        time.sleep(1.0)
        started = time.monotonic()
        clock.close()
        closed_in = time.monotonic() - started
    print(json.dumps({"closed_in": closed_in, "after": audio_unavailable_reason()}), flush=True)


@pytest.mark.rig
def test_the_jack_server_gone_never_hangs_the_audio_clock_or_the_exit(tmp_path: Path) -> None:
    """PortAudio's JACK host API stops a stream by waiting (10 minutes) for a process cycle a dead server never
    runs, then aborts the process closing it or terminating PortAudio. The old code hung here every time."""
    require_binary("jackd", "a JACK server to stop under the audio clock")
    result = run_child("test_audio_clock", "server_gone_scenario", tmp_path, 30,
                       "the audio clock hung closing after JACK stopped")
    assert result["closed_in"] < 0.5
    said = [line for line in result["stderr"].splitlines() if line.startswith("audio: ")]
    assert said == ["audio: the JACK server stopped: its stream is left open, not closed (closing would hang the "
                    "process); PortAudio stays initialised until showctl exits"], result["stderr"]
    assert result["after"] == "the JACK server stopped while audio played; restart showctl to play audio again"


def busy_gil_clock_stop_scenario(tmp: str) -> None:
    _busy_gil_scenario(tmp, "clock", signal.SIGTERM)


def busy_gil_line_in_stop_scenario(tmp: str) -> None:
    _busy_gil_scenario(tmp, "line_in", signal.SIGTERM)


def busy_gil_clock_crash_scenario(tmp: str) -> None:
    _busy_gil_scenario(tmp, "clock", signal.SIGKILL)


def busy_gil_line_in_crash_scenario(tmp: str) -> None:
    _busy_gil_scenario(tmp, "line_in", signal.SIGKILL)


def _busy_gil_scenario(tmp: str, which: str, how: signal.Signals) -> None:
    """The audio clock (`which` "clock"), or a line-in source ("line_in"), runs on its own JACK server; Python
    holds the GIL while the server stops (`how`: SIGTERM, a clean stop that removes its socket; SIGKILL, a crash
    that leaves the socket file behind), so PortAudio's process thread waits for it in a stream callback; then a
    new JACK client opens, the GIL still held, as any opener does after `before_new_client` (a MIDI output
    reconnecting, the simulated rig, PortAudio itself)."""
    from showctl import jackd
    from showctl.jackd import ServerSocket, before_new_client
    from showctl.live import LineInSource

    with own_jackd(tmp, "showctl-audio-cancel-") as server:
        assert server.process is not None
        if which == "clock":
            stream: AudioClock | LineInSource = AudioClock([short_track(Path(tmp) / "tone.wav", 20.0)]).__enter__()
            wait_for_anchor(stream)
            callbacks = lambda: stream._frames_done  # noqa: E731
        else:
            stream = LineInSource()
            callbacks = lambda: stream.blocks  # noqa: E731
            wait_for(lambda: callbacks() > 0, "a first block from line-in")
        socket = str(ServerSocket().path).encode()
        keeps_gil = ctypes.PyDLL(ctypes.util.find_library("jack"))  # PyDLL: calls that never release the GIL
        libc = ctypes.PyDLL(None)
        sys.setswitchinterval(1000)  # nor does this thread hand the GIL over on its own
        # A callback already waiting for the GIL waits the old interval (5 ms) and then takes it (1 of 62 runs
        # failed so): let any such one through; every later wait starts with the new interval.
        time.sleep(0.05)
        before = callbacks()
        until = time.monotonic() + 0.1  # some 20 JACK periods: the process thread now waits for the GIL
        while time.monotonic() < until:
            pass
        waited = callbacks() == before
        libc.kill(server.process.pid, how)  # not Popen.terminate: its poll() hands the GIL over
        if how == signal.SIGKILL:
            libc.waitpid(server.process.pid, None, 0)  # reaped holding the GIL: the socket file stays behind
            assert libc.access(socket, 0) == 0, "a killed jackd left no socket file: this tests nothing"
        while libc.access(socket, 0) == 0 and how != signal.SIGKILL:
            pass
        until = time.monotonic() + 0.5  # time for libjack's own threads to hear of it
        while time.monotonic() < until:
            pass
        watched = len(jackd._process_threads)  # PortAudio's process thread, known to the guard
        started = time.monotonic()
        before_new_client("test")
        guarded_for = time.monotonic() - started
        # A new client of this process's libjack: it closes every client of the dead server, cancelling their
        # threads, PortAudio's process thread among them.
        keeps_gil.jack_client_open(b"showctl-test-late", 1, None)  # 1: JackNoStartServer
        sys.setswitchinterval(0.005)
        time.sleep(0.1)  # the GIL is handed over: it hung here for good when the cancelled thread held its mutex
        stream.close()
    print(json.dumps({"waited": waited, "watched": watched, "guarded_for": guarded_for}), flush=True)


@pytest.mark.rig
@pytest.mark.parametrize("stream", ["clock", "line_in"])
@pytest.mark.parametrize("death", ["stop", "crash"])
def test_a_jack_server_dying_while_python_is_busy_never_hangs_an_audio_stream(tmp_path: Path, stream: str,
                                                                              death: str) -> None:
    """PortAudio runs the audio clock's and line-in's callbacks on its JACK process thread. Once the server has
    died, the next JACK client the process opens makes libjack cancel that thread; cancelled while it waited for
    the GIL (or ran Python) it died holding it, and every thread hung for good. The old code hung here every
    time (10 of 10 for each stream), and, after a stopped server was handled, still on a crashed one ("crash":
    SIGKILL, its socket file left behind)."""
    require_binary("jackd", "a JACK server to stop under the audio streams")
    result = run_child("test_audio_clock", f"busy_gil_{stream}_{death}_scenario", tmp_path, 60,
                       "the process hung once its JACK server died while Python was busy")
    assert result["waited"], "PortAudio's process thread ran a callback while Python held the GIL"
    assert result["watched"] == 1, result


# --- two threads using PortAudio: a class playing, sources checked beside it ----------------------------------


def two_users_scenario(tmp: str) -> None:
    """A class's audio clock plays while another thread opens and closes line-in sources (the web app's source
    check) and a third opens and closes audio clocks. Prints how long the class's clock ever went without a
    callback, how many streams the others opened and closed, and what they raised."""
    from showctl.live import LineInSource

    slot = short_track(Path(tmp) / "tone.wav", 30.0)
    with own_jackd(tmp, "showctl-audio-"), AudioClock([slot]) as clock:
        wait_for_anchor(clock)
        done = threading.Event()
        counts = {"line_in": 0, "clock": 0}
        errors: list[str] = []

        def line_ins() -> None:
            try:
                for _ in range(8):
                    with LineInSource():
                        time.sleep(0.05)  # the stream runs a few periods
                    counts["line_in"] += 1
            except Exception as err:
                errors.append(repr(err))
            finally:
                done.set()

        def clocks() -> None:
            try:
                while not done.is_set():
                    with AudioClock([slot]):
                        time.sleep(0.03)
                    counts["clock"] += 1
            except Exception as err:
                errors.append(repr(err))

        threads = [threading.Thread(target=f, daemon=True) for f in (line_ins, clocks)]
        for thread in threads:
            thread.start()
        longest, last, heard = 0.0, clock._anchor, time.monotonic()
        settled: float | None = None
        while True:  # sampling the class clock's anchor while the others open and close, and 0.2 s after
            time.sleep(0.005)
            now = time.monotonic()
            if clock._anchor != last:
                last, heard = clock._anchor, now
            longest = max(longest, now - heard)
            if longest > 3.0:
                break  # the class's stream is dead
            if not any(thread.is_alive() for thread in threads):
                settled = settled or now + 0.2
                if now > settled:
                    break
        done.set()
        print(json.dumps({"longest": longest, "errors": errors, **counts}), flush=True)


@pytest.mark.rig
def test_a_stream_closing_on_another_thread_never_stops_the_class_music(tmp_path: Path) -> None:
    """Closing a stream used to terminate PortAudio entirely, and with it every other stream: a source check
    on the web app's thread silently stopped a playing class's music (and could race a stream opening)."""
    require_binary("jackd", "real PortAudio streams on JACK")
    result = run_child("test_audio_clock", "two_users_scenario", tmp_path, 60,
                       "PortAudio hung with two threads using it")
    assert result["errors"] == [] and result["line_in"] == 8 and result["clock"] >= 2, result
    # A callback every JACK period (5.3 ms): 0.2 s without one is a stream that stopped, not a busy machine.
    assert result["longest"] < 0.2, result


# --- Ctrl-C while the audio clock starts ------------------------------------------------------------------


@pytest.mark.rig
def test_ctrl_c_as_the_audio_clock_starts_leaves_no_stream_playing(tmp_path: Path, jack: JackServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from showctl import portaudio

    real_start = threading.Thread.start

    def start(thread: threading.Thread) -> None:
        if thread.name == "audio-loader":
            raise KeyboardInterrupt  # Ctrl-C just as the loader starts, the stream running
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    clock = AudioClock([short_track(tmp_path / "tone.wav", 5.0)])
    try:
        with pytest.raises(KeyboardInterrupt):
            clock.__enter__()
        time.sleep(0.05)
        before = clock._anchor
        time.sleep(0.2)  # some 40 JACK periods
        assert clock._anchor == before, "the stream kept playing after __enter__ failed"
        assert portaudio._holds == 0
    finally:
        clock.close()


# --- now() racing close() -----------------------------------------------------------------------------------


class _ClosedBetweenReads:
    """`_stream` as `close()` on another thread leaves it between two reads: there at the first, None after."""

    def __init__(self, stream: object) -> None:
        self.stream: object | None = stream

    def __get__(self, clock: object, owner: type | None = None) -> object | None:
        stream, self.stream = self.stream, None
        return stream

    def __set__(self, clock: object, value: object) -> None:
        pass  # AudioClock.__init__ sets None


def test_now_reads_the_stream_once_however_close_races_it() -> None:
    class Stream:
        time = 100.25

    class Raced(AudioClock):
        _stream = _ClosedBetweenReads(Stream())

    clock = Raced([], start=10.0)
    clock._anchor, clock._last_callback.at = (12.0, 100.0), time.monotonic()
    assert clock.now() == pytest.approx(12.25)  # the old code read it twice: AttributeError on None
    assert clock.now() == 10.0  # closed: the class's start, as before the first callback
