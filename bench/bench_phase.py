"""Does the analysis confidence say when the beat grid is wrong, phase errors included? (issue 15 item 3)

    python bench/bench_phase.py [REALSET_DIR] [--real-only]  (default tracks/realset, from `make realset`)
    python bench/bench_phase.py tracks/freshset --real-only    (the fresh set, `make freshset`: scored once)
    python bench/bench_phase.py tracks/trainset --real-only    (the training set, `make trainset`)

Per track, the beat F the tracker really got (±70 ms, beats before 5 s ignored: `showctl.analysis.evaluate`)
and its `confidence`, before the phase doubt (`showctl.analysis.phase`) scaled it and after; then the
Spearman correlation of confidence with F over:
- the real-music set (`make realset`; skipped when absent), its tuning and held-out halves; or the fresh
  set (`make freshset`: every song held out, reported as its own group, "fresh set");
- the phase set (`showctl.demo.tracks.PHASE_SET`): synthesized grooves made to trip the tracker's phase
  (off-beat kicks, dembow, breakbeats, shuffles, trap); its first part was looked at while the doubt was
  made, the held-out part was not;
- the synthesized corpus (`CORPUS`, `HELD_OUT_2`..`HELD_OUT_7`), where the tracker gets nearly every beat:
  its F values are nearly all tied near 1, so it says how often a good grid is doubted, not much more.
`--real-only` leaves out the phase set and the synthesized corpus.
No truth is shifted: F is what the tracker got. n is printed with every figure; 8 real songs alone are too
few for a correlation to mean much.

Per section too (issue 15 item 3 asks for it): on the real songs, each section the analysis found with at
least `MIN_SECTION_BEATS` true beats, its F (both grids cut to the section) against the section's
`confidence`. Sections of one song are not independent samples: the per-track figure is the firmer one.

Every correlation has its by-song bootstrap 95 % interval (`bench/bootstrap.py`: 2000 resamples of the songs,
fixed seed; per section, a song's sections are drawn together), and so has after - before, paired (the same
resample for both): with 14 songs a half, a correlation can move by more than 0.1 on noise alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bootstrap  # bench/ is not a package: the sibling module
import numpy as np

from showctl.analysis import evaluate, phase, read_audio
from showctl.analysis.tracker import analyze_signal
from showctl.demo import tracks as demo

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "tracks" / "realset"
GOAL = 0.7  # issue 15: Spearman(confidence, beat F) on the corpus
MIN_SECTION_BEATS = 8  # fewer true beats in a section: its F is too coarse to rank


@dataclass(frozen=True)
class SectionRow:
    f: float
    before: float  # the section's confidence without the phase doubt
    after: float


@dataclass(frozen=True)
class Row:
    name: str
    group: str  # "real", "phase", "corpus"
    held_out: bool
    f: float
    before: float  # confidence without the phase doubt
    after: float
    ambiguity: float
    shift: float
    sections: tuple[SectionRow, ...] = ()


@contextmanager
def _no_phase_doubt() -> Iterator[None]:
    """The analysis as it was before the phase doubt: every track and section without doubt."""
    def none(*args: object) -> list[phase.PhaseDoubt]:
        sections = args[5] if len(args) > 5 else []
        return [phase.NO_DOUBT] * (1 + len(sections))  # type: ignore[arg-type]

    with mock.patch.object(phase, "section_phase_doubt", none):
        yield


def measure(name: str, group: str, held_out: bool, y: np.ndarray, sr: int, truth_beats: list[float]) -> Row:
    after = analyze_signal(y, sr, name)
    with _no_phase_doubt():
        before = analyze_signal(y, sr, name)
    est, ref = evaluate.trim(after.beats), evaluate.trim(truth_beats)
    f = evaluate.f_measure(est, ref)
    sections = []
    for mine, plain in zip(after.sections, before.sections, strict=True):
        inside = (ref >= mine.start) & (ref < mine.end)
        if inside.sum() >= MIN_SECTION_BEATS:
            section_f = evaluate.f_measure(est[(est >= mine.start) & (est < mine.end)], ref[inside])
            sections.append(SectionRow(section_f, plain.confidence, mine.confidence))
    return Row(name, group, held_out, f, before.confidence, after.confidence, after.phase_ambiguity,
               after.phase_shift, tuple(sections))


spearman = bootstrap.spearman  # Spearman(x, y); nan below 3 points or with a constant side


def correlations(songs: list[tuple[list[float], list[float], list[float]]]) -> str:
    """Spearman(before, F) and Spearman(after, F) over the points of `songs` (per song: its F, confidence
    before, confidence after: one point a track, or its sections), each with its by-song interval, and
    after - before with a paired one."""
    before = [(b, f) for f, b, _ in songs]
    after = [(a, f) for f, _, a in songs]
    return "  ".join(interval.text(2, sign=True, bounds=2) for interval in (
        bootstrap.spearman_interval(before), bootstrap.spearman_interval(after),
        bootstrap.spearman_difference_interval(after, before)))


def rows(realset: Path, synthesized: bool = True) -> Iterator[Row]:
    for truth_path in sorted(realset.glob("*.truth.json")):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        y, sr = read_audio(truth_path.with_name(truth_path.name.removesuffix(".truth.json") + ".wav"))
        # The fresh set's and the training set's songs are groups of their own (`make freshset`, `make trainset`).
        group = "fresh" if truth.get("fresh") else "train" if truth.get("group") == "train" else "real"
        yield measure(truth_path.name.removesuffix(".truth.json"), group, bool(truth.get("held_out")), y, sr,
                      truth["beats"])
    if not synthesized:
        return
    for group, specs in (("phase", demo.PHASE_SET), ("corpus", (*demo.CORPUS, *demo.HELD_OUT_2, *demo.HELD_OUT_3,
                                                                  *demo.HELD_OUT_4, *demo.HELD_OUT_5,
                                                                  *demo.HELD_OUT_6, *demo.HELD_OUT_7))):
        for spec in specs:
            samples, truth = spec.synthesize()
            yield measure(spec.name, group, spec.held_out, samples, demo.DEMO_SAMPLE_RATE, list(truth.beats))


def main(argv: list[str]) -> int:
    real_only = "--real-only" in argv
    argv = [a for a in argv if a != "--real-only"]
    realset = Path(argv[0]) if argv else DEFAULT_DIR
    if not any(realset.glob("*.truth.json")):
        print(f"note: no real-music set in {realset} (`make realset`): synthesized tracks only")
    found: list[Row] = []
    print(f"{'track':40} {'F':>5} {'before':>6} {'after':>6} {'doubt':>5} shift")
    for row in rows(realset, synthesized=not real_only):
        found.append(row)
        if row.group != "corpus" or row.f < 0.9 or row.ambiguity >= 0.5:
            print(f"{row.name[:40]:40} {row.f:5.3f} {row.before:6.3f} {row.after:6.3f} {row.ambiguity:5.2f} "
                  f"{row.shift:+.2f}{'  held-out' if row.held_out else ''}")
    print()
    columns = f"{'before (95% by song)':20}  {'after':20}  after - before (paired)"
    print(f"{'Spearman(confidence, beat F)':40} {'n':>4}  {columns}")
    groups: list[tuple[str, Callable[[Row], bool]]] = [
        ("real, tuning", lambda r: r.group == "real" and not r.held_out),
        ("real, held-out", lambda r: r.group == "real" and r.held_out),
        ("real, all", lambda r: r.group == "real"),
        ("fresh set", lambda r: r.group == "fresh"),
        ("training set", lambda r: r.group == "train"),
        ("phase set, tuning", lambda r: r.group == "phase" and not r.held_out),
        ("phase set, held-out", lambda r: r.group == "phase" and r.held_out),
        ("real + phase set held-out", lambda r: r.group == "real" or (r.group == "phase" and r.held_out)),
        ("real + phase set", lambda r: r.group in ("real", "phase")),
        ("synthesized corpus", lambda r: r.group == "corpus"),
        ("everything", lambda r: True),
    ]
    for label, pick in groups:
        group = [r for r in found if pick(r)]
        if not group:
            continue
        print(f"{label:40} {len(group):4d}  {correlations([([r.f], [r.before], [r.after]) for r in group])}"
              + (f"   (goal >= {GOAL})" if label == "real + phase set held-out" else ""))
    print(f"{'Spearman(section confidence, section F)':40} {'n':>4}  {columns}  songs")
    for label, pick in groups[:5]:  # the real set, the fresh set, the training set
        songs = [([s.f for s in r.sections], [s.before for s in r.sections], [s.after for s in r.sections])
                 for r in found if pick(r) and r.sections]
        if songs:
            print(f"{label:40} {sum(len(f) for f, _, _ in songs):4d}  {correlations(songs)}  {len(songs):5d}")
    corpus = [r for r in found if r.group == "corpus"]
    doubted = [r.name for r in corpus if r.ambiguity >= 0.5]
    if not corpus:
        return 0
    print(f"synthesized corpus: {len(doubted)} of {len(corpus)} tracks doubted (ambiguity >= 0.5)"
          + (f": {', '.join(doubted)}" if doubted else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
