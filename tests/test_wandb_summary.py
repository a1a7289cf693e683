"""The W&B dashboard: the study's summary run (tables, figures, artifacts) and trial runs W&B's panels read.

Every run is written offline and read back from its files (tests/wandb_records.py); nothing reaches W&B.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from analysis.report import build_report
from analysis.report import main as report_main
from analysis.wandb_identity import summary_run_id, trial_run_id
from analysis.wandb_summary import log_summary
from analysis.simulate import DEFAULT_FACTORS, make_study
from tests.wandb_records import read_run, read_result_table

FAKE_API_KEY = "fake0wandb0api0key0" + "9" * 21  # W&B keys are 40 characters
FAKE_SECRET = "FAKEsecretACCESSkey0000"
STUDY = "sim=study+1"  # = and + are allowed in a study name but not in an artifact name
RECIPE = ("epochs", "width", "stem", "batch_size", "lr", "weight_decay", "label_smoothing", "crop_scale_min")


@pytest.fixture
def secrets_around(tmp_path, monkeypatch):
    """A W&B key and a storage credential in the environment and on the command line (as in `--storage
    s3://KEY:SECRET@bucket`), and W&B's own folders inside tmp_path, so the scan sees every file W&B writes."""
    monkeypatch.setenv("WANDB_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setattr(sys, "argv", ["ablation/run.py", "--storage", f"s3://AKIAFAKE:{FAKE_SECRET}@bucket/runs"])
    for name in ("WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home" / name.lower()))


def files_holding_secrets(root: Path) -> list[Path]:
    needles = (b"api_key", FAKE_API_KEY.encode(), FAKE_SECRET.encode())
    return [p for p in root.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]


def offline_runs(run_dir: Path) -> list[dict]:
    return [read_run(folder) for folder in sorted((run_dir / "wandb").glob("offline-run-*"))]


def rows(frame: pd.DataFrame) -> list[list]:
    """Cells as Python values, an empty cell as None, so a table read back compares with its CSV exactly."""
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def test_summary_run_holds_the_report_and_a_rebuild_updates_it(tmp_path, secrets_around):
    spec = {"name": STUDY, "profile": {"name": "quick"}, "wandb_project": "ablation-tests",
            "factors": {name: list(levels) for name, levels in DEFAULT_FACTORS.items()}}
    run_dir = make_study(tmp_path / STUDY, n_seeds=3, failed=[("shortcut=1-se=0-act=relu", 2)],
                         spec=yaml.safe_dump(spec))
    build_report(run_dir)
    first = log_summary(run_dir)
    time.sleep(1.1)  # offline run folders are named by the second: the rebuild gets a folder of its own
    assert report_main([str(run_dir), "--wandb", "offline"]) == 0  # the report command rebuilds, then updates

    (run,) = offline_runs(run_dir)  # the rebuild replaced the first write: one run, one id
    assert run["id"] == first == summary_run_id(STUDY)
    assert (run["name"], run["group"], run["job_type"]) == (f"{STUDY}-summary", "study-summary", "analysis")
    assert set(run["tags"]) == {f"study:{STUDY}", "profile:quick"}
    report = run_dir / "report"
    csvs = sorted(report.glob("*.csv"))
    assert {p.name for p in csvs} >= {"configs.csv", "effects.csv", "shapley.csv", "paired.csv", "power.csv"}
    for csv in csvs:  # every report table, row for row and cell for cell
        table = read_result_table(run, f"tables/{csv.stem}")
        expected = pd.read_csv(csv)
        assert table["columns"] == list(expected.columns), csv.name
        assert rows(pd.DataFrame(table["data"], columns=table["columns"])) == rows(expected), csv.name
    figures = sorted((report / "figures").glob("*.png"))
    assert figures
    for png in figures:
        image = run["summary"][f"figures/{png.stem}"]
        assert image["_type"] == "image-file" and (run["folder"] / "files" / image["path"]).stat().st_size > 0
    for effect in pd.read_csv(report / "effects.csv").itertuples():
        for column in ("estimate", "ci_low", "ci_high", "resolved"):
            assert run["summary"][f"effect/{effect.term}/{column}"] == getattr(effect, column)
    for share in pd.read_csv(report / "shapley.csv").itertuples():
        assert run["summary"][f"shapley/{share.component}/value"] == share.value
    artifacts = {a["type"]: a for a in run["artifacts"] if a["type"] in ("report", "results")}
    assert artifacts["report"]["name"] == "sim_study_1-report"
    assert set(artifacts["report"]["files"]) == {p.relative_to(report).as_posix()
                                                for p in report.rglob("*") if p.is_file()}
    assert artifacts["results"]["name"] == "sim_study_1-results"
    assert set(artifacts["results"]["files"]) == {"results/trials.csv", "results/epochs.csv", "spec.yaml"}
    assert not files_holding_secrets(tmp_path)


def test_trial_runs_are_readable_by_wandb_panels(smoke_study):
    _, run_dir = smoke_study
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    profile = yaml.safe_load((run_dir / "spec.yaml").read_text())["profile"]
    runs = {run["id"]: run for run in offline_runs(run_dir) if run["job_type"] != "analysis"}
    assert len(runs) == len(trials)
    for trial in trials.itertuples():
        run = runs[trial_run_id("smoke", trial.config, trial.seed)]  # the study's name and the trial key
        config = run["config"]
        assert {k: config[k] for k in ("shortcut", "se", "activation", "seed")} == {
            "shortcut": trial.shortcut, "se": trial.se, "activation": trial.activation, "seed": trial.seed}
        assert {k: config[k] for k in RECIPE} == {k: profile[k] for k in RECIPE}
        assert {k: run["summary"][k] for k in ("final_val_acc", "best_val_acc", "best_epoch")} == {
            "final_val_acc": trial.final_val_acc, "best_val_acc": trial.best_val_acc, "best_epoch": trial.best_epoch}
        assert set(run["tags"]) == {"study:smoke", "profile:smoke"}


def _fake_trial(trial_id: str, folder: Path, last_epoch: int) -> SimpleNamespace:
    entry = {"shortcut": True, "se": False, "activation": "relu", "seed": 1, "config_id": "shortcut=1",
             "model_name": "ResNet-34"}
    return SimpleNamespace(trial_id=trial_id, config={"trial": entry, "lr": 0.003, "epochs": 2}, local_path=folder,
                           last_result={"epoch": last_epoch, "val_acc": 0.5, "best_val_acc": 0.6, "best_epoch": 1})


def test_a_trial_restarted_in_a_later_fit_continues_its_run(tmp_path, secrets_around):
    from ablation.callbacks import WandbRuns

    first_fit = WandbRuns(project="ablation-tests", mode="offline", folder=str(tmp_path), study="s", profile="smoke")
    killed = _fake_trial("aaaa_00000", tmp_path, 1)
    first_fit.log_trial_start(killed)
    first_fit.log_trial_start(killed)  # retried within the fit: the open run is kept, not opened twice
    first_fit.log_trial_result(1, killed, killed.last_result)
    first_fit.runs[killed.trial_id].finish()  # the driver died: Tune never ended the trial
    time.sleep(1.1)  # offline run folders are named by the second
    later_fit = WandbRuns(project="ablation-tests", mode="offline", folder=str(tmp_path), study="s", profile="smoke")
    restarted = _fake_trial("bbbb_00000", tmp_path, 2)  # Tune's id is new in every fit
    later_fit.log_trial_result(2, restarted, restarted.last_result)
    later_fit.log_trial_end(restarted)

    before, after = offline_runs(tmp_path)
    assert before["id"] == after["id"] == trial_run_id("s", "shortcut=1", 1)
    assert [row["epoch"] for row in before["history"]] == [1] and [row["epoch"] for row in after["history"]] == [2]
    assert {k: after["summary"][k] for k in ("final_val_acc", "best_val_acc", "best_epoch")} == {
        "final_val_acc": 0.5, "best_val_acc": 0.6, "best_epoch": 1}
    assert "final_val_acc" not in before["summary"]
    assert after["name"] == "shortcut=1-s1" and after["group"] == "shortcut=1"
    assert not files_holding_secrets(tmp_path)
