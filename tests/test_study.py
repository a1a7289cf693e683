"""The study on real Ray (one local instance per test session): tables, W&B runs, resume and faults."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch
import yaml

from ablation.run import main
from analysis.wandb_identity import trial_run_id
from tests.waiting import wait_for
from tests.wandb_records import read_run

REPO = Path(__file__).resolve().parent.parent
TRIAL_COLUMNS = ["trial_id", "config", "model", "shortcut", "se", "activation", "seed", "status", "epochs_done",
                 "final_train_acc", "final_val_acc", "best_val_acc", "best_epoch", "final_train_loss",
                 "final_val_loss", "params", "train_seconds"]
EPOCH_COLUMNS = ["trial_id", "config", "model", "shortcut", "se", "activation", "seed", "epoch", "train_loss",
                 "train_acc", "val_loss", "val_acc", "lr", "seconds"]


def test_smoke_study_writes_complete_tables(smoke_study):
    code, run_dir = smoke_study
    assert code == 0
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    epochs = pd.read_csv(run_dir / "results" / "epochs.csv")
    assert list(trials.columns[: len(TRIAL_COLUMNS)]) == TRIAL_COLUMNS
    assert list(epochs.columns[: len(EPOCH_COLUMNS)]) == EPOCH_COLUMNS
    assert len(trials) == 16 and (trials.status == "completed").all() and (trials.epochs_done == 2).all()
    assert trials.groupby("config").seed.apply(lambda seeds: sorted(seeds) == [0, 1]).all()
    assert set(trials.model) >= {"Plain-34", "ResNet-34", "SE-ResNet-34", "Mish-ResNet-34", "SE-Mish-ResNet-34"}
    assert trials.trial_id.is_unique and len(epochs) == 32
    assert epochs.val_acc.between(0, 1).all() and sorted(epochs.epoch.unique()) == [1, 2]
    # the summary columns agree with the per-epoch history they summarise
    last = epochs[epochs.epoch == 2].set_index("trial_id")
    merged = trials.set_index("trial_id")
    assert (merged.final_val_acc - last.val_acc.loc[merged.index]).abs().max() == 0
    assert (merged.best_val_acc >= merged.final_val_acc).all()
    plain = merged[merged.model == "Plain-34"].params.iloc[0]
    resnet = merged[merged.model == "ResNet-34"].params.iloc[0]
    assert resnet > plain  # the projection shortcuts exist only with shortcut=True
    spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert spec["profile"]["name"] == "smoke" and spec["seeds"] == [0, 1]
    assert spec["factors"] == {"shortcut": [False, True], "se": [False, True], "activation": ["relu", "mish"]}


def test_smoke_study_logs_one_wandb_run_per_trial(smoke_study):
    _, run_dir = smoke_study
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    epochs = pd.read_csv(run_dir / "results" / "epochs.csv")
    runs = {r["id"]: r for r in map(read_run, sorted((run_dir / "wandb").glob("offline-run-*")))
            if r["job_type"] != "analysis"}  # the study's summary run sits beside the trial runs
    # a trial's W&B id comes from the study's name and its key, stable across fits (Tune's trial id is not)
    assert set(runs) == {trial_run_id("smoke", t.config, t.seed) for t in trials.itertuples()}
    for trial in trials.itertuples():
        run = runs[trial_run_id("smoke", trial.config, trial.seed)]
        assert run["name"] == f"{trial.config}-s{trial.seed}" and run["group"] == trial.config
        assert run["job_type"] == trial.model
        assert {k: run["config"][k] for k in ("seed", "shortcut", "se", "activation", "epochs")} == {
            "seed": trial.seed, "shortcut": trial.shortcut, "se": trial.se, "activation": trial.activation,
            "epochs": 2}
        logged = [(row["epoch"], row["val_acc"]) for row in run["history"]]
        expected = epochs[epochs.trial_id == trial.trial_id][["epoch", "val_acc"]].itertuples(index=False)
        assert logged == [tuple(row) for row in expected]
    secrets = [p for p in run_dir.rglob("*") if p.is_file() and "api_key" in p.read_bytes().decode(errors="ignore")]
    assert not secrets


def test_smoke_study_writes_the_report(smoke_study):
    _, run_dir = smoke_study
    for name in ("report.html", "report.md", "configs.csv", "effects.csv", "shapley.csv"):
        assert (run_dir / "report" / name).stat().st_size > 0


def _driver(args: list[str]) -> subprocess.Popen:
    # No RAY_AUTH_MODE here: run.py must join the token-authenticated cluster by --address on its own.
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    return subprocess.Popen([sys.executable, str(REPO / "ablation" / "run.py"), *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, timeout: float, what: str, driver: subprocess.Popen):
    return wait_for(condition, timeout, what, driver,
                    lambda: f": {driver.stderr.read()}" if driver.poll() is not None else "")


def test_resume_after_driver_sigkill_keeps_finished_trials(ray_session, tmp_path):
    args = ["--profile", "smoke", "--factors", "shortcut", "se", "--epochs", "3", "--storage", str(tmp_path),
            "--name", "killed", "--wandb", "disabled", "--no-report"]
    driver = _driver([*args, "--address", ray_session])
    ledger = tmp_path / "killed" / "ledger"
    try:
        _wait_for(lambda: len(list(ledger.glob("*.json"))) >= 3, 240, "3 finished trials", driver)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finished = {p.name: (p.stat().st_mtime_ns, p.read_text()) for p in ledger.glob("*.json")}
    assert (tmp_path / "killed" / ".lock").exists()  # the killed driver's lock is stale: the resume replaces it
    assert main([*args, "--resume"]) == 0
    trials = pd.read_csv(tmp_path / "killed" / "results" / "trials.csv")
    assert len(trials) == 8 and (trials.status == "completed").all()
    assert not list(tmp_path.rglob("wandb"))  # --wandb disabled writes nothing
    assert not (tmp_path / "killed" / ".lock").exists()  # released at the end
    for name, (mtime, text) in finished.items():
        path = ledger / name
        assert (path.stat().st_mtime_ns, path.read_text()) == (mtime, text), f"{name} was re-run"
        key = name[: -len(".json")]
        row = trials[(trials.config + "-s" + trials.seed.astype(str)) == key].iloc[0]
        record = json.loads(text)
        assert row.trial_id == record["trial_id"] and len(row.trial_id) > 0
        assert row.final_val_acc == record["history"][-1]["val_acc"]


def test_killed_worker_resumes_from_checkpoint_exactly(ray_session, tmp_path, digits_small):
    from trainables.trial import LocalReporter, train_trial

    args = ["--profile", "smoke", "--factors", "shortcut", "--seeds", "1", "--epochs", "6", "--storage",
            str(tmp_path), "--name", "faulty", "--wandb", "disabled", "--no-report", "--address", ray_session]
    driver = _driver(args)
    run_dir = tmp_path / "faulty"
    checkpoint = run_dir / "checkpoints" / "shortcut=1-s0" / "state.pt"

    def running_trial():
        try:
            state = torch.load(checkpoint, weights_only=True)
        except (OSError, RuntimeError, EOFError):  # not there yet, or replaced while reading
            return None
        return state["history"][-1]["pid"] if 2 <= state["epoch"] < 5 else None

    pid = _wait_for(running_trial, 240, "a trial past epoch 2", driver)
    os.kill(pid, signal.SIGKILL)
    assert driver.wait(timeout=300) == 0, driver.stderr.read()
    epochs = pd.read_csv(run_dir / "results" / "epochs.csv")
    got = epochs[epochs.config == "shortcut=1"].sort_values("epoch")
    assert got.epoch.tolist() == [1, 2, 3, 4, 5, 6]
    assert got.pid.nunique() == 2 and pid in set(got.pid)  # the trial really ran in a second worker after the kill
    spec = yaml.safe_load((run_dir / "spec.yaml").read_text())["profile"]
    config = {k: spec[k] for k in ("epochs", "width", "stem", "batch_size", "lr", "weight_decay",
                                   "label_smoothing", "crop_scale_min", "checkpoint_every")}
    reporter = LocalReporter()
    train_trial({**config, "seed": 0, "shortcut": True, "se": False, "activation": "relu", "threads": 1,
                 "config_id": "shortcut=1", "model_name": "ResNet-34"}, digits_small, reporter)
    metrics = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr"]
    assert got[metrics].to_dict("records") == [{m: r[m] for m in metrics} for r in reporter.rows]


def test_cli_error_has_no_traceback(tmp_path):
    done = subprocess.run([sys.executable, "ablation/run.py", "--profile", "huge", "--storage", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: unknown profile 'huge'; valid profiles: ['smoke', 'quick', 'paper']"


def test_unreachable_address_is_refused_at_once(tmp_path):
    done = subprocess.run([sys.executable, "ablation/run.py", "--profile", "smoke", "--address", "127.0.0.1:1",
                           "--storage", str(tmp_path), "--name", "nowhere"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: no Ray cluster answers at '127.0.0.1:1'")
    assert not (tmp_path / "nowhere" / "spec.yaml").exists()  # the name stays free for a second try


def test_vary_split_gives_each_seed_its_own_split(tmp_path):
    from ablation.spec import StudySpec
    from ablation.study import study_data
    from search_spaces.profiles import get_profile

    profile = get_profile("smoke")
    fixed = study_data(StudySpec(name="a", storage=str(tmp_path), profile=profile, seeds=(0, 1, 2)))
    assert fixed[0] is fixed[1] is fixed[2]
    varied = study_data(StudySpec(name="b", storage=str(tmp_path), profile=profile.with_overrides(vary_split=True),
                                  seeds=(0, 1, 2)))
    assert varied[0].fingerprint == fixed[0].fingerprint  # seed 0 keeps the profile's split (seed 42)
    assert len({varied[s].fingerprint for s in (0, 1, 2)}) == 3
    for seed in (1, 2):
        assert len(varied[seed].val_labels) == len(fixed[0].val_labels)
        assert not torch.equal(varied[seed].val_images, fixed[0].val_images)
        assert torch.equal(torch.bincount(varied[seed].val_labels), torch.bincount(fixed[0].val_labels))
