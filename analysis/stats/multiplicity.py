"""Multiplicity: the family-wise rule every "resolved" in the report uses (Holm's step-down at ALPHA)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from analysis.defaults import ALPHA

__all__ = ["ALPHA", "holm", "resolved"]




def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values along the first axis; NaN stays NaN and is not counted among the m tests.

    Sorted ascending, p_(i) becomes max over j <= i of min(1, (m - j + 1) p_(j)). A 2-D array (m tests, R
    studies) is adjusted column by column."""
    p = np.asarray(p_values, dtype=float)
    if p.ndim == 2:
        return np.column_stack([holm(column) for column in p.T]) if p.shape[1] else p.copy()
    out = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    out[order] = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    return out


def resolved(p_holm: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """The report's one rule: Holm-adjusted p < alpha (False where there is no p)."""
    p = np.asarray(p_holm, dtype=float)
    return np.where(np.isfinite(p), p < alpha, False)
