"""Direct DMX: fixtures and patch in rig files, DMX messages, frames at a steady rate, and a real olad.

The olad tests start olad themselves (as the `olad` user when run as root: olad refuses root) with a
temporary config directory and only the plugins in use, on free ports, patch universe 1 over olad's HTTP
API and read the universe back with `GET /get_dmx?u=1`. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO, require_binary, run_showctl, wait_for

from showctl.cues import load_cue_sheet
from showctl.cues.check import check_against_rig
from showctl.errors import DeviceError, ProblemsError
from showctl.messages import DmxMessage
from showctl.outputs import open_output
from showctl.outputs.dmx import SAFE_REPEATS, open_dmx_output
from showctl.outputs.resilient import open_resilient_output
from showctl.player.clock import FakeClock
from showctl.rig import Rig, load_rig
from showctl.rig.dmx import DmxOutputConfig, build_patch
from showctl.rig.dmx_levels import DmxState, render_messages
from showctl.sim import SimulatedRig
from showctl.sim.process import stop_process

RIG_FILE = REPO / "config/small-studio-rig.yaml"
CUE_FILE = REPO / "cues/small-studio.yaml"


def studio_rig(**output: object) -> Rig:
    """The small-studio rig with its DMX output changed (pointed at a test's olad or socket)."""
    rig = load_rig(RIG_FILE)
    config = rig.outputs["lights"].model_copy(update=output)
    return rig.model_copy(update={"outputs": {"lights": config}})


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def dmx(*texts: str) -> list[DmxMessage]:
    return [DmxMessage.parse(t) for t in texts]


# -- messages ---------------------------------------------------------------------------------------------
def test_dmx_message_text_round_trips() -> None:
    message = DmxMessage.parse("@front-pars dimmer=80% color=red fade=2s")
    assert message == DmxMessage("front-pars", (("dimmer", 0.8),), "red", fade=2.0)
    assert str(message) == "@front-pars dimmer=80% color=red fade=2s"
    assert str(DmxMessage.parse("@strobe strobe=0")) == "@strobe strobe=0%"
    assert DmxMessage.parse("@pars dimmer=0.5 flash=0.25s").flash == 0.25


@pytest.mark.parametrize(("text", "error"), [
    ("@pars dimer=80%", "'@pars dimer=80%': unknown DMX attribute 'dimer' (did you mean 'dimmer'?)"),
    ("@pars dimmer=120%", "'@pars dimmer=120%': dimmer=120%: expected a level from 0% to 100%"),
    ("@pars color=teal", "'@pars color=teal': unknown colour 'teal' (colours: white, warm, red, orange, amber, "
                         "yellow, green, cyan, blue, purple, magenta, pink, black, or #rrggbb)"),
    ("@pars", "'@pars': set at least one value (e.g. dimmer=80% or color=red)"),
    ("@pars dimmer=1 dimmer=0", "'@pars dimmer=1 dimmer=0': dimmer is given twice"),
    ("@pars dimmer=1 fade=1s flash=1s", "'@pars dimmer=1 fade=1s flash=1s': give either fade= or flash=, not both"),
])
def test_bad_dmx_messages_say_why(text: str, error: str) -> None:
    with pytest.raises(ValueError) as info:
        DmxMessage.parse(text)
    assert str(info.value) == error


# -- rig files -------------------------------------------------------------------------------------------
BAD_RIG = """\
name: bad
outputs:
  lights: {transport: dmx, universes: [1]}
fixtures:
  par1: {type: rgb-par, universe: 1, address: 1}
  par2: {type: rgb-par, universe: 1, address: 3}
  head: {type: moving-head, universe: 1, address: 508}
  spot: {type: movinghead, universe: 1, address: 20}
  far: {type: dimmer, universe: 2, address: 1}
groups:
  pars: [par1, par3]
safe_scene:
  lights: ["@pars dimmer=100% color=warm", "@head haze=0", "@nobody dimmer=0", "@head color=pink"]
"""


def test_patch_problems_have_locations(tmp_path: Path) -> None:
    path = tmp_path / "rig.yaml"
    path.write_text(BAD_RIG)
    with pytest.raises(ProblemsError) as info:
        load_rig(path)
    assert str(info.value).splitlines() == [
        f"{path}:6:47: fixture 'par2' (rgb-par) at 1/3-5 overlaps fixture 'par1' (rgb-par) at 1/1-3",
        f"{path}:7:51: fixture 'head' (moving-head) at 1/508-516 runs past channel 512: 9 channels from 508",
        f"{path}:8:16: fixture 'spot': unknown fixture type 'movinghead' (did you mean 'moving-head'?) "
        "(types: dimmer, rgb-par, rgbw-par, moving-head, strobe, hazer)",
        f"{path}:9:33: fixture 'far' is on universe 2, which no DMX output sends (universes sent: 1)",
        f"{path}:11:16: group 'pars': no fixture 'par3' (did you mean 'par2'?)",
        f"{path}:13:44: safe_scene: output 'lights': '@head haze=0%': no fixture in 'head' (moving-head) has haze",
        f"{path}:13:60: safe_scene: output 'lights': '@nobody dimmer=0%': no fixture or group 'nobody'",
        f"{path}:13:80: safe_scene: output 'lights': '@head color=pink': fixture 'head' (moving-head) has no pink "
        "on its colour wheel (wheel: white, red, blue, green, yellow, magenta, cyan, orange)",
    ]


def test_dmx_message_to_an_osc_output_is_a_check_error(tmp_path: Path) -> None:
    path = tmp_path / "rig.yaml"
    path.write_text("name: r\noutputs:\n  console: {transport: osc, port: 9000}\n"
                    "safe_scene:\n  console: ['@house dimmer=100%']\n")
    with pytest.raises(ProblemsError) as info:
        load_rig(path)
    assert str(info.value) == (f"{path}:5:13: safe_scene: output 'console' is OSC, but '@house dimmer=100%' "
                               "is a DMX message")


def test_cue_file_dmx_messages_are_checked_against_the_patch(tmp_path: Path) -> None:
    text = CUE_FILE.read_text().replace("../config/", f"{REPO}/config/").replace("../tracks/", f"{REPO}/tracks/")
    text = text.replace('"@back-pars dimmer=80% color=orange"', '"@back-par dimmer=80% color=orange"')
    path = tmp_path / "class.yaml"
    path.write_text(text)
    problems = [str(p) for p in check_against_rig(load_cue_sheet(path), load_rig(RIG_FILE))]
    assert problems == [f"{path}:26:11: scene 'run': output 'lights': '@back-par dimmer=80% color=orange': "
                        "no fixture or group 'back-par' (did you mean 'back-pars'?)"]


# -- rendering (pure) ------------------------------------------------------------------------------------
PAR_SAFE = [255, 255, 153, 64, 0, 0, 0]  # dimmer, warm white (1, 0.6, 0.25), strobe 0, mode, speed
HEAD_PARKED = [128, 0, 0, 0, 0, 0, 0, 0, 0]  # pan 50% (16 bit), tilt 0, speed, dimmer 0, strobe 0, white, gobo


def slots(frame: bytes | list[int], first: int, count: int) -> list[int]:
    return list(frame[first - 1:first - 1 + count])


def test_safe_frame_of_the_small_studio() -> None:
    rig = load_rig(RIG_FILE)
    frame = render_messages(build_patch(rig), (1,), [m for m in rig.safe_scene["lights"]
                                                     if isinstance(m, DmxMessage)])[1]
    for address in (1, 8, 15, 22, 29, 36, 43, 50):
        assert slots(frame, address, 7) == PAR_SAFE
    assert slots(frame, 101, 9) == slots(frame, 110, 9) == HEAD_PARKED
    assert slots(frame, 120, 2) == [0, 0]  # strobe
    assert slots(frame, 130, 2) == [0, 0]  # hazer off
    assert sum(frame[57:100]) == 0 and len(frame) == 512


def test_fades_and_flashes_are_computed_per_frame() -> None:
    rig = load_rig(RIG_FILE)
    state = DmxState(build_patch(rig), (1,))
    state.apply(DmxMessage.parse("@par1 dimmer=100% color=red"), 0.0)
    state.apply(DmxMessage.parse("@par1 dimmer=0 fade=2s"), 10.0)
    assert [state.render(t)[1][0] for t in (10.0, 10.5, 11.0, 12.0, 13.0)] == [255, 191, 128, 0, 0]
    state.apply(DmxMessage.parse("@par2 dimmer=40% color=blue"), 0.0)
    state.apply(DmxMessage.parse("@par2 color=white flash=0.2s"), 20.0)  # green jumps to full, falls back to 0
    assert [state.render(t)[1][8 + 1] for t in (20.0, 20.05, 20.2, 21.0)] == [255, 191, 0, 0]
    # An RGB PAR without a dimmer channel dims its colour instead.
    rgb_rig = rig.model_copy(update={"fixtures": {**rig.fixtures, "par1": rig.fixtures["par1"].model_copy(
        update={"type": "rgb-par"})}})
    state = DmxState(build_patch(rgb_rig), (1,))
    state.apply(DmxMessage.parse("@par1 dimmer=50% color=#ff8000"), 0.0)
    assert slots(state.render(0.0)[1], 1, 3) == [128, 64, 0]


# -- frames over a real socket (no olad) -----------------------------------------------------------------
class UdpReceiver:
    """Records (arrival time, datagram) on 127.0.0.1."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.got: list[tuple[float, bytes]] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            self.got.append((time.monotonic(), data))

    def close(self) -> None:
        self.sock.close()
        self._thread.join(timeout=1)


def osc_slots(datagram: bytes) -> bytes:
    return datagram[-512:]  # `/dmx/universe/1`, `,b`, size, then the 512 slots


def test_frames_are_steady_and_a_change_lands_in_the_next_frame() -> None:
    receiver = UdpReceiver()
    output = open_dmx_output("lights", studio_rig(port=receiver.port))
    carried = []
    try:
        time.sleep(0.1)
        for i in range(30):
            output.send(DmxMessage.parse(f"@par1 dimmer={(i % 2) * 100}%"))
            changed, version = time.monotonic(), output.version  # the change is in the state now
            time.sleep(0.03 + 0.0037 * (i % 7))  # the next change lands at another phase of the frame
            wait_for(lambda t=changed: output.frames[-1].rendered > t, "a frame after the change")  # however late
            first = next(f for f in output.frames if f.rendered > changed)
            carried.append(first.version >= version)
    finally:
        output.close()
        receiver.close()
    # The next frame rendered after a change carries it, whatever the machine's load made of the timing
    # (how soon that frame leaves is `make bench`'s figure: bench/bench_dmx.py).
    assert all(carried), carried
    period = 1 / 40
    sent = [f.sent for f in output.frames][3:-SAFE_REPEATS]  # the frame thread's frames (not the probe, not close's)
    gaps = sorted(b - a for a, b in itertools.pairwise(sent))
    # 40 Hz, kept on absolute deadlines: a late frame does not push the ones after it.
    assert abs((len(sent) - 1) / (sent[-1] - sent[0]) - 40) < 1
    # Most frames a period apart: the median gap is off by the scheduler's typical wake-up error (~0.1 ms
    # here), far below a millisecond even with a loaded machine's outliers on either side of it.
    assert abs(gaps[len(gaps) // 2] - period) < 0.002
    assert len(receiver.got) >= len(sent) and {d[-512:][0] for _, d in receiver.got} == {0, 255}  # all arrived


def test_close_sends_the_safe_frame_several_times() -> None:
    receiver = UdpReceiver()
    rig = studio_rig(port=receiver.port)
    output = open_dmx_output("lights", rig)
    output.send(DmxMessage.parse("@strobe dimmer=100% strobe=100%"))
    time.sleep(0.1)
    output.close()
    time.sleep(0.05)
    receiver.close()
    frames = [osc_slots(d) for _, d in receiver.got]
    assert any(f[119:121] == b"\xff\xff" for f in frames)  # the strobe was on...
    safe = render_messages(build_patch(rig), (1,), [m for m in rig.safe_scene["lights"] if isinstance(m, DmxMessage)])
    assert frames[-SAFE_REPEATS:] == [safe[1]] * SAFE_REPEATS  # ...and the room was left safe


def test_olad_not_running_is_one_line() -> None:
    port = free_port()
    with pytest.raises(DeviceError) as info:
        open_output("lights", studio_rig(port=port))
    assert str(info.value) == (f"output 'lights' (DMX osc 127.0.0.1:{port}): not reachable (Connection refused); "
                               f"olad must be running with its OSC plugin on UDP port {port}")


def test_resilient_dmx_output_waits_for_olad_and_resends_the_look() -> None:
    port = free_port()
    rig = studio_rig(port=port)
    lines: list[str] = []
    output = open_resilient_output("lights", rig.outputs["lights"], rig=rig, on_status=lines.append)
    try:
        assert lines == [f"output 'lights' (DMX osc 127.0.0.1:{port}): not reachable (Connection refused); "
                         f"olad must be running with its OSC plugin on UDP port {port}; retrying in the background"]
        with pytest.raises(DeviceError):
            output.send(DmxMessage.parse("@pars dimmer=100% color=red"))  # dropped, but remembered as the look
        receiver = UdpReceiver(port)
        deadline = time.monotonic() + 10
        while not output.up and time.monotonic() < deadline:
            time.sleep(0.02)
        assert output.up, lines
        assert lines[-1].startswith(f"output 'lights' (DMX osc 127.0.0.1:{port}): reconnected after ")
        assert lines[-1].endswith(" attempt(s); re-sent its current state (1 message(s))")
        time.sleep(0.1)
        assert slots(osc_slots(receiver.got[-1][1]), 1, 4) == [255, 255, 0, 0]
    finally:
        output.close()
    receiver.close()


def test_simulate_a_dmx_class(tmp_path: Path, demo_tracks: list[Path]) -> None:
    """`showctl simulate` on a DMX rig: every message logged in timeline order, and the rig's last frame is
    the class's final look (safe scene, then every message, fades done)."""
    log = tmp_path / "dmx.jsonl"
    result = run_showctl("simulate", "cues/small-studio.yaml", "--log", str(log))
    assert result.returncode == 0, result.stderr
    assert "DMX lights: as frames, ending in the class's final look" in result.stderr
    timeline = json.loads(run_showctl("timeline", "cues/small-studio.yaml", "--json").stdout)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(x["t"], x["transport"], x["message"]) for x in lines] == [
        (e["t"], "dmx", e["message"]) for e in timeline]


def test_simulated_rig_waits_for_a_dmx_look() -> None:
    rig = load_rig(RIG_FILE)
    patch = build_patch(rig)
    safe = [m for m in rig.safe_scene["lights"] if isinstance(m, DmxMessage)]  # the output starts there
    red = render_messages(patch, (1,), [*safe, DmxMessage.parse("@par1 dimmer=50% color=red")])
    blue = render_messages(patch, (1,), [*safe, DmxMessage.parse("@par1 dimmer=50% color=blue")])
    with SimulatedRig(rig) as sim:
        output = open_output("lights", sim.rig_for_outputs)
        try:
            output.send(DmxMessage.parse("@par1 dimmer=50% color=red"))
            assert sim.wait_for_dmx("lights", red, timeout=2.0)
            assert not sim.wait_for_dmx("lights", blue, timeout=0.2)  # a look the rig never got is not seen
        finally:
            output.close()


def test_fades_run_on_the_class_clock_still_while_paused_and_faster_in_a_rehearsal() -> None:
    rig = load_rig(RIG_FILE)
    safe = [m for m in rig.safe_scene["lights"] if isinstance(m, DmxMessage)]
    state = DmxState(build_patch(rig), (1,))  # the frames the fade should give, class second by class second
    for message in [*safe, *dmx("@par1 dimmer=100% color=red")]:
        state.apply(message, 0.0, instant=True)
    state.apply(DmxMessage.parse("@par1 dimmer=0 fade=2s"), 0.0)
    full, half, dark = (state.render(t) for t in (0.0, 1.0, 2.0))
    assert full[1][0] == 255 and half[1][0] == 128 and dark[1][0] == 0
    clock = FakeClock()  # class time moves only when the test moves it: a paused class, then 1 s steps
    with SimulatedRig(rig) as sim:
        config = sim.rig_for_outputs.outputs["lights"]
        output = open_resilient_output("lights", config, rig=sim.rig_for_outputs, class_time=clock.now)
        try:
            output.send(DmxMessage.parse("@par1 dimmer=100% color=red"))
            output.send(DmxMessage.parse("@par1 dimmer=0 fade=2s"))
            assert sim.wait_for_dmx("lights", full, timeout=2.0)
            time.sleep(0.3)  # 12 frames of wall time, no class time: the fade has not moved
            assert sim.dmx[("lights", 1)] == full[1]
            clock.t = 1.0  # at --speed 20 this second of class time is 50 ms of wall time
            assert sim.wait_for_dmx("lights", half, timeout=2.0)
            clock.t = 2.0
            assert sim.wait_for_dmx("lights", dark, timeout=2.0)
        finally:
            output.close()


def test_simulated_rig_receives_dmx_frames() -> None:
    rig = load_rig(RIG_FILE)
    with SimulatedRig(rig) as sim:
        output = open_output("lights", sim.rig_for_outputs)
        output.send(DmxMessage.parse("@par1 dimmer=50% color=red"))
        time.sleep(0.1)
        output.close()
        time.sleep(0.05)
    assert any(r.message == "universe 1: 1=128 3=0 4=0" for r in sim.received), sim.received[:3]
    assert sim.dmx[("lights", 1)][:7] == bytes(PAR_SAFE)


# -- a real olad -----------------------------------------------------------------------------------------
PLUGINS = ("artnet", "dmx4linux", "dummy", "e131", "espnet", "ftdidmx", "gpio", "karate", "kinet", "milinst",
           "nanoleaf", "opendmx", "openpixelcontrol", "osc", "pathport", "renard", "sandnet", "shownet", "spi",
           "stageprofi", "uartdmx", "usbdmx", "usbserial")
SACN_LOCK = Path(tempfile.gettempdir()) / "showctl-olad-sacn.lock"  # sACN's port 5568 is fixed: one olad at a time


class Olad:
    """olad on free ports with only the OSC (and optionally E1.31) input; universe 1 patched to them."""

    def __init__(self, sacn: bool = False) -> None:
        self.sacn = sacn
        self.http_port, self.rpc_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)
        self.osc_port = free_port()
        self.config_dir = Path(tempfile.mkdtemp(prefix="showctl-olad-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._lock: int | None = None

    def _write_config(self) -> None:
        for saved in ("ola-port.conf", "ola-universe.conf"):  # patches a previous run saved: start unpatched
            (self.config_dir / saved).unlink(missing_ok=True)
        for plugin in PLUGINS:
            (self.config_dir / f"ola-{plugin}.conf").write_text("enabled = false\n")
        (self.config_dir / "ola-osc.conf").write_text(
            "enabled = true\ninput_ports = 1\noutput_ports = 0\nport_0_address = /dmx/universe/%d\n"
            f"port_0_output_format = blob\nudp_listen_port = {self.osc_port}\n")
        if self.sacn:
            (self.config_dir / "ola-e131.conf").write_text(
                "enabled = true\nip = 127.0.0.1\ninput_ports = 1\noutput_ports = 0\n")

    def start(self) -> Olad:
        if self.sacn and self._lock is None:
            self._lock = os.open(SACN_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._write_config()
        as_root = os.geteuid() == 0
        if as_root:  # olad refuses to run as root ("Attempting to run as root, aborting")
            olad_user = pwd.getpwnam("olad")
            for path in (self.config_dir, *self.config_dir.iterdir()):
                os.chown(path, olad_user.pw_uid, olad_user.pw_gid)
        log = self.config_dir / "olad.log"
        with log.open("ab") as stderr:
            self.process = subprocess.Popen(
                ["olad", "-c", str(self.config_dir), "--no-register-with-dns-sd", "--no-http-quit",
                 "-p", str(self.http_port), "-r", str(self.rpc_port)],
                user="olad" if as_root else None, group="olad" if as_root else None,
                extra_groups=[] if as_root else None,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        wanted = {"OSC Device"} | ({"E1.31"} if self.sacn else set())
        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"olad exited: {log.read_text(errors='replace').strip().splitlines()[-1:]}")
            try:
                ports = json.loads(self._get("/json/get_ports"))
                ids = [p["id"] for p in ports if any(p["device"].startswith(w) for w in wanted) and not p["is_output"]]
                if len(ids) == len(wanted):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("olad did not start its plugins within 15 s")
            time.sleep(0.05)
        # ola_patch has no RPC port option (it would pin every run to 9010): patch over olad's HTTP API instead.
        body = urllib.parse.urlencode({"id": 1, "name": "showctl test", "add_ports": ",".join(ids)}).encode()
        reply = json.loads(self._get("/new_universe", body))
        assert reply["ok"], reply
        return self

    def _get(self, path: str, data: bytes | None = None) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", data=data, timeout=2) as response:
            body: bytes = response.read()
            return body

    def dmx(self, universe: int = 1) -> list[int]:
        values: list[int] = json.loads(self._get(f"/get_dmx?u={universe}"))["dmx"]
        return values + [0] * (512 - len(values))

    def wait_for(self, check: Callable[[list[int]], bool], timeout: float = 2.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while True:
            values = self.dmx()
            if check(values) or time.monotonic() > deadline:
                return values
            time.sleep(0.01)

    def stop(self, *, cleanup: bool = True) -> None:
        stop_process(self.process)
        self.process = None
        if cleanup:
            shutil.rmtree(self.config_dir, ignore_errors=True)
            if self._lock is not None:
                os.close(self._lock)  # releases the flock
                self._lock = None


@pytest.fixture(scope="module")
def olad() -> Iterator[Olad]:
    require_binary("olad", "a real DMX universe to read back")
    server = Olad()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def olad_sacn() -> Iterator[Olad]:
    require_binary("olad", "a real DMX universe to read back")
    server = Olad(sacn=True)
    try:
        yield server.start()
    finally:
        server.stop()


def _scene(name: str) -> list[DmxMessage]:
    sheet = load_cue_sheet(CUE_FILE).sheet
    return [m for m in sheet.scenes[name].send["lights"] if isinstance(m, DmxMessage)]


def _safe(rig: Rig) -> list[int]:
    return list(render_messages(build_patch(rig), (1,), [m for m in rig.safe_scene["lights"]
                                                          if isinstance(m, DmxMessage)])[1])


RUN_PAR_FRONT = [255, 255, 0, 0, 0, 0, 0]  # full red; the strobe stays at the safe scene's 0
RUN_PAR_BACK = [204, 255, 89, 0, 0, 0, 0]  # 80% orange (1, 0.35, 0)
RUN_HEAD = [76, 204, 153, 153, 0, 255, 0, 16, 0]  # pan 30%, tilt 60% (16 bit), full, red slot 16


def _check_run_scene(values: list[int]) -> None:
    assert slots(values, 1, 7) == slots(values, 22, 7) == RUN_PAR_FRONT
    assert slots(values, 29, 7) == slots(values, 50, 7) == RUN_PAR_BACK
    assert slots(values, 101, 9) == slots(values, 110, 9) == RUN_HEAD
    assert slots(values, 120, 2) == [0, 0] and slots(values, 130, 2) == [0, 0]


@pytest.mark.rig
def test_olad_shows_the_scene_the_effect_and_the_safe_frame(olad: Olad) -> None:
    rig = studio_rig(port=olad.osc_port)
    output = open_dmx_output("lights", rig)
    try:
        assert olad.wait_for(lambda v: v == _safe(rig)) == _safe(rig)  # before the first cue: house lights
        for message in _scene("run"):
            output.send(message)
        _check_run_scene(olad.wait_for(lambda v: v[0:2] == [255, 255] and v[100] == 76))
        # The beat pulse: the front PARs flash white (green and blue jump to full) and fall back to red.
        effect = load_cue_sheet(CUE_FILE).sheet.effects["beat-pulse"].send["lights"][0]
        output.send(effect)
        peak = olad.wait_for(lambda v: v[2] > 100 and v[3] > 100, timeout=0.15)  # the next frame or two
        assert peak[2] > 100 and peak[3] > 100 and peak[1] == 255, peak[:7]
        _check_run_scene(olad.wait_for(lambda v: v[2] == 0 and v[3] == 0))
        # A fade, computed per frame: the front PARs go dark over 0.5 s, passing through levels in between.
        output.send(DmxMessage.parse("@front-pars dimmer=0 fade=0.5s"))
        seen = [olad.dmx()[0]]
        while seen[-1] != 0 and len(seen) < 200:
            time.sleep(0.02)
            seen.append(olad.dmx()[0])
        assert seen[-1] == 0 and sorted(seen, reverse=True) == seen
        assert len({v for v in seen if 0 < v < 255}) >= 5, seen
    finally:
        output.close()
    assert olad.dmx() == _safe(rig)  # close() left the safe frame


@pytest.mark.rig
def test_olad_over_sacn(olad_sacn: Olad) -> None:
    rig = studio_rig(protocol="sacn", port=None)
    assert isinstance(rig.outputs["lights"], DmxOutputConfig) and rig.outputs["lights"].udp_port == 5568
    output = open_output("lights", rig)
    try:
        for message in _scene("run"):
            output.send(message)
        _check_run_scene(olad_sacn.wait_for(lambda v: v[0:2] == [255, 255] and v[100] == 76))
    finally:
        output.close()
    assert olad_sacn.dmx() == _safe(rig)


@pytest.mark.rig
def test_olad_restart_is_survived_by_the_resilient_output(olad: Olad) -> None:
    rig = studio_rig(port=olad.osc_port)
    lines: list[str] = []
    output = open_resilient_output("lights", rig.outputs["lights"], rig=rig, on_status=lines.append)
    try:
        for message in _scene("run"):
            output.send(message)
        _check_run_scene(olad.wait_for(lambda v: v[100] == 76))
        olad.stop(cleanup=False)  # olad goes away mid-class...
        deadline = time.monotonic() + 5
        while output.up and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not output.up
        olad.start()  # ...and comes back, empty: the output reconnects and re-sends the look
        _check_run_scene(olad.wait_for(lambda v: v[100] == 76, timeout=10))
        assert lines[-1].endswith(" attempt(s); re-sent its current state (3 message(s))"), lines
    finally:
        output.close()
    assert olad.dmx() == _safe(rig)


@pytest.mark.rig
@pytest.mark.slow
def test_ctrl_c_leaves_the_safe_frame_on_a_real_olad(olad: Olad, demo_tracks: list[Path], tmp_path: Path) -> None:
    rig = studio_rig(port=olad.osc_port)
    rig_file = tmp_path / "rig.yaml"
    rig_file.write_text(yaml.safe_dump(rig.model_dump(mode="json", exclude_defaults=True)))
    process = subprocess.Popen(
        [sys.executable, "-m", "showctl.cli.main", "run", str(CUE_FILE), "--rig", str(rig_file), "--no-audio",
         "--speed", "4", "--control-port", str(free_port())],
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The warm-up scene fades the PARs in, and the heads tilt to 20%: the class is running.
        values = olad.wait_for(lambda v: v[102] == 51, timeout=60)
        assert values[102] == 51, values[100:110]
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert olad.dmx() == _safe(rig)
