"""Perceptual duplicates: the same picture stored as different bytes (a PNG saved again, a JPEG re-encoded).

Exact duplicates (same bytes) are found by their sha256 (trainables/image_files.py); these are not. Two decoded
images (at the study's image size) are perceptual duplicates when their decoded pixels differ by at most
MAX_MEAN_DIFFERENCE grey levels (of 255) on average. Candidates come from 4x4 thumbnails (the block means, where
re-encoding noise averages out), compared all against all in blocks, so the full comparison runs on few pairs.
A perceptual hash (imagehash.phash) was tried as the key and rejected: at 16x16 a PNG and its JPEG at quality 90-98
differed in 10-22 of its 64 bits (measured), so equal hashes miss them, and two flat images of different colours
hash alike.
The rule applied (trainables/data.py): the later copy in key order is dropped (in a tree already split, the copy
in val/ when the other is in train/), with a note; two copies under different labels are a DataError.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

MAX_MEAN_DIFFERENCE = 2.0  # what re-encoding at a high quality changes (measured < 0.8); another picture, far more
BLOCK = 1024  # thumbnails compared at once: BLOCK x N distances in memory


def perceptual_duplicates(images: torch.Tensor) -> list[tuple[int, int]]:
    """(later index, earlier index) for every image that duplicates an earlier one; images: uint8 (N, 3, H, W)."""
    count = len(images)
    if count < 2:
        return []
    # Block means differ by at most the pixels do (on average), so the thumbnails miss no pair the pixels match.
    thumbs = F.adaptive_avg_pool2d(images.float(), 4).flatten(1)
    pairs, dropped = [], set()
    for start in range(0, count, BLOCK):
        distance = torch.cdist(thumbs[start:start + BLOCK], thumbs, p=1) / thumbs.shape[1]
        for row, col in (distance <= MAX_MEAN_DIFFERENCE).nonzero().tolist():
            later, earlier = start + row, col
            if earlier >= later or later in dropped or earlier in dropped:
                continue
            if _mean_difference(images[later], images[earlier]) <= MAX_MEAN_DIFFERENCE:
                pairs.append((later, earlier))
                dropped.add(later)
    return sorted(pairs)


def _mean_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.to(torch.int16) - b.to(torch.int16)).abs().float().mean())
