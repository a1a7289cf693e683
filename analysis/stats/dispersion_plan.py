"""Seeds per cell that the dispersion test (analysis/stats/dispersion.py) needs to resolve a given sd ratio.

The test's power has no closed form, so it is simulated: normal noise, the 2^k cells on one side of a main
effect with an sd `sd_ratio` times the other side's, the seed-block step applied (there is no block to
remove; the step's own noise is part of the test), Holm over all 2^k - 1 terms; the power is
the share of simulated studies in which that term is resolved. The test is scale-free and location effects
cannot reach it, so nothing else matters. A fixed random stream makes the answer the same on every call;
`studies` sets its Monte Carlo error (sqrt(p (1 - p) / studies): 0.009 at the 0.8 threshold and 2000 studies).
"""
from __future__ import annotations

import numpy as np

from analysis.doe.coding import coded_columns
from analysis.stats.effects import ALPHA, holm, resolved
from analysis.stats.dispersion import MIN_SEEDS, dispersion_arrays

POWER = 0.80
MAX_SEEDS = 200
STUDIES = 2000


def dispersion_power(sd_ratio: float, n_seeds: int, n_factors: int = 3, alpha: float = ALPHA,
                     studies: int = STUDIES, seed: int = 0) -> float:
    """Simulated probability that a main effect with this sd ratio (second level / first) is resolved."""
    coded = coded_columns({f"factor{i}": (0, 1) for i in range(n_factors)})  # column 0: the first main effect
    sd = np.where(coded[:, 0] > 0, sd_ratio, 1.0)
    noise = np.random.default_rng(seed).normal(0, 1, (studies, len(sd), n_seeds)) * sd[None, :, None]
    p = dispersion_arrays(noise, coded)["p_value"]  # the seed-block step runs, as on a real table
    return float(resolved(holm(p.T), alpha).T[:, 0].mean())


def dispersion_seeds_needed(sd_ratio: float, n_factors: int = 3, power: float = POWER, alpha: float = ALPHA,
                            max_seeds: int = MAX_SEEDS, studies: int = STUDIES) -> float:
    """The smallest seeds per cell (>= 3) at which the simulated power reaches `power`; inf for a ratio of 1 or
    beyond max_seeds, NaN for a ratio that is not a positive number. A ratio r and 1 / r need the same."""
    if not (np.isfinite(sd_ratio) and sd_ratio > 0):
        return np.nan
    if sd_ratio == 1:
        return np.inf
    reaches = lambda n: dispersion_power(sd_ratio, n, n_factors, alpha, studies) >= power  # noqa: E731
    low, high = MIN_SEEDS - 1, MIN_SEEDS
    while not reaches(high):
        if high >= max_seeds:
            return np.inf
        low, high = high, min(2 * high, max_seeds)
    while high - low > 1:  # power grows with n: bisect for the first n that reaches it
        mid = (low + high) // 2
        low, high = (low, mid) if reaches(mid) else (mid, high)
    return float(high)
