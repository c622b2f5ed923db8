"""The 3 Hz flash rule (issue 14, items 5 and 7): at most 3 flashes in any 1-s window, counted over
everything that can flash in the class — effects marked flash, strobe addresses and DMX strobe levels
whatever their `flash:` says — in the compiled timeline and in the live plan alike."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from showctl.analysis.model import TrackAnalysis
from showctl.cues import load_cue_sheet
from showctl.errors import ProblemsError
from showctl.live import TapTempo
from showctl.messages import MidiMessage, OscMessage
from showctl.player.live_plan import LivePlanner, live_plan
from showctl.rig import load_rig
from showctl.rig.profiles import OSC_PROFILES, MidiProfile
from showctl.show import ClassReport, load_show
from showctl.timeline import Timeline, compile_timeline
from showctl.timeline.flashes import FlashWindow, most_flashes_in_window, thin_flashes

OSC_RIG = """
name: Test rig
outputs:
  console: {transport: osc, port: 9000}
safe_scene:
  console: [/house 1, /showctl/strobe 0]
"""

DMX_RIG = """
name: DMX rig
outputs:
  lights: {transport: dmx, universes: [1]}
fixtures:
  par1: {type: rgbw-par, universe: 1, address: 1}
  flasher: {type: strobe, universe: 1, address: 20}
groups:
  pars: [par1]
safe_scene:
  lights: ["@pars dimmer=100% color=warm strobe=0", "@flasher dimmer=0 strobe=0"]
"""

CUE = """
name: Flash class
rig: rig.yaml
playlist:
  - track: a.wav
scenes:
  warm: {send: {console: [/scene/warm 1]}}
  run: {send: {console: [/scene/run 1]}}
effects:
  pulse: {every: beat, send: {console: [/pulse 1]}}
  accent: {every: 1.5 beats, send: {console: [/accent 1]}}
  strobe: {every: quarter beat, flash: false, send: {console: [/showctl/strobe 1]}}
  sweep: {every: half beat, flash: false, send: {console: [/sweep 1]}}
looks:
  warmup: {scene: warm, effects: [sweep]}
segments:
  - {name: Warm-up, kind: warmup, length: "0:20"}
  - {name: Sprint, kind: retro_run, length: "0:30", scene: run, effects: EFFECTS}
  - {name: Cool-down, kind: warmup, length: end of track}
"""

ALLOW = "allow_fast_strobe: true\nreason: the studio's strobe class, signed off by the owner\n"


def steady(bpm: float, duration: float = 90.0) -> TrackAnalysis:
    period = 60.0 / bpm
    beats = tuple(0.25 + i * period for i in range(int((duration - 0.25) / period)))
    return TrackAnalysis("a.wav", duration, bpm, beats, beats[::4], 0.9, 4)


def ramp(start_bpm: float, end_bpm: float, duration: float = 90.0, tempo: float | None = None) -> TrackAnalysis:
    """Beats whose tempo rises linearly from `start_bpm` to `end_bpm` over the track."""
    beats, t = [], 0.25
    while t < duration:
        beats.append(t)
        t += 60.0 / (start_bpm + (end_bpm - start_bpm) * t / duration)
    bpm = tempo if tempo is not None else (start_bpm + end_bpm) / 2
    return TrackAnalysis("a.wav", duration, bpm, tuple(beats), tuple(beats[::4]), 0.9, 4)


def write(tmp_path: Path, effects: str, *, rig: str = OSC_RIG, extra: str = "", cue: str = CUE) -> Path:
    (tmp_path / "rig.yaml").write_text(textwrap.dedent(rig))
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "class.yaml").write_text(extra + textwrap.dedent(cue).replace("EFFECTS", effects))
    return tmp_path / "class.yaml"


def compile_at(path: Path, analysis: TrackAnalysis) -> Timeline:
    loaded = load_cue_sheet(path)
    rig = load_rig(path.parent / "rig.yaml")
    return compile_timeline(loaded, [analysis], rig)


def flash_times(tl: Timeline, *texts: str) -> list[float]:
    return [e.t for e in tl.events if str(e.message) in texts]


# --- the rule itself ------------------------------------------------------------------------------


def test_window_counts_flashes_at_one_instant_once_and_allows_180_bpm() -> None:
    assert most_flashes_in_window([0.0, 1 / 3, 2 / 3, 1.0, 4 / 3]) == 3  # 180 BPM: 3 in every [t, t + 1 s)
    assert most_flashes_in_window([0.0, 0.0, 0.3, 0.3, 0.6]) == 3  # two effects on one beat: one flash
    assert most_flashes_in_window([0.0, 0.3, 0.6, 0.9]) == 4
    window = FlashWindow()
    for t in (0.0, 0.3, 0.6):
        assert window.admits(t)
        window.add(t)
    assert not window.admits(0.9) and window.admits(1.0) and window.admits(0.3)
    # A scene's strobe (not optional) is counted, never left out; effects around it make room.
    assert thin_flashes([(0.0, True), (0.2, False), (0.4, True), (0.6, True), (1.3, True)]) == {3}


def test_strobe_addresses_and_notes_are_flashes_by_profile() -> None:
    generic = OSC_PROFILES["generic"]
    assert generic.is_strobe(OscMessage.parse("/showctl/strobe 1"))
    assert generic.is_strobe(OscMessage.parse("/fixtures/strobe_rate 0.5"))
    assert not generic.is_strobe(OscMessage.parse("/showctl/strobe 0"))  # off, as the safe scene sends it
    assert not generic.is_strobe(OscMessage.parse("/pulse 1"))
    mapped = MidiProfile("mapped", "a console whose note 60 is the strobe", strobe_notes=frozenset({60}))
    assert mapped.is_strobe(MidiMessage.parse("note_on note=60 velocity=127"))
    assert not mapped.is_strobe(MidiMessage.parse("note_on note=60 velocity=0"))
    assert not mapped.is_strobe(MidiMessage.parse("note_on note=61 velocity=127"))


# --- item 5: the combined rate of everything that can flash ----------------------------------------


def test_two_effects_together_over_3_hz_are_refused_at_the_segment(tmp_path: Path) -> None:
    # beat (2.9 Hz) + 1.5 beats (1.9 Hz) at 175 BPM: each under the limit, together 4 flashes in a second.
    path = write(tmp_path, "[pulse, accent]")
    with pytest.raises(ProblemsError) as info:
        compile_at(path, steady(175))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:18:5: 'Sprint' flashes 4 times in a second on a.wav (175 BPM): effect 'pulse' every beat and "
        "effect 'accent' every 1.5 beats together; over the 3 Hz limit for photosensitive epilepsy; set "
        "'allow_fast_strobe: true' with a 'reason:' to allow it"]
    # At 120 BPM the same pair is 3 flashes a second at most: it plays, every flash of it.
    tl = compile_at(path, steady(120))
    assert most_flashes_in_window(flash_times(tl, "/pulse 1", "/accent 1")) == 3
    assert not tl.warnings


def test_flash_false_on_a_strobe_address_is_no_way_around_the_rule(tmp_path: Path) -> None:
    path = write(tmp_path, "[strobe]")
    with pytest.raises(ProblemsError) as info:
        compile_at(path, steady(175))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:12:19: effect 'strobe' flashes at 11.7 Hz on a.wav (175 BPM): it sends a strobe "
        "('/showctl/strobe 1'), a flash whatever its 'flash: false' says; over the 3 Hz limit for photosensitive "
        "epilepsy; set 'allow_fast_strobe: true' with a 'reason:' to allow it"]
    # The warm-up's half-beat sweep (5.8 Hz, flash: false, not a strobe) stays what it says it is.
    allowed = compile_at(write(tmp_path, "[strobe]", extra=ALLOW), steady(175))
    assert len(flash_times(allowed, "/showctl/strobe 1")) == pytest.approx(30 * 175 / 60 * 4, abs=8)


DMX_CUE = """
name: DMX class
rig: rig.yaml
playlist: [{track: a.wav}]
scenes:
  warm: {send: {lights: ["@pars dimmer=100% color=red"]}}
  run: {send: {lights: ["@pars color=blue", "@flasher dimmer=100% strobe=100%"]}}
effects:
  pulse: {every: beat, send: {lights: ["@pars color=white flash=0.2s"]}}
segments:
  - {name: Warm-up, kind: warmup, length: "0:20", scene: warm}
  - {name: Sprint, kind: retro_run, length: end of track, scene: run, effects: EFFECTS}
"""


def test_a_dmx_strobe_level_is_fast_strobe_unless_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "[pulse]", rig=DMX_RIG, cue=DMX_CUE)
    with pytest.raises(ProblemsError) as info:
        compile_at(path, steady(120))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:7:45: scene 'run': '@flasher dimmer=100% strobe=100%' runs the strobe channel of 'flasher' "
        "(strobe), a flash rate of its own above the 3 Hz limit for photosensitive epilepsy; set "
        "'allow_fast_strobe: true' with a 'reason:' to allow it"]
    with pytest.raises(ProblemsError) as live:  # a live class refuses it the same way
        live_plan(load_cue_sheet(path), load_rig(tmp_path / "rig.yaml"))
    assert live.value.problems == info.value.problems
    tl = compile_at(write(tmp_path, "[pulse]", rig=DMX_RIG, cue=DMX_CUE, extra=ALLOW), steady(120))
    assert any(str(e.message) == "@flasher dimmer=100% strobe=100%" for e in tl.events)


def test_the_live_plan_holds_the_same_limit(tmp_path: Path) -> None:
    # No tracks to check ahead: the live class thins on its predicted grid, with the same window.
    path = write(tmp_path, "[pulse, accent]", cue=CUE.replace("end of track", '"0:20"'))
    planner = LivePlanner(live_plan(load_cue_sheet(path), load_rig(tmp_path / "rig.yaml")))
    tap = TapTempo()
    for k in range(8):
        tap.tap(-3.0 + k * 60.0 / 175)
    grid = tap.grid()
    assert grid is not None and grid.tempo == pytest.approx(175, abs=0.1)
    events = []
    t = 0.0
    while t < 70.0:
        events += planner.take(grid, t + 0.25)
        t += 0.25
    flashes = [e for e in events if str(e.message) in ("/pulse 1", "/accent 1")]
    assert len(flashes) > 80  # the sprint flashes...
    assert most_flashes_in_window(e.t for e in flashes) == 3  # ...never more than 3 in a second
    assert all(e.reason.endswith("(thinned to the 3 Hz limit)") for e in flashes)


# --- item 7: a tempo ramp is thinned, and says so once --------------------------------------------


def test_a_tempo_ramp_is_thinned_with_one_warning_naming_the_segment(tmp_path: Path) -> None:
    # The track is analysed at 176 BPM (under the limit for a pulse on every beat) but speeds up past 180.
    path = write(tmp_path, "[pulse]")
    tl = compile_at(path, ramp(160, 220, tempo=176))
    pulses = flash_times(tl, "/pulse 1")
    assert most_flashes_in_window(pulses) == 3
    sprint = tl.plan[1]
    beats_in_sprint = [t for t in tl.tracks[0].analysis.beats if sprint.start <= t < sprint.end]
    assert 0 < len(beats_in_sprint) - len([t for t in pulses if sprint.start <= t < sprint.end]) < len(
        beats_in_sprint) / 3  # thinned to 3 a second, not every other beat
    assert [str(w) for w in tl.warnings] == [
        f"{path}:18:5: 'Sprint': the music reaches 193 BPM on a.wav: 16 flashes left out from 0:30.9 so that no "
        "second has more than 3 (the 3 Hz limit for photosensitive epilepsy)"]


def test_check_and_plan_print_the_thinning_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "[pulse]")
    warnings: list[str] = []
    report = ClassReport(note=lambda _: None, warn=warnings.append, error=lambda _: None)
    load_show(path, analyse=lambda paths, overrides: [ramp(160, 220, tempo=176)], report=report)
    assert [w.split(": the music")[0] for w in warnings] == [f"warning: {path}:18:5: 'Sprint'"]



MIDI_RIG = """
name: Note console
outputs:
  console: {transport: osc, port: 9000, strobe_addresses: [/fx/7]}
  desk: {transport: midi, port: "x:in", profile: notes, strobe_notes: [60]}
safe_scene:
  console: [/house 1]
  desk: [note_on note=0 velocity=127]
"""


def test_a_rig_says_which_notes_and_addresses_fire_its_strobe(tmp_path: Path) -> None:
    # The studio's console strobes on note 60 and on /fx/7: with flash: false, every quarter beat, both refused.
    cue = CUE.replace("console: [/showctl/strobe 1]", "desk: [note_on note=60 velocity=127], console: [/fx/7 1]")
    path = write(tmp_path, "[strobe]", rig=MIDI_RIG, cue=cue)
    with pytest.raises(ProblemsError) as info:
        compile_at(path, steady(120))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:12:19: effect 'strobe' flashes at 8.0 Hz on a.wav (120 BPM): it sends a strobe "
        "('note_on channel=0 note=60 velocity=127 time=0'), a flash whatever its 'flash: false' says; over the 3 Hz "
        "limit for photosensitive epilepsy; set 'allow_fast_strobe: true' with a 'reason:' to allow it"]
    # Note 61 is no strobe: a quarter-beat note chase with flash: false is what it says.
    calm = CUE.replace("console: [/showctl/strobe 1]", "desk: [note_on note=61 velocity=127]")
    tl = compile_at(write(tmp_path, "[strobe]", rig=MIDI_RIG, cue=calm), steady(120))
    assert sum(1 for e in tl.events if str(e.message).startswith("note_on channel=0 note=61")) > 200


def test_a_note_left_out_takes_its_note_off_with_it(tmp_path: Path) -> None:
    cue = CUE.replace("console: [/pulse 1]", "desk: [note_on note=60 velocity=127]")
    tl = compile_at(write(tmp_path, "[pulse]", rig=MIDI_RIG, cue=cue), ramp(160, 220, tempo=176))
    ons = [e.t for e in tl.events if str(e.message).startswith("note_on channel=0 note=60")]
    offs = [e.t for e in tl.events if str(e.message).startswith("note_off channel=0 note=60")]
    assert most_flashes_in_window(ons) == 3 and len(tl.warnings) == 1
    assert len(ons) == len(offs) and all(a < b for a, b in zip(ons, offs, strict=True))


COUNTDOWN_CUE = """
name: Countdown class
rig: rig.yaml
playlist: [{track: a.wav}]
scenes:
  run: {send: {console: [/scene/run 1]}}
looks:
  recovery: {scene: run}
segments:
  - name: Intervals
    kind: retro_run
    scene: run
    intervals: {rounds: 2, work: 20s, rest: 10s}
    countdown: {beats: BEATS, send: {console: ["/showctl/countdown {n}"]}}
"""


def test_a_countdown_is_a_burst_of_its_beats(tmp_path: Path) -> None:
    # 3-2-1 at 200 BPM is 3 flashes in 0.6 s: within the rule; a 4th beat makes 4 in 0.9 s.
    three = compile_at(write(tmp_path, "", cue=COUNTDOWN_CUE.replace("BEATS", "3")), steady(200))
    assert sum(1 for e in three.events if "countdown" in e.reason) == 6 and not three.warnings
    path = write(tmp_path, "", cue=COUNTDOWN_CUE.replace("BEATS", "4"))
    with pytest.raises(ProblemsError) as info:
        compile_at(path, steady(200))
    assert [str(p) for p in info.value.problems] == [
        f"{path}:14:16: countdown of 'Intervals' flashes at 3.3 Hz on a.wav (200 BPM): over the 3 Hz limit for "
        "photosensitive epilepsy; give it 'flash: false' if it does not flash, or set 'allow_fast_strobe: true' "
        "with a 'reason:'"]
