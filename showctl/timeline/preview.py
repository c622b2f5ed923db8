"""One picture of a whole class, for the instructor: `showctl preview CUEFILE -o class.png`.

`draw_preview` is pure: a compiled Timeline (plus what the picture needs from the cue sheet and rig)
in, a matplotlib `Figure` out; nothing is shown or written here. Four rows share the class-time axis
(M:SS): the tempo of each track, hatched where its grid should be checked by ear; the class plan, one
coloured block per plan row (work and rest of every round, rest paler); the light left on the floor, with
the rig's floor_light minimum drawn over segments where people move backwards; and the cues: scene
changes, effect ticks per 10 s, phrase marks.

matplotlib is imported here only (Agg canvas, no pyplot state): importing showctl never loads it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MultipleLocator

from showctl.timeline.model import PlanRow, Timeline

__all__ = ["KIND_COLOURS", "PreviewStyle", "draw_preview"]

KIND_COLOURS: dict[str, str] = {
    "warmup": "#f2a541", "retro_run": "#d1495b", "reverse_lunge": "#8f2d56", "sled_pull": "#2e86ab",
    "recovery": "#7fb069", "cooldown": "#5c7aea",
}
_OTHER_COLOURS = ("#9b5de5", "#00a6a6", "#ef8354", "#6d597a", "#b5838d", "#3d5a80")
_BIN = 10.0  # s: effect ticks are counted per bin
_CHECK_COLOUR = "#c77d00"


@dataclass(frozen=True)
class PreviewStyle:
    """What the picture needs beyond the Timeline: from the cue sheet and the rig."""

    title: str = ""
    backwards_kinds: Collection[str] = ()
    floor_light: float | None = None  # the rig's minimum, 0..1
    scene_floor: Mapping[str, float] | None = None  # scene name → floor level it leaves, 0..1
    phrase_bars: int = 8
    width: float = 16.0  # inches
    height: float = 8.0
    dpi: int = 100


def _clock(x: float, _pos: object = None) -> str:
    minutes, seconds = divmod(round(abs(x)), 60)
    return f"{'-' if x < 0 else ''}{minutes}:{seconds:02d}"


def _colour(kind: str) -> str:
    if kind in KIND_COLOURS:
        return KIND_COLOURS[kind]
    return _OTHER_COLOURS[sum(map(ord, kind)) % len(_OTHER_COLOURS)]


def _phrase_marks(timeline: Timeline, phrase_bars: int) -> list[float]:
    """Class times where phrases start: the tracker's phrases, else every `phrase_bars`-th downbeat."""
    marks: list[float] = []
    for slot in timeline.tracks:
        analysis = slot.analysis
        starts = list(analysis.phrases) or list(analysis.downbeats)[::phrase_bars]
        marks += [t for t in (slot.start + s - slot.offset for s in starts) if slot.start <= t < slot.end]
    return sorted(t for t in marks if t <= timeline.duration)


def _segment_spans(plan: tuple[PlanRow, ...]) -> list[tuple[str, str, float, float]]:
    """(name, kind, start, end) per segment: consecutive rows of one segment (its rounds) merged."""
    spans: list[tuple[str, str, float, float]] = []
    for row in plan:
        first_phase = row.round is None or (row.round == 1 and row.phase == "work")
        if spans and not first_phase:
            name, kind, start, _ = spans[-1]
            spans[-1] = (name, kind, start, row.end)
        else:
            spans.append((row.name, row.kind, row.start, row.end))
    return spans


def draw_preview(timeline: Timeline, style: PreviewStyle | None = None) -> Figure:
    """The class as one Figure (Agg canvas attached, so `fig.savefig(path)` works without pyplot)."""
    style = style or PreviewStyle()
    fig = Figure(figsize=(style.width, style.height), dpi=style.dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(4, 1, height_ratios=(1.0, 2.2, 1.1, 1.3), hspace=0.08,
                            left=0.06, right=0.985, top=0.92, bottom=0.07)
    ax_tempo = fig.add_subplot(grid[0], label="tempo")
    ax_plan = fig.add_subplot(grid[1], sharex=ax_tempo, label="plan")
    ax_floor = fig.add_subplot(grid[2], sharex=ax_tempo, label="floor")
    ax_cues = fig.add_subplot(grid[3], sharex=ax_tempo, label="cues")
    end = timeline.duration
    fig.suptitle(f"{style.title}  ({_clock(end)})" if style.title else _clock(end), fontsize=14, x=0.06,
                 ha="left")

    _draw_tempo(ax_tempo, timeline)
    _draw_plan(ax_plan, timeline)
    _draw_floor(ax_floor, timeline, style)
    _draw_cues(ax_cues, timeline, style)

    major = 300.0 if end > 20 * 60 else 60.0
    ax_cues.xaxis.set_major_locator(MultipleLocator(major))
    ax_cues.xaxis.set_minor_locator(MultipleLocator(60.0 if major > 60 else 15.0))
    ax_cues.xaxis.set_major_formatter(FuncFormatter(_clock))
    ax_cues.set_xlim(0.0, max(end, 1.0))
    ax_cues.set_xlabel("class time (M:SS)")
    for ax in (ax_tempo, ax_plan, ax_floor):
        ax.tick_params(labelbottom=False)
    for ax in (ax_tempo, ax_plan, ax_floor, ax_cues):
        ax.grid(axis="x", which="major", color="#cccccc", linewidth=0.6)
    return fig


def _draw_tempo(ax: Axes, timeline: Timeline) -> None:
    tempos = [slot.analysis.tempo for slot in timeline.tracks]
    for slot, tempo in zip(timeline.tracks, tempos, strict=True):
        stop = min(slot.end, timeline.duration)
        if stop <= slot.start:
            continue
        ax.hlines(tempo, slot.start, stop, colors="#333333", linewidth=2.5)
        ax.axvline(slot.start, color="#999999", linewidth=0.8, linestyle=":")
        ax.text((slot.start + stop) / 2, tempo, f"{slot.name.rsplit('.', 1)[0]}\n{tempo:.0f} BPM",
                ha="center", va="bottom", fontsize=7, clip_on=True)
        for check in slot.analysis.grid_checks:  # a drum-less breakdown, a silence: cues there are a guess
            left, right = max(slot.start, slot.start + check.start - slot.offset), min(
                stop, slot.start + check.end - slot.offset)
            if right > left:
                span = ax.axvspan(left, right, facecolor="none", edgecolor=_CHECK_COLOUR, hatch="///", linewidth=0)
                span.set_gid("grid-check")
                what = "bar 1" if check.bar_shift is not None else "grid"  # bars in doubt, or the beats
                ax.text(left, 0.04, f" check {what} ({check.confidence:.2f}) ", fontsize=6.5, color=_CHECK_COLOUR,
                        va="bottom", clip_on=True, transform=ax.get_xaxis_transform(),
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0})
    low, high = (min(tempos), max(tempos)) if tempos else (100.0, 130.0)
    ax.set_ylim(low - 10, high + 22)
    ax.set_ylabel("tempo\n(BPM)")


def _draw_plan(ax: Axes, timeline: Timeline) -> None:
    kinds: dict[str, str] = {}
    for row in timeline.plan:
        colour = _colour(row.kind)
        kinds.setdefault(row.kind, colour)
        rest = row.phase == "rest"
        patch = Rectangle((row.start, 0.0 if not rest else 0.15), row.end - row.start, 1.0 if not rest else 0.55,
                          facecolor=colour, alpha=0.35 if rest else 0.9, edgecolor="white", linewidth=0.6)
        patch.set_gid("plan-row")
        ax.add_patch(patch)
        if row.round is not None and row.phase == "work" and row.end - row.start >= timeline.duration / 120:
            ax.text((row.start + row.end) / 2, 0.08, str(row.round), ha="center", va="bottom", fontsize=7,
                    color="white", clip_on=True)
    for name, _kind, start, stop in _segment_spans(timeline.plan):
        ax.text((start + stop) / 2, 1.06, name, ha="center", va="bottom", fontsize=7.5, clip_on=False,
                rotation=0 if stop - start > timeline.duration / 14 else 30)
    ax.set_ylim(0.0, 1.45)
    ax.set_yticks([])
    ax.set_ylabel("plan")
    handles = [Patch(facecolor=c, label=k.replace("_", " ")) for k, c in kinds.items()]
    handles.append(Patch(facecolor="#888888", alpha=0.35, label="rest phase"))
    # Above the plot, beside the title: inside it would cover segment names.
    ax.figure.legend(handles=handles, loc="upper right", bbox_to_anchor=(0.985, 0.99), fontsize=8,
                     ncol=len(handles), frameon=False)


def _draw_floor(ax: Axes, timeline: Timeline, style: PreviewStyle) -> None:
    floors = style.scene_floor or {}
    for row in timeline.plan:
        level = floors.get(row.scene, 1.0)
        ax.hlines(level * 100, row.start, row.end, colors=_colour(row.kind), linewidth=2.5)
        if row.kind in style.backwards_kinds and style.floor_light is not None:
            rule = Rectangle((row.start, 0.0), row.end - row.start, style.floor_light * 100, facecolor="none",
                             edgecolor="#444444", hatch="///", linewidth=0.0)
            rule.set_gid("floor-rule")
            ax.add_patch(rule)
    if style.floor_light is not None:
        ax.axhline(style.floor_light * 100, color="#444444", linestyle="--", linewidth=0.8)
        ax.text(0.0, style.floor_light * 100, f" floor_light {style.floor_light:.0%}: never darker while people "
                "move backwards (hatched)", fontsize=7, va="bottom", ha="left")
    ax.set_ylim(0, 110)
    ax.set_ylabel("floor\n(%)")


def _draw_cues(ax: Axes, timeline: Timeline, style: PreviewStyle) -> None:
    end = max(timeline.duration, _BIN)
    scene_times = sorted({e.t for e in timeline.events if e.kind == "scene"})
    ticks = sorted(e.t for e in timeline.events if e.kind == "effect")
    edges = [i * _BIN for i in range(int(end // _BIN) + 2)]
    counts = [bisect.bisect_left(ticks, b) - bisect.bisect_left(ticks, a) for a, b in itertools.pairwise(edges)]
    per_second = [c / _BIN for c in counts]
    ax.stairs(per_second, edges, fill=True, color="#bbbbbb", label="effect messages / s")
    top = max(per_second, default=1.0) or 1.0
    ax.vlines(scene_times, top * 1.05, top * 1.45, colors="#d1495b", linewidth=1.0, label="scene change")
    phrases = _phrase_marks(timeline, style.phrase_bars)
    ax.vlines(phrases, -top * 0.25, -top * 0.05, colors="#2e86ab", linewidth=0.6,
              label=f"phrase ({style.phrase_bars} bars)")
    ax.set_ylim(-top * 0.3, top * 1.5)
    ax.set_ylabel("cues")
    ax.legend(loc="upper right", fontsize=7, ncol=3, framealpha=0.8)
