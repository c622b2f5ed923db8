"""`showctl run`: real signals against a simulated rig in this process, and starting mid-class."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import require_binary

from showctl.outputs import Output, open_output
from showctl.player import MonotonicClock, Player
from showctl.show import load_show
from showctl.sim import JackServer, SimulatedRig
from showctl.timeline import Event

REPO = Path(__file__).resolve().parent.parent


def rig_state(messages: list[tuple[str, str]]) -> dict[str, str]:
    """What a console shows: the last scene-setting message each output received."""
    state: dict[str, str] = {}
    for output, text in messages:
        if text.startswith(("/showctl/scene/", "program_change")):
            state[output] = text
    return state


@pytest.mark.rig
@pytest.mark.slow
def test_from_starts_in_the_state_of_a_full_run(demo_tracks: list[Path], jack: JackServer) -> None:
    show = load_show(str(REPO / "cues/demo.yaml"), None)
    for start in (60.0, 100.0, 160.0):
        with SimulatedRig(show.rig) as sim:
            outputs = {n: open_output(n, sim.rig_for_outputs) for n in show.rig.outputs}

            def stop_at(event: Event, start: float = start) -> None:
                if event.t >= start:
                    raise KeyboardInterrupt  # the full run's state just before `start` is what the rig has

            with pytest.raises(KeyboardInterrupt):
                # Paced (50×), not a fake clock: a burst of thousands of MIDI clock ticks would overrun JACK.
                Player(show.timeline, outputs, MonotonicClock(speed=50), on_event=stop_at).play()
            _close(outputs)
            full = [(r.output, r.message) for r in sim.received]
        with SimulatedRig(show.rig) as sim:
            outputs = {n: open_output(n, sim.rig_for_outputs) for n in show.rig.outputs}
            player = Player(show.timeline, outputs, MonotonicClock(speed=50, start=start),
                            on_event=lambda e: (_ for _ in ()).throw(KeyboardInterrupt))
            with pytest.raises(KeyboardInterrupt):
                player.play(start)
            _close(outputs)
            resumed = [(r.output, r.message) for r in sim.received]
        assert rig_state(resumed) == rig_state(full) != {}, start


def _close(outputs: dict[str, Output]) -> None:
    for output in outputs.values():
        output.close()
    time.sleep(0.1)  # the last messages cross the loopback socket and a JACK period


def _run_and_signal(tmp_path: Path, sig: int) -> tuple[int, str, list[tuple[str, str]], dict[str, list[str]]]:
    show = load_show(str(REPO / "cues/demo.yaml"), None)
    with SimulatedRig(show.rig) as sim:
        rig_file = tmp_path / "rig.yaml"
        rig_file.write_text(yaml.safe_dump(sim.rig_for_outputs.model_dump(mode="json")))
        process = subprocess.Popen(
            [sys.executable, "-m", "showctl.cli.main", "run", "cues/demo.yaml", "--rig", str(rig_file),
             "--no-audio", "--speed", "4"],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and sum(1 for r in sim.received if r.message != "clock") < 10:
            time.sleep(0.05)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=30)
        time.sleep(0.3)  # the last datagrams and JACK periods
        received = [(r.output, r.message) for r in sim.received]
    safe = {name: [str(m) for m in messages] for name, messages in show.rig.safe_scene.items()}
    return process.returncode, stderr, received, safe


@pytest.mark.rig
@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                   (signal.SIGTERM, 143, "terminated")])
def test_signal_sends_the_safe_scene(tmp_path: Path, demo_tracks: list[Path], jack: JackServer, sig: int,
                                     code: int, word: str) -> None:
    returncode, stderr, received, safe = _run_and_signal(tmp_path, sig)
    assert returncode == code, stderr
    assert stderr.rstrip().endswith(f"showctl: {word}")
    assert "Traceback" not in stderr
    for output, messages in safe.items():
        last = [m for o, m in received if o == output and m != "clock"][-len(messages):]
        assert last == messages, output


@pytest.mark.rig
@pytest.mark.slow
def test_run_with_audio_on_its_own_jack_server_exits_cleanly(demo_tracks: list[Path]) -> None:
    """`make demo`'s path: the simulated rig starts jackd itself and the music plays through it; PortAudio
    must let go of JACK before that jackd stops (it used to abort the process at exit, code 134)."""
    require_binary("jackd", "the audio clock and MIDI on a machine without a sound card")
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"showctl-audio-{os.getpid()}", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "showctl.cli.main", "run", "cues/demo.yaml", "--sim",
                             "--from", "3:28"], cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "audio: playing the playlist; lights locked to the DAC clock" in result.stderr
    assert "class finished" in result.stderr
