"""`showctl` commands about outputs and consoles: export-qlc, rig (the virtual stage)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from showctl.cues.check import check_against_rig
from showctl.cues.load import load_cue_sheet
from showctl.errors import DeviceError, ProblemsError, ShowctlError
from showctl.rig import OscOutputConfig, load_rig
from showctl.rig.qlcplus import QlcSource, qlc_controls, workspace_xml

__all__ = ["export_qlc", "rig_stage"]


def _qlc_output(rig_path: str, outputs: dict[str, OscOutputConfig], wanted: str | None) -> str:
    qlc = [name for name, config in outputs.items() if config.profile == "qlcplus"]
    if wanted is not None:
        if wanted not in qlc:
            raise ShowctlError(f"{rig_path}: output '{wanted}' is not an OSC output with 'profile: qlcplus' "
                               f"(those are: {', '.join(qlc) or 'none'})")
        return wanted
    if len(qlc) != 1:
        listed = f"several: {', '.join(qlc)}; pick one with --output" if qlc else "none"
        raise ShowctlError(f"{rig_path}: export-qlc needs one OSC output with 'profile: qlcplus' ({listed})")
    return qlc[0]


def export_qlc(rig_file: str, cue_files: Sequence[str], out: Path, output: str | None = None) -> int:
    """Write a QLC+ workspace whose Virtual Console is bound to every OSC path the cue files send."""
    rig = load_rig(rig_file)
    osc = {n: c for n, c in rig.outputs.items() if isinstance(c, OscOutputConfig)}
    name = _qlc_output(rig_file, osc, output)
    sources: list[QlcSource] = []
    problems = []
    for cue_file in cue_files:
        loaded = load_cue_sheet(cue_file)
        problems += check_against_rig(loaded, rig)
        sheet = loaded.sheet
        sources += [QlcSource("scene", n, s.send.get(name, ())) for n, s in sheet.scenes.items()]
        sources += [QlcSource("effect", n, e.send.get(name, ())) for n, e in sheet.effects.items()]
    if problems:
        raise ProblemsError(problems)
    sources.append(QlcSource("safe", "safe", rig.safe_scene.get(name, ())))
    controls = qlc_controls(sources)
    text = workspace_xml(rig, name, controls)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise DeviceError(str(out), f"cannot write workspace ({err.strerror})") from None
    buttons = sum(1 for c in controls if c.kind == "button")
    config = osc[name]
    print(f"wrote {out}: {buttons} scene button(s), {len(controls) - buttons} slider(s) on OSC "
          f"{config.host}:{config.port} for output '{name}'; patch your fixtures into its scenes and sliders",
          file=sys.stderr)
    return 0


def rig_stage(rig_file: str, seconds: float | None = None) -> int:
    """`showctl rig`: the simulated rig listening where the rig file's outputs send, shown as a live stage
    (on a terminal) or as one line per message received (otherwise), until Ctrl-C or `seconds`."""
    import time
    from contextlib import ExitStack

    from rich.console import Console
    from rich.live import Live

    from showctl.sim import JackServer, Received, SimulatedRig
    from showctl.sim.stage import Stage

    rig = load_rig(rig_file)
    console = Console(highlight=False, soft_wrap=True)
    stage = Stage(rig)

    def received(item: Received) -> None:
        stage.receive(item)
        if not console.is_terminal and item.message != "clock":
            console.print(f"{item.output:<10} {item.transport:<4} {item.message}")

    deadline = None if seconds is None else time.monotonic() + seconds
    with ExitStack() as stack:
        if any(o.transport == "midi" for o in rig.outputs.values()):
            stack.enter_context(JackServer())
        sim = stack.enter_context(SimulatedRig(rig, received, at_rig_addresses=True))
        stage.frames = sim.dmx
        where = ", ".join(f"{n}: {_where(o)}" for n, o in sim.rig_for_outputs.outputs.items())
        print(f"simulated rig '{rig.name}' listening — {where}", file=sys.stderr, flush=True)
        if console.is_terminal:
            stack.enter_context(Live(stage, console=console, refresh_per_second=10))
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.1)  # the receivers run on their own threads; this only waits for the end
        except KeyboardInterrupt:
            pass
    for view in stage.views.values():
        bpm = view.clock_bpm
        clock = f", MIDI clock {bpm:.1f} BPM" if bpm else ""
        print(f"{view.name}: {view.count} messages, showing {view.look}{clock}", file=sys.stderr)
    return 0


def _where(config: object) -> str:
    port = getattr(config, "port", "")
    return f"127.0.0.1:{port}" if isinstance(port, int) else f"JACK '{port}'"
