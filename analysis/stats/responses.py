"""Beyond the headline accuracy: every response's effects, the training-set deficit, the best configuration, the
effects over the training budget, the late slopes and what each component costs.

Pure: frames in, a frozen `MoreResponses` out. Each part that the data cannot support is left None with its reason
in `skipped` (one line each); the report says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.results.load import completed
from analysis.results.schema import COST_RESPONSES
from analysis.stats.best_config import BestConfigSet, best_configuration_set_of
from analysis.stats.cost import CostEffects, cost_effects
from analysis.stats.effects import factorial_effects
from analysis.stats.over_budget import effects_by_epoch, late_slopes
from analysis.stats.pareto import pareto_front
from analysis.stats.per_seed_effects import per_seed_effects

ACCURACY_RESPONSES = ("final_val_acc", "best_val_acc", "final_train_acc", "final_gap", "val_jumpiness", "final_val_loss")
RESPONSE_COLUMNS = ("response", "term", "estimate", "ci_low", "ci_high", "p_holm", "resolved", "n_seeds", "df", "se",
                    "method")
PARETO_COST = "flops_per_image"


@dataclass(frozen=True)
class MoreResponses:
    responses: pd.DataFrame | None  # RESPONSE_COLUMNS: every term of every response (Holm within each response)
    best: BestConfigSet | None  # the confidence set for the best configuration of the headline response
    by_epoch: pd.DataFrame | None  # epoch, term, estimate, ci_low, ci_high, ... of val_acc at every epoch
    slopes: pd.DataFrame | None  # per configuration: the val_acc slope over the last quarter of training
    costs: dict[str, CostEffects] = field(default_factory=dict)  # cost column -> its effects (log scale)
    pareto: pd.DataFrame | None = None  # per configuration: headline mean, FLOPs, on_front, dominated_by
    skipped: tuple[str, ...] = ()


def effects_of(trials: pd.DataFrame, factors: Mapping[str, Sequence], name: str, model_terms=None,
               per_seed: bool = False) -> pd.DataFrame:
    """One response's effects: per-seed contrasts on a full grid with 2 complete seeds (the method of the headline
    effects, so every table tells one story), else the pooled fit (labelled in `method`)."""
    if per_seed:
        table = per_seed_effects(trials, factors, name).frame()
        if table["se"].notna().all():
            return table
    return factorial_effects(trials, factors, name, model_terms).assign(method="pooled t (residual sd, seed blocks)")


def response_effects(trials: pd.DataFrame, factors: Mapping[str, Sequence], names: Sequence[str],
                     model_terms=None, per_seed: bool = False) -> tuple[pd.DataFrame | None, list[str]]:
    frames, skipped = [], []
    for name in names:
        if name not in trials or completed(trials, name).empty:
            skipped.append(f"{name}: trials.csv has no values")
            continue
        try:
            table = effects_of(trials, factors, name, model_terms, per_seed)
        except ValueError as err:
            skipped.append(f"{name}: {err}")
            continue
        frames.append(table.assign(response=name))
    if not frames:
        return None, skipped
    return pd.concat(frames, ignore_index=True)[list(RESPONSE_COLUMNS)], skipped


def more_responses(trials: pd.DataFrame, epochs: pd.DataFrame | None, factors: Mapping[str, Sequence],
                   metric: str, model_terms=None, costs: bool = True) -> MoreResponses:
    skipped: list[str] = []
    names = [n for n in ACCURACY_RESPONSES if n in trials]
    responses, why = response_effects(trials, factors, names, model_terms, per_seed=costs)
    skipped += [f"effects of {w}" for w in why if not w.endswith("no values")]
    best = _try(lambda: best_configuration_set_of(trials, metric), "the best configuration", skipped)
    by_epoch = slopes = None
    if epochs is not None and len(epochs):
        by_epoch = _try(lambda: effects_by_epoch(epochs, lambda f: factorial_effects(f, factors, model_terms=model_terms)),
                        "the effects over the epochs", skipped)
        slopes = _try(lambda: late_slopes(epochs), "the late slopes", skipped)
    found_costs = {}
    for cost in COST_RESPONSES if costs else ():
        if cost in trials and completed(trials, cost).shape[0]:
            found = _try(lambda: cost_effects(trials, factors, cost, log_scale=True), f"the effects on {cost}", skipped)
            if found is not None:
                found_costs[cost] = found
    pareto = None
    if PARETO_COST in trials and completed(trials, PARETO_COST).shape[0]:
        done = completed(trials, metric)
        table = done.groupby("config", sort=False).agg(model=("model", "first"), mean=(metric, "mean"),
                                                        cost=(PARETO_COST, "mean"), n=(metric, "size")).reset_index()
        pareto = pareto_front(table, accuracy="mean", cost="cost", name="config")
    return MoreResponses(responses, best, by_epoch, slopes, found_costs, pareto, tuple(skipped))


def _try(make, what: str, skipped: list[str]):
    try:
        return make()
    except (ValueError, KeyError, np.linalg.LinAlgError) as err:
        skipped.append(f"{what}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
        return None
