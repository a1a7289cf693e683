"""Which configurations may be the best: Hsu's multiple comparisons with the best (MCB), paired by seed.

Input: one value per configuration and seed (a configurations x seeds matrix; seed k is a block shared by every
configuration). Each pair (i, j) is compared through its per-seed differences d_s = y_is - y_js, so the seed
block cancels and each pair carries its own standard error se_ij = sd(d) / sqrt(n) on n - 1 degrees of freedom:
no common variance is assumed, and cells of very different noise are handled.

The set: i is in the set unless some j beats it by a resolved margin, mean_j - mean_i > c * se_ij, with c the
one-sided Student-t quantile at alpha / (k - 1) (Bonferroni over the k - 1 comparisons of the true best with the
others). The true best b leaves the set only if one of its k - 1 differences, each an exact t statistic under
normal per-seed differences, exceeds c; since mean_j <= mean_b for every j, that happens with probability at most
alpha whatever the other means, correlations and noise levels: P(the set holds the true best) >= 1 - alpha, for
each best configuration when several tie. Bonferroni in place of Dunnett's exact constant makes the set somewhat
larger than needed (it does not assume equal correlations, which unequal cell noise breaks).

The MCB bounds (Hsu's constrained intervals) of mean_i - max_{j != i} mean_j, simultaneous at 1 - alpha:
upper_i = max(0, min_{j != i} (d_ij + c se_ij)), lower_i = 0 if i alone is in the set, else
min(0, min_{j in set, j != i} (d_ij - c se_ij)). i is in the set exactly when upper_i > 0.

Ranks (1 = best) and rank intervals come from all k (k - 1) / 2 paired differences with two-sided t intervals at
Bonferroni level alpha / (k (k - 1) / 2), simultaneous at 1 - alpha: rank_low_i = 1 + the configurations resolved
better than i, rank_high_i = k - the configurations resolved worse than i.

Assumes: per-seed differences normal and independent over seeds; every configuration measured on the same seeds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.defaults import ALPHA
from analysis.results.load import completed
from analysis.results.schema import RESPONSES, response_values


@dataclass(frozen=True)
class BestConfigSet:
    """table: one row per configuration (config, mean, mcb_low, mcb_high, in_set, rank, rank_low, rank_high), best
    first; mcb_* bound mean_i - max_{j != i} mean_j (in the response's units, sign: higher is better)."""

    table: pd.DataFrame
    alpha: float
    n_seeds: int
    critical_value: float  # c of the set (one-sided t, Bonferroni over k - 1)
    rank_critical_value: float  # of the rank intervals (two-sided t, Bonferroni over k (k - 1) / 2)
    higher_is_better: bool
    method: str = "Hsu MCB, paired by seed, per-pair variances, Bonferroni constants"


def _pair_stats(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean differences d[..., i, j] = mean_i - mean_j, their standard errors) of y[..., k, n]."""
    n = y.shape[-1]
    mean = y.mean(axis=-1)
    centred = y - mean[..., None]
    cov = centred @ np.swapaxes(centred, -1, -2) / (n - 1)  # var(y_i - y_j) = var_i + var_j - 2 cov_ij
    var = np.diagonal(cov, axis1=-2, axis2=-1)
    diff_var = np.maximum(var[..., :, None] + var[..., None, :] - 2 * cov, 0.0)
    return mean[..., :, None] - mean[..., None, :], np.sqrt(diff_var / n)


def critical_values(k: int, n: int, alpha: float = ALPHA) -> tuple[float, float]:
    """(c of the set, c of the rank intervals) for k configurations measured on n seeds."""
    pairs = k * (k - 1) / 2
    return float(stats.t.ppf(1 - alpha / (k - 1), n - 1)), float(stats.t.ppf(1 - alpha / (2 * pairs), n - 1))


def mcb(y: np.ndarray, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """Vectorised core over leading axes: y[..., k configurations, n seeds] (higher is better) ->
    in_set, mcb_low, mcb_high, rank_low, rank_high, each [..., k]."""
    y = np.asarray(y, dtype=float)
    k, n = y.shape[-2:]
    if k < 2 or n < 2:
        raise ValueError(f"the best configuration needs at least 2 configurations and 2 seeds (got {k} and {n})")
    c, c_rank = critical_values(k, n, alpha)
    d, se = _pair_stats(y)
    eye = np.eye(k, dtype=bool)
    upper = np.where(eye, np.inf, d + c * se).min(axis=-1)
    in_set = upper > 0
    lower_terms = np.where(eye | ~in_set[..., None, :], np.inf, d - c * se).min(axis=-1)
    alone = in_set & (in_set.sum(axis=-1, keepdims=True) == 1)
    lower = np.where(alone, 0.0, np.minimum(0.0, lower_terms))
    half = c_rank * se
    better = ((-d - half) > 0) & ~eye  # j resolved better than i: mean_j - mean_i > half
    worse = ((d - half) > 0) & ~eye
    return {"in_set": in_set, "mcb_low": lower, "mcb_high": np.maximum(0.0, upper),
            "rank_low": 1 + better.sum(axis=-1), "rank_high": k - worse.sum(axis=-1)}


def best_configuration_set(values: pd.DataFrame, alpha: float = ALPHA, higher_is_better: bool = True
                           ) -> BestConfigSet:
    """values: index = configuration, columns = seeds, one value per cell (a seed missing in any configuration
    is dropped first, as pairing needs every configuration on the same seeds)."""
    complete = values.dropna(axis=1, how="any")
    if complete.shape[1] < 2 or complete.shape[0] < 2:
        raise ValueError("the best configuration needs at least 2 configurations measured on 2 common seeds")
    sign = 1.0 if higher_is_better else -1.0
    y = sign * complete.to_numpy(dtype=float)
    found = mcb(y, alpha)
    means = y.mean(axis=1)
    rank = stats.rankdata(-means, method="min").astype(int)
    c, c_rank = critical_values(*y.shape, alpha)
    table = pd.DataFrame({"config": complete.index, "mean": sign * means,
                          "mcb_low": found["mcb_low"], "mcb_high": found["mcb_high"], "in_set": found["in_set"],
                          "rank": rank, "rank_low": found["rank_low"], "rank_high": found["rank_high"]})
    table = table.sort_values(["rank", "config"], kind="stable").reset_index(drop=True)
    return BestConfigSet(table=table, alpha=alpha, n_seeds=y.shape[1], critical_value=c,
                         rank_critical_value=c_rank, higher_is_better=higher_is_better)


def configuration_by_seed(trials: pd.DataFrame, response: str) -> pd.DataFrame:
    """The completed trials' `response` (a schema.RESPONSES name) as configurations x seeds, for
    `best_configuration_set(values, higher_is_better=RESPONSES[response].higher_is_better)`."""
    done = completed(trials)
    return done.assign(_value=response_values(done, response).astype(float)).pivot(
        index="config", columns="seed", values="_value")


def best_configuration_set_of(trials: pd.DataFrame, response: str = "final_val_acc", alpha: float = ALPHA
                              ) -> BestConfigSet:
    """`best_configuration_set` of a trials table's response, in the response's own direction."""
    return best_configuration_set(configuration_by_seed(trials, response), alpha,
                                  RESPONSES[response].higher_is_better)
