"""The `showctl` command. User mistakes print one line and exit ≠ 0; only bugs print tracebacks."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from showctl import __version__
from showctl.cli import commands
from showctl.errors import ProblemsError, ShowctlError

__all__ = ["main"]


class Terminated(BaseException):
    """SIGTERM, turned into an exception so the player's `finally` sends the safe scene."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="showctl", description="Light shows that follow the class plan and the music."
    )
    parser.add_argument("--version", action="version", version=f"showctl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("analyze", help="tempo, beats and downbeats of audio files (cached)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print a JSON list, one object per file")

    p = sub.add_parser("check", help="validate cue files and rig files")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("timeline", help="the compiled timeline of a cue file")
    p.add_argument("cuefile", metavar="CUEFILE")
    p.add_argument("--rig", metavar="RIGFILE", help="rig file (default: the one the cue file names)")
    p.add_argument("--json", action="store_true", help="print a JSON list of events sorted by t")

    p = sub.add_parser("plan", help="the class as it will run: one row per segment and interval phase")
    p.add_argument("cuefile", metavar="CUEFILE")
    p.add_argument("--rig", metavar="RIGFILE", help="rig file (default: the one the cue file names)")
    p.add_argument("--json", action="store_true", help="print a JSON list of rows")

    p = sub.add_parser("simulate", help="play the timeline to the simulated rig as fast as it can; log what arrives")
    p.add_argument("cuefile", metavar="CUEFILE")
    p.add_argument("--rig", metavar="RIGFILE", help="rig file (default: the one the cue file names)")
    p.add_argument("--log", required=True, metavar="OUT.jsonl", help="one JSON line per message received")

    p = sub.add_parser("run", help="play the class in real time (or --speed N× faster) to the rig")
    p.add_argument("cuefile", metavar="CUEFILE")
    p.add_argument("--rig", metavar="RIGFILE", help="rig file (default: the one the cue file names)")
    p.add_argument("--speed", type=_positive_float, default=1.0, metavar="N", help="run N× faster (rehearsal)")
    p.add_argument("--from", dest="start", type=_clock, default=0.0, metavar="MM:SS", help="start mid-class")
    p.add_argument("--sim", action="store_true", help="run on the simulated rig and show what it receives")
    p.add_argument("--no-audio", action="store_true", help="do not play the music here (it plays elsewhere)")
    p.add_argument("--control-host", default="127.0.0.1", metavar="HOST",
                   help="where the OSC remote controls listen (default: this machine only)")
    p.add_argument("--control-port", type=int, default=9650, metavar="PORT", help="OSC remote port (default 9650)")
    p.add_argument("--control-secret", default=None, metavar="SECRET",
                   help="the first argument every OSC control message must send (needed with a --control-host beyond "
                   "this machine; default: $SHOWCTL_CONTROL_SECRET, which other users' `ps` does not show)")
    p.add_argument("--live", action="store_true",
                   help="the music plays elsewhere: follow a live beat source in wall-clock time")
    p.add_argument("--source", choices=("auto", "link", "midi-clock", "audio", "tap"), default=None,
                   help="with --live: where the beat comes from (default: auto, the first locked of link, "
                   "midi-clock, audio, tap; tap: keys t and 1)")
    p.add_argument("--midi-in", metavar="PORT", help="with --source midi-clock: the MIDI port sending clock "
                   "(default: a virtual input to connect)")
    p.add_argument("--audio-in", metavar="DEVICE", help="with --source audio or auto: the line input to follow "
                   "(a name or part of one; default: the default input)")

    p = sub.add_parser("export-qlc", help="a QLC+ workspace bound to the OSC paths the cue files send")
    p.add_argument("rigfile", metavar="RIGFILE")
    p.add_argument("--cues", nargs="+", default=[], metavar="CUEFILE", help="cue files whose scenes to export")
    p.add_argument("--output", metavar="NAME", help="the rig output QLC+ is (default: the one qlcplus output)")
    p.add_argument("-o", dest="out", required=True, metavar="OUT.qxw", help="workspace file to write")

    p = sub.add_parser("preview", help="one picture of the whole class (PNG, SVG or PDF)")
    p.add_argument("cuefile", metavar="CUEFILE")
    p.add_argument("--rig", metavar="RIGFILE", help="rig file (default: the one the cue file names)")
    p.add_argument("-o", dest="out", required=True, metavar="OUT.png", help="picture to write")
    p.add_argument("--size", type=_size, default=(16.0, 8.0), metavar="WxH", help="inches (default 16x8)")
    p.add_argument("--dpi", type=int, default=100, help="pixels per inch (default 100)")

    sub.add_parser("schema", help="the cue file JSON Schema (for editors)")

    p = sub.add_parser("rig", help="the simulated rig as a live virtual stage (showctl run drives it)")
    p.add_argument("--rig", default="config/demo-rig.yaml", metavar="RIGFILE",
                   help="the rig to stand in for (default: config/demo-rig.yaml)")
    p.add_argument("--seconds", type=_positive_float, default=None, metavar="N", help="stop after N seconds")

    p = sub.add_parser("serve", help="the class screen and phone remote: a local web page (http://127.0.0.1:8650)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=8650, help="port (default 8650)")
    p.add_argument("--lan", action="store_true",
                   help="listen on the studio network; phones pair with a one-time QR code and need its token")
    p.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                   help="with --lan: where paired phones are kept across restarts (default: "
                   "$XDG_STATE_HOME/showctl, or ~/.local/state/showctl)")

    from showctl.cli.live_commands import block_size

    p = sub.add_parser("follow", help="run the live beat tracker over a file as if it arrived live")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print a JSON list of the committed beats")
    p.add_argument("--block", type=block_size, default=512, metavar="N", help="samples per block (default 512)")
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
    return value


def _size(text: str) -> tuple[float, float]:
    try:
        width, height = (float(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in inches, like 16x8: {text!r}") from None
    if not (1 <= width <= 100 and 1 <= height <= 100):
        raise argparse.ArgumentTypeError(f"width and height must be 1 to 100 inches: {text!r}")
    return width, height


def _clock(text: str) -> float:
    from showctl.units import parse_clock

    try:
        return parse_clock(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.command == "analyze":
            return commands.analyze(args.paths, as_json=args.json)
        if args.command == "check":
            return commands.check(args.files)
        if args.command == "timeline":
            return commands.timeline(args.cuefile, args.rig, as_json=args.json)
        if args.command == "plan":
            return commands.plan(args.cuefile, args.rig, as_json=args.json)
        if args.command == "simulate":
            return commands.simulate(args.cuefile, args.rig, Path(args.log))
        if args.command == "run":
            if not args.live and (args.source is not None or args.midi_in is not None or args.audio_in is not None):
                raise ShowctlError("--source, --midi-in and --audio-in choose a live beat source: add --live")
            from showctl.player.remote import SECRET_ENV, require_secret

            control_secret = args.control_secret or os.environ.get(SECRET_ENV) or None
            require_secret(args.control_host, control_secret)  # before the class starts: one line, exit 1
            return commands.run(args.cuefile, args.rig, speed=args.speed, start=args.start, sim=args.sim,
                                no_audio=args.no_audio, control_host=args.control_host,
                                control_port=args.control_port, live=args.live, source=args.source or "auto",
                                midi_in=args.midi_in, audio_in=args.audio_in, control_secret=control_secret)
        if args.command == "export-qlc":
            from showctl.cli import output_commands

            return output_commands.export_qlc(args.rigfile, args.cues, Path(args.out), args.output)
        if args.command == "preview":
            from showctl.cli import cue_commands

            return cue_commands.preview(args.cuefile, args.rig, Path(args.out), width=args.size[0],
                                        height=args.size[1], dpi=args.dpi)
        if args.command == "rig":
            from showctl.cli import output_commands

            return output_commands.rig_stage(args.rig, args.seconds)
        if args.command == "serve":
            from showctl.web import serve

            return serve(host=args.host, port=args.port, lan=args.lan, state_dir=args.state_dir)
        if args.command == "follow":
            from showctl.cli import live_commands

            return live_commands.follow(args.path, as_json=args.json, block=args.block)
        if args.command == "schema":
            from showctl.cues.model import CueSheet

            print(json.dumps(CueSheet.model_json_schema(mode="validation"), indent=2))
            return 0
        raise AssertionError(args.command)
    except ShowctlError as err:
        # Problems in files are PATH:LINE:COL lines editors and tools read; other errors name the program.
        print(str(err) if isinstance(err, ProblemsError) else f"showctl: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("showctl: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("showctl: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
