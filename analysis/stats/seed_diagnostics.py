"""How much of the residual variation is seed x term interaction rather than run noise, which seed is low, and
which runs look like failed trainings.

Residual: the cells x seeds values after removing cell means and seed means (the seed-block model's residual,
(C - 1)(n - 1) df). It splits exactly into one part per term: each seed's Yates contrast of term T, centred over
the seeds, gives SS_T = (C / 4) sum_s (c_sT - mean c_T)^2 on n - 1 df, and the SS_T of the C - 1 terms sum to the
residual SS. share_T = SS_T / SS_residual (1 / (C - 1) each when the noise is the same in every run). The test of
term T: F = (SS_T / (n - 1)) / ((SS_residual - SS_T) / ((C - 2)(n - 1))) on (n - 1, (C - 2)(n - 1)) df, exact for
normal noise of one variance; Holm over the terms gives `interaction`. Its error rates are measured in
tests/test_realistic_noise.py (docs/statistics.md).

Failed trainings: a run is flagged when it lies more than FAIL_Z robust sds below its cell's median over seeds,
the robust sd being 1.4826 MAD of the cell, floored at the median of all cells' robust sds and at MIN_SCALE (with
3 seeds one cell's MAD can be ~0). Flagged runs are reported, never dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

from analysis.stats.effects import ALPHA, holm, resolved
from analysis.stats.noise_models import yates_weights

FAIL_Z = 5.0
MIN_SCALE = 0.01  # 1 pp: with FAIL_Z, a run must be at least 5 pp below its cell to count as failed
MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class SeedInteraction:
    """Arrays (R, terms) for R studies; residual_ss and df (R,) / scalars."""
    share: np.ndarray  # SS_T / residual SS
    ss: np.ndarray  # SS_T
    f: np.ndarray
    p_value: np.ndarray
    p_holm: np.ndarray
    interaction: np.ndarray  # bool: p_holm < alpha
    residual_ss: np.ndarray
    df_term: int
    df_rest: int


def seed_interaction(values: np.ndarray, factors: Mapping[str, Sequence], alpha: float = ALPHA
                     ) -> SeedInteraction:
    """Seed x term decomposition of values (R, seeds, cells) or (seeds, cells), complete (no NaN)."""
    x = np.asarray(values, dtype=float)
    x = x[None] if x.ndim == 2 else x
    n, n_cells = x.shape[1:]
    c = x @ yates_weights(factors).T  # (R, seeds, terms): each seed's contrast; cell and seed means drop out
    ss = (n_cells / 4) * ((c - c.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    total = ss.sum(axis=1)
    df_term, df_rest = n - 1, (n_cells - 2) * (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (ss / df_term) / ((total[:, None] - ss) / df_rest)
        share = ss / total[:, None]
    p = stats.f.sf(f, df_term, df_rest)
    p_holm = holm(p.T).T
    return SeedInteraction(share, ss, f, p, p_holm, resolved(p_holm, alpha), total, df_term, df_rest)


def lowest_seed(values: np.ndarray, cells: np.ndarray) -> tuple[int, int, int]:
    """(index of the seed lowest in the most of `cells` ((cells,) bool), in how many of them, how many cells)
    for values (seeds, cells); ties of the count go to the lower index."""
    x = np.asarray(values, dtype=float)[:, np.asarray(cells, dtype=bool)]
    counts = np.bincount(np.nanargmin(x, axis=0), minlength=x.shape[0])
    best = int(np.argmax(counts))
    return best, int(counts[best]), int(x.shape[1])


def failed_runs(values: np.ndarray, fail_z: float = FAIL_Z, min_scale: float = MIN_SCALE) -> np.ndarray:
    """Bool of values' shape ((R,) seeds, cells): runs far below their cell's median (see the module docstring).
    NaN (no run) is never flagged."""
    x = np.asarray(values, dtype=float)
    median = np.nanmedian(x, axis=-2, keepdims=True)
    scale = MAD_TO_SD * np.nanmedian(np.abs(x - median), axis=-2, keepdims=True)
    typical = np.nanmedian(scale, axis=-1, keepdims=True)
    scale = np.maximum(np.maximum(scale, typical), min_scale)
    with np.errstate(invalid="ignore"):
        return (median - x) > fail_z * scale
