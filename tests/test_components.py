"""Components as one registration: the registry's rules, the trial passing levels through, a user's own file."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from search_spaces.factors import configurations, grid, model_name
from trainables.components import BUILT_IN, Component, get, load_source, register, registry
from trainables.config import TrialConfig
from trainables.trial import build_model, trial_levels

REPO = Path(__file__).resolve().parent.parent
REZERO = REPO / "examples" / "rezero.py"


def _build(**levels):
    components = registry()
    cfg = TrialConfig(width=8, stem="small", levels=levels)
    torch.manual_seed(0)
    return build_model(cfg, trial_levels(cfg, components), components, num_classes=10)


def test_built_in_components_are_the_eight_factors_with_baseline_first():
    assert [c.name for c in BUILT_IN] == ["shortcut", "se", "activation", "depth", "zero_init_residual", "resnet_d",
                                          "drop_path", "preact"]
    assert {c.name: c.levels[0] for c in BUILT_IN} == {
        "shortcut": False, "se": False, "activation": "relu", "depth": 18, "zero_init_residual": False,
        "resnet_d": False, "drop_path": 0.0, "preact": False}
    # Not varied, every component takes ResNet-34's level: the default grid's cells are the original study's.
    assert {c.name: c.default for c in BUILT_IN} == {
        "shortcut": True, "se": False, "activation": "relu", "depth": 34, "zero_init_residual": False,
        "resnet_d": False, "drop_path": 0.0, "preact": False}


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="bad name", levels=(0, 1), id_key="b", default=0, builder_arg="x"), "Python identifier"),
    (dict(name="one", levels=(0,), id_key="o", default=0, builder_arg="x"), "at least 2 distinct levels"),
    (dict(name="dup", levels=(1, 1), id_key="d", default=1, builder_arg="x"), "at least 2 distinct levels"),
    (dict(name="obj", levels=((1,), (2,)), id_key="o", default=(1,), builder_arg="x"), "bool, int, float or str"),
    (dict(name="none", levels=(0, 1), id_key="n", default=0), "exactly one of"),
    (dict(name="two", levels=(0, 1), id_key="t", default=0, builder_arg="x", recipe_field="lr"), "exactly one of"),
    (dict(name="rec", levels=(0, 1), id_key="r", default=0, recipe_field="seed"), "not a recipe field"),
    (dict(name="dflt", levels=(0, 1), id_key="d", default=2, builder_arg="x"), "unknown level 2"),
])
def test_a_malformed_component_is_refused_with_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as err:
        Component(**kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("component, message", [
    (Component("se", (False, True), "se2", False, builder_arg="se"), "already registered"),
    (Component("lr", (1e-3, 1e-2), "lr", 1e-3, recipe_field="lr"), "taken by a trial setting"),
    (Component("model", (False, True), "m", False, builder_arg="x"), "taken by a trial setting or a table column"),
    (Component("fresh", (False, True), "act", False, builder_arg="x"), "id key 'act' is already used"),
])
def test_register_refuses_names_and_id_keys_in_use(component, message):
    with pytest.raises(ValueError, match=message):
        register(component)
    assert "fresh" not in registry()


def test_true_is_not_one_for_a_level():
    get("shortcut").check(True)
    with pytest.raises(ValueError, match="unknown level 1 for component 'shortcut'"):
        get("shortcut").check(1)


def test_trial_passes_every_level_through_to_the_builder():
    """Each built-in changes the network exactly as build_resnet's argument does; names follow the levels."""
    base = _build()
    assert sum(p.numel() for p in base.parameters()) == sum(p.numel() for p in _build(resnet_d=True).parameters())
    zero = _build(zero_init_residual=True)
    assert all((b.bn2.weight == 0).all() for layer in (zero.layer1, zero.layer4) for b in layer)
    drop = _build(drop_path=0.1)
    assert drop.layer4[-1].stochastic_depth.p == pytest.approx(0.1)
    assert _build(preact=True).final_bn.num_features == 64 and not hasattr(base, "final_bn")
    assert len(_build(depth=18).layer3) == 2 and len(base.layer3) == 6
    assert model_name({"shortcut": True, "zero_init_residual": True, "drop_path": 0.1}) == \
        "ResNet-34+ZeroInit+DropPath"
    assert model_name({"shortcut": False, "se": True, "activation": "mish", "depth": 18}) == "Plain-18+SE+Mish"


def test_unregistered_level_in_a_trial_config_is_an_error():
    cfg = TrialConfig(levels={"dropout": True})
    with pytest.raises(ValueError, match=r"unregistered component\(s\) \['dropout'\]"):
        trial_levels(cfg, registry())


def test_fractional_cells_pick_configurations_by_bit_mask():
    cells = [0, 3, 5, 6]  # the 2^(3-1) fraction with activation = shortcut:se
    chosen = configurations(("shortcut", "se", "activation"), cells=cells)
    assert [c.config_id for c in chosen] == ["shortcut=0-se=0-act=relu", "shortcut=1-se=1-act=relu",
                                             "shortcut=1-se=0-act=mish", "shortcut=0-se=1-act=mish"]
    assert len(grid(("shortcut", "se", "activation"), seeds=(0, 1), cells=cells)) == 8


def test_the_rezero_example_is_one_file_outside_the_package():
    names = load_source(REZERO.read_text(), str(REZERO))
    assert names == ["rezero"]
    assert load_source(REZERO.read_text(), str(REZERO)) == ["rezero"]  # loading again registers nothing new
    component = get("rezero")
    assert component.levels == (False, True) and component.id_key == "rz" and component.apply is not None
    off, on = _build(), _build(rezero=True)
    blocks = [b for layer in (on.layer1, on.layer2, on.layer3, on.layer4) for b in layer]
    # one learnable scalar per residual branch, starting at 0
    assert sum(p.numel() for p in on.parameters()) - sum(p.numel() for p in off.parameters()) == len(blocks) == 16
    scales = [m.alpha for m in on.modules() if type(m).__name__ == "ResidualScale"]
    assert len(scales) == 16 and all(float(a.detach()) == 0.0 for a in scales)
    # at initialisation every block is the activated identity: its branch is scaled to zero
    block = on.layer1[0].eval()
    x = torch.randn(2, 8, 16, 16)
    assert torch.equal(block(x), torch.relu(x))
    plain = _build(shortcut=False, rezero=True)
    assert not [m for m in plain.modules() if type(m).__name__ == "ResidualScale"]  # a plain net is left alone
    assert model_name({"shortcut": True, "rezero": True}) == "ResNet-34+ReZero"
