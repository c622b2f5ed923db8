"""Validate a strict YAML document against a pydantic model and report problems at their line and column.

The pydantic models are the one place the cue and rig schemas live; this turns their errors into
`PATH:LINE:COL: message` lines a studio tech can act on (with "did you mean" for misspelt keys).
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from showctl.errors import Problem, ProblemsError
from showctl.yamlfile import NodePath, YamlDocument

__all__ = ["did_you_mean", "validate_document"]

M = TypeVar("M", bound=BaseModel)


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a close match exists, else an empty string."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _fields_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> set[str]:
    """The keys allowed in the mapping at `loc` (all members' keys where a union stands there)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current, part)
        if current is None:
            return set()
    return _fields_of(current)


def _fields_of(tp: Any) -> set[str]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _fields_of(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_fields_of(member) for member in typing.get_args(tp)))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return set(tp.model_fields)
    return set()


def _unwrap(tp: Any, part: str | int) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0], part)
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(tp):
            found = _unwrap(member, part)
            if found is not None:
                return found
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
        field = tp.model_fields.get(part)
        return field.annotation if field else None
    if origin in (list, tuple) and isinstance(part, int):
        return typing.get_args(tp)[0]
    if origin is dict and isinstance(part, str):
        return typing.get_args(tp)[1]
    return None


def _message(error: dict[str, Any]) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message


def validate_document(doc: YamlDocument, model: type[M]) -> M:
    """`model` built from `doc`, or ProblemsError listing every problem with its location."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as err:
        problems = [_problem(doc, model, e) for e in err.errors(include_url=False)]  # type: ignore[arg-type]
        raise ProblemsError(sorted(set(problems))) from None


def _problem(doc: YamlDocument, model: type[BaseModel], error: dict[str, Any]) -> Problem:
    loc = _document_loc(doc, error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = did_you_mean(key, _fields_at(model, loc[:-1]))
        return Problem(doc.location(loc, key=True), f"unknown key '{key}'{hint}")
    if kind == "missing":
        return Problem(doc.location(loc[:-1]), f"missing required key '{loc[-1]}'")
    return Problem(doc.location(loc), _message(error))


def _document_loc(doc: YamlDocument, loc: tuple[Any, ...]) -> NodePath:
    """`loc` without the union/validator tags pydantic inserts: only keys and indexes of the document.

    The last part is kept even when absent from the document: it is the key a 'missing' error names.
    """
    kept: list[str | int] = []
    node: Any = doc.data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(part, int) and isinstance(node, list):
            kept.append(part)
            node = node[part] if 0 <= part < len(node) else None
        elif isinstance(part, str) and isinstance(node, dict) and (part in node or last):
            kept.append(part)
            node = node.get(part)
    return tuple(kept)
