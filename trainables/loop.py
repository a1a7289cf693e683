"""Train and evaluate one epoch on image tensors that already sit on the trial's device.

The data arrive as uint8 tensors (decoded once per study, see data.py); augmentation and normalisation run
batched on the device, so an epoch is a loop of index slicing, one augmentation call and one optimiser step.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from trainables.data import train_views, val_views


@dataclass(frozen=True)
class EpochStats:
    loss: float
    acc: float


@dataclass(frozen=True)
class Precision:
    """How the maths runs on a device: bf16 autocast and channels_last pay on CUDA, not on CPU."""

    autocast_dtype: torch.dtype | None
    channels_last: bool

    @classmethod
    def for_device(cls, device: torch.device) -> "Precision":
        if device.type == "cuda":
            return cls(autocast_dtype=torch.bfloat16, channels_last=True)
        return cls(autocast_dtype=None, channels_last=False)

    def autocast(self, device: torch.device):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)

    def prepare(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int,
    generator: torch.Generator,
    criterion: nn.Module,
    precision: Precision,
    crop_scale: tuple[float, float] = (0.7, 1.0),
) -> EpochStats:
    """One pass over `images` (uint8, N x 3 x S x S) in a random order drawn from `generator`.

    The scheduler steps once per batch (cosine over all steps of the trial). A last batch of one image is
    dropped: BatchNorm cannot normalise a single sample at 1x1 spatial size.
    """
    model.train()
    device = images.device
    order = torch.randperm(len(images), generator=generator).to(device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        if len(index) < 2:
            break
        # index_select copies whole rows; on a CPU it is several times faster than images[index].
        inputs = precision.prepare(train_views(images.index_select(0, index), generator, scale=crop_scale))
        targets = labels.index_select(0, index)
        with precision.autocast(device):
            logits = model(inputs)
            loss = criterion(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        # Accumulate on the device: a .item() per batch would synchronise a GPU every step.
        loss_sum += loss.detach().float() * len(index)
        correct += (logits.detach().argmax(dim=1) == targets).sum()
        seen += len(index)
    return EpochStats(loss=loss_sum.item() / max(seen, 1), acc=correct.item() / max(seen, 1))


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int,
    precision: Precision,
) -> EpochStats:
    """Mean cross-entropy (no label smoothing) and accuracy on the deterministic centre views."""
    model.eval()
    device = images.device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for start in range(0, len(images), batch_size):
        inputs = precision.prepare(val_views(images[start : start + batch_size]))
        targets = labels[start : start + batch_size]
        with precision.autocast(device):
            logits = model(inputs)
        loss_sum += nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
        correct += (logits.argmax(dim=1) == targets).sum()
    count = max(len(images), 1)
    return EpochStats(loss=loss_sum.item() / count, acc=correct.item() / count)
