"""Pairing phones with the class laptop: a one-time link (shown as a QR code) gives a session token.

The laptop is whoever connects from 127.0.0.1 (or ::1): it needs no token. Anyone else needs the token a
pairing link gave them, in the `showctl_session` cookie; the laptop can revoke it at any time. A pairing
link works once and for `LINK_LIFETIME` only (a photo of the laptop's screen goes stale): opening it, or
"New link", rotates the link shown on the laptop. Tokens are kept only as their SHA-256, so a lookup never
compares secrets character by character. Pairing attempts are rate-limited per device and for all devices
together (`PAIRING_PER_DEVICE`, `PAIRING_ALL_DEVICES`): a guesser gets 429s, not more tries. Time is
injected (`clock`, `wall_clock`), so tests need not wait.

Paired phones outlive a restart of the server (a reboot, a crash, an update before class) through a
`DeviceStore`: `PairedDeviceStore` keeps the digests, never the tokens, in a JSON file only its user can
read. The pairing link is never stored: each start makes a new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from showctl.errors import ShowctlError
from showctl.player.remote import RateLimit, ip_address
from showctl.web.model import PairedDevice

__all__ = [
    "COOKIE", "DEVICES_FILE", "LAPTOP_ADDRESSES", "LINK_LIFETIME", "PAIRING_ALL_DEVICES", "PAIRING_PER_DEVICE",
    "SESSION_LIFETIME", "DeviceStore", "PairedDeviceStore", "Pairing", "PairingRefused", "PairingStoreError",
    "PairingThrottled", "default_state_dir", "is_laptop", "qr_svg",
]

log = logging.getLogger("showctl.web")

COOKIE = "showctl_session"
LINK_LIFETIME = 600.0  # s a pairing link works for, if nobody opens it first
SESSION_LIFETIME = 12 * 3600  # s the session cookie lives for in the phone's browser, from pairing
SEEN_SAVE_EVERY = 300.0  # s: last-seen times reach the file at most this often (not on every request)
LAPTOP_ADDRESSES = frozenset({"127.0.0.1", "::1"})
DEVICES_FILE = "paired-devices.json"
_FORMAT = 1
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# A phone opens its link once (maybe twice): 5 tries, then one every 5 s; every device together, 30, then 1 a second.
PAIRING_PER_DEVICE = RateLimit(per_second=0.2, burst=5)
PAIRING_ALL_DEVICES = RateLimit(per_second=1, burst=30)
_MAX_DEVICES_COUNTED = 1024  # pairing buckets kept; more addresses than this start the count over


def is_laptop(client_host: str | None) -> bool:
    """127.0.0.1 or ::1, also as an IPv4-mapped address (`::ffff:127.0.0.1`: a server on `::` takes IPv4 too)."""
    address = ip_address(client_host) if client_host is not None else None
    return address is not None and str(address) in LAPTOP_ADDRESSES


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class PairingRefused(ShowctlError):
    """A pairing link that gives no token (used, replaced or expired): the phone gets 401 and this reason."""


class PairingThrottled(PairingRefused):
    """Too many pairing attempts from this device, or from all of them: the phone gets 429 and waits."""


class PairingStoreError(ShowctlError):
    """The paired-devices file cannot be read, is not valid, or cannot be written; `str()` names it and why."""


class DeviceStore(Protocol):
    """Where paired devices outlive the server: token digest → device."""

    def prepare(self) -> None:
        """Make sure devices can be saved; PairingStoreError says why not."""

    def load(self) -> dict[str, PairedDevice]:
        """The devices saved last ({} when none ever were); PairingStoreError when they cannot be read."""

    def save(self, devices: Mapping[str, PairedDevice]) -> None:
        """Replace what is saved with `devices`; PairingStoreError when that fails."""


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/showctl`, or `~/.local/state/showctl` (the XDG spec ignores a relative XDG_STATE_HOME)."""
    base = os.environ.get("XDG_STATE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path("~/.local/state").expanduser()) / "showctl"


class PairedDeviceStore:
    """The paired devices as a small JSON file (`{"format": 1, "devices": [...]}`), each with its token's
    SHA-256, never the token. Written whole to a temporary file, then renamed over the old one, so a crash
    mid-write leaves the old file or the new one, never half of one. The file is 0600 and a folder made
    for it 0700: a digest cannot be turned back into a token, but the list of phones is nobody else's."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def prepare(self) -> None:
        folder = self.path.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):  # try it: permissions, a read-only disk, ACLs all show
                pass
            with contextlib.suppress(OSError):  # best effort: the next save replaces it with a 0600 file anyway
                os.chmod(self.path, 0o600)  # a file copied in or made by hand: the phones' list is nobody else's
        except OSError as err:
            raise PairingStoreError(f"cannot write to {folder} ({err.strerror or err})") from None

    def load(self) -> dict[str, PairedDevice]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):  # nothing saved yet (an unmakeable folder is warned of once)
            return {}
        except OSError as err:
            raise PairingStoreError(f"cannot read {self.path} ({err.strerror or err})") from None
        except ValueError as err:  # not UTF-8
            raise PairingStoreError(f"{self.path} is not valid ({err})") from None
        try:
            return _devices_from(json.loads(text))
        except ValueError as err:
            raise PairingStoreError(f"{self.path} is not valid ({err})") from None

    def save(self, devices: Mapping[str, PairedDevice]) -> None:
        entries = [{"token_sha256": key, "id": d.id, "label": d.label, "paired_at": d.paired_at,
                    "last_seen": d.last_seen} for key, d in sorted(devices.items(), key=lambda kd: kd[1].paired_at)]
        text = json.dumps({"format": _FORMAT, "devices": entries}, indent=2) + "\n"
        folder = self.path.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)  # 0600
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(text)
                    file.flush()
                    os.fsync(file.fileno())  # on disk before the rename: a power cut leaves a whole file
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            _sync_folder(folder)
        except OSError as err:
            raise PairingStoreError(f"cannot save paired phones to {self.path} ({err.strerror or err})") from None


def _sync_folder(folder: Path) -> None:
    """The rename itself on disk (POSIX); best effort: not every system can open a folder for this."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _devices_from(data: Any) -> dict[str, PairedDevice]:
    """The file's JSON as devices; ValueError says what is wrong (the whole file is then set aside)."""
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("devices"), list):
        raise ValueError(f'expected {{"format": {_FORMAT}, "devices": [...]}}')
    devices: dict[str, PairedDevice] = {}
    for n, entry in enumerate(data["devices"], 1):
        if not isinstance(entry, dict):
            raise ValueError(f"device {n} is not an object")
        key, device_id, label = entry.get("token_sha256"), entry.get("id"), entry.get("label")
        if not isinstance(key, str) or not _SHA256_HEX.fullmatch(key):
            raise ValueError(f"device {n}: token_sha256 is not a SHA-256 in hex")
        if not isinstance(device_id, str) or not device_id or not isinstance(label, str):
            raise ValueError(f"device {n}: id and label must be text")
        times = [entry.get("paired_at"), entry.get("last_seen")]
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in times):
            raise ValueError(f"device {n}: paired_at and last_seen must be times (seconds)")
        devices[key] = PairedDevice(device_id, label, float(entry["paired_at"]), float(entry["last_seen"]))
    return devices


class Pairing:
    """The pairing link and the tokens it handed out. `base_url` (e.g. `http://192.168.1.20:8650`) is where
    phones reach this server; None when the server is not on the network (no link at all). `clock` counts
    seconds (time.monotonic); a link expires `lifetime` seconds after it was made. `wall_clock` (time.time)
    stamps when a device paired and was last seen.

    With a `store`, the devices paired before are loaded (but not those paired more than `SESSION_LIFETIME`
    ago: their cookie is gone) and every change is saved; `warn` gets one line when the store fails, and
    pairing then goes on in memory."""

    def __init__(self, base_url: str | None, *, lifetime: float = LINK_LIFETIME,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 store: DeviceStore | None = None, warn: Callable[[str], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.lifetime = lifetime
        self.clock = clock
        self.wall_clock = wall_clock
        self._store = store
        self._warn = warn or log.warning
        self._lock = threading.Lock()
        self._devices: dict[str, PairedDevice] = {}  # token digest → device
        self._saved_at = clock()
        self._unsaved = False  # last-seen times newer than the store's
        self._save_failed = False  # warned once; warned again only after a save works
        self.version = 0
        self._attempts: dict[str, Callable[[], bool]] = {}  # per device (its address): a token bucket
        self._all_attempts = PAIRING_ALL_DEVICES.bucket(clock)
        self._code, self._expires_at = self._fresh()
        if store is not None:
            self._load(store)

    def _load(self, store: DeviceStore) -> None:
        try:
            store.prepare()
        except PairingStoreError as err:
            self._warn(f"{err}: phones paired now stay paired only until the server stops")
            self._save_failed = True
        try:
            loaded = store.load()
        except PairingStoreError as err:
            self._warn(f"{err}: starting with no paired phones")
            return
        oldest = self.wall_clock() - SESSION_LIFETIME
        self._devices = {key: d for key, d in loaded.items() if d.paired_at >= oldest}
        if len(self._devices) < len(loaded) and not self._save_failed:
            self._save()

    def _save(self) -> None:
        """The devices to the store (the caller holds the lock, so saves land in the order made)."""
        if self._store is None:
            return
        self._saved_at = self.clock()  # tried: a failing disk is not tried again on every request
        try:
            self._store.save(self._devices)
        except PairingStoreError as err:
            if not self._save_failed:
                self._warn(f"{err}: phones paired now stay paired only until the server stops")
            self._save_failed = True
            return
        self._save_failed = False
        self._unsaved = False

    def _fresh(self) -> tuple[str, float]:
        return secrets.token_urlsafe(16), self.clock() + self.lifetime

    @property
    def link(self) -> str | None:
        """The link the laptop shows (expired or not: see `expires_in`); None when not on the network."""
        with self._lock:
            return f"{self.base_url}/pair/{self._code}" if self.base_url else None

    def expires_in(self) -> float:
        """Seconds the current link still works for (0 once expired: "New link" makes another)."""
        with self._lock:
            return max(0.0, self._expires_at - self.clock())

    def pair(self, code: str, label: str, client: str = "") -> str:
        """Use the one-time `code`: a new session token; PairingRefused says why not (PairingThrottled: too many
        attempts from `client`, the device's address, or from all devices together)."""
        with self._lock:
            if not self._attempt(client):
                raise PairingThrottled("too many pairing attempts; wait a minute")
            if self.base_url is None or not secrets.compare_digest(code.encode(), self._code.encode()):
                raise PairingRefused("this pairing link was already used or replaced")
            if self.clock() >= self._expires_at:
                raise PairingRefused(f"this pairing link expired ({self.lifetime / 60:g} minutes after it was shown)")
            self._code, self._expires_at = self._fresh()  # used: the laptop shows a fresh link for the next phone
            token = secrets.token_urlsafe(32)
            now = self.wall_clock()
            self._devices[_digest(token)] = PairedDevice(secrets.token_hex(4), label[:80] or "phone", now, now)
            self.version += 1
            self._save()
            return token

    def _attempt(self, client: str) -> bool:
        """Count one attempt (the caller holds the lock): False when this device or all of them tried too often."""
        bucket = self._attempts.get(client)
        if bucket is None:
            if len(self._attempts) >= _MAX_DEVICES_COUNTED:
                self._attempts.clear()  # many addresses: the limit for all devices still holds
            bucket = self._attempts[client] = PAIRING_PER_DEVICE.bucket(self.clock)
        return bucket() and self._all_attempts()

    def device(self, token: str | None) -> PairedDevice | None:
        """The device a token belongs to (and note that it was seen), or None for no or a revoked token."""
        if not token:
            return None
        key = _digest(token)
        with self._lock:
            device = self._devices.get(key)
            if device is not None:
                device = self._devices[key] = replace(device, last_seen=self.wall_clock())
                self._unsaved = True
                if self.clock() - self._saved_at >= SEEN_SAVE_EVERY:  # not a disk write per request
                    self._save()
            return device

    def revoke(self, device_id: str) -> bool:
        with self._lock:
            for key, device in list(self._devices.items()):
                if device.id == device_id:
                    del self._devices[key]
                    self.version += 1
                    self._save()  # gone from the file at once: a restart must not bring it back
                    return True
        return False

    def flush(self) -> None:
        """Save last-seen times not saved yet (the server is stopping)."""
        with self._lock:
            if self._unsaved:
                self._save()

    def new_link(self) -> None:
        """Forget the current link unused (it expired, or was shown somewhere it should not have been)."""
        with self._lock:
            self._code, self._expires_at = self._fresh()
            self.version += 1

    def devices(self) -> tuple[PairedDevice, ...]:
        with self._lock:
            return tuple(sorted(self._devices.values(), key=lambda d: d.paired_at))


def qr_svg(text: str) -> bytes:
    """`text` as a QR code, an SVG document (PyPI qrcode, no other dependency)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    return bytes(image.to_string(encoding="unicode").encode("utf-8"))
