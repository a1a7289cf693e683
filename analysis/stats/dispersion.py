"""Dispersion effects of a 2^k factorial: how each factor and interaction changes the seed-to-seed spread.

A dispersion effect is reported as a ratio of standard deviations, spread at the term's high (+1) side over its
low (-1) side, with a confidence interval, a p-value, Holm over the family of terms and `resolved`, like the
location effects (analysis/effects.py), whose +-1 coding (analysis/design.py) and Holm rule it reuses.

Method (Brown-Forsythe on absolute deviations from cell medians, sides compared as a ratio):
  1. Seed blocks out: the seed effect of seed s is the median over cells of (y_cs - median_s' y_cs'); it is
     subtracted from every cell of that seed. A median, so that one very noisy cell (a Plain-34 that sometimes
     fails) does not spread its noise into the quiet cells, as a mean over cells would.
  2. Location out: z_cs = |y_cs - median_s y_cs| within each cell. Each cell's own median is removed, so no
     location effect, of any size or order, can reach z (the location model is saturated). With an odd number
     of seeds one deviation per cell is exactly 0 by construction (the median itself) and is dropped.
  3. For a term, its high side H and low side L are the 2^(k-1) cells with product code +1 and -1. m_H, m_L:
     the means of z over each side; for normal noise the mean absolute deviation is proportional to the sd with
     the same constant in every cell (same n), so m_H / m_L estimates sd_H / sd_L.
  4. log(m_H / m_L) has standard error sqrt(v_H / m_H^2 + v_L / m_L^2) (delta method), v_side the variance of
     m_side from the pooled within-cell variance of z on that side; a Welch t on Satterthwaite's degrees of
     freedom gives the interval, exponentiated to a ratio, and the p-value. The within-cell variance of z is
     what self-normalises the test: a cell whose spread comes from one wild run also has a large variance of z.

Why not the classical log-variance contrast (Bartlett-Box: log s_c^2, known variance trigamma((n-1)/2)
per cell)? Its variance is known only for normal noise; a cell with one failed run gets an enormous log
variance at a precision it does not have. Measured on the same simulated 2^3 studies (4000 per setting,
location effects 20 pp shortcut and 5 pp every other term, noise 1 pp, seed block 1 pp; a scratch comparison,
not kept), family-wise error of "resolved" at 3 / 5 / 10 seeds: log-variance with seed means removed 0.056 /
0.049 / 0.046 under normal noise but 95% coverage of a true 1/4 sd ratio only 0.84 / 0.69 / 0.38 (the noisy
cells' seed noise leaks into the quiet ones through the seed means); log-variance without the seed step
covers 0.62 / 0.34 / 0.05 (the seed block inflates both sides). This method's measured rates (6000 studies,
noise 2 pp, seed block 1 pp; `PYTHONPATH=$PWD python benchmarks/dispersion_error_rates.py`):

                                                       3 seeds   5 seeds   10 seeds
  family-wise error, no dispersion effect               0.033     0.050     0.040
  coverage of the 7 ratio intervals, shortcut sd 1/4    0.949-0.960  0.940-0.946  0.939-0.959
  power to resolve the 1/4 sd ratio                     0.30      0.91      1.00
  family-wise error, one run of one cell loses 30 pp    0.008     0.018     0.015
  20% of plain runs lose 30 pp: shortcut resolved       0.11      0.72      0.96
      family-wise error of the six other terms          0.019     0.221     0.064
  20% of every cell's runs lose 30 pp: family-wise      0.126     0.102     0.036

What it cannot do: it needs at least 3 seeds per cell, and with 3 a cell keeps 2 deviations, so a 4x sd ratio
is resolved in only 30% of studies. One failed run is not called a dispersion effect. But when failures
(20% of runs losing 30 pp) hit some cells, the number of failures per cell varies by chance and at 5 seeds
other terms (SE, Mish) are called "stabilising" in 22% of studies; the same with failures in every cell gives
0.13 / 0.10 at 3 / 5 seeds. With 10 seeds it holds within 0.065.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.design import balance, cell_matrix, check_two_level, coded_columns, term_name, terms
from analysis.effects import ALPHA, holm, resolved

MIN_SEEDS = 3  # fewer leave no within-cell variation of the absolute deviations


def remove_seed_blocks(values: np.ndarray) -> np.ndarray:
    """values (..., cells, seeds) less each seed's effect: the median over cells of y - the cell's median."""
    centred = values - np.median(values, axis=-1, keepdims=True)
    return values - np.median(centred, axis=-2, keepdims=True)


def absolute_deviations(values: np.ndarray) -> np.ndarray:
    """(..., cells, k): |y - cell median| per cell, the structural zero of an odd number of seeds dropped."""
    z = np.abs(values - np.median(values, axis=-1, keepdims=True))
    return np.sort(z, axis=-1)[..., 1:] if values.shape[-1] % 2 else z


def dispersion_arrays(values: np.ndarray, coded: np.ndarray, block: bool = True) -> dict[str, np.ndarray]:
    """Dispersion contrasts of studies at once: values (..., cells, seeds), coded (cells, terms) of +-1.

    Returns arrays (..., terms): log_ratio (log of spread high / low), se, df (Welch-Satterthwaite), p_value,
    spread_high and spread_low (mean absolute deviation from the cell median on each side)."""
    if values.shape[-1] < MIN_SEEDS:
        raise ValueError(f"dispersion effects need at least {MIN_SEEDS} seeds in every cell; got "
                         f"{values.shape[-1]}")
    z = absolute_deviations(remove_seed_blocks(values) if block else values)
    k = z.shape[-1]
    cell_mean, cell_var = z.mean(axis=-1), z.var(axis=-1, ddof=1)
    high = (coded > 0).astype(float)
    low = 1.0 - high
    n_high, n_low = high.sum(axis=0), low.sum(axis=0)
    m_high, m_low = cell_mean @ high / n_high, cell_mean @ low / n_low
    v_high = cell_var @ high / n_high / (n_high * k)
    v_low = cell_var @ low / n_low / (n_low * k)
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = v_high / m_high ** 2, v_low / m_low ** 2
        log_ratio = np.log(m_high / m_low)
        se = np.sqrt(a + b)
        df = (a + b) ** 2 / (a ** 2 / (n_high * (k - 1)) + b ** 2 / (n_low * (k - 1)))
        p = 2 * stats.t.sf(np.abs(log_ratio / se), df)
    return {"log_ratio": log_ratio, "se": se, "df": df, "p_value": p, "spread_high": m_high,
            "spread_low": m_low}


def dispersion_effects(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                       confidence: float = 0.95, alpha: float = ALPHA, block: bool = True) -> pd.DataFrame:
    """One row per term of the full 2^k: its effect on the seed-to-seed spread of `metric`.

    runs: one row per run with the factor columns, `seed` and `metric`; with a `status` column only the
    completed runs of the seeds complete in every cell count (analysis.design.balance). block: remove seed
    effects first (seed k shared by every cell). ValueError (one line) when the runs are not a balanced grid of
    at least 3 seeds. Columns: term, order, sd_ratio (spread at the term's second level / first; for an
    interaction, cells with product code +1 / -1), ci_low, ci_high (`confidence`), log_ratio, se, df, p_value,
    p_holm, resolved (p_holm < alpha), spread_low, spread_high (mean absolute deviation from the cell median,
    metric units), n_seeds, n_runs."""
    check_two_level(factors)
    data = balance(runs, factors, metric)[0] if "status" in runs else runs[runs[metric].notna()]
    values, seeds = cell_matrix(data, factors, metric)
    r = dispersion_arrays(values, coded_columns(factors), block)
    with np.errstate(invalid="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, r["df"]) * r["se"]
    p_holm = holm(r["p_value"])
    model_terms = terms(factors)
    return pd.DataFrame({
        "term": [term_name(t) for t in model_terms],
        "order": [len(t) for t in model_terms],
        "sd_ratio": np.exp(r["log_ratio"]),
        "ci_low": np.exp(r["log_ratio"] - half),
        "ci_high": np.exp(r["log_ratio"] + half),
        "log_ratio": r["log_ratio"],
        "se": r["se"],
        "df": r["df"],
        "p_value": r["p_value"],
        "p_holm": p_holm,
        "resolved": resolved(p_holm, alpha),
        "spread_low": r["spread_low"],
        "spread_high": r["spread_high"],
        "n_seeds": len(seeds),
        "n_runs": int(values.size),
    })
