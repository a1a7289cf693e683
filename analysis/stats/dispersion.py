"""Dispersion effects of a 2^k factorial: how each factor and interaction changes the seed-to-seed spread.

A dispersion effect is reported as a ratio of standard deviations, spread at the term's high (+1) side over its
low (-1) side, with a confidence interval, a p-value, Holm over the family of terms and `resolved`, like the
location effects (analysis/stats/effects.py), whose +-1 coding (analysis/stats/model_design.py) and Holm rule it reuses.

Method (Brown-Forsythe on absolute deviations from cell medians; Fieller's interval for the ratio):
  1. Seed blocks out: the seed effect of seed s is the median over cells of (y_cs - median_s' y_cs'); it is
     subtracted from every cell of that seed. A median, so that one very noisy cell (a Plain-34 that sometimes
     fails) does not spread its noise into the quiet cells, as a mean over cells would.
  2. Location out: z_cs = |y_cs - median_s y_cs| within each cell. Each cell's own median is removed, so no
     location effect, of any size or order, can reach z (the location model is saturated). With an odd number
     of seeds one deviation per cell is exactly 0 by construction (the median itself) and is dropped, leaving k.
  3. For a term, its high side H and low side L are the 2^(k-1) cells with product code +1 and -1; m_H, m_L the
     means of z over each side. For normal noise the mean absolute deviation is proportional to the sd with the
     same constant in every cell (same n), so m_H / m_L estimates sd_H / sd_L.
  4. Test: t = (m_H - m_L) / sqrt(v_H + v_L), v_side the variance of m_side from its cells' within-cell
     variances of z (exact for any mix of cell variances in a balanced design), on the pooled C (k - 1) degrees
     of freedom. Interval: Fieller's for the ratio from the same m and v, so it holds 1 exactly when the test
     does not reject. The within-cell variation of z is what self-normalises both: a side whose spread comes
     from a few failed runs also has a large variance of z.

Rejected after measuring: the classical log-variance contrast (Bartlett-Box: log s_c^2 with known variance
trigamma((n-1)/2) per cell), whose variance is known only for normal noise, and a Welch t on log(m_H / m_L),
which calls a side that by chance had no failed run "stable". Same simulation, 4000 studies per setting, at
3 / 5 / 10 seeds (scratch comparisons, not kept): the log-variance contrast with seed means removed covers a true
1/4 sd ratio 0.84 / 0.70 / 0.37 (the noisy cells' seed noise leaks into the quiet ones through the seed means),
without the seed step 0.87 / 0.78 / 0.55; with seed means removed, one run of one cell losing 30 pp makes some
term resolved in 0.16 / 0.47 / 0.88 of studies, and failures in 20% of the plain runs make SE, Mish or an
interaction resolved in 0.16 / 0.30 / 0.23. The Welch log-ratio held under normal noise but reached 0.23 in that
last setting at 5 seeds.
This method's rates (`PYTHONPATH=$PWD python benchmarks/dispersion_error_rates.py --studies 6000`; location
effects 20 pp shortcut and 5 pp every other term, noise 2 pp, seed block 1 pp):

                                                       3 seeds      5 seeds      10 seeds
  family-wise error, no dispersion effect               0.028        0.035        0.035
  coverage of the 7 intervals, shortcut sd ratio 1/4    0.955-0.967  0.946-0.954  0.944-0.962
  power to resolve the 1/4 sd ratio                     0.16         0.73         1.00
  family-wise error, one run of one cell loses 30 pp    0.000        0.000        0.000
  20% of plain runs lose 30 pp: shortcut resolved       0.001        0.090        0.688
      family-wise error of the six other terms          0.001        0.008        0.053
  20% of every cell's runs lose 30 pp: family-wise      0.001        0.020        0.057

What it cannot do: it needs at least 3 seeds per cell, and with 3 (2 deviations per cell) it resolves a 4x sd
ratio in only 16% of studies; failures in 20% of the plain runs (an sd of about 12 pp against 2 pp) are resolved
as the shortcut's effect in 9% of studies at 5 seeds and 69% at 10. It resolves little, but what it resolves is
not one failed run: under heavy tails its family-wise error stays within 0.057.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.doe.coding import check_two_level, coded_columns, term_name, terms
from analysis.stats.model_design import balance, cell_matrix
from analysis.stats.effects import ALPHA, holm, resolved

MIN_SEEDS = 3  # fewer leave no within-cell variation of the absolute deviations


def remove_seed_blocks(values: np.ndarray) -> np.ndarray:
    """values (..., cells, seeds) less each seed's effect: the median over cells of y - the cell's median."""
    centred = values - np.median(values, axis=-1, keepdims=True)
    return values - np.median(centred, axis=-2, keepdims=True)


def absolute_deviations(values: np.ndarray) -> np.ndarray:
    """(..., cells, k): |y - cell median| per cell, the structural zero of an odd number of seeds dropped."""
    z = np.abs(values - np.median(values, axis=-1, keepdims=True))
    return np.sort(z, axis=-1)[..., 1:] if values.shape[-1] % 2 else z


def fieller_interval(m_high, m_low, v_high, v_low, q) -> tuple[np.ndarray, np.ndarray]:
    """Fieller's interval for m_high / m_low (independent, variances v_high, v_low, critical value q): the ratios
    rho with (m_high - rho m_low)^2 <= q^2 (v_high + rho^2 v_low), cut at 0; upper end inf where m_low itself is
    not clearly above 0. It holds 1 exactly when the difference test does not reject."""
    a = m_low ** 2 - q ** 2 * v_low
    b = m_high * m_low
    c = m_high ** 2 - q ** 2 * v_high
    root = np.sqrt(np.maximum(b ** 2 - a * c, 0.0))
    bounded = a > 0
    safe = np.where(bounded, a, 1.0)
    low = np.where(bounded, np.maximum((b - root) / safe, 0.0), 0.0)
    return low, np.where(bounded, (b + root) / safe, np.inf)


def dispersion_arrays(values: np.ndarray, coded: np.ndarray, block: bool = True,
                      confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Dispersion contrasts of studies at once: values (..., cells, seeds), coded (cells, terms) of +-1.

    Returns arrays (..., terms): sd_ratio (spread high / low), ci_low, ci_high (Fieller at `confidence`), t,
    df, p_value (the difference of the sides' mean deviations), spread_high and spread_low (mean absolute
    deviation from the cell median on each side)."""
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
    df = np.broadcast_to((n_high + n_low) * (k - 1.0), m_high.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (m_high - m_low) / np.sqrt(v_high + v_low)
        p = 2 * stats.t.sf(np.abs(t), df)
        ci_low, ci_high = fieller_interval(m_high, m_low, v_high, v_low, stats.t.ppf(0.5 + confidence / 2, df))
        ratio = m_high / m_low
    return {"sd_ratio": ratio, "ci_low": ci_low, "ci_high": ci_high, "t": t, "df": df, "p_value": p,
            "spread_high": m_high, "spread_low": m_low}


def dispersion_effects(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                       confidence: float = 0.95, alpha: float = ALPHA, block: bool = True) -> pd.DataFrame:
    """One row per term of the full 2^k: its effect on the seed-to-seed spread of `metric`.

    runs: one row per run with the factor columns, `seed` and `metric`; with a `status` column only the
    completed runs of the seeds complete in every cell count (analysis.stats.model_design.balance). block: remove seed
    effects first (seed k shared by every cell). ValueError (one line) when the runs are not a balanced grid of
    at least 3 seeds. Columns: term, order, sd_ratio (spread at the term's second level / first; for an
    interaction, cells with product code +1 / -1), ci_low, ci_high (Fieller, `confidence`), t, df, p_value,
    p_holm, resolved (p_holm < alpha), spread_low, spread_high (mean absolute deviation from the cell median,
    metric units), n_seeds, n_runs."""
    check_two_level(factors)
    data = balance(runs, factors, metric)[0] if "status" in runs else runs[runs[metric].notna()]
    values, seeds = cell_matrix(data, factors, metric)
    r = dispersion_arrays(values, coded_columns(factors), block, confidence)
    p_holm = holm(r["p_value"])
    model_terms = terms(factors)
    return pd.DataFrame({
        "term": [term_name(t) for t in model_terms],
        "order": [len(t) for t in model_terms],
        "sd_ratio": r["sd_ratio"],
        "ci_low": r["ci_low"],
        "ci_high": r["ci_high"],
        "t": r["t"],
        "df": r["df"],
        "p_value": r["p_value"],
        "p_holm": p_holm,
        "resolved": resolved(p_holm, alpha),
        "spread_low": r["spread_low"],
        "spread_high": r["spread_high"],
        "n_seeds": len(seeds),
        "n_runs": int(values.size),
    })
