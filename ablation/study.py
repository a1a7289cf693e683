"""Assemble and run the study's Tuner: the grid x seeds as param_space, data through the object store."""
from __future__ import annotations

import math
import os
import socket
from pathlib import Path
from typing import Any

import ray
import yaml
from ray import tune

from ablation import storage
from ablation.callbacks import TrialLinePrinter, WandbRuns
from ablation.spec import StudySpec
from search_spaces.factors import grid
from trainables.data import ImageData, load_data
from trainables.trial import train_trial

LEDGER = "ledger"


class ClusterError(RuntimeError):
    """The cluster cannot run the study as asked (a user error: no GPU, too few CPUs on any node)."""


def trial_entries(spec: StudySpec) -> list[dict[str, Any]]:
    """Configuration x seed, each with its id and name and, after tuning, its own hyperparameters."""
    entries = grid(spec.profile.factors, spec.seeds, fixed={"depth": spec.profile.depth})
    return [{**entry, **spec.tuned.get(entry["config_id"], {})} for entry in entries]


def param_space(spec: StudySpec) -> dict[str, Any]:
    # ONE grid_search over whole entries: separate grid_search keys would be cross-multiplied by Tune, and each
    # entry carries values derived from its cell (id, name, tuned hyperparameters).
    threads = max(1, math.floor(spec.profile.cpus_per_trial))
    return {"trial": tune.grid_search(trial_entries(spec)), **spec.profile.trial_settings(), "threads": threads}


def study_data(spec: StudySpec) -> dict[int, ImageData]:
    """The data set of every seed: one split (split_seed) for all, or with vary_split seed k's own split
    (split_seed + k), so the spread over seeds includes the split's. Decoded once either way (disk cache)."""
    p = spec.profile
    load = lambda split_seed: load_data(spec.data, spec.images, size=p.image_size,  # noqa: E731
                                        split_seed=split_seed, val_fraction=p.val_fraction)
    if not p.vary_split:
        shared = load(p.split_seed)
        return {seed: shared for seed in spec.seeds}
    return {seed: load(p.split_seed + seed) for seed in spec.seeds}


def study_trial(config: dict[str, Any], data: dict[int, ImageData], ledger: str) -> None:
    """The Tune trainable: the entry's values override the shared settings, then one trial runs on its
    seed's data."""
    shared = {key: value for key, value in config.items() if key != "trial"}
    entry = config["trial"]
    train_trial({**shared, **entry}, data[entry["seed"]], ledger=ledger)


def _trial_name(trial) -> str:
    entry = trial.config["trial"]
    return f"{entry['config_id']}-s{entry['seed']}"


def _trial_dirname(trial) -> str:
    return f"{_trial_name(trial)}_{trial.trial_id}"


def connect(spec: StudySpec) -> None:
    """Start or join Ray, then refuse resource requests the cluster can never satisfy (they would hang)."""
    _quiet_driver_environment(spec)
    if not ray.is_initialized():
        if spec.address:
            _check_reachable(spec.address)
            try:
                ray.init(address=spec.address, log_to_driver=False)
            except ConnectionError as err:
                raise ClusterError(f"cannot join the Ray cluster at {spec.address!r}: "
                                   f"{str(err).splitlines()[0]}; is it running, and is its token in "
                                   "RAY_AUTH_TOKEN or ~/.ray/auth_token?") from None
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    profile = spec.profile
    # Nodes that exist now, plus the node types the cluster launcher's autoscaler may still start: on a
    # `ray up` cluster with min_workers 0 no GPU node exists until trials ask for one.
    nodes = [node["Resources"] for node in ray.nodes() if node["Alive"]] + _launchable_node_types()
    if profile.gpus_per_trial > 0 and not any(node.get("GPU", 0) > 0 for node in nodes):
        raise ClusterError(f"--gpus-per-trial {profile.gpus_per_trial} asks for a GPU but the Ray cluster has "
                           "none; use --gpus-per-trial 0 or connect to a cluster with GPUs (--address)")
    largest = max((node.get("CPU", 0) for node in nodes), default=0)
    if profile.cpus_per_trial > largest:
        raise ClusterError(f"--cpus-per-trial {profile.cpus_per_trial} exceeds the largest node's "
                           f"{largest:g} CPUs; lower it")


def _check_reachable(address: str) -> None:
    """Refuse at once an address where nothing listens: Ray itself retries such a connection for minutes."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise ClusterError(f"no Ray cluster answers at {address!r} ({err.strerror or err}); start it "
                           "(`ray start --head` or `ray up cluster.yaml`) or fix --address") from None


# `ray up` leaves the cluster's launcher config on the head; Ray Tune reads the same file to spot autoscaling.
LAUNCHER_CONFIG = Path("~/ray_bootstrap_config.yaml")


def _launchable_node_types() -> list[dict[str, float]]:
    """Resources of each worker node type the autoscaler may start (none without a launcher config)."""
    path = LAUNCHER_CONFIG.expanduser()
    if not path.is_file():
        return []
    config = yaml.safe_load(path.read_text()) or {}
    return [dict(t.get("resources") or {}) for t in config.get("available_node_types", {}).values()
            if t.get("max_workers", 0) > 0]


def concurrent_slots(spec: StudySpec) -> int:
    """How many trials the cluster can run at once with the requested resources."""
    resources = ray.cluster_resources()
    slots = int(resources.get("CPU", 0) // spec.profile.cpus_per_trial)
    if spec.profile.gpus_per_trial > 0:
        slots = min(slots, int(round(resources.get("GPU", 0) / spec.profile.gpus_per_trial, 6)))
    return max(1, min(slots, len(trial_entries(spec))))


def _trainable(spec: StudySpec, data: dict[int, ImageData]):
    resources = {"cpu": spec.profile.cpus_per_trial, "gpu": spec.profile.gpus_per_trial}
    ledger = f"{spec.run_dir}/{LEDGER}"
    return tune.with_resources(tune.with_parameters(study_trial, data=data, ledger=ledger), resources)


def _quiet_driver_environment(spec: StudySpec) -> None:
    """Settings Ray and W&B read from the environment, set before Ray starts so its workers inherit them."""
    if spec.wandb != "disabled":
        # Ray's W&B logger checks the mode in the driver's environment (the keyword alone fails offline).
        os.environ["WANDB_MODE"] = spec.wandb
    os.environ.setdefault("WANDB_SILENT", "true")
    # The classic reporter honours max_report_frequency (a calm table); the new engine prints every trial's
    # config and result boxes.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # A snapshot per checkpoint is what makes resume exact; the warning about its frequency is noise here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


def _progress_table() -> tune.CLIReporter:
    return tune.CLIReporter(
        parameter_columns={"trial/model_name": "model", "trial/seed": "seed"},
        metric_columns={"epoch": "epoch", "train_acc": "train acc", "val_acc": "val acc"},
        max_report_frequency=30, max_progress_rows=40)


def run_study(spec: StudySpec, data: dict[int, ImageData], resume: bool) -> tune.ResultGrid:
    trainable = _trainable(spec, data)
    if resume and tune.Tuner.can_restore(spec.run_dir):
        tuner = tune.Tuner.restore(spec.run_dir, trainable=trainable, resume_unfinished=True,
                                   resume_errored=True)
        return tuner.fit()
    callbacks = [TrialLinePrinter(total=len(trial_entries(spec)))]
    if spec.wandb != "disabled":
        folder = spec.run_dir if storage.is_local(spec.run_dir) else None
        callbacks.append(WandbRuns(project=spec.wandb_project, mode=spec.wandb, folder=folder))
    tuner = tune.Tuner(
        trainable,
        param_space=param_space(spec),
        tune_config=tune.TuneConfig(trial_name_creator=_trial_name, trial_dirname_creator=_trial_dirname,
                                    reuse_actors=True),
        run_config=tune.RunConfig(
            name=spec.name,
            storage_path=spec.storage,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=callbacks,
            progress_reporter=_progress_table(),
            verbose=1,
        ),
    )
    return tuner.fit()
