"""The OSC remote controls over real UDP sockets: exact addresses only, bundle timetags ignored, malformed
packets counted in one line, a shared secret beyond loopback, a rate limit — and a class that always keeps
time and ends with the safe scene, whatever arrives on its control port."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_showctl, wait_for
from pythonosc.osc_message_builder import OscMessageBuilder

from showctl.errors import ShowctlError
from showctl.player.remote import RateLimit, is_loopback, osc_remote

CONTROLS = ("pause", "next", "extend", "hold", "blackout", "house", "quit", "tap")
FAR_FUTURE = int((2035 - 1900) * 365.25 * 86400) << 32  # an NTP timetag in 2035 (seconds since 1900, Q32.32)


class Recorder:
    """The controller's side of the remote: what was pressed, from the remote's own thread."""

    controls = CONTROLS

    def __init__(self) -> None:
        self.pressed: list[str] = []
        self.lock = threading.Lock()

    def press(self, name: Any) -> str:
        with self.lock:
            self.pressed.append(str(name))
        return name  # type: ignore[no-any-return]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def message(address: str, *args: Any) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def bundle(timetag: int, *elements: bytes) -> bytes:
    return b"#bundle\x00" + struct.pack(">Q", timetag) + b"".join(struct.pack(">i", len(e)) + e for e in elements)


@contextmanager
def remote(secret: str | None = None, **kwargs: Any) -> Iterator[tuple[Recorder, list[str], socket.socket, int]]:
    """A remote on a free loopback port, its warnings, and a UDP socket to send to it from."""
    recorder, warned = Recorder(), []
    port = free_udp_port()
    # No second line while the test runs, however slow the machine: each reason's count comes at the close.
    with osc_remote(recorder, "127.0.0.1", port, secret=secret, warn=warned.append, warn_every=600, **kwargs), \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        yield recorder, warned, sender, port


def test_a_far_future_bundle_is_pressed_at_once_and_the_port_keeps_answering(capfd: pytest.CaptureFixture[str]) -> None:
    with remote() as (recorder, warned, sender, port):
        sender.sendto(bundle(FAR_FUTURE, message("/showctl/next")), ("127.0.0.1", port))
        sender.sendto(message("/showctl/hold"), ("127.0.0.1", port))
        wait_for(lambda: len(recorder.pressed) == 2, "both controls pressed")
        started = time.monotonic()
    assert time.monotonic() - started < 5  # closing does not wait for the year 2100 (not a timing assert)
    assert recorder.pressed == ["next", "hold"]
    assert warned == []


def test_one_packet_presses_each_control_once_so_quit_still_needs_a_second_press() -> None:
    with remote() as (recorder, warned, sender, port):
        sender.sendto(bundle(1, message("/showctl/quit"), message("/showctl/quit"), message("/showctl/next")),
                      ("127.0.0.1", port))
        wait_for(lambda: len(recorder.pressed) == 2, "quit and next pressed")
    assert recorder.pressed == ["quit", "next"]
    assert warned == ["control port: ignored 1 control repeated in one packet from 127.0.0.1"]


def test_a_control_that_fails_is_one_line_and_the_port_goes_on(capfd: pytest.CaptureFixture[str]) -> None:
    class Failing(Recorder):
        def press(self, name: Any) -> str:
            if name == "blackout":
                raise RuntimeError("the rig file has no blackout scene")
            return super().press(name)

    failing, warned, port = Failing(), [], free_udp_port()
    with osc_remote(failing, "127.0.0.1", port, warn=warned.append), \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(message("/showctl/blackout"), ("127.0.0.1", port))
        sender.sendto(message("/showctl/house"), ("127.0.0.1", port))
        wait_for(lambda: failing.pressed, "the control after the failing one")
    assert failing.pressed == ["house"]
    assert warned == ["control port: /showctl/blackout from 127.0.0.1 failed (RuntimeError: the rig file has no "
                      "blackout scene)"]
    assert "Traceback" not in capfd.readouterr().err


def test_address_patterns_press_nothing_only_exact_addresses_do() -> None:
    with remote() as (recorder, warned, sender, port):
        for pattern in ("/showctl/*", "/showctl/{next,quit}", "/showctl/[a-z]*", "/*/blackout", "/showctl/nex?",
                        "//next", "/showctl/next/"):
            sender.sendto(message(pattern), ("127.0.0.1", port))
        sender.sendto(message("/showctl/next"), ("127.0.0.1", port))
        wait_for(lambda: recorder.pressed, "the exact address pressed")
    assert recorder.pressed == ["next"]
    assert warned == ["control port: ignored 1 message to an address that is no control from 127.0.0.1 "
                      "(exact addresses only, like /showctl/next)",
                      "control port: ignored 6 more messages to an address that is no control from 127.0.0.1 "
                      "(exact addresses only, like /showctl/next)"]


def test_a_button_release_presses_nothing() -> None:
    # A console or TouchOSC button sends 1 on press and 0 on release: the release must not press again (a
    # blackout on and straight off, or quit confirmed by one press).
    with remote() as (recorder, warned, sender, port):
        for value in (1, 0, 1.0, 0.0, True, False):
            sender.sendto(message("/showctl/blackout", value), ("127.0.0.1", port))
        sender.sendto(message("/showctl/quit", 1), ("127.0.0.1", port))
        sender.sendto(message("/showctl/quit", 0), ("127.0.0.1", port))
        sender.sendto(message("/showctl/next"), ("127.0.0.1", port))
        wait_for(lambda: "next" in recorder.pressed, "the last control pressed")
    assert recorder.pressed == ["blackout", "blackout", "blackout", "quit", "next"]
    assert warned == []
    with remote(secret="studio-secret") as (recorder, warned, sender, port):
        sender.sendto(message("/showctl/house", "studio-secret", 1), ("127.0.0.1", port))
        sender.sendto(message("/showctl/house", "studio-secret", 0), ("127.0.0.1", port))
        sender.sendto(message("/showctl/next", "studio-secret"), ("127.0.0.1", port))
        wait_for(lambda: "next" in recorder.pressed, "the last control pressed")
    assert recorder.pressed == ["house", "next"]


def deep_bundle(depth: int) -> bytes:
    inner = message("/showctl/quit")
    for _ in range(depth):
        inner = bundle(1, inner)
    return inner


def test_malformed_packets_are_one_counted_line_never_a_traceback(capfd: pytest.CaptureFixture[str],
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    bad_utf8 = b"/showctl/\xff\xfe\x00\x00\x00\x00"
    not_a_content = b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">i", 8) + b"\x01\x02RAWBYTES"[:8]
    with remote() as (recorder, warned, sender, port):
        for packet in (bad_utf8, deep_bundle(3000), deep_bundle(9), not_a_content, b"\x00garbage",
                       message("/showctl/tap", "x")[:-3], b""):
            sender.sendto(packet, ("127.0.0.1", port))
        sender.sendto(message("/showctl/tap"), ("127.0.0.1", port))
        wait_for(lambda: recorder.pressed, "the good control after the bad packets")
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "RAWBYT" not in captured.err + captured.out + caplog.text
    assert recorder.pressed == ["tap"]  # nothing of the bad ones, not even the quit nine bundles deep
    assert warned == ["control port: ignored 1 malformed packet from 127.0.0.1",
                      "control port: ignored 6 more malformed packets from 127.0.0.1"]


def test_junk_from_many_senders_is_a_few_lines() -> None:
    with remote() as (recorder, warned, sender, port):
        for n in range(2, 202):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
                other.bind((f"127.0.1.{n}", 0))
                other.sendto(b"junk", ("127.0.0.1", port))
        sender.sendto(message("/showctl/tap"), ("127.0.0.1", port))
        wait_for(lambda: recorder.pressed, "the control after the junk")
    assert warned == [f"control port: ignored 1 malformed packet from 127.0.1.{n}" for n in range(2, 10)] + [
        "control port: ignored 1 malformed packet from other senders",
        "control port: ignored 191 more malformed packets from other senders"]


def test_beyond_loopback_the_port_needs_a_secret() -> None:
    recorder = Recorder()
    with pytest.raises(ShowctlError) as refused, osc_remote(recorder, "0.0.0.0", free_udp_port()):
        pass
    assert str(refused.value) == (
        "--control-host 0.0.0.0 opens the OSC remote controls to the network: set a shared secret of 8 "
        "characters or more in SHOWCTL_CONTROL_SECRET (or --control-secret); every control message then sends "
        "it as its first argument")
    with pytest.raises(ShowctlError, match="8 characters or more"), \
            osc_remote(recorder, "0.0.0.0", free_udp_port(), secret="short"):
        pass
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("::ffff:127.0.0.1") and not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20")
    assert not is_loopback("::")


def test_the_cli_refuses_an_open_control_port_without_a_secret_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SHOWCTL_CONTROL_SECRET"}
    result = subprocess.run([sys.executable, "-m", "showctl.cli.main", "run", "cues/demo.yaml", "--sim",
                             "--control-host", "0.0.0.0"], cwd=REPO, capture_output=True, text=True, env=env,
                            timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "showctl: --control-host 0.0.0.0 opens the OSC remote controls to the network: set a shared secret of 8 "
        "characters or more in SHOWCTL_CONTROL_SECRET (or --control-secret); every control message then sends "
        "it as its first argument"]


def test_with_a_secret_only_controls_carrying_it_press() -> None:
    secret = "studio-7-tablet"
    with remote(secret=secret) as (recorder, warned, sender, port):
        for packet in (message("/showctl/quit"), message("/showctl/quit", "wrong-secret"), message("/showctl/quit", 7),
                       message("/showctl/quit", secret[:-1])):
            sender.sendto(packet, ("127.0.0.1", port))
        sender.sendto(message("/showctl/blackout", secret), ("127.0.0.1", port))
        wait_for(lambda: recorder.pressed, "the control with the secret")
    assert recorder.pressed == ["blackout"]
    assert warned == ["control port: ignored 1 control without the secret from 127.0.0.1",
                      "control port: ignored 3 more controls without the secret from 127.0.0.1"]


def test_guesses_at_the_secret_are_rate_limited_and_cannot_crowd_out_the_tablet() -> None:
    secret = "studio-7-tablet"
    with remote(secret=secret, all_senders=RateLimit(per_second=1, burst=5)) as (recorder, warned, sender, port):
        for _ in range(30):  # one guesser: its first 10 tries are looked at, the rest are over its rate
            sender.sendto(message("/showctl/quit", "guess"), ("127.0.0.1", port))
        for n in range(2, 32):  # thirty more, each within its own rate: far over the limit for all senders
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
                other.bind((f"127.0.0.{n}", 0))
                for _ in range(3):
                    other.sendto(message("/showctl/quit", "guess"), ("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tablet:
            tablet.bind(("127.0.0.99", 0))
            tablet.sendto(message("/showctl/blackout", secret), ("127.0.0.1", port))
        wait_for(lambda: recorder.pressed, "the tablet's control")
    assert recorder.pressed == ["blackout"]
    assert warned[:2] == ["control port: ignored 1 control without the secret from 127.0.0.1",
                          "control port: ignored 1 control from 127.0.0.1: more than 5 a second"]
    guessed = [w for w in warned if w.startswith("control port: ignored 9 more controls without the secret from")]
    assert guessed == ["control port: ignored 9 more controls without the secret from 127.0.0.1"]


def test_a_flood_of_controls_is_cut_to_the_rate_limit() -> None:
    with remote(rate_limit=RateLimit(per_second=5, burst=10)) as (recorder, warned, sender, port):
        started = time.monotonic()
        for _ in range(200):
            sender.sendto(message("/showctl/tap"), ("127.0.0.1", port))
        sender.sendto(bundle(1, *[message("/showctl/next")] * 200), ("127.0.0.1", port))
        wait_for(lambda: any("more than 5 a second" in w for w in warned), "the flood noticed")
        elapsed = time.monotonic() - started
        time.sleep(0.3)
    assert 10 <= len(recorder.pressed) <= 10 + 5 * (elapsed + 0.4) + 1
    assert warned[0] == "control port: ignored 1 control from 127.0.0.1: more than 5 a second"


def test_the_rate_limit_refills_at_its_rate() -> None:
    now = [0.0]
    limit = RateLimit(per_second=5, burst=10)
    allowed = limit.bucket(lambda: now[0])
    assert sum(allowed() for _ in range(30)) == 10
    now[0] += 1.0
    assert sum(allowed() for _ in range(30)) == 5
    now[0] += 100.0
    assert sum(allowed() for _ in range(30)) == 10  # never more than the burst


# -- the safety property: a real class, in its own process -------------------------------------------------
RIG = """
name: OSC rig
outputs:
  console: {transport: osc, host: 127.0.0.1, port: 9000}
safe_scene: {console: [/showctl/house 1]}
"""

CUE = """
name: Remote class
rig: rig.yaml
playlist: [{track: TRACK}]
scenes:
  warm: {send: {console: [/showctl/scene/warm 1]}}
effects:
  pulse: {every: beat, send: {console: [/showctl/pulse 1]}}
looks:
  warmup: {scene: warm, effects: [pulse]}
segments:
  - {name: Warm-up, kind: warmup, length: "0:30"}
  - {name: More, kind: warmup, length: "0:30"}
"""


def start_run(folder: Path, tracks: list[Path], port: int, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`showctl run --sim --speed 8` of a 1-minute class with its remote on `port`, once the remote listens;
    returns the process and what it said until then."""
    (folder / "rig.yaml").write_text(textwrap.dedent(RIG))
    (folder / "class.yaml").write_text(textwrap.dedent(CUE).replace("TRACK", str(tracks[0])))
    assert run_showctl("check", str(folder / "class.yaml")).returncode == 0  # analysed: the run starts at once
    process = subprocess.Popen(
        [sys.executable, "-m", "showctl.cli.main", "run", str(folder / "class.yaml"), "--sim", "--speed", "8",
         "--control-port", str(port)], cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**env, "COLUMNS": "200"})
    assert process.stderr is not None
    said: list[str] = []
    while not any(line.startswith("remote controls: OSC") for line in said):
        line = process.stderr.readline()
        if not line:
            process.kill()
            pytest.fail(f"run ended before its remote listened: {said} {process.communicate()}")
        said.append(line)
    return process, "".join(said)


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.slow
def test_a_far_future_bundle_does_not_stop_run_from_ending(tmp_path: Path, demo_tracks: list[Path]) -> None:
    port = free_udp_port()
    process, said = start_run(tmp_path, demo_tracks, port, {**os.environ})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(bundle(FAR_FUTURE, message("/showctl/hold")), ("127.0.0.1", port))
        time.sleep(0.5)
        sender.sendto(message("/showctl/nex?"), ("127.0.0.1", port))
        sender.sendto(b"/showctl/\xff\x00\x00", ("127.0.0.1", port))
        sender.sendto(message("/showctl/next"), ("127.0.0.1", port))
    out, err = finish(process)
    err = said + err
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "class finished" in err and "safe scene sent" in err
    assert out.rstrip().endswith("/showctl/house 1"), out[-500:]  # the safe scene is the last thing the rig got
    assert "release hold, next part" in out, out  # both controls were answered, the far-future one at once
    assert "control port: ignored 1 malformed packet from 127.0.0.1" in err


@pytest.mark.slow
def test_run_takes_the_controls_secret_from_the_environment(tmp_path: Path, demo_tracks: list[Path]) -> None:
    port = free_udp_port()
    process, said = start_run(tmp_path, demo_tracks, port, {**os.environ, "SHOWCTL_CONTROL_SECRET": "studio-7-tablet"})
    assert said.splitlines()[-1].endswith(f"on 127.0.0.1:{port} (each with the shared secret first)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(message("/showctl/hold"), ("127.0.0.1", port))
        sender.sendto(message("/showctl/next", "studio-7-tablet"), ("127.0.0.1", port))
    out, err = finish(process)
    assert process.returncode == 0, err
    assert "next part" in out and "hold" not in out, out
    assert "control port: ignored 1 control without the secret from 127.0.0.1" in err
