"""Factorial effects of a two-level design with seeds as blocks, from every completed run.

Convention (Yates): a main effect is mean(metric | factor at its second level) minus mean(metric | first level),
averaged over the other factors; an interaction is half the difference between the effect of one factor at the
two levels of another (for three factors: half the difference of the two-way interaction at the two levels of
the third, and so on). With +-1 coding the OLS coefficient of a term is half its effect, so every estimate,
standard error and CI below is twice the coefficient's.

Model: metric ~ intercept + the requested terms (+-1 coded; default every main effect and interaction of the
full 2^k) + seed (one dummy per seed but the first), fitted by ordinary least squares on all completed runs. The
design need not be balanced: a failed trial costs its own run only, and the degrees of freedom say what is left.
In a balanced design the estimates are the Yates contrasts of the cell means.

Family-wise rule: a term is `resolved` when its Holm-adjusted p-value is below alpha (0.05), Holm over all terms
of the table. Holm controls the probability of calling any null term resolved at alpha, whatever the other
terms are; an unadjusted 95% CI that excludes 0 does not (with 6 null terms it errs in about a quarter of
studies).
"""
from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.doe.coding import term_name
from analysis.stats.model_design import ModelDesign, model_design
from analysis.stats.multiplicity import ALPHA, holm, resolved
from analysis.stats.ols import LinearFit, contrasts, fit_ols


def effect_contrasts(design: ModelDesign) -> np.ndarray:
    """(terms, columns of X): each row picks 2 x the term's coefficient (Yates' effect)."""
    L = np.zeros((design.n_terms, design.X.shape[1]))
    L[np.arange(design.n_terms), 1 + np.arange(design.n_terms)] = 2.0
    return L


def effects_table(design: ModelDesign, fit: LinearFit, confidence: float = 0.95,
                  alpha: float = ALPHA) -> pd.DataFrame:
    """The effects table of one fit (fit.coef of shape (p,)); see `factorial_effects` for the columns."""
    with warnings.catch_warnings():  # a noiseless table divides by zero; the NaNs say so
        warnings.simplefilter("ignore", RuntimeWarning)
        c = contrasts(fit, effect_contrasts(design), confidence)
        eta = c.t ** 2 / (c.t ** 2 + fit.df) if fit.df >= 1 else np.full(design.n_terms, np.nan)
    p_holm = holm(c.p_value)
    return pd.DataFrame({
        "term": [term_name(t) for t in design.model_terms],
        "order": [len(t) for t in design.model_terms],
        "estimate": c.estimate,
        "se": c.se,
        "ci_low": c.ci_low,
        "ci_high": c.ci_high,
        "t": c.t,
        "df": float(fit.df),
        "n_seeds": len(design.seeds),
        "n_runs": design.n_runs,
        "p_value": c.p_value,
        "p_holm": p_holm,
        "resolved": resolved(p_holm, alpha),
        "partial_eta_sq": eta,
    })


def factorial_effects(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                      model_terms: Sequence[Sequence[str]] | None = None, confidence: float = 0.95,
                      alpha: float = ALPHA) -> pd.DataFrame:
    """Main effects and interactions of a two-level design, one row per model term.

    runs: one row per completed run with the factor columns, `seed` and `metric` (any balance; rows with another
    status or no value are left out). factors: name -> (first level, second level). model_terms: tuples of
    factor names (default: all 2^k - 1 terms); ValueError (one line) when the runs cannot estimate them.
    Returns term ('shortcut', 'shortcut:se', ...), order (factors in the term), estimate, se, ci_low, ci_high
    (unadjusted `confidence` t interval), t, df (residual degrees of freedom), n_seeds, n_runs, p_value, p_holm
    (Holm over the terms), resolved (p_holm < alpha), partial_eta_sq (SS_term / (SS_term + SS_residual) =
    t^2 / (t^2 + df), with SS_term the term's type-III sum of squares)."""
    design = model_design(runs, factors, metric, model_terms)
    return effects_table(design, fit_ols(design.X, design.y), confidence, alpha)
