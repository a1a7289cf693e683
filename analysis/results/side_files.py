"""The study's side files, read once for the Analysis: timing.json, waves.csv, tuning.csv, and the report's own
CSVs read back (for the W&B summary run). Each reader returns None (or a note) where the file is absent or unusable:
a report is built from trials.csv alone.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.results.load import ResultsError, read_result_table
from analysis.results.schema import TIMING_FILE, TUNED, TUNING_COLUMNS, TUNING_FILE, WAVES_COLUMNS, WAVES_FILE


def read_timing(run_dir: str | Path) -> dict | None:
    """RUN_DIR/results/timing.json as written by the driver; None where it is missing or unreadable."""
    path = Path(run_dir) / TIMING_FILE
    try:
        timing = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return timing if isinstance(timing, dict) else None


def read_waves(run_dir: str | Path) -> tuple[pd.DataFrame | None, str]:
    """(waves.csv, '') where the study has one; (None, '') where it has none; (None, why) where it is unusable."""
    path = Path(run_dir) / WAVES_FILE
    if not path.is_file():
        return None, ""
    try:
        waves = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        return None, f"{WAVES_FILE} could not be read ({type(err).__name__})"
    missing = [c for c in WAVES_COLUMNS if c not in waves.columns]
    if missing:
        return None, f"{WAVES_FILE} lacks column(s) {', '.join(missing)}"
    if waves.empty:
        return None, f"{WAVES_FILE} has no rows"
    return waves.sort_values(["look"], kind="stable").reset_index(drop=True), ""


def load_tuning(run_dir: str | Path) -> pd.DataFrame | None:
    """RUN_DIR/results/tuning.csv, or None where the study had no tuning stage."""
    path = Path(run_dir) / TUNING_FILE
    if not path.is_file():
        return None
    table = read_result_table(path, TUNING_COLUMNS)
    for column in ("inner_val_acc", *TUNED):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    bad = table["inner_val_acc"].dropna()
    if ((bad < 0) | (bad > 1)).any():
        raise ResultsError(f"{path}: inner_val_acc has values outside [0, 1]; accuracies must be fractions")
    order = {config: i for i, config in enumerate(dict.fromkeys(table["config"]))}  # as the study wrote them
    table["_order"] = table["config"].map(order)
    return table.sort_values(["_order", "tuning_trial"], kind="stable").drop(columns="_order").reset_index(drop=True)


def read_report_table(path: Path) -> pd.DataFrame | None:
    """A report table as written (pandas reads its floats back exactly); None for one the report left empty
    (an analysis that could not run writes a file without columns)."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return None
