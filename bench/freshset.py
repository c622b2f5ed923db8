"""The fresh evaluation set (`make freshset`): real songs with exact, person-made beat grids that no tuning
ever sees.

    python bench/freshset.py [DIRECTORY]        (default tracks/freshset, gitignored)

The real set (`bench/realset.py`) has a held-out half, but it has been measured many times. This set is
measured once per proposed change, to accept or reject it, and never looked at song by song to tune: every
song in it is held out (its truth says `"held_out": true, "fresh": true`, and `bench/bench_realset.py`
reports it as its own part, "fresh").

Its songs are the music of Debian's game data packages that ship it as tracker modules (`PACKAGES`): songs
their composers wrote row by row in a tracker, so each is its own exact grid. This script:

1. downloads the packages with `apt-get download` into DIRECTORY/debs (once; nothing is installed);
2. unpacks each with `dpkg-deb -x` into DIRECTORY/unpacked, and prints its licence from the package's own
   /usr/share/doc/PACKAGE/copyright;
3. renders each module with libopenmpt and takes its truth from the rows the player played
   (`bench/freshset_modules.py` says how, and which modules it leaves out and why), into DIRECTORY/NAME.wav
   and NAME.truth.json (the fields of the real set's truths).

It needs libopenmpt (Debian's libopenmpt0; `make freshset` installs it with apt-get when run as root).
Nothing is committed: the audio stays in DIRECTORY. `python bench/bench_realset.py tracks/freshset` scores
the trackers on it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import freshset_modules
import realset  # bench/ is not a package: the sibling modules
import realset_lmms

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO / "tracks" / "freshset"
# (short name, package): game data packages whose music is tracker modules, each a few MB.
PACKAGES = (
    ("pingus", "pingus-data"),
    ("tecnoballz", "tecnoballz-data"),
    ("bomberclone", "bomberclone-data"),
    ("openinvaders", "open-invaders-data"),
    ("penguincommand", "penguin-command"),
    ("powermanga", "powermanga-data"),
)


def fetch(directory: Path, packages: Sequence[str]) -> dict[str, Path]:
    """Download (once) and unpack each package; its unpacked root by name."""
    debs = directory / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    out = {}
    for package in packages:
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            realset._run(["apt-get", "download", package], debs)
            found = sorted(debs.glob(f"{package}_*.deb"))
            if not found:
                raise realset.RealsetError(f"apt-get download {package} left no .deb in {debs}")
        root = directory / "unpacked" / package
        if not root.exists():
            root.mkdir(parents=True)
            realset._run(["dpkg-deb", "-x", str(found[-1]), str(root)], directory)
        out[package] = root
    return out


def licence(copyright_text: str) -> str:
    """The licence a Debian copyright file gives the package's files (`Files: *`), in a few words."""
    for patterns, name in realset_lmms.licences(copyright_text):
        if "*" in patterns:
            return name
    text = " ".join(copyright_text.split())
    match = re.search(r"GNU General Public License(?: as published by the Free Software Foundation;)? "
                      r"(?:either )?version (\d)(?: of the License)?(, or \(at your option\) any later version)?", text)
    if match:
        return f"GPL-{match.group(1)}{'+' if match.group(2) else ''}"
    return realset.licence_summary(copyright_text)


def build(directory: Path, packages: Sequence[tuple[str, str]] = PACKAGES,
          marks: Mapping[str, object] = freshset_modules.FRESH, avoid: Sequence[tuple[str, str]] = (),
          left_out: list[tuple[str, str, str]] | None = None) -> list[Path]:
    """Fetch `packages` ((short name, package) each) and write every usable song and its truth, with `marks`;
    the wav paths. The modules of the `avoid` packages are fetched too, never rendered: a song that is one of
    theirs is left out (the training set, `bench/trainset.py`, avoids the fresh set's songs so)."""
    directory = directory.resolve()  # dpkg-deb runs in `directory`
    roots = fetch(directory, [package for _, package in (*packages, *avoid)])
    avoided = [(f"{short}-" + realset._slug(path.stem), path)
               for short, package in avoid for path in freshset_modules.find_modules(roots[package])]
    sources = []
    for short, package in packages:
        root = roots[package]
        copyright_file = root / "usr/share/doc" / package / "copyright"
        text = copyright_file.read_text(encoding="utf-8", errors="replace") if copyright_file.exists() else ""
        version = re.match(r"[^_]+_([^_]+)_", sorted((directory / "debs").glob(f"{package}_*.deb"))[-1].name)
        print(f"{package} {version.group(1) if version else ''}: {licence(text)} "
              f"({copyright_file.relative_to(directory)})")
        sources.append((short, package, root, licence(text)))
    return freshset_modules.build(directory, sources, marks, avoided, left_out)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0]) if args else DEFAULT_DIR
    try:
        wavs = build(directory)
    except (realset.RealsetError, freshset_modules.Excluded) as err:
        print(f"freshset: {err}", file=sys.stderr)
        return 1
    print(f"freshset: {len(wavs)} songs in {directory}, every one held out (fresh)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
