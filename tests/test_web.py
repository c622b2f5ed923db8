"""The class screen's server, over real sockets: pairing and 401s, where it listens, the studio's checks
(broken cue files, unreachable outputs, a second Start), and 30 screens on one class over WebSockets."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import websockets.asyncio.client
import websockets.sync.client
from test_analysis import SR, _pad, _write_wav
from websockets.exceptions import InvalidStatus

from showctl.cli.commands import check
from showctl.demo.tracks import synthesize_track
from showctl.errors import DeviceError
from showctl.web import WebApp, create_app
from showctl.web.pairing import LINK_LIFETIME, PAIRING_ALL_DEVICES, Pairing, PairingRefused, PairingThrottled
from showctl.web.server import bind

REPO = Path(__file__).resolve().parent.parent
PHONE_ADDRESS = "127.0.0.2"  # loopback too, but not 127.0.0.1: the server sees a phone, not the laptop


# -- a server in this process -----------------------------------------------------------------------------
@dataclass
class Served:
    web: WebApp
    port: int
    server: uvicorn.Server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


def _bound_pair(host: str, *, lan: bool) -> list[socket.socket]:
    """A listening socket on `host`:<free port> (as `showctl serve` binds them) and, with `lan`, one on
    PHONE_ADDRESS at the same port. A port free on `host` may be taken on PHONE_ADDRESS: a connection of an
    earlier test's browser to 127.0.0.2 holds it as its local port (a CI run failed so, 1 run in 19): then
    another port is drawn."""
    for _ in range(20):
        first = bind(host, 0)
        if not lan:
            return [first]
        try:
            return [first, bind(PHONE_ADDRESS, first.getsockname()[1])]
        except DeviceError:
            first.close()
    raise AssertionError(f"no port free on both {host} and {PHONE_ADDRESS} in 20 draws")


@contextmanager
def served(cues_dir: Path, *, lan: bool = False, link_clock: Any = time.monotonic,
           host: str = "127.0.0.1") -> Iterator[Served]:
    """The app on 127.0.0.1:<free port> (or `host`; and, with `lan`, on 127.0.0.2 at the same port, standing in
    for the studio network), run by uvicorn on a thread; the sockets are bound before it starts, so no port
    race."""
    sockets = _bound_pair(host, lan=lan and host == "127.0.0.1")  # (`::` takes every address already)
    port = sockets[0].getsockname()[1]
    web = create_app(cues_dir, base_url=f"http://{PHONE_ADDRESS}:{port}" if lan else None, link_clock=link_clock)
    config = uvicorn.Config(web.asgi, log_level="warning", proxy_headers=False, ws="websockets-sansio",
                            lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield Served(web, port, server)
    finally:
        server.should_exit = True
        thread.join(20)
        for sock in sockets:
            sock.close()


def http_get(port: int, path: str, *, source: str = "127.0.0.1", host: str = "127.0.0.1",
             cookie: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(host, port, timeout=10, source_address=(source, 0))
    headers = {"Cookie": cookie} if cookie else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def ws_connect(port: int, *, source: str = "127.0.0.1", host: str = "127.0.0.1",
               cookie: str | None = None) -> websockets.sync.client.ClientConnection:
    sock = socket.create_connection((host, port), timeout=10, source_address=(source, 0))
    headers = {"Cookie": cookie} if cookie else None
    return websockets.sync.client.connect(f"ws://{host}:{port}/ws", sock=sock, additional_headers=headers,
                                          open_timeout=10)


def next_state(conn: websockets.sync.client.ClientConnection, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message["type"] == "state":
            return dict(message)


def wait_state(conn: websockets.sync.client.ClientConnection, predicate: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = next_state(conn, deadline - time.monotonic())
        if predicate(state):
            return state


# -- cue files in a temporary folder ----------------------------------------------------------------------
OSC_RIG = """
name: OSC-only rig
floor_light: 30%
outputs:
  console: {transport: osc, host: 127.0.0.1, port: PORT}
safe_scene: {console: [/showctl/house 1, /showctl/blackout 0]}
blackout: {console: [/showctl/blackout 1]}
floor_scene: {console: [/showctl/floor 0.3, /showctl/blackout 0]}
"""


def osc_class(folder: Path, tracks: list[Path], port: int) -> Path:
    """The demo class on an OSC-only rig at `port` (no JACK needed), in `folder`."""
    demo = (REPO / "cues" / "demo.yaml").read_text()
    demo = demo.replace("rig: ../config/demo-rig.yaml", "rig: rig.yaml")
    for track in tracks:
        demo = demo.replace(f"../tracks/demo/{track.name}", str(track))
    demo = demo.replace("desk: [note_on channel=0 note=36 velocity=127]", "console: [/showctl/accent 1]")
    demo = re.sub(r"\n\s+desk: \[[^\]]*\]", "", demo)  # the MIDI desk's other messages go with the desk
    (folder / "rig.yaml").write_text(textwrap.dedent(OSC_RIG).replace("PORT", str(port)))
    (folder / "demo.yaml").write_text(demo)
    return folder / "demo.yaml"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BROKEN = """\
name: Broken class
rig: rig.yaml
playlist: [{track: a.wav}]
scenes:
  run: {send: {console: [/scene/run 1]}}
effects:
  pulse: {every: beat, send: {console: [/pulse 1]}}
looks:
  retro_run: {scene: rnu, effects: [plse]}
segments:
  - {name: Run, kind: retro_run, length: "3:00"}
"""


# -- tests ------------------------------------------------------------------------------------------------
def test_a_broken_cue_file_shows_the_same_lines_as_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yaml").write_text(BROKEN)
    shown = str(tmp_path / "broken.yaml")
    assert check([shown]) == 1
    expected = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(expected) >= 2 and all(line.startswith(f"{shown}:") for line in expected)
    with served(tmp_path) as srv, ws_connect(srv.port) as conn:
        first = next_state(conn)
        assert [c["path"] for c in first["state"]["classes"]] == [shown]
        conn.send(json.dumps({"type": "select", "cue": shown}))
        state = wait_state(conn, lambda m: m["state"]["phase"] == "not-ready")["state"]
    assert state["problems"] == expected
    assert state["ready"] is False
    assert state["checklist"][0] == {"label": "class file", "ok": False, "detail": f"{len(expected)} problem(s) to fix"}


@pytest.mark.slow
def test_an_unreachable_output_is_named_with_why_and_start_waits(tmp_path: Path, demo_tracks: list[Path]) -> None:
    cue = osc_class(tmp_path, demo_tracks, free_udp_port())  # nothing listens there
    with served(tmp_path) as srv, ws_connect(srv.port) as conn:
        conn.send(json.dumps({"type": "select", "cue": str(cue)}))
        state = wait_state(conn, lambda m: m["state"]["phase"] in ("ready", "not-ready"))["state"]
        assert state["phase"] == "not-ready" and not state["ready"], state
        assert state["problems"] == [], state["problems"]
        [output] = state["outputs"]
        assert output["reachable"] is False
        assert output["device"].startswith("output 'console' (OSC 127.0.0.1:")
        assert output["reason"] == "not reachable (Connection refused)"
        rig = next(i for i in state["checklist"] if i["label"] == "rig")
        assert rig == {"label": "rig", "ok": False, "detail": "console: not reachable (Connection refused)"}
        assert [t["state"] for t in state["tracks"]] in (["analysed"] * 3, ["cached"] * 3)
        assert all(t["confidence"] > 0.5 and t["tempo"] > 0 for t in state["tracks"])
        conn.send(json.dumps({"type": "start"}))
        refused = json.loads(conn.recv(timeout=10))
        while refused["type"] != "refused":
            refused = json.loads(conn.recv(timeout=10))
        assert refused["text"] == "not ready to start: rig: console: not reachable (Connection refused)"
        # Rehearsing on the simulated rig does not need the studio's console.
        conn.send(json.dumps({"type": "options", "sim": True, "speed": 10}))
        state = wait_state(conn, lambda m: m["state"]["options"]["sim"])["state"]
        assert state["ready"] is True


@pytest.mark.slow
def test_pairing_tokens_and_revoking(tmp_path: Path) -> None:
    with served(tmp_path, lan=True) as srv:
        port = srv.port
        link = srv.web.pairing.link
        assert link is not None and link.startswith(f"http://{PHONE_ADDRESS}:{port}/pair/")
        path = link.split(f":{port}", 1)[1]
        phone = {"source": PHONE_ADDRESS, "host": PHONE_ADDRESS}
        # The laptop needs no token; a phone without one gets 401, for the page, the files and the WebSocket.
        assert http_get(port, "/").status == 200
        for where in ("/", "/static/app.js", "/preview.png", "/pairing.svg"):
            assert http_get(port, where, **phone).status == 401, where
        with pytest.raises(InvalidStatus) as denied:
            ws_connect(port, **phone)
        assert denied.value.response.status_code == 401
        assert http_get(port, "/", **phone, cookie="showctl_session=made-up").status == 401
        # The pairing link gives a token once.
        response = http_get(port, path, **phone)
        assert response.status == 303
        cookie = response.getheader("set-cookie", "").split(";", 1)[0]
        assert cookie.startswith("showctl_session=") and "HttpOnly" in response.getheader("set-cookie", "")
        assert http_get(port, path, **phone).status == 401  # used
        assert srv.web.pairing.link != link  # the laptop shows a fresh one
        assert http_get(port, "/", **phone, cookie=cookie).status == 200
        assert http_get(port, "/pairing.svg", **phone, cookie=cookie).status == 403  # the laptop's only
        with ws_connect(port, **phone, cookie=cookie) as conn:
            state = next_state(conn)
            assert state["role"] == "phone" and "pairing" not in state
            conn.send(json.dumps({"type": "revoke", "device": "x"}))
            assert json.loads(conn.recv(timeout=10)) == {"type": "refused", "text": "only the class laptop can do that"}
            # The laptop revokes the phone: its open WebSocket closes, and it gets 401 from then on.
            with ws_connect(port) as laptop:
                devices = next_state(laptop)["pairing"]["devices"]
                assert len(devices) == 1
                laptop.send(json.dumps({"type": "revoke", "device": devices[0]["id"]}))
                wait_state(laptop, lambda m: m["pairing"]["devices"] == [])
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                while True:
                    conn.recv(timeout=10)
        assert http_get(port, "/", **phone, cookie=cookie).status == 401
        with pytest.raises(InvalidStatus):
            ws_connect(port, **phone, cookie=cookie)
        # A host name an attacker's DNS could point here is not served, even to the laptop.
        conn_ = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn_.request("GET", "/", headers={"Host": f"evil.example:{port}"})
        assert conn_.getresponse().status == 400
        conn_.close()


def test_connections_to_the_served_socket_send_at_once() -> None:
    """Nagle's algorithm off (TCP_NODELAY) on every accepted connection, as asyncio sets it for sockets that say
    they are TCP: with it on, a state written right after an ack waited ~40 ms for the client's delayed ACK."""
    async def accepted_nodelay() -> int:
        sock = bind("127.0.0.1", 0)
        got: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Accepted(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                got.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        server = await asyncio.get_running_loop().create_server(Accepted, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname())
        nodelay = await asyncio.wait_for(got, 10)
        writer.close()
        server.close()
        return nodelay

    assert asyncio.run(accepted_nodelay()) == 1


class Stopwatch:
    """A clock a test moves by hand (pairing links expire by it)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_pairing_link_works_once_and_for_ten_minutes_only() -> None:
    clock = Stopwatch()
    pairing = Pairing("http://192.0.2.7:8650", clock=clock)
    assert LINK_LIFETIME == 600 and pairing.expires_in() == 600
    first = pairing.link
    assert first is not None
    clock.t += 599.9
    token = pairing.pair(first.rsplit("/", 1)[1], "iPhone")  # just in time
    assert pairing.device(token) is not None
    second = pairing.link
    assert second is not None and second != first and pairing.expires_in() == 600  # a fresh link, a fresh 10 minutes
    with pytest.raises(PairingRefused, match=r"^this pairing link was already used or replaced$"):
        pairing.pair(first.rsplit("/", 1)[1], "iPhone")
    clock.t += 600
    assert pairing.expires_in() == 0 and pairing.link == second  # still shown, as expired
    with pytest.raises(PairingRefused, match=r"^this pairing link expired \(10 minutes after it was shown\)$"):
        pairing.pair(second.rsplit("/", 1)[1], "Android")
    version = pairing.version
    pairing.new_link()  # "New link" on the laptop
    third = pairing.link
    assert third is not None and third != second and pairing.version == version + 1 and pairing.expires_in() == 600
    assert pairing.device(pairing.pair(third.rsplit("/", 1)[1], "Android")) is not None
    assert pairing.device(token) is not None  # tokens do not expire with the link that gave them


def test_an_expired_pairing_link_gets_401_and_new_link_makes_one_that_works(tmp_path: Path) -> None:
    clock = Stopwatch()
    with served(tmp_path, lan=True, link_clock=clock) as srv:
        port = srv.port
        phone = {"source": PHONE_ADDRESS, "host": PHONE_ADDRESS}
        with ws_connect(port) as laptop:
            pairing = next_state(laptop)["pairing"]
            assert pairing["expires_in"] == 600 and pairing["lifetime"] == 600
            assert http_get(port, "/pairing.svg").status == 200
            clock.t += 600
            expired = wait_state(laptop, lambda m: m["pairing"]["expires_in"] == 0, timeout=10)["pairing"]
            assert expired["link"] == pairing["link"]  # the page shows it as expired (and hides the QR code)
            assert http_get(port, "/pairing.svg").status == 404
            path = pairing["link"].split(f":{port}", 1)[1]
            conn = http.client.HTTPConnection(PHONE_ADDRESS, port, timeout=10, source_address=(PHONE_ADDRESS, 0))
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 401
            assert response.read().decode() == ("showctl: this pairing link expired (10 minutes after it was shown); "
                                                "scan the QR code on the class laptop again\n")
            conn.close()
            laptop.send(json.dumps({"type": "new-link"}))
            fresh = wait_state(laptop, lambda m: m["pairing"]["link"] != pairing["link"])["pairing"]
            assert fresh["expires_in"] == 600 and fresh["version"] > pairing["version"]
        response = http_get(port, fresh["link"].split(f":{port}", 1)[1], **phone)
        assert response.status == 303


def dual_stack() -> bool:
    """Whether a socket on `::` here also takes IPv4 (as `serve --lan --host ::` relies on)."""
    if not socket.has_ipv6:
        return False
    try:
        return Path("/proc/sys/net/ipv6/bindv6only").read_text().strip() == "0"
    except OSError:
        return False


@pytest.mark.skipif(not dual_stack(), reason="no dual-stack IPv6 here (bindv6only=1 or no IPv6)")
def test_the_laptop_is_the_laptop_on_a_dual_stack_socket(tmp_path: Path) -> None:
    # `serve --lan --host ::`: the laptop's 127.0.0.1 arrives as ::ffff:127.0.0.1, and is still the laptop.
    with served(tmp_path, lan=True, host="::") as srv:
        assert http_get(srv.port, "/").status == 200
        assert http_get(srv.port, "/pairing.svg").status == 200  # the laptop's only
        assert http_get(srv.port, "/", source="127.0.0.2").status == 401  # anyone else still needs a token
        with ws_connect(srv.port) as laptop:
            assert next_state(laptop)["role"] == "laptop"


def test_pairing_attempts_are_rate_limited_per_device_and_in_all(tmp_path: Path) -> None:
    with served(tmp_path, lan=True) as srv:
        port = srv.port
        link = srv.web.pairing.link
        assert link is not None
        path = link.split(f":{port}", 1)[1]
        guesser = {"source": "127.0.0.3", "host": PHONE_ADDRESS}
        started = time.monotonic()
        answers = [http_get(port, f"/pair/guess{n}", **guesser).status for n in range(60)]
        elapsed = time.monotonic() - started
        refused = answers.count(401)
        assert 5 <= refused <= 5 + elapsed / 5 + 1 and answers.count(429) == 60 - refused, answers
        assert answers[:5] == [401] * 5 and answers[-1] == 429
        conn = http.client.HTTPConnection(PHONE_ADDRESS, port, timeout=10, source_address=("127.0.0.3", 0))
        conn.request("GET", path)  # the right code too: this device has to wait
        response = conn.getresponse()
        assert response.status == 429 and response.getheader("Retry-After") == "60"
        assert response.read().decode() == ("showctl: too many pairing attempts; wait a minute, then scan the QR "
                                            "code on the class laptop again\n")
        conn.close()
        # Another phone is not held up by the guesser, and pairs.
        assert http_get(port, path, source=PHONE_ADDRESS, host=PHONE_ADDRESS).status == 303


def test_pairing_attempts_from_all_devices_together_are_limited_too() -> None:
    clock = Stopwatch()
    pairing = Pairing("http://192.0.2.7:8650", clock=clock)
    refused = 0
    for n in range(100):
        with pytest.raises(PairingRefused) as why:
            pairing.pair("wrong", "phone", client=f"10.0.{n // 250}.{n % 250}")  # one guess each
        refused += isinstance(why.value, PairingThrottled)
    assert refused == 100 - PAIRING_ALL_DEVICES.burst
    clock.t += 60
    link = pairing.link
    assert link is not None
    assert pairing.device(pairing.pair(link.rsplit("/", 1)[1], "phone", client="10.1.0.1")) is not None


def _listening(pid: int) -> set[str]:
    """Local addresses of the TCP sockets process `pid` listens on (from /proc, as `ss -ltnp` would)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                if table == "tcp":
                    address = socket.inet_ntoa(bytes.fromhex(address)[::-1])
                found.add(f"{address}:{int(port, 16)}")
    return found


@contextmanager
def serve_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], int, list[str]]]:
    """`showctl serve --port 0 ARGS` in a child process; yields it, its port and the lines it printed."""
    # Paired phones are kept in the XDG state folder: a fresh one per server, not the test runner's own.
    env = {**os.environ, "XDG_STATE_HOME": tempfile.mkdtemp(prefix="showctl-state-")}
    process = subprocess.Popen([sys.executable, "-m", "showctl.cli.main", "serve", "--port", "0", *args], cwd=REPO,
                               stderr=subprocess.PIPE, text=True, env=env)
    assert process.stderr is not None
    lines: list[str] = []
    try:
        while not lines or "class screen:" not in lines[0]:
            line = process.stderr.readline()
            assert line, f"serve exited: {lines}"
            lines.append(line.rstrip("\n"))
        port = int(re.search(r"127\.0\.0\.1:(\d+)", lines[0]).group(1))  # type: ignore[union-attr]
        if "--lan" in args:
            while not any(line.startswith("pairing link") for line in lines):
                lines.append(process.stderr.readline().rstrip("\n"))
        deadline = time.monotonic() + 15
        while not _listening(process.pid):
            assert time.monotonic() < deadline, "serve did not listen"
            time.sleep(0.05)
        yield process, port, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stderr.close()


@pytest.mark.slow
def test_serve_listens_on_loopback_only_unless_lan() -> None:
    with serve_process() as (process, port, lines):
        assert _listening(process.pid) == {f"127.0.0.1:{port}"}
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((PHONE_ADDRESS, port), timeout=5)
        assert "(this machine only; --lan for phones)" in lines[0]
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 143
    with serve_process("--lan") as (process, port, lines):
        assert _listening(process.pid) == {f"0.0.0.0:{port}"}
        assert http_get(port, "/", source=PHONE_ADDRESS, host=PHONE_ADDRESS).status == 401
    result = subprocess.run([sys.executable, "-m", "showctl.cli.main", "serve", "--host", "0.0.0.0", "--port", "0"],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == ("showctl: --host 0.0.0.0 opens the class screen to the network: add --lan (phones then "
                             "pair with a one-time QR code and need its token)\n")


@pytest.mark.slow
def test_a_second_start_is_refused_and_a_dropped_screen_resyncs(tmp_path: Path, demo_tracks: list[Path]) -> None:
    cue = osc_class(tmp_path, demo_tracks, free_udp_port())
    with served(tmp_path) as srv, ws_connect(srv.port) as conn:
        conn.send(json.dumps({"type": "select", "cue": str(cue)}))
        conn.send(json.dumps({"type": "options", "sim": True, "speed": 1, "music": False}))
        wait_state(conn, lambda m: m["state"]["ready"])
        conn.send(json.dumps({"type": "start"}))
        wait_state(conn, lambda m: m["state"]["live"] is not None)
        conn.send(json.dumps({"type": "start"}))
        message = json.loads(conn.recv(timeout=10))
        while message["type"] != "refused":
            message = json.loads(conn.recv(timeout=10))
        assert re.fullmatch(r"a class is already running \('Demo retro class', 0:0\d\.\d in\): end it before starting "
                            r"another", message["text"]), message["text"]
        # A screen that drops and comes back gets the whole state at once, class included.
        with ws_connect(srv.port) as again:
            state = next_state(again)
            assert state["state"]["live"]["name"] == "Demo retro class"
            assert state["state"]["live"]["segment"] == "Warm-up"
        conn.send(json.dumps({"type": "press", "control": "quit", "id": "q1"}))
        conn.send(json.dumps({"type": "press", "control": "quit", "id": "q2"}))
        state = wait_state(conn, lambda m: m["state"]["live"] is None and m["state"]["last_run"] is not None)
    assert state["state"]["last_run"]["text"].startswith("class stopped by the instructor: ")
    assert state["state"]["last_run"]["text"].endswith(" sent; safe scene sent")
    assert [r.message for r in srv.web.studio.last_received[-2:]] == ["/showctl/house 1", "/showctl/blackout 0"]


# -- 30 screens on one class --------------------------------------------------------------------------------
_SEQ = re.compile(r'\{"type":"state","seq":(\d+),')


@dataclass
class Crowd:
    """What `crowd_round_trips` measured, in seconds."""

    seqs: list[list[int]]  # every state's seq each screen received while the presses went on
    presser: list[float]  # press sent → the pressing screen has the first state built after it (showing it pending)
    everyone: list[float]  # press sent → the last of all the screens has that state
    echo: list[float]  # ping sent → pong back on the pressing screen: the same server, loop and queue, no work


async def crowd_round_trips(ws_url: str, cue: str, screens: int, presses: int) -> Crowd:
    """`screens` WebSockets on one class (started on the simulated rig at 1×); the first presses 'house'
    `presses` times. The server acks a press with the seq of the first state built after it, so the same
    state's arrival on every screen says when all of them show it pending. Between presses, a ping measures
    the bare round trip through the same server under the same load (the baseline)."""
    conns = [await websockets.asyncio.client.connect(ws_url, max_size=None) for _ in range(screens)]
    seqs: list[list[int]] = [[] for _ in conns]
    arrivals: list[dict[int, float]] = [{} for _ in conns]
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    recording = asyncio.Event()

    async def read(i: int) -> None:
        async for raw in conns[i]:
            now = time.perf_counter()
            assert isinstance(raw, str)
            if i == 0:  # the pressing screen reads everything
                message = json.loads(raw)
                await inbox.put(message)
                seq = message["seq"] if message["type"] == "state" else None
            else:  # the others get the very same state text: its seq is all they need to note (phones have their
                match = _SEQ.match(raw)  # own CPUs; here 29 of them share this process's one thread)
                seq = int(match.group(1)) if match else None
            if seq is not None and recording.is_set():
                seqs[i].append(seq)
                arrivals[i].setdefault(seq, now)

    readers = [asyncio.create_task(read(i)) for i in range(screens)]

    async def until(predicate: Any, timeout: float = 120) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = await inbox.get()
                if predicate(message):
                    return message

    def state(predicate: Any) -> Any:
        return lambda m: m["type"] == "state" and predicate(m["state"])

    await conns[0].send(json.dumps({"type": "select", "cue": cue}))
    await conns[0].send(json.dumps({"type": "options", "sim": True, "speed": 1, "music": False}))
    await until(state(lambda s: s["ready"]))
    await conns[0].send(json.dumps({"type": "start"}))
    await until(state(lambda s: s["live"] is not None))
    recording.set()
    crowd = Crowd(seqs, [], [], [])
    for n in range(presses):
        began = time.perf_counter()
        await conns[0].send(json.dumps({"type": "press", "control": "house", "id": f"p{n}"}))
        ack = await until(lambda m, n=n: m["type"] == "ack" and m["id"] == f"p{n}")
        shown = await until(lambda m, seq=ack["seq"]: m["type"] == "state" and m["seq"] == seq)
        assert any(p["name"] == "house" for p in shown["state"]["live"]["pending"]), shown["state"]["live"]
        crowd.presser.append(arrivals[0][ack["seq"]] - began)
        async with asyncio.timeout(10):
            while not all(ack["seq"] in screen for screen in arrivals):
                await asyncio.sleep(0.005)  # polling only to notice: each reader noted its own arrival time
        crowd.everyone.append(max(screen[ack["seq"]] for screen in arrivals) - began)
        await asyncio.sleep(0.1)
        began = time.perf_counter()
        await conns[0].send(json.dumps({"type": "ping", "id": f"e{n}"}))
        await until(lambda m, n=n: m["type"] == "pong" and m["id"] == f"e{n}")
        crowd.echo.append(time.perf_counter() - began)
        await asyncio.sleep(0.15)  # let it land (a bar is ~2 s here: the next press toggles a pending one)
    await asyncio.sleep(0.5)
    recording.clear()
    for conn in conns:
        await conn.close()
    await asyncio.gather(*readers, return_exceptions=True)
    return crowd


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max in ms."""
    ms = sorted(t * 1000 for t in seconds)
    return statistics.median(ms), statistics.quantiles(ms, n=20)[18], ms[-1]


@pytest.mark.slow
def test_thirty_screens_get_every_update_and_the_round_trip(tmp_path: Path, demo_tracks: list[Path]) -> None:
    cue = osc_class(tmp_path, demo_tracks, free_udp_port())
    with served(tmp_path) as srv:
        crowd = asyncio.run(crowd_round_trips(srv.ws_url, str(cue), screens=30, presses=20))
    seqs = crowd.seqs
    first, last = max(s[0] for s in seqs), min(s[-1] for s in seqs)
    assert last - first > 20  # updates were flowing (10 a second while a class runs)
    for received in seqs:
        window = [s for s in received if first <= s <= last]
        assert window == list(range(first, last + 1))  # every update, in order, none twice
    print(f"\n30 screens: {last - first + 1} updates each, none missed. Over {len(crowd.everyone)} presses, "
          "p50/p95/max in ms (server and clients in this one process):")
    for label, trips in (("echo", crowd.echo), ("pressing screen", crowd.presser), ("all screens", crowd.everyone)):
        print(f"  {label}: {'/'.join(f'{v:.1f}' for v in percentiles(trips))}")


@pytest.mark.slow
def test_a_track_with_a_drumless_breakdown_says_where_to_check_its_grid(tmp_path: Path,
                                                                       demo_tracks: list[Path]) -> None:
    y, _ = synthesize_track(128.0, 90.0, SR, seed=41, style="house", intro_beats=1.0)
    y[30 * SR:60 * SR] = _pad(30.0, 128.0)  # the drums give way to a pad from 0:30 to 1:00
    pad = _write_wav(tmp_path / "pad.wav", y)
    cue = osc_class(tmp_path, demo_tracks, free_udp_port())
    cue.write_text(cue.read_text().replace(str(demo_tracks[0]), str(pad)))
    with served(tmp_path) as srv, ws_connect(srv.port) as conn:
        conn.send(json.dumps({"type": "select", "cue": str(cue)}))
        state = wait_state(conn, lambda m: m["state"]["phase"] in ("ready", "not-ready"))["state"]
    assert state["problems"] == [], state["problems"]
    first, *others = state["tracks"]
    assert first["name"] == "pad.wav" and first["low_confidence"] is True
    [where] = first["checks"]  # the same words as `showctl analyze`, without the file
    assert re.fullmatch(r"0:\d\d\.\d–1:0\d\.\d breakdown: low beat-grid confidence 0\.\d\d; check the grid there",
                        where)
    assert all(t["checks"] == [] and t["low_confidence"] is False for t in others)
    tracks = next(i for i in state["checklist"] if i["label"] == "tracks analysed")
    assert tracks["detail"].endswith("; check the grid of pad.wav")
