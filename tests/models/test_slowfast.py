"""SlowFast: what the parity fixtures do not reach (2D inflation into a pathway, lateral
options no zoo config uses, frame sampling, freezing, the backbone's own checkpoint, errors)."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vidlab.config import build, find_problems
from vidlab.models import create_model
from vidlab.models.pretrained import init_pretrained
from vidlab.models.resnet import ResNet, _torchvision_name
from vidlab.models.slowfast import (
    DeConvModule,
    ResNet3dPathway,
    ResNet3dSlowFast,
    _every,
)


def _slow(**kwargs) -> ResNet3dPathway:
    cfg = dict(depth=50, lateral=True, conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1))
    cfg.update(kwargs)
    return ResNet3dPathway(**cfg)


def _small_slowfast(**kwargs) -> ResNet3dSlowFast:
    """ResNet-18 pathways: the structure of the zoo's models at a fraction of the cost."""
    kwargs.setdefault(
        "slow_pathway", dict(type="resnet3d", depth=18, lateral=True, conv1_kernel=(1, 7, 7))
    )
    kwargs.setdefault(
        "fast_pathway", dict(type="resnet3d", depth=18, base_channels=8, conv1_kernel=(5, 7, 7))
    )
    return ResNet3dSlowFast(**kwargs)


def _resnet2d_file(tmp_path, depth: int, layout: str) -> tuple[dict, str]:
    """A 2D ResNet's state dict (random values, BatchNorm statistics included), saved."""
    gen = torch.Generator().manual_seed(depth)
    state = {}
    for key, value in ResNet(depth=depth).state_dict().items():
        if value.is_floating_point():
            value = torch.rand(value.shape, generator=gen) + 0.1
        state[_torchvision_name(key) if layout == "torchvision" else key] = value
    if layout == "torchvision":
        state["fc.weight"], state["fc.bias"] = (
            torch.zeros(10, 512 * (4 if depth >= 50 else 1)),
            torch.zeros(10),
        )
    path = tmp_path / f"resnet{depth}_{layout}.pth"
    torch.save({"state_dict": state}, path)
    return state, str(path)


@pytest.mark.parametrize("layout", ["torchvision", "mmaction2"])
def test_2d_resnet_inflates_into_the_slow_pathway_with_zero_lateral_channels(tmp_path, layout):
    state, path = _resnet2d_file(tmp_path, 50, layout)
    w2d = lambda key: state[_torchvision_name(key) if layout == "torchvision" else key]  # noqa: E731
    torch.manual_seed(0)
    slow = _slow(pretrained=path)
    laterals = {k: v.clone() for k, v in slow.state_dict().items() if "lateral" in k}
    report = init_pretrained(slow)[0][1]
    assert sorted(report.missing) == sorted(laterals)  # only the laterals keep their init
    assert sorted(report.unexpected) == (
        ["fc.bias", "fc.weight"] if layout == "torchvision" else []
    )
    assert all(torch.equal(slow.state_dict()[k], v) for k, v in laterals.items())
    # a stage fed by a lateral: 2D kernel for the slow channels, zeros for the lateral ones
    assert slow.lateral_inplanes == [16, 64, 128, 256]
    for key in ("layer2.0.conv1.conv.weight", "layer3.0.downsample.conv.weight"):
        w3d, w = slow.state_dict()[key], w2d(key)
        assert w3d.shape[1] == w.shape[1] + slow.lateral_inplanes[int(key[5]) - 1]
        kt = w3d.shape[2]
        assert torch.equal(w3d[:, : w.shape[1]], w.unsqueeze(2).expand(-1, -1, kt, -1, -1) / kt)
        assert not w3d[:, w.shape[1] :].any()
    # elsewhere as ResNet3d's inflation: repeated in time, divided by the temporal kernel
    w3d = slow.layer3[1].conv1.conv.weight
    assert w3d.shape[2] == 3
    assert torch.equal(w3d, w2d("layer3.1.conv1.conv.weight").unsqueeze(2).expand_as(w3d) / 3)
    assert torch.equal(slow.layer1[0].conv1.bn.running_var, w2d("layer1.0.conv1.bn.running_var"))


def test_a_2d_file_that_does_not_fit_the_fast_pathway_is_reported(tmp_path):
    _, path = _resnet2d_file(tmp_path, 18, "torchvision")
    fast = ResNet3dPathway(depth=18, base_channels=8, pretrained=path)
    report = fast.init_weights()  # MMAction2 fails on the first shape; vidlab lists them all
    assert "layer1.0.conv1.conv.weight" in report.missing
    assert "layer1.0.conv1.weight" in report.unexpected and "conv1.weight" in report.unexpected


@pytest.mark.parametrize("rate", [1, 2, 3, 4, 5, 8])
def test_frame_sampling_is_mmaction2s_nearest_interpolation(rate):
    for t in range(rate, 4 * rate + 3):
        x = torch.randn(1, 2, t, 3, 3)
        expected = F.interpolate(x, mode="nearest", scale_factor=(1.0 / rate, 1.0, 1.0))
        assert torch.equal(_every(x, rate), expected), (t, rate)
    with pytest.raises(ValueError, match=f"at least {rate} frames"):
        _every(torch.randn(1, 2, rate - 1, 3, 3), rate) if rate > 1 else _every(x[:, :, :0], 1)


def test_laterals_of_each_option():
    # ResNet-18: the stem's 64 and each stage's output channels enter the laterals
    slow = _slow(depth=18, lateral_norm=True, fusion_kernel=7, speed_ratio=4)
    assert slow.lateral_inplanes == [16, 16, 32, 64]
    assert slow.lateral_connections == ["layer1_lateral", "layer2_lateral", "layer3_lateral"]
    conv = slow.layer2_lateral.conv
    assert (conv.in_channels, conv.out_channels) == (128 // 8, 128 * 2 // 8)
    assert conv.kernel_size == (7, 1, 1) and conv.stride == (4, 1, 1) and conv.padding == (3, 0, 0)
    assert isinstance(slow.layer2_lateral.bn, nn.BatchNorm3d)
    plain = _slow(depth=18)
    assert not hasattr(plain.conv1_lateral, "bn") and not plain.conv1_lateral.with_activation
    # lateral_activate: only stages 2 and 3 receive one (RGBPoseConv3D's rgb pathway)
    some = _slow(lateral_activate=(0, 0, 1, 1), lateral_infl=1)
    assert some.lateral_inplanes == [0, 0, 512 // 8, 1024 // 8]
    assert some.lateral_connections == ["layer2_lateral", "layer3_lateral"]
    assert not hasattr(some, "conv1_lateral") and some.layer3[0].conv1.conv.in_channels == 576
    # lateral_inv: upsampling transposed convs (RGBPoseConv3D's pose pathway)
    inv = _slow(depth=18, lateral_inv=True, lateral_infl=16, channel_ratio=4, speed_ratio=4)
    assert isinstance(inv.conv1_lateral, DeConvModule)
    assert inv.lateral_inplanes == [64 * 4 // 16, 64 * 4 // 16, 128 * 4 // 16, 256 * 4 // 16]
    up = inv.layer1_lateral.eval()
    assert (up.conv.in_channels, up.conv.out_channels) == (256, 16)
    assert up(torch.randn(1, 256, 2, 3, 3)).shape == (1, 16, 8, 3, 3)
    with pytest.raises(ValueError, match="lateral_activate"):
        _slow(lateral_activate=(1, 1))


def test_frozen_stages_freeze_their_laterals_but_not_conv1_lateral():
    slow = _slow(depth=18, frozen_stages=2).train()
    assert not any(p.requires_grad for p in slow.layer2.parameters())
    assert not any(p.requires_grad for p in slow.layer1_lateral.parameters())
    assert not any(p.requires_grad for p in slow.layer2_lateral.parameters())
    assert all(p.requires_grad for p in slow.layer3_lateral.parameters())
    assert all(p.requires_grad for p in slow.conv1_lateral.parameters())  # as MMAction2


def test_forward_shapes_and_clip_length_checks():
    model = _small_slowfast(resample_rate=4, speed_ratio=4).eval()
    with torch.no_grad():
        slow, fast = model(torch.randn(1, 3, 16, 32, 32))
    assert slow.shape == (1, 512, 4, 1, 1) and fast.shape == (1, 64, 16, 1, 1)
    with pytest.raises(ValueError, match="multiple of resample_rate"):
        model(torch.randn(1, 3, 15, 32, 32))  # 3 slow frames, 4 from the fast pathway
    with pytest.raises(ValueError, match="at least 4 frames"):
        model(torch.randn(1, 3, 3, 32, 32))


def test_speed_and_channel_ratio_are_set_on_the_slow_pathway_only():
    model = _small_slowfast(resample_rate=4, speed_ratio=4, channel_ratio=8)
    assert model.slow_path.speed_ratio == 4 and model.slow_path.conv1_lateral.conv.stride[0] == 4
    assert model.fast_path.speed_ratio == 8  # the pathway's default; it has no laterals
    with pytest.raises(ValueError, match="lateral_inv"):
        _small_slowfast(
            slow_pathway=dict(type="resnet3d", depth=18, lateral=True, lateral_inv=True)
        )
    with pytest.raises(KeyError, match="unknown pathway type 'resnet2d'"):
        ResNet3dSlowFast(slow_pathway=dict(type="resnet2d", lateral=False))


def test_the_backbones_own_checkpoint_wins_over_the_pathways_files(tmp_path):
    torch.manual_seed(0)
    source = _small_slowfast()
    path = tmp_path / "slowfast.pth"
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in source.state_dict().items()}}, path)
    _, r18 = _resnet2d_file(tmp_path, 18, "torchvision")
    slow = dict(type="resnet3d", depth=18, lateral=True, conv1_kernel=(1, 7, 7), pretrained=r18)
    fast = dict(type="resnet3d", depth=18, base_channels=8, conv1_kernel=(5, 7, 7))
    torch.manual_seed(1)
    model = ResNet3dSlowFast(pretrained=str(path), slow_pathway=slow, fast_pathway=fast)
    reports = init_pretrained(model)
    assert [name for name, _ in reports] == [""] and reports[0][1].ok
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in model.state_dict().items())


def test_configs_check_the_pathway_dicts():
    node = dict(
        type="ResNet3dSlowFast",
        slow_pathway=dict(type="resnet3d", depth=50, lateral=True, fusion_kernal=7),
        fast_pathway=dict(type="resnet3d", depth=50, base_channels=8),
    )
    problems = find_problems({"model": node})
    assert len(problems) == 1 and "did you mean 'fusion_kernel'" in problems[0]
    node["slow_pathway"] = dict(type="resnet3d", depth=18, lateral=True, speed_ratio=2)
    node["fast_pathway"] = dict(type="resnet3d", depth=18, base_channels=8)
    model = build(dict(node, speed_ratio=4, resample_rate=4), key_path="model")
    assert model.slow_path.speed_ratio == 4  # the backbone's, as MMAction2 overrides it
    assert isinstance(model.slow_path, ResNet3dPathway)


def test_head_concatenates_fast_then_slow():
    model = create_model("slowfast_r50_4x16x1", num_classes=3).eval()
    head = model.cls_head
    slow, fast = torch.randn(2, 2048, 1, 2, 2), torch.randn(2, 256, 4, 2, 2)
    pooled = head.pre_logits((slow, fast))
    assert torch.allclose(pooled[:, :256], fast.mean((2, 3, 4)), atol=1e-6)
    assert torch.allclose(pooled[:, 256:], slow.mean((2, 3, 4)), atol=1e-6)
    assert model.default_cfg.url.endswith("_20220901-701b0f6f.pth")
