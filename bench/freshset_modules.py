"""The tracker-module songs of the fresh evaluation set (`make freshset`, called by `bench/freshset.py`).

Debian's game data packages ship the music of their games as tracker modules (.it, .xm, .s3m, .mod): songs
written row by row on a grid, each row lasting `speed` ticks of 2.5 / `tempo` seconds (the tempo and speed
may change anywhere in the song, by pattern effects). A module is its own exact beat grid. This script:

1. renders each module with libopenmpt (Debian's libopenmpt0, the library openmpt123 plays with, loaded with
   ctypes: no Python binding needed), mono at `realset.RATE`, song played once from its first order to its
   end (repeat count 0), scaled to a 0.9 peak, 16-bit, into DIRECTORY/NAME.wav;
2. logs, while it renders, the time each row starts (libopenmpt's current order, pattern and row after each
   `CHUNK` frames: a row starts within the chunk in which the player first reports it, so each time is
   within `CHUNK / RATE` = 0.7 ms; the midpoint of the chunk is used). Every tempo and speed effect, pattern
   break, jump, loop and delay is therefore as the player plays it, not as a reader of ours guesses it;
3. takes the beat grid from the rows (`module_grid`): a beat on every row whose number within its pattern is
   a multiple of the rows per beat, a bar line on every multiple of the rows per bar. The rows per beat and
   per bar are the module's own where the format stores them (an IT file's row highlight, set by its
   composer in the tracker) and otherwise the tracker convention, 4 rows a beat and 16 a bar (the tempo a
   tracker shows is the beat tempo at 4 rows a beat at speed 6). A module is left out, with one line saying
   why, when:
   - the beat level is not plain: the beats so found are not all the same number of rows apart (a pattern
     of odd length, or a break into the middle of a beat), or the beat tempo that lasts longest is outside
     `TEMPO_RANGE` (e.g. 4 rows at speed 2: 300 BPM, the composer's beat is some other number of rows);
   - it is shorter than `MIN_SECONDS`;
   - the render's onsets do not sit on the grid: `realset.grid_lag` on the first and the last third of the
     song is more than `MAX_LAG_S` off, or the onset strength on the grid is not at least `MIN_CONTRAST`
     times the strength half a beat away from it (so the grid is not the off-beat or a wrong level).
4. writes the truth (NAME.truth.json, the fields of realset's truths): beats and downbeats kept where the
   render sounds (`realset.audible_span`), tempo the beat tempo that lasts longest, beats_per_bar, and the
   set's marks: `FRESH` (held out and fresh: every fresh song is never tuned on) or, for the training set
   (`bench/trainset.py`), `TRAIN` (group "train": songs to tune on, none of them a fresh song: `avoid`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realset  # bench/ is not a package: the sibling module

FloatArray = realset.FloatArray
RATE = realset.RATE
CHUNK = 16  # frames rendered between two looks at the player's row (0.7 ms at 22050 Hz)
# The beat tempo (to the nearest BPM) a song's grid must have: the set's aim, 80-180 BPM; outside it the
# beat level is taken as not plain (a grid at 4 rows a beat at speed 3, 250 BPM, is the composer's eighth notes).
TEMPO_RANGE = (80.0, 180.0)
MIN_SECONDS = 60.0
MAX_LAG_S = 0.025
MIN_CONTRAST = 1.3
CONVENTION = (4, 16)  # rows a beat, rows a bar, where the module does not say
# The marks a song's truth carries: the fresh set's (never tuned on) and the training set's (tuned on).
FRESH: Mapping[str, object] = {"held_out": True, "fresh": True, "group": "modules"}
TRAIN: Mapping[str, object] = {"held_out": False, "group": "train"}


class Excluded(Exception):
    """A module whose grid cannot be taken as the truth: the reason, one line."""


@dataclass(frozen=True)
class Row:
    """One row as the player played it."""

    t: float  # when it starts, in seconds from the song's start
    order: int
    pattern: int
    row: int
    speed: int
    tempo: int


@dataclass(frozen=True)
class ModuleGrid:
    beats: FloatArray
    downbeats: FloatArray
    beats_per_bar: int
    tempo: float


def highlight(data: bytes) -> tuple[int, int] | None:
    """An IT file's row highlight (rows a beat, rows a bar) from its header (`PHiligt`, bytes 0x1E and 0x1F);
    None for any other format or when the file leaves it unset (0)."""
    if data[:4] != b"IMPM" or len(data) < 0x20:
        return None
    beat, bar = data[0x1E], data[0x1F]
    if beat == 0 or bar == 0 or bar % beat:
        return None
    return beat, bar


def rows_per_beat(data: bytes) -> tuple[int, int, str]:
    """(rows a beat, rows a bar, where that comes from) of a module file."""
    found = highlight(data)
    if found is not None:
        return found[0], found[1], "IT row highlight"
    return CONVENTION[0], CONVENTION[1], "tracker convention"


def module_grid(rows: Sequence[Row], beat_rows: int, bar_rows: int, until: float) -> ModuleGrid:
    """Beats and bar lines from the rows a song played: a beat on each row whose number in its pattern is a
    multiple of `beat_rows`, a bar line on each multiple of `bar_rows`. `Excluded` when the beats are not
    all `beat_rows` rows apart (then the rows do not make a steady beat) or the beat tempo is out of range.
    """
    if not rows:
        raise Excluded("no row played")
    times = np.array([r.t for r in rows] + [until])
    beat_at = [i for i, r in enumerate(rows) if r.row % beat_rows == 0]
    if not beat_at:
        raise Excluded("no row on a beat")
    gaps = np.diff(beat_at)
    if len(gaps) and np.any(gaps != beat_rows):
        bad = int(np.flatnonzero(gaps != beat_rows)[0])
        r = rows[beat_at[bad]]
        raise Excluded(f"beats {int(gaps[bad])} rows apart at order {r.order} (pattern {r.pattern} row {r.row}), "
                       f"not {beat_rows}: no steady beat")
    beats = times[beat_at]
    downbeats = np.array([rows[i].t for i in beat_at if rows[i].row % bar_rows == 0])
    # The beat tempo that lasts longest (0.1 BPM bins), from the rows' own durations.
    ends = np.array([times[i + beat_rows] if i + beat_rows < len(times) else np.nan for i in beat_at])
    periods = ends - beats
    ok = np.isfinite(periods) & (periods > 0)
    if not np.any(ok):
        raise Excluded("too short for one whole beat")
    bpm = np.round(60.0 / periods[ok], 1)
    spans: dict[float, float] = {}
    for b, p in zip(bpm, periods[ok], strict=True):
        spans[float(b)] = spans.get(float(b), 0.0) + float(p)
    # A tempo that the 0.7 ms row times split over neighbouring bins: the mean of the longest bin's
    # neighbours within 0.5 BPM, weighted by how long each lasts.
    main = max(spans, key=lambda k: spans[k])
    near = {k: v for k, v in spans.items() if abs(k - main) <= 0.5}
    tempo = sum(k * v for k, v in near.items()) / sum(near.values())
    if not TEMPO_RANGE[0] <= round(tempo) <= TEMPO_RANGE[1]:
        raise Excluded(f"the beat tempo that lasts longest, {tempo:.0f} BPM at {beat_rows} rows a beat, is outside "
                       f"{TEMPO_RANGE[0]:.0f}-{TEMPO_RANGE[1]:.0f} BPM: the beat level is not plain")
    return ModuleGrid(beats, downbeats, bar_rows // beat_rows, float(tempo))


def contrast(y: FloatArray, beats: FloatArray, sr: int = RATE) -> float:
    """The render's onset strength on `beats` over that half a beat later (the off-beats): over 1 when the
    grid sits where the notes start."""
    hop, n_fft = 64, 512
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, n_fft // 2), n_fft)[::hop]
    energy = 10 * np.log10(np.sum((frames * np.hanning(n_fft)) ** 2, axis=1) + 1e-10)
    flux = np.maximum(0.0, np.diff(energy, prepend=energy[0]))
    # The strongest flux within ±2 hops (±6 ms) of each time, so a row time 0.7 ms off still counts.
    peak = np.max(np.stack([np.roll(flux, k) for k in range(-2, 3)]), axis=0)
    rate = sr / hop
    if len(beats) < 2:
        return 0.0
    off = beats[:-1] + np.diff(beats) / 2

    def mean_at(t: FloatArray) -> float:
        i = np.round(t * rate).astype(np.int64)
        i = i[(i >= 0) & (i < len(peak))]
        return float(peak[i].mean()) if len(i) else 0.0

    on, between = mean_at(beats), mean_at(off)
    return on / between if between > 0 else float("inf")


class Libopenmpt:
    """The few calls of libopenmpt's C API (libopenmpt.so.0) that rendering with a row log needs."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("openmpt") or "libopenmpt.so.0"
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            raise Excluded("libopenmpt is not installed (apt-get install libopenmpt0)") from None
        lib.openmpt_module_create_from_memory2.restype = ctypes.c_void_p
        lib.openmpt_module_create_from_memory2.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_char_p), ctypes.c_void_p]
        lib.openmpt_module_destroy.argtypes = [ctypes.c_void_p]
        lib.openmpt_module_set_repeat_count.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        lib.openmpt_module_read_float_mono.restype = ctypes.c_size_t
        lib.openmpt_module_read_float_mono.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_size_t,
                                                       ctypes.POINTER(ctypes.c_float)]
        for getter in ("order", "pattern", "row", "speed", "tempo"):
            fn = getattr(lib, f"openmpt_module_get_current_{getter}")
            fn.restype = ctypes.c_int32
            fn.argtypes = [ctypes.c_void_p]
        lib.openmpt_module_get_duration_seconds.restype = ctypes.c_double
        lib.openmpt_module_get_duration_seconds.argtypes = [ctypes.c_void_p]
        lib.openmpt_module_get_metadata.restype = ctypes.c_void_p
        lib.openmpt_module_get_metadata.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.openmpt_free_string.argtypes = [ctypes.c_void_p]
        lib.openmpt_get_library_version.restype = ctypes.c_uint32
        self.lib = lib

    @property
    def version(self) -> str:
        v = int(self.lib.openmpt_get_library_version())
        return f"{v >> 24}.{(v >> 16) & 0xFF}.{v & 0xFFFF}"

    def identity(self, data: bytes) -> str:
        """What tells one song from another without rendering it: its title and length (to 0.1 s, as
        libopenmpt computes it), or the file's SHA-256 when it has no title."""
        lib = self.lib
        error = ctypes.c_int(0)
        buffer = ctypes.create_string_buffer(data, len(data))
        mod = lib.openmpt_module_create_from_memory2(buffer, len(data), None, None, None, None,
                                                     ctypes.byref(error), None, None)
        if not mod:
            return "sha256 " + hashlib.sha256(data).hexdigest()
        try:
            p = lib.openmpt_module_get_metadata(mod, b"title")
            title = ""
            if p:
                title = ctypes.string_at(p).decode("utf-8", "replace").strip()
                lib.openmpt_free_string(p)
            tenths = round(float(lib.openmpt_module_get_duration_seconds(mod)) * 10)
        finally:
            lib.openmpt_module_destroy(mod)
        if not title:
            return "sha256 " + hashlib.sha256(data).hexdigest()
        return f"title {title.lower()!r}, {tenths / 10:.1f} s"

    def render(self, data: bytes) -> tuple[FloatArray, list[Row], dict[str, str]]:
        """The song played once, mono at `RATE`; the rows it played; its metadata (type, title, tracker)."""
        lib = self.lib
        error = ctypes.c_int(0)
        message = ctypes.c_char_p()
        buffer = ctypes.create_string_buffer(data, len(data))
        mod = lib.openmpt_module_create_from_memory2(buffer, len(data), None, None, None, None,
                                                     ctypes.byref(error), ctypes.byref(message), None)
        if not mod:
            raise Excluded(f"libopenmpt cannot load it (error {error.value})")
        try:
            meta: dict[str, str] = {}
            for key in ("type", "type_long", "title", "tracker"):
                p = lib.openmpt_module_get_metadata(mod, key.encode())
                if p:
                    meta[key] = (ctypes.string_at(p).decode("utf-8", "replace")).strip()
                    lib.openmpt_free_string(p)
            lib.openmpt_module_set_repeat_count(mod, 0)
            expected = int(lib.openmpt_module_get_duration_seconds(mod) * RATE) + RATE
            out = np.zeros(expected + CHUNK, dtype=np.float32)
            chunk = (ctypes.c_float * CHUNK)()
            view = np.ctypeslib.as_array(chunk)  # the chunk's floats, shared
            rows: list[Row] = []
            last = (-1, -1, -1)
            done = 0
            get = (lib.openmpt_module_get_current_order, lib.openmpt_module_get_current_pattern,
                   lib.openmpt_module_get_current_row)
            while True:
                n = int(lib.openmpt_module_read_float_mono(mod, RATE, CHUNK, chunk))
                if n == 0:
                    break
                now = (get[0](mod), get[1](mod), get[2](mod))
                if now != last:
                    rows.append(Row((done + n / 2) / RATE, now[0], now[1], now[2],
                                    int(lib.openmpt_module_get_current_speed(mod)),
                                    int(lib.openmpt_module_get_current_tempo(mod))))
                    last = now
                if done + n > len(out):
                    out = np.concatenate([out, np.zeros(len(out), dtype=np.float32)])
                out[done:done + n] = view[:n]
                done += n
        finally:
            lib.openmpt_module_destroy(mod)
        return out[:done].astype(np.float64), rows, meta


def check(y: FloatArray, beats: FloatArray, sr: int = RATE) -> tuple[tuple[float, float], float, str | None]:
    """((lag on the first third, lag on the last third), contrast, why the render does not follow the grid or
    None): `realset.grid_lag` within `MAX_LAG_S` on both thirds and `contrast` at least `MIN_CONTRAST`."""
    third = max(1, len(beats) // 3)
    lags = (realset.grid_lag(y, beats[:third], sr), realset.grid_lag(y, beats[-third:], sr))
    strength = contrast(y, beats, sr)
    why = None
    if max(abs(lag) for lag in lags) > MAX_LAG_S:
        why = (f"its onsets sit {1000 * lags[0]:+.0f}/{1000 * lags[1]:+.0f} ms from the grid (first/last third), "
               f"over {1000 * MAX_LAG_S:.0f} ms")
    elif not strength >= MIN_CONTRAST:
        why = (f"its onsets are not stronger on the grid than half a beat off it ({strength:.2f} times, under "
               f"{MIN_CONTRAST}): the grid may be the off-beat or another level")
    return lags, strength, why


MODULE_SUFFIXES = {".it", ".xm", ".s3m", ".mod", ".mptm", ".zik"}  # .zik: powermanga's name for its XM files


def find_modules(root: Path) -> list[Path]:
    """The module files in an unpacked package."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MODULE_SUFFIXES)


def build(directory: Path, sources: Sequence[tuple[str, str, Path, str]], marks: Mapping[str, object] = FRESH,
          avoid: Sequence[tuple[str, Path]] = (), left_out: list[tuple[str, str, str]] | None = None) -> list[Path]:
    """Render every usable module of `sources` ((short name, package, unpacked root, licence) each) into
    `directory` and write its truth, with `marks` (`FRESH` or `TRAIN`); the wav paths. A module that is the
    same song as one of `avoid` ((name, module file) each: the training set avoids the fresh set's songs) is
    left out. Each module left out is printed and, when `left_out` is given, added to it (package, name,
    why)."""
    import soundfile as sf

    lib = Libopenmpt()
    print(f"libopenmpt {lib.version}: renders the modules, {CHUNK}-frame steps at {RATE} Hz")
    label = str(marks.get("group", ""))
    if marks.get("fresh"):
        label = "fresh"
    written: list[Path] = []
    seen: dict[tuple[str, int, int], str] = {}  # (title, rows played, tenths of a second): the song kept
    avoided = {lib.identity(path.read_bytes()): name for name, path in avoid}
    for short, package, root, licence in sources:
        for path in find_modules(root):
            name = f"{short}-" + realset._slug(path.stem)
            data = path.read_bytes()
            try:
                if avoided:
                    same = avoided.get(lib.identity(data))
                    if same is not None:
                        raise Excluded(f"the same song as {same}, which must stay unseen")
                y, rows, meta = lib.render(data)
                duration = len(y) / RATE
                if duration < MIN_SECONDS:
                    raise Excluded(f"{duration:.0f} s long, under {MIN_SECONDS:.0f} s")
                beat_rows, bar_rows, how = rows_per_beat(data)
                grid = module_grid(rows, beat_rows, bar_rows, until=duration)
                key = (meta.get("title", ""), len(rows), round(duration * 10))
                if key in seen:
                    raise Excluded(f"the same song as {seen[key]} (same title, rows and length)")
                first, last = realset.audible_span(y)
                keep = (grid.beats >= first) & (grid.beats <= last)
                down_keep = (grid.downbeats >= first) & (grid.downbeats <= last)
                lags, strength, why = check(y, grid.beats[keep])
                if why is not None:
                    raise Excluded(why)
            except Excluded as err:
                print(f"  {name:38} left out: {err}")
                if left_out is not None:
                    left_out.append((package, name, str(err)))
                continue
            seen[key] = name
            wav = directory / f"{name}.wav"
            peak = float(np.max(np.abs(y)))
            sf.write(str(wav), (y * (0.9 / peak) if peak > 0 else y).astype(np.float32), RATE, subtype="PCM_16")
            speeds = sorted({r.speed for r in rows})
            truth = {
                "tempo": round(grid.tempo, 4),
                "beats": [round(float(b), 6) for b in grid.beats[keep]],
                "downbeats": [round(float(b), 6) for b in grid.downbeats[down_keep]],
                "beats_per_bar": grid.beats_per_bar,
                **marks,
                "source": {"package": package, "song": path.relative_to(root).as_posix(), "licence": licence,
                           "format": meta.get("type_long", meta.get("type", "")), "title": meta.get("title", ""),
                           "rows_per_beat": beat_rows, "rows_per_bar": bar_rows, "rows_per_beat_from": how,
                           "speeds": speeds, "render": f"libopenmpt {lib.version}, mono, played once",
                           "render_lag_s": [round(lag, 4) for lag in lags], "onset_contrast": round(strength, 3)},
            }
            wav.with_suffix(".truth.json").write_text(json.dumps(truth) + "\n", encoding="utf-8")
            print(f"  {name:38} {label:8} {duration:6.1f} s  {grid.tempo:6.1f} BPM  {beat_rows}/{bar_rows} rows "
                  f"({how})  {keep.sum():4d} beats ({first:.1f}-{last:.1f} s)  render vs grid "
                  f"{1000 * lags[0]:+4.0f}/{1000 * lags[1]:+4.0f} ms  contrast {strength:4.2f}")
            written.append(wav)
    return written
