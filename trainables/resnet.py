"""ResNet-18/34 with switchable residual shortcut, Squeeze-and-Excitation and activation.

One builder covers every cell of the ablation grid; a variant is an argument, never a class. With the defaults
(shortcut on, no SE, ReLU, depth 34, width 64, ImageNet stem) the network is architecturally identical to
``torchvision.models.resnet34``: same state_dict keys and shapes, same initialisation, so weights load either way
and give the same outputs (tests/test_resnet.py checks this against torchvision itself).

Three further components are built in, each off by default (off is exactly the network above): zero-initialised
last BN of each residual block (Goyal et al. 2017), the ResNet-D average-pool downsampling shortcut (He et al.
2019) and stochastic depth (Huang et al. 2016). All three act on the residual branch or the shortcut, so in a plain
network (``shortcut=False``) they change nothing; see ``build_resnet``. A fourth, pre-activation (He et al. 2016,
"Identity mappings in deep residual networks"), reorders every block, plain ones included; see ``preact``.

Contracts, written once:
- an ``act_layer`` is a class called as ``act_layer(inplace=True)`` on the main path and ``act_layer()`` inside SE;
- an ``se_layer`` is a callable taking the channel count as its only argument, or ``None`` when SE is off.
Strings ("relu", "mish") are resolved into these classes once, in ``build_resnet``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import partial

from torch import Tensor, nn
from torchvision.ops import SqueezeExcitation, StochasticDepth

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "mish": nn.Mish}
# Basic blocks per stage, from He et al. (2016), Table 1.
STAGE_BLOCKS: dict[int, tuple[int, ...]] = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
STEMS = ("imagenet", "small")


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    # No bias: every conv is followed by BatchNorm, whose shift makes a conv bias redundant.
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


def squeeze_excitation(channels: int, reduction: int, act_layer: type[nn.Module]) -> SqueezeExcitation:
    # The squeeze activation follows the network's, so a Mish network holds no ReLU at all. max(1, ...) keeps
    # very narrow test networks (width 8, reduction 16) buildable; at width >= 16 it is exactly C // r.
    return SqueezeExcitation(channels, max(1, channels // reduction), activation=act_layer)


class BasicBlock(nn.Module):
    """Two 3x3 convs; with ``shortcut`` the input is added back before the last activation.

    Without ``shortcut`` the block is "plain" (He et al.'s Plain-34): no identity and no projection module, so a
    plain network holds no parameter that never receives a gradient. ``resnet_d`` and ``drop_prob`` act on the
    shortcut and the residual branch, so a plain block ignores them.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        shortcut: bool = True,
        act_layer: type[nn.Module] = nn.ReLU,
        se_layer: Callable[[int], nn.Module] | None = None,
        resnet_d: bool = False,
        drop_prob: float = 0.0,
        preact: bool = False,
    ) -> None:
        super().__init__()
        # Built before the convs, as torchvision's _make_layer does, so the random stream - and therefore the
        # initial weights for a given seed - match torchvision's exactly. Projection (option B of He et al.)
        # only where the shape changes; elsewhere the identity is free.
        downsample = None
        if shortcut and resnet_d and stride != 1:
            # He et al. (2019), Fig. 2c (ResNet-D): a stride-2 1x1 conv reads one pixel in four and ignores the
            # rest; average-pool first so every pixel reaches the shortcut, then project with a stride-1 conv.
            # ceil_mode matches the main path's ceil(H / 2) on odd sizes, the overhanging border window averaging
            # only the pixels it covers; count_include_pad=False as in timm's and GluonCV's ResNet-D (with no
            # padding it changes nothing). The pool has no parameters, so the parameter count and the random
            # stream are unchanged; only the keys shift to downsample.1 (conv), .2 (BN).
            downsample = nn.Sequential(
                nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True, count_include_pad=False),
                conv1x1(in_channels, channels),
                *_projection_norm(channels, preact),
            )
        elif shortcut and (stride != 1 or in_channels != channels):
            downsample = nn.Sequential(conv1x1(in_channels, channels, stride), *_projection_norm(channels, preact))
        self.conv1 = conv3x3(in_channels, channels, stride)
        # Pre-activation normalises the block's input (in_channels), the post-activation block conv1's output.
        self.bn1 = nn.BatchNorm2d(in_channels if preact else channels)
        self.act = act_layer(inplace=True)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        # Hu et al. (2018), Fig. 3: SE rescales the residual branch after its last BN, before the addition.
        self.se = se_layer(channels) if se_layer is not None else None
        # Huang et al. (2016): drop the whole residual branch per sample ("row") in training, rescale the kept
        # ones by 1 / (1 - p), identity at eval. Only with a shortcut: in a plain block the branch is the whole
        # signal, and dropping it would cut the network. No module at p = 0, so the off network is unchanged.
        self.stochastic_depth = StochasticDepth(drop_prob, "row") if shortcut and drop_prob > 0 else None
        self.downsample = downsample
        self.shortcut = shortcut
        self.preact = preact

    def forward(self, x: Tensor) -> Tensor:
        if self.preact:
            return self._forward_preact(x)
        identity = x

        out = self.conv1(x)
        out = self.bn1(out)
        out = self.act(out)

        out = self.conv2(out)
        out = self.bn2(out)

        if self.se is not None:
            out = self.se(out)

        if self.stochastic_depth is not None:
            out = self.stochastic_depth(out)

        if self.downsample is not None:
            identity = self.downsample(x)

        if self.shortcut:
            out += identity
        out = self.act(out)

        return out

    def _forward_preact(self, x: Tensor) -> Tensor:
        # He et al. (2016b), Fig. 1b / 4e: BN -> act -> conv, twice, and nothing after the addition, so the
        # identity path from block to block is a pure sum. A projection reads the pre-activated input (their
        # "preact both" shortcut, as in fb.resnet.torch's preresnet), the identity reads x untouched.
        pre = self.act(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(pre)

        out = self.conv1(pre)
        out = self.act(self.bn2(out))
        out = self.conv2(out)

        if self.se is not None:
            out = self.se(out)

        if self.stochastic_depth is not None:
            out = self.stochastic_depth(out)

        if self.shortcut:
            out = out + identity
        return out


def _projection_norm(channels: int, preact: bool) -> list[nn.Module]:
    # A pre-activation projection is a bare 1x1 conv (as in He et al.'s preresnet code): its input is already
    # normalised, and a BN on the shortcut would rescale the very path pre-activation keeps clean.
    return [] if preact else [nn.BatchNorm2d(channels)]


class ResNet(nn.Module):
    """Stem, four stages of basic blocks (widths w, 2w, 4w, 8w), global average pool, linear classifier."""

    def __init__(
        self,
        stage_blocks: tuple[int, ...],
        shortcut: bool,
        act_layer: type[nn.Module],
        se_layer: Callable[[int], nn.Module] | None,
        num_classes: int,
        width: int,
        stem: str,
        zero_init_residual: bool = False,
        resnet_d: bool = False,
        drop_path: float = 0.0,
        preact: bool = False,
    ) -> None:
        super().__init__()
        if stem == "imagenet":
            # 224x224 input: a stride-2 7x7 conv and a stride-2 max-pool cut the resolution 4x before layer1.
            conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
            maxpool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            # 32x32 input: keep full resolution into layer1 (as He et al. did for CIFAR); the ImageNet stem would
            # leave layer4 with 1x1 maps.
            conv1 = conv3x3(3, width)
            maxpool = nn.Identity()
        self.conv1 = conv1
        self.bn1 = nn.BatchNorm2d(width)
        self.act = act_layer(inplace=True)
        self.maxpool = maxpool

        block = partial(BasicBlock, shortcut=shortcut, act_layer=act_layer, se_layer=se_layer, resnet_d=resnet_d,
                        preact=preact)
        widths = [width * 2**i for i in range(len(stage_blocks))]
        total_blocks = sum(stage_blocks)
        block_index = 0
        in_channels = width
        stages = []
        for i, (channels, blocks) in enumerate(zip(widths, stage_blocks)):
            # Every stage but the first halves the resolution in its first block while doubling the width.
            stride = 1 if i == 0 else 2
            layers = []
            for _ in range(blocks):
                block_index += 1
                # Huang et al. (2016), Sec. 3, linear decay rule: block l of L is dropped with p_l = p_L * l / L,
                # so early blocks, whose features every later block uses, are dropped least.
                drop_prob = drop_path * block_index / total_blocks
                layers.append(block(in_channels, channels, stride, drop_prob=drop_prob))
                in_channels = channels
                stride = 1
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        if preact:
            # The last block's sum is not normalised (nothing follows its addition): one BN + act before the
            # pool, as in He et al. (2016b). Only when on, so the off network keeps torchvision's modules.
            self.final_bn = nn.BatchNorm2d(in_channels)
            self.final_act = act_layer(inplace=True)
        self.preact = preact

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_channels, num_classes)

        # torchvision's initialisation, kept identical so the ResNet-34 cell matches it seed for seed: He et al.'s
        # fan-out normal init for every conv (the SE 1x1 convs too), BatchNorm as the identity, fc left at
        # PyTorch's default. Zero-init of the last BN is the opt-in ``zero_init_residual`` below, off by default
        # as in torchvision.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

        # Goyal et al. (2017): with the last BN's gamma at zero every residual branch starts at zero, so each
        # residual block starts as act(shortcut) and the network trains at first as if it were shallower. Done
        # after the loop above and drawing nothing from the random stream, as in torchvision, so the other
        # weights stay those of the same seed. Residual blocks only: in a plain block the branch is the whole
        # signal, and zeroing it would leave the block outputting act(0) with no gradient to its convs.
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock) and m.shortcut:
                    nn.init.constant_(m.bn2.weight, 0)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        x = self.bn1(x)
        x = self.act(x)
        x = self.maxpool(x)

        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        if self.preact:
            x = self.final_act(self.final_bn(x))

        x = self.avgpool(x)
        x = x.flatten(1)
        x = self.fc(x)

        return x


def _check_choice(name: str, value: object, choices: Collection) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def build_resnet(
    depth: int = 34,
    shortcut: bool = True,
    se: bool = False,
    activation: str = "relu",
    num_classes: int = 1000,
    width: int = 64,
    stem: str = "imagenet",
    se_reduction: int = 16,
    zero_init_residual: bool = False,
    resnet_d: bool = False,
    drop_path: float = 0.0,
    preact: bool = False,
) -> nn.Module:
    """Build one cell of the ablation grid.

    depth: 18 or 34 (basic blocks). shortcut=False gives the plain network (no identity, no projection).
    se: Squeeze-and-Excitation on every block's residual branch, squeeze width channels // se_reduction.
    activation: "relu" or "mish", used everywhere including inside SE. width: channels of the first stage
    (stages are width, 2w, 4w, 8w). stem: "imagenet" (7x7 stride 2 + max-pool, for 224x224) or "small"
    (3x3 stride 1, no pool, for 32x32).

    The three components below are off by default, and off builds exactly the network above (same modules, keys,
    parameter count and seeded initialisation). Each acts on the residual branch or on the shortcut, so with
    shortcut=False each is a no-op: a plain block has no residual branch to start at zero or to drop, and no
    projection shortcut to change.

    zero_init_residual: zero the last BN's gamma (bn2.weight) in every residual block, so each starts as
    act(shortcut) (Goyal et al. 2017; torchvision's ``zero_init_residual=True``, bit-identical for the same seed).
    resnet_d: the ResNet-D downsampling shortcut (He et al. 2019, Fig. 2c): 2x2 average pool, then a stride-1
    1x1 conv + BN, instead of a stride-2 1x1 conv + BN; state_dict keys downsample.1 (conv) and downsample.2
    (BN), same parameter count. Only the shortcut: the stem is left as chosen by ``stem`` (the full ResNet-D of
    the paper also has the ResNet-C deep stem, which this is not).
    drop_path: stochastic depth (Huang et al. 2016) with the linear decay rule: in training, block l of L drops
    its residual branch (after SE, before the addition) per sample with probability drop_path * l / L and
    rescales it by 1 / (1 - p_l) when kept; identity at eval. Must lie in [0, 1).
    preact: pre-activation blocks (He et al. 2016, "Identity mappings in deep residual networks", Fig. 4e): each
    block computes conv2(act(bn2(conv1(act(bn1(x)))))) (SE and drop_path on that branch as above) and adds the
    shortcut with no activation after the sum; bn1 normalises the block's input (in_channels wide); a projection
    shortcut is a bare 1x1 conv of the pre-activated input (no BN; ResNet-D: pool, then that conv); a final BN +
    act follow the last stage. The stem (conv, BN, act, pool) is unchanged, so the first block's BN re-normalises
    the stem's output. zero_init_residual then zeroes bn2's gamma: act(0) = 0 for ReLU and Mish, so every
    residual branch still starts at zero. In a plain network (shortcut=False) preact is NOT a no-op: the blocks
    become chains BN -> act -> conv with no addition and the final BN + act, the same convs in the
    pre-activation order (parameters: +2 x width, see tests/test_preact.py).

    Invalid choices raise ValueError naming the valid ones.
    """
    _check_choice("depth", depth, STAGE_BLOCKS)
    _check_choice("activation", activation, ACTIVATIONS)
    _check_choice("stem", stem, STEMS)
    _check_choice("zero_init_residual", zero_init_residual, (False, True))
    _check_choice("resnet_d", resnet_d, (False, True))
    _check_choice("preact", preact, (False, True))
    # Also rejects NaN. At 1 the last block would always drop its branch and never learn.
    if not 0.0 <= drop_path < 1.0:
        raise ValueError(f"drop_path must be in [0, 1), got {drop_path!r}")
    if width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if se_reduction < 1:
        raise ValueError(f"se_reduction must be a positive integer, got {se_reduction!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")

    act_layer = ACTIVATIONS[activation]
    se_layer = partial(squeeze_excitation, reduction=se_reduction, act_layer=act_layer) if se else None
    return ResNet(
        STAGE_BLOCKS[depth], shortcut, act_layer, se_layer, num_classes, width, stem,
        zero_init_residual=zero_init_residual, resnet_d=resnet_d, drop_path=drop_path, preact=preact,
    )


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters (all of them; buffers such as BN running statistics are not parameters)."""
    return sum(p.numel() for p in model.parameters())
