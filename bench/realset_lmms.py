"""The LMMS demo songs of the real-music evaluation set (`make realset`, called by `bench/realset.py`).

    python bench/realset_lmms.py [DIRECTORY]        (default tracks/realset, gitignored)

Debian's lmms-common ships the demo projects of LMMS (/usr/share/lmms/projects/demos/**.mmp[z]): songs
musicians made in LMMS and gave to the project (CC-BY-SA, Artistic-2, BSD-2-clause, GPL-2+; each song's own
licence is read from the package's copyright file). A song made in a sequencer is its own beat grid: every
note sits on the project's tempo and time signature unless the musician moved it. This script:

1. renders each project with the installed `lmms` (`lmms render PROJECT -a -f wav`: 32-bit float, so
   nothing clips, 44.1 kHz; headless with QT_QPA_PLATFORM=offscreen), then mixes it to mono at
   `realset.RATE`, scaled to a 0.9 peak, 16-bit, into DIRECTORY/lmms-SONG.wav (once: an existing wav is
   kept). LMMS renders a song from tick 0 to one bar past its last bar, so t = 0 is the song's start;
2. writes the truth beside it (lmms-SONG.truth.json, the same fields as the Frets on Fire songs):
   - beats: every quarter note from t = 0 at the project's BPM (LMMS counts its tempo in quarter notes
     whatever the time signature: 48 ticks a quarter, 192 a 4/4 bar), kept while the song lasts (up to the
     end of its last clip, as LMMS measures the song) and where the render sounds (`realset.audible_span`);
   - downbeats: every bar line from t = 0 (bar 1 starts the song), a bar being 4 * numerator / denominator
     quarter notes;
   - tempo: the project's BPM; beats_per_bar: quarter notes a bar;
   - held_out: `realset.split` over the LMMS songs alone (sorted file names, every other one held out), so
     the Frets on Fire songs keep their split.
   A project is left out, the reason printed, when its tempo or time signature is automated or linked to a
   controller (LMMS 1.2 has one time signature a song, so it cannot change), when its bar is not a whole
   number of quarter notes, or when it holds an audio clip (a sample track's recording need not follow the
   grid).
3. measures, and prints, how far the render's onsets sit from the grid (`realset.grid_lag`, on the first
   and on the last third of the song): a check that the notes are on the grid and the render does not
   drift, never applied to the truth.

Without `lmms` it prints one line and leaves the LMMS songs out (`make realset` installs it with apt-get
when run as root). Nothing is committed: the audio stays in DIRECTORY.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench/ is not a package: the sibling module, importable whatever the working directory.
import realset

PACKAGE = "lmms-common"
PROJECTS = Path("/usr/share/lmms/projects")
DEMOS = PROJECTS / "demos"
COPYRIGHT = Path("/usr/share/doc") / PACKAGE / "copyright"
# LMMS 1.2's time base: 192 ticks a whole note (`DefaultTicksPerTact`), so a quarter note is 48.
TICKS_PER_QUARTER = 48
# Track types in a project file (LMMS 1.2 `Track::TrackTypes`): instrument, beat/bassline, sample,
# (3, 4 unused), automation, hidden automation.
SOUNDING_TRACKS = {"0", "1", "2"}
SAMPLE_TRACK = "2"
RENDER_TIMEOUT_S = 1800
RENDER_ATTEMPTS = 3


class RenderError(Exception):
    """LMMS could not render a project (it failed, or took over `RENDER_TIMEOUT_S`): one line."""


class Excluded(Exception):
    """A project whose grid cannot be taken from its tempo and time signature: the reason, one line."""


@dataclass(frozen=True)
class Project:
    """What the truth needs from a project file."""

    bpm: float
    numerator: int
    denominator: int
    end_ticks: int  # the end of its last sounding clip (LMMS's song length, before the one-bar tail)

    @property
    def quarters_per_bar(self) -> int:
        return 4 * self.numerator // self.denominator


def read_xml(path: Path) -> ET.Element:
    """A project's XML: .mmpz is Qt's qCompress (a 4-byte big-endian length, then zlib); .mmp is plain."""
    data = path.read_bytes()
    if path.suffix == ".mmpz":
        data = zlib.decompress(data[4:])
    return ET.fromstring(data)


def read_project(root: ET.Element) -> Project:
    """Tempo, time signature and length of a project; `Excluded` when its grid cannot be followed."""
    head = root.find("head")
    if head is None:
        raise Excluded("no <head> (not an LMMS project)")
    automated = {obj.get("id") for pattern in root.iter("automationpattern") for obj in pattern.iter("object")}
    values: dict[str, float] = {}
    for name in ("bpm", "timesig_numerator", "timesig_denominator"):
        # A model LMMS saves as an element (not an attribute) has an id automation or a controller can use.
        element = head.find(name)
        text = head.get(name) if element is None else element.get("value")
        if element is not None and element.get("id") in automated:
            raise Excluded(f"{name} is automated (a tempo or metre that changes)")
        if element is not None and element.find("connection") is not None:
            raise Excluded(f"{name} is linked to a controller (a tempo or metre that changes)")
        try:
            values[name] = float(text) if text is not None else float("nan")
        except ValueError:
            values[name] = float("nan")
    bpm = values["bpm"]
    numerator, denominator = values["timesig_numerator"], values["timesig_denominator"]
    if not (bpm > 0 and numerator >= 1 and denominator >= 1):
        raise Excluded(f"no usable tempo or time signature ({bpm} BPM, {numerator}/{denominator})")
    if (4 * numerator) % denominator:
        raise Excluded(f"time signature {numerator:g}/{denominator:g}: a bar is not a whole number of quarter notes")
    end = 0
    for container in root.iter("song"):
        for track_container in container.findall("trackcontainer"):
            for track in track_container.findall("track"):
                kind = track.get("type")
                if kind not in SOUNDING_TRACKS or track.get("muted") == "1":
                    continue
                for clip in track:
                    if clip.get("pos") is None or clip.get("len") is None or clip.get("muted") == "1":
                        continue
                    if kind == SAMPLE_TRACK:
                        raise Excluded("it plays an audio clip (a recording need not follow the grid)")
                    end = max(end, int(clip.get("pos", "0")) + int(clip.get("len", "0")))
    if end == 0:
        raise Excluded("no clip on the song's timeline")
    return Project(bpm, int(numerator), int(denominator), end)


def project_grid(project: Project, until: float) -> tuple[realset.FloatArray, realset.FloatArray]:
    """(beats, downbeats) in seconds: quarter notes from t = 0, bar lines every bar, before the song's end
    and `until`."""
    quarter = 60.0 / project.bpm
    end = min(until, project.end_ticks / TICKS_PER_QUARTER * quarter)
    n = int(np.floor(end / quarter + 1e-9))
    k = np.arange(n + 1)
    k = k[k * quarter < end - 1e-9]
    beats: realset.FloatArray = (k * quarter).astype(np.float64)
    return beats, beats[k % project.quarters_per_bar == 0]


def licences(copyright_text: str) -> list[tuple[list[str], str]]:
    """The (patterns, licence) stanzas of a machine-readable Debian copyright file, in order."""
    stanzas: list[tuple[list[str], str]] = []
    for block in re.split(r"\n\s*\n", copyright_text):
        files: list[str] = []
        licence = ""
        field = ""
        for line in block.splitlines():
            match = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if match:
                field = match.group(1).lower()
                if field == "files":
                    files = match.group(2).split()
                elif field == "license":
                    licence = match.group(2).strip()
            elif field == "files" and line[:1].isspace():
                files += line.split()
        if files and licence:
            stanzas.append((files, licence))
    return stanzas


def licence_of(relative: str, stanzas: Sequence[tuple[Sequence[str], str]]) -> str:
    """The licence of a file of the source tree (data/projects/...): the last stanza that matches wins."""
    found = "see the copyright file"
    for patterns, licence in stanzas:
        if any(fnmatch.fnmatchcase(relative, p) for p in patterns):
            found = licence
    return found


def package_version() -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", PACKAGE], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def render(lmms: str, project: Path, wav: Path) -> float:
    """Render a project with LMMS into a mono `realset.RATE` 16-bit wav scaled to a 0.9 peak; the seconds it
    took LMMS."""
    import soundfile as sf

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    root_flag = ["--allowroot"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory(prefix="realset-lmms-") as tmp:
        raw = Path(tmp) / "render.wav"
        failures: list[str] = []
        # LMMS 1.2 now and then exits with an error after a full render (seen once in some 65 renders, on two
        # cores): a failed render is tried again, up to RENDER_ATTEMPTS in all.
        while len(failures) < RENDER_ATTEMPTS:
            raw.unlink(missing_ok=True)
            started = time.perf_counter()
            try:
                done = subprocess.run([lmms, *root_flag, "render", str(project), "-a", "-f", "wav", "-o", str(raw)],
                                      env=env, cwd=tmp, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S,
                                      check=False)
            except subprocess.TimeoutExpired:
                raise RenderError(f"lmms render {project.name} took over {RENDER_TIMEOUT_S} s") from None
            took = time.perf_counter() - started
            if done.returncode == 0 and raw.exists():
                break
            lines = [line for line in done.stderr.replace("\r", "\n").splitlines() if line.strip()
                     and not line.lstrip().startswith("|")]  # the progress bar
            failures.append(f"exit status {done.returncode}: {(lines or ['no message'])[-1][-160:]}")
        else:
            raise RenderError(f"lmms render {project.name} failed {len(failures)} times ({failures[-1]})")
        if failures:
            print(f"  ({project.name}: lmms render failed {len(failures)} time(s), {failures[-1]}; rendered again)")
        y = realset.mix([realset.read_stem(raw)])
    sf.write(str(wav), y.astype(np.float32), realset.RATE, subtype="PCM_16")
    return took


def song_name(project: Path) -> str:
    return "lmms-" + re.sub(r"[^a-z0-9]+", "-", project.stem.lower()).strip("-")


def build(directory: Path, projects_dir: Path = DEMOS) -> list[Path]:
    """Render every usable demo project into `directory` and write its truth; the wav paths (none without
    lmms)."""
    import soundfile as sf

    directory = directory.resolve()
    lmms = shutil.which("lmms")
    projects_dir = projects_dir.resolve()  # lmms runs in a scratch directory
    projects = sorted(projects_dir.rglob("*.mmp")) + sorted(projects_dir.rglob("*.mmpz"))
    if lmms is None or not projects:
        what = "lmms is not installed" if lmms is None else f"no LMMS projects in {projects_dir}"
        print(f"{PACKAGE}: {what}: the LMMS demo songs are left out (sudo apt-get install lmms)")
        return []
    text = COPYRIGHT.read_text(encoding="utf-8", errors="replace") if COPYRIGHT.exists() else ""
    stanzas = licences(text)
    version = package_version()
    print(f"{PACKAGE} {version}: {len(projects)} demo projects in {projects_dir} (licences: {COPYRIGHT})")
    usable: dict[str, tuple[Path, Project]] = {}
    for path in sorted(projects, key=song_name):
        try:
            usable[song_name(path)] = (path, read_project(read_xml(path)))
        except Excluded as why:
            print(f"  {song_name(path):38} left out: {why}")
        except (OSError, zlib.error, ET.ParseError) as err:
            print(f"  {song_name(path):38} left out: unreadable ({err})")
    held_out = realset.split(list(usable))
    written: list[Path] = []
    directory.mkdir(parents=True, exist_ok=True)
    for name, (path, project) in sorted(usable.items()):
        wav = directory / f"{name}.wav"
        try:
            took = render(lmms, path, wav) if not wav.exists() else None
        except RenderError as err:
            print(f"  {name:38} left out: {err}")
            continue
        y, sr = sf.read(str(wav), dtype="float64")
        duration = len(y) / sr
        beats, downbeats = project_grid(project, until=duration)
        first, last = realset.audible_span(y, sr)
        keep = (beats >= first) & (beats <= last)
        down_keep = (downbeats >= first) & (downbeats <= last)
        kept = beats[keep]
        third = max(1, len(kept) // 3)
        lags = (realset.grid_lag(y, kept[:third], sr), realset.grid_lag(y, kept[-third:], sr))
        if path.is_relative_to(PROJECTS):
            relative = path.relative_to(PROJECTS)
            licence = licence_of(f"data/projects/{relative.as_posix()}", stanzas)
        else:  # a project from elsewhere (`projects_dir`): its licence is not in lmms-common's copyright file
            relative, licence = Path(path.name), "unknown (not from lmms-common)"
        truth = {
            "tempo": round(project.bpm, 4),
            "beats": [round(float(b), 6) for b in kept],
            "downbeats": [round(float(b), 6) for b in downbeats[down_keep]],
            "beats_per_bar": project.quarters_per_bar,
            "held_out": held_out[name],
            "source": {"package": PACKAGE, "version": version, "song": relative.as_posix(), "licence": licence,
                       "time_signature": f"{project.numerator}/{project.denominator}",
                       "render": "lmms render -a -f wav, mixed to mono",
                       "render_lag_s": [round(lag, 4) for lag in lags]},
        }
        wav.with_suffix(".truth.json").write_text(json.dumps(truth) + "\n", encoding="utf-8")
        part = "held-out" if held_out[name] else "tuning"
        rendered = f"rendered in {took:5.1f} s" if took is not None else "kept"
        print(f"  {name:38} {part:8} {duration:6.1f} s  {project.bpm:6.1f} BPM  "
              f"{project.numerator}/{project.denominator}  {keep.sum():4d} beats ({first:.1f}-{last:.1f} s)  "
              f"render vs grid {1000 * lags[0]:+4.0f}/{1000 * lags[1]:+4.0f} ms  {licence}  {rendered}")
        written.append(wav)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0]) if args else realset.DEFAULT_DIR
    wavs = build(directory)
    print(f"realset: {len(wavs)} LMMS songs in {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
