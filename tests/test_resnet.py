"""The model builder against torchvision and against the parameter arithmetic of each ablation factor."""

import itertools

import pytest
import torch
import torchvision
from torch import nn

from tests.torch_threads import one_thread  # noqa: F401  (autouse fixture)
from trainables.resnet import ACTIVATIONS, STAGE_BLOCKS, STEMS, build_resnet, count_parameters

NUM_CLASSES = 5
BATCH = 2  # BatchNorm in train mode needs more than one value per channel, also at layer4's 1x1 maps




@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize(
    "depth, reference", [(18, torchvision.models.resnet18), (34, torchvision.models.resnet34)]
)
def test_default_config_is_torchvision_resnet(depth, reference):
    torch.manual_seed(1)
    ours = build_resnet(depth=depth, num_classes=NUM_CLASSES)
    torch.manual_seed(1)
    theirs = reference(num_classes=NUM_CLASSES)

    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert {k: v.shape for k, v in ours_sd.items()} == {k: v.shape for k, v in theirs_sd.items()}
    # Same module order and same init, so the same seed gives the same weights.
    assert all(torch.equal(ours_sd[k], theirs_sd[k]) for k in ours_sd)

    # Non-trivial running statistics, so eval mode really exercises the loaded BN buffers.
    for m in theirs.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    theirs.eval()
    x = torch.randn(BATCH, 3, 224, 224)
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() < 1e-5


def _projection_parameters(in_channels: int, out_channels: int) -> int:
    # 1x1 conv without bias + BatchNorm (weight and bias).
    return in_channels * out_channels + 2 * out_channels


def test_plain_is_resnet_minus_the_three_projections():
    resnet = build_resnet(depth=34, shortcut=True, num_classes=NUM_CLASSES)
    plain = build_resnet(depth=34, shortcut=False, num_classes=NUM_CLASSES)

    assert count_parameters(resnet) == 21_287_237  # torchvision resnet34 with a 5-class head
    projections = sum(_projection_parameters(c, 2 * c) for c in (64, 128, 256))
    assert projections == (64 * 128 + 2 * 128) + (128 * 256 + 2 * 256) + (256 * 512 + 2 * 512)
    assert count_parameters(plain) == count_parameters(resnet) - projections
    assert not any("downsample" in name for name, _ in plain.named_modules())


def test_plain_every_parameter_gets_a_gradient():
    plain = build_resnet(depth=34, shortcut=False, num_classes=NUM_CLASSES)
    plain(torch.randn(BATCH, 3, 64, 64)).sum().backward()
    missing = [name for name, p in plain.named_parameters() if p.grad is None]
    assert missing == []


@pytest.mark.parametrize("shortcut", [True, False])
def test_se_adds_exactly_its_squeeze_and_excite_parameters(shortcut):
    r = 16
    # Per block with C output channels: fc1 C*(C//r) + C//r, fc2 (C//r)*C + C (1x1 convs with bias).
    blocks_per_stage, channels = (3, 4, 6, 3), (64, 128, 256, 512)
    expected = sum(
        n * (c * (c // r) + c // r + (c // r) * c + c) for n, c in zip(blocks_per_stage, channels)
    )
    without = build_resnet(depth=34, shortcut=shortcut, se=False, num_classes=NUM_CLASSES)
    with_se = build_resnet(depth=34, shortcut=shortcut, se=True, se_reduction=r, num_classes=NUM_CLASSES)
    assert count_parameters(with_se) - count_parameters(without) == expected


@pytest.mark.parametrize("shortcut", [True, False])
def test_se_rescales_the_residual_branch_before_addition(shortcut):
    model = build_resnet(depth=18, shortcut=shortcut, se=True, width=16, stem="small").eval()
    block = model.layer1[1]  # stride 1, same width: the shortcut (if any) is the plain identity
    seen = {}
    block.bn2.register_forward_hook(lambda m, i, o: seen.__setitem__("bn2", o.clone()))
    block.se.register_forward_hook(lambda m, i, o: seen.__setitem__("se", (i[0].clone(), o.clone())))
    block.register_forward_hook(lambda m, i, o: seen.__setitem__("block", (i[0].clone(), o.clone())))
    with torch.no_grad():
        model(torch.randn(BATCH, 3, 32, 32))

    se_in, se_out = seen["se"]
    block_in, block_out = seen["block"]
    assert torch.equal(se_in, seen["bn2"])
    expected = torch.relu(se_out + block_in) if shortcut else torch.relu(se_out)
    torch.testing.assert_close(block_out, expected)


@pytest.mark.parametrize("shortcut, se", itertools.product([True, False], repeat=2))
def test_mish_leaves_no_relu(shortcut, se):
    model = build_resnet(depth=18, shortcut=shortcut, se=se, activation="mish", width=16)
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert any(isinstance(m, nn.Mish) for m in model.modules())


def test_width_scales_every_stage_and_small_stem_drops_the_pool():
    model = build_resnet(depth=18, width=8, stem="small", num_classes=NUM_CLASSES)
    assert [model.layer1[0].conv1.out_channels, model.layer2[0].conv1.out_channels,
            model.layer3[0].conv1.out_channels, model.layer4[0].conv1.out_channels] == [8, 16, 32, 64]
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())


def _train_step(model: nn.Module, size: int) -> None:
    model.train()
    out = model(torch.randn(BATCH, 3, size, size))
    assert out.shape == (BATCH, NUM_CLASSES)
    nn.functional.cross_entropy(out, torch.randint(NUM_CLASSES, (BATCH,))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("depth", sorted(STAGE_BLOCKS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("se", [False, True])
@pytest.mark.parametrize("shortcut", [False, True])
def test_every_configuration_trains(shortcut, se, activation, depth, stem):
    # Narrow nets keep 32 cases fast; the architecture does not depend on width (full width is tested below).
    size = 224 if stem == "imagenet" else 32
    model = build_resnet(depth, shortcut, se, activation, NUM_CLASSES, width=8, stem=stem)
    _train_step(model, size)


def test_full_width_se_mish_resnet34_trains():
    model = build_resnet(depth=34, shortcut=True, se=True, activation="mish", num_classes=NUM_CLASSES)
    _train_step(model, 224)


# The three built-in components (zero_init_residual, resnet_d, drop_path).

OFF = {"zero_init_residual": False, "resnet_d": False, "drop_path": 0.0, "preact": False}  # preact: test_preact.py
# Each component alone, then all three together.
COMPONENTS = {
    "zero_init": {"zero_init_residual": True},
    "resnet_d": {"resnet_d": True},
    "drop_path": {"drop_path": 0.2},
    "all": {"zero_init_residual": True, "resnet_d": True, "drop_path": 0.2},
}


def _blocks(model: nn.Module) -> list[nn.Module]:
    return [block for stage in (model.layer1, model.layer2, model.layer3, model.layer4) for block in stage]


@pytest.mark.parametrize("shortcut", [True, False])
def test_components_off_build_todays_network(shortcut):
    torch.manual_seed(1)
    default = build_resnet(depth=34, shortcut=shortcut, num_classes=NUM_CLASSES, width=8)
    torch.manual_seed(1)
    off = build_resnet(depth=34, shortcut=shortcut, num_classes=NUM_CLASSES, width=8, **OFF)
    # Same module tree (repr lists every module and its settings), same keys, same seeded values.
    assert repr(off) == repr(default)
    default_sd, off_sd = default.state_dict(), off.state_dict()
    assert list(off_sd) == list(default_sd)
    assert all(torch.equal(off_sd[k], default_sd[k]) for k in off_sd)


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_components_add_no_parameters(component):
    # All three change initialisation or wiring only; the pool and StochasticDepth have no parameters.
    model = build_resnet(depth=34, num_classes=NUM_CLASSES, **COMPONENTS[component])
    assert count_parameters(model) == 21_287_237  # torchvision resnet34 with a 5-class head


def test_zero_init_residual_is_torchvision_zero_init_residual():
    torch.manual_seed(1)
    ours = build_resnet(depth=34, num_classes=NUM_CLASSES, zero_init_residual=True)
    torch.manual_seed(1)
    theirs = torchvision.models.resnet34(num_classes=NUM_CLASSES, zero_init_residual=True)

    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert {k: v.shape for k, v in ours_sd.items()} == {k: v.shape for k, v in theirs_sd.items()}
    assert all(torch.equal(ours_sd[k], theirs_sd[k]) for k in ours_sd)
    bn2 = [k for k in ours_sd if k.endswith("bn2.weight")]
    assert len(bn2) == 16 and all(torch.count_nonzero(ours_sd[k]) == 0 for k in bn2)
    # Only bn2's gamma: its bias and every other BN keep torchvision's identity init.
    assert all(torch.all(ours_sd[k] == 1) for k in ours_sd if k.endswith("bn1.weight"))


def test_zero_init_residual_blocks_start_as_the_activated_identity():
    model = build_resnet(depth=18, se=True, width=8, stem="small", zero_init_residual=True).eval()
    block = model.layer1[1]  # identity shortcut
    x = torch.randn(BATCH, 8, 16, 16)
    with torch.no_grad():
        assert torch.equal(block(x.clone()), torch.relu(x))


def test_zero_init_residual_leaves_plain_blocks_alone():
    # Zeroing bn2 in a plain block would output act(0) from every block: the option applies to residual blocks.
    torch.manual_seed(1)
    plain = build_resnet(depth=34, shortcut=False, width=8)
    torch.manual_seed(1)
    plain_zero = build_resnet(depth=34, shortcut=False, width=8, zero_init_residual=True)
    plain_sd, plain_zero_sd = plain.state_dict(), plain_zero.state_dict()
    assert all(torch.equal(plain_zero_sd[k], plain_sd[k]) for k in plain_sd)
    assert all(torch.all(block.bn2.weight == 1) for block in _blocks(plain_zero))


def test_resnet_d_keys_shapes_and_init():
    torch.manual_seed(1)
    off = build_resnet(depth=34, num_classes=NUM_CLASSES)
    torch.manual_seed(1)
    on = build_resnet(depth=34, num_classes=NUM_CLASSES, resnet_d=True)
    off_sd, on_sd = off.state_dict(), on.state_dict()

    # downsample.0 is the pool (no state), .1 the stride-1 conv, .2 the BN; torchvision's .0 conv / .1 BN shift.
    bn_keys = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [k for k in on_sd if k.startswith("layer2.0.downsample.")] == (
        ["layer2.0.downsample.1.weight"] + [f"layer2.0.downsample.2.{k}" for k in bn_keys]
    )
    renamed = {k.replace("downsample.1", "downsample.2").replace("downsample.0", "downsample.1"): k for k in off_sd}
    assert list(on_sd) == list(renamed)
    # Same shapes and, since the pool draws nothing from the random stream, the same seeded values.
    assert all(on_sd[k].shape == off_sd[renamed[k]].shape for k in on_sd)
    assert all(torch.equal(on_sd[k], off_sd[renamed[k]]) for k in on_sd)

    # The same parameters as option B's three projections: 1x1 conv + BN each.
    projections = sum(_projection_parameters(c, 2 * c) for c in (64, 128, 256))
    assert sum(p.numel() for name, p in on.named_parameters() if ".downsample." in name) == projections

    for stage in (on.layer2, on.layer3, on.layer4):
        pool, conv, _ = stage[0].downsample
        assert isinstance(pool, nn.AvgPool2d)
        assert (pool.kernel_size, pool.stride, pool.ceil_mode, pool.count_include_pad) == (2, 2, True, False)
        assert conv.kernel_size == (1, 1) and conv.stride == (1, 1)
    # The stem is not ResNet-C's: still torchvision's 7x7 conv.
    assert on.conv1.kernel_size == (7, 7)


def test_resnet_d_shortcut_averages_before_projecting():
    model = build_resnet(depth=18, width=8, stem="small", resnet_d=True)
    pool, conv, _ = model.layer2[0].downsample
    x = torch.randn(BATCH, 8, 16, 16)
    with torch.no_grad():
        # Each output pixel is the mean of its 2x2 window...
        torch.testing.assert_close(pool(x), x.reshape(BATCH, 8, 8, 2, 8, 2).mean((3, 5)))
        # ...so the projection differs from the stride-2 conv with the same weights, which reads one pixel in four.
        projected = conv(pool(x))
        strided = nn.functional.conv2d(x, conv.weight, stride=2)
        assert projected.shape == strided.shape
        assert not torch.allclose(projected, strided)
        # A constant map stays constant before BN.
        constant = torch.randn(BATCH, 8, 1, 1).expand(BATCH, 8, 16, 16)
        out = conv(pool(constant))
        torch.testing.assert_close(out, out[..., :1, :1].expand_as(out))
        # Odd size: ceil_mode gives the main path's 4x4, and the last window covers one pixel, which it returns.
        odd = torch.randn(BATCH, 8, 7, 7)
        assert pool(odd).shape[-2:] == (4, 4)
        torch.testing.assert_close(pool(odd)[..., 3, 3], odd[..., 6, 6])
        assert model.layer2[0].eval()(odd).shape == (BATCH, 16, 4, 4)


@pytest.mark.parametrize("depth", sorted(STAGE_BLOCKS))
def test_drop_path_decays_linearly_with_depth(depth):
    drop_path = 0.2
    model = build_resnet(depth=depth, width=8, stem="small", drop_path=drop_path)
    total = sum(STAGE_BLOCKS[depth])
    probabilities = [block.stochastic_depth.p for block in _blocks(model)]
    assert probabilities == [drop_path * l / total for l in range(1, total + 1)]
    assert probabilities[-1] == drop_path
    assert all(block.stochastic_depth.mode == "row" for block in _blocks(model))


def test_drop_path_is_the_identity_at_eval():
    torch.manual_seed(1)
    dropping = build_resnet(depth=18, se=True, width=8, stem="small", drop_path=0.5)
    reference = build_resnet(depth=18, se=True, width=8, stem="small")
    reference.load_state_dict(dropping.state_dict())  # strict: StochasticDepth adds no state
    dropping.eval()
    reference.eval()
    x = torch.randn(BATCH, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(dropping(x), reference(x))


def _capture_last_block(model: nn.Module, size: int, batch: int) -> dict:
    block = model.layer4[-1]  # identity shortcut, drop probability exactly drop_path
    seen = {}
    block.stochastic_depth.register_forward_hook(lambda m, i, o: seen.__setitem__("sd", (i[0].clone(), o.clone())))
    block.register_forward_hook(lambda m, i, o: seen.__setitem__("block", (i[0].clone(), o.clone())))
    model.train()
    with torch.no_grad():
        model(torch.randn(batch, 3, size, size))
    return seen


def test_drop_path_drops_the_residual_branch_in_training():
    model = build_resnet(depth=18, width=8, stem="small", drop_path=0.999)
    seen = _capture_last_block(model, 16, BATCH)
    branch_in, branch_out = seen["sd"]
    block_in, block_out = seen["block"]
    assert branch_in.abs().amax((1, 2, 3)).min() > 0
    assert torch.count_nonzero(branch_out) == 0
    assert torch.equal(block_out, torch.relu(block_in))


def test_drop_path_drops_per_sample_and_rescales_the_kept():
    model = build_resnet(depth=18, width=8, stem="small", drop_path=0.5)
    seen = _capture_last_block(model, 16, 16)
    branch_in, branch_out = seen["sd"]
    block_in, block_out = seen["block"]
    dropped = (branch_out == 0).flatten(1).all(1)
    assert 0 < dropped.sum() < len(dropped)  # some samples of the batch dropped, some kept
    torch.testing.assert_close(branch_out[~dropped], branch_in[~dropped] / (1 - 0.5))
    torch.testing.assert_close(block_out, torch.relu(branch_out + block_in))


def test_drop_path_leaves_plain_blocks_alone():
    # Dropping a plain block's branch would drop the whole signal: drop_path is a no-op there, also in training.
    torch.manual_seed(1)
    plain_dropping = build_resnet(depth=18, shortcut=False, width=8, stem="small", drop_path=0.5)
    plain = build_resnet(depth=18, shortcut=False, width=8, stem="small")
    plain.load_state_dict(plain_dropping.state_dict())
    assert all(block.stochastic_depth is None for block in _blocks(plain_dropping))
    x = torch.randn(BATCH, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(plain_dropping.train()(x), plain.train()(x))


@pytest.mark.parametrize("component", sorted(COMPONENTS))
@pytest.mark.parametrize("depth", sorted(STAGE_BLOCKS))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("se", [False, True])
@pytest.mark.parametrize("shortcut", [False, True])
def test_every_configuration_trains_with_components(shortcut, se, activation, depth, component):
    model = build_resnet(depth, shortcut, se, activation, NUM_CLASSES, width=8, stem="small",
                         **COMPONENTS[component])
    _train_step(model, 16)


@pytest.mark.parametrize(
    "kwargs, choices",
    [
        ({"activation": "gelu"}, ["'mish'", "'relu'"]),
        ({"depth": 50}, ["18", "34"]),
        ({"stem": "cifar"}, ["'imagenet'", "'small'"]),
    ],
)
def test_unknown_choice_lists_the_valid_ones(kwargs, choices):
    with pytest.raises(ValueError) as excinfo:
        build_resnet(**kwargs)
    message = str(excinfo.value)
    assert all(choice in message for choice in choices)


@pytest.mark.parametrize("kwargs", [{"width": 0}, {"se_reduction": 0}, {"num_classes": 0}])
def test_non_positive_sizes_are_rejected(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        build_resnet(**kwargs)


@pytest.mark.parametrize("kwargs", [{"zero_init_residual": "yes"}, {"resnet_d": None}])
def test_component_flags_must_be_booleans(kwargs):
    with pytest.raises(ValueError) as excinfo:
        build_resnet(**kwargs)
    message = str(excinfo.value)
    assert next(iter(kwargs)) in message and "[False, True]" in message


@pytest.mark.parametrize("drop_path", [-0.1, 1.0, 1.5, float("nan")])
def test_drop_path_out_of_range_is_rejected(drop_path):
    with pytest.raises(ValueError, match=r"drop_path must be in \[0, 1\)"):
        build_resnet(drop_path=drop_path)
