"""The families built on ResNet3d (SlowOnly, CSN, R(2+1)D) and C2D: what parity runs miss."""

import pytest
import torch
import torch.nn as nn

from vidlab.compat.layers import build_conv_layer
from vidlab.models.c2d import C2D
from vidlab.models.csn import ResNet3dCSN
from vidlab.models.layers.conv2plus1d import Conv2plus1d
from vidlab.models.r2plus1d import ResNet2Plus1d
from vidlab.models.slowonly import ResNet3dSlowOnly


def test_slowonly_defaults_and_no_lateral():
    model = ResNet3dSlowOnly(depth=50)
    assert model.conv1.conv.kernel_size == (1, 7, 7) and not model.with_pool2
    assert model.layer2[0].conv1.conv.kernel_size == (1, 1, 1)
    assert model.layer3[0].conv1.conv.kernel_size == (3, 1, 1)
    with pytest.raises(ValueError, match="lateral"):
        ResNet3dSlowOnly(depth=50, lateral=True)


def test_csn_modes_and_bn_frozen():
    ip = ResNet3dCSN(50, None, bottleneck_mode="ip", norm_eval=True, bn_frozen=True)
    block = ip.layer1[0]
    assert isinstance(block.conv2, nn.Sequential) and len(block.conv2) == 2
    assert block.conv2[1].conv.groups == 64 and block.conv2[1].conv.kernel_size == (3, 3, 3)
    assert block.conv2[0].bn.eps == 1e-3
    ip.train()
    bns = [m for m in ip.modules() if isinstance(m, nn.BatchNorm3d)]
    assert not any(m.training or m.weight.requires_grad for m in bns)
    assert ip.layer1[0].conv1.conv.weight.requires_grad
    ir = ResNet3dCSN(50, None, bottleneck_mode="ir")
    assert len(ir.layer1[0].conv2) == 1
    with pytest.raises(ValueError, match="bottleneck_mode"):
        ResNet3dCSN(50, None, bottleneck_mode="xx")


def test_conv2plus1d_width_and_config_name():
    conv = build_conv_layer(dict(type="Conv2plus1d"), 64, 128, (3, 3, 3), padding=1, bias=False)
    assert isinstance(conv, Conv2plus1d)
    assert conv.conv_s.out_channels == int(3 * 64 * 128 * 9 / (64 * 9 + 3 * 128))
    assert conv(torch.randn(1, 64, 4, 8, 8)).shape == (1, 128, 4, 8, 8)


def test_r2plus1d_checks_its_config():
    with pytest.raises(ValueError, match="pretrained2d"):
        ResNet2Plus1d(depth=18, conv_cfg=dict(type="Conv2plus1d"))
    with pytest.raises(ValueError, match="Conv2plus1d"):
        ResNet2Plus1d(depth=18, pretrained2d=False)
    model = ResNet2Plus1d(
        depth=18,
        pretrained2d=False,
        conv_cfg=dict(type="Conv2plus1d"),
        temporal_strides=(1, 2, 2, 2),
    ).eval()
    assert model(torch.randn(1, 3, 8, 32, 32)).shape == (1, 512, 1, 1, 1)


def test_c2d_pools_time_once():
    model = C2D(depth=18).eval()
    assert model(torch.randn(2, 3, 8, 64, 64)).shape == (2, 512, 4, 2, 2)
    assert "maxpool" not in dict(model.named_children())
