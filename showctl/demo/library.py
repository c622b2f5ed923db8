"""A synthesized "studio library": ten class-length tracks at class tempos, for the example cue files.

The demo tracks are a minute long; a real class plays 45 minutes of music. These tracks are made by
`showctl.demo.tracks.synthesize_track` (so their beats are known exactly) at the tempos a studio uses:
warm-up around 110-118 BPM, retro-running and sled work at 124-150 BPM, cool-down around 96-104 BPM,
3-5 minutes each, 47 minutes in all. Written as 16-bit WAV, 22050 Hz mono, with a `NAME.truth.json`
beside each, only where missing: `python -m showctl.demo.library tracks/library`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from showctl.demo.tracks import DemoSpec, tracks_main, write_tracks

__all__ = ["LIBRARY_TRACKS", "ensure_library_tracks", "main"]

LIBRARY_TRACKS: tuple[DemoSpec, ...] = (
    DemoSpec("01-warmup-112", bpm=112.0, seconds=270.0, seed=101, style="warmup", intro_beats=2.0),
    DemoSpec("02-warmup-118", bpm=118.0, seconds=285.0, seed=102, style="warmup", intro_beats=1.0),
    DemoSpec("03-house-124", bpm=124.0, seconds=300.0, seed=103, style="house", intro_beats=2.0),
    DemoSpec("04-run-140", bpm=140.0, seconds=300.0, seed=104, style="run", intro_beats=2.0),
    DemoSpec("05-run-145", bpm=145.0, seconds=285.0, seed=105, style="run", intro_beats=1.5),
    DemoSpec("06-house-128", bpm=128.0, seconds=300.0, seed=106, style="house", intro_beats=1.5),
    DemoSpec("07-run-150", bpm=150.0, seconds=270.0, seed=107, style="run", intro_beats=2.5),
    DemoSpec("08-house-132", bpm=132.0, seconds=285.0, seed=108, style="house", intro_beats=2.0),
    DemoSpec("09-warmup-104", bpm=104.0, seconds=270.0, seed=109, style="warmup", intro_beats=2.0),
    DemoSpec("10-warmup-96", bpm=96.0, seconds=270.0, seed=110, style="warmup", intro_beats=2.0),
)


def ensure_library_tracks(directory: Path, on_written: Callable[[Path], None] | None = None) -> list[Path]:
    """Write the library WAVs and their `.truth.json` into `directory` where missing; return the WAV paths."""
    return write_tracks(directory, LIBRARY_TRACKS, on_written)


def main(argv: Sequence[str] | None = None) -> int:
    return tracks_main(argv, "showctl.demo.library", LIBRARY_TRACKS)


if __name__ == "__main__":
    raise SystemExit(main())
