"""The class screen's web edge (Starlette): the page, the preview picture, pairing, and one WebSocket per
screen that pushes the studio's state and takes the instructor's buttons. JSON lives here and nowhere else.

Every request passes `Guard` first: the Host must be an address or `localhost` (no DNS rebinding), a
WebSocket's Origin must be the page's own, and anyone but the laptop (127.0.0.1) needs a paired token:
without one the answer is 401, WebSockets included.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from showctl.errors import ShowctlError
from showctl.web.model import PairedDevice, RunOptions, to_json
from showctl.web.pairing import (
    COOKIE,
    SESSION_LIFETIME,
    DeviceStore,
    Pairing,
    PairingRefused,
    PairingThrottled,
    is_laptop,
    qr_svg,
)
from showctl.web.studio import Studio

__all__ = ["STATIC", "WebApp", "create_app"]

log = logging.getLogger("showctl.web")

STATIC = Path(__file__).parent / "static"
_TICK_RUNNING = 0.1  # s between pushes while a class runs (the countdown and the beat move)
_TICK_IDLE = 2.0
_QUEUE_LIMIT = 256  # messages a slow screen may fall behind before it is dropped (it reconnects and resyncs)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _host_allowed(host_header: str | None) -> bool:
    """An IP address or localhost: a name an attacker's DNS could point here (rebinding) is not served."""
    if not host_header:
        return False
    name = _hostname(host_header)
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _token(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw)
    except Exception:  # a malformed cookie header is simply no token
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel is not None else None


class Guard:
    """ASGI middleware: host check, origin check for WebSockets, and the token for everyone but the laptop."""

    def __init__(self, app: ASGIApp, pairing: Pairing) -> None:
        self.app = app
        self.pairing = pairing

    async def _deny(self, scope: Scope, receive: Receive, send: Send, status: int, text: str) -> None:
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008, "reason": text[:100]})
            return
        await PlainTextResponse(text, status_code=status)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if not _host_allowed(host):
            await self._deny(scope, receive, send, 400, "showctl: open the page by its address, not a host name\n")
            return
        if scope["type"] == "websocket":
            origin = _header(scope, b"origin")
            if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
                await self._deny(scope, receive, send, 403, "showctl: this page belongs to another site\n")
                return
        client = scope.get("client")
        laptop = is_laptop(client[0] if client else None)
        device: PairedDevice | None = None
        if not laptop and not (scope["type"] == "http" and scope["path"].startswith("/pair/")):
            device = self.pairing.device(_token(scope))
            if device is None:
                await self._deny(scope, receive, send, 401,
                                 "showctl: not paired. Scan the QR code on the class laptop to use this screen.\n")
                return
        state = scope.setdefault("state", {})
        state["laptop"], state["device"] = laptop, device
        await self.app(scope, receive, send)


@dataclass(eq=False)
class _Screen:
    """One connected page."""

    socket: WebSocket
    laptop: bool
    device_id: str | None
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)


class WebApp:
    """The studio, the pairing and the connected screens, behind one Starlette app (`self.asgi`)."""

    def __init__(self, studio: Studio, pairing: Pairing) -> None:
        self.studio = studio
        self.pairing = pairing
        self.screens: set[_Screen] = set()
        self.seq = 0
        self._acks: list[tuple[_Screen, str, str]] = []  # presses answered with the next state pushed
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        routes = [
            Route("/", self.index),
            Route("/preview.png", self.preview),
            Route("/pairing.svg", self.pairing_qr),
            Route("/pair/{code}", self.pair),
            WebSocketRoute("/ws", self.websocket),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ]
        self.starlette = Starlette(routes=routes, lifespan=self.lifespan)
        self.asgi: ASGIApp = Guard(self.starlette, pairing)
        studio.on_change = self.changed

    # -- lifetime ----------------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        pusher = asyncio.create_task(self._push_loop())
        await asyncio.to_thread(self.studio.refresh_classes)
        try:
            yield
        finally:
            # The server is stopping (Ctrl-C, SIGTERM): the class ends here with the safe scene.
            await asyncio.to_thread(self.studio.shutdown)
            await asyncio.to_thread(self.pairing.flush)  # the phones' last-seen times, for the next start
            pusher.cancel()
            for screen in list(self.screens):
                screen.queue.put_nowait(None)

    def changed(self) -> None:
        """Any thread: the studio changed, push it."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
                loop.call_soon_threadsafe(wake.set)

    # -- pushing state -------------------------------------------------------------------------------------
    def _messages(self, *, bump: bool = True) -> tuple[str, str]:
        """This moment's state for a laptop and for a phone (phones see no pairing link). `seq` counts the
        updates every screen gets; a (re)connecting screen's first state repeats the current one."""
        self.seq += bump
        state = to_json(self.studio.view())
        common = {"type": "state", "seq": self.seq, "state": state}
        phone = json.dumps({**common, "role": "phone"}, separators=(",", ":"))
        link = self.pairing.link
        pairing = {"link": link, "version": self.pairing.version, "expires_in": round(self.pairing.expires_in(), 1),
                   "lifetime": self.pairing.lifetime, "devices": to_json(self.pairing.devices())} \
            if link is not None else None
        laptop = json.dumps({**common, "role": "laptop", "pairing": pairing}, separators=(",", ":"))
        return laptop, phone

    def push(self) -> None:
        """The state to every screen. A press answered since the last push gets its ack just before this
        state, the first one built after the press, which says so by its `seq`."""
        laptop, phone = self._messages()
        acks, self._acks = self._acks, []
        for screen, press_id, text in acks:
            self._enqueue(screen, json.dumps({"type": "ack", "id": press_id, "text": text, "seq": self.seq}))
        for screen in list(self.screens):
            self._enqueue(screen, laptop if screen.laptop else phone)

    def _enqueue(self, screen: _Screen, message: str) -> None:
        if screen.queue.qsize() >= _QUEUE_LIMIT:
            log.warning("a screen fell %d updates behind: dropping it (it reconnects and resyncs)", _QUEUE_LIMIT)
            self.screens.discard(screen)
            screen.queue.put_nowait(None)
            return
        screen.queue.put_nowait(message)

    async def _push_loop(self) -> None:
        assert self._wake is not None
        while True:
            tick = _TICK_RUNNING if self.studio.running else _TICK_IDLE
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), tick)
            self._wake.clear()
            if self.screens:
                try:
                    self.push()
                except Exception:  # a bug in one view must not stop the pushes for good
                    log.exception("building the state failed")

    # -- HTTP ----------------------------------------------------------------------------------------------
    async def index(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def preview(self, request: Request) -> Response:
        png = self.studio.preview_png()
        if png is None:
            return PlainTextResponse("no preview yet\n", status_code=404)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def pairing_qr(self, request: Request) -> Response:
        if not request.state.laptop:
            return PlainTextResponse("the pairing code is shown on the laptop only\n", status_code=403)
        link = self.pairing.link
        if link is None:
            return PlainTextResponse("not on the network: start with --lan to pair phones\n", status_code=404)
        if self.pairing.expires_in() <= 0:
            return PlainTextResponse("the pairing link expired: press New link\n", status_code=404)
        return Response(qr_svg(link), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    async def pair(self, request: Request) -> Response:
        label = request.headers.get("user-agent", "phone")
        client = request.client.host if request.client is not None else ""
        try:
            token = self.pairing.pair(request.path_params["code"], _short_agent(label), client)
        except PairingThrottled as why:
            return PlainTextResponse(f"showctl: {why}, then scan the QR code on the class laptop again\n",
                                     status_code=429, headers={"Retry-After": "60"})
        except PairingRefused as why:
            return PlainTextResponse(f"showctl: {why}; scan the QR code on the class laptop again\n",
                                     status_code=401)
        self.changed()  # the laptop's list of phones and its QR code change
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=SESSION_LIFETIME)
        return response

    # -- WebSocket -----------------------------------------------------------------------------------------
    async def websocket(self, socket: WebSocket) -> None:
        laptop: bool = socket.state.laptop
        device: PairedDevice | None = socket.state.device
        await socket.accept()
        screen = _Screen(socket, laptop, device.id if device is not None else None)
        self.screens.add(screen)
        # A (re)connecting screen gets the whole state at once.
        laptop_message, phone_message = self._messages(bump=False)
        screen.queue.put_nowait(laptop_message if laptop else phone_message)
        sender = asyncio.create_task(self._send_loop(screen))
        try:
            while True:
                data = await socket.receive_text()
                await self._handle(screen, data)
        except WebSocketDisconnect:
            pass
        finally:
            self.screens.discard(screen)
            screen.queue.put_nowait(None)
            await sender

    async def _send_loop(self, screen: _Screen) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            while (message := await screen.queue.get()) is not None:
                await screen.socket.send_text(message)
            await screen.socket.close()

    async def _reply(self, screen: _Screen, kind: str, text: str) -> None:
        self._enqueue(screen, json.dumps({"type": kind, "text": text}))

    async def _handle(self, screen: _Screen, data: str) -> None:
        try:
            message = json.loads(data)
            kind = message["type"]
        except (ValueError, KeyError, TypeError):
            await self._reply(screen, "refused", "not a showctl message")
            return
        try:
            await self._act(screen, kind, message)
        except ShowctlError as err:
            await self._reply(screen, "refused", str(err))
        except (KeyError, TypeError, ValueError) as err:
            await self._reply(screen, "refused", f"bad '{kind}' message ({err})")

    async def _act(self, screen: _Screen, kind: str, message: dict[str, Any]) -> None:
        studio = self.studio
        if kind == "press":
            press_id = str(message.get("id", ""))[:40]
            at = message.get("at")  # a live tap stamped on the page, mapped to this clock (time.monotonic)
            stamp = float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else None
            text = await asyncio.to_thread(studio.press, str(message["control"]), stamp)
            self._acks.append((screen, press_id, text))
            self.changed()
        elif kind == "ping":  # the bare round trip through this loop and the screen's queue (the bench's baseline)
            # `clock`: this server's time.monotonic(), so a page can map its own clock (performance.now) onto it
            # and stamp live taps where they were made, not where they arrived (phones on Wi-Fi jitter).
            self._enqueue(screen, json.dumps({"type": "pong", "id": str(message.get("id", ""))[:40],
                                              "clock": time.monotonic()}))
        elif kind == "select":
            await asyncio.to_thread(studio.select, str(message["cue"]))
        elif kind == "options":
            options = RunOptions(sim=bool(message["sim"]), speed=float(message["speed"]),
                                 music=bool(message.get("music", True)), live=bool(message.get("live", False)),
                                 source=str(message.get("source", "auto")),
                                 midi_in=_port(message.get("midi_in")), audio_in=_port(message.get("audio_in")))
            await asyncio.to_thread(studio.set_options, options)
        elif kind == "start":
            await asyncio.to_thread(studio.start)
        elif kind == "recheck":
            await asyncio.to_thread(studio.recheck_rig)
        elif kind == "check-sources":
            await asyncio.to_thread(studio.check_sources)
        elif kind in ("revoke", "new-link"):
            if not screen.laptop:
                await self._reply(screen, "refused", "only the class laptop can do that")
                return
            if kind == "new-link":
                self.pairing.new_link()
            elif self.pairing.revoke(str(message["device"])):
                for other in list(self.screens):
                    if other.device_id == message["device"]:
                        self.screens.discard(other)
                        other.queue.put_nowait(None)  # its socket closes; it can no longer reconnect
            self.changed()
        else:
            await self._reply(screen, "refused", f"unknown message type '{kind}'")


def _port(value: object) -> str | None:
    """A MIDI port or audio input named on the page; blank: the default (a virtual input, the default input)."""
    text = str(value).strip() if value is not None else ""
    return text[:200] or None


def _short_agent(agent: str) -> str:
    for name in ("iPhone", "iPad", "Android", "Macintosh", "Windows", "Linux"):
        if name in agent:
            return name
    return agent[:40]


def create_app(cues_dir: Path, *, base_url: str | None = None, control_port: int | None = None,
               workdir: Path | None = None, link_clock: Callable[[], float] = time.monotonic,
               device_store: DeviceStore | None = None, warn: Callable[[str], None] | None = None) -> WebApp:
    """The class screen for the classes in `cues_dir`. `base_url` (with --lan) is where phones reach it;
    `link_clock` is what pairing links expire by; `device_store` keeps paired phones across restarts (none:
    in memory only), and `warn` gets a line when it fails."""
    studio = Studio(cues_dir, control_port=control_port, workdir=workdir)
    return WebApp(studio, Pairing(base_url, clock=link_clock, store=device_store, warn=warn))
