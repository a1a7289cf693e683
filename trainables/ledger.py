"""A record of finished trials, written by the trial itself into the study's storage.

Each finished trial writes `<run>/ledger/<config>-s<seed>.json`: what it computed (its config identity and the
fingerprint of its data), its Tune trial id and its whole history. The driver decides from these records which
trials still have to run (a resumed or grown study trains only those), and the result tables are built from them,
so nothing a finished trial produced depends on Ray Tune's experiment snapshot (which lags the trials).

A record that cannot be read (a truncated file after a power cut, a disk error) is set aside as
`<run>/ledger/corrupt/<name>.<time>` with a warning, and its trial counts as not finished: it runs again (from its
checkpoint; one already at its last epoch writes the record again from the checkpoint's history). So is a record
missing a field the tables read, or with an accuracy that is NaN or outside [0, 1] (a hand-edited file). Records
are written atomically and durably (runstore), so a reader never sees half of one.
"""
from __future__ import annotations

import json
import math
import time
import warnings

import runstore
from trainables.components import BUILT_IN, registry
from trainables.config import TrialConfig

LEDGER = "ledger"
CORRUPT = "corrupt"
RECORD_KEYS = ("config", "data", "history")
ROW_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "params", "seconds")


def trial_key(config_id: str, seed: int) -> str:
    return f"{config_id}-s{seed}"


def trial_identity(config: dict, data_fingerprint: str) -> dict:
    """What a trial computes: its config identity (threads left out) and the fingerprint of its data. A ledger
    record or a checkpoint belongs to a trial only when its identity is this one."""
    return {"config": TrialConfig.from_dict(config, registry()).identity(), "data": data_fingerprint}


def is_finished(record: dict | None, identity: dict) -> bool:
    return (record is not None and with_built_in_defaults(record["config"]) == with_built_in_defaults(identity["config"])
            and record["data"] == identity["data"])


def with_built_in_defaults(config: dict) -> dict:
    """A recorded config identity with every built-in component it does not name at that component's default.

    A record written before a built-in existed (preact came after the others) holds no level for it, and the
    network it trained is the one that built-in's default builds: a built-in added later defaults to the network
    as it was before it, bit for bit (preact=False: tests/test_preact.py). So a study started then resumes
    without training its finished trials again."""
    levels = config.get("levels") if isinstance(config, dict) else None
    if not isinstance(levels, dict):
        return config
    defaults = {c.name: c.default for c in BUILT_IN}
    return {**config, "levels": dict(sorted({**defaults, **levels}.items()))}


def ledger_location(run_dir: str) -> str:
    return runstore.join(run_dir, LEDGER)


def write_record(location: str, key: str, record: dict) -> None:
    """Store `record` (JSON-serialisable) as <location>/<key>.json."""
    runstore.write_atomic(runstore.join(location, f"{key}.json"), json.dumps(record))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _valid_row(row) -> bool:
    """An epoch row the tables can use: every column they read, accuracies finite fractions in [0, 1] (a loss may
    be NaN or infinite: a diverged trial is a result)."""
    return (isinstance(row, dict) and all(k in row for k in ROW_KEYS)
            and isinstance(row["epoch"], int) and not isinstance(row["epoch"], bool) and row["epoch"] >= 1
            and all(_number(row[k]) and 0.0 <= row[k] <= 1.0 for k in ("train_acc", "val_acc"))
            and _number(row["train_loss"]) and _number(row["val_loss"]) and _number(row["params"])
            and _number(row["seconds"]) and math.isfinite(row["seconds"]) and row["seconds"] >= 0)


def _valid(record) -> bool:
    return (isinstance(record, dict) and all(k in record for k in RECORD_KEYS)
            and isinstance(record["history"], list) and len(record["history"]) > 0
            and all(_valid_row(row) for row in record["history"]))


def _set_aside(location: str, name: str, why: str) -> None:
    target = runstore.join(location, CORRUPT, f"{name}.{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        runstore.files.move(runstore.join(location, name), target)
        where = f"moved to {runstore.redact(target)}"
    except OSError as err:  # cannot move it: leave it, the trial still runs again
        where = f"left in place ({err.__class__.__name__})"
    warnings.warn(f"ledger record {name} is unreadable ({why}); {where}, and its trial will run again",
                  stacklevel=3)


def read_record(location: str, key: str) -> dict | None:
    """The record of trial `key`, or None when there is none or it is unreadable (then it is set aside)."""
    name = f"{key}.json"
    path = runstore.join(location, name)
    if not runstore.files.is_file(path):
        return None
    try:
        record = json.loads(runstore.read_text(path))
    except (ValueError, UnicodeDecodeError) as err:
        _set_aside(location, name, type(err).__name__)
        return None
    if not _valid(record):
        _set_aside(location, name, "missing fields, an empty history, or an accuracy that is not a number in [0, 1]")
        return None
    return record


def read_all(location: str) -> dict[str, dict]:
    """Every readable finished trial's record, by key; an absent ledger is empty."""
    names = [n for n in runstore.list_names(location) if n.endswith(".json") and not n.startswith(".")]
    records = {}
    for name in names:
        key = name[: -len(".json")]
        record = read_record(location, key)
        if record is not None:
            records[key] = record
    return records
