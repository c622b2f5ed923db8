"""The studio behind the class screen: which class is picked, whether it is ready, and the class running.

Thread-safe and free of HTTP: the app calls `select`, `set_options`, `start`, `press`, `recheck_rig` and
`shutdown` from its event loop and reads `view()`; long work (analysis, the rig check, the preview, the
class itself) runs on threads, and every change calls `on_change` so the app pushes the new view.

A class runs through `showctl.show.open_class`, the same path as `showctl run`, and every button
goes through `Controller.press`, the same path as the keyboard and the OSC remote. A live class (the music
from elsewhere, the beat from a live source) runs through `showctl.live_class.open_live_class`, the same
path as `showctl run --live`, and its buttons go through `LiveController.press`.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from pathlib import Path

from showctl.analysis import analyze_paths
from showctl.cues.check import check_against_rig
from showctl.cues.load import LoadedCueSheet, is_cue_style, load_cue_sheet
from showctl.errors import AnalysisError, DeviceError, ProblemsError, ShowctlError, problems_in
from showctl.live_class import SOURCES, LiveClass, SourceCheck, SourceInputs, check_sources, open_live_class
from showctl.outputs import open_output
from showctl.outputs.resilient import Checkable
from showctl.player.controls import CONTROLS, ControlName
from showctl.player.live_controls import LIVE_CONTROLS, live_beat_view
from showctl.player.live_plan import LivePlan, live_plan
from showctl.rig import Rig, load_rig
from showctl.rig.model import device_label
from showctl.show import (
    ClassReport,
    ClassRun,
    Rehearsal,
    Show,
    grid_checks,
    load_show,
    open_class,
    overrides_for,
    rig_path_for,
)
from showctl.sim import Received, simulated_rig
from showctl.timeline import Event, PlanEdit
from showctl.timeline.model import BeatPosition, beat_position
from showctl.units import format_clock
from showctl.web.model import (
    CheckItem,
    ClassChoice,
    LiveView,
    OutputHealthView,
    PendingView,
    Phase,
    RunOptions,
    RunSummary,
    StudioView,
    TrackView,
)

__all__ = ["MAX_SPEED", "Refused", "Studio", "live_view"]

log = logging.getLogger("showctl.web")

MAX_SPEED = 100.0
_PROBE_WAIT = 0.05  # s for an ICMP "port unreachable" to come back after the probe


def _failed(name: str, err: Exception) -> RunSummary:
    """How a class that raised ended: a user-facing problem (could not start) or a bug (logged in full)."""
    if isinstance(err, ShowctlError):
        return RunSummary(name, f"the class could not start: {err}", False, 0)
    log.exception("the class %s stopped on an error", name)
    return RunSummary(name, f"the class stopped on an error: {err!r}", False, 0)


class Refused(ShowctlError):
    """A request the studio cannot take now (a second Start, Start before ready, a button with no class)."""


def _shown_path(path: Path, workdir: Path) -> str:
    """How `showctl check` would be given the file: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(workdir.resolve()))
    except ValueError:
        return str(path)


def probe_output(name: str, rig: Rig) -> OutputHealthView:
    """Is the rig's output `name` there? Opens it and, for UDP receivers, sends the first message of its safe
    scene (house lights, harmless before class) and looks for an ICMP "port unreachable" coming back."""
    config = rig.outputs[name]
    device = device_label(name, config)
    try:
        output = open_output(name, rig)
    except DeviceError as err:
        return OutputHealthView(name, config.transport, device, False, err.reason)
    try:
        safe = rig.safe_scene.get(name, ())
        if config.transport != "midi" and safe:
            output.send(safe[0])  # one message: the answer to it is what `check` reads
            time.sleep(_PROBE_WAIT)  # waiting for the network's answer, not scheduling anything
        if isinstance(output, Checkable):
            output.check()
    except DeviceError as err:
        return OutputHealthView(name, config.transport, device, False, err.reason)
    finally:
        output.close()
    how = "port open" if config.transport == "midi" else "safe scene sent, no error came back"
    return OutputHealthView(name, config.transport, device, True, how)


def live_view(run: ClassRun, speed: float) -> LiveView:
    """The running class at this moment, for the big screen."""
    controller, player = run.controller, run.player
    timeline = player.timeline
    now = player.clock.now()
    row = controller.row_at(now)
    upcoming = next((r for r in timeline.plan if r.start > now + 1e-6), None)
    rounds = max((r.round or 0 for r in timeline.plan if row is not None and r.name == row.name), default=0)
    at = beat_position(timeline.tracks, now) or BeatPosition(0.0, 4, 0, 0)
    pending = tuple(PendingView(p.name, p.label, p.lands_at, max(0.0, p.lands_at - now))
                    for p in controller.pending_now())
    health = tuple(OutputHealthView(name, run.show.rig.transport_of(name),
                                    device_label(name, run.show.rig.outputs[name]), h.last_error is None,
                                    h.last_error or f"{h.sent} sent")
                   for name, h in player.health.items())
    return LiveView(
        name=run.show.loaded.sheet.name, now=now, duration=timeline.duration, speed=speed,
        segment=row.name if row else None, kind=row.kind if row else None, round=row.round if row else None,
        rounds=rounds or None, phase=row.phase if row else None, left=max(0.0, row.end - now) if row else 0.0,
        backwards=row is not None and row.kind in controller.backwards_kinds, tempo=at.tempo,
        beats_per_bar=at.beats_per_bar, beat=at.beat, bar=at.bar, scene=row.scene if row else None,
        effects=row.effects if row else (),
        next_name=(upcoming.name + (f" — {upcoming.phase}" if upcoming.phase else "")) if upcoming else None,
        next_in=upcoming.start - now if upcoming else None, pending=pending, paused=player.paused,
        held=controller.held, overlay=player.overlay.name if player.overlay is not None else None,
        outputs=health, sent=player.sent)


def _source_key(options: RunOptions) -> tuple[str, str | None, str | None]:
    """What a source check depends on."""
    return options.source, options.midi_in, options.audio_in


class Studio:
    """One studio laptop: the class picker, readiness, and at most one class running at a time."""

    def __init__(self, cues_dir: Path, *, on_change: Callable[[], None] | None = None,
                 control_port: int | None = None, workdir: Path | None = None) -> None:
        self.cues_dir = cues_dir
        self.workdir = workdir or Path.cwd()
        self.control_port = control_port  # the OSC remote beside the page (None: none)
        self.on_change = on_change or (lambda: None)
        self._lock = threading.RLock()
        self._version = 0
        self._generation = 0  # bumped by each select: results of an older preparation are dropped
        self._phase: Phase = "idle"
        self._selected: str | None = None
        self._class_name: str | None = None
        self._problems: tuple[str, ...] = ()
        self._tracks: list[TrackView] = []
        self._outputs: tuple[OutputHealthView, ...] = ()
        self._show: Show | None = None
        self._preview: bytes | None = None
        self._preview_version = 0
        self._options = RunOptions()
        self._classes: tuple[ClassChoice, ...] = ()
        self._notices: deque[str] = deque(maxlen=6)
        self._run: ClassRun | None = None
        self._live: LiveClass | None = None  # a live class running
        self._live_plan: LivePlan | None = None  # the picked class, prepared to run live
        self._sources: tuple[SourceCheck, ...] | None = None
        self._sources_for: tuple[str, str | None, str | None] | None = None  # the source check was made for
        self._run_options = RunOptions()
        self._run_thread: threading.Thread | None = None
        self._stopping = False
        self._last_run: RunSummary | None = None
        self.last_received: tuple[Received, ...] = ()  # what the simulated rig received in the last class
        self.last_sent: tuple[Event, ...] = ()  # what the player sent it, in order (rehearsals only)
        self.last_edits: tuple[PlanEdit, ...] = ()  # the instructor's plan edits in the last class
        self.last_taps: tuple[float, ...] = ()  # when the last live class's taps were made (time.monotonic)
        self.report = ClassReport(note=self._note, warn=self._note, error=self._note)

    # -- notifications --------------------------------------------------------------------------------
    def _changed(self) -> None:
        with self._lock:
            self._version += 1
        self.on_change()

    def _note(self, text: str) -> None:
        log.info("%s", text)
        with self._lock:
            self._notices.append(text)
        self._changed()

    # -- picking a class --------------------------------------------------------------------------------
    def refresh_classes(self) -> tuple[ClassChoice, ...]:
        """Look at the cues folder again (a page connected, a class was picked)."""
        files = sorted(p for p in self.cues_dir.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))
        classes = tuple(ClassChoice(_shown_path(p, self.workdir), p.name) for p in files if not is_cue_style(p))
        with self._lock:
            changed, self._classes = classes != self._classes, classes
        if changed:
            self._changed()
        return classes

    def select(self, cue: str) -> None:
        """Pick a class: its problems, analysis, rig check and preview follow on a thread."""
        if cue not in {c.path for c in self.refresh_classes()}:
            raise Refused(f"no class '{cue}' in {self.cues_dir}")
        with self._lock:
            if self._run_thread is not None:
                raise Refused("a class is running: end it before picking another")
            self._generation += 1
            generation = self._generation
            self._phase, self._selected, self._class_name = "preparing", cue, None
            self._problems, self._tracks, self._outputs, self._show = (), [], (), None
            self._preview, self._live_plan = None, None
        self._changed()
        threading.Thread(target=self._prepare, args=(generation, cue), name="web-prepare", daemon=True).start()

    def _current(self, generation: int) -> bool:
        return generation == self._generation

    def _fail(self, generation: int, problems: list[str]) -> None:
        with self._lock:
            if self._current(generation):
                self._problems, self._phase = tuple(problems), "not-ready"
        self._changed()

    def _prepare(self, generation: int, cue: str) -> None:
        try:
            self._prepare_steps(generation, cue)
        except Exception as err:  # a bug: shown on the page rather than lost on a thread
            log.exception("preparing %s failed", cue)
            self._fail(generation, [f"{cue}: internal error while preparing the class: {err!r}"])

    def _prepare_steps(self, generation: int, cue: str) -> None:
        try:
            loaded = load_cue_sheet(cue)
        except ShowctlError as err:
            self._fail(generation, [str(p) for p in problems_in(cue, err)])
            return
        if self._options.live:
            self._prepare_live(generation, cue, loaded)
            return
        paths = [str(p) for p in loaded.track_paths]
        with self._lock:
            if not self._current(generation):
                return
            self._class_name = loaded.sheet.name
            self._tracks = [TrackView(p, Path(p).name, "analysing") for p in paths]
        self._changed()

        def progress(path: str, done: int, total: int, cached: bool) -> None:
            self._set_track(generation, path, "cached" if cached else "analysed")

        def failed(err: AnalysisError) -> None:
            self._set_track(generation, err.path, "failed", error=err.reason)

        analyze_paths(paths, on_progress=progress, on_error=failed, overrides=overrides_for(loaded), workers=1)
        try:
            show = load_show(cue, None)  # the analyses come from the cache now: the same checks as `run`
        except ShowctlError as err:
            self._fail(generation, [str(p) for p in problems_in(cue, err)])
            return
        states = {t.path: t.state for t in self._tracks}
        tracks = [TrackView(a.path, Path(a.path).name, states.get(a.path, "analysed"), a.tempo, a.confidence,
                            bool(checks), tuple(checks), tuple(a.overrides))
                  for a in show.analyses for checks in [grid_checks(a)]]
        with self._lock:
            if not self._current(generation):
                return
            self._show, self._tracks = show, tracks
        self._changed()
        if self._options.sim:
            self._simulated_outputs(generation, show.rig)  # a rehearsal does not touch the studio's rig
        else:
            self._check_rig(generation, show.rig)
        self._draw_preview(generation, show)

    def _prepare_live(self, generation: int, cue: str, loaded: LoadedCueSheet) -> None:
        """A class whose music plays elsewhere: no analysis, no preview; the plan as `run --live` makes it."""
        with self._lock:
            if not self._current(generation):
                return
            self._class_name = loaded.sheet.name
        try:
            rig = load_rig(rig_path_for(loaded, None))
            problems = check_against_rig(loaded, rig)
            if problems:
                raise ProblemsError(problems)
            plan = live_plan(loaded, rig)
        except ShowctlError as err:
            self._fail(generation, [str(p) for p in problems_in(cue, err)])
            return
        with self._lock:
            if not self._current(generation):
                return
            self._live_plan = plan
        self._changed()
        if self._options.sim:
            self._simulated_outputs(generation, rig)
        else:
            self._check_rig(generation, rig)

    def _rig(self) -> Rig | None:
        if self._options.live:
            return self._live_plan.rig if self._live_plan is not None else None
        return self._show.rig if self._show is not None else None

    def check_sources(self) -> None:
        """Try the live sources the class would use (open and close each), on a thread."""
        with self._lock:
            options = self._options
            if not options.live or self.running:
                return
            self._sources, self._sources_for = None, _source_key(options)
        self._changed()

        def check() -> None:
            found = check_sources(options.source, SourceInputs(options.midi_in, options.audio_in))
            with self._lock:
                if self._sources_for != _source_key(options):
                    return  # the options changed meanwhile: that check follows
                self._sources = found
                if self._phase in ("ready", "not-ready"):
                    self._phase = "ready" if self._ready()[0] else "not-ready"
            self._changed()

        threading.Thread(target=check, name="web-source-check", daemon=True).start()

    def _simulated_outputs(self, generation: int, rig: Rig) -> None:
        stand_in = "simulated rig stands in (rehearsal); not checked"
        self._set_outputs(generation, tuple(OutputHealthView(name, config.transport, device_label(name, config), None,
                                                             stand_in) for name, config in rig.outputs.items()))

    def _set_outputs(self, generation: int, outputs: tuple[OutputHealthView, ...]) -> None:
        with self._lock:
            if not self._current(generation):
                return
            self._outputs = outputs
            self._phase = "ready" if self._ready()[0] else "not-ready"
        self._changed()

    def _set_track(self, generation: int, path: str, state: str, error: str | None = None) -> None:
        with self._lock:
            if not self._current(generation):
                return
            self._tracks = [TrackView(t.path, t.name, state, error=error) if t.path == path else t  # type: ignore[arg-type]
                            for t in self._tracks]
        self._changed()

    def _check_rig(self, generation: int, rig: Rig) -> None:
        self._set_outputs(generation, tuple(probe_output(name, rig) for name in rig.outputs))

    def recheck_rig(self) -> None:
        """Check the rig's outputs again (a tech plugged the console in)."""
        with self._lock:
            rig, generation = self._rig(), self._generation
            if rig is None or self._run_thread is not None:
                return
        threading.Thread(target=self._check_rig, args=(generation, rig), name="web-rig-check",
                         daemon=True).start()

    def _draw_preview(self, generation: int, show: Show) -> None:
        from showctl.timeline.preview import PreviewStyle, draw_preview  # matplotlib: only when drawing

        sheet = show.loaded.sheet
        style = PreviewStyle(title=sheet.name, backwards_kinds=sheet.backwards_kinds, floor_light=show.rig.floor_light,
                             scene_floor={name: scene.floor for name, scene in sheet.scenes.items()},
                             phrase_bars=sheet.phrase_bars, width=12.0, height=6.0, dpi=80)
        buffer = io.BytesIO()
        draw_preview(show.timeline, style).savefig(buffer, format="png", dpi=80)
        with self._lock:
            if not self._current(generation):
                return
            self._preview = buffer.getvalue()
            self._preview_version += 1
        self._changed()

    def preview_png(self) -> bytes | None:
        with self._lock:
            return self._preview

    # -- readiness --------------------------------------------------------------------------------------
    def _checklist(self) -> tuple[CheckItem, ...]:
        if self._options.live:
            return self._live_checklist()
        show, options = self._show, self._options
        tl = show.timeline if show is not None else None
        items = [self._class_file_item(f"{len(tl.plan)} parts, {format_clock(tl.duration)}" if tl else None)]
        done = sum(1 for t in self._tracks if t.state in ("cached", "analysed"))
        low = [t.name for t in self._tracks if t.low_confidence]
        tracks_ok = bool(self._tracks) and done == len(self._tracks) and show is not None
        detail = f"{done}/{len(self._tracks)} analysed" + (f"; check the grid of {', '.join(low)}" if low else "")
        items.append(CheckItem("tracks analysed", tracks_ok, detail))
        items.append(self._rig_item(show is not None))
        music = (" (music from this laptop)" if options.music else " (music from elsewhere)") if options.speed == 1 \
            else f" at {options.speed:g}× speed, no music"
        items.append(CheckItem("tempo source", tracks_ok, "the playlist's analysed beat grid" + music))
        return tuple(items)

    def _class_file_item(self, detail: str | None) -> CheckItem:
        """The checklist's first line: problems to fix, still checking (`detail` None), or what the class is."""
        if self._problems:
            return CheckItem("class file", False, f"{len(self._problems)} problem(s) to fix")
        if detail is None:
            return CheckItem("class file", False, "checking…" if self._selected else "pick a class")
        return CheckItem("class file", True, detail)

    def _rig_item(self, class_loaded: bool) -> CheckItem:
        """The checklist's rig line: the simulated rig, or each output reachable (or which is not, and why)."""
        if self._options.sim:
            return CheckItem("rig", class_loaded, "simulated rig (rehearsal): nothing goes to the studio")
        down = [f"{o.name}: {o.reason}" for o in self._outputs if o.reachable is False]
        checked = bool(self._outputs) and all(o.reachable is not None for o in self._outputs)
        return CheckItem("rig", checked and not down,
                         "; ".join(down) if down else "every output reachable" if checked else "checking…")

    def _live_checklist(self) -> tuple[CheckItem, ...]:
        """Live mode: no tracks to analyse; the plan, the rig and the beat source."""
        plan, options = self._live_plan, self._options
        detail: str | None = None
        if plan is not None:
            cap = f", cap {format_clock(plan.cap)}" if plan.cap is not None else ", until you end it"
            detail = f"{len(plan.parts)} part{'s' if len(plan.parts) != 1 else ''}, live{cap}"
        items = [self._class_file_item(detail), self._rig_item(plan is not None)]
        sources = self._sources if self._sources_for == _source_key(options) else None
        if sources is None:
            items.append(CheckItem("tempo source", False, f"live ({options.source}): checking the sources…"))
        else:
            opened = [c.name for c in sources if c.ok]
            shut = [f"{c.name}: {c.detail}" for c in sources if not c.ok]
            detail = f"live ({options.source}): " + (", ".join(opened) or "nothing opens") + \
                (f" — not {'; '.join(shut)}" if shut and opened else f" — {'; '.join(shut)}" if shut else "")
            items.append(CheckItem("tempo source", bool(opened), detail))
        return tuple(items)

    def _ready(self) -> tuple[bool, tuple[CheckItem, ...]]:
        items = self._checklist()
        return all(i.ok for i in items), items

    def set_options(self, options: RunOptions) -> None:
        if not 0 < options.speed <= MAX_SPEED:
            raise Refused(f"speed must be more than 0 and at most {MAX_SPEED:g}")
        if options.source not in SOURCES:
            raise Refused(f"unknown beat source '{options.source}' (choose from {', '.join(SOURCES)})")
        with self._lock:
            old = self._options
            remode = old.live != options.live and self._selected is not None and self._run_thread is None
            recheck = old.sim and not options.sim and self._rig() is not None and not remode
            self._options = options
            if self._phase in ("ready", "not-ready"):
                self._phase = "ready" if self._ready()[0] else "not-ready"
            selected = self._selected
        self._changed()
        if remode and selected is not None:
            self.select(selected)  # live and not live prepare differently (analysis, preview)
        elif recheck:
            self.recheck_rig()  # the real rig was not checked while rehearsing
        if options.live and self._sources_for != _source_key(options):
            self.check_sources()

    # -- the class -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the picked class with the current options, on a thread; refused with a reason otherwise."""
        with self._lock:
            run, thread = self._run, self._run_thread
            if thread is not None:
                where = f", {format_clock(run.player.clock.now())} in" if run is not None else ""
                name = self._class_name if run is None else run.show.loaded.sheet.name
                raise Refused(f"a class is already running ('{name}'{where}): end it before starting another")
            ready, items = self._ready()
            if not ready or (self._live_plan if self._options.live else self._show) is None:
                missing = "; ".join(f"{i.label}: {i.detail}" for i in items if not i.ok)
                raise Refused(f"not ready to start: {missing}")
            if self._stopping:
                raise Refused("the server is stopping")
            show, options, plan = self._show, self._options, self._live_plan
            self._phase, self._run_options = "running", options
            if options.live:
                assert plan is not None
                self._run_thread = threading.Thread(target=self._run_live_class, args=(plan, options),
                                                    name="web-live-class", daemon=True)
            else:
                self._run_thread = threading.Thread(target=self._run_class, args=(show, options), name="web-class",
                                                    daemon=True)
            self._run_thread.start()
        self._changed()

    @staticmethod
    def _rehearsal(options: RunOptions, arrived: list[Received]) -> Rehearsal | None:
        """A rehearsal on the simulated rig when the page asks for one, keeping what it receives."""
        return Rehearsal(partial(simulated_rig, on_receive=arrived.append)) if options.sim else None

    def _run_class(self, show: Show, options: RunOptions) -> None:
        summary: RunSummary | None = None
        try:
            arrived: list[Received] = []
            with open_class(show, speed=options.speed, rehearsal=self._rehearsal(options, arrived),
                            no_audio=not options.music, report=self.report, control_port=self.control_port) as run:
                with self._lock:
                    self._run = run
                    if self._stopping:
                        run.player.stop()
                self._changed()
                sent: list[Event] = []
                if run.sim_rig is not None:  # a rehearsal: what was sent is kept beside what arrived
                    run.player.on_event = sent.append
                result = run.play()  # waits for the simulated rig to take in the last messages
                with self._lock:
                    self.last_received = tuple(arrived)
                    self.last_sent = tuple(sent)
                    self.last_edits = run.controller.edits
            summary = RunSummary(show.loaded.sheet.name, result.summary(), result.completed, result.sent)
        except Exception as err:
            summary = _failed(show.loaded.sheet.name, err)
        finally:
            self._end_run(summary)

    def _run_live_class(self, plan: LivePlan, options: RunOptions) -> None:
        summary: RunSummary | None = None
        try:
            sent: list[Event] = []
            arrived: list[Received] = []
            with open_live_class(plan, source=options.source, inputs=SourceInputs(options.midi_in, options.audio_in),
                                 rehearsal=self._rehearsal(options, arrived), report=self.report,
                                 on_notice=self._note, on_missing=self._note,
                                 on_event=sent.append if options.sim else None,
                                 control_port=self.control_port) as live:
                with self._lock:
                    self._live = live
                    if self._stopping:
                        live.player.stop()
                self._changed()
                result = live.play()  # waits for the simulated rig to take in the last messages
                with self._lock:
                    self.last_received = tuple(arrived)
                    self.last_sent = tuple(sent)
                    self.last_edits = ()
                    self.last_taps = tuple(live.controller.taps)
            summary = RunSummary(plan.sheet_name, result.summary(), result.completed, result.sent)
        except Exception as err:
            summary = _failed(plan.sheet_name, err)
        finally:
            self._end_run(summary)

    def _end_run(self, summary: RunSummary | None) -> None:
        """After a class (timeline or live), however it ended: the studio is free again and says how it went."""
        with self._lock:
            self._run, self._live, self._run_thread = None, None, None
            self._last_run = summary
            self._phase = "stopping" if self._stopping else "ready" if self._ready()[0] else "not-ready"
        if summary is not None:
            self._note(summary.text)
        self._changed()

    def press(self, name: str, at: float | None = None) -> str:
        """An instructor's button: through the same controls as the keyboard and the OSC remote. `at`: when a
        live tap was made (time.monotonic, as the page measured it), else it counts when it arrives."""
        with self._lock:
            live = self._live
        if live is not None:
            if name not in LIVE_CONTROLS:
                raise Refused(f"'{name}' is not a live control (live: {', '.join(LIVE_CONTROLS)})")
            text = live.controller.press(name, at)
            self._changed()
            return text
        if name not in CONTROLS:
            raise Refused(f"no control '{name}' (controls: {', '.join(CONTROLS)})")
        with self._lock:
            run = self._run
        if run is None:
            raise Refused("no class is running")
        control: ControlName = name
        text = run.controller.press(control)
        self._changed()
        return text

    @property
    def running(self) -> bool:
        with self._lock:
            return self._run is not None or self._live is not None

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the running class (safe scene sent) and wait for it: the server is going away."""
        with self._lock:
            self._stopping = True
            run, live, thread = self._run, self._live, self._run_thread
        if run is not None:
            run.player.stop()
        if live is not None:
            live.player.stop()
        if thread is not None:
            thread.join(timeout)

    # -- the view --------------------------------------------------------------------------------------
    def view(self) -> StudioView:
        # A live class's view takes its controller's lock: never under the studio's (a press holding the
        # controller's may say something, which takes the studio's).
        live_class = self._live
        live_source = live_beat_view(live_class.plan.sheet_name, live_class.player, live_class.steered,
                                     live_class.controller) if live_class is not None else None
        with self._lock:
            ready, items = self._ready()
            run = self._run
            live = live_view(run, self._run_options.speed) if run is not None else None
            options = self._options
            tempo_source = "analysed playlist (beat grid per track)" if not options.live else \
                f"live: {options.source}" + (f" (MIDI in {options.midi_in})" if options.midi_in else "") + \
                (f" (audio in {options.audio_in})" if options.audio_in else "")
            notices = [*self._notices, *(run.controller.notices if run is not None else ())]
            return StudioView(
                phase=self._phase, classes=self._classes, selected=self._selected, class_name=self._class_name,
                problems=self._problems, tracks=tuple(self._tracks),
                analysed=sum(1 for t in self._tracks if t.state in ("cached", "analysed")),
                outputs=self._outputs,
                tempo_source=tempo_source,
                preview=self._preview_version if self._preview is not None else None,
                checklist=items, ready=ready and run is None and self._run_thread is None, options=self._options,
                live=live, live_source=live_source, live_controls=LIVE_CONTROLS if live_class is not None else (),
                sources=self._sources if self._sources_for == _source_key(options) else None, last_run=self._last_run,
                notices=tuple(notices[-6:]), version=self._version)
