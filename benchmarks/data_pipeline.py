"""Time per training epoch of the data path alone (no model): the original study's loader against ours.

(a) the original study's way: torchvision ImageFolder, PIL decode + RandomResizedCrop(224, scale=(0.7, 1.0)) +
    RandomHorizontalFlip + ToTensor + Normalize per item, DataLoader(batch_size=32, shuffle=True, num_workers=0);
(b) ours: load_data once (decode + disk cache, timed separately as a one-time cost), then per epoch a random
    permutation and batches of 32 through the batched train_views.
Both read every image once per epoch. Epochs alternate (a, b, a, b, ...) so machine drift hits both alike; each
time is the median over epochs. The images are 1,000 smooth random JPEGs of about 300x300 in 5 class folders.

    python benchmarks/data_pipeline.py                      # about a minute on 2 cores
    python benchmarks/data_pipeline.py --device cuda        # (b) with the images resident on the GPU
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from trainables.data import IMAGENET_MEAN, IMAGENET_STD, load_data, train_views

TARGET_RATIO = 5.0
BATCH = 32
CLASSES = 5


def make_images(root: Path, count: int, seed: int = 0) -> None:
    """`count` JPEGs of about 300x300 in CLASSES folders: random low-frequency colour fields, smooth like photos."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        coarse = rng.uniform(0, 255, size=(6, 6, 3)).astype(np.uint8)
        side = (int(rng.integers(280, 321)), int(rng.integers(280, 321)))
        folder = root / f"class{i % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(coarse).resize(side, Image.Resampling.BICUBIC).save(folder / f"{i:05d}.jpg", quality=90)


def original_epoch(loader) -> float:
    start = time.perf_counter()
    for images, labels in loader:
        pass
    return time.perf_counter() - start


def our_epoch(images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> float:
    _sync(images.device)
    start = time.perf_counter()
    order = torch.randperm(len(images), generator=generator).to(images.device)
    for first in range(0, len(images), BATCH):
        index = order[first:first + BATCH]
        # index_select, not images[index]: on a CPU it copies whole rows, ~5x faster than advanced indexing.
        views, targets = train_views(images.index_select(0, index), generator), labels.index_select(0, index)
    _sync(images.device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    # CUDA kernels run asynchronously; without a sync the timer would measure kernel launches, not work.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="number of generated JPEGs")
    parser.add_argument("--size", type=int, default=224, help="training image side in pixels")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per pipeline; the median is reported")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch CPU threads, and our decoding threads")
    parser.add_argument("--dir", type=Path, help="folder for the generated images (reused if already there)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where (b) keeps its images")
    args = parser.parse_args(argv)
    for name in ("images", "size", "epochs", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.images < 2 * CLASSES:
        parser.error(f"--images must be at least {2 * CLASSES} (two per class)")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as scratch:
        root = args.dir if args.dir is not None else Path(scratch) / "images"
        if len(list(root.glob("class*/*.jpg"))) != args.images:
            if root.exists() and any(root.iterdir()):
                parser.error(f"--dir {root}: holds other files than {args.images} generated JPEGs; use an empty folder")
            make_images(root, args.images)
        run(root, args, cache_dir=Path(scratch) / "cache")


def run(root: Path, args: argparse.Namespace, cache_dir: Path) -> None:
    import torchvision
    from torchvision import transforms

    transform = transforms.Compose([
        transforms.RandomResizedCrop(args.size, scale=(0.7, 1.0)),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    dataset = torchvision.datasets.ImageFolder(str(root), transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0)

    start = time.perf_counter()
    data = load_data(root, size=args.size, cache_dir=cache_dir, threads=args.threads)
    decode_seconds = time.perf_counter() - start
    start = time.perf_counter()
    data = load_data(root, size=args.size, cache_dir=cache_dir, threads=args.threads)
    cached_seconds = time.perf_counter() - start
    device = torch.device(args.device)
    # Every image once per epoch, as (a) does: train and val parts together.
    images = torch.cat([data.train_images, data.val_images]).to(device)
    labels = torch.cat([data.train_labels, data.val_labels]).to(device)
    generator = torch.Generator().manual_seed(0)

    next(iter(loader))  # warm-up: first-call costs (imports, allocator) are not an epoch's
    our_epoch(images[:BATCH], labels[:BATCH], generator)
    original, ours = [], []
    for _ in range(args.epochs):
        original.append(original_epoch(loader))
        ours.append(our_epoch(images, labels, generator))
    a, b = statistics.median(original), statistics.median(ours)

    print(f"data path only, {len(images)} JPEGs (~300x300, {CLASSES} classes) -> {args.size}x{args.size}, "
          f"batch {BATCH}, {args.threads} threads, median of {args.epochs} epochs; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"(a) original: ImageFolder + PIL RandomResizedCrop/Flip/ToTensor/Normalize per item: {a:.3f} s/epoch "
          f"(epochs: {', '.join(f'{t:.3f}' for t in original)})")
    print(f"(b) ours: cached uint8 tensor + batched train_views on {args.device}: {b:.3f} s/epoch "
          f"(epochs: {', '.join(f'{t:.3f}' for t in ours)})")
    print(f"    one-time cost of (b): decode + cache write {decode_seconds:.2f} s; a later load from the cache "
          f"{cached_seconds:.2f} s")
    ratio = a / b
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"ratio (a)/(b): {ratio:.1f}x per epoch (target >= {TARGET_RATIO:.0f}x: {verdict})")


if __name__ == "__main__":
    main()
