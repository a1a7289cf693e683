"""Optuna's fANOVA importance of the factors over the ablation's trials, next to the ANOVA main effects.

A random forest of the metric on the factor levels, its variance split per factor, fitted on the same runs as the
effects (every completed trial with the metric). On a full two-level grid the forest's leaves are the cell
means, so its main-effect shares re-estimate E_f^2 / sum of E^2 from the same data, ignoring the seed block: an
alternative estimate of the same shares, not independent evidence, and without intervals. Never imports torch or
ray; optuna only inside the function that runs it.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.results.load import completed, level_key, native_value


def fanova_importance(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                      seed: int = 0) -> pd.DataFrame:
    """factor, importance: Optuna's fANOVA importance of each factor for `metric` over the completed trials.

    Each trial becomes a finished trial of an in-memory Optuna study (its factor levels as categorical
    parameters, its metric as the value). Importances are normalised to sum to 1 over the factors.
    ValueError (one line) when the trials cannot support it (fewer than 2, or no variance).
    """
    import optuna
    from optuna.distributions import CategoricalDistribution

    done = completed(trials, metric)
    if len(done) < 2:
        raise ValueError(f"fANOVA needs at least 2 completed trials with {metric}; found {len(done)}")
    if done[metric].nunique() < 2:
        raise ValueError(f"fANOVA needs some variation in {metric}; every trial has the same value")
    native = {name: [native_value(v) for v in levels] for name, levels in factors.items()}
    distributions = {name: CategoricalDistribution(levels) for name, levels in native.items()}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed))
        for _, row in done.iterrows():
            params = {name: _level(row[name], native[name]) for name in factors}
            study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions,
                                                      value=float(row[metric])))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importance = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed), params=list(factors))
    except RuntimeError as err:  # e.g. "zero total variance in all trees"
        raise ValueError(f"fANOVA could not be computed: {err}") from None
    finally:
        optuna.logging.set_verbosity(verbosity)
    return pd.DataFrame({"factor": list(factors), "importance": [float(importance.get(f, 0.0)) for f in factors]})


def fanova_vs_anova(fanova: pd.DataFrame, effects: pd.DataFrame | None) -> pd.DataFrame:
    """factor, fanova_importance, main_effect, anova_share (E_f^2 / sum of the main effects' E^2), partial_eta_sq.

    For a two-level design, a main effect's variance is proportional to E_f^2; normalising over the main effects
    (interactions left out, as Optuna's evaluator leaves them out) makes the share comparable to fANOVA's."""
    out = fanova.rename(columns={"importance": "fanova_importance"}).copy()
    out["main_effect"], out["anova_share"], out["partial_eta_sq"] = np.nan, np.nan, np.nan
    if effects is not None and not effects.empty:
        main = effects.set_index("term")
        present = [f for f in out["factor"] if f in main.index]
        squares = main.loc[present, "estimate"].astype(float) ** 2
        total = squares.sum()
        out["main_effect"] = out["factor"].map(main["estimate"])
        out["partial_eta_sq"] = out["factor"].map(main["partial_eta_sq"])
        if total > 0:
            out["anova_share"] = out["factor"].map(squares / total)
    return out


def _level(value: Any, levels: Sequence[Any]) -> Any:
    """The spec's level equal to `value` (True and 'True' and 1.0 match), as optuna needs an exact choice."""
    key = level_key(value)
    return next(level for level in levels if level_key(level) == key)
