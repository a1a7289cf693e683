"""Over the training budget: the effects at every epoch, and whether a configuration is still improving.

`effects_by_epoch` applies an effects estimator (passed in, so any of the project's can be used) to the values
of one epoch at a time; each epoch's intervals are that estimator's, with its assumptions, and the epochs are
NOT a family (the same seeds at successive epochs are strongly correlated): an interval at epoch e says what
the effect is at a budget of e epochs under the same schedule (the learning-rate schedule is the full run's).

`late_slopes`: per trial, the least-squares slope of `value` over the last L = max(2, ceil(E / 4)) epochs (E the
study's number of epochs); per configuration, the mean slope over its seeds with a Student-t interval on
n - 1 degrees of freedom. It assumes the per-seed slopes are independent and normal around the configuration's
true late slope (epoch-to-epoch noise within a seed is absorbed into each seed's slope, whatever its
correlation). `still_improving` is the one-sided test slope > 0 at alpha, Holm over the configurations; the
interval shown is the unadjusted two-sided 1 - alpha one.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.results.schema import COMPLETED
from analysis.stats.multiplicity import ALPHA, holm

TRIAL = ("config", "seed")


def effects_by_epoch(epochs: pd.DataFrame, estimate: Callable[[pd.DataFrame], pd.DataFrame], value: str = "val_acc",
                     as_column: str = "final_val_acc") -> pd.DataFrame:
    """epoch, then `estimate`'s columns (term, estimate, ci_low, ci_high, ...), for every epoch of `epochs`.

    `estimate` gets one row per trial that reached the epoch (a restarted trial's last report of it), every
    column of epochs.csv plus `as_column` holding `value` and, where epochs.csv has none, status 'completed' (a
    trial that reported the epoch measured it), so an estimator written for trials.csv reads it."""
    rows = epochs.drop_duplicates([*TRIAL, "epoch"], keep="last")
    if "status" not in rows:
        rows = rows.assign(status=COMPLETED)
    found = []
    for epoch, frame in rows.groupby("epoch", sort=True):
        table = estimate(frame.assign(**{as_column: frame[value]}).reset_index(drop=True))
        found.append(table.assign(epoch=int(epoch)))
    if not found:
        return pd.DataFrame(columns=["epoch", "term", "estimate", "ci_low", "ci_high"])
    out = pd.concat(found, ignore_index=True)
    return out[["epoch", *[c for c in out.columns if c != "epoch"]]]


def last_quarter(n_epochs: int) -> int:
    """How many final epochs the late slope is fitted on: a quarter of training, at least 2."""
    return max(2, math.ceil(n_epochs / 4))


def slope_intervals(y: np.ndarray, x: np.ndarray, alpha: float = ALPHA) -> dict[str, np.ndarray]:
    """Vectorised core: y[..., seeds, L] on epochs x[L] -> slope, ci_low, ci_high, p_improving (one-sided),
    each [...]: the per-seed least-squares slopes' mean and t interval."""
    x = np.asarray(x, dtype=float)
    n = y.shape[-2]
    xc = x - x.mean()
    per_seed = (y * xc).sum(axis=-1) / (xc ** 2).sum()
    mean = per_seed.mean(axis=-1)
    se = per_seed.std(axis=-1, ddof=1) / np.sqrt(n)
    half = stats.t.ppf(1 - alpha / 2, n - 1) * se
    with np.errstate(divide="ignore", invalid="ignore"):
        p = stats.t.sf(mean / se, n - 1)
    return {"slope": mean, "ci_low": mean - half, "ci_high": mean + half, "p_improving": p}


def late_slopes(epochs: pd.DataFrame, value: str = "val_acc", by: Sequence[str] = ("config",),
                n_epochs: int | None = None, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per configuration: `by` columns, slope (units of `value` per epoch), ci_low, ci_high, n_seeds,
    epochs_fitted (the first and last epoch of the fit), p_improving, p_holm, still_improving.

    Only trials that reached the last epoch count (n_epochs: the study's epochs, default the largest in the
    table); a configuration with fewer than 2 such seeds gets NaN and still_improving False."""
    rows = epochs.drop_duplicates([*TRIAL, "epoch"], keep="last")
    last = int(n_epochs if n_epochs is not None else rows["epoch"].max())
    x = np.arange(last - last_quarter(last) + 1, last + 1)
    window = rows[rows["epoch"].isin(x)]
    out = []
    for key, group in window.groupby(list(by), sort=False):
        wide = group.pivot_table(index="seed", columns="epoch", values=value, aggfunc="last")
        wide = wide.reindex(columns=x).dropna()
        if len(wide) >= 2:
            found = {k: float(v) for k, v in slope_intervals(wide.to_numpy(dtype=float), x, alpha).items()}
        else:
            found = {k: math.nan for k in ("slope", "ci_low", "ci_high", "p_improving")}
        names = dict(zip(by, key if isinstance(key, tuple) else (key,)))
        out.append({**names, **found, "n_seeds": len(wide), "epochs_fitted": f"{x[0]}-{x[-1]}"})
    table = pd.DataFrame(out)
    if table.empty:
        return table
    table["p_holm"] = holm(table["p_improving"].to_numpy())
    table["still_improving"] = np.where(np.isfinite(table["p_holm"]), table["p_holm"] < alpha, False)
    return table
