"""Power of the two-sided t tests the report makes: minimum detectable effect and seeds needed.

Power of a two-sided level-alpha t test of an effect delta whose estimate has standard error se on df degrees of
freedom: P(|T| > t(1 - alpha/2, df)) with T noncentral t(df, delta / se).
- Minimum detectable effect (MDE): the smallest |delta| detected with the target power (80%) at the current
  seed count and noise.
- Seeds needed: the smallest seed count at which an effect of the observed size reaches the target power,
  assuming the noise stays as estimated. It is a planning figure, not a promise: the observed size of an
  unresolved effect is itself uncertain.
Standard errors scale as 1/sqrt(n seeds): for a 2^k factorial effect se = 2 sigma / sqrt(2^k n) on
(2^k - 1)(n - 1) df (seed blocks); for a paired difference se = sd / sqrt(n) on n - 1 df.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from scipy import optimize, stats

MAX_SEEDS = 10_000


def t_power(delta: float, se: float, df: float, alpha: float = 0.05) -> float:
    """Power of the two-sided t test for a true effect `delta` estimated with standard error `se`."""
    if not (np.isfinite(se) and se > 0 and df >= 1):
        return np.nan
    crit = stats.t.ppf(1 - alpha / 2, df)
    ncp = abs(delta) / se
    power = stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)
    if not np.isfinite(power):  # scipy's noncentral t gives up far in the tail, where power is ~1
        power = stats.norm.sf(crit - ncp) + stats.norm.cdf(-crit - ncp)
    return float(min(power, 1.0))


def minimum_detectable_effect(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The |effect| that the test detects with probability `power`; NaN without a standard error."""
    if not (np.isfinite(se) and se > 0 and df >= 1):
        return np.nan
    high = se * 4
    while t_power(high, se, df, alpha) < power:
        high *= 2
    return float(optimize.brentq(lambda d: t_power(d, se, df, alpha) - power, 0.0, high, xtol=se * 1e-6))


def seeds_needed(delta: float, se_at: Callable[[int], tuple[float, float]], alpha: float = 0.05,
                 power: float = 0.8, max_seeds: int = MAX_SEEDS) -> float:
    """The smallest n >= 2 with power >= `power` for effect `delta`, where se_at(n) -> (se, df).

    inf when delta is 0 or more than max_seeds would be needed; NaN when the noise is unknown (no se)."""
    se_two = se_at(2)[0]
    if not (np.isfinite(delta) and np.isfinite(se_two) and se_two > 0):
        return np.nan
    if delta == 0:
        return np.inf
    reaches = lambda n: t_power(delta, *se_at(n), alpha) >= power  # noqa: E731
    low, high = 1, 2
    while not reaches(high):
        if high >= max_seeds:
            return np.inf
        low, high = high, min(high * 2, max_seeds)
    while high - low > 1:  # power grows with n: bisect for the first n that reaches it
        mid = (low + high) // 2
        low, high = (low, mid) if reaches(mid) else (mid, high)
    return float(high)


def factorial_se_at(se_now: float, n_now: int, n_cells: int) -> Callable[[int], tuple[float, float]]:
    """se and df of a 2^k effect at n seeds, from its se at the current n (sigma held fixed)."""
    return lambda n: (se_now * np.sqrt(n_now / n), (n_cells - 1) * (n - 1))


def paired_se_at(sd: float) -> Callable[[int], tuple[float, float]]:
    """se and df of a mean paired difference at n pairs, for a per-seed difference sd."""
    return lambda n: (sd / np.sqrt(n), n - 1)


def effect_power(effects: pd.DataFrame, n_cells: int, alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:
    """term, estimate, se, n_seeds, mde, power (at the observed size now), seeds_needed, for an effects table.

    effects: `analysis.effects.factorial_effects` output (columns term, estimate, se, df, n_seeds)."""
    rows = []
    for _, e in effects.iterrows():
        n = int(e["n_seeds"])
        rows.append({
            "term": e["term"], "estimate": e["estimate"], "se": e["se"], "n_seeds": n,
            "mde": minimum_detectable_effect(e["se"], e["df"], alpha, power),
            "power": t_power(e["estimate"], e["se"], e["df"], alpha),
            "seeds_needed": seeds_needed(e["estimate"], factorial_se_at(e["se"], n, n_cells), alpha, power),
        })
    return pd.DataFrame(rows)
