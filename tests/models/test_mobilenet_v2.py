"""MobileNetV2's arguments (MMAction2's) and the non-local block's modes."""

import pytest
import torch
import torch.nn as nn

from vidlab.models.layers.non_local import NonLocal3d
from vidlab.models.mobilenet_v2 import MobileNetV2, MobileNetV2TSM


def test_out_indices_and_widen_factor():
    model = MobileNetV2(widen_factor=1.5, out_indices=(1, 6, 7)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [40, 480, 1920]  # make_divisible(24*1.5, 8), ...
    assert outs[0].shape[-1] == 16 and outs[2].shape[-1] == 2
    with pytest.raises(ValueError, match="out_indices"):
        MobileNetV2(out_indices=(8,))


def test_frozen_stages_and_norm_eval_hold_in_train_mode():
    model = MobileNetV2(frozen_stages=2, norm_eval=True).train()
    frozen = [model.conv1, model.layer1, model.layer2]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in model.layer3.parameters())
    assert all(not m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def test_tsm_wraps_the_expand_conv_of_residual_blocks():
    model = MobileNetV2TSM(num_segments=4)
    keys = model.state_dict().keys()
    assert "layer2.1.conv.0.net.conv.weight" in keys  # residual, with an expand conv
    assert "layer2.0.conv.0.conv.weight" in keys  # strided: no residual, no shift
    assert "layer1.0.conv.0.conv.weight" in keys  # expand_ratio 1: no expand conv
    assert model(torch.randn(8, 3, 32, 32)).shape == (8, 1280, 1, 1)


@pytest.mark.parametrize("mode", ["gaussian", "embedded_gaussian", "dot_product", "concatenation"])
def test_non_local_starts_as_identity(mode):
    block = NonLocal3d(16, sub_sample=True, mode=mode, norm_cfg=dict(type="BN3d")).eval()
    x = torch.randn(2, 16, 3, 4, 4)
    with torch.no_grad():
        assert torch.equal(block(x), x)  # conv_out's norm starts at zero
        torch.manual_seed(0)
        for m in block.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d)):
                nn.init.normal_(m.weight, std=0.5)
        nn.init.ones_(block.conv_out.bn.weight)
        y = block(x)
    assert y.shape == x.shape and not torch.equal(y, x)
