"""What a trial costs: FLOPs per training image (torch's counter, checked against a count by hand), seconds per
epoch and peak memory, in a trial's rows and in a real study's trials.csv."""
from __future__ import annotations

import math

import pandas as pd
import torch
from torch import nn

from trainables.components import registry
from trainables.config import TrialConfig
from trainables.cost import training_flops_per_image
from trainables.trial import LocalReporter, build_model, train_trial, trial_levels

TINY = dict(width=4, stem="small", batch_size=128, lr=3e-3, threads=1, config_id="shortcut=1-se=1-act=relu",
            se=True, seed=0, epochs=2)


def _layer_flops(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-adds x 2 of one forward pass of a convolution or linear layer, per image, from its shapes."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        per_output = 2 * kh * kw * module.in_channels // module.groups
        return per_output * output[0].numel()
    return 2 * module.in_features * module.out_features * (output[0].numel() // module.out_features)


def _hand_count(model: nn.Module, inputs: torch.Tensor) -> float:
    """Training FLOPs per image by hand: every conv/linear layer costs its forward pass, the gradient of its
    weights and the gradient of its input (each as much as the forward), except the first layer, whose input
    (the image) needs no gradient."""
    layers = []
    hooks = [m.register_forward_hook(lambda m, i, o: layers.append(_layer_flops(m, o)))
             for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model.train()(inputs)
    for hook in hooks:
        hook.remove()
    return 3 * sum(layers) - layers[0]


def test_flops_of_one_linear_and_one_conv_layer_are_the_hand_count():
    linear = nn.Linear(10, 3)
    assert training_flops_per_image(linear, torch.randn(4, 10), torch.tensor([0, 1, 2, 0]),
                                    nn.CrossEntropyLoss()) == 2 * (2 * 10 * 3)  # forward + weight gradient
    net = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.Flatten(), nn.Linear(5 * 6 * 6, 2))
    conv, fc = 2 * 3 * 5 * 9 * 36, 2 * 180 * 2
    before = {k: v.clone() for k, v in net.state_dict().items()}
    flops = training_flops_per_image(net, torch.randn(2, 3, 6, 6), torch.tensor([0, 1]), nn.CrossEntropyLoss())
    assert flops == 2 * conv + 3 * fc
    # counted on a copy: the model's weights and gradients are untouched
    assert net[0].weight.grad is None and all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_trial_records_its_cost(digits_small):
    reporter = LocalReporter()
    train_trial(TINY, digits_small, reporter)
    rows = reporter.rows
    assert len(rows) == 2
    components = registry()
    cfg = TrialConfig.from_dict(TINY, components)
    model = build_model(cfg, trial_levels(cfg, components), components, digits_small.num_classes)
    images = digits_small.train_images[:2].float()
    expected = _hand_count(model, images)
    assert expected > 1e5
    assert {r["flops_per_image"] for r in rows} == {expected}
    assert all(r["seconds"] > 0 for r in rows)
    # a Python process that imported torch holds well over 50 MiB; a machine of this size has far below 1 TiB
    assert all(50 < r["peak_memory_mb"] < 2**20 for r in rows)
    assert rows[1]["peak_memory_mb"] >= rows[0]["peak_memory_mb"]  # a peak never falls


def test_a_real_study_writes_the_cost_columns(smoke_study):
    code, run_dir = smoke_study
    assert code == 0
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    epochs = pd.read_csv(run_dir / "results" / "epochs.csv")
    assert trials.flops_per_image.gt(0).all() and trials.peak_memory_mb.gt(50).all()
    # FLOPs and params are properties of the configuration: identical across its seeds
    assert trials.groupby("config").flops_per_image.nunique().eq(1).all()
    flops = trials.groupby("model").flops_per_image.first()
    assert flops["SE-ResNet-34"] > flops["ResNet-34"] > flops["Plain-34"]  # SE and projections add products
    means = epochs.groupby("trial_id").seconds.mean()
    merged = trials.set_index("trial_id")
    assert all(math.isclose(merged.seconds_per_epoch[t], means[t], rel_tol=1e-9) for t in merged.index)
