"""QLC+ workspaces bound to the OSC paths showctl sends (`showctl export-qlc`).

QLC+ maps each incoming OSC path to an input channel by Qt's `qChecksum` of the path (CRC-16/X-25).
Techs otherwise learn those channels one widget at a time; here every path a cue file sends to a
`profile: qlcplus` output becomes a Virtual Console widget already bound to it:

- a path whose values are all ints, sent by scenes (`/showctl/scene/warm 1`) → a Toggle button on a
  QLC+ Scene function of the same name, in a solo frame (starting one scene stops the others);
- a path with float values, or sent by an effect (`/showctl/dimmer 0.5`, `/showctl/pulse 1.0`) → a Level
  slider (0..255).

The studio then patches its fixtures into those scenes and sliders once. Pure: builds text, no I/O.
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from showctl.errors import ShowctlError
from showctl.messages import OscMessage, OutMessage
from showctl.rig.model import OscOutputConfig, Rig

__all__ = ["QlcControl", "QlcSource", "qlc_checksum", "qlc_controls", "workspace_xml"]

NAMESPACE = "http://www.qlcplus.org/Workspace"


def qlc_checksum(path: str) -> int:
    """QLC+'s input channel for an OSC path: Qt5 qChecksum = CRC-16/X-25 over the path's ASCII bytes."""
    crc = 0xFFFF
    for byte in path.encode("ascii"):
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


@dataclass(frozen=True)
class QlcSource:
    """Something in a cue or rig file that sends messages: a scene, an effect or the safe scene."""

    kind: Literal["scene", "effect", "safe"]
    name: str
    messages: tuple[OutMessage, ...]


@dataclass(frozen=True)
class QlcControl:
    kind: Literal["button", "slider"]
    path: str
    caption: str
    channel: int  # QLC+ input channel (qlc_checksum of the path)
    used_by: tuple[str, ...]  # "scene 'warm'", "effect 'pulse'", "safe scene"


def _label(source: QlcSource) -> str:
    return "safe scene" if source.kind == "safe" else f"{source.kind} '{source.name}'"


def qlc_controls(sources: Iterable[QlcSource]) -> list[QlcControl]:
    """One control per OSC path, in the order paths first appear; raises ShowctlError on a checksum clash."""
    users: dict[str, list[QlcSource]] = {}
    floats: set[str] = set()
    for source in sources:
        for message in source.messages:
            if not isinstance(message, OscMessage):
                continue
            if source not in users.setdefault(message.address, []):
                users[message.address].append(source)
            if any(isinstance(a, float) for a in message.args):
                floats.add(message.address)
    controls: list[QlcControl] = []
    seen: dict[int, str] = {}
    for path, sources_ in users.items():
        channel = qlc_checksum(path)
        if channel in seen:
            raise ShowctlError(f"QLC+ cannot tell OSC paths '{seen[channel]}' and '{path}' apart (both are input "
                               f"channel {channel}); rename one")
        seen[channel] = path
        slider = path in floats or any(s.kind == "effect" for s in sources_)
        scenes = [s for s in sources_ if s.kind == "scene"]
        if slider:
            effects = [s.name for s in sources_ if s.kind == "effect"]
            caption = effects[0] if len(effects) == 1 else path.rsplit("/", 1)[-1]
        else:
            caption = scenes[0].name if len(scenes) == 1 else path.rsplit("/", 1)[-1]
        controls.append(QlcControl("slider" if slider else "button", path, caption, channel,
                                   tuple(_label(s) for s in sources_)))
    return controls


def _universe(config: OscOutputConfig) -> tuple[str, str]:
    """QLC+'s OSC input line (the address it listens on) and port."""
    try:
        host = str(ipaddress.ip_address(config.host))
    except ValueError:
        raise ShowctlError(f"QLC+ listens on an IP address: give the output's host as one, not '{config.host}'")\
            from None
    return host, str(config.port)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _appearance(widget: ET.Element, frame_style: str = "None") -> None:
    appearance = _sub(widget, "Appearance")
    _sub(appearance, "FrameStyle", frame_style)
    for tag in ("ForegroundColor", "BackgroundColor"):
        _sub(appearance, tag, "Default")
    _sub(appearance, "BackgroundImage", "None")
    _sub(appearance, "Font", "Default")


def _window(widget: ET.Element, x: int, y: int, width: int, height: int) -> None:
    _sub(widget, "WindowState", Visible="False", X=str(x), Y=str(y), Width=str(width), Height=str(height))


def _comment(control: QlcControl) -> ET.Element[Any]:
    return ET.Comment(f" OSC {control.path} -> input channel {control.channel}; sent by {', '.join(control.used_by)} ")


def workspace_xml(rig: Rig, output: str, controls: Sequence[QlcControl], *, author: str = "showctl") -> str:
    """A QLC+ 4.12 workspace (.qxw): OSC input on the output's host/port, a Scene per button, the widgets."""
    config = rig.outputs[output]
    assert isinstance(config, OscOutputConfig)
    host, port = _universe(config)
    root = ET.Element("Workspace", xmlns=NAMESPACE, CurrentWindow="VirtualConsole")
    creator = _sub(root, "Creator")
    _sub(creator, "Name", "Q Light Controller Plus")
    _sub(creator, "Version", "4.12.6")
    _sub(creator, "Author", author)
    engine = _sub(root, "Engine")
    io_map = _sub(engine, "InputOutputMap")
    universe = _sub(io_map, "Universe", Name="Universe 1", ID="0")
    osc_input = _sub(universe, "Input", Plugin="OSC", UID=host, Line="0")
    _sub(osc_input, "PluginParameters", inputPort=port)

    buttons = [c for c in controls if c.kind == "button"]
    sliders = [c for c in controls if c.kind == "slider"]
    function_ids: dict[str, int] = {}
    for control in buttons:
        function_ids[control.path] = len(function_ids)
        function = _sub(engine, "Function", ID=str(function_ids[control.path]), Type="Scene", Name=control.caption)
        _sub(function, "Speed", FadeIn="0", FadeOut="0", Duration="0")

    console = _sub(root, "VirtualConsole")
    top = _sub(console, "Frame", Caption="")
    _appearance(top)
    next_id = 0

    def widget_id() -> str:
        nonlocal next_id
        next_id += 1
        return str(next_id)

    solo = _sub(top, "SoloFrame", Caption=f"{rig.name}: scenes ({output})", ID=widget_id())
    _window(solo, 10, 10, max(200, 10 + 90 * len(buttons)), 120)
    _appearance(solo, "Sunken")
    _sub(solo, "AllowChildren", "True")
    _sub(solo, "AllowResize", "True")
    _sub(solo, "ShowHeader", "True")
    for i, control in enumerate(buttons):
        button = _sub(solo, "Button", Caption=control.caption, ID=widget_id(), Icon="")
        _window(button, 10 + 90 * i, 30, 80, 80)
        _appearance(button)
        _sub(button, "Function", ID=str(function_ids[control.path]))
        _sub(button, "Action", "Toggle")
        _sub(button, "Intensity", "100", Adjust="False")
        button.append(_comment(control))
        _sub(button, "Input", Universe="0", Channel=str(control.channel))
    for i, control in enumerate(sliders):
        slider = _sub(top, "Slider", Caption=control.caption, ID=widget_id(), WidgetStyle="Slider",
                      InvertedAppearance="false")
        _window(slider, 10 + 70 * i, 140, 60, 200)
        _appearance(slider, "Sunken")
        _sub(slider, "SliderMode", "Level", ValueDisplayStyle="Exact", ClickAndGoType="None", Monitor="false")
        _sub(slider, "Level", LowLimit="0", HighLimit="255", Value="0")
        slider.append(_comment(control))
        _sub(slider, "Input", Universe="0", Channel=str(control.channel))
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Workspace>\n{body}\n'
