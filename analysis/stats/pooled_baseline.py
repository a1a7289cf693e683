"""The report's current effect intervals (pooled residual of the OLS fit with seed blocks, analysis/stats/effects.py) on
simulated (studies, seeds, cells) arrays, so that the realistic-noise simulations can measure them beside the
per-seed ones. One QR decomposition fits every study (analysis/stats/ols.py)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from analysis.stats.model_design import ModelDesign, model_design
from analysis.stats.effects import effect_contrasts
from analysis.stats.ols import Contrasts, contrasts, fit_ols
from analysis.simulate import simulate

METRIC = "final_val_acc"


def balanced_design(factors: Mapping[str, Sequence], n_seeds: int) -> ModelDesign:
    """The design of a complete study of n_seeds seeds (simulate.py's table, so its rows are the report's)."""
    return model_design(simulate(factors, {}, n_seeds=n_seeds, rng=0), factors, METRIC)


def pooled_effect_intervals(values: np.ndarray, factors: Mapping[str, Sequence],
                            confidence: float = 0.95) -> Contrasts:
    """The OLS effects' estimates and pooled t intervals of every study in values (R, seeds, cells), no NaN;
    arrays (terms, R)."""
    design = balanced_design(factors, values.shape[1])
    y = values[:, design.seed_of_run, design.cells].T  # (runs, R) in the design's row order
    return contrasts(fit_ols(design.X, y), effect_contrasts(design), confidence)


def covers(low: np.ndarray, high: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Whether each interval holds its truth (broadcast); False where the interval is NaN."""
    return (low <= truth) & (truth <= high)
