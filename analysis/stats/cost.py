"""What each component costs, as factorial effects of a cost column, and the cost per point of accuracy.

Effects are Yates contrasts (as analysis/stats/effects.py: main effect = mean at the second level - mean at the first,
interactions by the same +-1 products) computed seed by seed over the seeds measured in every cell: for seed s,
effect_s = (2 / 2^k) sum_cells code_term(cell) * y(cell, s). On the log scale (the default) an effect is the log
of a ratio of geometric means (`ratio` = exp(effect): SE multiplies FLOPs by `ratio`, averaged over the other
factors), which is how costs compose.

Deterministic costs (params, flops_per_image) are the same in every seed of a configuration: the per-seed
contrasts agree, the effect is exact and has NO interval (ci_low = ci_high = estimate, interval = 'exact'); a
deterministic cost whose seeds disagree is reported with its spread in `notes`. Noisy costs (seconds_per_epoch,
peak_memory_mb) get a Student-t interval over the per-seed contrasts (n - 1 degrees of freedom), which assumes
the per-seed contrasts independent and normal: a seed's trials ran at one time on one machine, so load shared by
a seed's trials cancels in its contrast, but trials that shared the machine with different neighbours are noisier
than the interval's n suggests; p-values are two-sided, Holm over the terms, `resolved` at alpha.

`cost_per_point`: a cost effect (raw units) divided by the accuracy effect of the same term in percentage points,
only where the accuracy effect is resolved (elsewhere NaN: a ratio over an effect that may be 0 is unbounded). It
is a point estimate without an interval.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.doe.coding import coded_columns, term_name, terms
from analysis.stats.model_design import balance, cell_matrix
from analysis.stats.multiplicity import ALPHA, holm, resolved

DETERMINISTIC = ("params", "flops_per_image")


@dataclass(frozen=True)
class CostEffects:
    """table: term, estimate, ci_low, ci_high, ratio (log scale only), n_seeds, p_value, p_holm, resolved,
    interval ('exact' or 't over seeds')."""

    table: pd.DataFrame
    cost: str
    log_scale: bool
    deterministic: bool
    n_seeds: int
    notes: list[str] = field(default_factory=list)


def per_seed_contrasts(values: np.ndarray, factors: Mapping[str, Sequence]) -> np.ndarray:
    """(terms, seeds) Yates effects of a (2^k cells, seeds) matrix in bit-mask order."""
    codes = coded_columns(factors)
    return 2.0 / len(codes) * codes.T @ values


def contrast_intervals(per_seed: np.ndarray, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """Vectorised core: per-seed contrasts [..., terms, seeds] -> estimate, ci_low, ci_high, p_value [..., terms]
    (mean over seeds, two-sided Student-t interval and test on n - 1 degrees of freedom)."""
    n = per_seed.shape[-1]
    estimate = per_seed.mean(axis=-1)
    se = per_seed.std(axis=-1, ddof=1) / np.sqrt(n)
    half = stats.t.ppf(1 - alpha / 2, n - 1) * se
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.t.sf(np.abs(estimate / se), n - 1)
    return {"estimate": estimate, "ci_low": estimate - half, "ci_high": estimate + half, "p_value": p}


def cost_effects(trials: pd.DataFrame, factors: Mapping[str, Sequence], cost: str, log_scale: bool = True,
                 deterministic: bool | None = None, alpha: float = ALPHA) -> CostEffects:
    """The effect of every term of the full 2^k model on `cost` (a trials.csv column), seed by seed."""
    data, notes = balance(trials, factors, cost)
    values, seeds = cell_matrix(data, factors, cost)
    if log_scale:
        if (values <= 0).any():
            raise ValueError(f"{cost} has values <= 0: its log-scale effects are undefined")
        values = np.log(values)
    fixed = cost in DETERMINISTIC if deterministic is None else deterministic
    per_seed = per_seed_contrasts(values, factors)
    n = per_seed.shape[1]
    estimate = per_seed.mean(axis=1)
    names = [term_name(t) for t in terms(factors)]
    if fixed:
        rounding = 1e-9 * np.abs(values).max()  # of the sums of logs or counts, not a real difference
        spread = per_seed.max(axis=1) - per_seed.min(axis=1)
        notes += [f"{cost}: {name} differs between seeds by {s:.3g}" for name, s in zip(names, spread)
                  if s > rounding]
        estimate = np.where(np.abs(estimate) > rounding, estimate, 0.0)
        low = high = estimate
        p = p_holm = np.full(len(names), np.nan)
        decided = estimate != 0
        interval = "exact"
    else:
        if n < 2:
            raise ValueError(f"{cost} is noisy: its intervals need at least 2 seeds measured in every cell")
        found = contrast_intervals(per_seed, alpha)
        low, high, p = found["ci_low"], found["ci_high"], found["p_value"]
        p_holm = holm(p)
        decided = resolved(p_holm, alpha)
        interval = "t over seeds"
    table = pd.DataFrame({"term": names, "estimate": estimate, "ci_low": low, "ci_high": high, "n_seeds": n,
                          "p_value": p, "p_holm": p_holm, "resolved": decided, "interval": interval})
    if log_scale:
        table.insert(4, "ratio", np.exp(estimate))
    return CostEffects(table=table, cost=cost, log_scale=log_scale, deterministic=fixed, n_seeds=n, notes=notes)


def cost_per_point(cost: CostEffects, accuracy: pd.DataFrame) -> pd.DataFrame:
    """term, cost_effect, accuracy_effect_pp, cost_per_point (cost units per +1 pp; NaN unless the accuracy effect
    is resolved), from a raw-scale CostEffects and an accuracy effects table (term, estimate as a fraction,
    resolved), e.g. analysis.stats.effects.factorial_effects'."""
    if cost.log_scale:
        raise ValueError("cost per point needs the cost's effects in its own units (log_scale=False)")
    merged = cost.table[["term", "estimate"]].merge(accuracy[["term", "estimate", "resolved"]], on="term",
                                                    suffixes=("_cost", "_acc"))
    points = 100.0 * merged["estimate_acc"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(merged["resolved"].astype(bool) & (points != 0), merged["estimate_cost"] / points, np.nan)
    return pd.DataFrame({"term": merged["term"], "cost_effect": merged["estimate_cost"],
                         "accuracy_effect_pp": points, "accuracy_resolved": merged["resolved"].astype(bool),
                         "cost_per_point": ratio})
