"""The real-music set's truth (`bench/realset.py`): grids read from MIDI tempo maps and time signatures.

Only the pure parts, on MIDI files made here: `make realset` itself needs the network (apt-get download).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def bench_module(name: str) -> ModuleType:
    """A script of bench/ loaded as a module (bench/ is no package), registered under its own name."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


realset = bench_module("realset")
realset_lmms = bench_module("realset_lmms")  # (imports realset by name: loaded above)


def _midi(path: Path, events: list[tuple[int, object]], ticks_per_beat: int = 480) -> Path:
    import mido

    conductor = mido.MidiTrack()
    last = 0
    for tick, msg in events:
        conductor.append(msg.copy(time=tick - last))  # type: ignore[attr-defined]
        last = tick
    notes = mido.MidiTrack([mido.Message("note_on", note=96, velocity=100, time=0),
                            mido.Message("note_off", note=96, velocity=0, time=ticks_per_beat * 40)])
    mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat, tracks=[conductor, notes]).save(str(path))
    return path


def test_a_tempo_change_and_a_metre_change_move_beats_and_bar_lines(tmp_path: Path) -> None:
    import mido

    tpq = 480
    path = _midi(tmp_path / "notes.mid", [
        (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120))),
        (0, mido.MetaMessage("time_signature", numerator=4, denominator=4)),
        (8 * tpq, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90))),  # after two bars of 4
        (8 * tpq, mido.MetaMessage("time_signature", numerator=3, denominator=4)),
    ])
    grid = realset.midi_grid(path, until=11.9)
    # 8 beats at 0.5 s (0..3.5 s), then beats 2/3 s apart from 4.0 s, in bars of 3.
    expected = np.concatenate([np.arange(8) * 0.5, 4.0 + np.arange(13) * (2 / 3)])
    expected = expected[expected <= 11.9]
    assert grid.beats == pytest.approx(expected, abs=1e-4)
    assert grid.downbeats == pytest.approx([0.0, 2.0, 4.0, 6.0, 8.0, 10.0], abs=1e-4)
    assert grid.beats_per_bar == 3  # 7.9 s of 3/4 against 4 s of 4/4
    assert grid.tempo == pytest.approx(90.0)


def test_without_tempo_or_metre_events_midi_defaults_hold(tmp_path: Path) -> None:
    grid = realset.midi_grid(_midi(tmp_path / "bare.mid", []), until=4.0)  # 120 BPM, 4/4
    assert grid.beats == pytest.approx(np.arange(9) * 0.5)
    assert grid.downbeats == pytest.approx([0.0, 2.0, 4.0])
    assert (grid.beats_per_bar, grid.tempo) == (4, pytest.approx(120.0))


def test_song_ini_delay_and_licences(tmp_path: Path) -> None:
    (tmp_path / "song.ini").write_text("[song]\nname = X\ndelay = 250\n")
    assert realset.song_delay(tmp_path) == pytest.approx(0.25)
    (tmp_path / "song.ini").write_text("[song]\nname = X\n")
    assert realset.song_delay(tmp_path) == 0.0
    assert realset.licence_summary("licenced under the terms of the Creative Commons\nAttribution ShareAlike "
                                   "licence 3.0").startswith("CC-BY-SA-3.0")
    assert realset.licence_summary("Permission is hereby granted, free of charge, to any").startswith("MIT")


def test_the_split_alternates_over_sorted_names() -> None:
    assert realset.split(["d", "a", "c", "b"]) == {"a": False, "b": True, "c": False, "d": True}


def _project(head: str, tracks: str, extra: str = "") -> str:
    return (f'<lmms-project><head {head}/><song><trackcontainer>{tracks}</trackcontainer></song>{extra}'
            '</lmms-project>')


def test_an_lmms_project_gives_its_grid_from_its_tempo_and_time_signature(tmp_path: Path) -> None:
    import zlib

    xml = _project('bpm="120" timesig_numerator="6" timesig_denominator="8"',
                   '<track type="0"><pattern pos="0" len="576"/><pattern pos="576" len="96"/></track>'
                   '<track type="0" muted="1"><pattern pos="0" len="9999"/></track>')
    packed = tmp_path / "song.mmpz"  # Qt's qCompress: a 4-byte length, then zlib
    packed.write_bytes(len(xml).to_bytes(4, "big") + zlib.compress(xml.encode()))
    project = realset_lmms.read_project(realset_lmms.read_xml(packed))
    # 672 ticks = 14 quarters at 48 a quarter; a 6/8 bar is 3 quarters; the muted track does not count.
    assert (project.bpm, project.numerator, project.denominator, project.end_ticks) == (120.0, 6, 8, 672)
    beats, downbeats = realset_lmms.project_grid(project, until=60.0)
    assert beats.tolist() == [0.5 * k for k in range(14)]
    assert downbeats.tolist() == [0.0, 1.5, 3.0, 4.5, 6.0]
    assert realset_lmms.project_grid(project, until=2.2)[0].tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]


@pytest.mark.parametrize(("head", "tracks", "extra", "reason"), [
    ('timesig_numerator="4" timesig_denominator="4"><bpm value="128" id="7"/></head><x',
     '<track type="0"><pattern pos="0" len="192"/></track>',
     '<automationpattern><object id="7"/></automationpattern>', "bpm is automated"),
    ('bpm="128" timesig_numerator="4" timesig_denominator="4"',
     '<track type="2"><sampletco pos="0" len="192"/></track>', "", "it plays an audio clip"),
    ('bpm="128" timesig_numerator="5" timesig_denominator="8"', '<track type="0"><pattern pos="0" len="192"/></track>',
     "", "a bar is not a whole number of quarter notes"),
    ('bpm="128" timesig_numerator="4" timesig_denominator="4"', "", "", "no clip on the song's timeline"),
])
def test_an_lmms_project_whose_grid_cannot_be_followed_is_left_out_with_the_reason(
        head: str, tracks: str, extra: str, reason: str) -> None:
    import xml.etree.ElementTree as ET

    with pytest.raises(realset_lmms.Excluded, match=reason):
        realset_lmms.read_project(ET.fromstring(_project(head, tracks, extra)))
