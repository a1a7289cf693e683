"""Time to build the full report of a study of 8 configurations x 10 seeds x 10 epochs (target: under 15 s).

The study is simulated (analysis/simulate.py) into a temporary folder. Two times are measured:
(a) cold: `python analysis/report.py RUN_DIR` in a fresh process, imports included (what a user waits for);
(b) warm: `build_report(RUN_DIR)` in this process after one untimed build (what the study runner pays).
Each is the median of --repeats runs.

    python benchmarks/report_speed.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from analysis.simulate import make_study

from analysis.report import build_report

TARGET_S = 15.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = make_study(Path(tmp) / "run", n_seeds=10, epochs=10)
        cold = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "analysis/report.py", str(run)], cwd=ROOT, check=True,
                           capture_output=True)
            cold.append(time.perf_counter() - start)
        build_report(run)
        warm = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            build_report(run)
            warm.append(time.perf_counter() - start)
    cold_s, warm_s = statistics.median(cold), statistics.median(warm)
    print(f"report for 8 configurations x 10 seeds x 10 epochs, median of {args.repeats}:")
    print(f"  cold (python analysis/report.py, fresh process): {cold_s:.2f} s  (runs: "
          + ", ".join(f"{t:.2f}" for t in cold) + ")")
    print(f"  warm (build_report in a running process):        {warm_s:.2f} s  (runs: "
          + ", ".join(f"{t:.2f}" for t in warm) + ")")
    ok = max(cold_s, warm_s) < TARGET_S
    print(f"  target < {TARGET_S:.0f} s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
