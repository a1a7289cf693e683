"""Factorial effects of a balanced 2^k design with seeds as blocks.

Convention (Yates, DESIGN.md section 9): a main effect is mean(metric | factor at its second level) minus
mean(metric | first level), averaged over the other factors; an interaction is half the difference between the
effect of one factor at the two levels of another (for three factors: half the difference of the two-way
interaction at the two levels of the third, and so on). With +-1 coding, the OLS coefficient of a term is half its
effect, so every estimate, standard error and CI below is twice the coefficient's.

Model: metric ~ intercept + all main effects and interactions (+-1 coded) + seed (one dummy per seed but the
first), fitted by ordinary least squares (statsmodels). The seed block removes the part of the noise that a seed
shares across configurations (weight init, data order), as in a paired design.
"""
from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import OLS  # not statsmodels.api: a second less to import

from analysis.design import cell_matrix, coded_columns, term_name, terms


def design_matrix(coded: np.ndarray, n_seeds: int) -> np.ndarray:
    """Rows cell-major (cell c, seed s -> row c * n_seeds + s): intercept, coded terms, seed dummies.

    coded: (2^k cells, terms) +-1 matrix (`analysis.design.coded_columns`)."""
    n_cells = coded.shape[0]
    seeds = np.tile(np.eye(n_seeds)[:, 1:], (n_cells, 1))
    return np.column_stack([np.ones(n_cells * n_seeds), np.repeat(coded, n_seeds, axis=0), seeds])


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN stays NaN and is not counted among the m tests.

    Sorted ascending, p_(i) becomes max over j <= i of min(1, (m - j + 1) p_(j))."""
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


def effects_from_matrix(values: np.ndarray, factors: Mapping[str, Sequence],
                        confidence: float = 0.95) -> pd.DataFrame:
    """Effects from a (2^k cells in bit-mask order, n seeds) array; see `factorial_effects` for the columns."""
    n_cells, n_seeds = values.shape
    coded = coded_columns(factors)
    n_terms = coded.shape[1]
    y = values.reshape(-1)
    fit = OLS(y, design_matrix(coded, n_seeds)).fit()
    df = float(fit.df_resid)
    estimate = 2 * fit.params[1:1 + n_terms]
    if df >= 1:
        se = 2 * fit.bse[1:1 + n_terms]
        t = estimate / se
        half = stats.t.ppf(0.5 + confidence / 2, df) * se
        p = 2 * stats.t.sf(np.abs(t), df)
        eta = t ** 2 / (t ** 2 + df)
    else:  # one seed: no residual, so no interval
        se = t = half = p = eta = np.full(n_terms, np.nan)
    return pd.DataFrame({
        "term": [term_name(tm) for tm in terms(factors)],
        "order": [len(tm) for tm in terms(factors)],
        "estimate": estimate,
        "se": se,
        "ci_low": estimate - half,
        "ci_high": estimate + half,
        "t": t,
        "df": df,
        "n_seeds": n_seeds,
        "p_value": p,
        "p_holm": holm(p),
        "partial_eta_sq": eta,
    })


def factorial_effects(data: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                      confidence: float = 0.95) -> pd.DataFrame:
    """Main effects and all interactions of a balanced two-level design, one row per term.

    data: one row per cell and seed, with the factor columns, `seed` and `metric` (`analysis.design.balance`
    makes such a frame from the trials table). factors: name -> (first level, second level).
    Returns term ('shortcut', 'shortcut:se', ...), order (number of factors in the term), estimate, se,
    ci_low, ci_high (a `confidence` t interval), t, df (residual degrees of freedom), n_seeds, p_value,
    p_holm (Holm over all terms), partial_eta_sq (SS_term / (SS_term + SS_residual) = t^2 / (t^2 + df)).
    """
    values, _ = cell_matrix(data, factors, metric)
    with warnings.catch_warnings():  # a noiseless table divides by zero; the NaNs say so
        warnings.simplefilter("ignore", RuntimeWarning)
        return effects_from_matrix(values, factors, confidence)
