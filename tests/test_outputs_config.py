"""Every rig file in config/ checks, and its outputs reach a real receiver (the simulated rig)."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from showctl.cli.main import main
from showctl.messages import DmxMessage
from showctl.outputs import open_output
from showctl.rig import load_rig
from showctl.rig.dmx import DmxOutputConfig, build_patch
from showctl.rig.dmx_levels import render_messages
from showctl.sim import JackServer, SimulatedRig

REPO = Path(__file__).resolve().parent.parent
RIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / "config").glob("*.yaml"))


def test_the_rigs_the_issue_asks_for_are_there() -> None:
    assert {"config/demo-rig.yaml", "config/qlcplus-rig.yaml", "config/osc-rig.yaml", "config/midi-notes-rig.yaml",
            "config/midi-clock-rig.yaml", "config/small-studio-rig.yaml"} <= set(RIGS)


@pytest.mark.parametrize("path", RIGS)
def test_rig_file_checks(path: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert main(["check", path]) == 0
    assert capsys.readouterr().out == f"ok {path}\n"


@pytest.mark.rig
@pytest.mark.parametrize("path", RIGS)
def test_rig_safe_scene_reaches_a_real_receiver(path: str, jack: JackServer) -> None:
    rig = load_rig(REPO / path)
    with SimulatedRig(rig) as sim, ExitStack() as stack:
        expected: dict[str, list[str]] = {}
        for name in rig.outputs:
            output = open_output(name, sim.rig_for_outputs)
            stack.callback(output.close)
            for message in rig.safe_scene[name]:
                output.send(message)
            if isinstance(rig.outputs[name], DmxOutputConfig):  # DMX sends frames: the safe frame, from the start
                time.sleep(0.1)
                assert sim.dmx[(name, 1)] == render_messages(
                    build_patch(rig), (1,), [m for m in rig.safe_scene[name] if isinstance(m, DmxMessage)])[1]
                continue
            expected[name] = [str(m) for m in rig.safe_scene[name]]
        assert sim.wait_for({n: len(m) for n, m in expected.items()}, timeout=5)
    for name, messages in expected.items():
        assert [r.message for r in sim.received if r.output == name] == messages
