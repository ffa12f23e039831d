"""The audio family's own points (the contract and parity tests cover the rest): MMAction2's
state-dict names, ``ConvAudio``'s unused padding, ``ResNetAudio``'s factorization, freezing
and residual init, and the ``(N, C, T, F)`` input."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from vidlab.config import build
from vidlab.models import create_model
from vidlab.models.audio import ConvAudio, RecognizerAudio, ResNetAudio


def test_state_dict_names_are_mmaction2s():
    keys = set(create_model("audio_only_r50_64x1x1").state_dict())
    for key in (
        "backbone.conv1.conv.conv_1.conv.weight",  # the stem: ConvAudio(op='sum') in ConvModule
        "backbone.conv1.conv.conv_2.bn.running_var",
        "backbone.conv1.bn.weight",
        "backbone.layer1.0.conv2.conv.conv_1.conv.weight",  # factorized 3x3 (stages 1-2)
        "backbone.layer3.0.conv2.conv.weight",  # plain 3x3 (stages 3-4)
        "backbone.layer1.0.downsample.bn.bias",
        "cls_head.fc_cls.weight",
    ):
        assert key in keys, key
    assert not any(k.startswith("backbone.layer3.0.conv2.bn") for k in keys)  # no norm there


def test_conv_audio_pads_half_its_kernel_whatever_it_is_given():
    torch.manual_seed(0)
    conv = ConvAudio(2, 4, 3, op="concat", stride=2, padding=5, dilation=3).eval()
    x = torch.randn(1, 2, 9, 7)
    assert conv(x).shape == (1, 8, 5, 4)  # as padding=1, dilation=1: MMAction2 ignores both
    total = ConvAudio(2, 4, (9, 5), op="sum").eval()
    assert total(x).shape == (1, 4, 9, 7)
    with pytest.raises(ValueError, match="op"):
        ConvAudio(2, 4, 3, op="max")


def test_resnet_audio_stages_and_init():
    net = ResNetAudio(depth=50, factorize=(1, 0, 1, 0))
    assert net.layer1[0].conv3.conv.in_channels == 2 * 32  # factorized: two branches concatenated
    assert net.layer2[0].conv3.conv.in_channels == 64
    assert net.feat_dim == 1024
    assert all(not b.conv3.bn.weight.any() for b in net.modules() if hasattr(b, "conv3"))
    x = torch.randn(2, 1, 64, 40)
    assert net.eval()(x).shape == (2, 1024, 8, 5)
    with pytest.raises(KeyError, match="depth 18"):
        ResNetAudio(depth=18)
    with pytest.raises(ValueError, match="factorize"):
        ResNetAudio(depth=50, factorize=(1, 1))


def test_frozen_stem_keeps_convaudio_norms_updating_as_mmaction2():
    net = ResNetAudio(depth=50, frozen_stages=1, norm_eval=False).train()
    assert not any(p.requires_grad for p in net.conv1.parameters())
    assert not any(p.requires_grad for p in net.layer1.parameters())
    assert all(p.requires_grad for p in net.layer2.parameters())
    assert not net.conv1.bn.training and not net.layer1.training
    assert net.conv1.conv.conv_1.bn.training  # MMAction2 puts only the stem's outer BN in eval
    net = ResNetAudio(depth=50, norm_eval=True).train()
    assert not any(m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def test_recognizer_takes_nctf_features():
    model = create_model("audio_tsn_r18_64x1x1", num_classes=3).eval()
    feats = torch.rand(2, 1, 64, 40)
    with torch.no_grad():
        assert model(feats).shape == (2, 3)
    with pytest.raises(ValueError, match=r"\(N, C, T, F\)"):
        model(feats.unsqueeze(1))  # views not flattened


def test_mmaction2_model_dict_builds_the_variant():
    node = dict(
        type="RecognizerAudio",
        backbone=dict(type="ResNet", depth=18, in_channels=1, norm_eval=False),
        cls_head=dict(
            type="TSNAudioHead",
            num_classes=400,
            in_channels=512,
            dropout_ratio=0.5,
            init_std=0.01,
            average_clips="prob",
        ),
    )
    model = build(node, key_path="model")
    assert isinstance(model, RecognizerAudio) and model.cls_head.average_clips == "prob"
    ref = create_model("audio_tsn_r18_64x1x1")
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
