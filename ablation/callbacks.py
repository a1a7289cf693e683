"""Tune callbacks of a study: one line per finished trial with an estimate of the time left, and W&B runs grouped
by configuration."""
from __future__ import annotations

import os
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any, Callable

from ray import tune
from ray.tune.logger import LoggerCallback

from analysis.wandb_identity import private_settings, study_tags, trial_run_id


class TrialLinePrinter(tune.Callback):
    """One line per finished or failed trial: done/total, the model and seed, its validation accuracy in percent
    (the report's unit), its training seconds, the wall time since the fit began and an estimate of the time left.

    The estimate: every trial not yet finished takes the mean wall time of the finished trials of its own
    configuration (configurations differ: Plain and SE cells train slower), or of all finished trials where its
    configuration has none; a running trial's elapsed time is taken off its share; the sum is spread over the
    concurrent slots (those of the cluster at the start, or the most trials seen running at once where an
    autoscaler has added nodes since).
    """

    def __init__(self, entries: list[dict[str, Any]], slots: int, clock: Callable[[], float] = time.monotonic):
        self.total = len(entries)
        self.left = Counter(entry["config_id"] for entry in entries)  # trials not yet finished, per configuration
        self.slots = max(1, slots)
        self.clock = clock
        self.began = clock()
        self.done = 0
        self.seconds: dict[str, float] = {}
        self.started: dict[str, tuple[str, float]] = {}  # running trial id -> (configuration, start)
        self.walls: dict[str, list[float]] = defaultdict(list)  # configuration -> wall seconds of finished trials

    def on_trial_start(self, iteration, trials, trial, **info):
        self.started.setdefault(trial.trial_id, (trial.config["trial"]["config_id"], self.clock()))
        self.slots = max(self.slots, len(self.started))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.seconds[trial.trial_id] = self.seconds.get(trial.trial_id, 0.0) + float(result.get("seconds", 0.0))

    def seconds_left(self, now: float) -> float | None:
        """The estimate of the wall seconds left; None before any trial has finished."""
        every = [wall for walls in self.walls.values() for wall in walls]
        if not every:
            return None
        overall = sum(every) / len(every)
        mean = {config: sum(walls) / len(walls) for config, walls in self.walls.items()}
        work = sum(count * mean.get(config, overall) for config, count in self.left.items())
        work -= sum(min(now - start, mean.get(config, overall)) for config, start in self.started.values())
        return max(0.0, work) / self.slots

    def _line(self, trial, verdict: str) -> None:
        now = self.clock()
        self.done += 1
        entry = trial.config["trial"]
        config, start = self.started.pop(trial.trial_id, (entry["config_id"], self.began))
        self.left[config] -= 1
        if verdict == "finished":  # a failed trial's wall time says nothing about a finished one's
            self.walls[config].append(now - start)
        result = trial.last_result or {}
        acc = result.get("val_acc")
        acc_text = f"val acc {100 * acc:.2f}%" if acc is not None else "no epoch finished"
        left = self.seconds_left(now)
        eta = "ETA unknown" if left is None else \
            f"ETA {clock_time(left)} (ends about {datetime.now() + timedelta(seconds=left):%H:%M})"
        print(f"[{self.done}/{self.total}] {verdict} {entry['model_name']} ({entry['config_id']}) "
              f"seed {entry['seed']}: {acc_text}, epoch {result.get('epoch', 0)}, "
              f"{self.seconds.get(trial.trial_id, 0.0):.1f} s; elapsed {clock_time(now - self.began)}, {eta}",
              file=sys.stdout, flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._line(trial, "finished")

    def on_trial_error(self, iteration, trials, trial, **info):
        self._line(trial, "FAILED")


def clock_time(seconds: float) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on: 83.4 -> '1:23'."""
    whole = int(round(max(0.0, seconds)))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


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
