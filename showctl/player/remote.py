"""The instructor's controls over OSC (`/showctl/next`, `/showctl/blackout` …, or for a live class
`/showctl/tap`, `/showctl/one` …): a tablet or a console button reaches the same controller as the keyboard
and the class screen.

Whatever arrives on the port, the class keeps time and ends with its safe scene, so the port is our own small
UDP loop rather than python-osc's server and dispatcher:
- exact addresses only: OSC address patterns (`/showctl/*`) would press every control with one datagram;
- bundle timetags are ignored (a control lands on the next bar anyway): python-osc's dispatcher sleeps until a
  bundle's time, so one far-future bundle held the port, and the exit waiting for it, for good;
- bundles nest at most `MAX_BUNDLE_DEPTH` deep; a packet that does not parse is counted, never a traceback,
  and never shown as its bytes;
- beyond loopback every control message carries a shared secret as its first argument;
- a message whose value (the first argument after the secret) is 0 is a button's release, not a press;
- controls are rate-limited per sender and for all senders together, and one packet presses each control
  at most once (two quits in one bundle are not the confirmation a second press is).
What is ignored is said in one line per sender and reason, counted, at most every `WARN_EVERY` seconds.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from showctl.errors import DeviceError, ShowctlError
from showctl.player.controls import CONTROLS

__all__ = ["MAX_BUNDLE_DEPTH", "MIN_SECRET_LENGTH", "SECRET_ENV", "Pressable", "RateLimit", "is_loopback",
           "osc_remote", "require_secret"]

log = logging.getLogger("showctl.remote")

SECRET_ENV = "SHOWCTL_CONTROL_SECRET"
MIN_SECRET_LENGTH = 8
MAX_BUNDLE_DEPTH = 4  # bundles in bundles: no controller sends more; a deep one must not recurse far
WARN_EVERY = 10.0  # s: at most one line per sender and reason this often, counting what was ignored between
_POLL = 0.1  # s the receive loop waits for a packet before looking whether to stop (or to warn)
_MAX_SENDERS = 1024  # rate-limit buckets kept; spoofed sources must not grow the table without end
_NAMED_SENDERS = 8  # senders the ignored-lines name; the rest are counted together as "other senders"
_BUNDLE = b"#bundle\x00"


class Pressable(Protocol):
    """A controller the remote can press: `Controller` (a class on its playlist) or `LiveController`."""

    def press(self, name: Any) -> str: ...


def ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`host` as an IP address, an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, how a server on `::` sees an
    IPv4 client) as the IPv4 one; None when `host` is a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps the port to this machine (an IPv4-mapped 127.0.0.1 included)."""
    address = ip_address(host)
    return host == "localhost" or (address is not None and address.is_loopback)


def require_secret(host: str, secret: str | None) -> None:
    """ShowctlError unless the port stays on this machine or has a shared secret long enough to mean one."""
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise ShowctlError(f"the control port's shared secret must be {MIN_SECRET_LENGTH} characters or more "
                           f"(SHOWCTL_CONTROL_SECRET or --control-secret)")
    if secret is None and not is_loopback(host):
        raise ShowctlError(f"--control-host {host} opens the OSC remote controls to the network: set a shared "
                           f"secret of {MIN_SECRET_LENGTH} characters or more in {SECRET_ENV} (or --control-secret); "
                           "every control message then sends it as its first argument")


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `burst` controls at once, then `per_second`."""

    per_second: float = 5.0
    burst: float = 10.0

    def bucket(self, clock: Callable[[], float] = time.monotonic) -> Callable[[], bool]:
        """A fresh bucket: each call takes a token if there is one (True) or says no (False)."""
        tokens, last = self.burst, clock()

        def allowed() -> bool:
            nonlocal tokens, last
            now = clock()
            tokens, last = min(self.burst, tokens + (now - last) * self.per_second), now
            if tokens < 1:
                return False
            tokens -= 1
            return True

        return allowed


PER_SENDER = RateLimit(per_second=5, burst=10)  # taps at 200 BPM are 3.3 a second
ALL_SENDERS = RateLimit(per_second=20, burst=40)


class MalformedPacket(ValueError):
    """A datagram that is not an OSC message or bundle we take (no detail: its bytes are never shown)."""


def messages_in(datagram: bytes, depth: int = 0) -> list[tuple[str, list[Any]]]:
    """The (address, arguments) of each message in `datagram`, bundles flattened in order, their timetags
    ignored; MalformedPacket if any part does not parse."""
    from pythonosc.osc_message import OscMessage

    if datagram.startswith(_BUNDLE):
        if depth >= MAX_BUNDLE_DEPTH or len(datagram) < 16:
            raise MalformedPacket
        found: list[tuple[str, list[Any]]] = []
        index = 16  # "#bundle\0" and an 8-byte timetag we do not wait for
        while index < len(datagram):
            if index + 4 > len(datagram):
                raise MalformedPacket
            (size,) = struct.unpack_from(">i", datagram, index)
            index += 4
            if size <= 0 or index + size > len(datagram):
                raise MalformedPacket
            found += messages_in(datagram[index:index + size], depth + 1)
            index += size
        return found
    if not datagram.startswith(b"/"):
        raise MalformedPacket
    try:
        parsed = OscMessage(datagram)
        return [(parsed.address, list(parsed.params))]
    except Exception:  # python-osc's ParseError, bad UTF-8, a short read: all the same to the instructor
        raise MalformedPacket from None


class _Ignored:
    """Counts what the port ignored, per sender and reason, and says it in one line at most every `every`
    seconds: the first right away, then how many more since the last line."""

    def __init__(self, warn: Callable[[str], None], every: float, clock: Callable[[], float],
                 reasons: dict[str, tuple[str, str, str]]) -> None:
        self.warn, self.every, self.clock, self.reasons = warn, every, clock, reasons
        self.counts: dict[tuple[str, str], int] = {}
        self.said_at: dict[tuple[str, str], float] = {}
        self.flushed_at = clock()

    def add(self, host: str, reason: str) -> None:
        key = (host, reason)
        if key not in self.counts and len({h for h, _ in self.counts}) >= _NAMED_SENDERS:
            key = ("other senders", reason)  # a flood from many (spoofed) sources: a few lines, a small table
        self.counts[key] = self.counts.get(key, 0) + 1
        if key not in self.said_at:
            self._say(key)

    def flush(self, *, everything: bool = False) -> None:
        now = self.clock()
        if not everything and now - self.flushed_at < 1.0:
            return  # a flood is not looked over packet by packet
        self.flushed_at = now
        for key in [k for k, n in self.counts.items() if n]:
            if everything or now - self.said_at.get(key, -self.every) >= self.every:
                self._say(key)

    def _say(self, key: tuple[str, str]) -> None:
        host, reason = key
        count, self.counts[key] = self.counts[key], 0
        more = " more" if key in self.said_at else ""
        self.said_at[key] = self.clock()
        singular, plural, after = self.reasons[reason]
        self.warn(f"control port: ignored {count}{more} {singular if count == 1 and not more else plural} from "
                  f"{host}{after}")


def _reasons(per_sender: RateLimit, all_senders: RateLimit) -> dict[str, tuple[str, str, str]]:
    """Each reason to ignore a message: (one, more than one, what follows the sender)."""
    return {
        "malformed": ("malformed packet", "malformed packets", ""),
        "address": ("message to an address that is no control", "messages to an address that is no control",
                    " (exact addresses only, like /showctl/next)"),
        "secret": ("control without the secret", "controls without the secret", ""),
        "repeat": ("control repeated in one packet", "controls repeated in one packet", ""),
        "sender-rate": ("control", "controls", f": more than {per_sender.per_second:g} a second"),
        "rate": ("control", "controls", f": more than {all_senders.per_second:g} a second from all senders together"),
    }


class _Remote:
    """The receive loop on its own thread: parse, check, press."""

    def __init__(self, controller: Pressable, sock: socket.socket, names: Sequence[str], secret: str | None,
                 warn: Callable[[str], None], per_sender: RateLimit, all_senders: RateLimit,
                 warn_every: float) -> None:
        self.controller = controller
        self.sock = sock
        self.addresses = {f"/showctl/{name}": name for name in names}
        self.secret = secret.encode("utf-8") if secret is not None else None
        self.warn = warn
        self.per_sender = per_sender
        self.buckets: dict[str, Callable[[], bool]] = {}
        self.all_senders = all_senders.bucket()
        self.ignored = _Ignored(warn, warn_every, time.monotonic, _reasons(per_sender, all_senders))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="osc-remote", daemon=True)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                datagram, sender = self.sock.recvfrom(65536)
            except TimeoutError:
                self.ignored.flush()
                continue
            except OSError:  # an ICMP error from an earlier reply, a closed socket: keep listening until told
                self.stopping.wait(_POLL)
                continue
            try:
                self.receive(datagram, _host(sender[0]))
            except Exception as err:  # a bug here must not end the controls, nor show a traceback mid-class
                log.debug("control port: a packet failed", exc_info=True)
                self.warn(f"control port: a packet from {_host(sender[0])} failed ({type(err).__name__})")
            self.ignored.flush()
        self.ignored.flush(everything=True)

    def receive(self, datagram: bytes, host: str) -> None:
        try:
            found = messages_in(datagram)
        except MalformedPacket:
            self.ignored.add(host, "malformed")
            return
        pressed: set[str] = set()
        for address, args in found:
            name = self.addresses.get(address)
            if name is None:
                self.ignored.add(host, "address")
            elif name in pressed:  # one packet, one press of each: two quits in a bundle are not a confirmation
                self.ignored.add(host, "repeat")
            elif not self._bucket(host)():  # before the secret: a guesser gets a few tries a second, no more
                self.ignored.add(host, "sender-rate")
            elif self.secret is not None and not (
                    args and isinstance(args[0], str) and hmac.compare_digest(args[0].encode("utf-8"), self.secret)):
                self.ignored.add(host, "secret")
            elif _is_release(args[1:] if self.secret is not None else args):
                pass  # a button's release (`/showctl/blackout 0` after `1`): normal traffic, not a second press
            elif not self.all_senders():  # after it: senders without the secret cannot use up the tablet's share
                self.ignored.add(host, "rate")
            else:
                pressed.add(name)
                try:
                    self.controller.press(name)
                except Exception as err:  # the controls go on, and the class: one line, no traceback
                    log.debug("control port: %s failed", address, exc_info=True)
                    self.warn(f"control port: {address} from {host} failed ({type(err).__name__}: {err})")

    def _bucket(self, host: str) -> Callable[[], bool]:
        bucket = self.buckets.get(host)
        if bucket is None:
            if len(self.buckets) >= _MAX_SENDERS:
                self.buckets.clear()  # a flood of spoofed senders: start over rather than grow
            bucket = self.buckets[host] = self.per_sender.bucket()
        return bucket


def _is_release(values: Sequence[Any]) -> bool:
    """A console or TouchOSC button sends its value on press (1) and again on release (0)."""
    return bool(values) and isinstance(values[0], int | float) and values[0] == 0


def _host(address: str) -> str:
    """A sender as people write it: an IPv4-mapped address (a dual-stack socket) as plain IPv4."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    mapped = parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else None
    return str(mapped) if mapped is not None else address


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        raise DeviceError(f"OSC remote {host}:{port}", f"cannot listen ({err.strerror or err})") from None
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise DeviceError(f"OSC remote {host}:{port}", f"cannot listen ({err.strerror})") from None
    sock.settimeout(_POLL)
    return sock


@contextmanager
def osc_remote(controller: Pressable, host: str, port: int, controls: Sequence[str] | None = None, *,
               secret: str | None = None, warn: Callable[[str], None] | None = None,
               rate_limit: RateLimit = PER_SENDER, all_senders: RateLimit = ALL_SENDERS,
               warn_every: float = WARN_EVERY) -> Iterator[socket.socket]:
    """The same controls over OSC (`/showctl/NAME`, exactly), for a tablet or a console button. `controls`:
    the names to answer (default: the controller's `controls`, else those of `Controller`). `secret`: what
    every control message must send as its first argument (required unless `host` is loopback). `warn` gets
    the lines saying what was ignored. Yields the bound socket."""
    require_secret(host, secret)
    names = tuple(controls if controls is not None else getattr(controller, "controls", CONTROLS))
    sock = _bind(host, port)
    remote = _Remote(controller, sock, names, secret, warn or (lambda _text: None), rate_limit, all_senders,
                     warn_every)
    remote.thread.start()
    try:
        yield sock
    finally:
        remote.stopping.set()
        remote.thread.join(timeout=2 * _POLL + 1.0)  # a press in progress finishes; the loop itself never waits
        sock.close()
