"""Live beat sources: the causal audio tracker (through `follow`), tap tempo and MIDI clock in.

The audio tracker is scored on generated corpus tracks with known beats (`showctl.demo.tracks`), with
the same scores as the bench; MIDI clock arrives from a real JACK output port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from showctl.demo.tracks import CORPUS, DEMO_SAMPLE_RATE, CorpusSpec, synthesize_track
from showctl.errors import DeviceError
from showctl.live import (
    AudioBeatTracker,
    BeatEstimate,
    ClockFit,
    PredictedGrid,
    TapTempo,
    follow_signal,
)
from showctl.live.audio_evidence import fast_beat_coverage, pulse_at, quick_tempo
from showctl.live.follow import blocks
from showctl.live.scoring import score_live
from showctl.messages import CLOCK_PPQN
from showctl.sim import JackServer

REPO = Path(__file__).resolve().parent.parent
SPECS = {s.name: s for s in CORPUS}


def spec(name: str) -> CorpusSpec:
    return SPECS[name]


# --- values -------------------------------------------------------------------------------------------


def test_grid_predicts_beats_and_downbeats() -> None:
    grid = PredictedGrid("tap", tempo=120.0, anchor=10.0, anchor_in_bar=2, beats_per_bar=4)
    assert grid.period == 0.5
    assert grid.next_beats(10.0, 3) == (10.5, 11.0, 11.5)
    assert grid.next_beats(9.99, 1) == (10.0,)
    assert grid.next_downbeat(10.0) == 11.0  # the anchor is beat 3: beat 1 comes two beats later
    assert grid.next_downbeat(11.0) == 13.0
    assert grid.in_bar(2) == 0 and grid.position(11.25) == 2.5
    with pytest.raises(ValueError, match="tempo must be a positive number"):
        PredictedGrid("tap", tempo=0.0, anchor=0.0)


def test_beat_json_has_exactly_the_contract_keys() -> None:
    beat = BeatEstimate(t=1.23456, reported=1.2, tempo=128.04, downbeat=True, confidence=0.9)
    assert beat.to_json() == {"t": 1.2346, "reported": 1.2, "tempo": 128.04, "downbeat": True}
    assert beat.lead == pytest.approx(0.03456)


# --- tap ----------------------------------------------------------------------------------------------


def test_tap_tempo_fits_a_line_through_uneven_taps() -> None:
    rng = np.random.default_rng(1)
    tap = TapTempo()
    assert tap.grid() is None and tap.state == "listening"
    taps = 3.0 + 0.5 * np.arange(8) + rng.normal(0.0, 0.01, 8)
    for t in taps:
        tap.tap(float(t))
    grid = tap.grid()
    assert grid is not None and grid.state == "locked"
    assert grid.tempo == pytest.approx(120.0, abs=1.5)
    assert grid.anchor == pytest.approx(6.5, abs=0.02)
    assert grid.confidence > 0.5


def test_tap_counts_a_missed_tap_and_restarts_after_a_pause() -> None:
    tap = TapTempo()
    for t in (0.0, 0.5, 1.0, 1.5, 2.5, 3.0):  # the tap at 2.0 was missed
        tap.tap(t)
    grid = tap.grid()
    assert grid is not None and grid.tempo == pytest.approx(120.0, abs=0.01)
    tap.tap(10.0)  # 7 s later: a new tempo starts
    assert tap.grid() is None
    tap.tap(10.4)
    grid = tap.grid()
    assert grid is not None and grid.tempo == pytest.approx(150.0)


def test_this_is_the_one_sets_the_downbeat() -> None:
    tap = TapTempo()
    for t in (0.0, 0.5, 1.0, 1.5):
        tap.tap(t)
    grid = tap.downbeat(1.02)  # "the one" on the third tap (a little late)
    assert grid is not None
    assert grid.next_downbeat(1.5) == pytest.approx(3.0)
    assert grid.in_bar(0) == 1  # the anchor (1.5 s) is beat 2


# --- MIDI clock, pure ---------------------------------------------------------------------------------


def _clock_ticks(fit: ClockFit, t0: float, bpm: float, ticks: int, period: float = 256 / 48000) -> float:
    """Feed `ticks` clocks at `bpm` from t0, each snapped up to the next JACK period; return the next t."""
    step = 60.0 / bpm / CLOCK_PPQN
    for k in range(ticks):
        fit.clock(float(np.ceil((t0 + k * step) / period) * period))
    return t0 + ticks * step


def test_clock_fit_is_steady_despite_period_jitter_and_follows_a_step() -> None:
    fit = ClockFit()
    fit.start(0.0)
    t = _clock_ticks(fit, 0.0123, 120.0, 8 * CLOCK_PPQN)
    assert fit.tempo == pytest.approx(120.0, abs=0.1)
    t = _clock_ticks(fit, t, 126.0, 4 * CLOCK_PPQN)  # a tempo step: followed within 4 beats
    assert fit.tempo == pytest.approx(126.0, abs=0.1)
    grid = fit.grid_at(t)
    assert grid is not None and grid.state == "locked"
    # 12 beats sent: the newest beat boundary is beat 12 (bar 3, beat 4), 24 ticks before the next tick;
    # the fit sits half a JACK period (2.7 ms) late, as the snapped arrivals do.
    assert grid.in_bar(0) == 3 and grid.next_downbeat(t) == pytest.approx(t, abs=0.004)
    assert grid.anchor == pytest.approx(t - 60.0 / 126.0, abs=0.004)


def _beat_error(fit: ClockFit, t: float, t0: float, bpm: float) -> float:
    """How far (s) the fit's newest beat boundary sits from the sender's true one at time `t`."""
    grid = fit.grid_at(t)
    assert grid is not None
    period = 60.0 / bpm
    return grid.anchor - (t0 + np.floor((t - t0) / period + 1e-9) * period)


@pytest.mark.parametrize(("lost", "doubled", "late"), [
    ({200}, set(), {}),  # one tick lost on the way (a JACK xrun, seen in a looped test run)
    ({200, 201, 330}, set(), {}),  # two together, and one more later
    (set(), {200}, {}),  # one sent twice
    (set(), set(), {200: 0.031, 201: 0.011}),  # the sender stalled 31 ms and caught up: nothing lost
])
def test_a_lost_or_doubled_clock_tick_does_not_move_the_beats(lost: set[int], doubled: set[int],
                                                                late: dict[int, float]) -> None:
    # Before, the count simply went on: every later beat came a tick (20 ms at 125 BPM) late, for good.
    fit = ClockFit()
    fit.start(0.0)
    t0, bpm, period = 0.0123, 125.0, 256 / 48000
    step = 60.0 / bpm / CLOCK_PPQN
    for k in range(16 * CLOCK_PPQN):
        t = float(np.ceil((t0 + k * step + late.get(k, 0.0)) / period) * period)
        for _ in range((k not in lost) + (k in doubled)):
            fit.clock(t)
    assert fit.recounted == len(lost) - len(doubled)
    assert abs(_beat_error(fit, t, t0, bpm)) < 0.006  # the JACK period's jitter, not a tick (20 ms)


def test_a_tempo_step_or_ramp_is_never_taken_for_lost_ticks() -> None:
    for new_bpm in (60.0, 100.0, 124.5, 126.0, 130.0, 150.0):
        fit = ClockFit()
        fit.start(0.0)
        t = _clock_ticks(fit, 0.0123, 125.0, 8 * CLOCK_PPQN)
        _clock_ticks(fit, t, new_bpm, 8 * CLOCK_PPQN)
        assert fit.recounted == 0 and fit.tempo == pytest.approx(new_bpm, abs=0.1), new_bpm
    fit = ClockFit()
    fit.start(0.0)
    t, bpm = 0.0123, 120.0
    for _ in range(24):  # a DJ's tempo fader, one beat at a time from 120 to 132 BPM
        t = _clock_ticks(fit, t, bpm, CLOCK_PPQN)
        bpm += 0.5
    assert fit.recounted == 0


def test_clock_transport_start_stop_continue_song_position() -> None:
    fit = ClockFit()
    assert fit.grid_at(0.0) is None and fit.state_at(0.0) == "listening"
    fit.start(0.0)
    t = _clock_ticks(fit, 0.0, 120.0, 6 * CLOCK_PPQN)  # ticks 0..143: beat 6 starts at tick 144
    grid = fit.grid_at(t)
    assert grid is not None and grid.in_bar(0) == 1  # newest beat boundary is beat 5 (0-based 5 = bar 2, beat 2)
    fit.stop(t)
    t = _clock_ticks(fit, t, 120.0, 2 * CLOCK_PPQN)  # clocks keep coming while stopped
    assert fit.state_at(t) == "holding"
    held = fit.grid_at(t)
    assert held is not None and held.in_bar(0) == 1 and held.confidence < 1
    fit.song_position(16, t)  # 16 sixteenths = bar 2, beat 1
    fit.cont(t)
    t = _clock_ticks(fit, t, 120.0, 1)
    grid = fit.grid_at(t)
    assert grid is not None and grid.state == "locked" and grid.in_bar(0) == 0
    assert fit.state_at(t + 0.6) == "holding"  # the clock went quiet
    assert fit.state_at(t + 100.0) == "no-beat" and fit.grid_at(t + 100.0) is None


# --- MIDI clock over JACK -----------------------------------------------------------------------------


@pytest.mark.rig
@pytest.mark.slow
def test_midi_clock_from_a_real_jack_port(jack: JackServer) -> None:
    import rtmidi

    from showctl.live import MidiClockSource
    from showctl.outputs.midi import midi_api

    with MidiClockSource(api="jack", client="showctl-test-clock") as source:
        out = rtmidi.MidiOut(rtapi=midi_api("jack"), name="showctl-test-sender")
        try:
            ports = out.get_ports()
            assert source.port_name in ports, ports
            out.open_port(ports.index(source.port_name))
            seen: dict[int, float | None] = {}

            def send() -> None:
                out.send_message([0xFA])  # start
                t = time.monotonic() + 0.05
                k = 0
                for bpm, beats in ((120.0, 8), (126.0, 4)):
                    for _ in range(beats * CLOCK_PPQN):
                        while (left := t - time.monotonic()) > 0:
                            time.sleep(left)  # to an absolute deadline: no drift
                        seen[k] = source.tempo  # everything sent so far has arrived (one JACK period)
                        out.send_message([0xF8])
                        k += 1
                        t += 60.0 / bpm / CLOCK_PPQN
                time.sleep(0.02)
                seen[k] = source.tempo
                out.send_message([0xFC])  # stop

            sender = threading.Thread(target=send)
            sender.start()
            sender.join(timeout=30)
        finally:
            out.close_port()
            out.delete()
        steady, stepped = seen[8 * CLOCK_PPQN], seen[12 * CLOCK_PPQN]
        assert steady is not None and abs(steady - 120.0) <= 0.1, steady
        assert stepped is not None and abs(stepped - 126.0) <= 0.1, stepped
        time.sleep(0.6)
        assert source.state == "holding"
        grid = source.grid()
        assert grid is not None and grid.tempo == pytest.approx(126.0, abs=0.1)


@pytest.mark.rig
def test_missing_midi_clock_port_is_one_line_naming_the_ports(jack: JackServer) -> None:
    from showctl.live import MidiClockSource

    with pytest.raises(DeviceError) as info:
        MidiClockSource("no-such-port", api="jack")
    message = str(info.value)
    assert message.startswith("MIDI clock input 'no-such-port': no such MIDI port (available: ")
    assert "\n" not in message


# --- the audio tracker --------------------------------------------------------------------------------


def test_follow_locks_on_a_house_track_and_commits_ahead() -> None:
    y, truth = spec("house-128").synthesize()
    result = follow_signal(y, DEMO_SAMPLE_RATE)
    s = score_live(result.beats, truth)
    assert s.beat_f >= 0.97 and s.cmlt >= 0.93, s
    assert s.tempo_ok and s.lock <= 1.5, s  # the quick first estimate: ~1 s into the drums
    assert s.early_share >= 0.9 and s.error <= 0.010, s
    assert result.state == "locked"
    times = [b.t for b in result.beats]
    assert times == sorted(times) and min(np.diff(times)) > 0.3  # never the same beat twice
    downbeats = [b.t for b in result.beats if b.downbeat and b.t > 20]
    true_down = np.asarray(truth.downbeats)
    assert all(np.min(np.abs(true_down - t)) < 0.07 for t in downbeats)


def test_a_phase_jump_never_reports_a_beat_after_it_happened() -> None:
    """Two house tracks at 120 BPM spliced 0.4 beat out of phase: the refitted grid's next beat was already
    past when the jump was heard, and it came out reported 84 ms after it happened (issue 15: 21 such
    beats on real music). A late beat is dropped; the beats after the jump follow the new phase."""
    first, _ = synthesize_track(120.0, 20.0, DEMO_SAMPLE_RATE, 1, style="house", intro_beats=0.0)
    second, truth = synthesize_track(120.0, 20.0, DEMO_SAMPLE_RATE, 2, style="house", intro_beats=0.0)
    cut = round((20.0 - 1.0 - 0.4 * 0.5) * DEMO_SAMPLE_RATE)
    result = follow_signal(np.concatenate([first[:cut], second]), DEMO_SAMPLE_RATE)
    assert [b for b in result.beats if b.reported > b.t] == []
    after = np.asarray(truth.beats[10:-2]) + cut / DEMO_SAMPLE_RATE  # once the tracker has refitted
    times = np.asarray([b.t for b in result.beats])
    assert all(np.min(np.abs(times - t)) < 0.07 for t in after)


@pytest.mark.slow
@pytest.mark.parametrize("name", [s.name for s in CORPUS if not s.held_out])
def test_follow_on_the_tuning_corpus(name: str) -> None:
    y, truth = spec(name).synthesize()
    s = score_live(follow_signal(y, DEMO_SAMPLE_RATE).beats, truth)
    assert s.beat_f >= 0.9 and s.cmlt >= 0.8 and s.tempo_ok, s
    assert s.early_share >= 0.9 and s.error <= 0.010, s


@pytest.mark.slow
def test_follow_meets_the_targets_on_the_held_out_corpus() -> None:
    scores = []
    for s in CORPUS:
        if s.held_out:
            y, truth = s.synthesize()
            scores.append(score_live(follow_signal(y, DEMO_SAMPLE_RATE).beats, truth))
    assert np.mean([s.beat_f for s in scores]) >= HELD_OUT_F
    assert np.mean([s.cmlt for s in scores]) >= HELD_OUT_CMLT
    assert sum(s.tempo_ok for s in scores) >= len(scores) - 1
    assert np.mean([s.early_share for s in scores]) >= 0.9
    assert np.median([s.error for s in scores]) <= 0.010


HELD_OUT_F = 0.95  # measured 0.978 (bench_live --held-out); the issue targets 0.97
HELD_OUT_CMLT = 0.92  # measured 0.948; target 0.93


def test_other_sample_rates_and_block_sizes() -> None:
    import soxr

    y, truth = synthesize_track(128.0, 20.0, DEMO_SAMPLE_RATE, 5, style="warmup")
    y44 = soxr.resample(y.astype(np.float32), DEMO_SAMPLE_RATE, 44100)
    for samples, sr, block in ((y44, 44100, 1024), (y, DEMO_SAMPLE_RATE, 256), (y, DEMO_SAMPLE_RATE, 2048)):
        s = score_live(follow_signal(samples, sr, block=block).beats, truth)
        assert s.beat_f >= 0.95 and s.tempo_ok, (sr, block, s)


@pytest.mark.parametrize(("bpm", "style"), [(100.0, "warmup"), (126.0, "house"), (150.0, "run")])
def test_quick_tempo_from_a_second_and_a_half_of_drums(bpm: float, style: str) -> None:
    y, truth = synthesize_track(bpm, 6.0, DEMO_SAMPLE_RATE, 41, style=style, intro_beats=1.0)
    tracker = AudioBeatTracker(DEMO_SAMPLE_RATE)
    for chunk in blocks(y[: round((truth.beats[0] + 1.5) * DEMO_SAMPLE_RATE)], 512):
        tracker.process(chunk)
    h = tracker._hist
    rows = h.window(round(2.5 * tracker.frame_rate))
    tempo, pulse = quick_tempo(h.full[rows], h.kick[rows], h.snare[rows], tracker.frame_rate)
    assert tempo == pytest.approx(bpm, rel=0.03) and pulse >= tracker.params.quick_lock, (tempo, pulse)
    rng = np.random.default_rng(5)
    noise = AudioBeatTracker(DEMO_SAMPLE_RATE)
    for chunk in blocks(0.3 * rng.standard_normal(3 * DEMO_SAMPLE_RATE), 512):
        noise.process(chunk)
    h = noise._hist
    rows = h.window(round(2.5 * noise.frame_rate))
    assert quick_tempo(h.full[rows], h.kick[rows], h.snare[rows], noise.frame_rate)[1] < noise.params.quick_lock


def test_a_quick_lock_gives_way_to_a_clearly_stronger_pulse() -> None:
    # The intro's pad swells at ~117 BPM before the drums (88 BPM, from 2 s) start: the quick estimate
    # locks on it; on the drums, 88 outscores 117 on the same window and replaces it in ~1 s, not at 4.6 s.
    y, truth = spec("ho-warmup-88").synthesize()
    s = score_live(follow_signal(y[: 20 * DEMO_SAMPLE_RATE], DEMO_SAMPLE_RATE).beats, truth)
    assert s.tempo_ok and s.lock <= 2.0, s
    tracker = AudioBeatTracker(DEMO_SAMPLE_RATE)
    for chunk in blocks(y[: round((truth.beats[0] + 2.0) * DEMO_SAMPLE_RATE)], 512):
        tracker.process(chunk)
    h = tracker._hist
    rows = h.window(round(2.5 * tracker.frame_rate))
    full, kick, snare = h.full[rows], h.kick[rows], h.snare[rows]
    tempo, pulse = quick_tempo(full, kick, snare, tracker.frame_rate)
    assert pulse_at(full, kick, tracker.frame_rate, tempo) == pytest.approx(pulse)
    assert pulse >= 2.0 * pulse_at(full, kick, tracker.frame_rate, 117.5)


def test_drum_and_bass_with_a_pickup_stays_on_the_beat() -> None:
    # 180 BPM, one beat of pickup (not a corpus track): the kick on the "and" of 3 comes out of silence
    # and outscores the downbeat kick, which lands under the ringing bass; the grid sat half a beat off.
    y, truth = CorpusSpec("t-dnb-180", 180.0, 30.0, 901, "dnb", 1.0, pickup=1).synthesize()
    s = score_live(follow_signal(y, DEMO_SAMPLE_RATE).beats, truth)
    assert s.beat_f >= 0.95 and s.tempo_ok and s.lock <= 10.0, s


def _coverage_on_truth(style: str, bpm: float, seed: int, step: float) -> float:
    y, truth = CorpusSpec("t", bpm, 16.0, seed, style, 1.0).synthesize()
    tracker = AudioBeatTracker(DEMO_SAMPLE_RATE)
    for chunk in blocks(y[: 12 * DEMO_SAMPLE_RATE], 512):  # the drums stop a second before the end
        tracker.process(chunk)
    h, fr = tracker._hist, tracker.frame_rate
    rows = h.window(round(4.0 * fr))
    anchor = (truth.beats[0] - tracker.params.onset_lead) * fr - (h.start + rows.start)
    return fast_beat_coverage(h.kick[rows], h.snare[rows], fr, anchor, step * 60.0 * fr / bpm)


def test_drums_on_every_beat_tell_the_octave() -> None:
    # House and drum & bass hit (nearly) every beat of their own grid; hip-hop leaves half its double
    # tempo's beats empty, though the offline kick fold reads its kick on the "and" of 3 as every beat.
    assert _coverage_on_truth("house", 175.0, 61, 1.0) >= 0.9
    assert _coverage_on_truth("dnb", 172.0, 62, 1.0) >= 0.7
    assert _coverage_on_truth("hiphop", 86.0, 63, 0.5) < 0.6
    short = np.zeros(10)
    assert fast_beat_coverage(short, short, 86.0, 0.0, 30.0) == 0.0


@pytest.mark.slow
def test_hip_hop_leaves_a_double_tempo_lock_and_house_175_holds() -> None:
    # Fresh tracks (not in any corpus): hip-hop used to wait 16 estimates before leaving 172 for 86.
    for style, bpm, seed, lock in (("hiphop", 86.0, 954, 6.0), ("hiphop", 88.0, 952, 6.0), ("house", 175.0, 971, 9.0)):
        y, truth = CorpusSpec("t", bpm, 40.0, seed, style, 1.0).synthesize()
        s = score_live(follow_signal(y, DEMO_SAMPLE_RATE).beats, truth)
        assert s.tempo_ok and s.beat_f >= 0.95 and s.lock <= lock, (style, bpm, s)


def test_a_beat_less_intro_pad_is_no_beat() -> None:
    # The pop intro's pad beats and swells with a clear ~115 BPM pulse, but holds no hit: no lock, no beats.
    y, truth = spec("pop-122").synthesize()
    tracker = AudioBeatTracker(DEMO_SAMPLE_RATE)
    beats = [b for chunk in blocks(y[: round((truth.beats[0] - 0.1) * DEMO_SAMPLE_RATE)], 512)
             for b in tracker.process(chunk)]
    assert beats == [] and tracker.state in ("listening", "no-beat")


@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_silence_and_noise_give_no_beat(kind: str) -> None:
    rng = np.random.default_rng(3)
    sr = DEMO_SAMPLE_RATE
    y = np.zeros(20 * sr) if kind == "silence" else 0.3 * rng.standard_normal(20 * sr)
    tracker = AudioBeatTracker(sr)
    beats = [b for chunk in blocks(y, 512) for b in tracker.process(chunk)]
    assert beats == [] and tracker.state == "no-beat" and tracker.grid() is None


def test_holds_the_grid_when_the_music_stops_then_gives_up() -> None:
    sr = DEMO_SAMPLE_RATE
    y, _ = synthesize_track(124.0, 20.0, sr, 7, style="house")
    tracker = AudioBeatTracker(sr)
    for chunk in blocks(np.concatenate([y, np.zeros(10 * sr)]), 512):
        tracker.process(chunk)
    grid = tracker.grid()
    assert tracker.state == "holding" and grid is not None
    assert grid.tempo == pytest.approx(124.0, rel=0.01) and grid.confidence < 0.5
    for chunk in blocks(np.zeros(20 * sr), 512):
        tracker.process(chunk)
    assert tracker.state == "no-beat" and tracker.grid() is None


# --- the CLI contract ---------------------------------------------------------------------------------


def showctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "showctl.cli.main", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "200"}, check=False)


def test_follow_json_contract(tmp_path: Path) -> None:
    y, truth = synthesize_track(128.0, 15.0, DEMO_SAMPLE_RATE, 9, style="house")
    wav = tmp_path / "house.wav"
    sf.write(str(wav), y, DEMO_SAMPLE_RATE, subtype="PCM_16")
    result = showctl("follow", str(wav), "--json", "--block", "512")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data and all(set(item) == {"t", "reported", "tempo", "downbeat"} for item in data)
    assert all(isinstance(item["downbeat"], bool) for item in data)
    assert sum(item["reported"] < item["t"] for item in data) == len(data)
    assert abs(np.median([item["tempo"] for item in data]) - 128.0) < 1.0
    # After the drums stop the grid is held (beats keep coming, as the lights should): check those before.
    late = [item["t"] for item in data if 6 < item["t"] < truth.beats[-1] + 0.07]
    assert all(np.min(np.abs(np.asarray(truth.beats) - t)) < 0.07 for t in late)


def test_follow_mistakes_are_one_line(tmp_path: Path) -> None:
    result = showctl("follow", str(tmp_path / "nope.wav"))
    assert (result.returncode, result.stderr) == (1, f"showctl: {tmp_path / 'nope.wav'}: no such file\n")
    result = showctl("follow", "x.wav", "--block", "0")
    assert result.returncode == 2 and "must be 16 to 65536 samples: '0'" in result.stderr
