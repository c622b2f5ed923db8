"""`showctl serve`: the class screen on this machine (127.0.0.1), or with `--lan` on the studio network for
paired phones. uvicorn serves the app on a socket bound here, so the address printed is the one listening."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from showctl.errors import DeviceError, ShowctlError
from showctl.player.remote import is_loopback
from showctl.web.app import create_app
from showctl.web.pairing import DEVICES_FILE, PairedDeviceStore, default_state_dir

__all__ = ["LAN_HOST", "bind", "lan_address", "serve"]

LAN_HOST = "0.0.0.0"  # --lan: every interface, and every request needs a paired token
DEFAULT_HOST = "127.0.0.1"
CONTROL_PORT = 9650  # the OSC remote beside the page, as `showctl run` opens it


def lan_address() -> str:
    """This machine's address on the studio network (the one its default route leaves from). A UDP socket's
    connect picks the route and sends nothing."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only the routing table is asked
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn. Its protocol is named (IPPROTO_TCP, not 0): asyncio turns Nagle's
    algorithm off (TCP_NODELAY) only on connections whose socket says TCP, and with Nagle on, an update written
    right after another waits for the phone's delayed ACK: 40 ms on Linux."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise DeviceError(f"class screen {host}:{port}", f"cannot listen ({err.strerror or err})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _print_qr(link: str) -> None:
    import qrcode

    qr = qrcode.QRCode(border=2)
    qr.add_data(link)
    qr.print_ascii(out=sys.stderr, invert=True)


def _warn(text: str) -> None:
    print(f"showctl serve: {text}", file=sys.stderr, flush=True)


def _device_store(state_dir: Path | None) -> PairedDeviceStore | None:
    """Where paired phones are kept across restarts: `state_dir`, or the user's XDG state folder."""
    try:
        folder = state_dir if state_dir is not None else default_state_dir()
    except RuntimeError as err:  # no home folder to find (HOME unset, no passwd entry)
        _warn(f"no folder to keep paired phones in ({err}; use --state-dir): they stay paired only until the "
              "server stops")
        return None
    return PairedDeviceStore(folder / DEVICES_FILE)


def serve(host: str = DEFAULT_HOST, port: int = 8650, lan: bool = False, cues_dir: Path | None = None,
          state_dir: Path | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM; a running class then ends with the safe scene. With `lan`, paired phones
    are kept in `state_dir` (default: the user's XDG state folder) and stay paired across restarts."""
    import uvicorn

    if lan and host == DEFAULT_HOST:
        host = LAN_HOST
    if not lan and not is_loopback(host):
        raise ShowctlError(f"--host {host} opens the class screen to the network: add --lan (phones then pair "
                           "with a one-time QR code and need its token)")
    sock = bind(host, port)
    port = sock.getsockname()[1]
    base_url = None
    if lan:
        shown = lan_address() if host in (LAN_HOST, "::") else host
        base_url = f"http://{shown}:{port}" if ":" not in shown else f"http://[{shown}]:{port}"
    print(f"class screen: http://127.0.0.1:{port}/ on this laptop"
          + (f"; phones on the studio network pair at {base_url}" if lan else " (this machine only; --lan for "
             "phones)"), file=sys.stderr, flush=True)
    # The store's warnings (a corrupt file, a folder that cannot be written) come after that first line.
    store = _device_store(state_dir) if lan else None
    web = create_app(cues_dir or Path("cues"), base_url=base_url, control_port=CONTROL_PORT, device_store=store,
                     warn=_warn)
    if store is not None:
        kept = len(web.pairing.devices())
        print(f"paired phones are kept in {store.path}" + (f" ({kept} still paired from before)" if kept else ""),
              file=sys.stderr, flush=True)
    link = web.pairing.link
    if link is not None:
        print(f"pairing link (one phone, once, for {web.pairing.lifetime / 60:g} minutes; the laptop page shows a new "
              f"one): {link}", file=sys.stderr)
        _print_qr(link)
        sys.stderr.flush()
    config = uvicorn.Config(web.asgi, log_level="warning", proxy_headers=False, server_header=False,
                            ws="websockets-sansio", lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    print("class screen stopped", file=sys.stderr)
    return 0
