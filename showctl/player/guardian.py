"""The guardian: a small process of its own that sends the rig's safe scene when showctl dies without it.

Every exit showctl sees (the end, quit, Ctrl-C, SIGTERM, an error inside Python) sends the safe scene itself.
A `kill -9`, the kernel's OOM killer or a crash in native code leave no chance to: the rig would stay in
whatever look it had — a blackout while people run backwards. So a class starts a guardian
(`python -m showctl.player.guardian`) in a session of its own (a signal to showctl's process group does not
reach it), hands it the rig through its stdin, waits for its `guarding` (a guardian that cannot start is a
warning, not a silent gap) and keeps that pipe open. At a clean exit showctl writes
`done`; if the pipe closes without it, or the guardian finds itself re-parented (showctl is gone while a
process forked from it, an analysis worker, still holds the pipe), the guardian opens the rig's outputs
itself, stops their MIDI clocks, sends the safe scene, says so in one line (stderr and `guardian.log` in
the user's state folder) and exits. It ignores SIGTERM and SIGINT: a stop sent to every process at once
(systemd, `pkill`, Ctrl-C in a terminal) must leave it watching until showctl has said `done`. It imports
the outputs only, never the analysis.

Not covered: a power cut or kernel panic of the laptop (no process survives), and the guardian itself killed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

from showctl.errors import DeviceError
from showctl.messages import MidiMessage
from showctl.rig import Rig

__all__ = ["DONE", "READY", "Guardian", "start_guardian"]

log = logging.getLogger("showctl")

DONE = b"done\n"
READY = b"guarding\n"  # the guardian's one line on stdout: it has the rig, has set the signals aside, watches
_START_TIMEOUT = 10.0  # s for it to say so (about 0.4 s; more on a loaded 2-core laptop)
_PARENT_POLL = 0.2  # s between checks that showctl is still the parent, while the pipe says nothing


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
    (one warning line) when it cannot start: the class goes on without it. Returns once the guardian says it is
    watching: from then on a SIGTERM or Ctrl-C that reaches it finds it ignoring them, and a guardian that
    could not start (a broken install) is not taken for one."""
    try:
        payload = pickle.dumps(rig)
        # Our pid on its command line: showctl may be gone before the guardian has even imported its modules,
        # and then its own getppid() would already name init, not us.
        # This same showctl, whatever the working folder holds: `-P` keeps `python -m` from putting the
        # working folder (perhaps a checkout of another version) first on the path, PYTHONPATH puts ours.
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        process = subprocess.Popen([sys.executable, "-P", "-m", "showctl.player.guardian", str(os.getpid())],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
    except (OSError, pickle.PicklingError) as err:
        log.warning("no guardian for the safe scene after a hard crash: %s", err)
        return None
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(struct.pack(">I", len(payload)) + payload)
        process.stdin.flush()
        ready = bool(select.select([process.stdout], [], [], _START_TIMEOUT)[0])
        answer = process.stdout.readline() if ready else b""
    except OSError:  # a broken pipe: it has gone already, its exit status says more
        ready, answer = True, b""
    process.stdout.close()  # it says nothing more
    if answer != READY:
        try:  # its stdout ended (it exits) or it said something else
            status = process.wait(timeout=1) if ready else None
        except subprocess.TimeoutExpired:
            status = None
        _stop(process)
        why = f"it exited with status {status}" if status is not None else \
            f"no answer in {_START_TIMEOUT:g} s" if not ready else f"it answered {answer!r}"
        log.warning("no guardian for the safe scene after a hard crash: %s", why)
        return None
    return Guardian(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """A guardian that did not start: killed (ours, by its pid) and reaped, never left behind."""
    with contextlib.suppress(OSError):
        process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _read_exactly(fd: int, size: int) -> bytes:
    """`size` bytes from `fd` (fewer at its end), read unbuffered: what follows (`done`) is left in the pipe
    for `_wait_for_parent`."""
    got = b""
    while len(got) < size and (chunk := os.read(fd, size - len(got))):
        got += chunk
    return got


def _read_rig(fd: int) -> Rig | None:
    header = _read_exactly(fd, 4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack(">I", header)
    rig = pickle.loads(_read_exactly(fd, size))  # from our own parent, through a pipe only it holds
    return rig if isinstance(rig, Rig) else None


def send_safe_scene(rig: Rig) -> dict[str, str]:
    """Open each output of `rig`, stop its MIDI clock, send its safe scene; what failed, by output name (the
    other outputs still get theirs)."""
    from showctl.outputs import open_output  # here: the guardian waits light, and opens only when needed

    failed: dict[str, str] = {}
    for name in rig.outputs:
        # Any error, not only the DeviceError an output is meant to raise: this is the last thing between a
        # crashed class and a dark floor, and one output's surprise must not keep the safe scene from the rest.
        try:
            output = open_output(name, rig)
        except Exception as err:
            failed[name] = _reason(name, err)
            continue
        try:
            if name in rig.clocked_outputs:
                output.send(MidiMessage.parse("stop"))
            for message in rig.safe_scene.get(name, ()):
                output.send(message)
        except Exception as err:
            failed[name] = _reason(name, err)
        finally:
            with contextlib.suppress(Exception):
                output.close()
    return failed


def _reason(name: str, err: Exception) -> str:
    return str(err) if isinstance(err, DeviceError) else f"output '{name}': {type(err).__name__}: {err}"


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
    # Bound to the pipe, not to signals: a SIGTERM or Ctrl-C sent to every process must not take the guardian
    # down before showctl has answered it with its own safe scene and `done`.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd = sys.stdin.fileno()
    parent = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else os.getppid()
    rig = _read_rig(fd)
    if rig is None:
        return 2
    with contextlib.suppress(OSError):
        sys.stdout.buffer.write(READY)
        sys.stdout.buffer.flush()
        # showctl stops reading here: nothing written to stdout later (a library's chatter) may meet a closed pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    if _wait_for_parent(fd, parent).startswith(DONE):
        return 0
    failed = send_safe_scene(rig)
    sent = ", ".join(name for name in rig.outputs if name not in failed) or "no output"
    _say(f"showctl ended without its safe scene (killed?): sent the safe scene to rig '{rig.name}' ({sent})"
         + "".join(f"; {reason}" for reason in failed.values()))
    return 1 if failed else 0


def _wait_for_parent(fd: int, parent: int) -> bytes:
    """What showctl wrote, once it said `done`, the pipe reached its end or showctl is gone. The end alone is
    not enough: a process forked from showctl during the class (an analysis worker) holds the pipe's write
    end too, and being re-parented (to init or a subreaper) says showctl is gone, whoever else holds it. For
    the same reason `done` is enough: showctl waits for the guardian to leave, and the end may never come."""
    said = b""
    while True:
        readable, _, _ = select.select([fd], [], [], _PARENT_POLL)
        if readable:
            chunk = os.read(fd, 4096)
            if not chunk:
                return said
            said += chunk
            if said.startswith(DONE):
                return said
        elif os.getppid() != parent:
            return said + _pending(fd)  # a `done` written just before showctl went is in the pipe already


def _pending(fd: int) -> bytes:
    """What is in the pipe now, without waiting."""
    got = b""
    while select.select([fd], [], [], 0)[0] and (chunk := os.read(fd, 4096)):
        got += chunk
    return got


if __name__ == "__main__":
    sys.exit(main())
