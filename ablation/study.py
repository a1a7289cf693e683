"""Assemble and run the study's Tuner: the trials still to run as param_space, data through the object store.

A study is one or more `fit()` calls of a fresh Tuner in the same run folder: the first runs every trial; a
resumed study (driver killed, node lost), a grown one (more seeds, a fold-over) or the next wave of a sequential
study runs only the trials the ledger does not hold as finished. Ray Tune's experiment state is never restored
(`Tuner.restore` unpickles what lies in the storage folder); what a study needs to continue lives in spec.yaml,
the ledger and the trials' weights-only checkpoints.
"""
from __future__ import annotations

import math
import os
import socket
from pathlib import Path
from typing import Any

import ray
import yaml
from ray import tune

import runstore
from ablation import console
from ablation.callbacks import TrialLinePrinter, WandbRuns
from ablation.spec import StudySpec
from search_spaces.factors import grid
from trainables.components import load_source
from trainables.data import ImageData, load_data
from trainables.ledger import is_finished, ledger_location, read_all, trial_identity, trial_key
from trainables.trial import train_trial


# Storage credentials a trial may need. Ray Tune copies these from the driver's environment into every trial
# actor's runtime environment, which Ray's runtime-env agent writes whole into the session logs
# (ray/tune/execution/class_cache.py); they travel with the trial's parameters instead (object store, not logged).
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class ClusterError(RuntimeError):
    """The cluster cannot run the study as asked (a user error: no GPU, too few CPUs on any node)."""


def trial_entries(spec: StudySpec) -> list[dict[str, Any]]:
    """Configuration x seed, each with its id and name and, after tuning, its own hyperparameters; only the
    design's cells where the study runs a fraction of the grid."""
    cells = spec.design.get("cells") if spec.design else None
    entries = grid(spec.profile.factors, spec.seeds, fixed={"depth": spec.profile.depth}, cells=cells)
    return [{**entry, **spec.tuned.get(entry["config_id"], {})} for entry in entries]


def shared_settings(spec: StudySpec) -> dict[str, Any]:
    """The part of every trial's config that is not its entry: the profile's recipe and the thread count."""
    return {**spec.profile.trial_settings(), "threads": max(1, math.floor(spec.profile.cpus_per_trial))}


def pending_entries(spec: StudySpec, data: dict[int, ImageData]) -> list[dict[str, Any]]:
    """The entries the ledger does not hold as finished (with the same config and data)."""
    finished = read_all(ledger_location(spec.run_dir))
    shared = shared_settings(spec)
    return [entry for entry in trial_entries(spec)
            if not is_finished(finished.get(trial_key(entry["config_id"], entry["seed"])),
                               trial_identity({**shared, **entry}, data[entry["seed"]].fingerprint))]


def param_space(spec: StudySpec, entries: list[dict[str, Any]]) -> dict[str, Any]:
    # ONE grid_search over whole entries: separate grid_search keys would be cross-multiplied by Tune, and each
    # entry carries values derived from its cell (id, name, tuned hyperparameters).
    return {"trial": tune.grid_search(entries), **shared_settings(spec)}


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


def study_trial(config: dict[str, Any], data: dict[int, ImageData], store: str,
                components: dict[str, str], secrets: dict[str, str] | None = None) -> None:
    """The Tune trainable: the storage credentials and the user's components in this worker, the entry's values
    over the shared settings, then one trial on its seed's data."""
    os.environ.update(secrets or {})  # before the trial touches the storage
    for label, source in components.items():
        load_source(source, label)
    shared = {key: value for key, value in config.items() if key != "trial"}
    entry = config["trial"]
    train_trial({**shared, **entry}, data[entry["seed"]], store=store)


def _trial_name(trial) -> str:
    entry = trial.config["trial"]
    return f"{entry['config_id']}-s{entry['seed']}"


def _trial_dirname(trial) -> str:
    return f"{_trial_name(trial)}_{trial.trial_id}"


def connect(spec: StudySpec) -> None:
    """Start or join Ray, then refuse resource requests the cluster can never satisfy (they would hang).

    Storage credentials (those taken out of the --storage URI are in this process's environment) never go into a
    runtime environment, which Ray writes into its session logs: each trial gets them through the object store,
    with its data (see _trainable)."""
    _quiet_driver_environment(spec)
    _keep_credentials_out_of_runtime_environments()
    if not ray.is_initialized():
        if spec.address:
            _check_reachable(spec.address)
            try:
                ray.init(address=spec.address, log_to_driver=False, logging_level=console.ray_logging_level())
            except ConnectionError as err:
                raise ClusterError(f"cannot join the Ray cluster at {spec.address!r}: "
                                   f"{str(err).splitlines()[0]}; is it running, and is its token in "
                                   "RAY_AUTH_TOKEN or ~/.ray/auth_token?") from None
        else:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=console.ray_logging_level())
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


ADDRESS_FORM = "auto, HOST:PORT or ray://HOST:PORT"


def check_address(address: str) -> None:
    """ValueError (one line) unless `address` has a form Ray accepts: auto, HOST:PORT, ray://HOST:PORT."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or any(c.isspace() for c in address):
        raise ValueError(f"--address {address!r} is not a Ray address; give {ADDRESS_FORM}")


def _keep_credentials_out_of_runtime_environments() -> None:
    from ray.tune.execution import class_cache

    class_cache.ENV_VARS_TO_PROPAGATE = frozenset(class_cache.ENV_VARS_TO_PROPAGATE) - set(CREDENTIAL_VARIABLES)


def _check_reachable(address: str) -> None:
    """Refuse at once an address where nothing listens: Ray itself retries such a connection for minutes."""
    check_address(address)
    if address == "auto":
        return  # Ray finds the local cluster's address itself
    host, _, port = address.removeprefix("ray://").rpartition(":")
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
    """How many trials the cluster can run at once with the requested resources (at least 1)."""
    resources = ray.cluster_resources()
    slots = int(resources.get("CPU", 0) // spec.profile.cpus_per_trial)
    if spec.profile.gpus_per_trial > 0:
        slots = min(slots, int(round(resources.get("GPU", 0) / spec.profile.gpus_per_trial, 6)))
    return max(1, slots)


def _trainable(spec: StudySpec, data: dict[int, ImageData], components: dict[str, str]):
    resources = {"cpu": spec.profile.cpus_per_trial, "gpu": spec.profile.gpus_per_trial}
    return tune.with_resources(tune.with_parameters(study_trial, data=data, store=spec.run_dir,
                                                    components=components, secrets=_credentials()),
                               resources)


def _credentials() -> dict[str, str]:
    """The storage credentials of the driver's environment (the URI's, or the user's own), for every trial."""
    return {name: os.environ[name] for name in CREDENTIAL_VARIABLES if os.environ.get(name)}


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


def run_study(spec: StudySpec, data: dict[int, ImageData], components: dict[str, str] | None = None,
              entries: list[dict[str, Any]] | None = None) -> tune.ResultGrid | None:
    """One fit() over `entries` (default: the pending ones); None when nothing is left to run.

    components: the user's component files, label -> source, registered in every worker."""
    entries = pending_entries(spec, data) if entries is None else entries
    if not entries:
        return None
    slots = concurrent_slots(spec)
    p = spec.profile
    print(f"running {len(entries)} trial(s), {min(slots, len(entries))} at a time ({p.cpus_per_trial:g} CPU"
          + (f", {p.gpus_per_trial:g} GPU" if p.gpus_per_trial else "") + " each)", flush=True)
    callbacks = [TrialLinePrinter(entries, slots)]
    if spec.wandb != "disabled":
        folder = spec.run_dir if runstore.is_local(spec.run_dir) else None
        callbacks.append(WandbRuns(project=spec.wandb_project, mode=spec.wandb, folder=folder, study=spec.name,
                                   profile=spec.profile.name))
    tuner = tune.Tuner(
        _trainable(spec, data, components or {}),
        param_space=param_space(spec, entries),
        tune_config=tune.TuneConfig(trial_name_creator=_trial_name, trial_dirname_creator=_trial_dirname,
                                    reuse_actors=True),
        run_config=tune.RunConfig(
            name=spec.name,
            storage_path=spec.storage,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            callbacks=callbacks,
            progress_reporter=_progress_table() if console.VERBOSE else None,
            verbose=console.tune_verbosity(),
        ),
    )
    return tuner.fit()
