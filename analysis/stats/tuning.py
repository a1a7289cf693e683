"""The tuning stage's tables, from `results/tuning.csv` (a study run with `--tune-first`).

One row per tuning trial: config, model, factor columns, tuning_trial, lr, weight_decay, label_smoothing,
inner_val_acc, epochs_done (and, as the study writes it, status, max_epochs, chosen, ...). From it: the tuned
values per configuration, each configuration's best-so-far curve over its tuning trials, and the expected best
inner validation accuracy against the budget (Dodge et al. 2019, "Show your work").

Pure functions on frames; never imports torch or ray.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from analysis.stats.tuning_rule import TUNED, choose

# --- expected best validation accuracy against the budget (Dodge et al. 2019) ------------------------------------


def expected_max(scores: Sequence[float], n: int) -> float:
    """E[max of n draws] from the empirical distribution of `scores` (NaNs ignored).

    With the scores sorted, v_(1) <= ... <= v_(N): E[max_n] = sum_i v_(i) [(i/N)^n - ((i-1)/N)^n], the estimator of
    Dodge et al. (2019), i.e. n independent draws from the observed scores (the empirical CDF raised to n).
    """
    return float(expected_max_curve(scores, [n])[0])


def expected_max_curve(scores: Sequence[float], budgets: Sequence[int] | None = None) -> np.ndarray:
    """E[max_n] for each n in `budgets` (default 1..N)."""
    v = np.sort(np.asarray(scores, dtype=float)[np.isfinite(np.asarray(scores, dtype=float))])
    total = len(v)
    budgets = np.arange(1, total + 1) if budgets is None else np.asarray(budgets, dtype=int)
    if total == 0:
        return np.full(len(budgets), np.nan)
    if (budgets < 1).any():
        raise ValueError(f"budgets must be >= 1, got {budgets.tolist()}")
    i = np.arange(1, total + 1)
    weights = (i[None, :] / total) ** budgets[:, None] - ((i[None, :] - 1) / total) ** budgets[:, None]
    return weights @ v


# --- tables from results/tuning.csv ------------------------------------------------------------------------------


def chosen_rows(tuning: pd.DataFrame) -> pd.DataFrame:
    """Each configuration's winner: the `chosen` column where present (what the study trained with), else the
    study's own rule, `choose`, applied again to the trials."""
    picked = []
    for _, group in tuning.groupby("config", sort=False):
        flagged = group.index[group["chosen"].astype(str).str.lower().eq("true")] if "chosen" in group else []
        if len(flagged):
            picked.append(flagged[0])
            continue
        best = choose(group.assign(_row=group.index).to_dict("records"))
        if best is not None:
            picked.append(best["_row"])
    return tuning.loc[picked].reset_index(drop=True)


def tuned_table(tuning: pd.DataFrame, trials: pd.DataFrame | None = None) -> pd.DataFrame:
    """config, model, the tuned values, the winner's inner_val_acc and epochs, the budget (trials run), how many
    trials ASHA stopped early, and (with the ablation's trials) whether the ablation ran with these values."""
    best = chosen_rows(tuning)
    budget = tuning.groupby("config", sort=False)["tuning_trial"].count()
    early = (tuning["epochs_done"] < _max_epochs(tuning)).groupby(tuning["config"], sort=False).sum()
    out = best[["config", "model", *TUNED, "inner_val_acc", "epochs_done", "tuning_trial"]].copy()
    out["n_trials"] = out["config"].map(budget).astype(int)
    out["stopped_early"] = out["config"].map(early).astype(int)
    if trials is not None and all(h in trials for h in TUNED):
        ran = trials.groupby("config")[list(TUNED)]  # every seed of a configuration must have run with them
        lo, hi = ran.min(), ran.max()
        out["used_by_ablation"] = [
            config in lo.index and all(np.isclose(lo.loc[config, h], value, rtol=1e-9, atol=0)
                                       and np.isclose(hi.loc[config, h], value, rtol=1e-9, atol=0)
                                       for h, value in zip(TUNED, values))
            for config, values in zip(out["config"], out[list(TUNED)].to_numpy(dtype=float))]
    return out


def _max_epochs(tuning: pd.DataFrame) -> pd.Series:
    """Per row: the epochs a tuning trial was allowed (`max_epochs`, else the most any trial of its config ran)."""
    column = "max_epochs" if "max_epochs" in tuning else "epochs_done"
    return tuning["config"].map(tuning.groupby("config", sort=False)[column].max())


def best_so_far(tuning: pd.DataFrame) -> pd.DataFrame:
    """config, model, tuning_trial, inner_val_acc, stopped_early, best_so_far (the running maximum over the trials
    in order)."""
    frame = tuning[["config", "model", "tuning_trial", "inner_val_acc"]].copy()  # load_tuning's order
    frame["stopped_early"] = tuning["epochs_done"] < _max_epochs(tuning)
    running = frame.groupby("config", sort=False)["inner_val_acc"].cummax()
    frame["best_so_far"] = running.groupby(frame["config"], sort=False).ffill()  # a failed trial keeps the best
    return frame.reset_index(drop=True)


def expected_max_table(tuning: pd.DataFrame) -> pd.DataFrame:
    """config, model, n, expected_max: E[best inner val acc] with a budget of n trials, n = 1..N per config."""
    rows = []
    for config, group in tuning.groupby("config", sort=False):
        scores = group["inner_val_acc"].to_numpy(dtype=float)
        curve = expected_max_curve(scores)
        rows += [{"config": config, "model": group["model"].iloc[0], "n": n + 1, "expected_max": value}
                 for n, value in enumerate(curve)]
    return pd.DataFrame(rows, columns=["config", "model", "n", "expected_max"])
