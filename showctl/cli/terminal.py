"""The terminal every command writes to: stdout for results, stderr for progress, notes and errors.

Kept apart from the commands so each command module (`commands`, `live_run`, `cue_commands`) reads it
without importing another: the arrows between them run one way (issue 16).
"""

from __future__ import annotations

from rich.console import Console

from showctl.show import ClassReport

__all__ = ["TERMINAL_REPORT", "err_console", "out_console"]

# Off a terminal (logs, CI, pipes) lines are not wrapped at rich's default of 80 columns.
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)
TERMINAL_REPORT = ClassReport(note=err_console.print,  # a show's notes and warnings on stderr
                              warn=lambda text: err_console.print(f"[yellow]{text}[/yellow]"),
                              error=lambda text: err_console.print(f"[red]{text}[/red]"))
