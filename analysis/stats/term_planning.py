"""Noise and planning per term: each term's own per-seed-contrast sd, its upper confidence bound, and the seeds
that term needs.

A term's per-seed contrast (analysis/stats/per_seed_effects.py) has its own sd: a seed that moves the plain cells
together widens the shortcut term only, so one "noise of the study" number plans the other terms with the wrong
noise. Here each term gets sd_T over the m complete seeds (m - 1 df), the one-sided upper bound
sd_T sqrt((m - 1) / chi2(0.20, m - 1)) (analysis/stats/power.py: sd_upper_bound), and seeds_needed: the smallest n with
power 0.8 for |effect| = min_effect in a two-sided t test at alpha / terms (Holm's bound), se = sd_upper / sqrt(n)
on n - 1 df (analysis/stats/power.py: paired_se_at, seeds_needed).

The bound's stated level holds for normal contrasts. Measured (python benchmarks/realistic_noise.py --studies
20000): P(true sd_T <= bound) over the 7 terms at 3 / 5 / 10 seeds: 0.79-0.81 in additive, heteroscedastic and
seed x shortcut noise; 0.77-0.80 near the ceiling (discrete, seed-scaled errors: heavier tails than normal); with
failed trainings 0.77-0.86. The one pooled sd for every term held 0.71-0.74 with heteroscedastic cells and
0.00-0.01 for shortcut under seed x shortcut noise.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from analysis.stats.effects import ALPHA
from analysis.stats.power import PLANNING_CONFIDENCE, POWER, paired_se_at, sd_upper_bound, seeds_needed
from analysis.stats.per_seed_effects import PerSeedEffects


@dataclass(frozen=True)
class TermPlan:
    """One entry per term."""
    term: tuple[str, ...]
    sd: np.ndarray  # sd over seeds of the term's per-seed contrast
    df: np.ndarray  # n_seeds - 1
    sd_upper: np.ndarray  # one-sided `confidence` upper bound of sd
    min_effect: float
    alpha_per_test: float
    seeds_needed: np.ndarray  # seeds for `power` at min_effect with sd_upper (inf: never; NaN: no sd)

    def frame(self) -> pd.DataFrame:
        columns = {f.name: getattr(self, f.name) for f in fields(self)}
        columns["term"] = list(self.term)
        return pd.DataFrame(columns)


def sd_upper_bounds(sd: np.ndarray, df: np.ndarray, confidence: float = PLANNING_CONFIDENCE) -> np.ndarray:
    """sd_upper_bound element-wise (arrays of one shape, or df broadcast; NaN without df). The bound is sd times
    a factor of df alone, so each distinct df is computed once."""
    sd, df = np.broadcast_arrays(np.asarray(sd, dtype=float), np.asarray(df, dtype=float))
    factor = np.full(sd.shape, np.nan)
    for d in np.unique(df[np.isfinite(df) & (df >= 1)]):
        factor[df == d] = sd_upper_bound(1.0, float(d), confidence)
    return sd * factor


def term_plan(effects: PerSeedEffects, min_effect: float, alpha: float = ALPHA, power: float = POWER,
              confidence: float = PLANNING_CONFIDENCE) -> TermPlan:
    """Each term's noise and seeds needed, from a per-seed effects table of method "t" (se = sd / sqrt(n));
    ValueError for a moderated table, whose se is not the term's own."""
    if effects.method.startswith("moderated"):
        raise ValueError("term planning needs each term's own sd: pass a per-seed effects table of method 't'")
    n = effects.n_seeds
    m = len(effects.term)
    sd = np.asarray(effects.se, dtype=float) * np.sqrt(n) if n >= 2 else np.full(m, np.nan)
    df = np.full(m, float(n - 1) if n >= 2 else np.nan)
    upper = sd_upper_bounds(sd, df, confidence)
    need = np.array([seeds_needed(min_effect, paired_se_at(u), alpha / m, power) if np.isfinite(u) else np.nan
                     for u in upper])
    return TermPlan(effects.term, sd, df, upper, float(min_effect), alpha / m, need)
