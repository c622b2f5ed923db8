"""The training set (`make trainset`): many tracker-module songs with exact beat grids, to tune on.

    python bench/trainset.py [DIRECTORY]        (default tracks/trainset, gitignored)

The fresh set (`bench/freshset.py`) is never tuned on, and 14 songs are too few to tune on anyway. This set is
made the same way (`freshset.build`, `bench/freshset_modules.py`: the same renders, grids and filters), from
other Debian game data packages (`PACKAGES`, none of the fresh set's), and its truths say `"group": "train"`
(not held out, not fresh): `bench/bench_realset.py tracks/trainset` reports them as their own part, "train".
A module that is the same song as one of the fresh set's modules (its title and length, or its bytes) is left
out, so the fresh set stays unseen.

Left out of `PACKAGES`: the fresh set's six packages; redeclipse-data (one module in an 862 MB package);
gemdropx (its copyright file gives its four modules no licence, one "used with permission"); clanlib-doc and
gambas3-examples (example programs; their b-title.mod is a commercial game's title music); sdlbasic (its demo's
lizard.mod has a copyright and no licence); sludge-doc (gzipped .xm examples).
pachi-data's stage2.stm is not read (.stm is not one of the module suffixes).

At the end it prints the songs kept per package and the modules left out, by reason.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import freshset  # bench/ is not a package: the sibling modules
import freshset_modules
import realset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO / "tracks" / "trainset"
# (short name, package): Debian (main) game packages that ship their music as tracker modules, each under 15 MB.
PACKAGES = (
    ("ballz", "ballz-data"),
    ("bb", "bb"),
    ("biniax2", "biniax2-data"),
    ("blackbox", "black-box"),
    ("bugsquish", "bugsquish"),
    ("ceferino", "ceferino-data"),
    ("circuslinux", "circuslinux-data"),
    ("criticalmass", "criticalmass-data"),
    ("cuyo", "cuyo-data"),
    ("dodgindiamond2", "dodgindiamond2"),
    ("frozenbubble", "fb-music-high"),
    ("flobopuyo", "flobopuyo"),
    ("freedroid", "freedroid-data"),
    ("gl117", "gl-117-data"),
    ("gltron", "gltron"),
    ("gweled", "gweled"),
    ("heroes", "heroes-sound-tracks"),
    ("ironseed", "ironseed-data"),
    ("madbomber", "madbomber-data"),
    ("monsterz", "monsterz-data"),
    ("njam", "njam-data"),
    ("pachi", "pachi-data"),
    ("pathogen", "pathogen"),
    ("pekka", "pekka-kana-2-data"),
    ("rafkill", "rafkill-data"),
    ("rili", "ri-li-data"),
    ("rockdodger", "rockdodger"),
    ("solarwolf", "solarwolf"),
    ("tomatoes", "tomatoes-data"),
    ("tuxmath", "tuxmath-data"),
    ("tuxtype", "tuxtype-data"),
    ("vectoroids", "vectoroids"),
    ("vodovod", "vodovod"),
    ("vor", "vor"),
)
# The reasons a module is left out (freshset_modules' messages), for the summary.
REASONS = (
    (r"rows apart", "no steady beat (a pattern break or odd length)"),
    (r"outside .* BPM", "beat tempo out of range (the beat level is not plain)"),
    (r"s long, under", "too short"),
    (r"must stay unseen", "a fresh-set song"),
    (r"the same song as", "a duplicate of a song kept"),
    (r"onsets sit", "onsets off the grid"),
    (r"not stronger on the grid", "onsets no stronger on the grid than off it"),
    (r"cannot load", "libopenmpt cannot load it"),
)


def reason(why: str) -> str:
    """The kind of reason a module was left out for."""
    for pattern, kind in REASONS:
        if re.search(pattern, why):
            return kind
    return "other"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    directory = Path(args[0]) if args else DEFAULT_DIR
    fresh = {package for _, package in freshset.PACKAGES}
    if fresh & {package for _, package in PACKAGES}:
        print(f"trainset: the fresh set's packages must not be trained on: {fresh & set(dict(PACKAGES).values())}",
              file=sys.stderr)
        return 1
    left_out: list[tuple[str, str, str]] = []
    try:
        wavs = freshset.build(directory, PACKAGES, freshset_modules.TRAIN, freshset.PACKAGES, left_out)
    except (realset.RealsetError, freshset_modules.Excluded) as err:
        print(f"trainset: {err}", file=sys.stderr)
        return 1
    kept = Counter(json.loads(wav.with_suffix(".truth.json").read_text(encoding="utf-8"))["source"]["package"]
                   for wav in wavs)
    dropped = Counter(package for package, _, _ in left_out)
    print("\nsongs kept / modules found, per package:")
    for _, package in PACKAGES:
        print(f"  {package:24} {kept[package]:3d} / {kept[package] + dropped[package]}")
    print("modules left out, by reason:")
    for kind, n in Counter(reason(why) for _, _, why in left_out).most_common():
        print(f"  {n:3d}  {kind}")
    print(f"trainset: {len(wavs)} songs from {sum(1 for n in kept.values() if n)} packages in {directory} "
          "(group train: tuned on, none of them fresh)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
