"""ReZero as a component of your own: a learnable scalar on each residual branch, initialised to 0.

Bachlechner et al. (2020), "ReZero is All You Need": multiply every residual branch by a scalar alpha that starts at
0, so each block starts as the identity and learns how much of its branch to let in. Ablate it with

    python ablation/run.py --components examples/rezero.py --factors shortcut rezero

This file is all it takes: it builds the part (`ResidualScale`), says how a level changes a network (`apply`), and
registers the component. Nothing in the package changes. The registration declares:
    name     "rezero": the column in trials.csv, the key in every trial's config and W&B run
    levels   (False, True): the baseline ("off") first
    id_key   "rz": configuration ids read `shortcut=1-rz=1`
    default  False: the level in studies that do not vary it
    apply    how a level changes the network built by build_resnet (called after it, under the trial's seed)
    tag      "ReZero": model names read `ResNet-34+ReZero`
"""
import torch
from torch import Tensor, nn

from trainables.components import Component, register


class ResidualScale(nn.Module):
    """out = alpha * x with one learnable alpha, starting at 0 (the block then starts as the identity path)."""

    def __init__(self) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.alpha * x


def apply_rezero(model: nn.Module, level: bool) -> None:
    """Scale the residual branch of every block that has a shortcut. The block runs its `se` slot on the branch
    after the last BN and before the addition, so the scale goes there, after SE when SE is on. A plain block
    (no shortcut) is left alone: its branch is the whole signal, and scaling it by 0 would cut the network."""
    if not level:
        return
    for block in model.modules():
        if getattr(block, "shortcut", False) and hasattr(block, "se"):
            block.se = nn.Sequential(block.se, ResidualScale()) if block.se is not None else ResidualScale()


register(Component(name="rezero", levels=(False, True), id_key="rz", default=False, apply=apply_rezero,
                   tag="ReZero", description="learnable residual scale initialised to 0 (Bachlechner et al. 2020)"))
