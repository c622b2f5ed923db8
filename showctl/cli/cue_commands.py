"""`showctl preview`: the whole class as one picture (matplotlib, loaded only for this command)."""

from __future__ import annotations

import time
from pathlib import Path

from showctl.cli.commands import load_show_with_progress
from showctl.cli.terminal import err_console
from showctl.errors import DeviceError, ShowctlError

__all__ = ["preview"]

_FORMATS = (".png", ".svg", ".pdf")


def preview(cuefile: str, rig_file: str | None, out: Path, *, width: float = 16.0, height: float = 8.0,
            dpi: int = 100) -> int:
    """Compile the class and draw it into `out` (PNG, SVG or PDF by its suffix)."""
    if out.suffix.lower() not in _FORMATS:
        raise ShowctlError(f"{out}: the picture's name must end in .png, .svg or .pdf")
    show = load_show_with_progress(cuefile, rig_file)
    began = time.perf_counter()
    from showctl.timeline.preview import PreviewStyle, draw_preview  # matplotlib: only when drawing

    sheet = show.loaded.sheet
    style = PreviewStyle(title=sheet.name, backwards_kinds=sheet.backwards_kinds, floor_light=show.rig.floor_light,
                         scene_floor={name: scene.floor for name, scene in sheet.scenes.items()},
                         phrase_bars=sheet.phrase_bars, width=width, height=height, dpi=dpi)
    figure = draw_preview(show.timeline, style)
    try:
        figure.savefig(str(out), dpi=dpi)
    except OSError as err:
        raise DeviceError(str(out), f"cannot write the picture ({err.strerror or err})") from None
    err_console.print(f"drew {len(show.timeline.plan)} parts over the class in {time.perf_counter() - began:.2f} s "
                      f"→ {out}")
    return 0
