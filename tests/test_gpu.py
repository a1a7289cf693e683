"""The CUDA path of a trial (bf16 autocast, channels_last, data resident on the GPU). Skipped without a GPU."""
from __future__ import annotations

import math

import pytest
import torch

from trainables.trial import LocalReporter, train_trial

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

RECIPE = dict(width=16, stem="small", batch_size=64, lr=3e-3, deterministic=True,
              config_id="shortcut=1-se=1-act=mish", se=True, activation="mish")


def _rows(config, data, checkpoint_dir=None, stop_after=None):
    reporter = LocalReporter(checkpoint_dir,
                             on_epoch=None if stop_after is None else (lambda m: m["epoch"] < stop_after))
    train_trial(config, data, reporter)
    return [{k: v for k, v in r.items() if k not in ("seconds", "node_id", "hostname")} for r in reporter.rows]


def test_gpu_trial_learns_with_finite_metrics(digits_small):
    rows = _rows(dict(RECIPE, seed=0, epochs=3), digits_small)
    assert all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_loss"]) for r in rows)
    assert rows[-1]["val_acc"] > rows[0]["val_acc"]


def test_gpu_trial_resumes_from_its_checkpoint(digits_small, tmp_path):
    config = dict(RECIPE, seed=1, epochs=4)
    straight = _rows(config, digits_small)
    first = _rows(config, digits_small, tmp_path, stop_after=2)
    rest = _rows(config, digits_small, tmp_path)
    # deterministic=True: no cudnn autotuning and deterministic kernels, so the numbers should match; bf16
    # reductions may still differ in the last bits, hence a tolerance on the losses.
    assert [r["epoch"] for r in first + rest] == [1, 2, 3, 4]
    for a, b in zip(first + rest, straight):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3)
        assert a["val_acc"] == pytest.approx(b["val_acc"], abs=0.01)


def test_gpu_trial_records_the_allocators_peak_and_the_same_flops_as_on_cpu(digits_small):
    """FLOPs are a property of the network, not of the device or precision; the peak is the CUDA allocator's."""
    from trainables.cost import FLOP_BATCH, training_flops_per_image
    from trainables.components import registry
    from trainables.config import TrialConfig
    from trainables.trial import build_model, trial_levels

    config = dict(RECIPE, seed=0, epochs=1)
    reporter = LocalReporter()
    train_trial(config, digits_small, reporter)
    row = reporter.rows[0]
    components = registry()
    cfg = TrialConfig.from_dict(config, components)
    model = build_model(cfg, trial_levels(cfg, components), components, digits_small.num_classes)
    images = digits_small.train_images[:FLOP_BATCH].float()
    cpu = training_flops_per_image(model, images, digits_small.train_labels[:FLOP_BATCH], torch.nn.CrossEntropyLoss())
    assert row["flops_per_image"] == cpu
    total = torch.cuda.get_device_properties(0).total_memory / 2**20
    assert 0 < row["peak_memory_mb"] < total
