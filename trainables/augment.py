"""Batched augmentation and normalisation on the trial's device.

The stored images are uint8 (B, 3, S, S). `train_views` gives every image of a batch its own random-resized-crop
and horizontal flip in ONE resampling call (grid_sample over per-image affine grids), so the work runs wherever
the images live (CPU or GPU) with no per-image Python loop and no PIL. torchvision.transforms.v2 applied to a batch would draw one
set of parameters for the whole batch, which is a different (weaker) augmentation.

Random parameters are drawn from a CPU torch.Generator on the CPU and only then moved to the images' device, so a
seed gives the same crops on CPU and GPU, and the generator state is a plain CPU state a checkpoint can hold.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_RATIO = (3 / 4, 4 / 3)  # aspect-ratio range of torchvision's RandomResizedCrop
CROP_ATTEMPTS = 10  # torchvision tries 10 (area, ratio) draws before falling back to a centre crop


def _check_images(images: torch.Tensor) -> None:
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"expected uint8 images of shape (B, 3, H, W), got {images.dtype} {tuple(images.shape)}")


def _normalise_(x: torch.Tensor) -> torch.Tensor:
    """In place: float pixel values in 0..255 -> (x / 255 - mean) / std per channel (ImageNet statistics)."""
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return x.mul_(1.0 / (255.0 * std)).sub_(mean / std)


def val_views(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float32 (B, 3, H, W), normalised, same device: the whole stored image, no randomness."""
    _check_images(images)
    return _normalise_(images.float())


def crop_boxes(batch: int, height: int, width: int, generator: torch.Generator,
               scale: tuple[float, float] = (0.7, 1.0), flip: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Random-resized-crop boxes drawn as torchvision's RandomResizedCrop.get_params does, for a whole batch.

    Returns (boxes, flips) on the CPU: boxes float32 (batch, 4) = (x0, y0, w, h) in pixels, continuous rather than
    rounded to whole pixels; flips bool (batch,). Per image: up to 10 draws of (area fraction ~ U(scale), log aspect
    ratio ~ U(log 3/4, log 4/3)); the first draw that fits inside the image wins; if none fits, the largest centred
    crop with a clamped aspect ratio. The position is uniform over where the box fits; flip with probability 0.5.
    """
    if generator.device.type != "cpu":
        raise ValueError(f"train_views needs a CPU torch.Generator (got one on {generator.device}); the random "
                         "parameters are drawn on the CPU so a seed gives the same views on every device")
    if not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise ValueError(f"crop scale must satisfy 0 < low <= high <= 1, got {scale}")
    area = torch.rand(batch, CROP_ATTEMPTS, generator=generator) * (scale[1] - scale[0]) + scale[0]
    log_lo, log_hi = math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])
    ratio = torch.exp(torch.rand(batch, CROP_ATTEMPTS, generator=generator) * (log_hi - log_lo) + log_lo)
    w = torch.sqrt(area * ratio) * math.sqrt(height * width)
    h = torch.sqrt(area / ratio) * math.sqrt(height * width)
    fits = (w <= width) & (h <= height)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # index of the first draw that fits (0 if none does)
    w = w.gather(1, first).squeeze(1)
    h = h.gather(1, first).squeeze(1)

    # Fallback, as torchvision: the whole image, its aspect ratio clamped into the allowed range.
    in_ratio = width / height
    if in_ratio < CROP_RATIO[0]:
        fallback_w, fallback_h = width, width / CROP_RATIO[0]
    elif in_ratio > CROP_RATIO[1]:
        fallback_w, fallback_h = height * CROP_RATIO[1], height
    else:
        fallback_w, fallback_h = width, height
    none_fits = ~fits.any(dim=1)
    w = torch.where(none_fits, torch.full_like(w, fallback_w), w)
    h = torch.where(none_fits, torch.full_like(h, fallback_h), h)

    x0 = torch.rand(batch, generator=generator) * (width - w)
    y0 = torch.rand(batch, generator=generator) * (height - h)
    flips = torch.rand(batch, generator=generator) < 0.5
    if not flip:
        flips = torch.zeros_like(flips)
    return torch.stack([x0, y0, w, h], dim=1), flips


def train_views(images: torch.Tensor, generator: torch.Generator, scale: tuple[float, float] = (0.7, 1.0),
                flip: bool = True) -> torch.Tensor:
    """uint8 (B, 3, H, W) on any device -> float32 (B, 3, H, W), normalised, on the same device.

    Each image gets its own random-resized-crop (area `scale`, aspect ratio 3/4..4/3), resampled bilinearly back to
    (H, W), and, when `flip`, a horizontal flip with probability 0.5. The parameters come from `generator` (CPU).
    """
    _check_images(images)
    batch, _, height, width = images.shape
    if batch == 0:
        return images.float()
    boxes, flips = crop_boxes(batch, height, width, generator, scale, flip)
    x0, y0, w, h = boxes.to(images.device).unbind(dim=1)
    grid = _sampling_grid(x0, y0, torch.where(flips.to(images.device), -w, w), h, height, width)
    # The boxes lie inside the image; "border" only guards the half-pixel rim against rounding.
    views = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return _normalise_(views)


def _sampling_grid(x0: torch.Tensor, y0: torch.Tensor, w: torch.Tensor, h: torch.Tensor, height: int,
                   width: int) -> torch.Tensor:
    """grid_sample's (B, H, W, 2) grid sending output pixel centres into the boxes; a negative w flips.

    Coordinates are normalised to [-1, 1] with align_corners=False (-1 and 1 are the outer pixel edges): the box
    [x0, x0 + w] is a scale w / W about its centre. What affine_grid computes for an axis-aligned theta, built by
    broadcasting instead of a (B, H*W, 3) x (3, 2) matmul, which costs as much as the sampling itself on a CPU.
    """
    centre_x = (2 * x0 + w.abs()) / width - 1
    centre_y = (2 * y0 + h) / height - 1
    u = (torch.arange(width, device=w.device, dtype=torch.float32) * 2 + 1) / width - 1  # output pixel centres
    v = (torch.arange(height, device=h.device, dtype=torch.float32) * 2 + 1) / height - 1
    grid_x = (centre_x[:, None] + u * (w / width)[:, None])[:, None, :, None]  # (B, 1, W, 1)
    grid_y = (centre_y[:, None] + v * (h / height)[:, None])[:, :, None, None]  # (B, H, 1, 1)
    shape = (len(w), height, width, 1)
    return torch.cat([grid_x.expand(shape), grid_y.expand(shape)], dim=-1)
