"""Per-configuration aggregates over seeds: summaries, per-seed values, learning curves, marginal means.

Only completed trials enter (`analysis.results.load.completed`); a configuration's n is its number of completed trials
with a value. Intervals are Student-t intervals of the mean over seeds: mean +- t(n-1) * std / sqrt(n). An
accuracy's mean lies in [0, 1], so its interval is cut to [0, 1] and marked as clipped where it was cut: the
clipped interval holds the true mean whenever the t interval does (the mean cannot lie outside [0, 1]), so the
coverage is the t interval's, and it never shows an impossible accuracy.
"""
from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.results.load import METRICS, completed, config_table, same_level

SPLITS = {"train": "train_acc", "val": "val_acc"}


ACCURACY_BOUNDS = (0.0, 1.0)


def mean_ci(values: Sequence[float], confidence: float = 0.95,
            bounds: tuple[float, float] | None = None) -> dict[str, float]:
    """n, mean, std (n - 1), sem, a t interval for the mean of the finite values (NaN where undefined) and
    ci_clipped: whether the interval was cut to `bounds` (the range the mean must lie in; None: no cut)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    mean = x.mean() if n else np.nan
    std = x.std(ddof=1) if n > 1 else np.nan
    sem = std / np.sqrt(n) if n > 1 else np.nan
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sem if n > 1 else np.nan
    low, high = mean - half, mean + half
    clipped = False
    if bounds is not None and n > 1:
        clipped = bool(low < bounds[0] or high > bounds[1])
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"n": n, "mean": mean, "std": std, "sem": sem, "ci_low": low, "ci_high": high, "ci_clipped": clipped}


def config_summary(trials: pd.DataFrame, factors: Mapping[str, Sequence], metrics: Sequence[str] = METRICS,
                   confidence: float = 0.95) -> pd.DataFrame:
    """One row per configuration (level order): config, model, factor levels, n_completed, n_failed and, per
    metric m, m_n, m_mean, m_std, m_sem, m_ci_low, m_ci_high (t interval cut to [0, 1]), m_ci_clipped.
    `trials` may hold any status."""
    done = completed(trials)
    rows = []
    for _, cell in config_table(trials, factors).iterrows():
        mine = done[done["config"] == cell["config"]]
        row = {**cell.to_dict(), "n_completed": len(mine),
               "n_failed": int((trials["config"] == cell["config"]).sum() - len(mine))}
        for metric in metrics:
            row.update({f"{metric}_{k}": v for k, v in mean_ci(mine[metric], confidence, ACCURACY_BOUNDS).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def per_seed_values(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str) -> pd.DataFrame:
    """config, model, seed, value of `metric` for every completed trial, configurations in level order."""
    done = completed(trials, metric)
    order = {c: i for i, c in enumerate(config_table(trials, factors)["config"])}
    out = done.assign(value=done[metric].astype(float), _order=done["config"].map(order))
    return out.sort_values(["_order", "seed"])[["config", "model", "seed", "value"]].reset_index(drop=True)


def curve_summary(epochs: pd.DataFrame, trials: pd.DataFrame, factors: Mapping[str, Sequence]) -> pd.DataFrame:
    """Learning curves of the completed trials: config, model, split ('train' or 'val'), epoch, n, mean, std.

    A trial that reported an epoch twice (restarted from a checkpoint) counts once, with its last report.
    """
    done = completed(trials)
    cells = config_table(trials, factors)
    keep = epochs[epochs["trial_id"].astype(str).isin(set(done["trial_id"].astype(str)))]
    keep = keep.drop_duplicates(subset=["trial_id", "epoch"], keep="last")
    parts = []
    for split, column in SPLITS.items():
        grouped = keep.groupby(["config", "epoch"])[column].agg(["count", "mean", "std"]).reset_index()
        parts.append(grouped.rename(columns={"count": "n"}).assign(split=split))
    curves = pd.concat(parts, ignore_index=True)
    curves = curves.merge(cells[["config", "model"]], on="config", how="inner")
    order = {c: i for i, c in enumerate(cells["config"])}
    curves = curves.assign(_order=curves["config"].map(order)).sort_values(["split", "_order", "epoch"])
    return curves[["config", "model", "split", "epoch", "n", "mean", "std"]].reset_index(drop=True)


def _level_mask(data: pd.DataFrame, name: str, level) -> np.ndarray:
    return data[name].map(lambda v: same_level(v, level)).to_numpy(dtype=bool)


def marginal_means(data: pd.DataFrame, factors: Mapping[str, Sequence], metric: str) -> pd.DataFrame:
    """factor, level, n (rows), mean of `metric` at each level of each factor (the other factors averaged
    over; in a balanced design the difference of a factor's two means is its main effect)."""
    rows = []
    for name, levels in factors.items():
        for level in levels:
            x = data.loc[_level_mask(data, name, level), metric].astype(float)
            rows.append({"factor": name, "level": level, "n": len(x), "mean": x.mean()})
    return pd.DataFrame(rows)


def interaction_means(data: pd.DataFrame, factors: Mapping[str, Sequence], metric: str) -> pd.DataFrame:
    """factor_a, level_a, factor_b, level_b, n, mean for every pair of factors (a before b) and levels."""
    rows = []
    for a, b in itertools.combinations(factors, 2):
        for la, lb in itertools.product(factors[a], factors[b]):
            x = data.loc[_level_mask(data, a, la) & _level_mask(data, b, lb), metric].astype(float)
            rows.append({"factor_a": a, "level_a": la, "factor_b": b, "level_b": lb, "n": len(x),
                         "mean": x.mean()})
    return pd.DataFrame(rows)
