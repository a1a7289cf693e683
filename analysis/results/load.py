"""Read and validate a study's result tables (their columns: analysis/results/schema.py) and find its factors.

The factors are named by spec.yaml's `factors: {name: [levels...]}` where the run directory has one (the
authority, in its order); without a spec they are the columns strictly between `model` and `seed` of
results/trials.csv, the order the study writes. A factor's FIRST level is its baseline. Level order: the spec's,
otherwise False < True, numbers ascending, known strings in a known order ('relu' before 'mish') and other
strings in order of first appearance in the file.

A user error (a missing folder or column, an empty table, accuracies that are not fractions) raises ResultsError,
a ValueError whose message is one line that the command line prints as it is.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.results.schema import RESPONSES, response_values
from analysis.results.schema import (
    ACCURACY_COLUMNS,
    COMPLETED,
    EPOCHS_FILE,
    METRICS,
    REQUIRED_EPOCH_COLUMNS,
    REQUIRED_TRIAL_COLUMNS,
    TRIALS_FILE,
)
from analysis.results.spec_file import read_spec
from analysis.results.stability import val_jumpiness

__all__ = ["ACCURACY_COLUMNS", "COMPLETED", "METRICS", "ResultsError", "Study", "completed", "config_table",
           "level_key", "load_study", "native_value", "read_result_table", "same_level"]
# String levels whose baseline is known; other strings keep the order in which the file first shows them.
KNOWN_LEVEL_ORDER = ("relu", "mish")


class ResultsError(ValueError):
    """A problem with the user's result tables or run directory; the message is one line."""


@dataclass(frozen=True)
class Study:
    run_dir: Path
    trials: pd.DataFrame  # every row of trials.csv (any status), factor levels normalised
    epochs: pd.DataFrame | None  # epochs.csv, or None where the run directory has none
    factors: dict[str, tuple]  # factor name -> levels, baseline first, in column order
    notes: tuple[str, ...]  # what is missing or was set aside while loading, in words
    # the side files, read here once so that no statistic or section reads a file (analysis/results/side_files.py)
    timing: dict | None = None  # results/timing.json: the driver's last invocation
    waves: pd.DataFrame | None = None  # results/waves.csv of a study run --until-settled
    waves_problem: str = ""  # why waves.csv could not be used, where it exists
    tuning: pd.DataFrame | None = None  # results/tuning.csv of a tuned study (--tune-first)
    spec_design: dict | None = None  # spec.yaml's `design:` of a fractional study


def level_key(value: Any) -> tuple:
    """A comparable key for a level: True, 1 and 1.0 are the same level; strings compare case-blind."""
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        return ("number", float(value))
    return ("text", str(value).strip().lower())


def same_level(a: Any, b: Any) -> bool:
    return level_key(a) == level_key(b)


def native_value(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def read_result_table(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """One CSV with the columns it must have; ResultsError for a missing file or column or an empty table."""
    if not path.is_file():
        raise ResultsError(f"{path} not found (has the study written its result tables?)")
    try:
        table = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ResultsError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path} is not a readable CSV table: {str(err).splitlines()[0]}") from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ResultsError(f"{path} lacks column(s) {', '.join(missing)}")
    if table.empty:
        raise ResultsError(f"{path} has a header but no rows")
    return table


def factor_columns(columns: Sequence[str]) -> list[str]:
    """The columns strictly between `model` and `seed`."""
    columns = list(columns)
    start, stop = columns.index("model"), columns.index("seed")
    if stop < start:
        raise ResultsError("trials.csv must have its factor columns between `model` and `seed`; "
                           "`seed` comes before `model`")
    return columns[start + 1:stop]


def normalise_levels(column: pd.Series) -> pd.Series:
    """Booleans written as text ('True', 'false') become bool; other values stay as read."""
    if column.isna().any():
        raise ResultsError(f"factor column {column.name!r} has empty cells in trials.csv")
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return column
    text = column.astype(str).str.strip()
    if set(text.str.lower()) <= {"true", "false"}:
        return text.str.lower().eq("true")
    return text


def default_level_order(values: Sequence[Any]) -> list[Any]:
    """False < True, numbers ascending, known strings in KNOWN_LEVEL_ORDER, other strings as first seen."""
    seen = list(dict.fromkeys(native_value(v) for v in values))
    if all(isinstance(v, (bool, int, float)) for v in seen):
        return sorted(seen)
    known = {name: rank for rank, name in enumerate(KNOWN_LEVEL_ORDER)}

    def rank(v: Any) -> tuple[int, int]:
        text = str(v).strip().lower()
        return (0, known[text]) if text in known else (1, seen.index(v))

    return sorted(seen, key=rank)


def order_levels(values: Sequence[Any], spec_levels: Sequence[Any] | None) -> tuple[list[Any], list[Any]]:
    """(levels found in the data, baseline first; levels the data has but the spec does not list)."""
    found = default_level_order(values)
    if not spec_levels:
        return found, []
    ordered = [v for s in spec_levels for v in found if same_level(v, s)]
    extra = [v for v in found if not any(same_level(v, s) for s in spec_levels)]
    return ordered + extra, extra


def read_spec_levels(run_dir: Path) -> tuple[dict[str, list], list[str]]:
    """`factors: {name: [levels...]}` from RUN_DIR/spec.yaml, if present; (levels, notes)."""
    spec = read_spec(run_dir)
    if spec.error and "not a mapping" in spec.error:  # a spec.yaml that is not the study's: refused, not guessed
        raise ResultsError(f"{run_dir / 'spec.yaml'} is not a study spec: {spec.error}")
    if spec.error:
        return {}, [f"spec.yaml could not be read ({spec.error}); levels are ordered by the default rule"]
    return spec.factor_levels, []


def factor_names(trials: pd.DataFrame, spec_levels: Mapping[str, Sequence]) -> list[str]:
    """The spec's factors where it names them (each must be a column), else the columns between model and seed."""
    if not spec_levels:
        return factor_columns(trials.columns)
    missing = [name for name in spec_levels if name not in trials.columns]
    if missing:
        raise ResultsError(f"spec.yaml names factor(s) {missing} that trials.csv has no column for")
    return list(spec_levels)


def discover_factors(trials: pd.DataFrame, spec_levels: Mapping[str, Sequence] | None = None
                     ) -> tuple[dict[str, tuple], list[str]]:
    """Factor name -> levels (baseline first) for the factor columns of `trials`; (factors, notes)."""
    spec_levels = spec_levels or {}
    factors, notes = {}, []
    for name in factor_names(trials, spec_levels):
        levels, extra = order_levels(list(trials[name]), spec_levels.get(name))
        if extra:
            notes.append(f"factor {name!r} has level(s) {extra} that spec.yaml does not list; placed last")
        factors[name] = tuple(levels)
    return factors, notes


def _check_accuracies(table: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    for column in columns:
        values = pd.to_numeric(table[column], errors="coerce")
        if table[column].notna().sum() != values.notna().sum():
            raise ResultsError(f"{path}: column {column} holds values that are not numbers")
        if ((values < 0) | (values > 1)).any():
            raise ResultsError(f"{path}: column {column} has values outside [0, 1] (max {values.max():g}); "
                               "accuracies must be fractions")


def _check_configs(trials: pd.DataFrame, factors: Sequence[str]) -> None:
    """One configuration id <-> one combination of factor levels."""
    if not factors:
        return
    keys = trials[list(factors)].map(level_key).apply(tuple, axis=1)
    per_config = keys.groupby(trials["config"]).nunique()
    if (per_config > 1).any():
        bad = per_config[per_config > 1].index[0]
        raise ResultsError(f"trials.csv: configuration {bad!r} appears with different factor levels")
    per_levels = trials["config"].groupby(keys).nunique()
    if (per_levels > 1).any():
        raise ResultsError("trials.csv: two configuration ids share the same factor levels")


def with_derived_responses(trials: pd.DataFrame) -> pd.DataFrame:
    """trials plus each response the contract derives from other columns (the generalisation gap)."""
    derived = {name: response_values(trials, name) for name, r in RESPONSES.items()
               if not isinstance(r.source, str) and name not in trials}
    return trials.assign(**derived)


def is_completed(trials: pd.DataFrame) -> pd.Series:
    """Which rows ran all their epochs (status `completed`, whatever its case or spaces)."""
    return trials["status"].astype(str).str.strip().str.lower() == COMPLETED


def completed(trials: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """The completed trials, one per configuration and seed (the first where a pair repeats); with `metric`, only
    those that have a value of it: the runs every statistic is computed on."""
    done = trials[is_completed(trials)].drop_duplicates(subset=["config", "seed"], keep="first")
    return done if metric is None else done[pd.to_numeric(done[metric], errors="coerce").notna()]


def config_table(trials: pd.DataFrame, factors: Mapping[str, Sequence]) -> pd.DataFrame:
    """config, model and factor levels, one row per configuration, ordered by level (first factor slowest)."""
    cells = trials.drop_duplicates("config")[["config", "model", *factors]]
    rank = [cells[name].map(lambda v, lv=levels: next(i for i, x in enumerate(lv) if same_level(x, v)))
            for name, levels in factors.items()]
    order = np.lexsort(tuple(r.to_numpy() for r in reversed(rank))) if rank else np.arange(len(cells))
    return cells.iloc[order].reset_index(drop=True)


def load_study(run_dir: str | Path) -> Study:
    """Read RUN_DIR/results/{trials,epochs}.csv and RUN_DIR/spec.yaml; validate; find the factors."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise ResultsError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise ResultsError(f"{run_dir} is not a directory (give the study's run directory)")
    results = run_dir / "results"
    if not results.is_dir():
        raise ResultsError(f"{run_dir} has no results/ folder (is it a study's run directory?)")
    trials_path = run_dir / TRIALS_FILE
    trials = read_result_table(trials_path, REQUIRED_TRIAL_COLUMNS)
    spec_levels, notes = read_spec_levels(run_dir)
    names = factor_names(trials, spec_levels)
    for name in names:
        trials[name] = normalise_levels(trials[name])
    _check_accuracies(trials, ACCURACY_COLUMNS, trials_path)
    _check_configs(trials, names)
    factors, level_notes = discover_factors(trials, spec_levels)
    trials = with_derived_responses(trials)
    notes += level_notes

    done = trials[is_completed(trials)]
    if done.empty:
        raise ResultsError(f"{trials_path} has no completed trials ({len(trials)} rows, none with status "
                           f"'{COMPLETED}')")
    repeats = done.duplicated(subset=["config", "seed"]).sum()
    if repeats:
        notes.append(f"{repeats} completed trial(s) repeat a configuration and seed; the first of each is used")

    epochs = None
    epochs_path = run_dir / EPOCHS_FILE
    if not epochs_path.is_file():
        notes.append("results/epochs.csv is missing: no learning curves")
    else:
        try:
            epochs = read_result_table(epochs_path, REQUIRED_EPOCH_COLUMNS)
        except ResultsError as err:
            if "no rows" not in str(err) and "is empty" not in str(err):
                raise
            notes.append("results/epochs.csv has no rows: no learning curves")
        if epochs is not None:
            _check_accuracies(epochs, ("train_acc", "val_acc"), epochs_path)
            if "val_jumpiness" not in trials:  # within-run stability: a per-trial response from its curve
                trials = trials.merge(val_jumpiness(epochs).rename("val_jumpiness").rename_axis("trial_id")
                                      .reset_index(), on="trial_id", how="left")
    from analysis.results.side_files import load_tuning, read_timing, read_waves  # they import this module

    waves, waves_problem = read_waves(run_dir)
    return Study(run_dir, trials, epochs, factors, tuple(notes), timing=read_timing(run_dir), waves=waves,
                 waves_problem=waves_problem, tuning=load_tuning(run_dir), spec_design=read_spec(run_dir).design)
