"""One trial: build the model from its configuration, train N epochs, report a row and a checkpoint per epoch.

`train_trial(config, data, store=RUN_DIR)` is the Ray Tune function trainable (data arrive through
`tune.with_parameters`). Given a `LocalReporter` it runs without Ray, which is how the tests check determinism and
exact resume.

Its files, in the study's run folder (local or a URI every node reaches):
    checkpoints/<config>-s<seed>/state.pt  the last checkpoint (weights, optimizer, scheduler, every RNG state, the
                                           history and the trial's identity), replaced atomically; read back with
                                           torch.load(weights_only=True), so nothing in it is unpickled as code
    ledger/<config>-s<seed>.json           written once the trial has finished (trainables/ledger.py)
A trial restarted for any reason (a retry after a crash, a resumed or grown study) continues from its checkpoint
when the checkpoint's identity (config and data fingerprint) is its own, and does not train at all when the
ledger already holds it.
"""
from __future__ import annotations

import io
import os
import random
import socket
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

import runstore
from trainables.augment import val_views
from trainables.components import Component, registry
from trainables.config import TrialConfig
from trainables.cost import FLOP_BATCH, peak_memory_mb, reset_peak_memory, training_flops_per_image
from trainables.data import ImageData
from trainables.ledger import is_finished, ledger_location, read_record, trial_identity, trial_key, write_record
from trainables.loop import Precision, evaluate, train_one_epoch
from trainables.resnet import build_resnet, count_parameters

CHECKPOINT_FILE = "state.pt"
CHECKPOINTS = "checkpoints"
EVAL_BATCH = 256


class LocalReporter:
    """Reports without Ray: metrics to `on_epoch`, checkpoints to `checkpoint_dir` (kept: the latest only).

    `on_epoch(metrics)` may return False to stop the trial after that epoch (a controlled interruption).
    """

    def __init__(self, checkpoint_dir: str | os.PathLike | None = None,
                 on_epoch: Callable[[dict], bool | None] | None = None):
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.on_epoch = on_epoch
        self.rows: list[dict] = []

    def restore(self) -> dict | None:
        if self.checkpoint_dir is None:
            return None
        return load_checkpoint(str(self.checkpoint_dir / CHECKPOINT_FILE))

    def report(self, metrics: dict, state: dict | None) -> bool:
        self.rows.append(metrics)
        if state is not None and self.checkpoint_dir is not None:
            save_checkpoint(state, str(self.checkpoint_dir / CHECKPOINT_FILE))
        return self.on_epoch is None or self.on_epoch(metrics) is not False


class TuneReporter:
    """Reports through Ray Tune, one `tune.report` per epoch; checkpoints go to the study's own store.

    Tune's checkpoints are not used: a trial restarted in a new `fit()` (a resumed or grown study) would not get
    them back, and restoring Tune's experiment state unpickles whatever lies in the storage folder."""

    def __init__(self, checkpoint: str | None = None):
        self.checkpoint = checkpoint  # location of state.pt, or None: no checkpoints

    def restore(self) -> dict | None:
        return load_checkpoint(self.checkpoint) if self.checkpoint is not None else None

    def report(self, metrics: dict, state: dict | None) -> bool:
        from ray import tune

        if state is not None and self.checkpoint is not None:
            save_checkpoint(state, self.checkpoint)
        tune.report(metrics)
        return True


def save_checkpoint(state: dict, location: str) -> None:
    """torch.save into a file written atomically and durably (runstore)."""
    with runstore.open_atomic(location) as stream:
        if runstore.is_local(location):
            torch.save(state, stream)
        else:  # object-store streams cannot seek, which torch.save's zip writer may need
            buffer = io.BytesIO()
            torch.save(state, buffer)
            stream.write(buffer.getvalue())


def load_checkpoint(location: str) -> dict | None:
    """The checkpoint at `location` (weights only: tensors and plain containers), or None when there is none or
    it cannot be read (then the trial starts from epoch 0, with a warning)."""
    if not runstore.files.is_file(location):
        return None
    try:  # a local file is read in place; a remote one (no seekable stream) through memory
        source = location if runstore.is_local(location) else io.BytesIO(runstore.read_bytes(location))
        return torch.load(source, weights_only=True)
    except Exception as err:  # a truncated or foreign file: start again rather than fail on every retry
        warnings.warn(f"checkpoint {runstore.redact(location)} is unreadable ({type(err).__name__}); the trial "
                      "starts from epoch 0", stacklevel=2)
        return None


def trial_levels(cfg: TrialConfig, components: dict[str, Component]) -> dict[str, Any]:
    """The level of every registered component for this trial (its default where the config names none)."""
    unknown = sorted(set(cfg.levels) - set(components))
    if unknown:
        raise ValueError(f"trial config names unregistered component(s) {unknown}; registered: {list(components)}")
    levels = {name: cfg.levels.get(name, c.default) for name, c in components.items()}
    for name, level in levels.items():
        components[name].check(level)
    return levels


def build_model(cfg: TrialConfig, levels: dict[str, Any], components: dict[str, Component],
                num_classes: int) -> nn.Module:
    """The network of this trial: build_resnet with every builder component's level, then each `apply`."""
    arguments = {c.builder_arg: levels[name] for name, c in components.items() if c.builder_arg is not None}
    model = build_resnet(**arguments, num_classes=num_classes, width=cfg.width, stem=cfg.stem)
    for name, component in components.items():
        if component.apply is not None:
            changed = component.apply(model, levels[name])
            model = changed if changed is not None else model
    return model


def train_trial(config: dict[str, Any], data: ImageData, reporter: LocalReporter | TuneReporter | None = None,
                store: str | None = None) -> None:
    """Train one configuration for `epochs` epochs, resuming from its last checkpoint if any.

    With a `store` (the study's run folder), a trial already recorded in its ledger as finished re-reports its
    last row and returns without training, checkpoints go to `<store>/checkpoints/<key>/state.pt`, and a trial
    that finishes records its whole history in the ledger (see ledger.py).
    """
    components = registry()
    cfg = TrialConfig.from_dict(config, components)
    levels = trial_levels(cfg, components)
    recipe = {c.recipe_field: levels[name] for name, c in components.items() if c.recipe_field is not None}
    cfg = replace(cfg, **recipe)
    key = trial_key(cfg.config_id, cfg.seed)
    identity = trial_identity(config, data.fingerprint)
    if reporter is None:
        checkpoint = runstore.join(store, CHECKPOINTS, key, CHECKPOINT_FILE) if store is not None else None
        reporter = TuneReporter(checkpoint)
    ledger = ledger_location(store) if store is not None else None
    if ledger is not None:
        record = read_record(ledger, key)
        if record is not None and is_finished(record, identity):
            reporter.report(record["history"][-1], None)
            return
    device = _pick_device()
    _configure_backend(cfg, device)
    precision = Precision.for_device(device)

    torch.manual_seed(cfg.seed)  # weight init; the generator below drives data order and augmentation
    model = build_model(cfg, levels, components, data.num_classes).to(device)
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    train_images, train_labels, val_images, val_labels = _device_tensors(data, device)
    steps_per_epoch = max(1, len(train_images) // cfg.batch_size + (len(train_images) % cfg.batch_size >= 2))
    # fused: one kernel for all parameters; on a CPU about 7x faster than the per-tensor loop (measured).
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs * steps_per_epoch)
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    generator = torch.Generator().manual_seed(cfg.seed)
    _seed_host_rngs(cfg.seed)

    start_epoch, best, history = 0, {"best_val_acc": -1.0, "best_epoch": 0}, []
    state = reporter.restore()
    if state is not None and state.get("identity") != identity:
        warnings.warn(f"checkpoint of {key} belongs to another configuration or data set; training from epoch 0",
                      stacklevel=2)
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        _set_rng_states(state["rng"], generator, device)
        start_epoch, best, history = state["epoch"], state["best"], state["history"]

    params = count_parameters(model)
    flops = training_flops_per_image(model, precision.prepare(val_views(train_images[:FLOP_BATCH])),
                                     train_labels[:FLOP_BATCH], criterion, precision.autocast(device))
    reset_peak_memory(device)
    where = _placement()
    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        began = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train = train_one_epoch(model, optimizer, scheduler, train_images, train_labels,
                                batch_size=cfg.batch_size, generator=generator, criterion=criterion,
                                precision=precision, crop_scale=(cfg.crop_scale_min, 1.0))
        val = evaluate(model, val_images, val_labels, batch_size=EVAL_BATCH, precision=precision)
        if val.acc > best["best_val_acc"]:
            best = {"best_val_acc": val.acc, "best_epoch": epoch}
        metrics = {"epoch": epoch, "train_loss": train.loss, "train_acc": train.acc, "val_loss": val.loss,
                   "val_acc": val.acc, "lr": lr, "seconds": time.perf_counter() - began, "params": params,
                   "flops_per_image": flops, "peak_memory_mb": peak_memory_mb(device), **best, **where,
                   "ended_at": time.time()}
        history = history + [metrics]
        state = None
        if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "epoch": epoch, "best": best,
                     "rng": _get_rng_states(generator, device), "history": history, "identity": identity}
        if epoch == cfg.epochs and ledger is not None:
            write_record(ledger, key, {**identity, "trial_id": _tune_trial_id(), "history": history})
        if not reporter.report(metrics, state):
            return
    if start_epoch >= cfg.epochs and history and ledger is not None:
        # The checkpoint is at the last epoch but the ledger has no record (a truncated one was set aside): the
        # record comes from the checkpoint's history, so the trial is finished without training anything.
        write_record(ledger, key, {**identity, "trial_id": _tune_trial_id(), "history": history})
        reporter.report(history[-1], None)


def _placement() -> dict[str, str]:
    """Which machine and process ran the trial: the Ray node id (when under Ray), the host name and the pid."""
    node_id = ""
    try:
        import ray

        if ray.is_initialized():
            node_id = ray.get_runtime_context().get_node_id()
    except ImportError:
        pass
    return {"node_id": node_id, "hostname": socket.gethostname(), "pid": os.getpid()}


def _tune_trial_id() -> str:
    """The Ray Tune trial id when running under Tune, else ''."""
    try:
        import ray

        if not ray.is_initialized():
            return ""
        with warnings.catch_warnings():  # outside a Tune trial Ray warns and returns None
            warnings.simplefilter("ignore")
            from ray import tune

            return tune.get_context().get_trial_id() or ""
    except Exception:  # not under Tune (a local run, a test)
        return ""


def _pick_device() -> torch.device:
    # Ray sets CUDA_VISIBLE_DEVICES to the trial's GPU (or to nothing when it asked for none).
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _configure_backend(cfg: TrialConfig, device: torch.device) -> None:
    if device.type == "cpu" and cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not cfg.deterministic
        torch.backends.cudnn.deterministic = cfg.deterministic


# Ray reuses a worker process for the next trial of the same trainable, so the study's tensors stay resident
# on the device between trials instead of being copied for each one.
_RESIDENT: dict[tuple[str, str], tuple[torch.Tensor, ...]] = {}


def _device_tensors(data: ImageData, device: torch.device) -> tuple[torch.Tensor, ...]:
    key = (data.fingerprint, str(device))
    if key not in _RESIDENT:
        _RESIDENT.clear()
        _RESIDENT[key] = tuple(t.to(device) for t in
                               (data.train_images, data.train_labels, data.val_images, data.val_labels))
    return _RESIDENT[key]


def _seed_host_rngs(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)


def _get_rng_states(generator: torch.Generator, device: torch.device) -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = {
        "torch": torch.get_rng_state(),
        "data": generator.get_state(),
        "python": random.getstate(),
        # weights_only loading accepts tensors and plain containers, so numpy's state travels as a tensor.
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos, "has_gauss": has_gauss,
                  "cached": cached},
    }
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _set_rng_states(states: dict, generator: torch.Generator, device: torch.device) -> None:
    torch.set_rng_state(states["torch"])
    generator.set_state(states["data"])
    random.setstate(_as_tuples(states["python"]))
    numpy_state = states["numpy"]
    np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32), numpy_state["pos"],
                         numpy_state["has_gauss"], numpy_state["cached"]))
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"], device)


def _as_tuples(value):
    # random.setstate wants tuples; a round trip through torch.save may hand back lists.
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
