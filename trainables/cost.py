"""What a trial costs: training FLOPs per image and the peak memory of the process that trains it.

FLOPs are counted by torch's own `torch.utils.flop_counter.FlopCounterMode` over one forward and backward pass
of a small batch in training mode, divided by the batch size. The counter counts the matrix products and
convolutions (forward, and in the backward pass the gradients autograd actually computes: no input gradient for
the first layer); element-wise work (BatchNorm, activations, the optimiser step) is not counted, as in the papers
that report FLOPs. The count runs on a copy of the model under a forked RNG, so the trial's weights, BatchNorm
statistics and random streams are exactly those of a trial that never counted (resume stays bit-exact).

Peak memory: on CUDA the caching allocator's peak (`torch.cuda.max_memory_allocated`, reset when the trial
starts); on a CPU the process's peak resident set (`resource.getrusage`), which for a Ray worker that ran an
earlier trial includes that trial's peak: an upper bound, compared between configurations only as noisy data.
"""
from __future__ import annotations

import contextlib
import copy
import resource
import sys

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

FLOP_BATCH = 2  # BatchNorm in training mode needs at least two samples


def training_flops_per_image(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, criterion: nn.Module,
                             autocast=None) -> float:
    """FLOPs of one training step (forward + backward) on `inputs`, per image; `model` is left untouched."""
    counted = copy.deepcopy(model).train()
    devices = [inputs.device.index or 0] if inputs.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), FlopCounterMode(display=False) as counter:
        with autocast if autocast is not None else contextlib.nullcontext():
            loss = criterion(counted(inputs), targets)
        loss.backward()
    return counter.get_total_flops() / len(inputs)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """The peak memory so far, in MiB: the CUDA allocator's on a GPU, the process's peak RSS on a CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux
