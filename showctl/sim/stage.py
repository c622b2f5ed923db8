"""The virtual stage: what each output of a simulated rig is showing, from the messages it received.

`showctl rig` draws it in the terminal so a tech can rehearse a class without the studio: per output the
current look (last scene message, MIDI program and controllers, DMX fixtures' colour and level), the tempo
its MIDI clock implies, and the last messages.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from rich.columns import Columns
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from showctl.rig import Rig
from showctl.rig.dmx import DmxOutputConfig, build_patch
from showctl.sim.rig import Received

__all__ = ["OutputView", "Stage"]

_TICKS_FOR_TEMPO = 48  # two beats of MIDI clock: a line through them smooths JACK's period jitter


@dataclass
class OutputView:
    """What one output shows now."""

    name: str
    transport: str
    look: str = "—"
    values: dict[str, str] = field(default_factory=dict)  # OSC address / MIDI controller → last value
    running: bool | None = None  # MIDI clock: started/continued vs stopped
    ticks: deque[float] = field(default_factory=lambda: deque(maxlen=_TICKS_FOR_TEMPO))
    last: deque[str] = field(default_factory=lambda: deque(maxlen=4))
    count: int = 0
    flash_at: float = 0.0

    @property
    def clock_bpm(self) -> float | None:
        if len(self.ticks) < 12:
            return None
        times = np.array(self.ticks)
        slope = float(np.polyfit(np.arange(len(times)), times, 1)[0])  # seconds per tick
        return 60.0 / (slope * 24) if slope > 0 else None


class Stage:
    """Updated from the simulated rig's receive thread; rendered by rich from the main thread."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.views = {name: OutputView(name, config.transport) for name, config in rig.outputs.items()}
        self.frames: Mapping[tuple[str, int], bytes] = {}  # the simulated rig's last DMX frames
        self._lock = threading.Lock()

    def receive(self, item: Received) -> None:
        with self._lock:
            view = self.views[item.output]
            view.count += 1
            text = item.message
            if text == "clock":
                view.ticks.append(item.arrival)
                return
            view.last.append(text)
            if item.transport == "osc":
                address, _, args = text.partition(" ")
                view.values[address] = args
                if "/scene" in address or address.endswith(("/house", "/blackout", "/floor")):
                    view.look = text
                else:
                    view.flash_at = item.arrival
            elif item.transport == "midi":
                kind = text.split(" ", 1)[0]
                if kind in ("start", "continue"):
                    view.running = True
                elif kind == "stop":
                    view.running = False
                elif kind == "program_change":
                    view.look = text.replace(" time=0", "")
                elif kind == "control_change":
                    fields = dict(part.split("=") for part in text.split()[1:] if "=" in part)
                    view.values[f"cc{fields.get('control')}"] = fields.get("value", "?")
                elif kind == "note_on":
                    view.flash_at = item.arrival

    def render(self) -> Columns:
        tiles = []
        now = time.monotonic()
        with self._lock:
            for view in self.views.values():
                lines = Text()
                lines.append(f"{view.look}\n", style="bold")
                if view.transport == "midi":
                    bpm = view.clock_bpm
                    state = {None: "no clock", True: "running", False: "stopped"}[view.running]
                    lines.append(f"clock: {state}" + (f", {bpm:.1f} BPM" if bpm else "") + "\n")
                if view.transport == "dmx":
                    lines.append(self._fixtures(view))
                for key, value in list(view.values.items())[-4:]:
                    lines.append(f"{key} {value}\n", style="dim")
                for text in view.last:
                    lines.append(f"› {text[:48]}\n", style="dim")
                flash = now - view.flash_at < 0.12
                tiles.append(Panel(lines, title=f"{view.name} ({view.transport}) · {view.count}",
                                   border_style="bold white" if flash else "cyan", width=58))
        return Columns(tiles)

    def _fixtures(self, view: OutputView) -> Text:
        config = self.rig.outputs[view.name]
        text = Text()
        if not isinstance(config, DmxOutputConfig):
            return text
        for fixture in build_patch(self.rig).on(config.universes):
            frame = self.frames.get((view.name, fixture.universe), bytes(512))
            levels = {kind: frame[fixture.address - 1 + i] for i, kind in enumerate(fixture.type.channels)}
            rgb = tuple(levels.get(c, 0) for c in ("red", "green", "blue"))
            dimmer = levels.get("dimmer", max(rgb))
            swatch = f"rgb({rgb[0]},{rgb[1]},{rgb[2]})" if any(rgb) else "grey30"
            text.append("■ ", style=swatch)
            text.append(f"{fixture.name} {dimmer * 100 // 255}%\n")
        return text

    def __rich__(self) -> Group:
        return Group(Text(f"{self.rig.name} — simulated rig (Ctrl-C to stop)", style="bold"), self.render())
