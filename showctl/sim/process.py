"""Ending the helper processes a simulated rig starts (jackd, QLC+, olad in tests)."""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["stop_process"]


def stop_process(process: subprocess.Popen[Any] | None, timeout: float = 5.0) -> None:
    """SIGTERM `process` (by its pid, never by name: other sessions run their own), SIGKILL it when it has
    not ended within `timeout` s, and reap it."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
