"""The tuning stage of `python ablation/run.py --tune-first`: every configuration gets its own search, same budget.

For each configuration of the grid, one Ray Tune experiment: Optuna's TPE (seeded) proposes lr, weight decay and
label smoothing (search_spaces/tuning.py), an ASHA scheduler stops poor trials early, and exactly
`spec.tuning["trials"]` trials run. OptunaSearch cannot take a grid_search, so the configuration's factor levels
are constants of its param_space and the configurations are searched one after another.

No peeking: a tuning trial trains on an inner split of the study's TRAINING set and is scored on the inner
validation part; the study's validation set never reaches a tuning trial (`inner_split`).

Where things go:
    <run>/tuning/<config_id>/     Tune's experiment for that configuration's search
    <run>/results/tuning.csv      one row per tuning trial (written after each configuration, atomically)
    <run>/spec.yaml               `tuned: {config_id: {lr, weight_decay, label_smoothing}}`, updated after each
                                  configuration; the ablation's trials read their hyperparameters from there.
A configuration already in `spec.tuned` is never tuned again, so a resumed study finishes an interrupted tuning
stage and a finished one is not re-tuned.
"""
from __future__ import annotations

import hashlib
import math
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.optuna import OptunaSearch

import runstore
from ablation.spec import SPEC_FILE, StudySpec
from analysis.results.schema import TUNING_FILE
from analysis.stats.tuning_rule import TUNED, choose
from search_spaces import tuning as space
from search_spaces.factors import Configuration, configurations
from trainables.components import load_source
from trainables.data import ImageData, stratified_split
from trainables.trial import TuneReporter, train_trial

TUNING_DIR = "tuning"  # <run>/tuning/<config_id>: one Tune experiment per configuration
RESULT_COLUMNS = ["tuning_trial", "trial_id", "status", *TUNED, "inner_val_acc", "epochs_done", "max_epochs",
                  "chosen", "seconds"]


class TuningError(RuntimeError):
    """A configuration's search ended without a single scored trial."""


# --- the data a tuning trial sees ------------------------------------------------------------------------------


def inner_split(data: ImageData, fraction: float = space.INNER_VAL_FRACTION,
                seed: int = space.INNER_SPLIT_SEED) -> tuple[ImageData, np.ndarray, np.ndarray]:
    """(inner data, train_idx, val_idx): a stratified split of `data`'s TRAINING images only.

    The indices are positions in `data.train_images`; the inner data's train and val parts are the images at
    those positions, so nothing of `data.val_images` is in either. The fingerprint is new (it also keys the
    trial's device-resident copy of the tensors).
    """
    train_idx, val_idx = stratified_split(data.train_labels.numpy(), fraction, seed)
    t, v = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
    digest = hashlib.sha256(f"{data.fingerprint}|inner|{fraction!r}|{seed}".encode()).hexdigest()
    inner = ImageData(train_images=data.train_images.index_select(0, t),
                      train_labels=data.train_labels.index_select(0, t),
                      val_images=data.train_images.index_select(0, v),
                      val_labels=data.train_labels.index_select(0, v),
                      classes=data.classes, source=f"{data.source}, inner split of the training set",
                      fingerprint=digest, content_fingerprint=data.content_fingerprint)
    return inner, train_idx, val_idx


class InnerReporter(TuneReporter):
    """Tune reports without checkpoints (a failed tuning trial starts again), each row tagged with its data."""

    def __init__(self, data: ImageData):
        super().__init__(checkpoint=None)
        self.tag = {"data_fingerprint": data.fingerprint, "n_train": len(data.train_labels),
                    "n_val": len(data.val_labels)}

    def restore(self) -> dict | None:
        return None

    def report(self, metrics: dict, state: dict | None) -> bool:
        return super().report({**metrics, **self.tag}, None)


def tuning_trial(config: dict[str, Any], data: ImageData, components: dict[str, str]) -> None:
    """The Tune trainable of a tuning trial: one ordinary trial on the inner data, scored per epoch."""
    for label, source in components.items():  # the user's components, registered in this worker
        load_source(source, label)
    train_trial(config, data, reporter=InnerReporter(data))


# --- one configuration's search --------------------------------------------------------------------------------


def fixed_config(spec: StudySpec, configuration: Configuration, epochs: int) -> dict[str, Any]:
    """Everything of a tuning trial's config but the searched values: the profile, the cell, the tuning seed."""
    threads = max(1, math.floor(spec.profile.cpus_per_trial))
    settings = {**spec.profile.trial_settings(), "epochs": epochs, "checkpoint_every": epochs}
    for name in TUNED:
        settings.pop(name, None)
    return {**settings, **configuration.values, "seed": space.TUNING_SEED, "threads": threads,
            "config_id": configuration.config_id, "model_name": configuration.model_name}


def make_trainable(spec: StudySpec, inner: ImageData, components: dict[str, str] | None = None):
    resources = {"cpu": spec.profile.cpus_per_trial, "gpu": spec.profile.gpus_per_trial}
    return tune.with_resources(tune.with_parameters(tuning_trial, data=inner, components=components or {}),
                               resources)


def _trial_number(trial) -> int:
    return int(str(trial.experiment_tag).split("_", 1)[0])  # Tune counts the trials it creates from 1


def _trial_dirname(trial) -> str:
    return f"trial-{_trial_number(trial):03d}_{trial.trial_id}"


class TuningLines(tune.Callback):
    """One line per finished tuning trial."""

    def __init__(self, configuration: Configuration, trials: int, epochs: int):
        self.label, self.trials, self.epochs, self.done = configuration.config_id, trials, epochs, 0

    def _line(self, trial, failed: bool) -> None:
        self.done += 1
        result = trial.last_result or {}
        values = ", ".join(f"{name} {trial.config[name]:.3g}" for name in TUNED)
        epoch, acc = result.get("epoch", 0), result.get(space.METRIC)
        verdict = "FAILED" if failed else (f"inner val_acc {acc:.4f}" if acc is not None else "no epoch")
        stopped = " (stopped by ASHA)" if not failed and epoch < self.epochs else ""
        print(f"[tune {self.label} {self.done}/{self.trials}] {values}: {verdict} after {epoch} epoch(s){stopped}",
              file=sys.stdout, flush=True)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._line(trial, failed=False)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._line(trial, failed=True)


def tune_configuration(spec: StudySpec, configuration: Configuration, trainable, *, trials: int, epochs: int,
                       concurrency: int, storage_path: str) -> list[dict[str, Any]]:
    """Run one configuration's search; its trials as rows (in the order Tune created them), none chosen yet."""
    searcher = ConcurrencyLimiter(OptunaSearch(seed=space.TUNING_SEED), max_concurrent=concurrency)
    scheduler = ASHAScheduler(time_attr=space.TIME_ATTR, max_t=epochs, grace_period=min(space.GRACE_PERIOD, epochs),
                              reduction_factor=space.REDUCTION_FACTOR)
    tuner = tune.Tuner(
        trainable,
        param_space={**fixed_config(spec, configuration, epochs), **space.tune_space()},
        tune_config=tune.TuneConfig(
            metric=space.METRIC, mode=space.MODE,  # the one place: searcher and scheduler take them from here
            search_alg=searcher, scheduler=scheduler, num_samples=trials, reuse_actors=True,
            trial_name_creator=lambda t: f"{configuration.config_id}-t{_trial_number(t)}",
            trial_dirname_creator=_trial_dirname),
        run_config=tune.RunConfig(
            name=configuration.config_id, storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),  # a retry starts the trial again
            callbacks=[TuningLines(configuration, trials, epochs)], verbose=0),
    )
    rows = []
    for result in tuner.fit():
        metrics = result.metrics or {}
        number = int(Path(result.path).name.split("_", 1)[0].removeprefix("trial-"))
        acc = metrics.get(space.METRIC)
        rows.append({
            "config": configuration.config_id, "model": configuration.model_name,
            **{name: configuration.values[name] for name in spec.profile.factors},
            "tuning_trial": number, "trial_id": Path(result.path).name.split("_", 1)[1],
            "status": "failed" if result.error is not None or acc is None else "completed",
            **{name: float(result.config[name]) for name in TUNED},
            "inner_val_acc": float(acc) if acc is not None else np.nan,
            "epochs_done": int(metrics.get("epoch", 0)), "max_epochs": epochs, "chosen": False,
            "seconds": float(metrics.get("time_total_s", np.nan)),
        })
    return sorted(rows, key=lambda r: r["tuning_trial"])


# --- the stage --------------------------------------------------------------------------------------------------


def needs_tuning(spec: StudySpec) -> bool:
    """The study asked for a tuning stage and some configuration has no tuned values yet."""
    return bool(spec.tuning) and any(c.config_id not in spec.tuned for c in _configurations(spec))


def _configurations(spec: StudySpec) -> list[Configuration]:
    cells = spec.design.get("cells") if spec.design else None
    return configurations(spec.profile.factors, fixed={"depth": spec.profile.depth}, cells=cells)


def _columns(spec: StudySpec) -> list[str]:
    return ["config", "model", *spec.profile.factors, *RESULT_COLUMNS]


def _earlier_rows(spec: StudySpec, path: str) -> pd.DataFrame:
    """The rows of configurations already tuned (a resumed stage); rows of an unfinished search are dropped."""
    if not runstore.exists(path):
        return pd.DataFrame(columns=_columns(spec))
    import io

    frame = pd.read_csv(io.StringIO(runstore.read_text(path)))
    return frame[frame["config"].isin(list(spec.tuned))]


def _clear_unfinished(location: str) -> None:
    """A search that was interrupted starts again from scratch (same seed, same budget) in a clean folder."""
    if runstore.is_local(location) and Path(location).exists():
        shutil.rmtree(location)


def run_tuning(spec: StudySpec, data: ImageData, components: dict[str, str] | None = None) -> StudySpec:
    """Tune every configuration not yet in spec.tuned; the spec with all tuned values (also saved)."""
    budget = spec.tuning
    trials, epochs, concurrency = budget["trials"], budget["epochs"], budget["concurrency"]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line per configuration
    inner, train_idx, val_idx = inner_split(data)
    print(f"tuning: {trials} trials per configuration (Optuna TPE seed {space.TUNING_SEED}, ASHA up to {epochs} "
          f"epoch(s), {concurrency} at a time) on an inner split of the training set: {len(train_idx)} train / "
          f"{len(val_idx)} inner val images; the study's {len(data.val_labels)} validation images are not used",
          flush=True)
    table_path = f"{spec.run_dir}/{TUNING_FILE}"
    table = _earlier_rows(spec, table_path)
    trainable = make_trainable(spec, inner, components)
    tuning_root = f"{spec.run_dir}/{TUNING_DIR}"
    for configuration in _configurations(spec):
        cid = configuration.config_id
        if cid in spec.tuned:
            continue
        _clear_unfinished(f"{tuning_root}/{cid}")
        rows = tune_configuration(spec, configuration, trainable, trials=trials, epochs=epochs,
                                  concurrency=concurrency, storage_path=tuning_root)
        best = choose(rows)
        if best is None:
            raise TuningError(f"every tuning trial of {cid} failed (see {tuning_root}/{cid}); fix the cause and "
                              f"run again with --name {spec.name} --resume")
        best["chosen"] = True
        frame = pd.DataFrame(rows, columns=_columns(spec))
        table = frame if table.empty else pd.concat([table, frame], ignore_index=True)
        runstore.write_atomic(table_path, table.to_csv(index=False))
        spec = replace(spec, tuned={**spec.tuned, cid: space.tuned_values(best)})
        runstore.write_atomic(f"{spec.run_dir}/{SPEC_FILE}", spec.to_yaml())
        print(f"tuned {configuration.model_name} ({cid}): "
              + ", ".join(f"{name} {best[name]:.4g}" for name in TUNED)
              + f"; inner val_acc {best['inner_val_acc']:.4f} (trial {best['tuning_trial']} of {trials})", flush=True)
    print(f"tuning table: {table_path}", flush=True)
    return spec
