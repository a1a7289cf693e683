"""A configuration's mean accuracy over seeds, with an interval that stays honest near 100%.

Near the ceiling an accuracy is a count of errors on a small validation set (359 images): a few seeds often tie
or nearly tie, so the plain t interval, mean +- t(n - 1) sd / sqrt(n), is too narrow (zero width when every seed
ties). Here, where the mean is at least CEILING, the sd is floored at FLOOR_SHARE times the binomial sd of one
accuracy on n_val images, sqrt(p (1 - p) / n_val), with p the error rate of all the seeds' images together plus
one pseudo error and one pseudo correct image (so a cell at 100% still has a floor). Below CEILING the interval
is the ordinary t interval. Both are cut to [0, 1].

Why a share of the binomial sd, not all of it: the per-seed spread is the binomial noise plus the seed's own
effect, so the full binomial sd is a fair guess of the whole sd and flooring at it is conservative at 3 seeds
(covers 0.98-0.99); a share of it only stops the near-ties. Measured under the ceiling noise model
(analysis/stats/noise_models.py, true accuracy 97-99.5%, benchmarks/realistic_noise.py): see
docs/statistics.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis.stats.noise_models import N_VAL

CEILING = 0.95  # mean accuracy from which the binomial floor applies
FLOOR_SHARE = 0.4  # share of the binomial sd that floors the per-seed sd


def binomial_sd(values: np.ndarray, n_val: int = N_VAL) -> np.ndarray:
    """(R,) the binomial sd of one accuracy on n_val images at the pooled error rate of values (R, seeds) (NaN
    ignored), with one pseudo error and one pseudo correct image."""
    x = np.asarray(values, dtype=float)
    n = np.isfinite(x).sum(axis=-1)
    errors = np.nansum(1 - x, axis=-1) * n_val
    p = (errors + 1) / (n * n_val + 2)
    return np.sqrt(p * (1 - p) / n_val)


@dataclass(frozen=True)
class ConfigIntervals:
    """Arrays (R,) for R configurations (or studies)."""
    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray  # observed sd over seeds
    sd_used: np.ndarray  # the sd behind the interval (floored near the ceiling)
    ci_low: np.ndarray
    ci_high: np.ndarray
    floored: np.ndarray  # bool: the floor set the width


def config_intervals(values: np.ndarray, n_val: int = N_VAL, confidence: float = 0.95,
                     ceiling: float = CEILING, floor_share: float = FLOOR_SHARE) -> ConfigIntervals:
    """The interval of each row's mean accuracy over its seeds (values (R, seeds) or (seeds,); NaN: no run).
    NaN interval under 2 values."""
    x = np.atleast_2d(np.asarray(values, dtype=float))
    n = np.isfinite(x).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(x, axis=1) / np.maximum(n, 1), np.nan)
        dev = np.where(np.isfinite(x), x - mean[:, None], 0.0)
        sd = np.where(n > 1, np.sqrt((dev ** 2).sum(axis=1) / (n - 1)), np.nan)
        floor = np.where(mean >= ceiling, floor_share * binomial_sd(x, n_val), 0.0)
        sd_used = np.maximum(sd, floor)
        half = stats.t.ppf(0.5 + confidence / 2, np.where(n > 1, n - 1, np.nan)) * sd_used / np.sqrt(n)
    return ConfigIntervals(n, mean, sd, sd_used, np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1),
                           (floor > sd) & (n > 1))
