"""Pairing phones with the class laptop: a one-time link (shown as a QR code) gives a session token.

The laptop is whoever connects from 127.0.0.1 (or ::1): it needs no token. Anyone else needs the token a
pairing link gave them, in the `showctl_session` cookie; the laptop can revoke it at any time. A pairing
link works once and for `LINK_LIFETIME` only (a photo of the laptop's screen goes stale): opening it, or
"New link", rotates the link shown on the laptop. Tokens are kept only as their SHA-256, so a lookup never
compares secrets character by character. Time is injected (`clock`), so tests need not wait.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from showctl.errors import ShowctlError
from showctl.web.model import PairedDevice

__all__ = ["COOKIE", "LAPTOP_ADDRESSES", "LINK_LIFETIME", "Pairing", "PairingRefused", "is_laptop", "qr_svg"]

COOKIE = "showctl_session"
LINK_LIFETIME = 600.0  # s a pairing link works for, if nobody opens it first
LAPTOP_ADDRESSES = frozenset({"127.0.0.1", "::1"})


def is_laptop(client_host: str | None) -> bool:
    return client_host in LAPTOP_ADDRESSES


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class PairingRefused(ShowctlError):
    """A pairing link that gives no token (used, replaced or expired): the phone gets 401 and this reason."""


class Pairing:
    """The pairing link and the tokens it handed out. `base_url` (e.g. `http://192.168.1.20:8650`) is where
    phones reach this server; None when the server is not on the network (no link at all). `clock` counts
    seconds (time.monotonic); a link expires `lifetime` seconds after it was made."""

    def __init__(self, base_url: str | None, *, lifetime: float = LINK_LIFETIME,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.lifetime = lifetime
        self.clock = clock
        self._lock = threading.Lock()
        self._devices: dict[str, PairedDevice] = {}  # token digest → device
        self.version = 0
        self._code, self._expires_at = self._fresh()

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

    def pair(self, code: str, label: str) -> str:
        """Use the one-time `code`: a new session token; PairingRefused says why not."""
        with self._lock:
            if self.base_url is None or not secrets.compare_digest(code.encode(), self._code.encode()):
                raise PairingRefused("this pairing link was already used or replaced")
            if self.clock() >= self._expires_at:
                raise PairingRefused(f"this pairing link expired ({self.lifetime / 60:g} minutes after it was shown)")
            self._code, self._expires_at = self._fresh()  # used: the laptop shows a fresh link for the next phone
            token = secrets.token_urlsafe(32)
            now = time.time()
            self._devices[_digest(token)] = PairedDevice(secrets.token_hex(4), label[:80] or "phone", now, now)
            self.version += 1
            return token

    def device(self, token: str | None) -> PairedDevice | None:
        """The device a token belongs to (and note that it was seen), or None for no or a revoked token."""
        if not token:
            return None
        key = _digest(token)
        with self._lock:
            device = self._devices.get(key)
            if device is not None:
                device = self._devices[key] = replace(device, last_seen=time.time())
            return device

    def revoke(self, device_id: str) -> bool:
        with self._lock:
            for key, device in list(self._devices.items()):
                if device.id == device_id:
                    del self._devices[key]
                    self.version += 1
                    return True
        return False

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
