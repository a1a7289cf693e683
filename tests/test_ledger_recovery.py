"""Ledger records that cannot be trusted, and the trial that recovers from one without training again."""
from __future__ import annotations

import json

import pytest

from trainables.ledger import read_all
from trainables.trial import LocalReporter, train_trial

TINY = dict(width=4, stem="small", batch_size=128, lr=3e-3, threads=1, config_id="shortcut=1-se=0-act=relu")
KEY = "shortcut=1-se=0-act=relu-s7"


def test_a_truncated_record_of_a_trial_checkpointed_at_its_last_epoch_is_rewritten_without_training(
        digits_small, tmp_path):
    """In a study the checkpoint sits at the last epoch when the record is written: the retry of a trial whose
    record was set aside must rebuild the record from the checkpoint's history, else it never gets one."""
    config = dict(TINY, seed=7, epochs=2)
    checkpoints = tmp_path / "checkpoints" / KEY
    first = LocalReporter(checkpoints)
    train_trial(config, digits_small, first, store=str(tmp_path))
    record = tmp_path / "ledger" / f"{KEY}.json"
    whole = json.loads(record.read_text())
    record.write_text(record.read_text()[:40])
    with pytest.warns(UserWarning, match="unreadable"):
        retry = LocalReporter(checkpoints)
        train_trial(config, digits_small, retry, store=str(tmp_path))
    assert retry.rows == [first.rows[-1]]  # re-reported, same ended_at: nothing trained
    assert json.loads(record.read_text())["history"] == whole["history"]
    assert list(read_all(str(tmp_path / "ledger"))) == [KEY]


@pytest.mark.parametrize("edit", [
    lambda row: row.update(val_acc=float("nan")),
    lambda row: row.update(val_acc=5.0),
    lambda row: row.update(train_acc=-0.1),
    lambda row: row.pop("train_loss"),
    lambda row: row.update(epoch="1"),
], ids=["nan-accuracy", "accuracy-5", "negative-accuracy", "missing-field", "epoch-text"])
def test_a_record_the_tables_cannot_use_is_set_aside(tmp_path, edit):
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    row = {"epoch": 1, "train_loss": float("nan"), "train_acc": 0.5, "val_loss": 1.0, "val_acc": 0.25,
           "params": 10, "seconds": 0.5}
    good = {"config": {}, "data": "d", "history": [dict(row)]}
    (ledger / "a-s0.json").write_text(json.dumps(good))  # a NaN loss is a diverged trial: a result, kept
    edit(row)
    (ledger / "b-s0.json").write_text(json.dumps({**good, "history": [row]}))
    with pytest.warns(UserWarning, match=r"b-s0.json is unreadable \(missing fields, .* not a number in \[0, 1\]"):
        assert list(read_all(str(ledger))) == ["a-s0"]
    assert [p.name.split(".json")[0] for p in (ledger / "corrupt").iterdir()] == ["b-s0"]
