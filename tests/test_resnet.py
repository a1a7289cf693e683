"""The model builder against torchvision and against the parameter arithmetic of each ablation factor."""

import itertools

import pytest
import torch
import torchvision
from torch import nn

from trainables.resnet import ACTIVATIONS, STAGE_BLOCKS, STEMS, build_resnet, count_parameters

NUM_CLASSES = 5
BATCH = 2  # BatchNorm in train mode needs more than one value per channel, also at layer4's 1x1 maps


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # These small nets run as fast on one thread as on two, and one thread does not collapse (10x and worse)
    # when other processes share the cores, as they do on a CI box.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
