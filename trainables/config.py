"""A trial's configuration: one flat, typed record of what a trial computes and how it runs.

Kept free of torch so the study's profiles (search_spaces/) take their recipe defaults from here cheaply.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Collection, Mapping


@dataclass(frozen=True)
class TrialConfig:
    """Everything one trial needs; the defaults are the original study's recipe (224x224 input, batch 32,
    10 epochs, AdamW 1e-3, wd 1e-4, label smoothing 0.1, random-resized-crop 0.7-1.0).

    `levels` holds the level of every component the trial's network is built with (trainables/components.py);
    a component it does not name takes its default (ResNet-34's level)."""

    seed: int = 0
    levels: Mapping[str, Any] = field(default_factory=dict)
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
        body = {key: value for key, value in asdict(self).items() if key != "threads"}
        body["levels"] = dict(sorted(dict(self.levels).items()))
        return body

    @classmethod
    def from_dict(cls, config: Mapping[str, Any], component_names: Collection[str] = ()) -> "TrialConfig":
        """A flat config (as a Tune trial gets it): keys naming a component are its levels, the others fields."""
        known = {f.name for f in fields(cls)}
        levels = {**dict(config.get("levels") or {}), **{k: v for k, v in config.items() if k in component_names}}
        rest = {k: v for k, v in config.items() if k not in component_names and k != "levels"}
        unknown = sorted(set(rest) - known)
        if unknown:
            raise ValueError(f"unknown trial config keys {unknown}; valid keys: {sorted(known)} and the registered "
                             f"components {sorted(component_names)}")
        return cls(levels=levels, **rest)
