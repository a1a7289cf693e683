"""Training throughput of our ResNet-34 against torchvision's: does the configurable builder cost speed?

Both models get the same input, the same thread count and the same optimiser step (forward, cross-entropy,
backward, SGD with momentum). Runs are interleaved (ours, torchvision, ours, ...) after a warm-up so that drift in
clock speed or machine load hits both alike, and each throughput is the median over repeats.

    python benchmarks/model_throughput.py                      # CPU defaults: under a minute on 2 cores
    python benchmarks/model_throughput.py --device cuda --batch 64 --size 224
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torchvision
from torch import nn

from trainables.resnet import build_resnet

TARGET_RATIO = 0.97


def _sync(device: torch.device) -> None:
    # CUDA kernels run asynchronously; without a sync the timer would measure kernel launches, not work.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                steps: int) -> float:
    """Run `steps` training steps on one fixed batch; return images per second."""
    _sync(x.device)
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    _sync(x.device)
    return steps * x.shape[0] / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=112, help="square input side in pixels")
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed run")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model before timing")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per model; the median is reported")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    parser.add_argument("--classes", type=int, default=5)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    for name in ("batch", "size", "steps", "repeats", "threads", "classes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True  # both models have the same shapes, so both get the same tuned kernels

    torch.manual_seed(0)
    models = {
        "ours (build_resnet)": build_resnet(depth=34, num_classes=args.classes),
        "torchvision resnet34": torchvision.models.resnet34(num_classes=args.classes),
    }
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    y = torch.randint(args.classes, (args.batch,), device=device)
    runs = {}
    for name, model in models.items():
        model.to(device).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        runs[name] = (model, optimizer)
        if args.warmup:
            train_steps(model, optimizer, x, y, args.warmup)

    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (model, optimizer) in runs.items():
            rates[name].append(train_steps(model, optimizer, x, y, args.steps))

    print(f"device {args.device}, threads {args.threads}, batch {args.batch}, {args.size}x{args.size}, "
          f"{args.steps} steps x {args.repeats} repeats after {args.warmup} warm-up steps (median, [min, max])")
    medians = {}
    for name, values in rates.items():
        medians[name] = statistics.median(values)
        print(f"  {name:<22} {medians[name]:8.2f} img/s  [{min(values):.2f}, {max(values):.2f}]")
    ours, theirs = medians.values()
    # Each repeat ran the two models back to back, so their ratio shares that moment's machine load; the median
    # of these paired ratios stays honest when other processes compete for the cores.
    paired = statistics.median(a / b for a, b in zip(*rates.values()))
    print(f"  ratio ours/torchvision {ours / theirs:8.3f}  (target >= {TARGET_RATIO}; "
          f"median of paired per-repeat ratios {paired:.3f})")
    if any(max(values) > 1.5 * min(values) for values in rates.values()):
        print("  warning: timings of one model vary by more than 1.5x; the machine is busy, rerun when idle")


if __name__ == "__main__":
    main()
