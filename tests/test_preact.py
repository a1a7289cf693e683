"""Pre-activation blocks (He et al. 2016, "Identity mappings"): off is today's network, on is the paper's unit."""

import itertools

import pytest
import torch
import torchvision
from torch import nn

from search_spaces.factors import model_name
from tests.torch_threads import one_thread  # noqa: F401  (autouse fixture)
from trainables.components import get
from trainables.resnet import STAGE_BLOCKS, build_resnet, count_parameters

NUM_CLASSES = 5
BATCH = 2




def _blocks(model: nn.Module) -> list[nn.Module]:
    return [block for stage in (model.layer1, model.layer2, model.layer3, model.layer4) for block in stage]


def _preact_parameters(depth: int, width: int, shortcut: bool, stem: str, classes: int) -> int:
    """The parameter count of a pre-activation network, from its layers one by one."""
    bn = lambda c: 2 * c  # noqa: E731  gamma and beta
    total = (3 * width * (49 if stem == "imagenet" else 9)) + bn(width)  # stem conv + BN
    in_channels = width
    for stage, blocks in enumerate(STAGE_BLOCKS[depth]):
        channels = width * 2**stage
        for _ in range(blocks):
            total += bn(in_channels) + 9 * in_channels * channels + bn(channels) + 9 * channels * channels
            if shortcut and in_channels != channels:
                total += in_channels * channels  # bare 1x1 projection, no BN
            in_channels = channels
    return total + bn(in_channels) + in_channels * classes + classes  # final BN, fc


def test_off_is_torchvision_resnet34_bit_for_bit():
    torch.manual_seed(1)
    ours = build_resnet(depth=34, num_classes=NUM_CLASSES, preact=False)
    torch.manual_seed(1)
    theirs = torchvision.models.resnet34(num_classes=NUM_CLASSES)
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    assert all(torch.equal(ours_sd[k], theirs_sd[k]) for k in ours_sd)
    x = torch.randn(BATCH, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), theirs.eval()(x))


@pytest.mark.parametrize("shortcut", [True, False])
def test_off_builds_the_same_modules_as_the_default(shortcut):
    torch.manual_seed(3)
    default = build_resnet(depth=18, shortcut=shortcut, width=8, stem="small")
    torch.manual_seed(3)
    off = build_resnet(depth=18, shortcut=shortcut, width=8, stem="small", preact=False)
    assert repr(off) == repr(default)
    assert all(torch.equal(a, b) for a, b in zip(off.state_dict().values(), default.state_dict().values()))


def test_parameter_count_matches_the_hand_count():
    # Against torchvision's 21,287,237 (5-class head): the first block of stages 2-4 normalises its input
    # (C/2 wide, -C each: -(128+256+512)), the three projections lose their BN (-2 x (128+256+512)), one final
    # BN over 512 channels comes in (+1024): -896 - 1792 + 1024 = -1664.
    model = build_resnet(depth=34, num_classes=NUM_CLASSES, preact=True)
    assert count_parameters(model) == 21_287_237 - 1_664 == 21_285_573
    assert count_parameters(model) == _preact_parameters(34, 64, True, "imagenet", NUM_CLASSES)


@pytest.mark.parametrize("depth, shortcut, stem", itertools.product(sorted(STAGE_BLOCKS), [True, False],
                                                                     ["imagenet", "small"]))
def test_parameter_count_every_variant(depth, shortcut, stem):
    model = build_resnet(depth=depth, shortcut=shortcut, width=8, stem=stem, num_classes=NUM_CLASSES, preact=True)
    assert count_parameters(model) == _preact_parameters(depth, 8, shortcut, stem, NUM_CLASSES)


def test_shapes_of_the_pre_activation_layers():
    model = build_resnet(depth=34, width=8, stem="small", num_classes=NUM_CLASSES, preact=True)
    first = model.layer2[0]
    assert first.bn1.num_features == 8 and first.bn2.num_features == 16  # input, then conv1's output
    assert [type(m) for m in first.downsample] == [nn.Conv2d]  # a bare 1x1 projection
    assert first.downsample[0].weight.shape == (16, 8, 1, 1) and first.downsample[0].stride == (2, 2)
    assert model.final_bn.num_features == 64
    features = {}
    for name in ("layer1", "layer2", "layer3", "layer4"):
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: features.__setitem__(name, o.shape))
    assert model(torch.randn(BATCH, 3, 16, 16)).shape == (BATCH, NUM_CLASSES)
    assert features == {"layer1": (BATCH, 8, 16, 16), "layer2": (BATCH, 16, 8, 8), "layer3": (BATCH, 32, 4, 4),
                        "layer4": (BATCH, 64, 2, 2)}
    resnet_d = build_resnet(depth=34, width=8, stem="small", preact=True, resnet_d=True).layer2[0].downsample
    assert [type(m) for m in resnet_d] == [nn.AvgPool2d, nn.Conv2d]


def _randomise_bn(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.3)
    return model.eval()


@pytest.mark.parametrize("shortcut", [True, False])
def test_a_block_is_bn_act_conv_twice_with_nothing_after_the_sum(shortcut):
    torch.manual_seed(0)
    model = _randomise_bn(build_resnet(depth=18, shortcut=shortcut, width=8, stem="small", activation="mish",
                                       preact=True))
    block = model.layer1[1]
    x = torch.randn(BATCH, 8, 8, 8)
    branch = block.conv2(nn.functional.mish(block.bn2(block.conv1(nn.functional.mish(block.bn1(x))))))
    with torch.no_grad():
        expected = branch + x if shortcut else branch
        assert torch.allclose(block(x), expected, atol=1e-6)
        # No activation after the sum: the output takes negative values (a post-activation ReLU block's cannot).
        assert (block(x) < -0.05).any()


def test_projection_reads_the_pre_activated_input():
    torch.manual_seed(0)
    model = _randomise_bn(build_resnet(depth=18, width=8, stem="small", preact=True))
    block = model.layer2[0]
    x = torch.randn(BATCH, 8, 8, 8)
    pre = torch.relu(block.bn1(x))
    with torch.no_grad():
        expected = block.conv2(torch.relu(block.bn2(block.conv1(pre)))) + block.downsample(pre)
        assert torch.allclose(block(x), expected, atol=1e-6)


def test_a_zeroed_branch_leaves_the_clean_identity():
    # zero_init_residual zeroes bn2's gamma; act(0) = 0, so each identity block passes its input through
    # unchanged - the post-activation block gives act(x) instead.
    torch.manual_seed(0)
    x = torch.randn(BATCH, 8, 8, 8)
    pre = build_resnet(depth=18, width=8, stem="small", preact=True, zero_init_residual=True).eval()
    post = build_resnet(depth=18, width=8, stem="small", zero_init_residual=True).eval()
    with torch.no_grad():
        assert torch.equal(pre.layer1[1](x), x)
        assert torch.equal(post.layer1[1](x), torch.relu(x))


def test_in_a_plain_network_preact_reorders_the_same_convs():
    """Plain blocks have no identity to keep clean; preact still reorders them into BN -> act -> conv chains (and
    adds the final BN + act), so it is a different network: +2 x width parameters (first blocks of stages 2-4
    normalise C/2 channels, -(2w + 4w + 8w); the final BN, +16w), the same conv shapes, no downsample."""
    width = 8
    plain = build_resnet(depth=34, shortcut=False, width=width, stem="small", num_classes=NUM_CLASSES)
    plain_pre = build_resnet(depth=34, shortcut=False, width=width, stem="small", num_classes=NUM_CLASSES,
                             preact=True)
    assert count_parameters(plain_pre) == count_parameters(plain) + 2 * width
    convs = lambda m: [(n, p.shape) for n, p in m.named_parameters() if "conv" in n]  # noqa: E731
    assert convs(plain_pre) == convs(plain)
    assert not any("downsample" in name for name, _ in plain_pre.named_modules())
    assert all(not block.shortcut for block in _blocks(plain_pre))
    plain_pre(torch.randn(BATCH, 3, 16, 16)).sum().backward()
    assert [name for name, p in plain_pre.named_parameters() if p.grad is None] == []


@pytest.mark.parametrize("activation", ["relu", "mish"])
@pytest.mark.parametrize("se", [False, True])
@pytest.mark.parametrize("shortcut", [False, True])
def test_every_configuration_trains_with_preact(shortcut, se, activation):
    torch.manual_seed(0)
    model = build_resnet(18, shortcut, se, activation, NUM_CLASSES, width=8, stem="small", preact=True,
                         drop_path=0.1).train()
    out = model(torch.randn(BATCH, 3, 16, 16))
    assert out.shape == (BATCH, NUM_CLASSES)
    nn.functional.cross_entropy(out, torch.randint(NUM_CLASSES, (BATCH,))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


def test_registered_as_a_built_in_component():
    component = get("preact")
    assert (component.levels, component.default, component.id_key, component.builder_arg) == \
        ((False, True), False, "pa", "preact")
    assert component.id_fragment(True) == "pa=1"
    assert model_name({"shortcut": True, "preact": True}) == "ResNet-34+PreAct"
    assert model_name({"shortcut": False, "preact": True}) == "Plain-34+PreAct"


def test_preact_must_be_a_boolean():
    with pytest.raises(ValueError, match=r"preact must be one of \[False, True\]"):
        build_resnet(preact="yes")


def test_a_trial_recorded_before_preact_existed_is_still_finished():
    # A resumed study started before preact was a built-in: its records name no preact level, its trials were
    # today's network (preact off), so they are not trained again; a preact=True trial is not one of them.
    from search_spaces.factors import grid
    from trainables.ledger import is_finished, trial_identity

    entry = grid(("shortcut",), (0,))[1]
    assert entry["preact"] is False
    identity = trial_identity(entry, "data-fp")
    old = {"config": {**identity["config"], "levels": {k: v for k, v in identity["config"]["levels"].items()
                                                       if k != "preact"}}, "data": "data-fp"}
    assert "preact" not in old["config"]["levels"]
    assert is_finished(old, identity)
    assert not is_finished(old, trial_identity({**entry, "preact": True}, "data-fp"))
    assert not is_finished({**old, "data": "other"}, identity)
