"""Shapley attribution of the gain from the baseline configuration to the full one, with t intervals.

The players are the factors; the value of a coalition S is the mean metric of the cell with the factors in S at
their second level and the others at their first. A factor's Shapley value is its marginal contribution averaged
over all k! orders in which the factors could be switched on; the values sum exactly to
v(full) - v(baseline). This computes the exact average with the subset weights |S|! (k - |S| - 1)! / k!, which
is the same sum grouped by coalition. In a 2^3 design phi_i = E_i + E_ABC / 3 (Yates effects): a factor gets its
main effect plus an equal share of the three-way interaction, and the two-way interactions cancel.

Point estimates: the cell means of the full factorial model with seed blocks (`analysis.effects`) fitted on
every completed run, for an average seed. In a balanced design they are the plain cell means; with a failed run
they keep the other runs of its seed and stay paired. Every cell needs at least one run.

Intervals (the report's headline, `per_seed_attribution_table`): the gain and each Shapley value are fixed
weights on the cells, summing to 0. For each seed with a run in every cell a contrast uses (the gain: the two
end cells; a Shapley value: every cell) the same weights give that seed's own gain or Shapley value; the seed
block cancels within the seed, and each seed's value is one independent draw of the contrast, whatever the noise
of each cell. The interval is mean +- t(0.975, m - 1) sd / sqrt(m) over those m seeds: exact for normal noise
even where the cells' noise differs (plain networks are far noisier than residual ones). The pooled t interval
of the effects' fit (`attribution_table`) assumes one noise level in every cell; where the baseline cell alone
is twice as noisy its gain interval covers about 0.86 for a stated 0.95 (tests/test_inference_error_rates.py).
It stays as the fallback where fewer than 2 seeds are complete for a contrast, and for fractions, whose Shapley
values are the fitted model's predictions of cells never run. The column `method` says which each row uses.

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

from analysis.aggregate import mean_ci
from analysis.design import ModelDesign, cell_index, model_design
from analysis.linear_model import LinearFit, contrasts, fit_ols

TOTAL = "total"  # the row of the gain itself in the attribution table
MIN_SEEDS = 2  # a per-seed t interval needs two seeds complete in the cells its contrast uses (1 df)


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


def complete_seeds(design: ModelDesign, weights: np.ndarray) -> np.ndarray:
    """(seeds,) bool: the seeds with a run in every cell that `weights` (2^k,) gives a nonzero weight."""
    have = np.zeros((len(design.cell_counts), len(design.seeds)), dtype=bool)
    have[design.cells, design.seed_of_run] = True
    return have[np.asarray(weights) != 0].all(axis=0)


@dataclass(frozen=True)
class SeedIntervals:
    """t intervals over the per-seed values of contrasts of the cells (arrays (q,) or (q, R))."""
    estimate: np.ndarray  # mean of the per-seed values over the complete seeds
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_seeds: np.ndarray  # (q,): seeds complete in the cells each contrast uses (NaN intervals below MIN_SEEDS)
    seeds: tuple[tuple, ...]  # those seeds, one tuple per contrast


def per_seed_intervals(design: ModelDesign, weights: np.ndarray, y: np.ndarray | None = None,
                       confidence: float = 0.95) -> SeedIntervals:
    """Per-seed t intervals of the contrasts weights (q, 2^k) @ cell means, for the responses y (default the
    design's own; (runs, R) for R simulated studies of the same design at once).

    Each seed complete in a contrast's cells gives one value of it; the seed block cancels because the weights sum
    to 0. The interval is mean +- t(confidence, m - 1) sd / sqrt(m) over the m complete seeds."""
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    values = seed_cell_values(design, y)
    rows, n_seeds, seeds = [], [], []
    for w in weights:
        used, ok = w != 0, complete_seeds(design, w)
        # only the cells the contrast uses: a NaN (no run) elsewhere must not enter as 0 * NaN
        per_seed = np.tensordot(w[used], values[used][:, ok], axes=(0, 0))  # (m,) or (m, R)
        m = int(ok.sum())
        mean = per_seed.mean(axis=0) if m else np.full(per_seed.shape[1:], np.nan)
        se = per_seed.std(axis=0, ddof=1) / np.sqrt(m) if m >= MIN_SEEDS else np.full_like(mean, np.nan)
        half = stats.t.ppf(0.5 + confidence / 2, m - 1) * se if m >= MIN_SEEDS else se
        rows.append((mean, se, mean - half, mean + half))
        n_seeds.append(m)
        seeds.append(tuple(design.seeds[ok].tolist()))
    mean, se, low, high = (np.array(column) for column in zip(*rows))
    return SeedIntervals(mean, se, low, high, np.array(n_seeds), tuple(seeds))


def shares(values: np.ndarray, gain_low: float, gain_high: float) -> np.ndarray:
    """value / gain (the last value), only where the gain's interval excludes 0 (else NaN: a share of a gain that
    may be 0 or of the other sign says nothing)."""
    clear = bool(gain_low > 0 or gain_high < 0)
    return values / values[-1] if clear else np.full(len(values), np.nan)


def attribution_table(design: ModelDesign, fit: LinearFit, confidence: float = 0.95) -> pd.DataFrame:
    """The attribution with POOLED t intervals (the residual sd and df of the effects' fit, one noise level
    assumed in every cell): the fallback of `per_seed_attribution_table`, and a fraction's table.

    component (each factor, then 'total' for the gain), value, se, ci_low, ci_high, df, n_runs, share (value /
    gain where the gain's interval excludes 0), method ('pooled t (df)'), interval_seeds (all seeds of the
    fit: the pooled sd uses every run)."""
    c = contrasts(fit, attribution_contrasts(design), confidence)
    n = len(c.estimate)
    return pd.DataFrame({"component": [*design.factors, TOTAL], "value": c.estimate, "se": c.se,
                         "ci_low": c.ci_low, "ci_high": c.ci_high, "df": float(fit.df),
                         "n_runs": design.n_runs, "share": shares(c.estimate, c.ci_low[-1], c.ci_high[-1]),
                         "method": pooled_method(fit.df),
                         "interval_seeds": [tuple(design.seeds.tolist())] * n})


def per_seed_attribution_table(design: ModelDesign, fit: LinearFit, confidence: float = 0.95) -> pd.DataFrame:
    """The report's attribution of a full grid: `attribution_table`'s columns, with a per-seed t interval on
    every row that has at least MIN_SEEDS complete seeds (df = m - 1, method 'per-seed t (m seeds)',
    interval_seeds: those seeds), the pooled interval on the others.

    The values stay the fit's on every completed run, also where the interval uses only the complete seeds. Both
    estimate the same contrast without bias (the model of cell mean + seed block needs no equal noise); the fit's
    uses every run, keeps each Shapley value equal to its expression in the effects table (E_i + E_ABC / 3 in
    2^3) and the values summing exactly to the gain between the seed-adjusted baseline and full means the report
    shows. The coverage of an interval is its own property and does not change. In a balanced design the
    interval is centred on the value; with a missing run it can be off centre by a little, and the report names
    the seeds it uses."""
    table = attribution_table(design, fit, confidence)
    s = per_seed_intervals(design, attribution_weights(len(design.factors)), confidence=confidence)
    per_seed = s.n_seeds >= MIN_SEEDS
    for column in ("se", "ci_low", "ci_high"):
        table[column] = np.where(per_seed, getattr(s, column), table[column])
    table["df"] = np.where(per_seed, s.n_seeds - 1.0, table["df"])
    table["method"] = [per_seed_method(m) if ok else old for m, ok, old in zip(s.n_seeds, per_seed, table["method"])]
    table["interval_seeds"] = [seeds if ok else old for seeds, ok, old in
                               zip(s.seeds, per_seed, table["interval_seeds"])]
    table["share"] = shares(table["value"].to_numpy(), table["ci_low"].iloc[-1], table["ci_high"].iloc[-1])
    return table


def shapley_attribution(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                        confidence: float = 0.95) -> pd.DataFrame:
    """Each factor's share of the gain from baseline to full, one row per factor, then a 'total' row (the gain),
    as the report gives it (`per_seed_attribution_table`).

    runs: one row per completed run (factor columns, `seed`, `metric`); every cell needs a run. Returns
    component, value (Shapley value; the factor rows sum to the total), se, ci_low, ci_high (t interval at
    `confidence`: per-seed, or pooled where fewer than 2 seeds are complete; NaN with one seed), df, n_runs,
    share (value / gain where the gain's interval excludes 0), method, interval_seeds."""
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
    """`gain_summary` with the interval of `per_seed_attribution_table`'s total row (per-seed t where at least 2
    seeds ran both end cells), and the pooled one kept as pooled_ci_low, pooled_ci_high, pooled_df (what
    assuming one noise level in every cell would give)."""
    summary = gain_summary(design, fit, confidence)
    pooled = {f"pooled_{k}": summary[k] for k in ("ci_low", "ci_high", "df")}
    total = per_seed_attribution_table(design, fit, confidence).iloc[-1]
    summary.update({k: float(total[k]) for k in ("se", "ci_low", "ci_high", "df")})
    summary.update(method=total["method"], interval_seeds=total["interval_seeds"], **pooled)
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
