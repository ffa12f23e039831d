"""VideoMAE (``VisionTransformer``): Hugging Face folders, pretrained loading, position-table
interpolation, activation checkpointing and MMAction2's layer-wise lr decay.

MMAction2 parity is in ``test_parity.py`` (fixtures ``videomae_*``); the model contract in
``test_model_contract.py``.
"""

from __future__ import annotations

import logging

import pytest
import torch

from vidlab.engine.optim import build_optimizer
from vidlab.models import hf
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD
from vidlab.models.videomae import VisionTransformer, convert_hf, sinusoid_table

transformers = pytest.importorskip("transformers")


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def _tiny_hf(use_mean_pooling: bool = True):
    cfg = transformers.VideoMAEConfig(
        image_size=32,
        patch_size=16,
        num_frames=4,
        tubelet_size=2,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=5,
        use_mean_pooling=use_mean_pooling,
    )
    torch.manual_seed(0)
    model = transformers.VideoMAEForVideoClassification(cfg).eval()
    with torch.no_grad():  # non-trivial biases and norms (HF initializes them to 0 / 1)
        for p in model.parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn_like(p))
    return model


def _clips(n: int = 2, t: int = 4, size: int = 32) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randint(0, 256, (n, 3, t, size, size), dtype=torch.uint8)


def _hf_logits(model, clips: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1)
    pixels = ((clips.float() - mean) / std).transpose(1, 2)  # (N, T, C, H, W)
    with torch.no_grad():
        return model(pixel_values=pixels).logits


@pytest.mark.parametrize("use_mean_pooling", [True, False])
def test_hugging_face_folder_gives_the_same_logits(tmp_path, use_mean_pooling):
    ref = _tiny_hf(use_mean_pooling)
    ref.save_pretrained(tmp_path)
    model, report = hf.load_hf_model(tmp_path, verbose=False)
    assert report.ok, str(report)
    assert model.backbone.blocks[0].norm1.eps == 1e-12  # config.json's layer_norm_eps
    clips = _clips()
    with torch.no_grad():
        logits = model.eval()(clips)
    assert _rel(logits, _hf_logits(ref, clips)) <= 1e-4


def test_hf_sinusoid_table_is_the_same():
    from transformers.models.videomae.modeling_videomae import get_sinusoid_encoding_table

    assert torch.allclose(sinusoid_table(16, 64), get_sinusoid_encoding_table(16, 64), atol=1e-7)


def test_fine_tune_from_hf_folder_with_new_classes(tmp_path, capsys):
    _tiny_hf().save_pretrained(tmp_path)
    model, report = hf.load_hf_model(tmp_path, num_classes=3)
    assert model.num_classes == 3
    assert sorted(k for k, *_ in report.shape_mismatch) == [
        "cls_head.fc_cls.bias",
        "cls_head.fc_cls.weight",
    ]
    assert not report.missing and not report.unexpected
    assert "shape mismatch, skipped: cls_head.fc_cls.weight (5, 64)" in capsys.readouterr().out


def test_backbone_pretrained_from_hf_folder(tmp_path):
    ref = _tiny_hf()
    ref.save_pretrained(tmp_path)
    cfg = dict(img_size=32, embed_dims=64, depth=2, num_heads=4, mlp_ratio=2, num_frames=4)
    backbone = VisionTransformer(pretrained=str(tmp_path), **cfg)
    report = backbone.init_weights()
    assert report.ok and len(report.loaded) == len(backbone.state_dict())
    w = ref.videomae.encoder.layer[1].attention.attention
    qkv = backbone.blocks[1].attn.qkv.weight
    assert torch.equal(qkv, torch.cat((w.query.weight, w.key.weight, w.value.weight)))
    assert torch.equal(backbone.blocks[1].attn.v_bias, w.value.bias)


def test_convert_hf_rejects_other_layouts():
    assert convert_hf({"blocks.0.attn.qkv.weight": torch.zeros(3, 1)}) is None


def test_position_table_interpolated_once(caplog):
    torch.manual_seed(0)
    vit = VisionTransformer(img_size=64, embed_dims=32, depth=1, num_heads=2, num_frames=8).eval()
    with caplog.at_level(logging.INFO, logger="vidlab.models.videomae"), torch.no_grad():
        assert vit(torch.randn(1, 3, 8, 64, 64)).shape == (1, 32)  # as made: no message
        assert not caplog.records
        vit(torch.randn(1, 3, 4, 32, 32))  # 2 x 2 x 2 tokens instead of 4 x 4 x 4
        vit(torch.randn(1, 3, 4, 32, 32))
    assert len(caplog.records) == 1 and "interpolated" in caplog.records[0].getMessage()
    pos = vit._pos_embed(4, 4, 4)
    assert torch.equal(pos, vit.pos_embed)
    # time only: linear interpolation along t of an unchanged spatial grid
    pos = vit._pos_embed(2, 4, 4).reshape(2, 16, 32)
    table = vit.pos_embed.reshape(4, 16, 32)
    expected = torch.nn.functional.interpolate(table.permute(1, 2, 0), 2, mode="linear")
    assert torch.allclose(pos, expected.permute(2, 0, 1))


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    kw = dict(img_size=32, embed_dims=32, depth=2, num_heads=2, num_frames=4)
    plain = VisionTransformer(**kw)
    cp = VisionTransformer(with_cp=True, **kw)
    cp.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    for m in (plain, cp):
        m.train()
        m(x).square().sum().backward()
    for (name, a), b in zip(plain.named_parameters(), cp.parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


def test_layer_wise_lr_decay_groups_as_mmaction2():
    """MMAction2's ``LearningRateDecayOptimizerConstructor`` with ``get_layer_id_for_vit``:
    pos_embed / patch_embed -> layer 0, blocks.i -> i + 1, fc_norm and the head -> depth + 1;
    1-D parameters and biases without weight decay."""
    from vidlab.models.videomae import _recognizer

    torch.manual_seed(0)
    vit = VisionTransformer(
        img_size=32, embed_dims=32, depth=3, num_heads=2, num_frames=4, use_learnable_pos_emb=True
    )
    model = _recognizer(vit, 5, 32)
    optim = dict(
        optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05),
        constructor="LearningRateDecayOptimizerConstructor",
        paramwise_cfg=dict(num_layers=3, decay_rate=0.75, no_decay_names=()),  # MMAction2's
    )
    setup = build_optimizer(model, optim)
    names = {id(p): n for n, p in model.named_parameters()}
    got = {}
    for g in setup.optimizer.param_groups:
        for p in g["params"]:
            got[names[id(p)]] = (g["lr"], g["weight_decay"])

    def expected(name: str, p: torch.Tensor) -> tuple[float, float]:
        if name in ("backbone.pos_embed",) or name.startswith("backbone.patch_embed"):
            layer = 0
        elif name.startswith("backbone.blocks."):
            layer = int(name.split(".")[2]) + 1
        else:
            layer = 4
        wd = 0.0 if p.ndim == 1 or name.endswith(".bias") else 0.05
        return 1e-3 * 0.75 ** (3 - layer + 1), wd

    assert set(got) == {n for n, _ in model.named_parameters()}
    for name, p in model.named_parameters():
        assert got[name] == pytest.approx(expected(name, p)), name
    assert got["backbone.blocks.0.attn.q_bias"][1] == 0.0  # 1-D: no weight decay
    assert got["backbone.pos_embed"][1] == 0.05  # 3-D: MMAction2 decays it (ndim rule only)


def test_checkpoint_for_another_size_keeps_the_models_position_table(tmp_path):
    torch.manual_seed(0)
    kw = dict(embed_dims=32, depth=1, num_heads=2)
    big = VisionTransformer(img_size=64, num_frames=8, **kw)
    torch.save(
        {"state_dict": {f"backbone.{k}": v for k, v in big.state_dict().items()}},
        tmp_path / "c.pth",
    )
    small = VisionTransformer(img_size=32, num_frames=4, pretrained=str(tmp_path / "c.pth"), **kw)
    table = small.pos_embed.clone()
    report = small.init_weights()
    assert report.ok, str(report)
    assert torch.equal(small.pos_embed, table)
    assert torch.equal(small.blocks[0].attn.qkv.weight, big.blocks[0].attn.qkv.weight)


def test_hf_folder_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        hf.read_hf_folder(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "vivit"}')
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        hf.load_hf_model(tmp_path)
    torch.save({}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="model_type='vivit' is not converted; known: timesformer"):
        hf.load_hf_model(tmp_path)
