"""What one epoch checkpoint costs: saving and loading a trial's full state at a profile's model size.

The state is what trainables/trial.py writes every `checkpoint_every` epochs: model, AdamW state (two moments
per parameter), scheduler, RNG states and history. For the paper profile (ResNet-34, width 64) that is about
260 MB. Compare the printed seconds with an epoch's time to choose `checkpoint_every`: a killed trial resumes
exactly from any checkpoint, a sparser cadence only means recomputing more epochs after a failure.

    python benchmarks/checkpoint_cost.py [--width 64] [--repeats 3] [--dir /path/on/the/storage]
"""
from __future__ import annotations

from pathlib import Path

import argparse
import statistics
import tempfile
import time

import torch

from trainables.resnet import build_resnet


def full_state(width: int) -> dict:
    model = build_resnet(depth=34, num_classes=5, width=width)
    optimizer = torch.optim.AdamW(model.parameters(), fused=True)
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    optimizer.step()  # materialises both moment buffers
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dir", type=Path, help="where to write (default: a temporary folder)")
    args = p.parse_args(argv)
    state = full_state(args.width)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        path = Path(folder) / "state.pt"
        saves, loads = [], []
        for _ in range(args.repeats):
            began = time.perf_counter()
            torch.save(state, path)
            saves.append(time.perf_counter() - began)
            began = time.perf_counter()
            torch.load(path, weights_only=True)
            loads.append(time.perf_counter() - began)
        size = path.stat().st_size / 1e6
    print(f"checkpoint of ResNet-34 width {args.width} + AdamW: {size:.0f} MB; save {statistics.median(saves):.2f} s, "
          f"load {statistics.median(loads):.2f} s (median of {args.repeats})")


if __name__ == "__main__":
    main()
