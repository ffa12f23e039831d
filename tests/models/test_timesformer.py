"""TimeSformer: Hugging Face folders, image-ViT initialisation (timm and MMAction2 layouts),
embedding interpolation, activation checkpointing and the configs' no-weight-decay keys.

MMAction2 parity is in ``test_parity.py`` (fixtures ``timesformer_*``); the model contract in
``test_model_contract.py``.
"""

from __future__ import annotations

import logging

import pytest
import torch

from vidlab.engine.optim import build_optimizer
from vidlab.models import hf
from vidlab.models.timesformer import TimeSformer, _recognizer, convert_checkpoint

transformers = pytest.importorskip("transformers")

TINY = dict(num_frames=4, img_size=32, patch_size=16, embed_dims=32, num_heads=2)


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def _tiny_hf(attention_type: str):
    cfg = transformers.TimesformerConfig(
        image_size=32,
        patch_size=16,
        num_frames=4,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        num_labels=5,
        attention_type=attention_type,
    )
    torch.manual_seed(0)
    model = transformers.TimesformerForVideoClassification(cfg).eval()
    with torch.no_grad():  # HF zero-inits biases, embeddings and temporal_dense: randomize all
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize("attention_type", ["divided_space_time", "joint_space_time"])
def test_hugging_face_folder_gives_the_same_logits(tmp_path, attention_type):
    ref = _tiny_hf(attention_type)
    ref.save_pretrained(tmp_path)
    model, report = hf.load_hf_model(tmp_path, verbose=False)
    assert report.ok, str(report)
    assert model.backbone.attention_type == attention_type
    torch.manual_seed(1)
    clips = torch.randint(0, 256, (2, 3, 4, 32, 32), dtype=torch.uint8)
    pixels = ((clips.float() - 127.5) / 127.5).transpose(1, 2)  # (N, T, C, H, W)
    with torch.no_grad():
        expected = ref(pixel_values=pixels).logits
        logits = model.eval()(clips)
    assert _rel(logits, expected) <= 1e-4


def test_hf_space_only_is_refused_clearly(tmp_path):
    ref = _tiny_hf("divided_space_time")
    ref.config.attention_type = "space_only"
    ref.save_pretrained(tmp_path)
    with pytest.raises(NotImplementedError, match="space_only"):
        hf.load_hf_model(tmp_path, verbose=False)


def _timm_vit_state(depth: int = 2, d: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    state = {
        "cls_token": torch.randn(1, 1, d, generator=g),
        "pos_embed": torch.randn(1, 5, d, generator=g),
        "patch_embed.proj.weight": torch.randn(d, 3, 16, 16, generator=g),
        "patch_embed.proj.bias": torch.randn(d, generator=g),
        "norm.weight": torch.randn(d, generator=g),
        "norm.bias": torch.randn(d, generator=g),
        "head.weight": torch.randn(1000, d, generator=g),
        "head.bias": torch.randn(1000, generator=g),
    }
    shapes = {
        "norm1.weight": (d,),
        "norm1.bias": (d,),
        "attn.qkv.weight": (3 * d, d),
        "attn.qkv.bias": (3 * d,),
        "attn.proj.weight": (d, d),
        "attn.proj.bias": (d,),
        "norm2.weight": (d,),
        "norm2.bias": (d,),
        "mlp.fc1.weight": (4 * d, d),
        "mlp.fc1.bias": (4 * d,),
        "mlp.fc2.weight": (d, 4 * d),
        "mlp.fc2.bias": (d,),
    }
    for i in range(depth):
        for k, s in shapes.items():
            state[f"blocks.{i}.{k}"] = torch.randn(s, generator=g)
    return state


@pytest.mark.parametrize("attention_type", ["divided_space_time", "space_only"])
def test_image_vit_from_timm(tmp_path, attention_type):
    state = _timm_vit_state()
    torch.save(state, tmp_path / "vit.pth")
    model = TimeSformer(pretrained=str(tmp_path / "vit.pth"), attention_type=attention_type, **TINY)
    model.num_transformer_layers = 2
    model.transformer_layers.layers = model.transformer_layers.layers[:2]
    report = model.init_weights()
    assert not report.unexpected and not report.shape_mismatch
    if attention_type == "space_only":
        assert not report.missing
        norm = model.transformer_layers.layers[1].norms[0].weight
        assert torch.equal(norm, state["blocks.1.norm1.weight"])
        return
    # divided: the image attention initialises both attentions; their norms are renamed
    assert sorted(report.missing) == ["time_embed"] + [
        f"transformer_layers.layers.{i}.attentions.0.temporal_fc.{w}"
        for i in range(2)
        for w in ("bias", "weight")
    ]
    layer = model.transformer_layers.layers[1]
    for attn in layer.attentions:
        assert torch.equal(attn.attn.in_proj_weight, state["blocks.1.attn.qkv.weight"])
        assert torch.equal(attn.norm.weight, state["blocks.1.norm1.weight"])
    assert torch.equal(layer.ffns[0].norm.weight, state["blocks.1.norm2.weight"])
    assert layer.attentions[0].temporal_fc.weight.abs().sum() == 0  # a block starts as the ViT


def test_mmaction2_image_vit_layout_renamed_as_mmaction2_does():
    model = TimeSformer(**TINY)
    key = "transformer_layers.layers.0."
    state = {
        key + "norms.0.weight": torch.ones(32),
        key + "norms.1.weight": torch.full((32,), 2.0),
        key + "attentions.0.attn.in_proj_bias": torch.full((96,), 3.0),
    }
    out = convert_checkpoint(state, model)
    assert torch.equal(out[key + "attentions.0.norm.weight"], state[key + "norms.0.weight"])
    assert torch.equal(out[key + "attentions.1.norm.weight"], state[key + "norms.0.weight"])
    assert torch.equal(out[key + "ffns.0.norm.weight"], state[key + "norms.1.weight"])
    assert torch.equal(out[key + "attentions.1.attn.in_proj_bias"], torch.full((96,), 3.0))
    assert convert_checkpoint(dict(model.state_dict()), model) is None  # its own layout


def test_embeddings_interpolated_once(caplog):
    torch.manual_seed(0)
    model = TimeSformer(num_transformer_layers=1, **TINY).eval()
    with caplog.at_level(logging.INFO, logger="vidlab.models.timesformer"), torch.no_grad():
        assert model(torch.randn(1, 3, 4, 32, 32)).shape == (1, 32)
        assert not caplog.records
        assert model(torch.randn(1, 3, 8, 64, 64)).shape == (1, 32)
        model(torch.randn(1, 3, 2, 64, 64))
    assert len(caplog.records) == 1
    pos = model._pos_embed(4, 4)  # nearest: each of the 2x2 positions covers a 2x2 block
    assert torch.equal(pos[0, 0], model.pos_embed[0, 0])  # the class token's, as it is
    assert torch.equal(pos[0, 1], model.pos_embed[0, 1])
    assert torch.equal(pos[0, 2], model.pos_embed[0, 1])
    assert torch.equal(model._time_embed(8)[0, 1], model.time_embed[0, 0])


@pytest.mark.parametrize(("size_in", "size_out"), [(14, 2), (14, 4), (8, 3), (4, 8), (3, 5)])
def test_nearest_index_is_interpolate_nearest(size_in, size_out):
    x = torch.randn(1, size_in, 5)
    expected = torch.nn.functional.interpolate(x.transpose(1, 2), size_out, mode="nearest")
    assert torch.equal(TimeSformer._nearest(x, size_out, 1), expected.transpose(1, 2))


@pytest.mark.parametrize("attention_type", ["divided_space_time", "joint_space_time"])
def test_with_cp_gives_the_same_gradients(attention_type):
    torch.manual_seed(0)
    kw = dict(num_transformer_layers=2, attention_type=attention_type, drop_path_rate=0.0)
    plain = TimeSformer(**TINY, **kw)
    cp = TimeSformer(with_cp=True, **TINY, **kw)
    cp.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    for m in (plain, cp):
        m.train()
        m(x).square().sum().backward()
    for (name, a), b in zip(plain.named_parameters(), cp.parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


def test_config_keys_turn_weight_decay_off_for_embeddings():
    """The configs' ``custom_keys`` ('.backbone.cls_token', ...) match as in MMAction2's
    distributed training, where the model is wrapped (``module.backbone.cls_token``)."""
    model = _recognizer(TimeSformer(num_transformer_layers=1, **TINY), 5, 32)
    optim = dict(
        optimizer=dict(type="SGD", lr=0.005, momentum=0.9, weight_decay=1e-4, nesterov=True),
        paramwise_cfg=dict(
            custom_keys={
                ".backbone.cls_token": dict(decay_mult=0.0),
                ".backbone.pos_embed": dict(decay_mult=0.0),
                ".backbone.time_embed": dict(decay_mult=0.0),
            }
        ),
    )
    setup = build_optimizer(model, optim)
    names = {id(p): n for n, p in model.named_parameters()}
    wd = {
        names[id(p)]: g["weight_decay"] for g in setup.optimizer.param_groups for p in g["params"]
    }
    for key in ("cls_token", "pos_embed", "time_embed"):
        assert wd[f"backbone.{key}"] == 0.0
    assert wd["backbone.patch_embed.projection.weight"] == 1e-4
    assert wd["cls_head.fc_cls.weight"] == 1e-4


def test_checkpoint_for_other_frames_and_size_is_resized(tmp_path, caplog):
    """A checkpoint made for 8 frames at 64 px initialises a 4-frame, 32-px model."""
    torch.manual_seed(0)
    big = TimeSformer(num_transformer_layers=1, **{**TINY, "num_frames": 8, "img_size": 64})
    torch.save(
        {"state_dict": {f"backbone.{k}": v for k, v in big.state_dict().items()}},
        tmp_path / "c.pth",
    )
    small = TimeSformer(num_transformer_layers=1, pretrained=str(tmp_path / "c.pth"), **TINY)
    with caplog.at_level(logging.INFO, logger="vidlab.models.timesformer"):
        report = small.init_weights()
    assert report.ok, str(report)
    assert len(caplog.records) == 2  # time, then position
    assert torch.equal(small.time_embed, big.time_embed[:, ::2])
    assert torch.equal(small.pos_embed[:, 0], big.pos_embed[:, 0])
    assert torch.equal(small.pos_embed[:, 2], big.pos_embed[:, 3])  # patch (0, 1) <- (0, 2)
