"""UniFormer v1 and UniFormerV2: what the parity fixtures and the contract test do not cover.

CLIP / timm weight conversion (OpenAI-CLIP state dicts, MMAction2's extracted encoders, timm CLIP
ViTs), position-embedding interpolation, other frame counts, ``with_cp``, 2D inflation of
UniFormer v1, ``UniFormerHead``'s Kinetics-710 channel map, and the parameter groups (MMEngine's
``paramwise_cfg`` of the zoo configs; layer-wise decay). Tiny models only.
"""

import json
import logging

import pytest
import torch
import torch.nn as nn

from vidlab.config import build
from vidlab.engine.param_groups import (
    DefaultOptimWrapperConstructor,
    LearningRateDecayOptimizerConstructor,
)
from vidlab.models.heads.uniformer import UniFormerHead
from vidlab.models.pretrained import init_pretrained
from vidlab.models.uniformer import UniFormer, inflate_2d, inflate_kernel
from vidlab.models.uniformerv2 import UniFormerV2, convert_clip, resize_pos_embed

TINY_V2 = dict(
    input_resolution=32,
    patch_size=16,
    width=32,
    layers=3,
    heads=2,
    return_list=[1, 2],
    n_layers=2,
    n_dim=32,
    n_head=2,
    mlp_dropout=[0.0, 0.0],
    clip_pretrained=False,
)
TINY_V1 = dict(depth=(1, 1, 1, 1), embed_dim=(8, 16, 32, 64), head_dim=16)


def _v2(**kwargs) -> UniFormerV2:
    torch.manual_seed(0)
    return UniFormerV2(**{**TINY_V2, **kwargs})


def _randomize(model: nn.Module) -> None:
    """Non-zero weights everywhere (the global blocks start at zero)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.1)


def _openai_clip(model: UniFormerV2) -> dict:
    """An OpenAI-CLIP state dict made from ``model``'s CLIP part: ``visual.*`` (2D ``conv1``,
    ``ln_post``, ``proj``) and a few text-tower tensors."""
    sd = {}
    for k, v in model.state_dict().items():
        if k.startswith(("transformer.dpe", "transformer.dec", "transformer.norm")):
            continue
        if k in ("transformer.temporal_cls_token", "transformer.balance"):
            continue
        sd["visual." + k] = v.clone()
    sd["visual.conv1.weight"] = sd["visual.conv1.weight"][:, :, 0]  # (C, 3, p, p)
    width = model.num_features
    sd.update(
        {
            "visual.ln_post.weight": torch.ones(width),
            "visual.ln_post.bias": torch.zeros(width),
            "visual.proj": torch.randn(width, 16),
            "positional_embedding": torch.randn(77, 16),  # the text tower's
            "token_embedding.weight": torch.randn(100, 16),
            "transformer.resblocks.0.ln_1.weight": torch.ones(16),
            "logit_scale": torch.tensor(4.6),
        }
    )
    return sd


def _clip_keys(model: nn.Module) -> set:
    skip = ("transformer.dpe", "transformer.dec", "transformer.norm")
    own = set(model.state_dict())
    return {k for k in own if not k.startswith(skip)} - {
        "transformer.temporal_cls_token",
        "transformer.balance",
    }


def test_openai_clip_state_dict_loads_into_the_clip_part(tmp_path):
    source = _v2()
    _randomize(source)
    path = tmp_path / "ViT-tiny.pt"
    torch.save(_openai_clip(source), path)
    model = _v2(clip_pretrained=True, pretrained=str(path))
    report = init_pretrained(model)[0][1]
    assert set(report.loaded) == _clip_keys(model)
    assert not report.unexpected and not report.shape_mismatch  # text tower, proj, ln_post dropped
    assert all(k.startswith("transformer.") for k in report.missing)  # the video blocks
    for k in _clip_keys(model):
        assert torch.equal(model.state_dict()[k], source.state_dict()[k]), k


def test_timm_clip_vit_keys_are_mapped():
    source = _v2()
    _randomize(source)
    sd = source.state_dict()
    timm = {
        "patch_embed.proj.weight": sd["conv1.weight"][:, :, 0],
        "cls_token": sd["class_embedding"].reshape(1, 1, -1),
        "pos_embed": sd["positional_embedding"].unsqueeze(0),
        "norm_pre.weight": sd["ln_pre.weight"],
        "norm_pre.bias": sd["ln_pre.bias"],
        "norm.weight": torch.ones(32),
        "head.weight": torch.randn(10, 32),
    }
    names = {
        "norm1": "ln_1",
        "norm2": "ln_2",
        "attn.qkv": "attn.in_proj_",
        "attn.proj": "attn.out_proj",
        "mlp.fc1": "mlp.c_fc",
        "mlp.fc2": "mlp.c_proj",
    }
    for i in range(3):
        for new, old in names.items():
            for kind in ("weight", "bias"):
                key = f"transformer.resblocks.{i}.{old}" + ("" if old.endswith("_") else ".")
                timm[f"blocks.{i}.{new}.{kind}"] = sd[key + kind]
    model = _v2()
    converted = convert_clip(timm, model)
    assert set(converted) == _clip_keys(model)
    for k, v in converted.items():
        assert torch.equal(v, sd[k]), k


def test_checkpoint_of_another_grid_is_interpolated_and_clip_kernel_inflated():
    clip = _v2(input_resolution=64).state_dict()  # 4x4 patches
    model = _v2(temporal_downsample=True)  # 2x2 patches, conv1 over 3 frames
    converted = convert_clip({**clip, "conv1.weight": clip["conv1.weight"][:, :, 0]}, model)
    conv = converted["conv1.weight"]
    assert conv.shape == model.conv1.weight.shape
    assert torch.equal(conv[:, :, 1], clip["conv1.weight"][:, :, 0]) and not conv[:, :, 0].any()
    pos = converted["positional_embedding"]
    assert pos.shape == model.positional_embedding.shape
    assert torch.equal(pos[0], clip["positional_embedding"][0])  # the class token's row
    assert torch.allclose(pos[1:], resize_pos_embed(clip["positional_embedding"], 2, 2)[1:])


def test_other_size_and_frame_count_run_and_resize_is_logged_once(caplog):
    model = _v2(t_size=8).eval()
    with caplog.at_level(logging.INFO, logger="vidlab.models.uniformerv2"):
        with torch.no_grad():
            a = model(torch.randn(2, 3, 4, 48, 64))  # 4 frames, 3x4 patches
            model(torch.randn(1, 3, 4, 48, 64))
    assert a.shape == (2, 32)
    assert sum("interpolated from 2x2 to 3x4" in r.message for r in caplog.records) == 1
    # a grid of the model's own size uses the embedding as it is
    pos = model.positional_embedding
    assert model._pos_embed(2, 2) is pos
    resized = model._pos_embed(3, 4)
    assert resized.shape == (13, 32) and torch.equal(resized[0], pos[0])


def test_temporal_mhra_blocks_see_time():
    model = _v2(no_lmhra=False, double_lmhra=True).eval()
    _randomize(model)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        a = model(x)
        b = model(x.flip(2))
    assert not torch.allclose(a, b)  # frame order matters through the 3x1x1 convolutions


@pytest.mark.parametrize("which", ["v1", "v2"])
def test_with_cp_gives_the_same_gradients(which):
    def make(with_cp):
        torch.manual_seed(0)
        if which == "v1":
            return UniFormer(**TINY_V1, with_cp=with_cp)
        return UniFormerV2(**{**TINY_V2, "with_cp": with_cp})

    x = torch.randn(2, 3, 4, 32, 32)
    grads = []
    for with_cp in (False, True):
        model = make(with_cp)
        _randomize(model)
        model.train()
        model(x).square().sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for n, g in grads[0].items():
        assert torch.allclose(g, grads[1][n], rtol=1e-4, atol=1e-6), n


def test_uniformer_v1_shapes_and_2d_inflation():
    model = UniFormer(**TINY_V1).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 8, 64, 64))
    assert out.shape == (1, 64, 4, 2, 2)  # time halved once, space by 32
    own = model.state_dict()
    state_2d = {k: (v[:, :, v.shape[2] // 2] if v.dim() == 5 else v) for k, v in own.items()}
    state_2d["head.weight"] = torch.randn(1000, 64)  # the ImageNet classifier
    converted = inflate_2d(state_2d, model)
    stem = converted["patch_embed1.proj.weight"]
    assert stem.shape == own["patch_embed1.proj.weight"].shape == (8, 3, 3, 4, 4)
    assert torch.equal(stem[:, :, 1], state_2d["patch_embed1.proj.weight"])
    assert not stem[:, :, 0].any() and not stem[:, :, 2].any()
    assert torch.equal(
        inflate_kernel(torch.ones(1, 1, 2, 2), 3).sum((0, 1, 3, 4)), torch.tensor([0.0, 4.0, 0.0])
    )
    assert "head.weight" in converted  # left to the load report


def test_uniformer_head_loads_kinetics710_rows_by_channel_map(tmp_path):
    ckpt = tmp_path / "k710.pth"
    weight, bias = torch.randn(10, 32), torch.randn(10)
    torch.save(
        {"state_dict": {"cls_head.fc_cls.weight": weight, "cls_head.fc_cls.bias": bias}}, ckpt
    )
    rows = [7, 0, 3]
    (tmp_path / "map.json").write_text(json.dumps(rows))
    init_cfg = dict(type="Pretrained", checkpoint=str(ckpt), prefix="cls_head.")
    head = build(
        dict(
            type="UniFormerHead",
            num_classes=3,
            in_channels=32,
            channel_map=str(tmp_path / "map.json"),
            init_cfg=init_cfg,
        )
    )
    assert not torch.equal(head.fc_cls.weight, weight[rows])  # building reads nothing
    report = init_pretrained(head)[0][1]
    assert report.ok
    assert torch.equal(head.fc_cls.weight, weight[rows]) and torch.equal(
        head.fc_cls.bias, bias[rows]
    )
    head.reset_classifier(5)  # a fresh classifier, not the checkpoint's again
    assert head.pretrained is None and head.fc_cls.out_features == 5
    with pytest.raises(ValueError, match="channel_map"):
        UniFormerHead(3, 32, init_cfg=init_cfg)


def test_backbone_init_cfg_names_the_checkpoint_but_building_reads_nothing(tmp_path):
    source = _v2()
    _randomize(source)
    path = tmp_path / "k710.pth"
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in source.state_dict().items()}}, path)
    model = _v2(init_cfg=dict(type="Pretrained", checkpoint=str(path), prefix="backbone."))
    assert model.pretrained == str(path)
    assert not torch.equal(model.transformer.balance, source.transformer.balance)
    report = init_pretrained(model)[0][1]
    assert report.ok
    for k, v in source.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def _recognizer(**kwargs):
    return build(
        dict(
            type="Recognizer3D",
            backbone=dict(type="UniFormerV2", **{**TINY_V2, **kwargs}),
            cls_head=dict(type="UniFormerHead", num_classes=5, in_channels=32),
        )
    )


def test_zoo_paramwise_cfg_groups_as_mmengine():
    """The zoo's ``paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)``: MMEngine
    exempts norm layers and parameters named ``bias``; ``in_proj_bias``, the embeddings, the
    video token and ``balance`` keep weight decay (checked against MMEngine 0.10 on the full
    ViT-B/16 config: all 219 parameters agree)."""
    model = _recognizer()
    ctor = DefaultOptimWrapperConstructor(
        dict(optimizer=dict(type="AdamW", lr=1e-5, weight_decay=0.05)),
        dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    )
    wd = {n: g.options["weight_decay"] for g in ctor.param_groups(model) for n in g.names}
    assert len(wd) == len(list(model.parameters()))
    for name, value in wd.items():
        leaf = name.rsplit(".", 1)[-1]
        norm = ".ln_" in name or ".norm." in name
        expected = 0.0 if (norm or leaf == "bias") else 0.05
        assert value == expected, name
    assert wd["backbone.positional_embedding"] == 0.05
    assert wd["backbone.transformer.resblocks.0.attn.in_proj_bias"] == 0.05


def test_layer_wise_decay_groups_clip_layers():
    model = _recognizer()
    ctor = LearningRateDecayOptimizerConstructor(
        dict(optimizer=dict(type="AdamW", lr=1.0, weight_decay=0.05)),
        dict(num_layers=3, decay_rate=0.5),
    )
    groups = {n: g for g in ctor.param_groups(model) for n in g.names}
    assert len(groups) == len(list(model.parameters()))

    def lr(name):
        return groups[name].options["lr"]

    for name in ("conv1.weight", "class_embedding", "positional_embedding", "ln_pre.weight"):
        assert lr(f"backbone.{name}") == 0.5**4, name  # id 0
    for i in range(3):
        assert lr(f"backbone.transformer.resblocks.{i}.mlp.c_fc.weight") == 0.5 ** (3 - i)
    for name in ("backbone.transformer.dec.0.attn.in_proj_weight", "cls_head.fc_cls.weight"):
        assert lr(name) == 1.0  # id num_layers + 1
    assert groups["backbone.class_embedding"].options["weight_decay"] == 0.0  # 1-D
    assert groups["backbone.transformer.resblocks.0.attn.in_proj_bias"].options["weight_decay"] == 0
    assert groups["backbone.conv1.weight"].label == "layer_0_decay"
