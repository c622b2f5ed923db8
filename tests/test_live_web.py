"""A live class (music from elsewhere, the beat from a live source) from the class screen and the OSC remote:
one control path (`LiveController`) for the keys, the page and OSC. In a real browser: 8 taps at 128 BPM on
the page's Tap button, stamped on the page, and the simulated rig's bar accents land on that grid."""

from __future__ import annotations

import itertools
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_web import served, wait_state, ws_connect
from test_web_browser import PHONE, browser, open_page, screenshot  # noqa: F401  (browser: a fixture)

from showctl.cues import load_cue_sheet
from showctl.live.tap import TapTempo
from showctl.live_class import SourceInputs, check_sources, open_live_class
from showctl.player.live_controls import LIVE_CONTROLS, LiveController
from showctl.player.live_plan import live_plan
from showctl.rig import load_rig
from showctl.show import Rehearsal
from showctl.sim import simulated_rig

RIG = """
name: OSC rig
outputs:
  console: {transport: osc, host: 127.0.0.1, port: 9000}
safe_scene: {console: [/showctl/house 1]}
"""

CUE = """
name: Live tap class
rig: rig.yaml
cap: "CAP"
playlist: [{track: a.wav}]
scenes:
  warm: {send: {console: [/showctl/scene/warm 1]}}
effects:
  accent: {every: bar, flash: false, send: {console: [/showctl/accent 1]}}
looks:
  warmup: {scene: warm, effects: [accent]}
segments:
  - {name: Warm-up, kind: warmup, length: end of track}
"""

BPM = 128.0


def write_live_class(folder: Path, cap: str = "0:12") -> Path:
    (folder / "rig.yaml").write_text(textwrap.dedent(RIG))
    (folder / "live.yaml").write_text(textwrap.dedent(CUE).replace("CAP", cap))
    (folder / "a.wav").write_bytes(b"")
    return folder / "live.yaml"


def on_downbeats(arrivals: list[float], taps: list[float], per_bar: int = 4) -> list[float]:
    """How far (s) each arrival is from the nearest downbeat of the grid the taps make (the last tap is one)."""
    slope, intercept = np.polyfit(np.arange(len(taps)), np.array(taps), 1)
    anchor, bar = slope * (len(taps) - 1) + intercept, per_bar * slope
    return [abs(t - (anchor + round((t - anchor) / bar) * bar)) for t in arrivals]


def test_the_osc_remote_taps_through_the_live_controller(tmp_path: Path) -> None:
    import socket

    from pythonosc.udp_client import SimpleUDPClient

    cue = write_live_class(tmp_path, cap="0:30")
    loaded = load_cue_sheet(cue)
    plan = live_plan(loaded, load_rig(tmp_path / "rig.yaml"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    said: list[str] = []
    with open_live_class(plan, source="tap", rehearsal=Rehearsal(simulated_rig), on_notice=said.append,
                         control_port=port) as live:
        assert live.controller.controls == LIVE_CONTROLS
        client = SimpleUDPClient("127.0.0.1", port)
        for _ in range(8):
            client.send_message("/showctl/tap", [])
            time.sleep(60 / BPM)  # the tablet's pace
        deadline = time.monotonic() + 5
        while len(live.controller.taps) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)  # the remote answers on its own thread
        grid = live.tap.grid()
        assert grid is not None and grid.tempo == pytest.approx(BPM, abs=1.5)
        client.send_message("/showctl/double", [])
        deadline = time.monotonic() + 5
        while live.steered.factor != 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # as above
        assert live.steered.factor == 2
        client.send_message("/showctl/blackout", [])  # the rig has no blackout scene: the one-line refusal
        client.send_message("/showctl/house", [])
        deadline = time.monotonic() + 5
        while not live.controller.house and time.monotonic() < deadline:
            time.sleep(0.01)  # as above
        assert live.controller.house
    assert said[0] == "tap: tap again" and said[1].startswith("tap: ")
    assert "blackout: the rig file has no 'blackout:' scene" in said
    assert any(s.startswith("tempo ×2 of tap: ") for s in said)


def test_keys_and_page_presses_are_the_same_path() -> None:
    from showctl.live import Steered, TapTempo

    tap = TapTempo()
    steered = Steered(tap)
    clock = [100.0]
    said: list[str] = []
    controller = LiveController(None, steered, tap, notice=said.append, now=lambda: clock[0])
    for _ in range(4):
        controller.key("t")  # the terminal
        controller.press("tap", at=clock[0] - 0.2)  # the page: stamped 0.2 s before it arrived
        clock[0] += 0.5
    assert list(controller.taps)[:4] == [100.0, 99.8, 100.5, 100.3]  # a tap is taken when it was made
    controller.press("tap", at=clock[0] - 5)  # a stamp far off: the sender's clock is wrong; arrival counts
    assert controller.taps[-1] == clock[0]
    with pytest.raises(ValueError, match="no live control 'next'"):
        controller.press("next")
    assert said[0] == "tap: tap again"


def test_check_sources_says_what_opens() -> None:
    (only,) = check_sources("tap", SourceInputs())
    assert only.ok and only.name == "tap"


def test_live_mode_from_the_server_needs_no_analysis_and_refuses_playlist_controls(tmp_path: Path) -> None:
    # The cap is far beyond what the presses take and the class ends by the page's Quit: with a 3-s cap a
    # loaded machine could end the class before the House press, which then met no class (a flake).
    write_live_class(tmp_path, cap="0:30")
    with served(tmp_path) as srv, ws_connect(srv.port) as conn:
        import json

        conn.send(json.dumps({"type": "options", "sim": True, "speed": 1, "live": True, "source": "tap"}))
        conn.send(json.dumps({"type": "select", "cue": str(tmp_path / "live.yaml")}))
        state = wait_state(conn, lambda m: m["state"]["ready"], timeout=30)["state"]
        assert [c["label"] for c in state["checklist"]] == ["class file", "rig", "tempo source"]
        assert state["checklist"][0]["detail"].startswith("1 part, live, cap 0:30")
        assert state["sources"][0]["name"] == "tap" and state["tracks"] == []
        conn.send(json.dumps({"type": "start"}))
        # The part's scene has gone out (the one message the class sends): on a loaded machine House could
        # otherwise land before it, and the scene would then wait under the house lights, unsent (seen once).
        state = wait_state(conn, lambda m: (m["state"]["live_source"] or {}).get("sent", 0) >= 1, timeout=10)["state"]
        assert state["live_source"]["state"] == "NO BEAT" and state["live_controls"] == list(LIVE_CONTROLS)
        conn.send(json.dumps({"type": "press", "control": "next", "id": "a"}))
        while (reply := json.loads(conn.recv(timeout=5)))["type"] != "refused":
            pass
        assert reply["text"] == ("'next' is not a live control (live: tap, one, double, halve, freeze, blackout, "
                                 "house, quit)")
        # The page's Blackout and House lights reach the live controller: this rig has no blackout scene, and
        # with no beat yet the house lights land at once.
        for control in ("blackout", "house"):
            conn.send(json.dumps({"type": "press", "control": control, "id": control}))
            while (reply := json.loads(conn.recv(timeout=5)))["type"] != "ack":
                pass
            assert reply["id"] == control
            said = reply["text"]
            assert said == {"blackout": "blackout: the rig file has no 'blackout:' scene",
                            "house": "house lights: now (no beat to land on)"}[control]
        state = wait_state(conn, lambda m: (m["state"]["live_source"] or {}).get("overlay") == "house",
                           timeout=5)["state"]
        assert state["live_source"]["pending"] == []
        for said in ("quit? press q again within", "quit: ending the class with house lights"):
            conn.send(json.dumps({"type": "press", "control": "quit", "id": "quit"}))
            while (reply := json.loads(conn.recv(timeout=5)))["type"] != "ack":
                pass
            assert reply["text"].startswith(said)
        state = wait_state(conn, lambda m: m["state"]["last_run"] is not None, timeout=15)["state"]
        assert state["last_run"]["text"] == "class stopped by the instructor: 1 message sent; safe scene sent"
    received = srv.web.studio.last_received
    assert received[0].message == "/showctl/scene/warm 1" and received[-1].message == "/showctl/house 1"


@pytest.mark.slow
def test_eight_taps_on_the_page_put_the_bar_accents_on_their_grid(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    cue = write_live_class(tmp_path)
    with served(tmp_path) as srv:
        page = open_page(browser, srv.url, **PHONE)
        page.check("#sim")
        page.check("#live-mode")
        page.wait_for_selector("#source:not([hidden])")
        page.select_option("#source", "tap")
        page.select_option("#picker", label=cue.name)
        page.wait_for_selector("#start:not([disabled])", timeout=30_000)
        checklist = page.inner_text("#checklist")
        assert "tracks analysed" not in checklist and "live (tap): tap" in checklist
        page.click("#start")
        page.wait_for_selector("#live-beat:not([hidden])")
        assert page.inner_text("#lstate") == "NO BEAT"
        page.wait_for_function("window.showctl.clockOffset !== null")
        # 8 taps at 128 BPM on the Tap button, each on time to well under a millisecond inside the page.
        stamps = page.evaluate("""async (period) => {
            const button = document.querySelector("button[data-live=tap]");
            const t0 = performance.now() + 200;
            for (let k = 0; k < 8; k++) {
              const due = t0 + k * period;
              while (performance.now() < due - 25) await new Promise((r) => setTimeout(r, 1));
              while (performance.now() < due) {}
              button.dispatchEvent(new PointerEvent("pointerdown", { bubbles: true, cancelable: true,
                                                                     pointerType: "touch" }));
            }
            return window.showctl.taps.slice(-8);
        }""", 60_000 / BPM)
        offset, rtt = page.evaluate("[window.showctl.clockOffset, window.showctl.clockRtt]")
        page.wait_for_function("document.getElementById('lstate').textContent === 'LOCKED'")
        # The page shows the tempo of the taps as stamped (128.0 when the page kept time; a starved browser
        # on a loaded machine taps a little off, and the intervals are checked below).
        fit = TapTempo()
        for stamp in stamps:
            fit.tap(stamp / 1000)
        tempo = fit.grid()
        assert tempo is not None
        page.wait_for_function(f"document.getElementById('ltempo').textContent.startsWith('{tempo.tempo:.1f} BPM')")
        screenshot(page, "class-screen-live-phone.png", tmp_path)
        page.wait_for_function("document.getElementById('last-run').textContent.startsWith('class finished')",
                               timeout=30_000)
        assert page.errors == []
    taps = [(s + offset) / 1000 for s in stamps]  # where the page says the taps were, on the server's clock
    assert [b - a for a, b in itertools.pairwise(taps)] == pytest.approx([60 / BPM] * 7, abs=0.02)
    # The server took each tap where the page stamped it (not where it arrived), through the clock offset.
    assert list(srv.web.studio.last_taps) == pytest.approx(taps, abs=1e-4)
    received = srv.web.studio.last_received
    accents = [r.arrival for r in received if r.message == "/showctl/accent 1"]
    assert not [t for t in accents if t < taps[1] - 0.01]  # no beat before the taps: effects waited
    after = [t for t in accents if t > taps[-1] + 0.05]
    assert len(after) >= 3
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert gaps == pytest.approx([4 * 60 / BPM] * len(gaps), abs=0.01)
    late = on_downbeats(after, taps)
    print(f"\nclock offset round trip {rtt:.2f} ms; accents off the tapped downbeats: "
          f"max {max(late) * 1000:.1f} ms, mean {sum(late) / len(late) * 1000:.1f} ms over {len(late)}")
    assert max(late) < 0.015, late
