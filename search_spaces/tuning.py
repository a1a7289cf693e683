"""The tuning stage's search: which hyperparameters, over which ranges, scored how, and how the winner is chosen.

Every configuration of the grid gets its own search over the same space with the same budget (`--tune-first`),
so no configuration competes with hyperparameters tuned for another. The searched ranges:

    lr               log-uniform 1e-4 .. 1e-2
    weight_decay     log-uniform 1e-6 .. 1e-2
    label_smoothing  uniform     0 .. 0.2

A tuning trial trains on an inner split of the TRAINING set and is scored on its inner validation part
(`INNER_VAL_FRACTION`, stratified, `INNER_SPLIT_SEED`): the study's validation set is never seen while tuning.
The winner of a configuration is its trial with the best inner validation accuracy (the last one it reported;
ASHA may stop a trial early), ties going to the earlier trial.

This module holds data only (and converts it to Ray Tune's or Optuna's types on request); ablation/tune_first.py
runs the search.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


SPACE: dict[str, Range] = {
    "lr": Range(1e-4, 1e-2, log=True),
    "weight_decay": Range(1e-6, 1e-2, log=True),
    "label_smoothing": Range(0.0, 0.2),
}
TUNED = tuple(SPACE)  # the hyperparameters a tuned study sets per configuration (spec.yaml `tuned:`)

METRIC, MODE = "val_acc", "max"  # what a tuning trial reports per epoch (on the inner validation split)
TIME_ATTR = "epoch"  # ASHA's clock: epochs, counted from 1
GRACE_PERIOD = 1  # ASHA: every trial trains at least this many epochs
REDUCTION_FACTOR = 3  # ASHA: keep the top third at each rung
TUNING_SEED = 0  # the sampler's seed and every tuning trial's training seed
INNER_VAL_FRACTION = 0.2
INNER_SPLIT_SEED = 0
DEFAULT_TRIALS = 20  # Optuna's TPE samples at random for its first 10 trials, then models the results
DEFAULT_CONCURRENCY = 1  # sequential: TPE sees every earlier result and ASHA's decisions do not depend on timing


def tune_space() -> dict[str, Any]:
    """The space as Ray Tune sampling domains (OptunaSearch converts them to Optuna distributions)."""
    from ray import tune

    return {name: (tune.loguniform(r.low, r.high) if r.log else tune.uniform(r.low, r.high))
            for name, r in SPACE.items()}


def optuna_distributions() -> dict[str, Any]:
    """The same space as Optuna distributions."""
    from optuna.distributions import FloatDistribution

    return {name: FloatDistribution(r.low, r.high, log=r.log) for name, r in SPACE.items()}


def choose(rows: Iterable[Mapping[str, Any]], score: str = "inner_val_acc",
           index: str = "tuning_trial") -> Mapping[str, Any] | None:
    """The winning row: the highest `score`, ties to the lowest `index`; rows without a score, or of a trial that
    failed (a `status` other than 'completed'), never win."""
    scored = [r for r in rows if r.get(score) is not None and not _is_nan(r[score])
              and r.get("status", "completed") == "completed"]
    if not scored:
        return None
    return min(scored, key=lambda r: (-float(r[score]), int(r[index])))


def tuned_values(row: Mapping[str, Any]) -> dict[str, float]:
    """The hyperparameters of a chosen row, as spec.yaml stores them."""
    return {name: float(row[name]) for name in TUNED}


def _is_nan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True
