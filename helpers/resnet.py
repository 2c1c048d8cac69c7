"""Residual networks: blocks, ImageNet and CIFAR layouts, parameter and MAC (multiply-accumulate) counts.

Taught in chapter 5, «معماری ResNet» (``chapters/05_resnet.ipynb``), and
practised in lab 6 (``labs/source/lab6_resnet.ipynb``).

Blocks (the convolutional ones take ``x: (N, C, H, W)`` and return
``(N, C_out, ceil(H / stride), ceil(W / stride))``):

- :class:`BasicBlock`: two 3×3 convolutions (ResNet-18/34 and the CIFAR nets);
- :class:`Bottleneck`: 1×1 reduce, 3×3, 1×1 expand (ResNet-50/101/152);
- :class:`MLPBlock`: the basic block with each 3×3 convolution replaced by a
  linear layer, ``x: (N, width) -> (N, width)`` (chapter 5's degradation
  experiment, ``helpers.experiments.ch5_resnet.ResidualMLP``).

A block computes ``relu(F(x) + shortcut(x))`` with ``F`` the residual branch
(He et al. 2015, "Deep Residual Learning for Image Recognition"). With
``residual=False`` it computes ``relu(F(x))``: the "plain" twin of the paper.

Shortcuts, by name (the paper's options, Section 4.1):

- ``"identity"``: ``x`` itself (only when the shape does not change);
- ``"pad"`` (option A): subsample with stride ``s`` (``x[:, :, ::s, ::s]``) and
  append zero channels; it has no parameters, so a residual net and its plain
  twin have exactly the same parameter count (the paper's CIFAR experiments);
- ``"projection"`` (option C when used everywhere): 1×1 convolution with stride
  ``s`` followed by batch norm, even where the shape does not change;
- ``"auto"`` (option B, the default, as in the paper's ImageNet nets and in
  torchvision): identity where the shape is unchanged, projection where it
  changes.

Networks:

- :func:`resnet_imagenet` (depth 18, 34, 50, 101, 152; Table 1 of the paper);
- :func:`resnet_cifar` (depth ``6n + 2``; Section 4.2), with a width factor
  (Zagoruyko & Komodakis 2016) and stochastic depth (Huang et al. 2016).

Counting:

- :func:`count_parameters`;
- :func:`count_macs`: multiply-accumulates (MACs) of convolutions and linear
  layers, :func:`macs_by_layer` per layer;
- :func:`compare_blocks`: parameters and MACs of one basic vs one bottleneck
  block (the 256→64→64→256 example of chapter 5).

One name for one quantity: this module counts MACs (one multiply and one add,
one weight use) and calls them MACs. The paper's "3.6 billion FLOPs" for
ResNet-34 is this count: it calls a multiply-add one floating-point operation.
"FLOPs" (lower-case s) is a *count* of operations for one forward pass, a
property of the model and the input size; "FLOPS" (or FLOP/s) is a *rate*,
operations per second, a property of the hardware; tools that count a
multiply and an add as two operations report twice as many FLOPs as MACs.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers.checks import check_bool, check_int, check_number

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "MLPBlock",
    "SHORTCUTS",
    "IMAGENET_LAYOUTS",
    "resnet_imagenet",
    "resnet_cifar",
    "ResNet",
    "count_parameters",
    "count_macs",
    "macs_by_layer",
    "compare_blocks",
]

SHORTCUTS = ("auto", "identity", "pad", "projection")

# depth -> (block type, blocks per stage); Table 1 of He et al. 2015.
IMAGENET_LAYOUTS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}


# --------------------------------------------------------------------------- checks
def _check_survival(name: str, p) -> float:
    """A survival probability of stochastic depth, in (0, 1]."""
    return check_number(name, p, min=0, max=1, min_open=True)


def _check_input(x, in_ch: int, where: str, shape: str = "(N, C, H, W)") -> None:
    dims = shape.count(",") + 1
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{where} expected a tensor x of shape {shape}, got {type(x).__name__}")
    if x.dim() != dims:
        raise ValueError(f"{where} expected x of shape {shape} ({dims} dimensions), got shape {tuple(x.shape)}")
    if x.shape[1] != in_ch:
        raise ValueError(f"{where} expected {in_ch} input channels, got x of shape {tuple(x.shape)}")


# --------------------------------------------------------------------------- shortcuts
class PadShortcut(nn.Module):
    """Option A shortcut: ``x[:, :, ::stride, ::stride]`` followed by zero channels.

    x: (N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride)), no parameters.
    The new channels are appended after the old ones.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        if out_ch < in_ch:
            raise ValueError(
                f"shortcut 'pad' can only add channels (expected out_ch >= in_ch), got {in_ch} -> {out_ch}"
            )
        self.in_ch, self.out_ch, self.stride = in_ch, out_ch, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.out_ch > self.in_ch:
            x = F.pad(x, (0, 0, 0, 0, 0, self.out_ch - self.in_ch))
        return x

    def extra_repr(self) -> str:
        return f"{self.in_ch}->{self.out_ch}, stride={self.stride}"


def _make_shortcut(kind: str, in_ch: int, out_ch: int, stride: int, residual: bool) -> nn.Module | None:
    """The shortcut module for a block, or ``None`` for a plain block."""
    if kind not in SHORTCUTS:
        raise ValueError(f"unknown shortcut {kind!r}; expected one of {', '.join(SHORTCUTS)}")
    if not residual:
        return None
    same_shape = in_ch == out_ch and stride == 1
    if kind == "auto":
        kind = "identity" if same_shape else "projection"
    if kind == "identity":
        if not same_shape:
            raise ValueError(
                "shortcut 'identity' needs the same shape in and out (in_ch == out_ch and stride == 1), "
                f"got {in_ch} -> {out_ch} channels with stride {stride}; use 'pad', 'projection' or 'auto'"
            )
        return nn.Identity()
    if kind == "pad":
        return PadShortcut(in_ch, out_ch, stride)
    return nn.Sequential(  # "projection": 1×1 conv + BN (options B and C)
        nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
        nn.BatchNorm2d(out_ch),
    )


# --------------------------------------------------------------------------- blocks
class _ResidualBlock(nn.Module):
    """Shared logic: ``relu(branch(x) + shortcut(x))`` with optional stochastic depth.

    Stochastic depth (Huang et al. 2016), as in the paper:

    - training: the residual branch of the whole mini-batch is kept with
      probability ``survival_prob`` and dropped otherwise (one draw per batch,
      from torch's global generator, so ``torch.manual_seed`` reproduces it);
      a dropped block computes ``relu(shortcut(x))`` and skips its branch;
    - evaluation: the branch is scaled by ``survival_prob``:
      ``relu(survival_prob * branch(x) + shortcut(x))`` (the paper's expected
      value rule, not the "inverse" variant that divides during training).

    With ``survival_prob == 1.0`` no random number is drawn and the block is
    an ordinary residual block.

    A subclass builds its layers, defines :meth:`branch` and ``last_bn``, then
    calls ``_setup`` and ``_init_weights``; ``input_shape`` names the input
    layout it checks (4-D images for the convolutional blocks).
    """

    in_ch: int
    out_ch: int
    input_shape = "(N, C, H, W)"

    def _setup(self, in_ch, out_ch, stride, shortcut, residual, zero_init_last_bn, survival_prob):
        check_bool("residual", residual, "False: the plain block, without a shortcut")
        self.survival_prob = _check_survival("survival_prob", survival_prob)
        if not residual and self.survival_prob < 1.0:
            raise ValueError("stochastic depth (survival_prob < 1) needs residual=True: a plain block has no shortcut")
        if not residual and zero_init_last_bn:
            raise ValueError("zero_init_last_bn needs residual=True: a plain block would output zeros")
        self.residual = residual
        self.shortcut = _make_shortcut(shortcut, in_ch, out_ch, stride, residual)
        self.zero_init_last_bn = bool(zero_init_last_bn)

    def _init_weights(self) -> None:
        """He (Kaiming) normal init for convolutions (fan_out, as in the paper) and linear layers
        (fan_in; an MLP block's layers are square, so fan_in = fan_out), BN γ = 1, β = 0;
        the last BN's γ = 0 when ``zero_init_last_bn`` (Goyal et al. 2017)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.zero_init_last_bn:
            nn.init.zeros_(self.last_bn.weight)

    def branch(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_ch, type(self).__name__, self.input_shape)
        if not self.residual:
            return F.relu(self.branch(x))
        identity = self.shortcut(x)
        p = self.survival_prob
        if p < 1.0:
            if self.training:
                if torch.rand((), device=x.device) >= p:  # drop the whole branch for this batch
                    return F.relu(identity)
                return F.relu(self.branch(x) + identity)
            return F.relu(p * self.branch(x) + identity)
        return F.relu(self.branch(x) + identity)


class BasicBlock(_ResidualBlock):
    """Two 3×3 convolutions with batch norm: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    Chapter 5 and lab 6; the block of ResNet-18/34 and of the CIFAR nets.

    Args:
        in_ch, out_ch: channels in and out.
        stride: stride of the first 3×3 convolution (and of the shortcut).
        shortcut: ``"auto"`` (identity, or projection where the shape changes),
            ``"identity"``, ``"pad"`` (option A, parameter-free) or ``"projection"``.
        residual: ``False`` drops the shortcut (the plain block, no shortcut parameters).
        zero_init_last_bn: initialise ``bn2``'s γ to 0, so a fresh block is
            ``relu(shortcut(x))`` (Goyal et al. 2017).
        survival_prob: stochastic depth survival probability in (0, 1].

    Shapes: x: (N, in_ch, H, W) -> (N, out_ch, ceil(H / stride), ceil(W / stride)).
    Layers: ``conv1, bn1, conv2, bn2, shortcut`` (``shortcut`` is ``None`` when plain).
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, shortcut: str = "auto",
                 residual: bool = True, zero_init_last_bn: bool = False, survival_prob: float = 1.0):
        super().__init__()
        self.in_ch = check_int("in_ch", in_ch, min=1)
        self.out_ch = check_int("out_ch", out_ch, min=1)
        self.stride = check_int("stride", stride, min=1)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self._setup(in_ch, out_ch, stride, shortcut, residual, zero_init_last_bn, survival_prob)
        self._init_weights()

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual function F(x): (N, in_ch, H, W) -> (N, out_ch, H', W')."""
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))


class Bottleneck(_ResidualBlock):
    """1×1 reduce, 3×3, 1×1 expand, each with batch norm (ResNet-50/101/152).

    Chapter 5 and lab 6. ``relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))``
    with ``conv1: in_ch -> mid_ch`` (1×1), ``conv2: mid_ch -> mid_ch`` (3×3),
    ``conv3: mid_ch -> expansion * mid_ch`` (1×1); e.g. 256→64→64→256.

    Where the stride goes (``stride_in``):

    - ``"1x1"`` (default): in the first 1×1 convolution, as in the original
      paper (He et al. 2015) and its Table 1 FLOP counts (3.8×10⁹ for ResNet-50);
    - ``"3x3"``: in the 3×3 convolution, torchvision's later "ResNet v1.5";
      the 3×3 then runs at the higher resolution, ≈4.1×10⁹ MACs for
      ResNet-50, with slightly better accuracy. Parameter counts are the same.

    Other args as in :class:`BasicBlock`. The block's output channels are
    ``out_ch = expansion * mid_ch``.

    Shapes: x: (N, in_ch, H, W) -> (N, expansion * mid_ch, ceil(H / stride), ceil(W / stride)).
    Layers: ``conv1, bn1, conv2, bn2, conv3, bn3, shortcut``.
    """

    def __init__(self, in_ch: int, mid_ch: int, stride: int = 1, shortcut: str = "auto",
                 residual: bool = True, zero_init_last_bn: bool = False, survival_prob: float = 1.0,
                 expansion: int = 4, stride_in: str = "1x1"):
        super().__init__()
        self.in_ch = check_int("in_ch", in_ch, min=1)
        self.mid_ch = check_int("mid_ch", mid_ch, min=1)
        self.stride = check_int("stride", stride, min=1)
        self.expansion = check_int("expansion", expansion, min=1)
        if stride_in not in ("1x1", "3x3"):
            raise ValueError(f"stride_in must be '1x1' (paper) or '3x3' (torchvision v1.5), got {stride_in!r}")
        self.stride_in = stride_in
        self.out_ch = out_ch = expansion * mid_ch
        s1, s3 = (stride, 1) if stride_in == "1x1" else (1, stride)
        self.conv1 = nn.Conv2d(in_ch, mid_ch, 1, stride=s1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid_ch)
        self.conv2 = nn.Conv2d(mid_ch, mid_ch, 3, stride=s3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid_ch)
        self.conv3 = nn.Conv2d(mid_ch, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self._setup(in_ch, out_ch, stride, shortcut, residual, zero_init_last_bn, survival_prob)
        self._init_weights()

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual function F(x): (N, in_ch, H, W) -> (N, expansion * mid_ch, H', W')."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return self.bn3(self.conv3(out))


class MLPBlock(_ResidualBlock):
    """:class:`BasicBlock` for vectors: each 3×3 convolution becomes a linear layer.

    Chapter 5 (the degradation experiment, ``helpers.experiments.ch5_resnet``).
    ``relu(bn2(fc2(relu(bn1(fc1(x))))) + x)``, or ``relu(F(x))`` when plain. The
    shortcut is the identity (no parameters), so a plain block and a residual block
    have exactly the same parameters. The linear layers have no biases (BN's β does
    their job). Everything else (plain/residual, ``zero_init_last_bn``, stochastic
    depth, the initialisation) is the basic block's, through the shared base class.

    Shapes: x: (N, width) -> (N, width).
    Layers: ``fc1, bn1, fc2, bn2, shortcut`` (``shortcut`` is ``None`` when plain).
    """

    input_shape = "(N, width)"

    def __init__(self, width: int, residual: bool = True, zero_init_last_bn: bool = False,
                 survival_prob: float = 1.0):
        super().__init__()
        self.in_ch = self.out_ch = check_int("width", width, min=1)
        self.fc1 = nn.Linear(width, width, bias=False)
        self.bn1 = nn.BatchNorm1d(width)
        self.fc2 = nn.Linear(width, width, bias=False)
        self.bn2 = nn.BatchNorm1d(width)
        self._setup(width, width, 1, "identity", residual, zero_init_last_bn, survival_prob)
        self._init_weights()

    @property
    def last_bn(self) -> nn.BatchNorm1d:
        return self.bn2

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual function F(x): (N, width) -> (N, width)."""
        return self.bn2(self.fc2(F.relu(self.bn1(self.fc1(x)))))


# --------------------------------------------------------------------------- networks
class ResNet(nn.Module):
    """stem -> residual stages -> global average pool -> linear classifier.

    Built by :func:`resnet_imagenet` and :func:`resnet_cifar` (chapter 5, lab 6).
    x: (N, in_channels, H, W) -> logits (N, num_classes); any H, W the stem can
    shrink to at least 1×1 (non-square inputs are fine).

    Attributes: ``stem`` (nn.Sequential), ``stages`` (nn.Sequential of
    nn.Sequential of blocks), ``pool``, ``fc``; :attr:`blocks` lists the blocks in order.
    """

    def __init__(self, stem: nn.Sequential, stages: list[list[nn.Module]], num_features: int,
                 num_classes: int, in_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.stem = stem
        self.stages = nn.Sequential(*[nn.Sequential(*blocks) for blocks in stages])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(num_features, num_classes)

    @property
    def blocks(self) -> list[nn.Module]:
        """All residual (or plain) blocks, first to last."""
        return [b for stage in self.stages for b in stage]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.in_channels, "ResNet")
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _init_stem(stem: nn.Module) -> None:
    for m in stem.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def resnet_imagenet(depth: int, num_classes: int = 1000, *, residual: bool = True, shortcut: str = "auto",
                    stride_in: str = "1x1", zero_init_last_bn: bool = False, in_channels: int = 3) -> ResNet:
    """ResNet-18/34/50/101/152 in the ImageNet layout of He et al. 2015, Table 1.

    Chapter 5 (the ResNet-34 layout [3, 4, 6, 3] and its 3.6×10⁹ FLOPs) and lab 6.

    Stem: 7×7 conv, 64 channels, stride 2 + BN + ReLU + 3×3 max pool, stride 2.
    Stages of 64, 128, 256, 512 (×4 for bottlenecks) channels; the first block of
    stages 2-4 halves the resolution. Layouts: 18 [2,2,2,2] basic, 34 [3,4,6,3]
    basic, 50 [3,4,6,3] bottleneck, 101 [3,4,23,3], 152 [3,8,36,3].

    With the defaults (option B shortcuts, ``num_classes=1000``) the parameter
    counts are those of the paper's models and of torchvision: 11,689,512 (18),
    21,797,672 (34), 25,557,032 (50), 44,549,160 (101), 60,192,808 (152).
    ``stride_in="1x1"`` (default) puts a bottleneck's stride in its first 1×1
    convolution as in the paper; ``"3x3"`` gives torchvision's "v1.5".
    ``residual=False`` gives the plain net (no shortcuts, hence fewer parameters
    than option B's projections).

    x: (N, in_channels, H, W) -> (N, num_classes); 224×224 gives a 7×7 final map.
    """
    if isinstance(depth, bool) or depth not in IMAGENET_LAYOUTS:
        raise ValueError(f"unsupported depth {depth!r} for resnet_imagenet; expected one of "
                         f"{', '.join(map(str, IMAGENET_LAYOUTS))}")
    check_int("num_classes", num_classes, min=1)
    check_int("in_channels", in_channels, min=1)
    kind, layout = IMAGENET_LAYOUTS[depth]
    stem = nn.Sequential(
        nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
    )
    _init_stem(stem)
    stages, in_ch = [], 64
    for i, (n_blocks, width) in enumerate(zip(layout, (64, 128, 256, 512))):
        blocks = []
        for b in range(n_blocks):
            stride = 2 if (b == 0 and i > 0) else 1
            common = dict(stride=stride, shortcut=shortcut, residual=residual, zero_init_last_bn=zero_init_last_bn)
            if kind == "basic":
                block = BasicBlock(in_ch, width, **common)
            else:
                block = Bottleneck(in_ch, width, stride_in=stride_in, **common)
            blocks.append(block)
            in_ch = block.out_ch
        stages.append(blocks)
    return ResNet(stem, stages, in_ch, num_classes, in_channels)


def resnet_cifar(depth: int, num_classes: int = 10, *, residual: bool = True, width: int = 1,
                 stochastic_depth: float | None = None, zero_init_last_bn: bool = False,
                 in_channels: int = 3) -> ResNet:
    """The CIFAR-10 ResNet of He et al. 2015, Section 4.2: depth ``6n + 2`` (20, 32, 44, 56, 110, …).

    Chapter 5 (degradation: plain vs residual twins) and lab 6.

    Stem: 3×3 conv, 16 channels + BN + ReLU. Three stages of ``n`` basic blocks
    with ``16·width``, ``32·width``, ``64·width`` channels; the first block of
    stages 2 and 3 halves the resolution. Global average pool, linear layer.
    Layers: 1 + 2·3n + 1 = 6n + 2.

    Shortcuts are option A (``"pad"``: subsampling and zero channels) where the
    shape changes, identity elsewhere: all parameter-free, so
    ``residual=False`` gives the plain twin with *exactly* the same parameters.

    Args:
        width: integer width factor k >= 1 (Zagoruyko & Komodakis 2016, "Wide
            Residual Networks"): stage channels are multiplied by k, the stem
            keeps 16 channels (as in WRN); the blocks stay the original
            post-activation ones, without dropout.
        stochastic_depth: ``None`` (off) or the last block's survival
            probability p_L in (0, 1]; block l = 1…L (L = 3n) survives with
            p_l = 1 − l/L · (1 − p_L) (linear decay, Huang et al. 2016, who use
            p_L = 0.5). See :class:`BasicBlock` for the per-batch training rule
            and the scaling by p_l in evaluation.
        zero_init_last_bn: γ = 0 in the last BN of every residual branch (Goyal et al. 2017).

    x: (N, in_channels, H, W) -> (N, num_classes); 32×32 gives an 8×8 final map.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"unsupported depth {depth!r} for resnet_cifar; expected 6n + 2 with n >= 1 "
                         "(8, 14, 20, 32, 44, 56, 110, ...)")
    check_int("width", width, min=1)  # the width factor k
    check_int("num_classes", num_classes, min=1)
    check_int("in_channels", in_channels, min=1)
    if stochastic_depth is not None:
        p_last = _check_survival("stochastic_depth (the last block's survival probability p_L)",
                                 stochastic_depth)
        if not residual and p_last < 1.0:
            raise ValueError("stochastic_depth needs residual=True: a plain net has no shortcut to fall back on")
    else:
        p_last = 1.0
    n = (depth - 2) // 6
    total = 3 * n
    stem = nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
    )
    _init_stem(stem)
    stages, in_ch, l = [], 16, 0
    for i, base in enumerate((16, 32, 64)):
        out_ch = base * width
        blocks = []
        for b in range(n):
            l += 1
            stride = 2 if (b == 0 and i > 0) else 1
            shape_changes = stride != 1 or in_ch != out_ch
            blocks.append(BasicBlock(
                in_ch, out_ch, stride=stride, shortcut="pad" if shape_changes else "identity",
                residual=residual, zero_init_last_bn=zero_init_last_bn,
                survival_prob=1.0 - l / total * (1.0 - p_last),
            ))
            in_ch = out_ch
        stages.append(blocks)
    return ResNet(stem, stages, in_ch, num_classes, in_channels)


# --------------------------------------------------------------------------- counting
def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (BN's γ and β included; running statistics, which are buffers, not).

    Chapter 5, lab 6. ``count_parameters(resnet_imagenet(34)) == 21_797_672``.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"count_parameters expected an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _layer_macs(module: nn.Module, inputs, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Conv1d):
        return output.numel() * (module.in_channels // module.groups) * module.kernel_size[0]
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def macs_by_layer(model: nn.Module, input_shape) -> dict[str, int]:
    """Multiply-accumulates (MACs) of each convolution and linear layer for one forward pass.

    Chapter 5, lab 6. Same conventions as :func:`count_macs`; keys are module
    names (``"stages.0.1.conv2"``), in execution order; a layer called twice is
    summed.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"count_macs expected an nn.Module, got {type(model).__name__}")
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list, torch.Size)) else None
    if shape is None or len(shape) not in (3, 4) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape):
        raise ValueError("input_shape must be (C, H, W) or (N, C, H, W) with positive ints, "
                         f"got {input_shape!r}")
    if len(shape) == 3:
        shape = (1, *shape)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    counts: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            def hook(mod, inp, out, name=name):
                counts[name] = counts.get(name, 0) + _layer_macs(mod, inp, out)
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()  # deterministic: BN uses running statistics, stochastic depth keeps every block
    try:
        with torch.no_grad():
            model(torch.zeros(shape, device=device, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return counts


def count_macs(model: nn.Module, input_shape) -> int:
    """Multiply-accumulates (MACs) of one forward pass through the conv and linear layers.

    Chapter 5 (ResNet-34's 3.6×10⁹, which the paper calls FLOPs) and lab 6.

    A MAC is one multiply and one add, one use of a weight. This is a *count* of
    operations, not a *rate* (operations per second, of a processor): a model that
    needs 3.6×10⁹ MACs per image runs at 100 images/s on hardware that sustains
    3.6×10¹¹ MACs per second. We count as the paper's Table 1 does: a
    convolution costs ``out.numel() · (C_in / groups) · k_h · k_w``, a
    linear layer ``out.numel() · in_features``; biases, batch norm, ReLU,
    pooling and the shortcut additions are ignored (each costs O(activations),
    well under 1 % of a ResNet's total). Counting a multiply and an add as two
    operations would double every number.

    Args:
        model: any nn.Module; counted in eval mode (restored afterwards) under
            ``torch.no_grad()`` with one forward pass of zeros, through forward
            hooks. Build the model under ``with torch.device("meta"):`` to get
            the count from shapes alone, without computing anything.
        input_shape: (C, H, W) for one example, or (N, C, H, W) for a batch of N
            (the count then covers all N examples).

    Returns: an int, e.g. ≈3.66×10⁹ for ``resnet_imagenet(34)`` at (3, 224, 224),
    ≈3.86×10⁹ for ResNet-50 (paper, stride in the 1×1) and ≈4.09×10⁹ for
    ResNet-50 v1.5 (``stride_in="3x3"``).
    """
    return sum(macs_by_layer(model, input_shape).values())




def compare_blocks(in_ch: int = 256, mid_ch: int = 64, size: int = 56) -> dict[str, dict[str, int]]:
    """Parameters and MACs of one basic block vs one bottleneck block on the same input.

    Chapter 5 (the seed's 256→64→64→256 example, Fig. 5 of He et al. 2015).
    Input (1, in_ch, size, size), stride 1, identity shortcuts; returns

    - ``"basic"``: BasicBlock(in_ch, in_ch), two 3×3 convs at full width;
    - ``"bottleneck"``: Bottleneck(in_ch, mid_ch, expansion=in_ch // mid_ch);
    - ``"basic_narrow"``: BasicBlock(mid_ch, mid_ch) on (1, mid_ch, size, size),
      the paper's Fig. 5 left, of about the same cost as the bottleneck;

    each as ``{"params": int, "macs": int}``.
    """
    for name, v in (("in_ch", in_ch), ("mid_ch", mid_ch), ("size", size)):
        check_int(name, v, min=1)
    if in_ch % mid_ch:
        raise ValueError(f"in_ch must be a multiple of mid_ch (expansion = in_ch / mid_ch), got {in_ch}, {mid_ch}")
    with torch.device("meta"):  # shapes only: nothing is computed
        blocks = {
            "basic": (BasicBlock(in_ch, in_ch), in_ch),
            "bottleneck": (Bottleneck(in_ch, mid_ch, expansion=in_ch // mid_ch), in_ch),
            "basic_narrow": (BasicBlock(mid_ch, mid_ch), mid_ch),
        }
    return {k: {"params": count_parameters(b), "macs": count_macs(b, (c, size, size))}
            for k, (b, c) in blocks.items()}
