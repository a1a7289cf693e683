"""Study profiles as data: one place for every default of a study.

- smoke: the whole path in about a minute on 2 cores (tests): tiny nets at tiny size, 2 seeds, 2 epochs.
- quick: the default: the embedded digits, narrow ResNet-34s at small size, 3 seeds, a few minutes on a laptop.
- paper: the original study's recipe (224x224, width 64, batch 32, 10 epochs, AdamW 1e-3, wd 1e-4, label
  smoothing 0.1, cosine, random-resized-crop 0.7-1.0 + flip, split 80:20 seed 42); meant for GPUs.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from search_spaces.factors import DEFAULT_FACTORS
from trainables.config import TrialConfig


# The trial recipe's defaults live once, in TrialConfig (the original study's recipe); a profile overrides them.
RECIPE = TrialConfig()


@dataclass(frozen=True)
class Profile:
    name: str
    factors: tuple[str, ...] = DEFAULT_FACTORS
    seeds: int = 3
    image_size: int = 224
    split_seed: int = 42
    vary_split: bool = False  # True: seed k trains and validates on the split drawn with split_seed + k
    val_fraction: float = 0.2
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    # The trial recipe: every trial of the study gets these (the fields TrialConfig has too).
    epochs: int = RECIPE.epochs
    width: int = RECIPE.width
    stem: str = RECIPE.stem
    depth: int = 34  # the depth component's level where a study does not vary it
    batch_size: int = RECIPE.batch_size
    lr: float = RECIPE.lr
    weight_decay: float = RECIPE.weight_decay
    label_smoothing: float = RECIPE.label_smoothing
    crop_scale_min: float = RECIPE.crop_scale_min
    checkpoint_every: int = RECIPE.checkpoint_every

    def with_overrides(self, **overrides: Any) -> "Profile":
        """A copy with the given fields replaced; None means 'keep the profile's value'."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown profile fields {unknown}; valid: {sorted(known)}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def trial_settings(self) -> dict[str, Any]:
        """The part of every trial's config that the profile fixes (the grid adds factors and seeds)."""
        return {name: getattr(self, name) for name in RECIPE_FIELDS}


RECIPE_FIELDS = tuple(f.name for f in fields(Profile) if f.name in {g.name for g in fields(TrialConfig)})

PROFILES: dict[str, Profile] = {
    "smoke": Profile(name="smoke", seeds=2, epochs=2, image_size=12, width=4, stem="small", batch_size=128,
                     lr=3e-3, label_smoothing=0.0),
    # Sized so the 8 x 3 study takes a few minutes on 2 cores (measured: see the README) and ResNet-34 reaches
    # about 0.9 validation accuracy on the digits.
    "quick": Profile(name="quick", seeds=3, epochs=8, image_size=16, width=8, stem="small", batch_size=64,
                     lr=3e-3),
    # A ResNet-34 + AdamW checkpoint is 256 MB and takes 0.76 s to save on 2 CPU cores
    # (benchmarks/checkpoint_cost.py), more than a GPU epoch of 887 images: checkpoint every 5th epoch.
    "paper": Profile(name="paper", seeds=5, epochs=10, image_size=224, width=64, stem="imagenet", batch_size=32,
                     label_smoothing=0.1, gpus_per_trial=0.25, checkpoint_every=5),
}
DEFAULT_PROFILE = "quick"


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles: {list(PROFILES)}")
    return PROFILES[name]
