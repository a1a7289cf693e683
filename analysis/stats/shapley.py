"""Shapley attribution of the gain from the baseline configuration to the full one, with t intervals.

The players are the factors; the value of a coalition S is the mean metric of the cell with the factors in S at
their second level and the others at their first. A factor's Shapley value is its marginal contribution averaged
over all k! orders in which the factors could be switched on; the values sum exactly to
v(full) - v(baseline). This computes the exact average with the subset weights |S|! (k - |S| - 1)! / k!, which
is the same sum grouped by coalition. In a 2^3 design phi_i = E_i + E_ABC / 3 (Yates effects): a factor gets its
main effect plus an equal share of the three-way interaction, and the two-way interactions cancel.

The report's attribution of a full grid (`per_seed_attribution_table`): the gain and each Shapley value are
fixed weights on the cells, summing to 0. Each seed with a run in every cell gives its own gain and Shapley
values from its own cells; the seed block cancels within the seed, and each seed's values are one independent
draw, whatever the noise of each cell. Value: their mean over those m seeds; interval: mean +- t(0.975, m - 1)
sd / sqrt(m), exact for normal noise even where the cells' noise differs (plain networks are far noisier than
residual ones). In a balanced design the means are those of the full factorial model with seed blocks
(`analysis.stats.effects`); where a seed lacks a run, its other runs stay in the effects but not here (the docstring of
`per_seed_attribution_table` says why).

The pooled alternative (`attribution_table`, `gain_summary`): the contrasts of the fit's seed-adjusted cell means,
with t intervals from its residual sd, which assume one noise level in every cell; where the baseline cell alone
is twice as noisy the gain's covers about 0.85 for a stated 0.95 (tests/test_inference_error_rates.py). It stays
as the fallback with fewer than 2 seeds complete in every cell, and for fractions, whose Shapley values are the
fitted model's predictions of cells never run. The column `method` says which a table uses.

A bootstrap over seeds is not used: any percentile interval of a mean of n per-seed values lies inside their
range, which holds the truth with probability at most 1 - 2^(1-n) (0.75 at 3 seeds).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats.descriptive import mean_ci
from analysis.stats.model_design import ModelDesign, cell_index, model_design
from analysis.stats.ols import LinearFit, contrasts, fit_ols

TOTAL = "total"  # the row of the gain itself in the attribution table
MIN_SEEDS = 2  # a per-seed t interval needs two seeds with a run in every cell (1 df)


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


def attribution_weights(k: int) -> np.ndarray:
    """(k factors + 1, 2^k cells): each factor's Shapley weights, then the gain's (full - baseline)."""
    gain = np.zeros(2 ** k)
    gain[[0, -1]] = -1.0, 1.0
    return np.vstack([shapley_weights(k), gain])


def attribution_contrasts(design: ModelDesign) -> np.ndarray:
    """(k factors + 1, columns of X): each factor's Shapley value, then the gain (full - baseline), as L beta."""
    return attribution_weights(len(design.factors)) @ design.cell_rows()


def pooled_method(df: float) -> str:
    """The `method` label of a pooled t interval on df residual degrees of freedom."""
    return f"pooled t ({df:.0f} df)" if df >= 1 else "none (0 residual df)"


def per_seed_method(n_seeds: int) -> str:
    """The `method` label of a t interval over the per-seed values of a contrast."""
    return f"per-seed t ({n_seeds} seeds)"


def is_per_seed(method: str) -> bool:
    return method.startswith("per-seed")


def seed_cell_values(design: ModelDesign, y: np.ndarray | None = None) -> np.ndarray:
    """(2^k cells, seeds) value of every cell on every seed, NaN where the seed has no run in the cell (the mean
    where it has several). y: responses of shape (runs,) or (runs, R) in the design's row order (default: its
    own); with R responses the result is (cells, seeds, R)."""
    y = design.y if y is None else np.asarray(y, dtype=float)
    total = np.zeros((len(design.cell_counts), len(design.seeds)) + y.shape[1:])
    count = np.zeros(total.shape[:2])
    np.add.at(total, (design.cells, design.seed_of_run), y)
    np.add.at(count, (design.cells, design.seed_of_run), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0: no run, NaN
        return total / count.reshape(count.shape + (1,) * (y.ndim - 1))


def complete_seeds(design: ModelDesign, cells: np.ndarray) -> np.ndarray:
    """(seeds,) bool: the seeds with a run in every one of `cells` ((2^k,) bool)."""
    have = np.zeros((len(design.cell_counts), len(design.seeds)), dtype=bool)
    have[design.cells, design.seed_of_run] = True
    return have[np.asarray(cells, dtype=bool)].all(axis=0)


@dataclass(frozen=True)
class SeedIntervals:
    """Means and t intervals of the per-seed values of contrasts of the cells (arrays (q,) or (q, R))."""
    estimate: np.ndarray  # mean of the per-seed values over the complete seeds
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_seeds: int  # seeds with a run in every cell some contrast uses (NaN intervals below MIN_SEEDS)
    seeds: tuple  # those seeds
    complete: np.ndarray  # (seeds,) bool: which of the design's seeds they are


def per_seed_intervals(design: ModelDesign, weights: np.ndarray, y: np.ndarray | None = None,
                       confidence: float = 0.95) -> SeedIntervals:
    """Per-seed means and t intervals of the contrasts weights (q, 2^k) @ cell means, for the responses y (default
    the design's own; (runs, R) for R simulated studies of the same design at once).

    Every contrast uses the same seeds, those with a run in every cell that some contrast uses, so the per-seed
    values keep the contrasts' linear relations exactly (the Shapley values sum to the gain on every seed). Each
    such seed gives one value of every contrast, from its own cells; the seed block cancels because each row of
    weights sums to 0. The interval is mean +- t(confidence, m - 1) sd / sqrt(m) over the m seeds."""
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    used = (weights != 0).any(axis=0)
    complete = complete_seeds(design, used)
    # only the cells the contrasts use: a NaN (no run) elsewhere must not enter as 0 * NaN
    values = seed_cell_values(design, y)[used][:, complete]  # (used cells, m) or (used cells, m, R)
    per_seed = np.tensordot(weights[:, used], values, axes=(1, 0))  # (q, m) or (q, m, R)
    m = int(complete.sum())
    with np.errstate(invalid="ignore", divide="ignore"):  # m < 2: NaN, no interval
        mean = per_seed.mean(axis=1) if m else np.full(per_seed.shape[:1] + per_seed.shape[2:], np.nan)
        se = per_seed.std(axis=1, ddof=1) / np.sqrt(m) if m >= MIN_SEEDS else np.full_like(mean, np.nan)
    half = stats.t.ppf(0.5 + confidence / 2, m - 1) * se if m >= MIN_SEEDS else se
    return SeedIntervals(mean, se, mean - half, mean + half, m, tuple(design.seeds[complete].tolist()), complete)


def shares(values: np.ndarray, gain_low: float, gain_high: float) -> np.ndarray:
    """value / gain (the last value), only where the gain's interval excludes 0 (else NaN: a share of a gain that
    may be 0 or of the other sign says nothing)."""
    clear = bool(gain_low > 0 or gain_high < 0)
    return values / values[-1] if clear else np.full(len(values), np.nan)


def attribution_table(design: ModelDesign, fit: LinearFit, confidence: float = 0.95) -> pd.DataFrame:
    """The attribution from the fit's seed-adjusted cell means, with POOLED t intervals (the residual sd and df of
    the effects' fit, one noise level assumed in every cell): the fallback of `per_seed_attribution_table`, and a
    fraction's table.

    component (each factor, then 'total' for the gain), value, se, ci_low, ci_high, df, n_runs (every run of
    the fit), share (value / gain where the gain's interval excludes 0), method ('pooled t (df)'),
    interval_seeds (all seeds of the fit)."""
    c = contrasts(fit, attribution_contrasts(design), confidence)
    n = len(c.estimate)
    return pd.DataFrame({"component": [*design.factors, TOTAL], "value": c.estimate, "se": c.se,
                         "ci_low": c.ci_low, "ci_high": c.ci_high, "df": float(fit.df),
                         "n_runs": design.n_runs, "share": shares(c.estimate, c.ci_low[-1], c.ci_high[-1]),
                         "method": pooled_method(fit.df),
                         "interval_seeds": [tuple(design.seeds.tolist())] * n})


def per_seed_attribution_table(design: ModelDesign, fit: LinearFit, confidence: float = 0.95) -> pd.DataFrame:
    """The report's attribution of a full grid: where at least MIN_SEEDS seeds have a run in every cell, each row
    is the mean over those m seeds of that seed's own Shapley value or gain, with its per-seed t interval (df =
    m - 1, method 'per-seed t (m seeds)', n_runs and interval_seeds: the runs and seeds behind it); with fewer,
    `attribution_table` (the fit's values, pooled intervals). Same columns either way.

    Why the per-seed mean is also the value where a seed lacks a run (rather than the fit's value on every run):
    the value is then the centre of its own interval, where the fit's, resting on more runs, can fall outside
    a narrow interval of 2 or 3 seeds; the Shapley values sum exactly to the gain, all from the same seeds; and
    the baseline and full means of those seeds (`per_seed_gain_summary`) differ by exactly the gain. The price:
    an incomplete seed's runs enter the effects table but not the attribution, so a Shapley value can differ a
    little from its expression in the effects (E_i + E_ABC / 3 in 2^3). With no run missing both are the same
    numbers: the fit's seed-adjusted cell means are then the plain means."""
    s = per_seed_intervals(design, attribution_weights(len(design.factors)), confidence=confidence)
    if s.n_seeds < MIN_SEEDS:
        return attribution_table(design, fit, confidence)
    n = len(s.estimate)
    return pd.DataFrame({"component": [*design.factors, TOTAL], "value": s.estimate, "se": s.se,
                         "ci_low": s.ci_low, "ci_high": s.ci_high, "df": float(s.n_seeds - 1),
                         "n_runs": int(s.complete[design.seed_of_run].sum()),
                         "share": shares(s.estimate, s.ci_low[-1], s.ci_high[-1]),
                         "method": per_seed_method(s.n_seeds), "interval_seeds": [s.seeds] * n})


def shapley_attribution(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                        confidence: float = 0.95) -> pd.DataFrame:
    """Each factor's share of the gain from baseline to full, one row per factor, then a 'total' row (the gain),
    as the report gives it (`per_seed_attribution_table`).

    runs: one row per completed run (factor columns, `seed`, `metric`); every cell needs a run. Returns
    component, value (Shapley value; the factor rows sum to the total), se, ci_low, ci_high (t interval at
    `confidence`: per-seed, or pooled where fewer than 2 seeds have a run in every cell; NaN with one seed), df,
    n_runs, share (value / gain where the gain's interval excludes 0), method, interval_seeds."""
    design = model_design(runs, factors, metric)  # full 2^k: every cell needs a run
    return per_seed_attribution_table(design, fit_ols(design.X, design.y), confidence)


def gain_summary(design: ModelDesign, fit: LinearFit, confidence: float = 0.95) -> dict:
    """baseline, full (seed-adjusted cell means), gain (= full - baseline) with its POOLED t interval (se, ci_low,
    ci_high, df, method, interval_seeds), and n_seeds, n_runs, n_baseline, n_full (runs in the two cells) of a
    full-model fit. A fraction's gain; the fallback of `per_seed_gain_summary`."""
    ends = design.cell_rows()[[0, -1]] @ fit.coef
    g = contrasts(fit, attribution_contrasts(design)[-1], confidence)
    return {"baseline": float(ends[0]), "full": float(ends[1]), "gain": float(g.estimate[0]),
            "se": float(g.se[0]), "ci_low": float(g.ci_low[0]), "ci_high": float(g.ci_high[0]),
            "df": float(fit.df), "method": pooled_method(fit.df), "interval_seeds": tuple(design.seeds.tolist()),
            "n_seeds": len(design.seeds), "n_runs": design.n_runs,
            "n_baseline": int(design.cell_counts[0]), "n_full": int(design.cell_counts[-1])}


def per_seed_gain_summary(design: ModelDesign, fit: LinearFit, confidence: float = 0.95) -> dict:
    """The gain as `per_seed_attribution_table`'s total row gives it, in `gain_summary`'s keys, with the pooled
    interval kept as pooled_ci_low, pooled_ci_high, pooled_df (what assuming one noise level in every cell
    would give). Per seed, baseline and full are the means of the two end cells over the seeds used (n_baseline =
    n_full = their number), so full - baseline = gain; with fewer than 2 such seeds, `gain_summary`."""
    summary = gain_summary(design, fit, confidence)
    pooled = {f"pooled_{k}": summary[k] for k in ("ci_low", "ci_high", "df")}
    total = per_seed_attribution_table(design, fit, confidence).iloc[-1]
    if not is_per_seed(total["method"]):
        return summary | pooled
    used = np.isin(design.seeds, total["interval_seeds"])
    ends = seed_cell_values(design)[[0, -1]][:, used].mean(axis=1)
    summary.update({k: float(total[k]) for k in ("se", "ci_low", "ci_high", "df")})
    summary.update(baseline=float(ends[0]), full=float(ends[1]), gain=float(total["value"]),
                   method=total["method"], interval_seeds=total["interval_seeds"], n_runs=int(total["n_runs"]),
                   n_baseline=int(used.sum()), n_full=int(used.sum()), **pooled)
    return summary


def gain_interval(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                  confidence: float = 0.95) -> dict:
    """`per_seed_gain_summary` of the runs (one row per completed run; every cell needs a run)."""
    design = model_design(runs, factors, metric)  # full 2^k: every cell needs a run
    return per_seed_gain_summary(design, fit_ols(design.X, design.y), confidence)


def per_seed_gain(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                  confidence: float = 0.95) -> dict[str, float]:
    """n (seeds with a run in both the baseline and the full cell), mean and t interval (n - 1 df) of the per-seed
    gain full - baseline, from the runs alone (no model): the check a fraction's model-based gain gets where it
    ran both end cells."""
    cells = cell_index(runs, factors)
    values = runs.assign(_cell=cells).dropna(subset=[metric])
    end = 2 ** len(factors) - 1
    base = values[values["_cell"] == 0].groupby("seed")[metric].first()
    full = values[values["_cell"] == end].groupby("seed")[metric].first()
    both = base.index.intersection(full.index)
    s = mean_ci((full.loc[both] - base.loc[both]).to_numpy(dtype=float), confidence)
    return {"n": s["n"], "mean": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"]}
