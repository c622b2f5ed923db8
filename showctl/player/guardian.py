"""The guardian: a small process of its own that sends the rig's safe scene when showctl dies without it.

Every exit showctl sees (the end, quit, Ctrl-C, SIGTERM, an error inside Python) sends the safe scene itself.
A `kill -9`, the kernel's OOM killer or a crash in native code leave no chance to: the rig would stay in
whatever look it had — a blackout while people run backwards. So a class starts a guardian
(`python -m showctl.player.guardian`) in a session of its own (a signal to showctl's process group does not
reach it), hands it the rig through its stdin and keeps that pipe open. At a clean exit showctl writes
`done`; if the pipe closes without it, showctl is gone: the guardian opens the rig's outputs itself, stops
their MIDI clocks, sends the safe scene, says so in one line (stderr and `guardian.log` in the user's state
folder) and exits. It imports the outputs only, never the analysis.

Not covered: a power cut or kernel panic of the laptop (no process survives), and the guardian itself killed.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

from showctl.errors import DeviceError
from showctl.messages import MidiMessage
from showctl.rig import Rig

__all__ = ["DONE", "Guardian", "start_guardian"]

log = logging.getLogger("showctl")

DONE = b"done\n"


class Guardian:
    """showctl's end of the pipe: `done()` at a clean exit (the safe scene already sent)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def done(self) -> None:
        stdin = self.process.stdin
        if stdin is None:
            return
        with contextlib.suppress(OSError):  # a guardian that died already has nothing to be told
            stdin.write(DONE)
            stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_guardian(rig: Rig) -> Guardian | None:
    """A guardian for `rig` (the outputs as this class reaches them: with `--sim`, the simulated rig's), or None
    (one warning line) when it cannot start: the class goes on without it."""
    try:
        process = subprocess.Popen([sys.executable, "-m", "showctl.player.guardian"], stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, start_new_session=True)
        assert process.stdin is not None
        payload = pickle.dumps(rig)
        process.stdin.write(struct.pack(">I", len(payload)) + payload)
        process.stdin.flush()
    except (OSError, pickle.PicklingError) as err:
        log.warning("no guardian for the safe scene after a hard crash: %s", err)
        return None
    return Guardian(process)


def _read_rig(stream: BinaryIO) -> Rig | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    rig = pickle.loads(stream.read(size))  # from our own parent, through a pipe only it holds
    return rig if isinstance(rig, Rig) else None


def send_safe_scene(rig: Rig) -> list[str]:
    """Open each output of `rig`, stop its MIDI clock, send its safe scene; what failed, one line each."""
    from showctl.outputs import open_output  # here: the guardian waits light, and opens only when needed

    failed: list[str] = []
    for name in rig.outputs:
        try:
            output = open_output(name, rig)
        except DeviceError as err:
            failed.append(str(err))
            continue
        try:
            if name in rig.clocked_outputs:
                output.send(MidiMessage.parse("stop"))
            for message in rig.safe_scene.get(name, ()):
                output.send(message)
        except DeviceError as err:
            failed.append(str(err))
        finally:
            with contextlib.suppress(Exception):
                output.close()
    return failed


def _say(text: str) -> None:
    stamped = f"{time.strftime('%Y-%m-%d %H:%M:%S')} showctl guardian: {text}"
    with contextlib.suppress(OSError):
        print(f"showctl guardian: {text}", file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):
        from platformdirs import user_state_dir

        folder = Path(user_state_dir("showctl"))
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "guardian.log").open("a", encoding="utf-8") as file:
            file.write(stamped + "\n")


def main() -> int:
    stdin = sys.stdin.buffer
    rig = _read_rig(stdin)
    if rig is None:
        return 2
    said = b""
    while chunk := stdin.read(1):  # blocks until showctl writes or is gone (EOF)
        said += chunk
    if said.startswith(DONE):
        return 0
    failed = send_safe_scene(rig)
    outcome = "sent the safe scene" if not failed else f"sent the safe scene where it could ({'; '.join(failed)})"
    _say(f"showctl ended without its safe scene (killed?): {outcome} to rig '{rig.name}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
