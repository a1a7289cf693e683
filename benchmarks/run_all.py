"""Run every benchmark at a size that fits the device, then print each one's result lines in one table.

    python benchmarks/run_all.py              # the GPU sizes when CUDA is available, else the CPU sizes
    python benchmarks/run_all.py --cpu        # force the CPU sizes

Every number printed comes from the scripts themselves; this only chooses their arguments and collects the
lines that carry ratios, times and efficiencies.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CPU_RUNS = {
    "model_throughput": [],
    "data_pipeline": [],
    "trial_speed": ["--size", "64", "--width", "16", "--epochs", "2", "--train", "200", "--val", "50"],
    "checkpoint_cost": [],
    "study_speed": ["--profile", "quick"],
    "report_speed": [],
}
GPU_RUNS = {
    "model_throughput": ["--device", "cuda", "--size", "224", "--batch", "32"],
    "data_pipeline": ["--device", "cuda"],
    "trial_speed": ["--device", "cuda"],
    "checkpoint_cost": [],
    "study_speed": ["--profile", "paper", "--gpus", "1", "0.5", "0.25", "--original"],
    "report_speed": [],
}
KEYWORDS = ("ratio", "speed-up", "efficiency", "peak", "TFLOP", "checkpoint", "original loop", "target",
            "--gpus-per-trial", "cold (", "warm (")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu", action="store_true", help="use the CPU sizes even where CUDA is available")
    p.add_argument("--only", nargs="+", help="run only these benchmarks")
    args = p.parse_args(argv)
    import torch

    runs = CPU_RUNS if args.cpu or not torch.cuda.is_available() else GPU_RUNS
    device = "cpu" if runs is CPU_RUNS else torch.cuda.get_device_name()
    summary, failed = [], 0
    for name, extra in runs.items():
        if args.only and name not in args.only:
            continue
        began = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *extra], capture_output=True, text=True)
        print(f"=== {name} {' '.join(extra)} ({time.perf_counter() - began:.0f} s, exit {done.returncode})")
        print(done.stdout.rstrip())
        if done.returncode != 0:
            failed += 1
            print(done.stderr.rstrip()[-2000:])
        lines = [line.strip() for line in done.stdout.splitlines() if any(k in line for k in KEYWORDS)]
        summary += [(name, line) for line in lines or ["(no result line)"]]
    print(f"\n=== summary on {device}")
    width = max(len(name) for name, _ in summary)
    for name, line in summary:
        print(f"{name:<{width}}  {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
