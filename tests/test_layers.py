"""The layer check (`python -m showctl.tools.layers`): the package passes it, and it catches what it is for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from showctl.tools.layers import KNOWN, KNOWN_CYCLES, problems

REPO = Path(__file__).resolve().parents[1]


def test_every_import_in_showctl_runs_downwards_or_is_a_known_tie() -> None:
    run = subprocess.run([sys.executable, "-m", "showctl.tools.layers"], cwd=REPO, capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert "runs downwards" in run.stdout


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "showctl"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_an_import_up_a_layer_and_a_cycle_are_reported_with_their_line(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "__init__.py": "",
        "analysis/__init__.py": "",
        "analysis/tracker.py": '"""x"""\n\nfrom showctl.player.clock import Clock\n',
        "player/__init__.py": "",
        "player/clock.py": "def f() -> None:\n    import showctl.player.audio\n",
        "player/audio.py": "from showctl.player import clock\n",
    })
    found = problems(root)
    assert (f"{root / 'analysis/tracker.py'}:3: showctl.analysis.tracker imports showctl.player.clock: analysis "
            "is below player; move the shared part down, or pass it in") in found
    assert "import cycle: showctl.player.audio -> showctl.player.clock" in found
    # The known ties are not in this tree: each is reported as gone, so the list can only shrink.
    assert sum("no longer imports" in line for line in found) == len(KNOWN)
    assert sum("is gone" in line for line in found) == len(KNOWN_CYCLES)


def test_a_package_in_no_layer_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"__init__.py": "", "gadgets/__init__.py": "", "show.py": "import showctl.gadgets\n"})
    assert any("package 'gadgets' is in no layer" in line for line in problems(root))
