"""Every statistic the report shows, computed once from a loaded study.

The parts that need a balanced two-level design (effects, Shapley, power of the effects) are skipped with the
reason in `skipped` when the data cannot support them; the rest (aggregates, paired comparisons) still run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.aggregate import config_summary, curve_summary, interaction_means, marginal_means, per_seed_values
from analysis.design import balance, cell_means
from analysis.effects import factorial_effects
from analysis.load import COMPLETED, METRICS, ResultsError, Study
from analysis.paired import paired_comparisons, study_table
from analysis.power import effect_power
from analysis.shapley import gain_interval, shapley_attribution

N_BOOT = 2000
RANDOM_STATE = 0  # the bootstrap's seed: the same tables give the same report


@dataclass
class Analysis:
    study: Study
    metric: str
    configs: pd.DataFrame  # config_summary, every configuration
    values: dict[str, pd.DataFrame]  # metric -> per_seed_values
    curves: pd.DataFrame | None  # curve_summary, None without epochs
    table: pd.DataFrame  # the original study's table (study_table)
    paired: pd.DataFrame  # named-model comparisons
    failed: pd.DataFrame  # trials that did not complete
    balanced: pd.DataFrame | None = None  # completed trials of the seeds complete in every cell
    effects: pd.DataFrame | None = None
    power: pd.DataFrame | None = None
    shapley: pd.DataFrame | None = None
    gain: dict | None = None  # baseline, full, gain and its CI
    cells: pd.DataFrame | None = None  # cell means of the balanced data, bit-mask order
    marginal: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)  # gaps: what is missing or was left out
    skipped: list[str] = field(default_factory=list)  # analyses not made, and why

    @property
    def n_balanced(self) -> int:
        return 0 if self.balanced is None else self.balanced["seed"].nunique()


def analyse(study: Study, metric: str = "final_val_acc", n_boot: int = N_BOOT,
            rng: int | np.random.Generator | None = RANDOM_STATE) -> Analysis:
    if metric not in METRICS:
        raise ResultsError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    trials, factors = study.trials, study.factors
    status = trials["status"].astype(str).str.strip().str.lower()
    failed = trials[status != COMPLETED]
    curves = None
    if study.epochs is not None:
        curves = curve_summary(study.epochs, trials, factors)
    result = Analysis(
        study=study, metric=metric,
        configs=config_summary(trials, factors),
        values={m: per_seed_values(trials, factors, m) for m in METRICS},
        curves=curves,
        table=study_table(trials, factors, metric),
        paired=paired_comparisons(trials, factors, metric, n_boot=n_boot, rng=rng),
        failed=failed,
        notes=list(study.notes),
    )
    no_value = (status == COMPLETED) & trials[metric].isna()
    if no_value.any():
        result.notes.append(f"{int(no_value.sum())} completed trial(s) have no {metric}; left out")
    try:
        balanced, balance_notes = balance(trials, factors, metric)
    except ValueError as err:
        result.skipped.append(f"factorial effects, Shapley attribution and their power: {err}")
        return result
    result.notes += balance_notes
    result.balanced = balanced
    result.effects = factorial_effects(balanced, factors, metric)
    result.power = effect_power(result.effects, n_cells=2 ** len(factors))
    result.shapley = shapley_attribution(balanced, factors, metric, n_boot=n_boot, rng=rng)
    result.gain = gain_interval(balanced, factors, metric, n_boot=n_boot, rng=rng)
    result.cells = cell_means(balanced, factors, metric)
    result.marginal = marginal_means(balanced, factors, metric)
    result.interactions = interaction_means(balanced, factors, metric)
    if result.n_balanced < 2:
        result.skipped.append("confidence intervals and p-values of the effects and Shapley values: they need "
                              "at least 2 seeds complete in every cell")
    return result
