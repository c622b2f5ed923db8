"""Strict YAML for cue and rig files: YAML 1.2-like scalars and a line/column for every node.

PyYAML's default resolver is YAML 1.1: `off` becomes False, `1:30` becomes 90 and `010` becomes 8.
Studio techs write `1:30` meaning a minute and a half, so here only `true`/`false`, `null`/`~`, plain
decimal numbers (and 0x/0o) are typed; everything else stays a string for the schema to parse.
Duplicate keys are errors, not silently last-one-wins. NaN and infinities (`.nan`, `.inf`, `1e999`) are
errors where they are written: no cue or rig value means them, and they would fail later without a location.

Anchors and aliases work, within bounds counted while the file is composed, before anything is built: a
"billion laughs" file (aliases of aliases) would otherwise expand to gigabytes, and deep nesting would
overflow Python's stack. The document may expand to `MAX_NODES` nodes and nest `MAX_DEPTH` collections
deep (aliases counted as what they expand to); an alias inside the node it names is refused.

Every mark carries its file: `overlay` builds one document out of a file and the file it extends, and a
node inherited from the base still points into the base file (line and column there).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from showctl.errors import Location, Problem, ProblemsError

__all__ = ["MAX_DEPTH", "MAX_NODES", "NodePath", "YamlDocument", "load_yaml", "overlay"]

NodePath = tuple[str | int, ...]

MAX_NODES = 100_000  # the largest cue or rig file written by hand has a few thousand
MAX_DEPTH = 100  # collections inside collections; cue files nest about 6 deep


class _StrictResolver(yaml.resolver.BaseResolver):
    pass


_StrictResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_StrictResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.nan)$"),
    list("-+0123456789."),
)
_StrictResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)


class _Refused(yaml.YAMLError):
    """The document breaks a bound (`MAX_NODES`, `MAX_DEPTH`, an alias inside its anchor) at `mark`."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark, self.message = mark, message


class _StrictLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _StrictResolver,
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _StrictResolver.__init__(self)
        self._expanded = 0  # nodes the document holds so far, each alias counted as the nodes it repeats
        self._depth = 0  # collections open around the node being composed
        # id(node) -> (nodes it expands to, collections nested in it including itself), once composed
        self._sizes: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """PyYAML's, counting the expanded size and depth as it goes (PyYAML itself shares an aliased node,
        so the cost only shows when the document is turned into plain data)."""
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # else PyYAML reports the undefined alias
                if id(target) not in self._sizes:
                    raise _Refused(event.start_mark, f"YAML alias *{event.anchor} refers to a node that contains it")
                size, height = self._sizes[id(target)]
                self._count(size, self._depth + height, event.start_mark)
            return super().compose_node(parent, index)
        collection = isinstance(event, yaml.CollectionStartEvent)
        start = self._expanded
        self._depth += collection
        self._count(1, self._depth, event.start_mark)
        node = super().compose_node(parent, index)
        self._depth -= collection
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        height = collection + max((self._sizes[id(c)][1] for c in children), default=0)
        if node is not None:
            self._sizes[id(node)] = (self._expanded - start, height)
        return node

    def _count(self, nodes: int, depth: int, mark: Any) -> None:
        self._expanded += nodes
        if depth > MAX_DEPTH:
            raise _Refused(mark, f"YAML nested more than {MAX_DEPTH} levels deep")
        if self._expanded > MAX_NODES:
            raise _Refused(mark, f"YAML aliases expand to more than {MAX_NODES} nodes here; write the values out "
                                 "instead")


@dataclass
class YamlDocument:
    """Plain data (dicts, lists, scalars) plus where each node came from (file, line, column)."""

    path: str
    data: Any
    marks: dict[NodePath, Location] = field(default_factory=dict)
    key_marks: dict[NodePath, Location] = field(default_factory=dict)

    def location(self, node_path: NodePath, *, key: bool = False) -> Location:
        """The closest known location of `node_path` (the key itself when `key`, for unknown keys)."""
        table = self.key_marks if key else self.marks
        probe = tuple(node_path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.marks:
                return self.marks[probe]
            probe = probe[:-1]
        return self.marks.get((), Location(self.path, 1, 1))

    def file_of(self, node_path: NodePath) -> str:
        """The file the node at `node_path` (or its closest known parent) was written in."""
        return self.location(node_path).path


def _scalar(node: yaml.ScalarNode) -> Any:
    value: str = node.value
    tag = node.tag
    if tag == "tag:yaml.org,2002:bool":
        return value.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value, 10)
    if tag == "tag:yaml.org,2002:float":
        # YAML spells infinity and NaN `.inf` / `.nan`; Python wants `inf` / `nan`.
        return float(value.replace(".inf", "inf").replace(".Inf", "inf").replace(".INF", "inf").replace(".nan", "nan"))
    if tag == "tag:yaml.org,2002:null":
        return None
    return value


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _at(doc: YamlDocument, node: yaml.Node) -> Location:
    return Location(doc.path, *_mark(node))


def _build(node: yaml.Node, path: NodePath, doc: YamlDocument, problems: list[Problem]) -> Any:
    doc.marks[path] = _at(doc, node)
    if isinstance(node, yaml.ScalarNode):
        if node.tag not in (
            "tag:yaml.org,2002:str", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float", "tag:yaml.org,2002:null",
        ) and node.tag.startswith("!"):
            problems.append(Problem(_at(doc, node), f"unsupported YAML tag {node.tag}"))
        value = _scalar(node)
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(Problem(_at(doc, node), f"not a finite number: {node.value}"))
        return value
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc, problems) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(_at(doc, key_node), "a key must be a plain name"))
                continue
            key = str(key_node.value)
            if key == "<<":
                problems.append(Problem(_at(doc, key_node),
                                        "YAML merge keys (<<) are not supported; use 'extends:'"))
                continue
            if key in result:
                problems.append(Problem(_at(doc, key_node), f"duplicate key '{key}'"))
                continue
            doc.key_marks[(*path, key)] = _at(doc, key_node)
            result[key] = _build(value_node, (*path, key), doc, problems)
        return result
    raise AssertionError(f"unexpected YAML node {node!r}")  # the composer only makes the three kinds above


def load_yaml(path: str | Path) -> YamlDocument:
    """Read `path` strictly; raises ProblemsError (one line per problem) for unreadable or invalid YAML."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProblemsError([Problem(Location(shown), "no such file")]) from None
    except IsADirectoryError:
        raise ProblemsError([Problem(Location(shown), "is a directory, not a YAML file")]) from None
    except UnicodeDecodeError as err:
        raise ProblemsError([Problem(Location(shown), f"not UTF-8 text ({err.reason})")]) from None
    except OSError as err:
        raise ProblemsError([Problem(Location(shown), f"cannot read ({err.strerror})")]) from None
    doc = YamlDocument(shown, None)
    try:
        loader = _StrictLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except _Refused as err:
        raise ProblemsError([Problem(Location(shown, err.mark.line + 1, err.mark.column + 1), err.message)]) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = err.problem or err.context or "invalid YAML"
        if "\t" in message or "'\\t'" in message:
            message = "tab characters are not allowed for indentation; use spaces"
        raise ProblemsError([Problem(Location(shown, line, col), f"YAML syntax: {message}")]) from None
    except yaml.YAMLError as err:
        raise ProblemsError([Problem(Location(shown, 1, 1), f"YAML syntax: {err}")]) from None
    if root is None:
        raise ProblemsError([Problem(Location(shown, 1, 1), "the file is empty")])
    problems: list[Problem] = []
    doc.data = _build(root, (), doc, problems)
    if problems:
        raise ProblemsError(problems)
    return doc


def overlay(base: YamlDocument, child: YamlDocument, *, inherit: tuple[str, ...],
            merge: tuple[str, ...]) -> YamlDocument:
    """`child` on top of `base` (both mappings at the top): one document, every mark in its own file.

    Keys in `inherit` come from `base` when `child` does not give them. Keys in `merge` are mappings of
    named entries (scenes, effects, looks): the base's entries, then the child's, a child entry replacing
    the base entry of the same name whole. Every other key comes from `child` only.
    """
    assert isinstance(base.data, dict) and isinstance(child.data, dict)
    data: dict[str, Any] = dict(child.data)
    marks = dict(child.marks)
    key_marks = dict(child.key_marks)

    def take(prefix: NodePath) -> None:
        """Copy the marks of `prefix` and everything below it from `base`."""
        n = len(prefix)
        for table, into in ((base.marks, marks), (base.key_marks, key_marks)):
            for node_path, location in table.items():
                if node_path[:n] == prefix:
                    into[node_path] = location

    for key in inherit:
        if key in base.data and key not in child.data:
            data[key] = base.data[key]
            take((key,))
    for key in merge:
        inherited = base.data.get(key)
        if not isinstance(inherited, dict):
            continue
        own = child.data.get(key)
        if key not in child.data or own is None:
            data[key] = dict(inherited)
            take((key,))
        elif isinstance(own, dict):
            data[key] = {**inherited, **own}
            for name in inherited:
                if name not in own:
                    take((key, name))
    return YamlDocument(child.path, data, marks, key_marks)
