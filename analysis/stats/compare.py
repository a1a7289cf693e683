"""`--compare OTHER_RUN_DIR`: the factorial effects of this study and of another study of the same grid, side by side.

The usual pair is a tuned study against a shared-recipe one: where an effect shrinks under tuning, part of it came
from the recipe suiting one level of the factor better than the other. Both studies' effects come from the same
fit, `analysis.stats.effects.factorial_effects`, on every completed run of each study.

Pure functions on frames (plus loading the other study); never imports torch or ray.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import pandas as pd

from analysis.results.load import ResultsError, completed, level_key, load_study
from analysis.results.schema import TUNING_FILE
from analysis.stats.effects import factorial_effects

if TYPE_CHECKING:
    from analysis.study_analysis import Analysis


@dataclass
class Comparison:
    other_dir: Path
    labels: tuple[str, str]  # (this study, the other), as the report names them
    effects: pd.DataFrame | None = None  # compare_effects; None when the studies cannot be compared
    notes: list[str] = field(default_factory=list)  # why `effects` is None


def study_effects(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str) -> pd.DataFrame | None:
    """The factorial effects of a study's completed runs, fitted as `analysis.study_analysis` fits this study's (None
    where the design does not allow them)."""
    with warnings.catch_warnings():  # a degenerate study (no spread) warns; its NaNs say so
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return factorial_effects(completed(trials), factors, metric)
        except ValueError:
            return None


def compare_effects(this: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """term, estimate, ci_low, ci_high, n_seeds, other_estimate, other_ci_low, other_ci_high, other_n_seeds,
    difference (this - other), in this study's term order."""
    cols = ["term", "estimate", "ci_low", "ci_high", "n_seeds"]
    merged = this[cols].merge(other[cols].rename(columns={c: f"other_{c}" for c in cols[1:]}), on="term", how="left")
    merged["difference"] = merged["estimate"] - merged["other_estimate"]
    return merged


def same_factors(a: Mapping[str, Sequence], b: Mapping[str, Sequence]) -> bool:
    """The same factors, in the same order, with the same levels in the same order."""
    return list(a) == list(b) and all([level_key(x) for x in a[f]] == [level_key(x) for x in b[f]] for f in a)


def study_label(run_dir: str | Path) -> str:
    return "tuned" if (Path(run_dir) / TUNING_FILE).is_file() else "shared recipe"


def compare_studies(a: Analysis, other_dir: str | Path) -> Comparison:
    """This study's effects (`a.effects`) next to those of the study in `other_dir`, fitted the same way."""
    study, other = a.study, load_study(other_dir)
    this_label, other_label = study_label(study.run_dir), study_label(other.run_dir)
    if this_label == other_label:
        this_label, other_label = f"this study ({this_label})", f"other study ({other_label})"
    result = Comparison(other_dir=Path(other_dir), labels=(this_label, other_label))
    if not same_factors(study.factors, other.factors):  # a side-by-side table of other terms would mislead
        raise ResultsError(f"--compare {other_dir}: that study varies other factors or levels "
                           f"({', '.join(other.factors) or 'none'}; this one: {', '.join(study.factors)}); "
                           "compare studies of the same grid")
    other_effects = study_effects(other.trials, other.factors, a.metric)
    if a.effects is None or other_effects is None:
        which = "this study" if a.effects is None else str(other_dir)
        result.notes.append(f"{which} has no factorial effects (see its Gaps)")
    else:
        result.effects = compare_effects(a.effects, other_effects)
    return result
