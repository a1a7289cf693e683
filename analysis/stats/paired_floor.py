"""A paired comparison that never resolves from zero observed spread.

analysis/stats/paired.py's paired_comparison gives p = 0 (resolved, interval [d, d]) when every seed's difference is the
same, which happens near 100% accuracy on a small validation set (3% of null studies at 3 seeds). Here the sd of
the differences is floored at the binomial sd of a difference of two accuracies on n_val images,
sqrt(sd_a^2 + sd_b^2) with each from its pooled error rate plus a pseudo error (analysis/stats/config_interval.py:
binomial_sd), wherever the mean accuracies are at least CEILING; the t test and interval then use the floored sd
on n - 1 df. Far from the ceiling the floor is off and the result is paired_comparison's. The full binomial sd
(not a share) is used because a false "resolved" costs more than a wide interval: measured family-wise error of
"resolved" over the five named comparisons (Holm) with no true difference: see docs/statistics.md.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats

from analysis.stats.paired import paired_comparison
from analysis.stats.config_interval import CEILING, binomial_sd
from analysis.stats.noise_models import N_VAL


def paired_floor_sd(a: np.ndarray, b: np.ndarray, n_val: int = N_VAL, ceiling: float = CEILING) -> np.ndarray:
    """(R,) the floor of the sd of b - a (arrays (R, seeds)): the binomial sd of a difference of two accuracies,
    0 where either configuration's mean accuracy is below `ceiling`."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    near = (np.nanmean(a, axis=1) >= ceiling) & (np.nanmean(b, axis=1) >= ceiling)
    return np.where(near, np.sqrt(binomial_sd(a, n_val) ** 2 + binomial_sd(b, n_val) ** 2), 0.0)


def floored_paired_t(a: np.ndarray, b: np.ndarray, n_val: int = N_VAL, confidence: float = 0.95,
                     ceiling: float = CEILING) -> dict[str, np.ndarray]:
    """Paired t of b - a with the floored sd, for R comparisons at once (a, b: (R, seeds), no NaN): arrays (R,)
    n, mean_diff, sd_diff (observed), sd_floor, sd_used, floored, ci_low, ci_high, t, p_t."""
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    d = b - a
    n = d.shape[1]
    mean = d.mean(axis=1)
    sd = d.std(axis=1, ddof=1) if n > 1 else np.full(len(d), np.nan)
    floor = paired_floor_sd(a, b, n_val, ceiling)
    used = np.maximum(sd, floor)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = used / np.sqrt(n)
        t = mean / se
        df = n - 1 if n > 1 else np.nan
        half = stats.t.ppf(0.5 + confidence / 2, df) * se
        p = np.where(se > 0, 2 * stats.t.sf(np.abs(t), df), np.where(mean == 0, 1.0, 0.0))
    return {"n": np.full(len(d), n), "mean_diff": mean, "sd_diff": sd, "sd_floor": floor, "sd_used": used,
            "floored": floor > sd, "ci_low": mean - half, "ci_high": mean + half, "t": t, "p_t": p}


def floored_paired_comparison(a: Sequence[float], b: Sequence[float], n_val: int = N_VAL,
                              confidence: float = 0.95, ceiling: float = CEILING) -> dict[str, float]:
    """paired_comparison(a, b)'s statistics of b - a with the floored sd in ci_low, ci_high, t and p_t, plus
    sd_floor, sd_used and floored (whether the floor set them). A drop-in for analysis.stats.paired.paired_comparison
    (one more argument: the validation set's size)."""
    out = paired_comparison(a, b, confidence)
    if out["n"] < 2:
        return {**out, "sd_floor": np.nan, "sd_used": out["sd_diff"], "floored": False}
    f = floored_paired_t(np.asarray(a, dtype=float)[None], np.asarray(b, dtype=float)[None], n_val, confidence,
                         ceiling)
    out.update({k: float(f[k][0]) for k in ("ci_low", "ci_high", "t", "p_t", "sd_floor", "sd_used")})
    out["floored"] = bool(f["floored"][0])
    return out
