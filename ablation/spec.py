"""The experiment spec: a profile's defaults, then the command line's overrides, resolved once and saved.

The resolved spec is written as `<storage>/<name>/spec.yaml` before any trial starts; `--resume` reads it back
so a resumed study runs exactly what the interrupted one meant to run.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import yaml

from search_spaces.factors import FACTORS, get_factors
from search_spaces.profiles import Profile

SPEC_FILE = "spec.yaml"


@dataclass(frozen=True)
class StudySpec:
    name: str
    storage: str  # absolute local path or URI
    profile: Profile
    seeds: tuple[int, ...]
    data: str | None = None  # None: the embedded digits
    images: str | None = None
    address: str | None = None
    wandb: str = "offline"
    wandb_project: str = "resnet-ablation"
    max_failures: int = 3
    tuned: dict[str, dict[str, float]] = field(default_factory=dict)  # config id -> tuned hyperparameters
    # --tune-first: the tuning budget, the same for every configuration ({"trials", "epochs", "concurrency"});
    # empty: no tuning stage. Saved so that a resumed study finishes an interrupted tuning stage the same way.
    tuning: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.profile
        get_factors(p.factors)
        checks = [
            (len(self.seeds) >= 1, f"need at least 1 seed, got {len(self.seeds)}"),
            (p.epochs >= 1, f"epochs must be >= 1, got {p.epochs}"),
            (p.image_size >= 8, f"image size must be >= 8, got {p.image_size}"),
            (p.width >= 1, f"width must be >= 1, got {p.width}"),
            (p.batch_size >= 2, f"batch size must be >= 2, got {p.batch_size}"),
            (p.cpus_per_trial > 0, f"--cpus-per-trial must be > 0, got {p.cpus_per_trial}"),
            (p.gpus_per_trial >= 0, f"--gpus-per-trial must be >= 0, got {p.gpus_per_trial}"),
            (0 < p.val_fraction < 1, f"val fraction must be in (0, 1), got {p.val_fraction}"),
            (self.wandb in ("offline", "online", "disabled"),
             f"--wandb must be offline, online or disabled, got {self.wandb!r}"),
        ]
        if self.tuning:  # --tune-first
            checks += [(self.tuning.get(key, 0) >= 1, f"--tune-{key} must be >= 1, got {self.tuning.get(key)}")
                       for key in ("trials", "epochs", "concurrency")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def run_dir(self) -> str:
        return f"{self.storage.rstrip('/')}/{self.name}"

    @property
    def factor_levels(self) -> dict[str, list[Any]]:
        """The varied factors and their levels in order (the analysis reads this as the authority)."""
        return {name: list(FACTORS[name].levels) for name in self.profile.factors}

    def to_yaml(self) -> str:
        body = asdict(self)
        body["seeds"] = list(self.seeds)
        body["profile"]["factors"] = list(self.profile.factors)
        body["factors"] = self.factor_levels
        return yaml.safe_dump(body, sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str) -> "StudySpec":
        body = yaml.safe_load(text)
        body.pop("factors", None)
        profile = body.pop("profile")
        profile["factors"] = tuple(profile["factors"])
        known = {f.name for f in fields(cls)}
        return cls(profile=Profile(**profile), seeds=tuple(body.pop("seeds")),
                   **{k: v for k, v in body.items() if k in known})
