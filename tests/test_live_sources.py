"""Choosing and steering live beat sources (fall-back, x2 / /2, freeze, this is the one), and line-in audio
end to end: a real sounddevice input stream on a JACK dummy server, a track with known beats played into
it by another JACK client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from showctl.demo.tracks import synthesize_track
from showctl.errors import DeviceError
from showctl.live import FallbackSource, PredictedGrid, SourceState, Steered
from showctl.live.steer import scale_grid
from showctl.sim import JackServer

REPO = Path(__file__).resolve().parent.parent


class Fixed:
    """A source whose grid the test sets."""

    def __init__(self, name: str, grid: PredictedGrid | None = None) -> None:
        self.name = name
        self.now: PredictedGrid | None = grid

    @property
    def state(self) -> SourceState:
        return self.now.state if self.now is not None else "no-beat"

    def grid(self) -> PredictedGrid | None:
        return self.now


def grid(source: str, tempo: float = 120.0, state: SourceState = "locked", anchor_in_bar: int = 0) -> PredictedGrid:
    return PredictedGrid(source, tempo, 10.0, anchor_in_bar, 4, 1.0, state)


# --- fall-back -----------------------------------------------------------------------------------------


def test_fallback_takes_the_first_locked_source_and_announces_each_change() -> None:
    clock = [0.0]
    link, midi, audio = Fixed("link"), Fixed("midi-clock", grid("midi-clock", 124)), Fixed("audio")
    lines: list[str] = []
    fb = FallbackSource([link, midi, audio], settle=1.0, on_change=lines.append, now=lambda: clock[0])
    assert fb.grid() == midi.now and fb.name == "midi-clock"
    midi.now = grid("midi-clock", 124, "holding")  # the clock stopped
    audio.now = grid("audio", 126)
    assert fb.grid() == audio.now
    link.now = grid("link", 128)  # Link comes up: it takes over only once it has held its lock for 1 s
    clock[0] = 0.5
    assert fb.grid() == audio.now
    clock[0] = 1.6
    assert fb.grid() == link.now
    link.now = None  # the peer leaves; nothing else is locked either... audio still is
    assert fb.grid() == audio.now
    audio.now = None
    midi.now = None
    assert fb.grid() is None and fb.name == "audio"  # nothing at all: the player runs on its last good grid
    assert lines == ["beat source: midi-clock",
                     "beat source: midi-clock → audio (midi-clock: holding)",
                     "beat source: audio → link (link is locked again)",
                     "beat source: link → audio (link: no beat)"]


# --- the instructor's corrections --------------------------------------------------------------------


def test_double_and_halve_keep_the_downbeats() -> None:
    g = PredictedGrid("audio", 80.0, 10.0, 2, 4)  # the anchor is beat 3: the next downbeat at 11.5 s
    doubled = scale_grid(g, 2.0)
    assert doubled.tempo == 160.0 and doubled.next_downbeat(10.0) == pytest.approx(11.5)
    halved = scale_grid(g, 0.5)
    assert halved.tempo == 40.0 and halved.next_downbeat(10.0) == pytest.approx(11.5)
    assert halved.next_beats(11.5, 1)[0] == pytest.approx(13.0)


def test_steering_keys_double_halve_freeze_and_the_one() -> None:
    source = Fixed("audio", grid("audio", 75.0))
    steered = Steered(source)
    assert steered.double() == "tempo ×2 of audio: 150.0 BPM"
    g = steered.grid()
    assert g is not None and g.tempo == 150.0
    assert steered.halve() == "tempo ×1 of audio: 75.0 BPM"
    assert steered.halve() == "tempo ×1/2 of audio: 37.5 BPM"
    steered.factor = 1.0
    assert steered.freeze() == "frozen at 75.0 BPM (f again to follow audio)"
    source.now = grid("audio", 90.0, "holding")
    frozen = steered.grid()
    assert frozen is not None and frozen.tempo == 75.0 and steered.state == "locked"
    assert steered.freeze() == "unfrozen: following audio again"
    g = steered.grid()
    assert g is not None and g.tempo == 90.0
    # This is the one: the beat nearest 12.05 s (beat 3 after the anchor at 10 s, 90 BPM) starts the bar.
    assert steered.downbeat(12.05) == "this is the one: the bar starts on that beat"
    g = steered.grid()
    assert g is not None and g.in_bar(3) == 0 and g.next_downbeat(12.0) == pytest.approx(12.0 + 4 * 60 / 90)
    source.now = None
    assert steered.grid() is None and steered.freeze() == "nothing to freeze yet: no beat"


def test_tempo_keys_refuse_beyond_four_times() -> None:
    steered = Steered(Fixed("tap", grid("tap", 100.0)))
    steered.double()
    steered.double()
    assert steered.double() == "tempo stays ×4 (at most ×4, at least ×1/4)"


# --- line-in audio end to end ------------------------------------------------------------------------

PLAYER = textwrap.dedent("""
    import json, sys, threading, time
    import numpy as np, soundfile as sf, sounddevice as sd
    y, sr = sf.read(sys.argv[1], dtype="float32")
    state = {"pos": -1, "blocks": []}
    done = threading.Event()
    def play(out, frames, _t, _status):
        now = time.monotonic()
        out.fill(0)
        if state["pos"] < 0:
            return  # silence until the test has connected us
        pos = state["pos"]
        chunk = y[pos:pos + frames]
        out[:len(chunk), 0] = chunk
        state["blocks"].append((now, pos))
        state["pos"] = pos + frames
        if state["pos"] >= len(y):
            raise sd.CallbackStop
    with sd.OutputStream(samplerate=sr, channels=1, blocksize=256, callback=play, finished_callback=done.set):
        print("ready", flush=True)
        sys.stdin.readline()
        state["pos"] = 0
        done.wait(120)
    with open(sys.argv[2], "w") as f:
        json.dump(state["blocks"], f)
""")


def jack_ports(*flags: str) -> list[str]:
    out = subprocess.run(["jack_lsp", *flags], capture_output=True, text=True, timeout=10, check=True).stdout
    return out.splitlines()


def play_into(track: Path, ours: str, written: Path) -> subprocess.Popen[str]:
    """Start PLAYER on `track`, connect its JACK output to our input port `ours` (alone: the system capture
    is unplugged) and let it play; it writes (time.monotonic(), first sample) of each block to `written`."""
    before = set(jack_ports())
    player = subprocess.Popen([sys.executable, "-c", PLAYER, str(track), str(written)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert player.stdout is not None and player.stdin is not None
    assert player.stdout.readline().strip() == "ready"
    theirs = [p for p in jack_ports() if p.endswith(":out_0") and p not in before]
    assert len(theirs) == 1, jack_ports()
    for capture in [p for p in jack_ports() if p.startswith("system:capture")]:
        subprocess.run(["jack_disconnect", capture, ours], capture_output=True, check=False)
    subprocess.run(["jack_connect", theirs[0], ours], check=True, timeout=10)
    player.stdin.write("go\n")
    player.stdin.flush()
    return player


@pytest.mark.rig
@pytest.mark.slow
def test_line_in_locks_to_a_track_played_into_it_over_jack(tmp_path: Path, jack: JackServer) -> None:
    from showctl.live import LineInSource

    y, truth = synthesize_track(128.0, 16.0, 48000, 11, style="house")
    track = tmp_path / "house-128.wav"
    sf.write(track, y, 48000)
    with LineInSource() as source:  # PortAudio starts afresh: it sees this test's JACK server
        ours = [p for p in jack_ports() if p.endswith(":in_0")]
        assert len(ours) == 1, jack_ports()
        player = play_into(track, ours[0], tmp_path / "written.json")
        try:
            seen: list[tuple[float, PredictedGrid]] = []
            while player.poll() is None:
                g = source.grid()
                if g is not None and g.state == "locked":
                    seen.append((time.monotonic(), g))
                time.sleep(0.05)  # sampling the source's grid while the track plays
            # (time.monotonic(), first sample) of each block the player wrote
            written = np.array(json.loads((tmp_path / "written.json").read_text()))
        finally:
            player.kill()
            player.wait()
    assert source.blocks > 0 and seen, "the tracker never locked on the line-in audio"
    # (as the follow scores take it: the median; one grid's local period may sit a comb step, 1.5 %, off)
    assert float(np.median([g.tempo for _, g in seen])) == pytest.approx(128.0, rel=0.01)

    def played(b: float) -> float:
        """When the player wrote true beat `b` (s into the track), from its blocks around it: the earliest
        block time over the nearest second, so a late callback does not count."""
        near = np.abs(written[:, 1] / 48000 - b) < 0.5
        return float(np.min(written[near, 0] - written[near, 1] / 48000)) + b

    # Each grid the source gave after 6 s against the next true beat after it was read.
    true = np.array(truth.beats)
    errors = []
    for at, g in seen:
        track_t = at - played(float(np.median(true))) + float(np.median(true))  # roughly where the track was
        upcoming = true[true > track_t + 0.05]
        if track_t < 6.0 or not len(upcoming):
            continue
        when = played(float(upcoming[0]))
        errors.append(abs(when - g.next_beats(when - 0.5 * g.period, 1)[0]))
    assert len(errors) > 20
    print(f"line-in over JACK: {len(errors)} grids, median beat error {1000 * float(np.median(errors)):.1f} ms, "
          f"90th percentile {1000 * float(np.percentile(errors, 90)):.1f} ms")
    # Within 20 ms: a JACK period (5.3 ms) between writer and reader, PortAudio's 512-frame blocks over
    # 256-frame periods, and the tracker's own error (2 ms median in the bench).
    assert float(np.median(errors)) < 0.02, errors


def test_no_input_device_is_one_line_naming_the_inputs(tmp_path: Path) -> None:
    # No JACK server by that name and no sound card: PortAudio finds no input at all.
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"showctl-none-{os.getpid()}", "JACK_NO_START_SERVER": "1"}
    code = ("from showctl.live import LineInSource\nfrom showctl.errors import DeviceError\n"
            "try:\n    LineInSource()\nexcept DeviceError as err:\n    print(err)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                            check=False)
    assert result.stdout == ("audio input: no such input device (inputs: none (is jackd running?)); choose one "
                             "with --audio-in NAME, or use --source link, midi-clock or tap\n"), result.stderr
    assert DeviceError.__mro__[1].__name__ == "ShowctlError"  # so the CLI prints it as one line


# --- the live screen and the instructor's keys ----------------------------------------------------------


def test_live_screen_shows_the_source_tempo_confidence_and_no_beat(tmp_path: Path) -> None:
    from rich.console import Console
    from test_live_run import write_class

    from showctl.cli.live import LIVE_KEYS, LiveSourceScreen
    from showctl.cues import load_cue_sheet
    from showctl.player import FakeClock
    from showctl.player.live import LivePlayer
    from showctl.player.live_plan import LivePlanner, live_plan

    path, rig = write_class(tmp_path)
    clock = FakeClock()
    source = Fixed("audio")
    steered = Steered(source)
    player = LivePlayer(LivePlanner(live_plan(load_cue_sheet(path), rig)), steered, {}, clock)
    screen = LiveSourceScreen("Live class", player, steered, ["a notice"])

    def shown() -> str:
        player.planner.take(player.current_grid(), clock.now() + 0.1)
        console = Console(record=True, width=140)
        console.print(screen)
        return console.export_text()

    text = shown()
    assert "NO BEAT  (audio: no-beat)" in text and "WARM-UP" in text and LIVE_KEYS in text
    assert "a notice" in text
    source.now = PredictedGrid("audio", 126.0, 0.0, 0, 4, 0.8, "locked")
    text = shown()
    assert "126.0 BPM" in text and "LOCKED" in text and "from audio, confidence 80%" in text
    steered.double()
    assert "252.0 BPM  ×2" in shown()
    steered.freeze()
    assert "FROZEN" in shown()
    steered.freeze()
    source.now = None
    assert "NO BEAT: last good grid" in shown()


def test_keys_x_slash_f_and_1_steer_a_non_tap_source() -> None:
    from showctl.cli.live_run import _live_keys
    from showctl.live import TapTempo

    source = Fixed("midi-clock", PredictedGrid("midi-clock", 64.0, time.monotonic(), 1, 4))
    steered = Steered(source)
    said: list[str] = []
    press = _live_keys(None, steered, TapTempo(), said.append)  # type: ignore[arg-type]  # (no quit here)
    for key in "x/f":
        press(key)
    press("t")
    assert said[:3] == ["tempo ×2 of midi-clock: 128.0 BPM", "tempo ×1 of midi-clock: 64.0 BPM",
                        "frozen at 64.0 BPM (f again to follow midi-clock)"]
    assert said[3] == "tap: tap again (the beat comes from midi-clock; taps count when it has none)"
    press("1")
    assert said[4] == "this is the one: the bar starts on that beat"
    g = steered.grid()
    assert g is not None and g.in_bar(round(g.position(time.monotonic()))) == 0
