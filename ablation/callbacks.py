"""Tune callbacks of a study: one line per finished trial, and W&B runs grouped by configuration."""
from __future__ import annotations

import os
import sys
from typing import Any

from ray import tune
from ray.tune.logger import LoggerCallback

from analysis.wandb_identity import private_settings, study_tags, trial_run_id


class TrialLinePrinter(tune.Callback):
    """Prints one line per finished or failed trial: configuration, seed, final val acc, seconds."""

    def __init__(self, total: int):
        self.total = total
        self.done = 0
        self.seconds: dict[str, float] = {}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.seconds[trial.trial_id] = self.seconds.get(trial.trial_id, 0.0) + float(result.get("seconds", 0.0))

    def _line(self, trial, verdict: str) -> None:
        self.done += 1
        entry = trial.config["trial"]
        result = trial.last_result or {}
        acc = result.get("val_acc")
        acc_text = f"val_acc {acc:.4f}" if acc is not None else "no epoch finished"
        print(f"[{self.done}/{self.total}] {verdict} {entry['model_name']} ({entry['config_id']}) "
              f"seed {entry['seed']}: epoch {result.get('epoch', 0)}, {acc_text}, "
              f"{self.seconds.get(trial.trial_id, 0.0):.1f} s", file=sys.stdout, flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._line(trial, "finished")

    def on_trial_error(self, iteration, trials, trial, **info):
        self._line(trial, "FAILED")


class WandbRuns(LoggerCallback):
    """One W&B run per trial, named `<config>-s<seed>`, grouped by configuration, written from the driver.

    Ray's WandbLoggerCallback starts two actors per trial and blocks the driver on them (about 3 s per trial
    start on 2 cores, more than a smoke trial's training); a W&B run opened in the driver costs about 0.1 s.
    Grouping by configuration gives W&B's grouped view: mean +- band over seeds. The config holds the factor
    levels, the seed and the recipe as top-level keys, and the summary `final_val_acc`, `best_val_acc` and
    `best_epoch`: what W&B's parallel-coordinates and parameter-importance panels read, with no set-up.

    A run's id comes from the study and the trial key, not from Tune's trial id (new in every fit): a trial
    restarted in a later fit of the study continues its run, and a grown study's new trials join the same groups.
    """

    def __init__(self, project: str, mode: str, folder: str | None, study: str, profile: str | None = None):
        self.project = project
        self.mode = mode
        self.folder = folder  # None: each trial's own folder
        self.study = study
        self.tags = study_tags(study, profile)
        self.runs: dict[str, Any] = {}  # Tune trial id -> its open W&B run

    def log_trial_start(self, trial) -> None:
        import wandb

        if trial.trial_id in self.runs:  # a trial retried within this fit keeps its open run
            return
        entry = trial.config["trial"]
        recipe = {key: value for key, value in trial.config.items() if key != "trial"}
        folder = self.folder or trial.local_path
        os.makedirs(folder, exist_ok=True)
        self.runs[trial.trial_id] = wandb.init(
            project=self.project, group=entry["config_id"], job_type=entry["model_name"],
            name=f"{entry['config_id']}-s{entry['seed']}",
            id=trial_run_id(self.study, entry["config_id"], entry["seed"]), tags=self.tags, dir=folder,
            mode=self.mode, config={**recipe, **entry}, reinit="create_new", resume="allow",
            settings=private_settings())

    def log_trial_result(self, iteration: int, trial, result: dict) -> None:
        if trial.trial_id not in self.runs:
            self.log_trial_start(trial)
        metrics = {k: v for k, v in result.items() if k in LOGGED_METRICS}
        self.runs[trial.trial_id].log(metrics, step=int(result["epoch"]))

    def log_trial_end(self, trial, failed: bool = False) -> None:
        run = self.runs.pop(trial.trial_id, None)
        if run is None:
            return
        result = trial.last_result or {}
        if not failed and "val_acc" in result:  # a failed trial has no final accuracy (as in trials.csv)
            run.summary.update({"final_val_acc": result["val_acc"],
                                **{k: result[k] for k in ("best_val_acc", "best_epoch") if k in result}})
        run.finish(exit_code=1 if failed else 0)


LOGGED_METRICS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds", "best_val_acc",
                  "best_epoch", "params")
