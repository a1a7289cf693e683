"""The original study's named models, compared seed by seed.

Named models are found by their factor levels, not by the name string: Plain-34 (no shortcut, no SE, ReLU),
ResNet-34 (shortcut), SE-ResNet-34 (shortcut + SE), Mish-ResNet-34 (shortcut + Mish). Where one of these three
factors is not varied in a study, its level is unknown from the table, so the model name must match too (the
trailing depth ignored: ResNet-18 matches ResNet-34). Any other factors (depth, ...) split the comparisons
into groups, one per combination of their levels. The labels shown are the `model` column's names.

A comparison pairs the two configurations' completed trials by seed; the difference is `model - baseline`.
The comparisons of a table form one family: a difference is resolved when its Holm-adjusted paired t p-value
is below 0.05, as for the factorial effects. P(improvement) is paired too: the share of seeds on which the model
beats the baseline, with an exact binomial interval.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.defaults import PLANNING_CONFIDENCE, POWER
from analysis.results.load import completed, config_table, same_level
from analysis.stats.descriptive import mean_ci
from analysis.stats.multiplicity import ALPHA, holm, resolved
from analysis.stats.power import paired_mde, paired_seeds_needed, sd_upper_bound

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
PLANNING_COLUMNS = ("p_holm", "resolved", "mde", "seeds_needed")


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


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a binomial proportion k / n; it covers at least `confidence`."""
    if n < 1:
        return np.nan, np.nan
    tail = (1 - confidence) / 2
    low = stats.beta.ppf(tail, k, n - k + 1) if k > 0 else 0.0
    high = stats.beta.ppf(1 - tail, k + 1, n - k) if k < n else 1.0
    return float(low), float(high)


def paired_comparison(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Paired statistics of b - a (a[i] and b[i] share seed i).

    n, mean_diff, sd_diff, ci_low, ci_high (unadjusted t interval), t, p_t (paired t test), p_wilcoxon
    (signed-rank on the nonzero differences; NaN under WILCOXON_MIN_N of them, where it cannot reach p < 0.05),
    n_improved (seeds on which b > a; a tie is not an improvement), prob_improvement (n_improved / n) with
    pi_ci_low, pi_ci_high (Clopper-Pearson at `confidence`)."""
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
    improved = int((d > 0).sum())
    out["n_improved"] = improved
    out["prob_improvement"] = improved / n if n else np.nan
    out["pi_ci_low"], out["pi_ci_high"] = clopper_pearson(improved, n, confidence)
    return out


def with_planning(rows: pd.DataFrame, min_effect: float, alpha: float = ALPHA, power: float = POWER,
                  confidence: float = PLANNING_CONFIDENCE) -> pd.DataFrame:
    """Add p_holm and resolved (Holm over the rows' paired t tests, p_holm < alpha), mde (at each row's n and
    observed sd_diff, tested at alpha / rows) and seeds_needed (pairs for `power` at min_effect, with sd_diff at
    its one-sided `confidence` upper bound)."""
    m = max(len(rows), 1)
    p_holm = holm(rows["p_t"].to_numpy(dtype=float))
    upper = [sd_upper_bound(sd, n - 1, confidence) for sd, n in zip(rows["sd_diff"], rows["n"])]
    return rows.assign(
        p_holm=p_holm, resolved=resolved(p_holm, alpha),
        mde=[paired_mde(int(n), sd, m, alpha, power) for n, sd in zip(rows["n"], rows["sd_diff"])],
        seeds_needed=[paired_seeds_needed(min_effect, u, m, alpha, power) for u in upper])


def paired_values(trials: pd.DataFrame, config_a: str, config_b: str, metric: str
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seeds, a, b): the metric of the two configurations for the seeds completed in both."""
    done = completed(trials, metric)
    a = done[done["config"] == config_a].set_index("seed")[metric]
    b = done[done["config"] == config_b].set_index("seed")[metric]
    seeds = sorted(set(a.index) & set(b.index))
    return np.array(seeds), a.loc[seeds].to_numpy(float), b.loc[seeds].to_numpy(float)


def paired_comparisons(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                       confidence: float = 0.95, min_effect: float = 0.01, alpha: float = ALPHA) -> pd.DataFrame:
    """One row per COMPARISONS pair present (per group of the other factors): group, baseline, model (names
    from the table), named_baseline, named_model, config_baseline, config_model, then `paired_comparison`'s
    statistics of model - baseline and `with_planning`'s (Holm over all rows). Empty (with these columns) when
    no pair is present."""
    cells = named_cells(trials, factors)
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
                         **paired_comparison(a, b, confidence)})
    columns = ["group", "baseline", "model", "named_baseline", "named_model", "config_baseline", "config_model",
               "n", "mean_diff", "sd_diff", "ci_low", "ci_high", "t", "p_t", "p_holm", "resolved", "p_wilcoxon",
               "n_improved", "prob_improvement", "pi_ci_low", "pi_ci_high", "mde", "seeds_needed"]
    found = pd.DataFrame(rows, columns=[c for c in columns if c not in PLANNING_COLUMNS])
    return with_planning(found, min_effect, alpha)[columns]


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
