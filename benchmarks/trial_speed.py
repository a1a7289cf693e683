"""One paper-profile trial: our pipeline vs the re-created original loop, on the same device and data.

Generates an 887/221 JPEG folder (5 classes, ~300x300, like the original data set), trains ResNet-34 with both
pipelines and prints both times, the ratio, our training images/s and achieved TFLOP/s (FLOPs counted with
torch.utils.flop_counter on one training and one evaluation step, then scaled by the images seen).

    python benchmarks/trial_speed.py --device cuda              # the paper profile: 224x224, width 64, 10 epochs
    python benchmarks/trial_speed.py --size 64 --width 16 --epochs 1 --train 160 --val 40   # a CPU-sized run
"""
from __future__ import annotations

from pathlib import Path

import argparse
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.flop_counter import FlopCounterMode

from original_loop import original_trial
from trainables.data import load_data
from trainables.resnet import build_resnet
from trainables.trial import LocalReporter, train_trial

# Dense bf16 tensor-core peak, TFLOP/s, by device name fragment (vendor data sheets, SXM parts).
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0, "L40S": 362.0}
CLASSES = 5


def make_split_folder(root: Path, train: int, val: int, seed: int = 0) -> None:
    """root/train/<class>/*.jpg and root/val/<class>/*.jpg: smooth random colour fields of about 300x300."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        for i in range(count):
            coarse = rng.uniform(0, 255, size=(6, 6, 3)).astype(np.uint8)
            side = (int(rng.integers(280, 321)), int(rng.integers(280, 321)))
            folder = root / split / f"class{i % CLASSES}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(coarse).resize(side, Image.Resampling.BICUBIC).save(folder / f"{i:05d}.jpg", quality=90)


def training_flops(size: int, width: int, batch: int, device: str, num_classes: int = CLASSES,
                   **architecture) -> tuple[float, float]:
    """(FLOPs per training image, FLOPs per evaluation image), counted on one step in fp32.

    `architecture`: build_resnet's other arguments (depth, shortcut, se, activation, stem)."""
    architecture = {"stem": "imagenet", **architecture}
    model = build_resnet(num_classes=num_classes, width=width, **architecture).to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    train = counter.get_total_flops() / batch
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return train, counter.get_total_flops() / batch


def device_peak(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    name = torch.cuda.get_device_name()
    return next((peak for key, peak in BF16_PEAK_TFLOPS.items() if key in name), None)


def measure(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "images"
        make_split_folder(root, args.train, args.val)
        config = dict(seed=0, width=args.width, stem="imagenet", epochs=args.epochs, batch_size=32,
                      label_smoothing=0.1, threads=torch.get_num_threads(), checkpoint_every=args.checkpoint_every,
                      config_id="shortcut=1-se=0-act=relu")
        began = time.perf_counter()
        data = load_data(root, size=args.size, cache_dir=Path(scratch) / "cache")
        decode = time.perf_counter() - began
        reporter = LocalReporter(Path(scratch) / "ckpt")
        began = time.perf_counter()
        train_trial(config, data, reporter)
        ours = time.perf_counter() - began
        original = original_trial(root / "train", root / "val", size=args.size, width=args.width,
                                  epochs=args.epochs, device=args.device)
    train_flops, eval_flops = training_flops(args.size, args.width, 8, args.device)
    flops = args.epochs * (args.train * train_flops + args.val * eval_flops)
    train_seconds = sum(row["seconds"] for row in reporter.rows)
    return {"ours_s": ours + decode, "ours_train_s": ours, "decode_s": decode, "original_s": original["seconds"],
            "ratio": original["seconds"] / (ours + decode), "images_per_s": args.epochs * args.train / train_seconds,
            "tflops": flops / (ours + decode) / 1e12, "peak": device_peak(args.device),
            "ours_val_acc": reporter.rows[-1]["val_acc"], "original_val_acc": original["val_acc"]}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train", type=int, default=887)
    p.add_argument("--val", type=int, default=221)
    p.add_argument("--checkpoint-every", type=int, default=1)
    return p.parse_args(argv)


def report(result: dict, args: argparse.Namespace) -> None:
    print(f"one trial: ResNet-34 width {args.width}, {args.size}x{args.size}, {args.train}/{args.val} images, "
          f"{args.epochs} epochs, batch 32, on {args.device}")
    print(f"  original loop (PIL per item, num_workers=0, fp32): {result['original_s']:.1f} s "
          f"(val acc {result['original_val_acc']:.3f})")
    print(f"  ours (decode once {result['decode_s']:.1f} s + train {result['ours_train_s']:.1f} s): "
          f"{result['ours_s']:.1f} s (val acc {result['ours_val_acc']:.3f})")
    print(f"  speed-up {result['ratio']:.1f}x; {result['images_per_s']:.0f} training images/s; "
          f"{result['tflops']:.2f} TFLOP/s achieved (FLOPs counted)")
    if result["peak"]:
        print(f"  fraction of the device's bf16 peak ({result['peak']:.0f} TFLOP/s): "
              f"{result['tflops'] / result['peak']:.1%}")


if __name__ == "__main__":
    arguments = parse_args()
    report(measure(arguments), arguments)
