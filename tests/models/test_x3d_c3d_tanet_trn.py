"""X3D, C3D, TANet and TRN beyond the contract and parity tests: layouts, options, semantics."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vidlab.models.c3d import C3D
from vidlab.models.heads.trn import RelationModuleMultiScale, TRNHead
from vidlab.models.heads.x3d import X3DHead
from vidlab.models.layers.rounding import make_divisible
from vidlab.models.pretrained import load_pretrained
from vidlab.models.resnet import ResNet, _torchvision_name
from vidlab.models.tanet import TAM, TANet, from_torchvision
from vidlab.models.x3d import X3D

# --- X3D --------------------------------------------------------------------------------------


def test_x3d_m_layout_and_widths():
    net = X3D(gamma_w=1, gamma_b=2.25, gamma_d=2.2)
    assert net.stage_blocks == [3, 5, 11, 7] and net.feat_dim == 432
    keys = net.state_dict().keys()
    assert "conv1_s.conv.weight" in keys and "conv1_s.bn.weight" not in keys  # no norm
    assert {"conv1_t.conv.weight", "conv1_t.bn.running_mean", "conv5.bn.weight"} <= keys
    # SE on blocks 0, 2, 4 of each stage ('half'); its width is rounded to a multiple of 8
    assert "layer3.4.se_module.fc1.weight" in keys and "layer3.3.se_module.fc1.weight" not in keys
    assert net.layer1[0].se_module.fc1.out_channels == make_divisible(54 * (1 / 16), 8) == 8
    assert "layer1.0.downsample.conv.weight" in keys and "layer1.1.downsample" not in str(keys)
    assert net.layer2[0].conv2.conv.groups == net.layer2[0].planes  # depthwise
    x = torch.randn(1, 3, 4, 64, 64)
    assert net(x).shape == (1, 432, 4, 2, 2)  # time kept, space / 32


def test_x3d_se_options_and_zero_init():
    all_se = X3D(gamma_d=1, se_style="all")
    assert all(hasattr(b, "se_module") for b in all_se.layer2)
    no_se = X3D(gamma_d=1, se_ratio=None)
    assert not any("se_module" in k for k in no_se.state_dict())
    assert all(torch.all(b.conv3.bn.weight == 0) for b in all_se.layer3)
    with pytest.raises(ValueError, match="se_style"):
        X3D(se_style="some")


def test_x3d_frozen_stages_and_norm_eval():
    net = X3D(gamma_d=1, frozen_stages=1, norm_eval=True).train()
    assert not any(p.requires_grad for p in net.conv1_t.parameters())
    assert not any(p.requires_grad for p in net.layer1.parameters())
    assert all(p.requires_grad for p in net.layer2.parameters())
    assert not any(m.training for m in net.modules() if isinstance(m, nn.BatchNorm3d))


def test_x3d_head_hidden_layer_and_reset():
    head = X3DHead(num_classes=7, in_channels=16, fc1_bias=True, spatial_type="max")
    keys = set(head.state_dict())
    assert keys == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    assert head.num_features == 2048
    x = torch.randn(2, 16, 2, 3, 3)
    head.eval()
    assert torch.equal(head(x), head.fc2(head.pre_logits(x)))
    head.reset_classifier(3)
    assert head.fc2.out_features == 3 and head(x).shape == (2, 3)


# --- C3D --------------------------------------------------------------------------------------


def test_c3d_needs_its_size():
    net = C3D(out_dim=512 * 2 * 2)  # 16 frames at 32 px leave a 512 x 1 x 2 x 2 map
    assert net(torch.randn(1, 3, 16, 32, 32)).shape == (1, 4096)
    keys = net.state_dict().keys()
    assert {"conv1a.conv.bias", "conv5b.conv.weight", "fc6.weight", "fc7.bias"} <= keys
    with pytest.raises(ValueError, match="16 frames at 112x112"):
        net(torch.randn(1, 3, 16, 64, 64))


# --- TANet ------------------------------------------------------------------------------------


def _tam_reference(tam: TAM, x: torch.Tensor) -> torch.Tensor:
    """TAM by its definition: the adaptive kernel as one grouped conv over all (clip, channel)."""
    nt, c, h, w = x.shape
    t = tam.num_segments
    n = nt // t
    x = x.view(n, t, c, h, w).permute(0, 2, 1, 3, 4)
    theta = x.mean(dim=(3, 4))  # (N, C, T)
    kernel = tam.G(theta.reshape(-1, t)).view(n * c, 1, -1, 1)
    x = x * tam.L(theta).view(n, c, t, 1, 1)
    y = F.conv2d(
        x.reshape(1, n * c, t, h * w),
        kernel,
        stride=(tam.adaptive_convolution_stride, 1),
        padding=(tam.adaptive_convolution_padding, 0),
        groups=n * c,
    )
    return y.view(n, c, t, h, w).permute(0, 2, 1, 3, 4).reshape(nt, c, h, w)


@pytest.mark.parametrize("exporting", [False, True], ids=["grouped_conv", "export_shifted_sum"])
@pytest.mark.parametrize("kernel", [3, 5])
def test_tam_matches_its_definition(kernel, exporting, monkeypatch):
    """Eager TAM runs the grouped conv; while exporting it runs the batch-agnostic shifted sums.
    Both must equal the definition."""
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: exporting)
    torch.manual_seed(0)
    tam = TAM(16, 4, adaptive_kernel_size=kernel, adaptive_convolution_padding=kernel // 2)
    tam.eval()
    x = torch.randn(2 * 4, 16, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(tam(x), _tam_reference(tam, x), rtol=1e-5, atol=1e-6)


def test_tanet_layout_and_torchvision_weights():
    net = TANet(50, num_segments=4)
    keys = net.state_dict().keys()
    assert {"layer1.0.block.conv1.conv.weight", "layer1.0.tam.G.0.weight"} <= keys
    assert {"layer4.2.tam.L.1.running_var", "layer2.0.block.downsample.conv.weight"} <= keys
    tv = {_torchvision_name(k): v.clone() for k, v in ResNet(50).state_dict().items()}
    report = load_pretrained(net, tv, convert=from_torchvision)
    assert report.unexpected == [] and report.shape_mismatch == []
    assert report.missing and all(".tam." in k for k in report.missing)  # TAMs start fresh
    assert torch.equal(net.layer3[1].block.conv2.bn.running_mean, tv["layer3.1.bn2.running_mean"])
    with pytest.raises(NotImplementedError, match="Bottleneck"):
        TANet(18, num_segments=4)
    with pytest.raises(ValueError, match="multiple of 4"):
        net(torch.randn(6, 3, 32, 32))


# --- TRN --------------------------------------------------------------------------------------


def test_multiscale_relations_expectation_in_eval():
    torch.manual_seed(0)
    rel = RelationModuleMultiScale(hidden_dim=4, num_segments=4, num_classes=3).eval()
    x = torch.randn(2, 4, 4)
    # eval: all frames, plus 3 times the mean over all subsets of each smaller size
    want = rel.fc_fusion_scales[0](x.reshape(2, -1))
    for i in (1, 2):
        subsets = rel.relations_scales[i]
        scores = [rel.fc_fusion_scales[i](x[:, list(f)].reshape(2, -1)) for f in subsets]
        want = want + 3 * torch.stack(scores).mean(0)
    with torch.no_grad():
        torch.testing.assert_close(rel(x), want, rtol=1e-5, atol=1e-6)
        assert torch.equal(rel(x), rel(x))
        rel.train()  # training draws 3 subsets per size at random
        draws = [rel(x) for _ in range(5)]
    assert any(not torch.equal(draws[0], d) for d in draws[1:])


def test_multiscale_relations_fixed_draws():
    torch.manual_seed(0)
    rel = RelationModuleMultiScale(hidden_dim=4, num_segments=4, num_classes=3).eval()
    x = torch.randn(2, 4, 4)
    picks = [[0, 3, 1], [5, 2, 0]]  # scales 3 (4 subsets) and 2 (6 subsets)
    rel.fix_relations(picks)
    want = rel.fc_fusion_scales[0](x.reshape(2, -1))
    for i, scale_picks in enumerate(picks, start=1):
        for j in scale_picks:
            frames = list(rel.relations_scales[i][j])
            want = want + rel.fc_fusion_scales[i](x[:, frames].reshape(2, -1))
    with torch.no_grad():
        assert torch.equal(rel(x), want)
    with pytest.raises(ValueError, match="2 scales"):
        rel.fix_relations([[0]])


@pytest.mark.parametrize("relation_type", ["TRN", "TRNMultiScale"])
def test_trn_head_keys_and_reset(relation_type):
    head = TRNHead(5, 32, num_segments=3, relation_type=relation_type, hidden_dim=8).eval()
    keys = set(head.state_dict())
    assert {"fc_cls.weight", "fc_cls.bias"} <= keys
    if relation_type == "TRN":
        assert "consensus.classifier.3.weight" in keys
    else:
        assert {
            "consensus.fc_fusion_scales.0.1.weight",
            "consensus.fc_fusion_scales.1.3.bias",
        } <= keys
        assert not any("_subsets" in k for k in keys)
    assert head.fc_cls.out_features == 8 and head.num_features == 24
    x = torch.randn(2 * 3, 32, 2, 2)
    assert head(x).shape == (2, 5) and head.pre_logits(x).shape == (2, 24)
    head.reset_classifier(2)
    assert head(x).shape == (2, 2) and head.num_classes == 2
    with pytest.raises(ValueError, match="relation_type"):
        TRNHead(5, 32, relation_type="TSN")
