"""Ableton Link in: a second, real Link session as the peer, inside a private network namespace.

`test_link_in_a_private_network_namespace` runs `tests/link_netns_checks.py` under `unshare -n` with only
loopback up, so Link's discovery never leaves the machine (that file is not collected on its own).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REQUIRE_RIG, require_binary

from showctl.cli.main import main
from showctl.live.link import LINK_MISSING, link_grid

REPO = Path(__file__).resolve().parent.parent
NETNS_CHECKS = Path(__file__).with_name("link_netns_checks.py")


def test_link_grid_anchors_on_the_last_whole_beat_and_counts_the_bar() -> None:
    grid = link_grid(beat=9.25, at=100.0, tempo=120.0, quantum=4)
    assert grid.anchor == pytest.approx(99.875) and grid.anchor_in_bar == 1 and grid.beats_per_bar == 4
    assert grid.next_downbeat(100.0) == pytest.approx(101.375)  # beat 12 of the session: a bar line
    before_zero = link_grid(beat=-0.5, at=10.0, tempo=60.0)
    assert before_zero.anchor == pytest.approx(9.5) and before_zero.anchor_in_bar == 3


def test_without_the_link_extra_it_is_one_line(monkeypatch: pytest.MonkeyPatch, demo_tracks: list[Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "aalink", None)  # `import aalink` now fails as if it were not installed
    assert main(["run", str(REPO / "cues/demo.yaml"), "--live", "--source", "link"]) == 1
    assert capsys.readouterr().err == f"showctl: {LINK_MISSING}\n"


@pytest.mark.rig
@pytest.mark.slow
def test_link_in_a_private_network_namespace() -> None:
    require_binary("unshare", "a private network namespace for Link")
    require_binary("ip", "bringing loopback up inside the namespace")
    require_binary("jackd", "the simulated rig's MIDI ports")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        reason = f"unshare -n is not permitted here ({probe.stderr.strip() or probe.returncode})"
        if REQUIRE_RIG:
            pytest.fail(f"{reason} but SHOWCTL_REQUIRE_RIG=1 requires it")
        pytest.skip(reason)
    command = f"ip link set lo up; exec {sys.executable} -m pytest {NETNS_CHECKS} -p no:cacheprovider -q"
    result = subprocess.run(["unshare", "-n", "sh", "-c", command], cwd=REPO, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout and "skipped" not in result.stdout, result.stdout
