"""The Pareto front of configurations on (accuracy: higher is better, cost: lower is better).

A configuration is dominated when another is at least as accurate and at most as costly, and strictly better
in one of the two; the front is every configuration nobody dominates. Configurations with exactly equal
(accuracy, cost) do not dominate each other: all of them are on the front or none is. The front is of the point
estimates (the means); it carries no interval of its own: which configurations an interval cannot separate is
the business of the accuracy intervals drawn beside it (and of `best_config`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def dominance(accuracy: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """dominates[i, j]: configuration i dominates configuration j."""
    a, c = np.asarray(accuracy, dtype=float), np.asarray(cost, dtype=float)
    no_worse = (a[:, None] >= a[None, :]) & (c[:, None] <= c[None, :])
    better = (a[:, None] > a[None, :]) | (c[:, None] < c[None, :])
    return no_worse & better


def pareto_front(table: pd.DataFrame, accuracy: str = "mean", cost: str = "cost",
                 name: str = "config") -> pd.DataFrame:
    """`table` plus on_front (bool) and dominated_by (the `name`s of the configurations dominating it, ';'-joined,
    '' on the front), sorted by cost then accuracy (descending): the front's staircase in order. Rows with a
    missing accuracy or cost are left out of the comparison (on_front False, dominated_by '')."""
    usable = table[accuracy].notna() & table[cost].notna()
    dominates = np.zeros((len(table), len(table)), dtype=bool)
    idx = np.flatnonzero(usable.to_numpy())
    dominates[np.ix_(idx, idx)] = dominance(table[accuracy].to_numpy()[idx], table[cost].to_numpy()[idx])
    names = table[name].astype(str).to_numpy()
    out = table.assign(on_front=usable.to_numpy() & ~dominates.any(axis=0),
                       dominated_by=[";".join(names[dominates[:, j]]) for j in range(len(table))])
    return out.sort_values([cost, accuracy], ascending=[True, False], kind="stable").reset_index(drop=True)
