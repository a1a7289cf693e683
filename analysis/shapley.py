"""Shapley attribution of the gain from the baseline configuration to the full one, with t intervals.

The players are the factors; the value of a coalition S is the mean metric of the cell with the factors in S at
their second level and the others at their first. A factor's Shapley value is its marginal contribution averaged
over all k! orders in which the factors could be switched on; the values sum exactly to
v(full) - v(baseline). This computes the exact average with the subset weights |S|! (k - |S| - 1)! / k!, which
is the same sum grouped by coalition. In a 2^3 design phi_i = E_i + E_ABC / 3 (Yates effects): a factor gets its
main effect plus an equal share of the three-way interaction, and the two-way interactions cancel.

Cell means: those of the full factorial model with seed blocks (`analysis.effects`) fitted on every completed
run, for an average seed. In a balanced design they are the plain cell means; with a failed run they keep the
other runs of its seed and stay paired. Every cell needs at least one run.

Uncertainty: the gain and each Shapley value are linear contrasts of the cell means whose weights sum to 0, so
the seed block cancels and each has an exact t interval from the same residual variance and degrees of freedom
as the effects table. A bootstrap over seeds cannot do this at few seeds: any percentile interval of a mean of n
per-seed values lies inside their range, which holds the truth with probability at most 1 - 2^(1-n) (0.75 at
3 seeds); tests/test_inference_error_rates.py measures both.

The pooled residual variance assumes one noise level in every cell. The effects and the Shapley values weigh
many cells and stand up to unequal noise across cells (0.94-0.955 in simulations where plain cells have twice
the sd of residual ones); the gain rests on two cells only, and where the baseline cell alone is noisier its
pooled interval covers less (about 0.86 for a 95% interval, the Shapley values' about 0.93, when the baseline's
sd is twice the others'). `per_seed_gain` is the check: a paired t interval over the seeds measured
in both end cells, exact whatever the cells' variances, at the price of n - 1 degrees of freedom.
"""
from __future__ import annotations

from math import factorial
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.aggregate import mean_ci
from analysis.design import ModelDesign, cell_index, model_design
from analysis.linear_model import LinearFit, contrasts, fit_ols

TOTAL = "total"  # the row of the gain itself in the attribution table


def shapley_weights(k: int) -> np.ndarray:
    """(k players, 2^k cells in bit-mask order) matrix W with phi = W @ v for cell values v."""
    weights = np.zeros((k, 2 ** k))
    for i in range(k):
        bit = 1 << i
        for mask in range(2 ** k):
            if mask & bit:
                continue
            size = bin(mask).count("1")
            w = factorial(size) * factorial(k - size - 1) / factorial(k)
            weights[i, mask | bit] += w
            weights[i, mask] -= w
    return weights


def shapley_values(cell_values: Sequence[float]) -> np.ndarray:
    """Shapley value of each factor from the 2^k cell values (bit-mask order: bit i set = factor i on)."""
    v = np.asarray(cell_values, dtype=float)
    k = int(round(np.log2(len(v))))
    if 2 ** k != len(v):
        raise ValueError(f"need 2^k cell values, got {len(v)}")
    return shapley_weights(k) @ v


def attribution_contrasts(design: ModelDesign) -> np.ndarray:
    """(k factors + 1, columns of X): each factor's Shapley value, then the gain (full - baseline), as L beta."""
    cells = design.cell_rows()
    gain = np.zeros(cells.shape[0])
    gain[[0, -1]] = -1.0, 1.0
    return np.vstack([shapley_weights(len(design.factors)), gain]) @ cells


def attribution_table(design: ModelDesign, fit: LinearFit, confidence: float = 0.95) -> pd.DataFrame:
    """component (each factor, then 'total' for the gain), value, se, ci_low, ci_high, df, n_runs, share.

    share: value / gain, only where the gain's interval excludes 0 (else NaN: a share of a gain that may be 0 or
    of the other sign says nothing)."""
    c = contrasts(fit, attribution_contrasts(design), confidence)
    gain, g_low, g_high = c.estimate[-1], c.ci_low[-1], c.ci_high[-1]
    clear = bool(g_low > 0 or g_high < 0)
    share = c.estimate / gain if clear else np.full(len(c.estimate), np.nan)
    return pd.DataFrame({"component": [*design.factors, TOTAL], "value": c.estimate, "se": c.se,
                         "ci_low": c.ci_low, "ci_high": c.ci_high, "df": float(fit.df),
                         "n_runs": design.n_runs, "share": share})


def shapley_attribution(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                        confidence: float = 0.95) -> pd.DataFrame:
    """Each factor's share of the gain from baseline to full, one row per factor, then a 'total' row (the gain).

    runs: one row per completed run (factor columns, `seed`, `metric`); every cell needs a run. Returns
    component, value (Shapley value; the factor rows sum to the total), se, ci_low, ci_high (t interval at
    `confidence` on df residual degrees of freedom; NaN with one seed), df, n_runs, share (value / gain where the
    gain's interval excludes 0)."""
    design = model_design(runs, factors, metric)  # full 2^k: every cell needs a run
    return attribution_table(design, fit_ols(design.X, design.y), confidence)


def gain_summary(design: ModelDesign, fit: LinearFit, confidence: float = 0.95) -> dict[str, float]:
    """baseline, full (seed-adjusted cell means), gain (= full - baseline) with se, ci_low, ci_high, df, and
    n_seeds, n_runs, n_baseline, n_full (runs in the two cells) of a full-model fit."""
    ends = design.cell_rows()[[0, -1]] @ fit.coef
    g = contrasts(fit, attribution_contrasts(design)[-1], confidence)
    return {"baseline": float(ends[0]), "full": float(ends[1]), "gain": float(g.estimate[0]),
            "se": float(g.se[0]), "ci_low": float(g.ci_low[0]), "ci_high": float(g.ci_high[0]),
            "df": float(fit.df), "n_seeds": len(design.seeds), "n_runs": design.n_runs,
            "n_baseline": int(design.cell_counts[0]), "n_full": int(design.cell_counts[-1])}


def gain_interval(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                  confidence: float = 0.95) -> dict[str, float]:
    """`gain_summary` of the runs (one row per completed run; every cell needs a run)."""
    design = model_design(runs, factors, metric)  # full 2^k: every cell needs a run
    return gain_summary(design, fit_ols(design.X, design.y), confidence)


def per_seed_gain(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                  confidence: float = 0.95) -> dict[str, float]:
    """n (seeds with a run in both the baseline and the full cell), mean and t interval (n - 1 df) of the per-seed
    gain full - baseline; it uses only these two cells' spread, so unequal noise elsewhere does not matter."""
    cells = cell_index(runs, factors)
    values = runs.assign(_cell=cells).dropna(subset=[metric])
    end = 2 ** len(factors) - 1
    base = values[values["_cell"] == 0].groupby("seed")[metric].first()
    full = values[values["_cell"] == end].groupby("seed")[metric].first()
    both = base.index.intersection(full.index)
    s = mean_ci((full.loc[both] - base.loc[both]).to_numpy(dtype=float), confidence)
    return {"n": s["n"], "mean": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"]}
