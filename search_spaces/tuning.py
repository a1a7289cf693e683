"""The tuning stage's search: which hyperparameters, over which ranges, scored how, and how the winner is chosen.

Every configuration of the grid gets its own search over the same space with the same budget (`--tune-first`),
so no configuration competes with hyperparameters tuned for another. The searched ranges:

    lr               log-uniform 1e-4 .. 1e-2
    weight_decay     log-uniform 1e-6 .. 1e-2
    label_smoothing  uniform     0 .. 0.2

A tuning trial trains on an inner split of the TRAINING set and is scored on its inner validation part
(`INNER_VAL_FRACTION`, stratified, `INNER_SPLIT_SEED`): the study's validation set is never seen while tuning.
The winner of a configuration is its trial with the best inner validation accuracy (the last one it reported;
ASHA may stop a trial early), ties going to the earlier trial: `choose` in analysis/stats/tuning_rule.py, the one rule
the study applies and its report reads back, next to `TUNED`, the names of the searched hyperparameters.

This module holds data only (and converts it to Ray Tune's or Optuna's types on request); ablation/tune_first.py
runs the search.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from analysis.stats.tuning_rule import TUNED


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
# the search and the report must name the same hyperparameters (spec.yaml `tuned:` stores them by these names)
assert tuple(SPACE) == TUNED, f"SPACE searches {tuple(SPACE)}, analysis.stats.tuning_rule.TUNED names {TUNED}"

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


def tuned_values(row: Mapping[str, Any]) -> dict[str, float]:
    """The hyperparameters of a chosen row, as spec.yaml stores them."""
    return {name: float(row[name]) for name in TUNED}

