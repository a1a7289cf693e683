"""The result tables of DESIGN.md section 8, built from the trials' own records and Tune's results.

A finished trial's history comes from the ledger it wrote itself (complete even when Tune's snapshot lags);
an unfinished or failed trial's epochs come from what it reported to Tune, and its status says `failed`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ablation import storage
from ablation.spec import StudySpec
from ablation.study import LEDGER, trial_entries
from trainables.ledger import read_all, trial_key

EPOCH_METRICS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
PLACEMENT = ["node_id", "hostname"]
SUMMARY = ["status", "epochs_done", "final_train_acc", "final_val_acc", "best_val_acc", "best_epoch",
           "final_train_loss", "final_val_loss", "params", "train_seconds"]
HYPERPARAMETERS = ["lr", "weight_decay", "label_smoothing", "batch_size", "width", "depth", "epochs"]


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
        trial_id = (result.metrics or {}).get("trial_id") or Path(result.path).name.split("_", 1)[1]
        found[trial_key(entry["config_id"], entry["seed"])] = (trial_id, rows)
    return found


def build_tables(spec: StudySpec, results=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, epochs) for every configuration x seed of the spec, in grid order."""
    finished = read_all(f"{spec.run_dir}/{LEDGER}")
    reported = _tune_histories(results)
    shared = spec.profile.trial_settings()
    trial_rows, epoch_rows = [], []
    for entry in trial_entries(spec):
        key = trial_key(entry["config_id"], entry["seed"])
        trial_id, rows = reported.get(key, (key, []))
        if key in finished:
            rows = finished[key]["history"]
        identity = {"trial_id": trial_id, "config": entry["config_id"], "model": entry["model_name"],
                    **{name: entry[name] for name in spec.profile.factors}, "seed": entry["seed"]}
        for row in rows:
            epoch_rows.append({**identity, **{m: row.get(m) for m in EPOCH_METRICS + PLACEMENT}})
        trial_rows.append({**identity, **_summary(rows, spec.profile.epochs, key in finished),
                           **{h: entry.get(h, shared.get(h)) for h in HYPERPARAMETERS}})
    identity_columns = ["trial_id", "config", "model", *spec.profile.factors, "seed"]
    settings = [h for h in HYPERPARAMETERS if h not in spec.profile.factors]
    return (pd.DataFrame(trial_rows, columns=[*identity_columns, *SUMMARY, *PLACEMENT, *settings]),
            pd.DataFrame(epoch_rows, columns=[*identity_columns, *EPOCH_METRICS, *PLACEMENT]))


def _summary(rows: list[dict], epochs: int, finished: bool) -> dict[str, Any]:
    completed = finished and len(rows) == epochs
    if not rows:
        return {"status": "failed", "epochs_done": 0}
    last = rows[-1]
    best = max(rows, key=lambda r: r["val_acc"])  # first epoch reaching the maximum
    return {
        "status": "completed" if completed else "failed",
        "epochs_done": int(last["epoch"]),
        "final_train_acc": last["train_acc"], "final_val_acc": last["val_acc"],
        "best_val_acc": best["val_acc"], "best_epoch": int(best["epoch"]),
        "final_train_loss": last["train_loss"], "final_val_loss": last["val_loss"],
        "params": int(last["params"]), "train_seconds": float(sum(r["seconds"] for r in rows)),
        "node_id": last.get("node_id", ""), "hostname": last.get("hostname", ""),
    }


def write_tables(spec: StudySpec, results=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    trials, epochs = build_tables(spec, results)
    storage.write_text(f"{spec.run_dir}/results/trials.csv", trials.to_csv(index=False))
    storage.write_text(f"{spec.run_dir}/results/epochs.csv", epochs.to_csv(index=False))
    return trials, epochs
