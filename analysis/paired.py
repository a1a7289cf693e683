"""The original study's named models, compared seed by seed.

Named models are found by their factor levels, not by the name string: Plain-34 (no shortcut, no SE, ReLU),
ResNet-34 (shortcut), SE-ResNet-34 (shortcut + SE), Mish-ResNet-34 (shortcut + Mish). Where one of these three
factors is not varied in a study, its level is unknown from the table, so the model name must match too (the
trailing depth ignored: ResNet-18 matches ResNet-34). Any other factors (depth, ...) split the comparisons
into groups, one per combination of their levels. The labels shown are the `model` column's names.

A comparison pairs the two configurations' completed trials by seed; the difference is `model - baseline`.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.aggregate import mean_ci
from analysis.load import completed, config_table, same_level
from analysis.power import minimum_detectable_effect, paired_se_at, seeds_needed

NAMED_MODELS: dict[str, dict[str, object]] = {
    "Plain-34": {"shortcut": False, "se": False, "activation": "relu"},
    "ResNet-34": {"shortcut": True, "se": False, "activation": "relu"},
    "SE-ResNet-34": {"shortcut": True, "se": True, "activation": "relu"},
    "Mish-ResNet-34": {"shortcut": True, "se": False, "activation": "mish"},
}
REFERENCE = "Plain-34"
# Plain-34 as the reference for every named model, plus the original study's two claims about ResNet-34.
COMPARISONS = (("Plain-34", "ResNet-34"), ("Plain-34", "SE-ResNet-34"), ("Plain-34", "Mish-ResNet-34"),
               ("ResNet-34", "SE-ResNet-34"), ("ResNet-34", "Mish-ResNet-34"))
WILCOXON_MIN_N = 6  # below 6 nonzero pairs the exact two-sided signed-rank p cannot go under 0.05


def _stem(name: str) -> str:
    return re.sub(r"-\d+$", "", str(name).strip())


def named_cells(trials: pd.DataFrame, factors: Mapping[str, Sequence]) -> pd.DataFrame:
    """named, group, config, model for every configuration that is one of NAMED_MODELS.

    group: the other factors' levels as 'depth=18' (empty when there are none)."""
    others = [f for f in factors if f not in ("shortcut", "se", "activation")]
    rows = []
    for _, cell in config_table(trials, factors).iterrows():
        group = ", ".join(f"{f}={cell[f]}" for f in others)
        for named, levels in NAMED_MODELS.items():
            varied = [f for f in levels if f in factors]
            if not all(same_level(cell[f], levels[f]) for f in varied):
                continue
            if len(varied) < len(levels) and _stem(cell["model"]) != _stem(named):
                continue
            rows.append({"named": named, "group": group, "config": cell["config"], "model": cell["model"]})
    found = pd.DataFrame(rows, columns=["named", "group", "config", "model"])
    return found.drop_duplicates(subset=["named", "group"], keep="first").reset_index(drop=True)


def probability_of_improvement(a: Sequence[float], b: Sequence[float]) -> float:
    """P(B > A) for a random run of each, ties counting half (the Mann-Whitney U statistic / (n_a n_b))."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float((np.sign(b[:, None] - a[None, :]) + 1).mean() / 2)


def paired_comparison(a: Sequence[float], b: Sequence[float], confidence: float = 0.95, n_boot: int = 2000,
                      rng: np.random.Generator | int | None = 0, alpha: float = 0.05,
                      power: float = 0.8) -> dict[str, float]:
    """Paired statistics of b - a (a[i] and b[i] share seed i).

    n, mean_diff, sd_diff, ci_low, ci_high (t interval), t, p_t (paired t test), p_wilcoxon (signed-rank on the
    nonzero differences; NaN under WILCOXON_MIN_N of them), prob_improvement with pi_ci_low/pi_ci_high (percentile
    bootstrap resampling seeds, pairs kept), mde and seeds_needed (for the observed mean difference)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = b - a
    n = len(d)
    s = mean_ci(d, confidence)
    out = {"n": n, "mean_diff": s["mean"], "sd_diff": s["std"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
           "t": np.nan, "p_t": np.nan, "p_wilcoxon": np.nan}
    if n > 1 and s["std"] > 0:
        out["t"] = s["mean"] / s["sem"]
        out["p_t"] = float(2 * stats.t.sf(abs(out["t"]), n - 1))
    elif n > 1:  # every pair differs by the same amount
        out["p_t"] = 1.0 if s["mean"] == 0 else 0.0
    if np.count_nonzero(d) >= WILCOXON_MIN_N:
        out["p_wilcoxon"] = float(stats.wilcoxon(d[d != 0]).pvalue)
    out["prob_improvement"] = probability_of_improvement(a, b)
    out["pi_ci_low"] = out["pi_ci_high"] = np.nan
    if n > 1 and n_boot > 0:
        draws = np.random.default_rng(rng).integers(0, n, size=(n_boot, n))
        wins = (np.sign(b[:, None] - a[None, :]) + 1) / 2  # wins[i, j]: run i of b against run j of a
        boot = wins[draws[:, :, None], draws[:, None, :]].mean(axis=(1, 2))
        tail = (1 - confidence) / 2
        out["pi_ci_low"], out["pi_ci_high"] = np.quantile(boot, [tail, 1 - tail])
    se, df = (s["sem"], n - 1) if n > 1 else (np.nan, 0)
    out["mde"] = minimum_detectable_effect(se, df, alpha, power)
    out["seeds_needed"] = seeds_needed(s["mean"], paired_se_at(s["std"]), alpha, power) if n > 1 else np.nan
    return out


def paired_values(trials: pd.DataFrame, config_a: str, config_b: str, metric: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seeds, a, b): the metric of the two configurations for the seeds completed in both."""
    done = completed(trials)
    done = done[done[metric].notna()]
    a = done[done["config"] == config_a].set_index("seed")[metric]
    b = done[done["config"] == config_b].set_index("seed")[metric]
    seeds = sorted(set(a.index) & set(b.index))
    return np.array(seeds), a.loc[seeds].to_numpy(float), b.loc[seeds].to_numpy(float)


def paired_comparisons(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                       confidence: float = 0.95, n_boot: int = 2000,
                       rng: np.random.Generator | int | None = 0) -> pd.DataFrame:
    """One row per COMPARISONS pair present (per group of the other factors): group, baseline, model (names
    from the table), named_baseline, named_model, config_baseline, config_model, then `paired_comparison`'s
    statistics of model - baseline. Empty (with these columns) when no pair is present."""
    cells = named_cells(trials, factors)
    generator = np.random.default_rng(rng)
    rows = []
    for group, found in cells.groupby("group", sort=False):
        by_name = found.set_index("named")
        for ref, other in COMPARISONS:
            if ref not in by_name.index or other not in by_name.index:
                continue
            ca, cb = by_name.loc[ref, "config"], by_name.loc[other, "config"]
            _, a, b = paired_values(trials, ca, cb, metric)
            if len(a) == 0:
                continue
            rows.append({"group": group, "baseline": by_name.loc[ref, "model"], "model": by_name.loc[other, "model"],
                         "named_baseline": ref, "named_model": other, "config_baseline": ca, "config_model": cb,
                         **paired_comparison(a, b, confidence, n_boot, generator)})
    columns = ["group", "baseline", "model", "named_baseline", "named_model", "config_baseline", "config_model",
               "n", "mean_diff", "sd_diff", "ci_low", "ci_high", "t", "p_t", "p_wilcoxon", "prob_improvement",
               "pi_ci_low", "pi_ci_high", "mde", "seeds_needed"]
    return pd.DataFrame(rows, columns=columns)


def study_table(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc"
                ) -> pd.DataFrame:
    """The original study's table over seeds: one row per configuration, named models first (in the original
    order), then the others in level order.

    Columns: model, config, named (bool), n, then mean and std of best_epoch, final_train_acc, final_val_acc,
    best_val_acc (`<column>_mean`, `<column>_std`), and gain (metric - the reference, paired by seed):
    reference (model name), gain_n, gain_mean, gain_std. The reference is Plain-34 of the same group, else the
    first configuration in level order (the baseline)."""
    cells = config_table(trials, factors)
    named = named_cells(trials, factors)
    done = completed(trials)
    others = [f for f in factors if f not in ("shortcut", "se", "activation")]
    plain = {r["group"]: r["config"] for _, r in named[named["named"] == REFERENCE].iterrows()}
    rank = {n: i for i, n in enumerate(NAMED_MODELS)}
    named_rank = {r["config"]: rank[r["named"]] for _, r in named.iterrows()}
    cells = cells.assign(_named=cells["config"].map(named_rank).fillna(len(rank)), _pos=range(len(cells)))
    rows = []
    for _, cell in cells.sort_values(["_named", "_pos"]).iterrows():
        mine = done[done["config"] == cell["config"]]
        group = ", ".join(f"{f}={cell[f]}" for f in others)
        ref = plain.get(group, cells["config"].iloc[0])
        row = {"model": cell["model"], "config": cell["config"], "named": cell["config"] in named_rank,
               "n": len(mine)}
        for column in ("best_epoch", "final_train_acc", "final_val_acc", "best_val_acc"):
            s = mean_ci(mine[column])
            row[f"{column}_mean"], row[f"{column}_std"] = s["mean"], s["std"]
        _, a, b = paired_values(trials, ref, cell["config"], metric)
        gain = mean_ci(b - a)
        row.update({"reference": cells.set_index("config").loc[ref, "model"], "gain_n": gain["n"],
                    "gain_mean": gain["mean"], "gain_std": gain["std"]})
        rows.append(row)
    return pd.DataFrame(rows)
