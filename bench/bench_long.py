"""Memory and time of analysing long files: block by block (`analyze_file`) against reading the file whole.

    python bench/bench_long.py [MINUTES ...]     (default: 15 60 240)

Writes a steady groove (`demo.write_long_track`, 44.1 kHz mono 16-bit: 5.3 MB a minute) of each length into
a temporary directory and analyses it in a fresh process each way, printing the peak resident memory
(MB), the wall time (s) and the ratios streamed/whole. The baseline is what `analyze_file` did before
issue 14 item 16: decode the whole file, then `analyze_signal` on it; it is skipped beyond 60 minutes
(4 hours took ~6 GB). The issue's bound: 500 MB for any length.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run from a checkout without installing: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from showctl.analysis.demo import write_long_track

BOUND_MB = 500.0
BASELINE_UP_TO = 60.0  # minutes

# Run in a child, which reports its own peak (ru_maxrss, kB) on the last line.
_STREAMED = "from showctl.analysis import analyze_file; analyze_file({path!r})"
_WHOLE = ("from showctl.analysis import read_audio; from showctl.analysis.tracker import analyze_signal;"
          "from pathlib import Path; y, sr = read_audio(Path({path!r})); analyze_signal(y, sr)")
_PEAK = "; import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


def _measure(code: str, path: Path) -> tuple[float, float]:
    """(peak MB, seconds) of `code` run on `path` in a fresh Python."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code.format(path=str(path)) + _PEAK], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    seconds = time.perf_counter() - start
    return int(out.stdout.split()[-1]) / 1024, seconds


def main(argv: list[str]) -> int:
    minutes = [float(m) for m in argv] or [15.0, 60.0, 240.0]
    print(f"{'length':>8} {'file MB':>8} {'peak MB':>8} {'s':>7} {'whole MB':>9} {'whole s':>8} "
          f"{'MB ratio':>9} {'s ratio':>8}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for m in minutes:
            path = Path(tmp) / f"{m:g}min.wav"
            write_long_track(path, m * 60.0, channels=1)
            size = path.stat().st_size / 1e6
            peak, seconds = _measure(_STREAMED, path)
            worst = max(worst, peak)
            if m <= BASELINE_UP_TO:
                whole_peak, whole_s = _measure(_WHOLE, path)
                tail = f"{whole_peak:9.0f} {whole_s:8.1f} {peak / whole_peak:9.2f} {seconds / whole_s:8.2f}"
            else:
                tail = f"{'-':>9} {'-':>8} {'-':>9} {'-':>8}"
            print(f"{m:6g} m {size:8.0f} {peak:8.0f} {seconds:7.1f} {tail}", flush=True)
            path.unlink()
    verdict = "within" if worst <= BOUND_MB else "ABOVE"
    print(f"peak {worst:.0f} MB for any length tried: {verdict} the {BOUND_MB:.0f} MB bound")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
