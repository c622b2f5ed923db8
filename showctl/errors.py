"""Errors a user can act on.

Every user mistake is a `ShowctlError`: the CLI catches it once, prints its one-line `str()` and exits
with its `exit_code`. Anything else reaching the CLI edge is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["AnalysisError", "DeviceError", "Location", "Problem", "ProblemsError", "ShowctlError", "problems_in"]


class ShowctlError(Exception):
    """A problem the user can fix; `str(err)` is the whole message, one line."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class Location:
    """Where in a file a problem is: 1-based line and column, as editors show them."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a cue or rig file."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class ProblemsError(ShowctlError, ValueError):
    """A file has problems; all of them are reported at once, one `PATH:LINE:COL: message` per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def problems_in(path: str | Path, err: ShowctlError) -> list[Problem]:
    """`err` as `PATH:LINE:COL: message` lines: its own located problems, or one line at `path`."""
    if isinstance(err, ProblemsError):
        return list(err.problems)
    return [Problem(Location(str(path)), str(err))]


class AnalysisError(ShowctlError, ValueError):
    """A track could not be analysed (missing, corrupt, silent, too short)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class DeviceError(ShowctlError, OSError):
    """A device (a socket, a MIDI port, jackd, olad) cannot be used."""

    def __init__(self, device: str, reason: str) -> None:
        self.device = device
        self.reason = reason
        super().__init__(f"{device}: {reason}")
