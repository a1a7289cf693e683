"""Planning: the smallest effect the study can detect, and the seeds needed for an effect the user cares about.

Power of a two-sided level-a t test of an effect delta whose estimate has standard error se on df degrees of
freedom: P(|T| > t(1 - a/2, df)) with T noncentral t(df, delta / se).

The report calls a term resolved by Holm over all m terms (analysis/stats/effects.py). Holm rejects every hypothesis
that Bonferroni at alpha / m rejects, so planning each test at a = alpha / m gives a lower bound on the power
under the report's rule: the seed counts here are conservative, never optimistic.

The noise is uncertain too. Planning with the residual sd's one-sided upper confidence bound (chi-square, 80%
by default: sd * sqrt(df / chi2(0.20, df))) makes the planned seed count at least the one the true noise needs
with probability >= 80% (the count grows with the sd; Browne 1995).

Observed ("post-hoc") power at the observed effect size is a function of the p-value alone (Hoenig & Heisey
2001) and is not computed here. Units: effects, sds and standard errors in the metric's units (fractions, so
0.01 is 1 percentage point); seed counts per cell.
Standard errors in a balanced 2^k design with n seeds per cell and seed blocks: se(effect) = 2 sd / sqrt(C n)
on n (C - 1) - m df (C = 2^k cells, m model terms); for a paired difference se = sd_diff / sqrt(n) on n - 1 df.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.defaults import ALPHA, PLANNING_CONFIDENCE
from analysis.defaults import PLANNING_MAX_SEEDS as MAX_SEEDS
from analysis.defaults import POWER


def t_power(delta: float, se: float, df: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided level-alpha t test for a true effect `delta` estimated with standard error `se`."""
    if not (np.isfinite(se) and se > 0 and df >= 1):
        return np.nan
    crit = stats.t.ppf(1 - alpha / 2, df)
    ncp = abs(delta) / se
    power = stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)
    if not np.isfinite(power):  # scipy's noncentral t gives up far in the tail, where power is ~1
        power = stats.norm.sf(crit - ncp) + stats.norm.cdf(-crit - ncp)
    return float(min(power, 1.0))


def minimum_detectable_effect(se: float, df: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """The |effect| that the level-alpha test detects with probability `power`; NaN without a standard error."""
    if not (np.isfinite(se) and se > 0 and df >= 1):
        return np.nan
    high = se * 4
    while t_power(high, se, df, alpha) < power:
        high *= 2
    return float(optimize.brentq(lambda d: t_power(d, se, df, alpha) - power, 0.0, high, xtol=se * 1e-6))


def seeds_needed(delta: float, se_at: Callable[[int], tuple[float, float]], alpha: float = ALPHA,
                 power: float = POWER, max_seeds: int = MAX_SEEDS) -> float:
    """The smallest n >= 2 with power >= `power` for effect `delta` at level alpha, where se_at(n) -> (se, df).

    inf when delta is 0 or more than max_seeds would be needed; NaN when the noise is unknown (no se)."""
    se_two = se_at(2)[0]
    if not (np.isfinite(delta) and np.isfinite(se_two) and se_two > 0):
        return np.nan
    if delta == 0:
        return np.inf
    return first_reaching(lambda n: t_power(delta, *se_at(n), alpha) >= power, max_seeds)


def first_reaching(reaches: Callable[[int], bool], max_seeds: int = MAX_SEEDS) -> float:
    """The smallest n >= 2 with reaches(n), for a condition that holds from some n on (power grows with n):
    doubling, then bisection; inf where not even max_seeds reaches it."""
    low, high = 1, 2
    while not reaches(high):
        if high >= max_seeds:
            return np.inf
        low, high = high, min(high * 2, max_seeds)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if reaches(mid) else (mid, high)
    return float(high)


def residual_sd(ss: float, df: float) -> float:
    """sqrt(SS / df): the residual standard deviation from a residual sum of squares; NaN without df."""
    return float(np.sqrt(ss / df)) if df >= 1 else np.nan


def sd_upper_bound(sd: float, df: float, confidence: float = PLANNING_CONFIDENCE) -> float:
    """One-sided upper `confidence` bound of a normal sd estimated as `sd` on `df` degrees of freedom:
    sd * sqrt(df / chi2.ppf(1 - confidence, df)). NaN without df."""
    if not (np.isfinite(sd) and df >= 1):
        return np.nan
    return float(sd * np.sqrt(df / stats.chi2.ppf(1 - confidence, df)))


def factorial_se_at(sd: float, n_cells: int, n_terms: int) -> Callable[[int], tuple[float, float]]:
    """n seeds per cell -> (se of a Yates effect, residual df) in a balanced design of n_cells cells with
    n_terms model terms and seed blocks, for residual sd `sd`."""
    return lambda n: (2 * sd / np.sqrt(n_cells * n), n * (n_cells - 1) - n_terms)


def paired_se_at(sd: float) -> Callable[[int], tuple[float, float]]:
    """n pairs -> (se, df) of a mean paired difference whose per-seed sd is `sd`."""
    return lambda n: (sd / np.sqrt(n), n - 1)


def factorial_mde(n_seeds: int, sd: float, n_cells: int, n_terms: int, alpha: float = ALPHA,
                  power: float = POWER) -> float:
    """Minimum detectable effect (metric units) at n_seeds per cell, tested at alpha / n_terms (Holm bound)."""
    return minimum_detectable_effect(*factorial_se_at(sd, n_cells, n_terms)(n_seeds), alpha / n_terms, power)


def factorial_seeds_needed(min_effect: float, sd: float, n_cells: int, n_terms: int, alpha: float = ALPHA,
                           power: float = POWER, max_seeds: int = MAX_SEEDS) -> float:
    """Seeds per cell for `power` to resolve an effect of size min_effect (metric units) at alpha / n_terms,
    for residual sd `sd` (pass its upper bound, `sd_upper_bound`, to plan conservatively)."""
    return seeds_needed(min_effect, factorial_se_at(sd, n_cells, n_terms), alpha / n_terms, power, max_seeds)


def paired_mde(n: int, sd_diff: float, n_comparisons: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """Minimum detectable mean paired difference at n pairs, tested at alpha / n_comparisons (Holm bound)."""
    return minimum_detectable_effect(*paired_se_at(sd_diff)(n), alpha / n_comparisons, power) if n > 1 else np.nan


def paired_seeds_needed(min_effect: float, sd_diff: float, n_comparisons: int, alpha: float = ALPHA,
                        power: float = POWER, max_seeds: int = MAX_SEEDS) -> float:
    """Seeds (pairs) for `power` to resolve a mean difference of min_effect at alpha / n_comparisons."""
    return seeds_needed(min_effect, paired_se_at(sd_diff), alpha / n_comparisons, power, max_seeds)


def effect_planning(effects: pd.DataFrame, sd: float, df: float, n_cells: int, min_effect: float,
                    alpha: float = ALPHA, power: float = POWER,
                    confidence: float = PLANNING_CONFIDENCE) -> pd.DataFrame:
    """Per term of an effects table (`analysis.stats.effects.factorial_effects`) with residual sd `sd` on `df`:
    term, estimate, se, df, n_seeds, n_runs, alpha_per_test (alpha / terms), mde (at this n, observed sd),
    mde_sd_upper (at this n, sd at its upper bound), min_effect, seeds_needed (per cell, for min_effect at the
    sd's upper bound; a balanced design of n_cells cells assumed)."""
    m = len(effects)
    upper = sd_upper_bound(sd, df, confidence)
    ratio = upper / sd if sd > 0 else np.nan
    need = factorial_seeds_needed(min_effect, upper, n_cells, m, alpha, power) if np.isfinite(upper) else np.nan
    rows = []
    for e in effects.itertuples():
        rows.append({"term": e.term, "estimate": e.estimate, "se": e.se, "df": e.df, "n_seeds": e.n_seeds,
                     "n_runs": e.n_runs, "alpha_per_test": alpha / m,
                     "mde": minimum_detectable_effect(e.se, e.df, alpha / m, power),
                     "mde_sd_upper": minimum_detectable_effect(e.se * ratio, e.df, alpha / m, power),
                     "min_effect": min_effect, "seeds_needed": need})
    return pd.DataFrame(rows)
