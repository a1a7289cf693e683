"""Plan from a pilot: the seeds per cell an effect of interest needs, the trials that adds, and what they cost.

From a finished study's analysis (analysis/study_analysis.py), two rows, one per noise level:
  - the residual sd of the effects' fit as observed, and its one-sided 80% upper confidence bound (chi-square:
    planning with it makes the count suffice for the true noise with probability >= 80%);
  - seeds per cell at which the family-wise rule resolves an effect of min_effect with the given power, tested at
    alpha / m per term (Holm never resolves less than Bonferroni, so the power is a lower bound), noncentral t,
    balanced design with seed blocks (analysis/stats/power.py);
  - trials added: the runs missing to reach that many completed seeds in every cell (a failed run is run again);
  - compute: trials added x the pilot's mean train_seconds per completed trial; wall time: compute / concurrent
    slots (results/timing.json's `concurrent_slots` from the pilot's last run, or the slots of the cluster now).
train_seconds counts the epochs only, not start-up, data loading or scheduling, so the wall time is a lower
bound; where timing.json holds the pilot's orchestration efficiency (trial seconds / (wall x slots)) the table
also gives the wall time at that efficiency.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.study_analysis import Analysis
from analysis.defaults import PLANNING_CONFIDENCE, POWER
from analysis.results.load import ResultsError, is_completed
from analysis.stats.multiplicity import ALPHA
from analysis.stats.power import factorial_seeds_needed, sd_upper_bound

PLAN_COLUMNS = ("basis", "residual_sd", "df", "confidence", "n_cells", "n_terms", "n_seeds", "min_effect", "power",
                "alpha_per_term", "seeds_needed", "trials_added", "seconds_per_trial", "n_timed", "compute_seconds",
                "slots", "wall_seconds", "efficiency", "wall_seconds_at_efficiency")
OBSERVED = "observed"


def _positive(value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return np.nan
    return x if np.isfinite(x) and x > 0 else np.nan


def trial_seconds(trials: pd.DataFrame) -> tuple[float, int]:
    """(mean train_seconds of the completed trials that have one, how many); (NaN, 0) without the column."""
    if "train_seconds" not in trials:
        return np.nan, 0
    done = is_completed(trials)
    seconds = pd.to_numeric(trials.loc[done, "train_seconds"], errors="coerce")
    seconds = seconds[np.isfinite(seconds) & (seconds > 0)]
    return (float(seconds.mean()), len(seconds)) if len(seconds) else (np.nan, 0)


def plan_table(a: Analysis, min_effect: float | None = None, power: float = POWER, timing: dict | None = None,
               slots: int | None = None, confidence: float = PLANNING_CONFIDENCE, alpha: float = ALPHA
               ) -> pd.DataFrame:
    """PLAN_COLUMNS, one row at the observed residual sd and one at its upper bound (fractions, seconds).

    min_effect: a fraction (default: the analysis's); timing: results/timing.json (`read_timing`); slots: the
    concurrent trials to plan the wall time for (default: timing's `concurrent_slots`). ResultsError (one line)
    when the pilot has no estimate of the noise."""
    min_effect = a.min_effect if min_effect is None else min_effect
    if not (np.isfinite(min_effect) and min_effect > 0):
        raise ResultsError(f"the smallest effect of interest must be > 0; got {min_effect!r}")
    if a.fit is None or a.fit.df < 1:
        why = a.skipped[-1] if a.skipped else "the fit has no residual degrees of freedom"
        raise ResultsError(f"cannot plan from this pilot: {why}")
    timing = timing or {}
    counts = a.design.cell_counts[a.design.cell_counts > 0]
    n_cells, n_terms = len(counts), a.design.n_terms
    sd, df = float(a.fit.sigma), float(a.fit.df)
    per_trial, n_timed = trial_seconds(a.study.trials)
    slots = _positive(slots if slots is not None else timing.get("concurrent_slots"))
    efficiency = _positive(timing.get("orchestration_efficiency"))
    rows = []
    for basis, noise in ((OBSERVED, sd), (f"{confidence:.0%} upper bound", sd_upper_bound(sd, df, confidence))):
        need = factorial_seeds_needed(min_effect, noise, n_cells, n_terms, alpha, power) if noise > 0 else np.nan
        added = float(np.maximum(need - counts, 0).sum()) if np.isfinite(need) else need
        compute = added * per_trial if added else 0.0
        wall = compute / slots
        rows.append({"basis": basis, "residual_sd": noise, "df": df, "confidence": confidence, "n_cells": n_cells,
                     "n_terms": n_terms, "n_seeds": int(counts.min()), "min_effect": min_effect, "power": power,
                     "alpha_per_term": alpha / n_terms, "seeds_needed": need, "trials_added": added,
                     "seconds_per_trial": per_trial, "n_timed": n_timed, "compute_seconds": compute, "slots": slots,
                     "wall_seconds": wall, "efficiency": efficiency, "wall_seconds_at_efficiency": wall / efficiency})
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
