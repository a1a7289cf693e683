"""Numbers as the report writes them: percentages, percentage points, intervals, p-values, durations, counts.

Accuracies are fractions in the statistics and percent in the report: this module is where the scale changes.
"""
from __future__ import annotations

import numpy as np

from analysis.defaults import PLANNING_MAX_SEEDS

DASH = "—"  # a number that does not exist (no interval from one seed, an empty cell)


def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage: 0.8734 -> '87.3'."""
    return DASH if not np.isfinite(x) else f"{100 * x:.{digits}f}"


def pp(x: float, digits: int = 2) -> str:
    """A difference of fractions in signed percentage points: 0.0123 -> '+1.23'."""
    return DASH if not np.isfinite(x) else f"{100 * x:+.{digits}f}"


def pm(mean: float, std: float, digits: int = 1, scale: float = 100.0) -> str:
    """'mean ± std' (scaled); the std left out where it does not exist."""
    if not np.isfinite(mean):
        return DASH
    return f"{scale * mean:.{digits}f}" + (f" ± {scale * std:.{digits}f}" if np.isfinite(std) else "")


def interval(low: float, high: float, digits: int = 2, scale: float = 100.0) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return DASH
    return f"[{scale * low:.{digits}f}, {scale * high:.{digits}f}]"


def pvalue(p: float) -> str:
    return DASH if not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def p_is(p: float) -> str:
    """'p < 0.001', 'p = 0.234' or 'no p'."""
    text = pvalue(p)
    return "no p" if text == DASH else f"p {text}" if text.startswith("<") else f"p = {text}"


def duration(seconds: float) -> str:
    """'45 s', '12 min', '3.4 h', '2.1 d'; a dash where unknown, 'unbounded' for an infinite count."""
    if np.isnan(seconds):
        return DASH
    if np.isinf(seconds):
        return "unbounded"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172_800 else f"{seconds / 86_400:.1f} d"


def seeds_text(n: float) -> str:
    """Seeds needed: a count, '> 10,000', or a dash where the noise is unknown."""
    if np.isnan(n):
        return DASH
    return f"> {PLANNING_MAX_SEEDS:,}" if np.isinf(n) else f"{int(n)}"


def trials_count(n: float) -> str:
    return DASH if np.isnan(n) else "unbounded" if np.isinf(n) else f"{int(n)}"


