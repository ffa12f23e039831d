import pytest
import torch
import torch.nn as nn

from vidlab.models.layers import ConvModule, TemporalShift, temporal_shift
from vidlab.models.layers.rounding import make_divisible


def reference_shift(x, num_segments, shift_div):
    """Hand-written loop: frame t, channel c of the output."""
    nt, c, h, w = x.shape
    x = x.view(nt // num_segments, num_segments, c, h, w)
    out = torch.zeros_like(x)
    fold = c // shift_div
    for t in range(num_segments):
        for ch in range(c):
            if ch < fold:  # comes from the next frame
                if t + 1 < num_segments:
                    out[:, t, ch] = x[:, t + 1, ch]
            elif ch < 2 * fold:  # comes from the previous frame
                if t > 0:
                    out[:, t, ch] = x[:, t - 1, ch]
            else:
                out[:, t, ch] = x[:, t, ch]
    return out.view(nt, c, h, w)


def test_temporal_shift_matches_reference():
    torch.manual_seed(0)
    x = torch.randn(2 * 4, 8, 3, 2)  # 2 clips of 4 frames, 8 channels
    out = temporal_shift(x, num_segments=4, shift_div=4)
    assert torch.equal(out, reference_shift(x, 4, 4))


def test_temporal_shift_moves_the_right_channels():
    # value = frame index + 1, so where each channel came from is readable
    t = 4
    x = torch.arange(1, t + 1, dtype=torch.float32).view(t, 1, 1, 1).expand(t, 8, 1, 1).contiguous()
    out = temporal_shift(x, num_segments=t, shift_div=4).view(t, 8)  # fold = 2
    assert out[:, 0].tolist() == [2, 3, 4, 0]  # backward in time, last frame zero-filled
    assert out[:, 1].tolist() == [2, 3, 4, 0]
    assert out[:, 2].tolist() == [0, 1, 2, 3]  # forward in time, first frame zero-filled
    assert out[:, 3].tolist() == [0, 1, 2, 3]
    for ch in range(4, 8):
        assert out[:, ch].tolist() == [1, 2, 3, 4]


def test_temporal_shift_wraps_module_as_net():
    conv = nn.Conv2d(8, 8, 1, bias=False)
    shift = TemporalShift(conv, num_segments=4, shift_div=8)
    assert list(shift.state_dict()) == ["net.weight"]
    x = torch.randn(4, 8, 2, 2)
    assert torch.allclose(shift(x), conv(temporal_shift(x, 4, 8)))


def test_conv_module_names_and_bias():
    m = ConvModule(
        3, 4, 3, padding=1, bias=False, norm_cfg=dict(type="BN"), act_cfg=dict(type="ReLU")
    )
    assert sorted(m.state_dict()) == [
        "bn.bias",
        "bn.num_batches_tracked",
        "bn.running_mean",
        "bn.running_var",
        "bn.weight",
        "conv.weight",
    ]
    assert m.norm is m.bn and isinstance(m.activate, nn.ReLU) and m.activate.inplace
    # bias='auto': a bias only without a norm layer
    assert ConvModule(3, 4, 1, norm_cfg=dict(type="BN")).conv.bias is None
    assert ConvModule(3, 4, 1).conv.bias is not None


@pytest.mark.parametrize(
    "conv_cfg, norm_cfg, conv_cls, norm_cls",
    [
        (dict(type="Conv"), dict(type="BN2d"), nn.Conv2d, nn.BatchNorm2d),
        (dict(type="Conv3d"), dict(type="BN3d"), nn.Conv3d, nn.BatchNorm3d),
        (dict(type="Conv2d"), dict(type="SyncBN"), nn.Conv2d, nn.SyncBatchNorm),
    ],
)
def test_conv_module_layer_types(conv_cfg, norm_cfg, conv_cls, norm_cls):
    m = ConvModule(3, 4, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
    assert isinstance(m.conv, conv_cls) and isinstance(m.bn, norm_cls)
    assert not hasattr(m, "activate")


def test_conv_module_requires_grad_and_unknown_type():
    m = ConvModule(3, 4, 1, norm_cfg=dict(type="BN", requires_grad=False))
    assert not m.bn.weight.requires_grad and not m.bn.bias.requires_grad
    assert m.conv.weight.requires_grad
    with pytest.raises(KeyError, match="norm_cfg type 'BatchNorm'"):
        ConvModule(3, 4, 1, norm_cfg=dict(type="BatchNorm"))


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (36.0, {}, 40),  # to nearest: 36 + 4 -> 40
        (35.0, {}, 32),
        (35.9, {}, 40),  # 32 < 0.9 * 35.9: one divisor more
        (3.375, {}, 8),  # X3D's SE bottleneck of 54 channels at 1/16: the floor (divisor)
        (11.0, {}, 16),  # 8 would lose more than 10%: one divisor more
        (10.0, {"min_ratio": 0.75}, 8),  # 8 >= 0.75 * 10: kept
        (52.8, {}, 56),  # X3D-M/L base width 24 * 2.2
        (0.0, {}, 8),  # the floor is the divisor unless min_value says otherwise
        (0.0, {"min_value": 0}, 0),
        (20.0, {"divisor": 16}, 32),  # 16 < 0.9 * 20: one divisor more
    ],
)
def test_make_divisible(value, kwargs, expected):
    assert make_divisible(value, **kwargs) == expected
