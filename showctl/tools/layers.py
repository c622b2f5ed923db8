"""Check that showctl's layers import downwards only: `python -m showctl.tools.layers`.

The layers, lowest first (README, "Layout"); a module may import its own layer and those below it:

    foundation  errors, units, yamlfile, schema, messages, portaudio, jackd: shared values, the YAML reader,
                audio I/O, the JACK server's state
    analysis    audio in, `TrackAnalysis` out (pure), its cache
    rig         the rig file: outputs, fixtures, patch, profiles, floor light (no sockets)
    cues        cue files, strictly validated
    timeline    the pure compile step: cue file + analysis + rig → events
    outputs     the transports that open, send, close
    live        beat sources: line-in audio, MIDI clock in, Ableton Link, tap
    player      running a class on a clock: the timeline's and the live one, controls, the guardian
    show        the front door: a class loaded, analysed, opened on its outputs (live_class: a live one)
    sim         the simulated rig: a front end's choice (rehearsal, tests), never product code's
    front ends  cli, web
    demo, tools synthesized demo audio (make tracks, tests, benches) and checks like this one

Also refused: import cycles between modules, lazy (in-function) imports included; imports made for type
hints only (`if TYPE_CHECKING:`) count for the layers but not for cycles (they never run).

Ties the code still has and issue 16 is to remove are listed in `KNOWN`, each with its reason; the
check fails on any other, and on a listed one that is gone (so the list only shrinks). Exit 0 when
clean, 1 with one line per problem otherwise.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KNOWN", "LAYERS", "Tie", "import_graph", "problems"]

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "units", "yamlfile", "schema", "messages", "portaudio", "jackd"),
    ("analysis",),
    ("rig",),
    ("cues",),
    ("timeline",),
    ("outputs",),
    ("live",),
    ("player",),
    ("show", "live_class"),
    ("sim",),
    ("cli", "web"),
    ("demo", "tools"),
)

# (importing package, imported package): why it is still there. Issue 16 removes them.
KNOWN: dict[tuple[str, str], str] = {}
# Module cycles still there: each as the sorted tuple of its modules.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {
}


@dataclass(frozen=True)
class Tie:
    """One import: `importer` (module) imports `imported` (module), at `line` of `path`; `typing`: only for
    type hints (under `if TYPE_CHECKING:`)."""

    importer: str
    imported: str
    path: Path
    line: int
    typing: bool = False


def _package_of(module: str) -> str:
    """`showctl.outputs.midi` → `outputs`; `showctl.show` → `show`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _modules(root: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[module] = path
    return found


def import_graph(root: Path) -> list[Tie]:
    """Every import of one showctl module by another under `root` (the `showctl` package directory)."""
    modules = _modules(root)
    ties = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _is_type_checking(block.test)
                       for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from showctl.x import y`: y may be a module of its own.
                names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                         for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in dict.fromkeys(names):
                if name in modules and name != module and not module.startswith(name + "."):
                    ties.append(Tie(module, name, path, node.lineno, id(node) in typing_only))
    return ties


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _layer(package: str) -> int:
    for level, packages in enumerate(LAYERS):
        if package in packages:
            return level
    raise KeyError(package)


def _cycles(ties: Sequence[Tie]) -> Iterator[tuple[str, ...]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for tie in ties:
        if not tie.typing:
            graph[tie.importer].add(tie.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[tuple[str, ...]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(tuple(sorted(group)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return iter(groups)


def problems(root: Path) -> list[str]:
    """One line per import that goes up a layer, per module cycle, per `KNOWN` entry no longer true."""
    ties = import_graph(root)
    lines = []
    seen_up: set[tuple[str, str]] = set()
    unplaced: set[str] = set()
    for tie in ties:
        low_pkg, high_pkg = _package_of(tie.importer), _package_of(tie.imported)
        try:
            up = _layer(high_pkg) > _layer(low_pkg)
        except KeyError as err:
            if err.args[0] not in unplaced:
                unplaced.add(err.args[0])
                lines.append(f"{tie.path}:{tie.line}: package {err} is in no layer: add it to LAYERS "
                             "(showctl/tools/layers.py) and the README")
            continue
        if not up:
            continue
        seen_up.add((low_pkg, high_pkg))
        if (low_pkg, high_pkg) not in KNOWN:
            lines.append(f"{tie.path}:{tie.line}: {tie.importer} imports {tie.imported}: {low_pkg} is below "
                         f"{high_pkg}; move the shared part down, or pass it in")
    cycles = set(_cycles(ties))
    for cycle in sorted(cycles - set(KNOWN_CYCLES)):
        lines.append(f"import cycle: {' -> '.join(cycle)}")
    for pair in sorted(set(KNOWN) - seen_up):
        lines.append(f"{pair[0]} no longer imports {pair[1]}: remove the entry from KNOWN (showctl/tools/layers.py)")
    for cycle in sorted(set(KNOWN_CYCLES) - cycles):
        lines.append(f"the cycle {' -> '.join(cycle)} is gone: remove it from KNOWN_CYCLES")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    root = Path(__file__).resolve().parents[1]
    found = problems(root)
    for line in found:
        print(line, file=sys.stderr)
    if not found:
        print(f"layers: every import in {root.name}/ runs downwards ({len(KNOWN)} known ties left, "
              f"{len(KNOWN_CYCLES)} known cycles)")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
