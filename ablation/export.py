"""The result tables (their columns: analysis/results/schema.py), built from the trials' own records.

A finished trial's history comes from the ledger it wrote itself (complete even when Tune's snapshot lags); a
trial that did not finish gets its epochs from what it reported to Tune in this fit (if anything), and its status
says `failed`. Tables are written for every trial of the spec, whatever happened to the others.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

import runstore
from ablation.spec import StudySpec
from analysis.results.schema import (COMPLETED, EPOCH_METRICS, EPOCHS_FILE, FAILED, PLACEMENT, RECIPE, TRIALS_FILE,
                             epoch_columns, trial_columns)
from trainables.ledger import ledger_location, read_all, trial_key


def _tune_histories(results) -> dict[str, tuple[str, list[dict]]]:
    """key -> (Tune trial id, reported rows deduplicated by epoch: a restarted trial reports some again)."""
    found = {}
    for result in results or []:
        entry = result.config["trial"]
        frame = result.metrics_dataframe
        rows = []
        if frame is not None and "epoch" in frame:
            rows = frame.drop_duplicates("epoch", keep="last").sort_values("epoch").to_dict("records")
        # A trial that never reported has no metrics; its folder is named <config>-s<seed>_<trial id>.
        trial_id = (result.metrics or {}).get("trial_id") or Path(result.path).name.rsplit("_", 1)[-1]
        found[trial_key(entry["config_id"], entry["seed"])] = (trial_id, rows)
    return found


def build_tables(spec: StudySpec, entries: list[dict[str, Any]], shared: dict[str, Any], results=None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, epochs) for every entry (configuration x seed), in the order given."""
    finished = read_all(ledger_location(spec.run_dir))
    reported = _tune_histories(results)
    factors = list(spec.profile.factors)
    trial_rows, epoch_rows = [], []
    for entry in entries:
        key = trial_key(entry["config_id"], entry["seed"])
        trial_id, rows = reported.get(key, (key, []))
        record = finished.get(key)
        if record is not None:
            trial_id, rows = record.get("trial_id") or trial_id, record["history"]
        identity = {"trial_id": trial_id, "config": entry["config_id"], "model": entry["model_name"],
                    **{name: entry[name] for name in factors}, "seed": entry["seed"]}
        for row in rows:
            epoch_rows.append({**identity, **{m: row.get(m) for m in (*EPOCH_METRICS, *PLACEMENT)}})
        trial_rows.append({**identity, **_summary(rows, spec.profile.epochs, record is not None),
                           **{h: entry.get(h, shared.get(h)) for h in RECIPE if h not in factors}})
    return (pd.DataFrame(trial_rows, columns=trial_columns(factors)),
            pd.DataFrame(epoch_rows, columns=epoch_columns(factors)))


def _summary(rows: list[dict], epochs: int, finished: bool) -> dict[str, Any]:
    completed = finished and len(rows) == epochs
    if not rows:
        return {"status": FAILED, "epochs_done": 0}
    last = rows[-1]
    best = max(rows, key=lambda r: r["val_acc"])  # first epoch reaching the maximum
    return {
        "status": COMPLETED if completed else FAILED,
        "epochs_done": int(last["epoch"]),
        "final_train_acc": last["train_acc"], "final_val_acc": last["val_acc"],
        "best_val_acc": best["val_acc"], "best_epoch": int(best["epoch"]),
        "final_train_loss": last["train_loss"], "final_val_loss": last["val_loss"],
        "params": int(last["params"]), "train_seconds": float(sum(r["seconds"] for r in rows)),
        # cost columns (trainables/cost.py); a record written before they existed leaves them empty
        "flops_per_image": last.get("flops_per_image"),
        "seconds_per_epoch": float(sum(r["seconds"] for r in rows)) / len(rows),
        "peak_memory_mb": max((r["peak_memory_mb"] for r in rows if r.get("peak_memory_mb") is not None),
                              default=None),
        **{column: last.get(column, "") for column in PLACEMENT},
    }


def write_tables(spec: StudySpec, entries: list[dict[str, Any]], shared: dict[str, Any], results=None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    trials, epochs = build_tables(spec, entries, shared, results)
    runstore.write_atomic(runstore.join(spec.run_dir, TRIALS_FILE), trials.to_csv(index=False))
    runstore.write_atomic(runstore.join(spec.run_dir, EPOCHS_FILE), epochs.to_csv(index=False))
    return trials, epochs
