"""Progress of a playlist's analysis on stderr: a rich bar on a terminal, plain lines anywhere else.

    with AnalysisProgress(err_console, len(paths)) as progress:
        analyze_paths(paths, on_progress=progress)

On a terminal each finished file gets a line above the bar saying whether it was analysed or read from
the cache, and the bar counts both; it disappears when the run ends, leaving one summary line. Off a
terminal (logs, CI, pipes) only analysed files are printed, one plain line each, as they finish.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

__all__ = ["AnalysisProgress"]


class AnalysisProgress:
    """An `on_progress` callback for `analyze_paths`, and the context its display lives in."""

    def __init__(self, console: Console, total: int) -> None:
        self._console = console
        self._total = total
        self._analysed = 0
        self._cached = 0
        self._done = 0  # finished either way: failures count here too (`analyze_paths` counts them in `done`)
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._task = TaskID(0)

    def __enter__(self) -> AnalysisProgress:
        self._started = time.monotonic()
        if self._total and self._console.is_terminal:
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("analysing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}", style="dim"),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("analysing", total=self._total, counts="")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._bar is None:
            return
        self._bar.stop()
        if kind is None:
            seconds = time.monotonic() - self._started
            self._done = self._total
            self._console.print(f"{self._total} tracks: {self._counts()} in {seconds:.1f} s", style="dim",
                                markup=False)

    def __call__(self, path: str, done: int, total: int, cached: bool) -> None:
        self._done = done
        if cached:
            self._cached += 1
        else:
            self._analysed += 1
        if self._bar is None:
            if not cached:
                self._console.print(f"analysed {done}/{total}: {path}", style="dim", markup=False)
            return
        line = Text(f"{'cached  ' if cached else 'analysed'} {path}", style="dim" if cached else "")
        self._bar.console.print(line, highlight=False)
        self._bar.update(self._task, completed=done, total=total, counts=self._counts())

    def _counts(self) -> str:
        failed = self._done - self._analysed - self._cached
        return f"{self._analysed} analysed, {self._cached} from the cache" + (f", {failed} failed" if failed else "")
