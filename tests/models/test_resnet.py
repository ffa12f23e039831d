import re

import pytest
import torch
import torch.nn as nn

from vidlab.models import create_model
from vidlab.models.pretrained import load_pretrained
from vidlab.models.resnet import ResNet, _torchvision_name, _unwrapped, from_torchvision
from vidlab.models.tsm import ResNetTSM

# torchvision's resnet50 has 25,557,032 parameters, of which fc holds 2048 * 1000 + 1000.
TV_R50_PARAMS = 25_557_032
TV_R50_FC = 2048 * 1000 + 1000

# Names as they appear in MMAction2 1.x checkpoints of tsm_r50 / tsn_r50.
COMMON_KEYS = [
    "backbone.conv1.conv.weight",
    "backbone.conv1.bn.weight",
    "backbone.conv1.bn.bias",
    "backbone.conv1.bn.running_mean",
    "backbone.conv1.bn.running_var",
    "backbone.conv1.bn.num_batches_tracked",
    "backbone.layer1.0.conv1.bn.weight",
    "backbone.layer1.0.conv2.conv.weight",
    "backbone.layer1.0.conv3.bn.running_var",
    "backbone.layer1.0.downsample.conv.weight",
    "backbone.layer1.0.downsample.bn.weight",
    "backbone.layer1.0.downsample.bn.running_mean",
    "backbone.layer2.0.downsample.conv.weight",
    "backbone.layer3.5.conv2.conv.weight",
    "backbone.layer4.2.conv3.conv.weight",
    "backbone.layer4.2.conv3.bn.num_batches_tracked",
    "cls_head.fc_cls.weight",
    "cls_head.fc_cls.bias",
]
TSM_KEYS = COMMON_KEYS + [
    "backbone.layer1.0.conv1.conv.net.weight",
    "backbone.layer3.5.conv1.conv.net.weight",
    "backbone.layer4.2.conv1.conv.net.weight",
]
TSN_KEYS = COMMON_KEYS + [
    "backbone.layer1.0.conv1.conv.weight",
    "backbone.layer4.2.conv1.conv.weight",
]


@pytest.fixture(scope="module")
def r50_models():
    return {name: create_model(name) for name in ("tsm_r50_1x1x8", "tsn_r50_1x1x8")}


@pytest.mark.parametrize(
    "name, expected", [("tsm_r50_1x1x8", TSM_KEYS), ("tsn_r50_1x1x8", TSN_KEYS)]
)
def test_state_dict_layout_matches_mmaction2(r50_models, name, expected):
    keys = set(r50_models[name].state_dict())
    assert set(expected) <= keys
    assert len(keys) == 320  # 318 backbone tensors (torchvision's 320 minus fc) + fc_cls
    assert not any(k.startswith("data_preprocessor") or "loss_cls" in k for k in keys)
    if name.startswith("tsm"):
        shifted = [k for k in keys if k.endswith(".conv1.conv.net.weight")]
        assert len(shifted) == 3 + 4 + 6 + 3  # every block of ResNet-50 shifts
        assert not any(re.search(r"layer\d\.\d+\.conv1\.conv\.weight", k) for k in keys)


@pytest.mark.parametrize("name", ["tsm_r50_1x1x8", "tsn_r50_1x1x8"])
def test_parameter_count_matches_torchvision(r50_models, name):
    model = r50_models[name]
    total = sum(p.numel() for p in model.parameters())
    assert total == TV_R50_PARAMS - TV_R50_FC + (2048 * 400 + 400)


def test_backbone_names_convert_to_torchvision_names():
    backbone = ResNetTSM(50)
    tv = {_torchvision_name(_unwrapped(k)) for k in backbone.state_dict()}
    assert len(tv) == 318
    assert {
        "conv1.weight",
        "bn1.running_mean",
        "layer1.0.conv1.weight",
        "layer1.0.bn1.weight",
        "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.running_var",
        "layer4.2.bn3.num_batches_tracked",
    } <= tv


def test_deep_tsm_shifts_every_other_block():
    backbone = ResNetTSM(101, num_segments=4)
    layer3 = [
        k
        for k in backbone.state_dict()
        if k.startswith("layer3.") and k.endswith("conv1.conv.net.weight")
    ]
    assert len(layer3) == 12  # 23 blocks, blocks 0, 2, ..., 22


def test_block_shift_place_wraps_whole_blocks():
    backbone = ResNetTSM(18, num_segments=4, shift_place="block")
    assert "layer1.0.net.conv1.conv.weight" in backbone.state_dict()
    assert backbone(torch.randn(4, 3, 32, 32)).shape == (4, 512, 1, 1)


def test_non_local_wraps_the_flagged_blocks():
    model = ResNetTSM(
        50,
        num_segments=4,
        non_local=((0, 0, 0), (1, 0, 1, 0), (0,) * 6, (0, 0, 0)),
        non_local_cfg=dict(sub_sample=True, mode="dot_product"),
    )
    keys = model.state_dict().keys()
    assert "layer2.0.block.conv1.conv.net.weight" in keys
    assert "layer2.2.non_local_block.g.0.conv.weight" in keys
    assert "layer2.1.conv1.conv.net.weight" in keys  # not flagged: not wrapped
    assert model.eval()(torch.randn(4, 3, 64, 64)).shape == (4, 2048, 2, 2)
    with pytest.raises(ValueError, match="flags"):
        ResNetTSM(50, non_local=((0, 0, 0, 1), 0, 0, 0), non_local_cfg=dict(mode="gaussian"))


def test_out_indices_return_a_tuple():
    feats = ResNet(18, out_indices=(2, 3)).eval()(torch.randn(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [256, 512]


def _bns(module):
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


def test_frozen_stages():
    model = ResNet(18, frozen_stages=1)
    model.train()
    for m in (model.conv1, model.layer1):
        assert all(not p.requires_grad for p in m.parameters())
        assert all(not b.training for b in _bns(m))
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert all(b.training for b in _bns(model.layer2))
    before = model.layer1[0].conv1.bn.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(model.layer1[0].conv1.bn.running_mean, before)  # frozen statistics
    assert not torch.equal(model.layer2[0].conv1.bn.running_mean, torch.zeros(128))


def test_norm_eval_keeps_every_bn_in_eval_mode():
    model = ResNet(18, norm_eval=True).train()
    assert model.training and all(not b.training for b in _bns(model))
    assert all(p.requires_grad for p in model.parameters())  # only statistics are frozen


def test_partial_bn_freezes_all_but_the_first_bn():
    model = ResNet(18, partial_bn=True).train()
    first, *rest = _bns(model)
    assert first.training and first.weight.requires_grad
    assert all(not b.training and not b.weight.requires_grad for b in rest)


def _torchvision_state_dict(depth):
    """A torchvision-format state dict with random values (no torchvision needed)."""
    torch.manual_seed(0)
    ref = ResNet(depth)
    sd = {
        _torchvision_name(k): torch.randn_like(v.float()).to(v.dtype)
        for k, v in ref.state_dict().items()
    }
    sd["fc.weight"] = torch.randn(1000, ref.feat_dim)
    sd["fc.bias"] = torch.randn(1000)
    return sd


def test_load_torchvision_resnet_into_tsm(tmp_path):
    sd = _torchvision_state_dict(18)
    path = tmp_path / "resnet18_tv.pth"
    torch.save(sd, path)
    backbone = ResNetTSM(18, num_segments=4, pretrained=str(path))
    backbone.init_weights()
    mine = backbone.state_dict()
    assert torch.equal(mine["conv1.conv.weight"], sd["conv1.weight"])
    assert torch.equal(mine["conv1.bn.running_mean"], sd["bn1.running_mean"])
    assert torch.equal(mine["layer1.0.conv1.conv.net.weight"], sd["layer1.0.conv1.weight"])
    assert torch.equal(mine["layer2.0.conv2.bn.bias"], sd["layer2.0.bn2.bias"])
    assert torch.equal(mine["layer2.0.downsample.conv.weight"], sd["layer2.0.downsample.0.weight"])
    assert torch.equal(
        mine["layer2.0.downsample.bn.running_var"], sd["layer2.0.downsample.1.running_var"]
    )

    report = load_pretrained(ResNet(18), sd, convert=from_torchvision)
    assert report.missing == [] and report.shape_mismatch == []
    assert report.unexpected == ["fc.weight", "fc.bias"]


def test_torchvision_weights_with_other_in_channels_skip_the_stem():
    report = load_pretrained(
        ResNet(18, in_channels=2), _torchvision_state_dict(18), convert=from_torchvision
    )
    assert report.shape_mismatch == [("conv1.conv.weight", (64, 3, 7, 7), (64, 2, 7, 7))]


def test_pretrained_names_that_cannot_work_give_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown torchvision model.*resnet50"):
        ResNet(50, pretrained="torchvision://resnet5").init_weights()
    with pytest.raises(ValueError, match="only local files, http"):
        ResNet(50, pretrained="open-mmlab://resnet50_caffe").init_weights()
    with pytest.raises(FileNotFoundError, match="no such file"):
        ResNet(18, pretrained=str(tmp_path / "missing.pth")).init_weights()


def test_remote_pretrained_names_use_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    sd = _torchvision_state_dict(18)
    torch.save(sd, cache / "resnet18-f37072fd.pth")
    backbone = ResNet(18, pretrained="torchvision://resnet18")
    backbone.init_weights()
    assert torch.equal(backbone.state_dict()["conv1.conv.weight"], sd["conv1.weight"])


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = ResNet(18).eval()
    ckpt = ResNet(18, with_cp=True).eval()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    plain(x).sum().backward()
    g = x.grad.clone()
    x.grad = None
    ckpt(x).sum().backward()
    assert torch.allclose(g, x.grad, atol=1e-5)


def test_pretrained2d_false_loads_our_own_names(tmp_path):
    torch.manual_seed(0)
    source = ResNetTSM(18, num_segments=4)
    for p in source.parameters():
        p.data.normal_()
    path = tmp_path / "tsm18.pth"
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in source.state_dict().items()}}, path)
    loaded = ResNetTSM(18, num_segments=4, pretrained=str(path), pretrained2d=False)
    loaded.init_weights()
    for k, v in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_temporal_pool_halves_the_frames():
    backbone = ResNetTSM(18, num_segments=8, temporal_pool=True).eval()
    assert "layer2.net.0.conv1.conv.net.weight" in backbone.state_dict()
    assert backbone(torch.randn(2 * 8, 3, 32, 32)).shape == (2 * 4, 512, 1, 1)
