"""The study's defaults and units, stated once: the driver (ablation/), the report CLI and the statistics read them
here.

Percentage points (what a user types: `--min-effect 2`) become fractions (what every statistic takes: 0.02) at one
boundary, `min_effect_fraction`, which is also the one check of the value.
"""
from __future__ import annotations

import math

ALPHA = 0.05  # family-wise error rate of "resolved" (Holm within each family)
POWER = 0.80  # planning: the chance a planned study resolves an effect of min_effect
PLANNING_CONFIDENCE = 0.80  # planning: one-sided upper confidence bound of the noise used for the seeds needed
MIN_EFFECT_PP = 1.0  # the smallest effect of interest, percentage points
MIN_EFFECT = MIN_EFFECT_PP / 100  # the same as a fraction (what the statistics take)
WAVE = 2  # --until-settled: seeds per cell added by each wave
MAX_SEEDS = 10  # --until-settled: the seed budget per cell
MAX_FAILURES = 3  # retries of a failing trial from its checkpoint
WANDB_PROJECT = "resnet-ablation"
PLANNING_MAX_SEEDS = 10_000  # planning reports "more than this" instead of searching further


def min_effect_fraction(pp: float | None, flag: str = "--min-effect") -> float:
    """The smallest effect of interest as a fraction from percentage points (None: the default); ValueError (one
    line, in the user's units) unless 0 < pp < 100."""
    if pp is None:
        return MIN_EFFECT
    if not (isinstance(pp, (int, float)) and math.isfinite(pp) and 0 < pp < 100):
        raise ValueError(f"{flag} must be in (0, 100) percentage points, got {pp:g}" if isinstance(pp, (int, float))
                         else f"{flag} must be a number of percentage points, got {pp!r}")
    return pp / 100


def check_power(power: float | None, flag: str = "--power") -> float:
    """The planned power (None: the default); ValueError (one line) unless 0 < power < 1."""
    if power is None:
        return POWER
    if not (math.isfinite(power) and 0 < power < 1):
        raise ValueError(f"{flag} must be in (0, 1), got {power:g}")
    return power
