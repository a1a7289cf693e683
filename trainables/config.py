"""A trial's configuration: one flat, typed record of what a trial computes and how it runs.

Kept free of torch so the study's profiles (search_spaces/) take their recipe defaults from here cheaply.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TrialConfig:
    """Everything one trial needs; the defaults are the original study's recipe (ResNet-34, 224x224 input,
    batch 32, 10 epochs, AdamW 1e-3, wd 1e-4, label smoothing 0.1, random-resized-crop 0.7-1.0)."""

    seed: int = 0
    depth: int = 34
    shortcut: bool = True
    se: bool = False
    activation: str = "relu"
    width: int = 64
    stem: str = "imagenet"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    crop_scale_min: float = 0.7
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    checkpoint_every: int = 1  # epochs between checkpoints; the last epoch always checkpoints
    deterministic: bool = False  # on CUDA: no cudnn autotuning, deterministic kernels
    config_id: str = ""
    model_name: str = ""

    def identity(self) -> dict[str, Any]:
        """What the trial computes: every field but how it runs (threads), so a resume on other CPUs matches."""
        return {key: value for key, value in asdict(self).items() if key != "threads"}

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> "TrialConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown trial config keys {unknown}; valid keys: {sorted(known)}")
        return cls(**config)
