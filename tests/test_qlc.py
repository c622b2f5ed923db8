"""QLC+ profile and `showctl export-qlc`, checked against a real QLC+ 4.12 running headless."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_binary

from showctl.cli.main import main
from showctl.cues.load import load_cue_sheet
from showctl.errors import ProblemsError
from showctl.messages import OscMessage
from showctl.outputs import open_output
from showctl.rig import load_rig
from showctl.rig.qlcplus import qlc_checksum
from showctl.sim.qlcplus import QlcPlus

REPO = Path(__file__).resolve().parent.parent
NS = "{http://www.qlcplus.org/Workspace}"


def test_qlc_checksum_matches_qt() -> None:
    # Values QLC+ itself computed (RIG.md): Qt5 qChecksum, CRC-16/X-25.
    assert qlc_checksum("123456789") == 36974
    assert qlc_checksum("/showctl/dimmer") == 40122
    assert qlc_checksum("/showctl/scene1") == 62544


def test_qlcplus_profile_problems_are_located(tmp_path: Path) -> None:
    rig = tmp_path / "rig.yaml"
    rig.write_text("name: x\noutputs:\n  console: {transport: osc, port: 7700, profile: qlcplus}\n"
                   "safe_scene:\n  console: ['/a 1 2', '/b 300', '/c 0.5', '/d 1.5', '/e on']\n")
    with pytest.raises(ProblemsError) as info:
        load_rig(rig)
    assert str(info.value).replace(str(rig), "RIG").splitlines() == [
        "RIG:5:13: safe_scene: output 'console' (profile qlcplus): '/a 1 2' has 2 arguments; send one value per path",
        "RIG:5:23: safe_scene: output 'console' (profile qlcplus): '/b 300': 300 is outside ints 0..255",
        "RIG:5:43: safe_scene: output 'console' (profile qlcplus): '/d 1.5': 1.5 is outside floats 0..1",
        "RIG:5:53: safe_scene: output 'console' (profile qlcplus): '/e on' has a string argument 'on'",
    ]


def test_unknown_profile_suggests_one(tmp_path: Path) -> None:
    rig = tmp_path / "rig.yaml"
    rig.write_text("name: x\noutputs:\n  console: {transport: osc, port: 7700, profile: qlc}\n"
                   "safe_scene:\n  console: ['/a 1']\n")
    with pytest.raises(ProblemsError) as info:
        load_rig(rig)
    assert str(info.value) == (f"{rig}:3:50: unknown OSC profile 'qlc' (did you mean 'qlcplus'?) "
                               "(profiles: generic, qlcplus)")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _patch_fixtures(workspace: Path, scenes: dict[str, str], slider_channels: dict[str, int]) -> None:
    """What a tech does once in QLC+: patch a 4-channel dimmer pack into the exported scenes and sliders."""
    ET.register_namespace("", NS.strip("{}"))
    tree = ET.parse(workspace)
    engine = tree.getroot().find(f"{NS}Engine")
    assert engine is not None
    fixture = ET.Element(f"{NS}Fixture")
    for tag, text in (("Manufacturer", "Generic"), ("Model", "Generic"), ("Mode", "4 Channel"), ("ID", "0"),
                      ("Name", "Dimmers"), ("Universe", "0"), ("Address", "0"), ("Channels", "4")):
        ET.SubElement(fixture, f"{NS}{tag}").text = text
    engine.insert(1, fixture)
    for function in engine.iter(f"{NS}Function"):
        values = scenes.get(function.get("Name", ""))
        if values:
            ET.SubElement(function, f"{NS}FixtureVal", ID="0").text = values
    for slider in tree.getroot().iter(f"{NS}Slider"):
        level = slider.find(f"{NS}Level")
        assert level is not None
        ET.SubElement(level, f"{NS}Channel", Fixture="0").text = str(slider_channels[slider.get("Caption", "")])
    body = ET.tostring(tree.getroot(), encoding="unicode")
    workspace.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Workspace>\n{body}\n')


@pytest.fixture
def qlc_workspace(tmp_path: Path, demo_tracks: list[Path], capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """config/qlcplus-rig.yaml on a free port, exported with cues/qlcplus.yaml, fixtures patched in."""
    rig_file = tmp_path / "qlcplus-rig.yaml"
    port = _free_udp_port()
    rig_file.write_text((REPO / "config/qlcplus-rig.yaml").read_text().replace("port: 7700", f"port: {port}"))
    out = tmp_path / "studio.qxw"
    assert main(["export-qlc", str(rig_file), "--cues", str(REPO / "cues/qlcplus.yaml"), "-o", str(out)]) == 0
    assert capsys.readouterr().err == (f"wrote {out}: 5 scene button(s), 2 slider(s) on OSC 127.0.0.1:{port} for "
                                       "output 'console'; patch your fixtures into its scenes and sliders\n")
    yield out


def test_export_binds_every_path_the_cues_send(qlc_workspace: Path) -> None:
    root = ET.parse(qlc_workspace).getroot()
    bound = {(w.tag.removeprefix(NS), w.get("Caption")): int(w.find(f"{NS}Input").get("Channel", "")) # type: ignore[union-attr]
             for w in root.iter() if w.find(f"{NS}Input") is not None and w.tag != f"{NS}Universe"}
    assert bound == {
        ("Button", "warm"): qlc_checksum("/showctl/scene/warm"),
        ("Button", "run"): qlc_checksum("/showctl/scene/run"),
        ("Button", "rest"): qlc_checksum("/showctl/scene/rest"),
        ("Button", "cool"): qlc_checksum("/showctl/scene/cool"),
        ("Button", "house"): qlc_checksum("/showctl/scene/house"),
        ("Slider", "dimmer"): 40122,
        ("Slider", "beat-pulse"): qlc_checksum("/showctl/pulse"),
    }


@pytest.mark.rig
@pytest.mark.slow
def test_scenes_through_osc_drive_a_real_qlcplus(qlc_workspace: Path, tmp_path: Path) -> None:
    require_binary("qlcplus", "a real QLC+ console for the qlcplus profile")
    _patch_fixtures(qlc_workspace, {"warm": "0,200", "run": "0,100,1,255", "rest": "1,80", "cool": "0,50",
                                    "house": "0,255,1,255"}, {"dimmer": 2, "beat-pulse": 3})
    rig = load_rig(tmp_path / "qlcplus-rig.yaml")
    sheet = load_cue_sheet(REPO / "cues/qlcplus.yaml").sheet
    functions = {"warm": 0, "run": 1, "rest": 2, "cool": 3, "house": 4}  # export order: scenes, then safe
    expected_dmx = {"warm": [200, 0], "run": [100, 255], "rest": [0, 80], "cool": [50, 0]}
    with QlcPlus(qlc_workspace) as qlc:
        assert qlc.call("getFunctionsList") == ["0", "warm", "1", "run", "2", "rest", "3", "cool", "4", "house"]
        output = open_output("console", rig)
        try:
            for scene in ("warm", "run", "rest", "cool"):
                for message in sheet.scenes[scene].send["console"]:
                    output.send(message)

                def shows(scene: str = scene) -> bool:
                    running = [n for n, i in functions.items() if qlc.function_status(i) == "Running"]
                    return running == [scene] and qlc.channels(1, 1, 2) == expected_dmx[scene]

                assert qlc.wait_until(shows), (scene, qlc.channels(1, 1, 4))
            # The dimmer slider follows the scene's float (0.5 → 127); the pulse slider its effect value.
            output.send(OscMessage("/showctl/pulse", (1.0,)))
            assert qlc.wait_until(lambda: qlc.channels(1, 3, 2) == [127, 255]), qlc.channels(1, 1, 4)
            for message in rig.safe_scene["console"]:
                output.send(message)
            assert qlc.wait_until(lambda: qlc.function_status(functions["house"]) == "Running"
                                  and qlc.function_status(functions["cool"]) == "Stopped"
                                  and qlc.channels(1, 1, 3) == [255, 255, 255])
        finally:
            output.close()
