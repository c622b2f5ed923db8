"""The real-music evaluation set (`make realset`): recorded songs whose beat grids a person made.

    python bench/realset.py [DIRECTORY]        (default tracks/realset, gitignored)

Debian packages the Frets on Fire song packs, and each song there comes as stems (song.ogg: the band
without the lead guitar; guitar.ogg; rhythm.ogg in some packs) with a notes.mid whose tempo map and time
signatures are the grid the charter (the band itself) laid the notes on. This script:

1. downloads the packages with `apt-get download` into DIRECTORY/debs (once; nothing is installed);
2. unpacks each with `dpkg-deb -x` into DIRECTORY/unpacked, and prints its licence from the package's own
   /usr/share/doc/PACKAGE/copyright;
3. per song, mixes the stems (mono, the sum scaled to a 0.9 peak, 22050 Hz, 16-bit) into
   DIRECTORY/PACK-SONG.wav and writes the truth beside it (PACK-SONG.truth.json, the fields of
   `showctl.demo.tracks.Truth` plus where it came from):
   - beats: every beat of the MIDI tempo map (one per time-signature denominator note; quarter notes in
     4/4), in seconds, moved by the song.ini `delay` (ms, positive: the chart comes that much later in the
     audio; every song here has none), kept where the mix sounds (within `AUDIBLE_DB` of its loudest
     second, so a silent lead-in or tail holds no "beats");
   - downbeats: every bar line of the MIDI's time signatures (MIDI's default 4/4 from tick 0 when a file
     has no time-signature event);
   - tempo: the tempo map's tempo that lasts longest;
   - held_out: the fixed split, by the sorted file names, every other one (`split`): the tuning half and
     the held-out half each hold two songs of each pack.
   It also measures, and prints, how far the drums of the song stem sit from the MIDI grid (the lag that
   best lines the grid up with the stem's onsets, within ±100 ms): a check of the alignment, never applied
   to the truth. The Muldjord songs sit within a few ms; the Sectoid songs' stems ~+30 ms late.

4. then adds the LMMS demo songs (`bench/realset_lmms.py`): Debian's lmms-common projects rendered by the
   installed lmms, their truth the grid of each project's tempo and time signature; left out, with one
   line saying so, when lmms is not installed.

Nothing is committed: the audio stays in DIRECTORY. `bench/bench_realset.py` scores the trackers on it.
"""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO / "tracks" / "realset"
PACKAGES = ("fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")
STEMS = ("song.ogg", "guitar.ogg", "rhythm.ogg")
RATE = 22050
# Truth beats are kept where the mix is at most this far below its loudest second (dB, 50 ms frames).
AUDIBLE_DB = 40.0

FloatArray = npt.NDArray[np.float64]


class RealsetError(Exception):
    """A step that cannot go on (apt-get or dpkg-deb failed, a package holds no songs): one line."""


@dataclass(frozen=True)
class Grid:
    """The MIDI file's grid in seconds (before the song.ini delay)."""

    beats: FloatArray
    downbeats: FloatArray
    beats_per_bar: int
    tempo: float


def midi_grid(path: Path, until: float) -> Grid:
    """Beats and bar lines of a MIDI file's tempo map and time signatures, from tick 0 up to `until` s.

    Tempo changes and time signatures may come on any track (type 1 files keep them on the first); a beat
    is one note of the time signature's denominator, a bar `numerator` of them, each signature counting
    from its own tick.
    """
    import mido

    midi = mido.MidiFile(str(path))
    tpq = midi.ticks_per_beat
    tempos: list[tuple[int, int]] = [(0, 500000)]  # (tick, µs per quarter): MIDI's default 120 BPM
    signatures: list[tuple[int, int, int]] = [(0, 4, 4)]  # (tick, numerator, denominator)
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                signatures.append((tick, msg.numerator, msg.denominator))
    # A later event at the same tick wins over the default (sorted is stable).
    tempos = sorted(tempos, key=lambda e: e[0])
    signatures = sorted(signatures, key=lambda e: e[0])

    def seconds(tick: float) -> float:
        t, last_tick, last_tempo = 0.0, 0, tempos[0][1]
        for at, tempo in tempos:
            if at > tick:
                break
            t += (at - last_tick) * last_tempo / (tpq * 1e6)
            last_tick, last_tempo = at, tempo
        return t + (tick - last_tick) * last_tempo / (tpq * 1e6)

    beats: list[float] = []
    downbeats: list[float] = []
    for i, (start, numerator, denominator) in enumerate(signatures):
        end = signatures[i + 1][0] if i + 1 < len(signatures) else None
        step = tpq * 4 / denominator
        k = 0
        while True:
            tick = start + k * step
            if end is not None and tick >= end:
                break
            t = seconds(tick)
            if t > until:
                break
            if not beats or t > beats[-1] + 1e-6:
                beats.append(t)
                if k % numerator == 0:
                    downbeats.append(t)
            k += 1
    spans: dict[int, float] = {}
    for i, (at, tempo) in enumerate(tempos):
        stop = seconds(tempos[i + 1][0]) if i + 1 < len(tempos) else until
        spans[tempo] = spans.get(tempo, 0.0) + max(0.0, stop - seconds(at))
    main_tempo = max(spans, key=lambda k: spans[k])
    metres: dict[int, float] = {}  # numerator: seconds it lasts
    for i, (at, numerator, _) in enumerate(signatures):
        stop = seconds(signatures[i + 1][0]) if i + 1 < len(signatures) else until
        metres[numerator] = metres.get(numerator, 0.0) + max(0.0, stop - seconds(at))
    return Grid(np.array(beats), np.array(downbeats), max(metres, key=lambda k: metres[k]),
                float(mido.tempo2bpm(main_tempo)))


def song_delay(song_dir: Path) -> float:
    """The song.ini `delay` in seconds (0 when absent)."""
    ini = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        ini.read(song_dir / "song.ini", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return 0.0
    for section in ini.sections():
        value = ini[section].get("delay")
        if value is not None:
            try:
                return float(value) / 1000.0
            except ValueError:
                return 0.0
    return 0.0


def read_stem(path: Path) -> FloatArray:
    """A stem as mono float samples at `RATE`."""
    import soundfile as sf
    import soxr

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    return np.asarray(soxr.resample(mono, sr, RATE) if sr != RATE else mono, dtype=np.float64)


def mix(stems: Sequence[FloatArray]) -> FloatArray:
    """The stems summed (padded to the longest), scaled to a 0.9 peak."""
    n = max(len(s) for s in stems)
    out = np.zeros(n)
    for s in stems:
        out[: len(s)] += s
    peak = float(np.max(np.abs(out)))
    return out * (0.9 / peak) if peak > 0 else out


def audible_span(y: FloatArray, sr: int = RATE) -> tuple[float, float]:
    """(first, last) time (s) of the 50 ms frames within `AUDIBLE_DB` of the loudest second."""
    hop = sr // 20
    n = len(y) // hop
    if n == 0:
        return 0.0, 0.0
    power = np.mean(y[: n * hop].reshape(n, hop) ** 2, axis=1)
    loudest = float(np.max(np.convolve(power, np.ones(20) / 20, mode="same")))
    loud = np.flatnonzero(power >= loudest * 10 ** (-AUDIBLE_DB / 10))
    return float(loud[0] * hop / sr), float((loud[-1] + 1) * hop / sr)


def grid_lag(stem: FloatArray, beats: FloatArray, sr: int = RATE) -> float:
    """How late (s) the stem's onsets sit against `beats`: the lag within ±100 ms where the stem's
    log-energy flux (2.9 ms hops) is strongest on the beats. A check of the alignment, printed only."""
    hop, n_fft = 64, 512
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(stem, n_fft // 2), n_fft)[::hop]
    energy = 10 * np.log10(np.sum((frames * np.hanning(n_fft)) ** 2, axis=1) + 1e-10)
    flux = np.maximum(0.0, np.diff(energy, prepend=energy[0]))
    rate = sr / hop
    lags = np.arange(-0.1, 0.1001, 0.002)

    def strength(lag: float) -> float:
        i = np.round((beats + lag) * rate).astype(np.int64)
        i = i[(i >= 0) & (i < len(flux))]
        return float(flux[i].mean()) if len(i) else 0.0

    return float(lags[int(np.argmax([strength(lag) for lag in lags]))])


def licence_summary(copyright_text: str) -> str:
    """The licence a Debian copyright file states for the songs, in a few words."""
    text = " ".join(copyright_text.split())
    if re.search(r"Creative Commons Attribution[ -]?Share[ -]?Alike (licen[cs]e )?3\.0", text, re.I):
        return "CC-BY-SA-3.0 (Creative Commons Attribution-ShareAlike 3.0)"
    if "Permission is hereby granted, free of charge" in text:
        return "MIT/Expat-style permission notice"
    return "see the copyright file"


def split(names: Sequence[str]) -> dict[str, bool]:
    """The fixed tuning/held-out split: sorted by name, every other one held out (the 2nd, 4th, ...)."""
    return {name: i % 2 == 1 for i, name in enumerate(sorted(names))}


def _run(args: list[str], cwd: Path) -> None:
    try:
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RealsetError(f"{args[0]} not found: make realset needs Debian's apt-get and dpkg-deb") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RealsetError(f"{' '.join(args)} failed ({last}); try apt-get update")


def fetch(directory: Path) -> list[tuple[str, Path]]:
    """Download (once) and unpack each package; (package, unpacked root) for each."""
    debs = directory / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    out = []
    for package in PACKAGES:
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            _run(["apt-get", "download", package], debs)
            found = sorted(debs.glob(f"{package}_*.deb"))
            if not found:
                raise RealsetError(f"apt-get download {package} left no .deb in {debs}")
        root = directory / "unpacked" / package
        if not root.exists():
            root.mkdir(parents=True)
            _run(["dpkg-deb", "-x", str(found[-1]), str(root)], directory)
        out.append((package, root))
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def build(directory: Path) -> list[Path]:
    """Fetch the packages and write every song's mix and truth; the wav paths."""
    # Absolute: dpkg-deb runs in `directory`, so a relative path (make realset's tracks/realset) is not found.
    directory = directory.resolve()
    written: list[Path] = []
    songs: list[tuple[str, str, Path, str]] = []  # (name, package, song dir, licence)
    for package, root in fetch(directory):
        copyright_file = root / "usr/share/doc" / package / "copyright"
        text = copyright_file.read_text(encoding="utf-8", errors="replace") if copyright_file.exists() else ""
        licence = licence_summary(text)
        print(f"{package}: {licence} ({copyright_file.relative_to(directory)})")
        dirs = sorted(p.parent for p in root.glob("usr/share/games/fretsonfire/data/songs/*/*/notes.mid"))
        if not dirs:
            raise RealsetError(f"{package} holds no songs (no notes.mid under usr/share/games/fretsonfire)")
        pack = package.removeprefix("fretsonfire-songs-")
        songs += [(f"{pack}-{_slug(d.name)}", package, d, licence) for d in dirs]
    held_out = split([name for name, *_ in songs])
    import soundfile as sf

    for name, package, song_dir, licence in sorted(songs):
        wav = directory / f"{name}.wav"
        truth_path = wav.with_suffix(".truth.json")
        stems = [s for s in STEMS if (song_dir / s).exists()]
        samples = [read_stem(song_dir / s) for s in stems]
        y = mix(samples)
        first, last = audible_span(y)
        delay = song_delay(song_dir)
        grid = midi_grid(song_dir / "notes.mid", until=len(y) / RATE)
        beats, downbeats = grid.beats + delay, grid.downbeats + delay
        keep = (beats >= first) & (beats <= last)
        down_keep = (downbeats >= first) & (downbeats <= last)
        lag = grid_lag(samples[0], beats[keep])
        if not wav.exists():
            sf.write(str(wav), y.astype(np.float32), RATE, subtype="PCM_16")
        truth = {
            "tempo": round(grid.tempo, 4),
            "beats": [round(float(b), 6) for b in beats[keep]],
            "downbeats": [round(float(b), 6) for b in downbeats[down_keep]],
            "beats_per_bar": grid.beats_per_bar,
            "held_out": held_out[name],
            "source": {"package": package, "song": song_dir.name, "stems": stems, "licence": licence,
                       "delay_s": delay, "song_stem_lag_s": round(lag, 4)},
        }
        truth_path.write_text(json.dumps(truth) + "\n", encoding="utf-8")
        part = "held-out" if held_out[name] else "tuning"
        print(f"  {name:38} {part:8} {len(y) / RATE:6.1f} s  {grid.tempo:6.1f} BPM  {grid.beats_per_bar} per bar  "
              f"{keep.sum():4d} beats ({first:.1f}-{last:.1f} s)  song stem vs grid {1000 * lag:+4.0f} ms")
        written.append(wav)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0]) if args else DEFAULT_DIR
    try:
        wavs = build(directory)
    except RealsetError as err:
        print(f"realset: {err}", file=sys.stderr)
        return 1
    import realset_lmms  # bench/realset_lmms.py (this script's directory is on sys.path)

    songs = realset_lmms.build(directory)
    print(f"realset: {len(wavs)} Frets on Fire songs and {len(songs)} LMMS songs in {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
