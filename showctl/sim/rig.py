"""The simulated rig: the receiving side of the real transports, recording everything that arrives.

OSC: a UDP server on 127.0.0.1 per OSC output (python-osc). MIDI: a JACK MIDI input port per MIDI output
(python-rtmidi, UNIX_JACK API: ALSA has no sequencer on machines without a sound card). DMX: a UDP socket on
127.0.0.1 that reads frames as olad would (OSC blob or sACN) and records the slots each frame changed.
Product code never imports this package; the CLI and the tests do.
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import mido
import rtmidi
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message import OscMessage as DecodedOsc
from pythonosc.osc_server import BlockingOSCUDPServer

from showctl.errors import DeviceError
from showctl.jackd import before_new_client, close_rtmidi
from showctl.messages import MidiMessage, OscArg, OscMessage
from showctl.outputs.midi import JackWatch, midi_api
from showctl.rig import DmxOutputConfig, MidiOutputConfig, OscOutputConfig, Rig
from showctl.rig.model import OutputConfig

__all__ = ["Received", "SimulatedRig"]

_MIDI_QUEUE = 65536  # messages rtmidi may hold between two drains (a burst of clock ticks at 100× speed)
_MIDI_POLL = 0.001  # s between drains of an idle MIDI input
# A receive buffer for ~20 000 small datagrams. The default (rmem_default, 208 KiB ≈ 170 datagrams with the
# kernel's per-packet overhead) overflows when a fake clock sends a whole class in one burst while the
# receiving thread waits for the GIL: the kernel drops datagrams silently (RcvbufErrors) and a test would
# blame the player. A real console on a real network sees one message per cue, never such a burst.
_UDP_RECEIVE_BUFFER = 16 * 1024 * 1024
_SO_RCVBUFFORCE = 33  # Linux's option number; Python's socket module does not name it
_REALTIME_HINT = ("start jackd with --realtime (root, or a user with an rtprio limit), "
                  "or rehearse at a lower --speed")


def _enlarge_receive_buffer(sock: socket.socket) -> None:
    """Ask for `_UDP_RECEIVE_BUFFER`: forced past rmem_max when allowed (root, as in CI), else up to it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _UDP_RECEIVE_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)


class _RecordingOscServer(BlockingOSCUDPServer):
    def server_bind(self) -> None:
        _enlarge_receive_buffer(self.socket)
        super().server_bind()


@dataclass(frozen=True)
class Received:
    output: str
    transport: str  # "osc" | "midi" | "dmx" (DMX: `universe 1: 3=255 4=0`, the slots a frame changed)
    message: str  # same text form as the timeline's
    arrival: float  # time.monotonic() when it arrived


class SimulatedRig:
    """Stands in for every output of `rig`; `rig_for_outputs` is the rig rewired to reach it."""

    def __init__(self, rig: Rig, on_receive: Callable[[Received], None] | None = None,
                 osc_ports: Mapping[str, int] | None = None, *, at_rig_addresses: bool = False) -> None:
        """`osc_ports`: bind these OSC outputs to these ports (default: any free port), e.g. to stand a
        restarted rig where the first one was. `at_rig_addresses`: listen exactly where the rig file's
        outputs send (its ports on 127.0.0.1, its JACK port names), so `showctl run` in another process
        reaches this rig with the rig file unchanged (`showctl rig`)."""
        self.rig = rig
        self.at_rig_addresses = at_rig_addresses
        self.osc_ports = dict(osc_ports or {})
        self.on_receive = on_receive
        self.received: list[Received] = []
        self.counts: dict[str, int] = dict.fromkeys(rig.outputs, 0)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._servers: list[BlockingOSCUDPServer] = []
        self._threads: list[threading.Thread] = []
        self._midi_ins: list[tuple[str, Any]] = []
        self._jack_watch: JackWatch | None = None  # rtmidi's ports of a dead JACK server crash when closed
        self._xruns_at_close = 0
        self._closing = threading.Event()
        self._rewired: dict[str, OutputConfig] = {}
        self._sockets: list[socket.socket] = []
        self.dmx: dict[tuple[str, int], bytes] = {}  # (output, universe) → the last frame received

    def _record(self, output: str, transport: str, text: str) -> None:
        item = Received(output, transport, text, time.monotonic())
        if self.on_receive is not None:
            # Before it counts: whoever `wait_for`s the count has had every message it counts reported.
            self.on_receive(item)
        with self._arrived:
            self.received.append(item)
            self.counts[output] += 1
            self._arrived.notify_all()

    def _start_osc(self, name: str, config: OscOutputConfig) -> None:
        dispatcher = Dispatcher()

        def handle(address: str, *args: OscArg) -> None:
            self._record(name, "osc", str(OscMessage(address, tuple(args))))

        dispatcher.set_default_handler(handle)
        # A blocking server (one datagram at a time, on its own thread) keeps arrival order.
        try:
            port = config.port if self.at_rig_addresses else self.osc_ports.get(name, 0)
            server = _RecordingOscServer(("127.0.0.1", port), dispatcher)
        except OSError as err:
            raise DeviceError(f"simulated OSC output '{name}'", f"cannot listen ({err.strerror or err})") from None
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"sim-osc-{name}", daemon=True)
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        port = server.server_address[1]
        self._rewired[name] = config.model_copy(update={"host": "127.0.0.1", "port": port, "latency_ms": 0.0})

    def _start_midi(self, name: str, config: MidiOutputConfig) -> None:
        if self.at_rig_addresses and ":" in config.port:
            client, port_name = config.port.split(":", 1)
            if _free_client_name(client) != client:
                raise DeviceError(f"simulated MIDI port '{config.port}'", "already taken on this JACK server")
        else:
            client, port_name = _free_client_name(f"showctl-sim-{name}"), "in"
        try:
            # No Python callback: rtmidi would call it on JACK's process thread, which then waits for the
            # GIL; under load that overruns the JACK cycle (an xrun) and MIDI is lost. rtmidi queues the
            # messages instead and our own thread drains the queue.
            before_new_client(f"simulated MIDI port '{client}:{port_name}'")
            midi_in = rtmidi.MidiIn(rtapi=midi_api("jack"), name=client, queue_size_limit=_MIDI_QUEUE)
            midi_in.ignore_types(sysex=False, timing=False, active_sense=True)  # keep MIDI clock
            midi_in.open_virtual_port(port_name)
        except rtmidi.RtMidiError as err:
            raise DeviceError(f"simulated MIDI port '{client}:{port_name}'",
                              f"cannot open ({err}); is jackd running?") from None
        self._midi_ins.append((name, midi_in))
        if self._jack_watch is None:
            self._jack_watch = JackWatch(f"simulated MIDI port '{client}:{port_name}'")
        if len(self._midi_ins) == 1:
            thread = threading.Thread(target=self._drain_midi, name="sim-midi", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._rewired[name] = config.model_copy(
            update={"port": f"{client}:{port_name}", "api": "jack", "latency_ms": 0.0})

    def _drain_midi(self) -> None:
        while not self._closing.is_set():
            idle = True
            for name, midi_in in list(self._midi_ins):
                while (item := midi_in.get_message()) is not None:
                    idle = False
                    self._record(name, "midi", str(MidiMessage.from_mido(mido.Message.from_bytes(item[0]))))
            if idle:
                self._closing.wait(_MIDI_POLL)

    def _start_dmx(self, name: str, config: DmxOutputConfig) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _enlarge_receive_buffer(sock)
        try:
            sock.bind(("127.0.0.1", config.udp_port if self.at_rig_addresses else 0))
        except OSError as err:
            sock.close()
            raise DeviceError(f"simulated DMX output '{name}'", f"cannot listen ({err.strerror or err})") from None
        sock.settimeout(0.05)
        self._sockets.append(sock)

        def serve() -> None:
            while sock.fileno() >= 0:
                try:
                    frame = _dmx_frame(sock.recv(2048), config.protocol)
                except (TimeoutError, ValueError, IndexError, struct.error):
                    continue
                except OSError:
                    return  # closed
                if frame is None:
                    continue
                universe, data = frame
                before = self.dmx.get((name, universe), bytes(512))
                self.dmx[(name, universe)] = data
                changed = [f"{i + 1}={v}" for i, (v, old) in enumerate(zip(data, before, strict=False)) if v != old]
                if changed:
                    self._record(name, "dmx", f"universe {universe}: {' '.join(changed)}")

        thread = threading.Thread(target=serve, name=f"sim-dmx-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)
        port = sock.getsockname()[1]
        self._rewired[name] = config.model_copy(update={"host": "127.0.0.1", "port": port, "latency_ms": 0.0})

    def __enter__(self) -> SimulatedRig:
        try:
            for name, config in self.rig.outputs.items():
                if isinstance(config, OscOutputConfig):
                    self._start_osc(name, config)
                elif isinstance(config, DmxOutputConfig):
                    self._start_dmx(name, config)
                else:
                    self._start_midi(name, config)
        except BaseException:
            self.close()
            raise
        return self

    @property
    def rig_for_outputs(self) -> Rig:
        """The rig with every output pointed at this simulator (latency offsets zeroed: it is local)."""
        return self.rig.model_copy(update={"outputs": {**self.rig.outputs, **self._rewired}})

    @property
    def xruns(self) -> int:
        """JACK xruns since the rig's MIDI ports opened (any client's: each loses that period's MIDI)."""
        return self._jack_watch.xruns if self._jack_watch is not None else self._xruns_at_close

    @property
    def jack_realtime(self) -> bool | None:
        """Whether the JACK server runs its clients' periods realtime; None without MIDI outputs."""
        return self._jack_watch.realtime if self._jack_watch is not None else None

    def midi_warning(self) -> str | None:
        """Said before the class when JACK may lose the rig's MIDI on a busy machine, else None."""
        if self.jack_realtime is not False:
            return None
        return (f"simulated rig: jackd runs without realtime scheduling, so on a busy machine a JACK client can "
                f"miss its period and that period's MIDI is lost (more of it at high --speed); {_REALTIME_HINT}")

    def loss_reason(self) -> str:
        """Why messages may be missing, to follow a count of them: the JACK xruns seen, and their likely
        cause; empty when JACK reported none."""
        if self.xruns == 0:
            return ""
        reason = (f"; JACK reported {self.xruns} xrun{'s' if self.xruns != 1 else ''} meanwhile (a client "
                  f"missed its period: that period's MIDI is lost)")
        if self.jack_realtime is False:
            reason += f": jackd runs without realtime scheduling and the machine was busy; {_REALTIME_HINT}"
        return reason

    def wait_for(self, counts: dict[str, int], timeout: float) -> bool:
        """Wait until each output has received at least `counts[output]` messages."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while any(self.counts[o] < n for o, n in counts.items()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
        return True

    def wait_for_dmx(self, output: str, frames: Mapping[int, bytes], timeout: float) -> bool:
        """Wait until the last frame of each universe of DMX `output` equals `frames[universe]`."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while any(self.dmx.get((output, u)) != data for u, data in frames.items()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Frames that repeat the last one are not recorded (nothing notifies): look again soon.
                self._arrived.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for sock in self._sockets:
            sock.close()
        self._closing.set()
        for thread in self._threads:
            if thread.name == "sim-midi":
                thread.join(timeout=1)
        server_gone = self._jack_watch is not None and self._jack_watch.gone(thorough=True)
        for _, midi_in in self._midi_ins:
            close_rtmidi(midi_in, server_gone=server_gone)
        if self._jack_watch is not None:
            self._xruns_at_close = self._jack_watch.xruns
            self._jack_watch.close()
        self._servers, self._midi_ins, self._sockets, self._jack_watch = [], [], [], None

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _dmx_frame(datagram: bytes, protocol: str) -> tuple[int, bytes] | None:
    """(universe, 512 slots) from an OLA OSC blob (`/dmx/universe/N`) or an sACN data packet."""
    if protocol == "osc":
        message = DecodedOsc(datagram)
        if not message.address.startswith("/dmx/universe/") or not isinstance(message.params[0], bytes):
            return None
        return int(message.address.rsplit("/", 1)[1]), bytes(message.params[0]).ljust(512, b"\0")[:512]
    if datagram[4:16] != b"ASC-E1.17\0\0\0" or datagram[125] != 0:
        return None  # not E1.31, or not dimmer data (start code 0)
    universe, count = struct.unpack("!H", datagram[113:115])[0], struct.unpack("!H", datagram[123:125])[0]
    return universe, datagram[126:125 + count].ljust(512, b"\0")[:512]


_instances = itertools.count(1)


def _free_client_name(wanted: str) -> str:
    """`wanted`, or a unique variant when another simulated rig on this JACK server already uses it (JACK
    would rename ours silently, and outputs would connect to the other rig's port)."""
    before_new_client("simulated rig")
    probe = rtmidi.MidiOut(rtapi=midi_api("jack"), name="showctl-sim-probe")
    try:
        taken = {port.split(":", 1)[0] for port in probe.get_ports()}
    finally:
        probe.delete()
    if wanted not in taken:
        return wanted
    return f"{wanted}-{os.getpid()}-{next(_instances)}"
