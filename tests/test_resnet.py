"""Tests of helpers.resnet (chapter 5, lab 6): layouts, parameter and MAC counts, block algebra.

Reference parameter counts are torchvision's (torchvision.models.resnet18/34/50/101/152
with 1000 classes, option B shortcuts), hard-coded so torchvision is not needed:
they are also the counts of He et al. 2015's models.
MAC (multiply-accumulate) references are Table 1 of He et al. 2015 (its "FLOPs", at 224×224):
ResNet-34 3.6×10⁹, ResNet-50 3.8×10⁹; torchvision's ResNet-50 "v1.5" (stride in the 3×3)
is commonly quoted at 4.1×10⁹ (4.09 GMACs).
Models only needed for their shapes are built on the meta device (nothing is computed).
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers.resnet import (
    BasicBlock,
    Bottleneck,
    compare_blocks,
    MLPBlock,
    count_macs,
    count_parameters,
    macs_by_layer,
    resnet_cifar,
    resnet_imagenet,
)

# Source: torchvision.models.resnetXX(num_classes=1000), sum(p.numel() for p in m.parameters()).
TORCHVISION_PARAMS = {
    18: 11_689_512,
    34: 21_797_672,
    50: 25_557_032,
    101: 44_549_160,
    152: 60_192_808,
}


def _randomise_bn(module: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial γ, β and running statistics in every BN layer."""
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=gen, dtype=m.weight.dtype) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen, dtype=m.bias.dtype) * 0.3)
                m.running_mean.copy_(torch.randn(c, generator=gen, dtype=m.running_mean.dtype) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen, dtype=m.running_var.dtype) + 0.5)


def _pad_shortcut(x: torch.Tensor, out_ch: int, stride: int) -> torch.Tensor:
    """Option A written out: subsample, then append zero channels."""
    x = x[:, :, ::stride, ::stride]
    zeros = torch.zeros(x.shape[0], out_ch - x.shape[1], *x.shape[2:], dtype=x.dtype)
    return torch.cat([x, zeros], dim=1)


# --------------------------------------------------------------------------- parameter counts
@pytest.mark.parametrize("depth", sorted(TORCHVISION_PARAMS))
def test_imagenet_parameter_counts_equal_torchvision(depth):
    with torch.device("meta"):
        model = resnet_imagenet(depth)
        v15 = resnet_imagenet(depth, stride_in="3x3")
    assert count_parameters(model) == TORCHVISION_PARAMS[depth]
    assert count_parameters(v15) == TORCHVISION_PARAMS[depth]  # moving the stride adds no parameter


def test_parameter_count_on_a_real_model_and_num_classes():
    model = resnet_imagenet(18, num_classes=10)  # on CPU, not meta
    # the fc layer shrinks from 512·1000 + 1000 to 512·10 + 10
    assert count_parameters(model) == TORCHVISION_PARAMS[18] - (512 * 1000 + 1000) + (512 * 10 + 10)


def test_cifar_parameter_counts_match_paper():
    # He et al. 2015, Table 6: ResNet-20 0.27M, ResNet-56 0.85M, ResNet-110 1.7M.
    assert count_parameters(resnet_cifar(20)) == 269_722
    with torch.device("meta"):
        assert round(count_parameters(resnet_cifar(56)) / 1e6, 2) == 0.85
        assert round(count_parameters(resnet_cifar(110)) / 1e6, 1) == 1.7


@pytest.mark.parametrize("depth", [8, 20, 56])
@pytest.mark.parametrize("width", [1, 2, 3])
def test_plain_twin_has_exactly_the_same_parameters(depth, width):
    with torch.device("meta"):
        res = resnet_cifar(depth, width=width)
        plain = resnet_cifar(depth, width=width, residual=False)
    assert count_parameters(plain) == count_parameters(res)
    # same parameter shapes, name for name, so the twins differ only by the shortcuts
    assert [(n, p.shape) for n, p in res.named_parameters()] == [(n, p.shape) for n, p in plain.named_parameters()]
    assert all(b.shortcut is None for b in plain.blocks)
    assert all(b.shortcut is not None for b in res.blocks)


def test_width_factor_multiplies_stage_channels():
    net = resnet_cifar(20, width=4)
    assert [stage[-1].out_ch for stage in net.stages] == [64, 128, 256]
    assert net.stem[0].out_channels == 16  # the stem keeps 16 channels, as in WRN
    assert net.fc.in_features == 256


def test_cifar_layout_has_6n_plus_2_weighted_layers():
    for depth in (8, 20, 56):
        with torch.device("meta"):
            net = resnet_cifar(depth)
        weighted = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        assert len(weighted) == depth


# --------------------------------------------------------------------------- MACs
def test_resnet34_macs_table1():
    model = resnet_imagenet(34)  # a real forward pass, batch 1, once
    macs = count_macs(model, (3, 224, 224))
    assert abs(macs / 3.6e9 - 1) < 0.03, macs
    assert model.training  # the mode is restored


def test_resnet50_macs_paper_vs_v15():
    with torch.device("meta"):
        paper = resnet_imagenet(50)
        v15 = resnet_imagenet(50, stride_in="3x3")
    m_paper = count_macs(paper, (3, 224, 224))
    m_v15 = count_macs(v15, (3, 224, 224))
    assert abs(m_paper / 3.8e9 - 1) < 0.03, m_paper
    assert abs(m_v15 / 4.1e9 - 1) < 0.03, m_v15
    # Moving the stride from the 1×1 to the 3×3 runs the first 1×1 of stages 2-4 at the
    # input resolution: the difference, written out, is in_ch · mid_ch · (H_in² − H_out²) per stage.
    extra = sum(cin * mid * (h * h - (h // 2) ** 2) for cin, mid, h in [(256, 128, 56), (512, 256, 28), (1024, 512, 14)])
    assert m_v15 - m_paper == extra


def test_deeper_imagenet_macs_table1():
    # Table 1: ResNet-18 1.8e9, ResNet-101 7.6e9, ResNet-152 11.3e9
    for depth, ref in [(18, 1.8e9), (101, 7.6e9), (152, 11.3e9)]:
        with torch.device("meta"):
            model = resnet_imagenet(depth)
        assert abs(count_macs(model, (3, 224, 224)) / ref - 1) < 0.03


def test_count_macs_small_model_by_formula():
    model = nn.Sequential(
        nn.Conv2d(3, 8, (3, 5), stride=2, padding=1),       # out (8, 8, 10) from 17×23
        nn.Conv2d(8, 8, 3, padding=1, groups=4),            # grouped: 2 input channels per output
        nn.ReLU(),
        nn.BatchNorm2d(8),                                  # ignored
        nn.Flatten(),
        nn.Linear(8 * 8 * 10, 7),
    )
    h, w = (17 + 2 - 3) // 2 + 1, (23 + 2 - 5) // 2 + 1
    assert (h, w) == (9, 11)
    expected = 8 * h * w * 3 * 3 * 5 + 8 * h * w * 2 * 3 * 3 + 7 * 8 * h * w
    model[-1] = nn.Linear(8 * h * w, 7)
    assert count_macs(model, (3, 17, 23)) == expected
    assert count_macs(model, (4, 3, 17, 23)) == 4 * expected  # a batch of 4 costs 4×
    layers = macs_by_layer(model, (3, 17, 23))
    assert list(layers) == ["0", "1", "5"]


def test_count_macs_meta_equals_real():
    real = resnet_cifar(20)
    with torch.device("meta"):
        meta = resnet_cifar(20)
    assert count_macs(real, (3, 32, 40)) == count_macs(meta, (3, 32, 40))


def test_compare_blocks_256_64_64_256():
    costs = compare_blocks(256, 64, 56)
    bn = 2 * 64 + 2 * 64 + 2 * 256
    assert costs["bottleneck"]["params"] == 256 * 64 + 64 * 64 * 9 + 64 * 256 + bn  # 70,400
    assert costs["basic"]["params"] == 2 * 256 * 256 * 9 + 2 * 2 * 256  # 1,180,672
    assert costs["bottleneck"]["macs"] == (256 * 64 + 64 * 64 * 9 + 64 * 256) * 56 * 56
    assert costs["basic"]["macs"] == 2 * 256 * 256 * 9 * 56 * 56
    # Fig. 5: the bottleneck costs about as much as a 64-channel basic block
    ratio = costs["bottleneck"]["macs"] / costs["basic_narrow"]["macs"]
    assert 0.9 < ratio < 1.0


# --------------------------------------------------------------------------- output shapes
def test_cifar_output_shape_non_square_batch():
    net = resnet_cifar(20, num_classes=7, width=2).eval()
    x = torch.randn(3, 3, 32, 40)
    with torch.no_grad():
        assert net(x).shape == (3, 7)
    assert resnet_cifar(8, in_channels=1)(torch.randn(2, 1, 28, 36)).shape == (2, 10)


def test_imagenet_output_shape_non_square_batch():
    net = resnet_imagenet(50, num_classes=5).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, 64, 96)).shape == (2, 5)


@pytest.mark.parametrize("shortcut", ["pad", "projection", "auto"])
def test_block_shapes_odd_sizes_stride_2(shortcut):
    x = torch.randn(2, 16, 9, 12)
    assert BasicBlock(16, 32, stride=2, shortcut=shortcut)(x).shape == (2, 32, 5, 6)
    for stride_in in ("1x1", "3x3"):
        b = Bottleneck(16, 8, stride=2, shortcut=shortcut, stride_in=stride_in)
        assert b(x).shape == (2, 32, 5, 6)


# --------------------------------------------------------------------------- block algebra (float64)
@pytest.mark.parametrize("shortcut,in_ch,out_ch,stride", [
    ("identity", 6, 6, 1),
    ("pad", 4, 6, 2),
    ("projection", 4, 6, 2),
])
@pytest.mark.parametrize("training", [False, True])
def test_basic_block_adds_the_shortcut(rng, shortcut, in_ch, out_ch, stride, training):
    block = BasicBlock(in_ch, out_ch, stride=stride, shortcut=shortcut).double()
    plain = BasicBlock(in_ch, out_ch, stride=stride, shortcut=shortcut, residual=False).double()
    _randomise_bn(block, rng)
    plain.load_state_dict({k: v for k, v in block.state_dict().items() if not k.startswith("shortcut")})
    block.train(training)
    plain.train(training)
    x = torch.randn(3, in_ch, 7, 10, generator=rng, dtype=torch.float64, requires_grad=True)

    f = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
    if shortcut == "identity":
        s = x
    elif shortcut == "pad":
        s = _pad_shortcut(x, out_ch, stride)
    else:
        s = block.shortcut[1](block.shortcut[0](x))
    expected = F.relu(f + s)
    out = block(x)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    g = torch.randn(out.shape, generator=rng, dtype=torch.float64)
    (gx,) = torch.autograd.grad(out, x, g, retain_graph=True)
    (gx_ref,) = torch.autograd.grad(expected, x, g)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-12, atol=1e-12)

    # the plain twin omits the shortcut: relu(F(x)), which differs from relu(F(x) + s)
    out_plain = plain(x)
    torch.testing.assert_close(out_plain, F.relu(f), rtol=1e-12, atol=1e-12)
    assert (out_plain - out).abs().max() > 0.1


@pytest.mark.parametrize("stride_in", ["1x1", "3x3"])
def test_bottleneck_by_hand_and_stride_placement(rng, stride_in):
    block = Bottleneck(8, 4, stride=2, stride_in=stride_in).double().eval()
    _randomise_bn(block, rng)
    if stride_in == "1x1":
        assert block.conv1.stride == (2, 2) and block.conv2.stride == (1, 1)
    else:
        assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    default = Bottleneck(8, 4, stride=2)  # the paper's placement unless asked otherwise
    assert default.conv1.stride == (2, 2) and default.conv2.stride == (1, 1)
    assert [block.conv1.kernel_size, block.conv2.kernel_size, block.conv3.kernel_size] == [(1, 1), (3, 3), (1, 1)]
    x = torch.randn(2, 8, 6, 9, generator=rng, dtype=torch.float64)
    f = F.relu(block.bn1(block.conv1(x)))
    f = F.relu(block.bn2(block.conv2(f)))
    f = block.bn3(block.conv3(f))
    s = block.shortcut[1](block.shortcut[0](x))
    torch.testing.assert_close(block(x), F.relu(f + s), rtol=1e-12, atol=1e-12)
    assert block(x).shape == (2, 16, 3, 5)


def test_auto_shortcut_is_identity_or_projection():
    assert isinstance(BasicBlock(8, 8).shortcut, nn.Identity)
    assert isinstance(BasicBlock(8, 16, stride=2).shortcut, nn.Sequential)
    assert isinstance(BasicBlock(8, 8, shortcut="projection").shortcut, nn.Sequential)
    # option A has no parameters: exactly the two convs and two BNs
    assert count_parameters(BasicBlock(8, 16, stride=2, shortcut="pad")) == 9 * 8 * 16 + 9 * 16 * 16 + 4 * 16


@pytest.mark.parametrize("block_fn", [
    lambda: BasicBlock(6, 6, zero_init_last_bn=True),
    lambda: Bottleneck(8, 2, zero_init_last_bn=True),
])
def test_zero_init_last_bn_gives_identity(rng, block_fn):
    block = block_fn()
    x = torch.rand(2, block.in_ch, 5, 7, generator=rng)  # x >= 0, so relu(x) == x
    for mode in (True, False):
        block.train(mode)
        torch.testing.assert_close(block(x), F.relu(x), rtol=0, atol=0)
    # without it, the same block is not the identity (so the test above can fail)
    torch.manual_seed(0)
    other = BasicBlock(6, 6) if isinstance(block, BasicBlock) else Bottleneck(8, 2)
    assert (other(x) - x).abs().max() > 0.1


@pytest.mark.parametrize("training", [False, True])
def test_mlp_block_is_the_basic_block_with_linear_layers(rng, training):
    """MLPBlock: relu(bn2(fc2(relu(bn1(fc1(x))))) + x) on (N, width); its plain twin has the same parameters."""
    block = MLPBlock(6).double()
    plain = MLPBlock(6, residual=False).double()
    _randomise_bn(block, rng)
    plain.load_state_dict(block.state_dict())  # the identity shortcut has no parameters: same state
    assert count_parameters(block) == count_parameters(plain) == 2 * 6 * 6 + 4 * 6
    assert isinstance(block.shortcut, nn.Identity) and plain.shortcut is None
    block.train(training)
    plain.train(training)
    x = torch.randn(5, 6, generator=rng, dtype=torch.float64)
    f = block.bn2(block.fc2(F.relu(block.bn1(block.fc1(x)))))
    torch.testing.assert_close(block(x), F.relu(f + x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(plain(x), F.relu(f), rtol=1e-12, atol=1e-12)
    # He init of the square linear layers: std sqrt(2 / width)
    wide = MLPBlock(512)
    assert abs(wide.fc1.weight.std().item() / (2 / 512) ** 0.5 - 1) < 0.02
    zero = MLPBlock(6, zero_init_last_bn=True)
    x = torch.rand(4, 6, generator=rng)  # >= 0, as after a ReLU
    torch.testing.assert_close(zero(x), x, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"\(N, width\)"):
        block(torch.randn(2, 6, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="expected 6 input channels"):
        block(torch.randn(2, 5, dtype=torch.float64))


# --------------------------------------------------------------------------- stochastic depth
def test_stochastic_depth_eval_is_deterministic_and_scaled(rng):
    block = BasicBlock(6, 6, survival_prob=0.3).double().eval()
    _randomise_bn(block, rng)
    x = torch.randn(2, 6, 5, 7, generator=rng, dtype=torch.float64)
    torch.manual_seed(1)
    a = block(x)
    torch.manual_seed(2)
    b = block(x)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(a, F.relu(0.3 * block.branch(x) + x), rtol=1e-12, atol=1e-12)


def test_stochastic_depth_survival_one_equals_ordinary_block(rng):
    torch.manual_seed(5)
    ref = BasicBlock(6, 6).double()
    torch.manual_seed(5)
    sd = BasicBlock(6, 6, survival_prob=1.0).double()
    torch.manual_seed(5)
    net_ref = resnet_cifar(8)
    torch.manual_seed(5)
    net_sd = resnet_cifar(8, stochastic_depth=1.0)
    x = torch.randn(4, 6, 5, 7, generator=rng, dtype=torch.float64)
    xi = torch.randn(4, 3, 12, 10, generator=rng)
    for _ in range(5):  # training mode, several calls
        torch.testing.assert_close(sd(x), ref(x), rtol=0, atol=0)
        torch.testing.assert_close(net_sd(xi), net_ref(xi), rtol=0, atol=0)


def test_stochastic_depth_training_drops_whole_branch(rng):
    block = BasicBlock(6, 6, survival_prob=0.8).double().train()
    _randomise_bn(block, rng)
    x = torch.randn(2, 6, 5, 7, generator=rng, dtype=torch.float64)
    torch.manual_seed(0)
    dropped = 0
    for _ in range(200):
        out = block(x)
        if torch.equal(out, F.relu(x)):
            dropped += 1
        else:
            torch.testing.assert_close(out, F.relu(block.branch(x) + x), rtol=1e-12, atol=1e-12)
    assert 20 < dropped < 60  # dropped with probability 1 - 0.8: Binomial(200, 0.2), mean 40, sd ~5.7


def test_stochastic_depth_linear_decay():
    net = resnet_cifar(20, stochastic_depth=0.5)
    probs = [b.survival_prob for b in net.blocks]
    L = 9
    assert probs == pytest.approx([1 - l / L * 0.5 for l in range(1, L + 1)], abs=1e-12)
    assert probs[-1] == pytest.approx(0.5)
    assert all(b.survival_prob == 1.0 for b in resnet_cifar(20).blocks)


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("call,match", [
    (lambda: resnet_imagenet(20), "expected one of 18, 34, 50, 101, 152"),
    (lambda: resnet_imagenet(True), "unsupported depth"),
    (lambda: resnet_cifar(21), "6n \\+ 2"),
    (lambda: resnet_cifar(2), "6n \\+ 2"),
    (lambda: resnet_cifar(20.0), "6n \\+ 2"),
    (lambda: resnet_cifar(20, width=0), "width must be an int >= 1"),
    (lambda: resnet_cifar(20, stochastic_depth=0.0), "in \\(0, 1\\]"),
    (lambda: resnet_cifar(20, stochastic_depth=1.5), "in \\(0, 1\\]"),
    (lambda: resnet_cifar(20, residual=False, stochastic_depth=0.5), "needs residual=True"),
    (lambda: BasicBlock(4, 4, survival_prob=-0.1), "in \\(0, 1\\]"),
    (lambda: BasicBlock(4, 4, shortcut="B"), "expected one of auto, identity, pad, projection"),
    (lambda: BasicBlock(4, 8, shortcut="identity"), "needs the same shape"),
    (lambda: BasicBlock(8, 4, stride=2, shortcut="pad"), "can only add channels"),
    (lambda: BasicBlock(4, 4, residual=False, zero_init_last_bn=True), "needs residual=True"),
    (lambda: Bottleneck(8, 2, stride_in="2x2"), "'1x1' \\(paper\\) or '3x3'"),
    (lambda: BasicBlock(0, 4), "in_ch must be an int >= 1"),
    (lambda: compare_blocks(256, 48), "multiple of mid_ch"),
])
def test_bad_construction_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call,match", [
    (lambda: resnet_cifar(20, width=1.5), "width must be an int >= 1"),  # 1.5 is not a width factor
    (lambda: BasicBlock(4.0, 4), "in_ch must be an int >= 1"),
    (lambda: BasicBlock(4, 4, residual=1), "residual must be a bool"),
    (lambda: BasicBlock(4, 4, survival_prob="0.5"), "survival_prob must be a number in \\(0, 1\\]"),
])
def test_wrong_types_raise_type_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_bad_forward_inputs_raise():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        BasicBlock(4, 4)(torch.randn(4, 5, 5))
    with pytest.raises(ValueError, match="expected 4 input channels"):
        Bottleneck(4, 1)(torch.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        resnet_cifar(8)(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match="expected 3 input channels"):
        resnet_cifar(8)(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\) or \(N, C, H, W\)"):
        count_macs(resnet_cifar(8), (32, 32))
    with pytest.raises(ValueError, match="input_shape"):
        count_macs(resnet_cifar(8), (3, 0, 32))
    with pytest.raises(ValueError, match="nn.Module"):
        count_parameters("resnet")
