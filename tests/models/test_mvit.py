"""MViTv2 beyond the parity fixtures: PySlowFast files, resized position tables, the one-time
note of an interpolated input size, activation checkpointing, and MMAction2's param groups."""

import json
import logging
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vidlab.checkpoint import load_weights
from vidlab.engine.optim import build_optimizer
from vidlab.models import create_model
from vidlab.models.mvit import _mvit
from vidlab.models.pretrained import init_pretrained

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
# 3 blocks, one downscale (2 scales): 4 x 32 x 32 clips give 2 x 8 x 8 tokens
TINY = dict(embed_dims=8, num_layers=3, num_heads=1, downscale_indices=[1])


def _tiny(num_classes: int = 7, seed: int = 0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault("spatial_size", 32)
    return _mvit(TINY, num_classes, temporal_size=4, **kwargs).eval()


def _clips(size: int = 32, n: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.randint(0, 256, (n, 3, 4, size, size), generator=g, dtype=torch.uint8)


def _to_pyslowfast(state: dict, separate_qkv: bool = False) -> dict:
    """vidlab keys -> PySlowFast's MViTv2 names (SlowFast/slowfast/models/video_model_builder.py:
    ``patch_embed.proj``, ``norm``, ``head.projection``; optionally ``attn.q/k/v``)."""
    out = {}
    for key, value in state.items():
        if key.startswith("cls_head."):
            out[key.replace("cls_head.fc_cls.", "head.projection.")] = value
            continue
        key = key.removeprefix("backbone.")
        key = key.replace("patch_embed.projection.", "patch_embed.proj.")
        if key.startswith("norm1."):  # the last scale's norm of the 2-scale tiny net
            key = "norm." + key[len("norm1.") :]
        if separate_qkv and ".attn.qkv." in key:
            for part, chunk in zip("qkv", value.chunk(3, dim=0)):
                out[key.replace(".qkv.", f".{part}.")] = chunk.clone()
            continue
        out[key] = value
    return out


def _pyth(path: Path, state: dict) -> Path:
    """A file as PySlowFast's ``save_checkpoint`` writes it (its optimizer groups lack
    ``layer_decay``, the key whose absence breaks PySlowFast's own fine-tuning)."""
    optimizer_state = {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}
    torch.save(
        {"epoch": 30, "model_state": state, "optimizer_state": optimizer_state, "cfg": "MVIT: {}"},
        path,
    )
    return path


@pytest.mark.parametrize("separate_qkv", [False, True])
def test_pyslowfast_file_loads_with_the_same_logits(tmp_path, separate_qkv):
    source = _tiny(seed=1)
    state = _to_pyslowfast(source.state_dict(), separate_qkv)
    assert "patch_embed.proj.weight" in state and "head.projection.weight" in state
    path = _pyth(tmp_path / "mvit.pyth", state)
    model = _tiny(seed=2)
    report = load_weights(model, str(path), strict=True)  # 0 missing, 0 unexpected
    assert report.ok
    with torch.no_grad():
        assert torch.equal(model(_clips()), source(_clips()))


def test_fine_tuning_from_pyslowfast_reports_the_new_head(tmp_path):
    path = _pyth(tmp_path / "k400.pyth", _to_pyslowfast(_tiny(num_classes=7).state_dict()))
    model = _tiny(num_classes=3)
    report = load_weights(model, str(path), strict=False)
    assert [k for k, *_ in report.shape_mismatch] == [
        "cls_head.fc_cls.weight",
        "cls_head.fc_cls.bias",
    ]
    assert not report.unexpected and not report.missing
    assert "cls_head.fc_cls" in str(report)


def test_pretrained_backbone_from_another_size(tmp_path):
    """``pretrained=`` of a file built for 32 px into a model built for 64 px: the position
    tables are resized linearly (MMAction2 does so for MaskFeat weights); a PySlowFast file
    loads its backbone part; ``init_cfg=dict(type='Pretrained', ...)`` is read as
    ``pretrained``."""
    small = _tiny(seed=1)
    pyth = _pyth(tmp_path / "a.pyth", _to_pyslowfast(small.state_dict()))
    mm = tmp_path / "b.pth"
    torch.save({"state_dict": small.state_dict()}, mm)
    init_cfg = dict(type="Pretrained", checkpoint=str(mm), prefix="backbone.")  # the SSv2 config
    for kwargs in (dict(pretrained=str(pyth)), dict(pretrained=str(mm)), dict(init_cfg=init_cfg)):
        model = _tiny(spatial_size=64, **kwargs)
        [(name, report)] = init_pretrained(model)
        assert name == "backbone" and report.ok, str(report)
        table = small.backbone.blocks[0].attn.rel_pos_h  # (2 * 8 - 1, C) for 8 x 8 tokens
        resized = model.backbone.blocks[0].attn.rel_pos_h
        assert table.shape[0] == 15 and resized.shape[0] == 31
        expected = F.interpolate(table.detach().t()[None], size=31, mode="linear")[0].t()
        assert torch.allclose(resized, expected)
        assert torch.equal(
            model.backbone.patch_embed.projection.weight,
            small.backbone.patch_embed.projection.weight,
        )


def test_another_input_size_is_noted_once(caplog):
    model = _tiny(use_abs_pos_embed=True)
    with caplog.at_level(logging.INFO, logger="vidlab.models.mvit"), torch.no_grad():
        model(_clips(32))
        assert not caplog.records
        first = model(_clips(48))
        model(_clips(48))
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and "2x12x12" in notes[0] and "2x8x8" in notes[0]
    assert "relative position tables and pos_embed are interpolated" in notes[0]
    assert first.shape == (2, 7) and torch.isfinite(first).all()


def test_with_cp_gives_the_same_gradients():
    grads = []
    for with_cp in (False, True):
        model = _tiny(seed=4, with_cp=with_cp, drop_path_rate=0.0).train()
        model.cls_head.dropout = None
        model(_clips()).logsumexp(1).sum().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name, grad in grads[0].items():
        assert torch.allclose(grad, grads[1][name], rtol=1e-5, atol=1e-7), name


@pytest.mark.parametrize(
    "name,variant",
    [
        ("mvit_small_maskfeat", "mvit_small_maskfeat_16x4x1"),
        ("mvit_small_k400", "mvit_small_16x4x1"),
    ],
)
def test_param_groups_as_mmaction2(name, variant):
    """Every parameter gets MMAction2's learning rate and weight decay: layer-wise decay
    (patch embedding and cls token id 0, block i id i+1, the rest last; 1-D tensors and biases
    without decay, the cls token and position tables with it, as MMAction2), or the config's
    norm_decay_mult=0 / bias_decay_mult=0."""
    fixture = json.loads((FIXTURES / f"param_groups_{name}.json").read_text())
    with torch.device("meta"):
        model = create_model(variant)
    optim = fixture["optim_wrapper"]
    if optim.get("constructor") == "LearningRateDecayOptimizerConstructor":
        optim["paramwise_cfg"]["no_decay_names"] = ()  # MMAction2's grouping exactly
    setup = build_optimizer(model, optim)
    names = {id(p): n for n, p in model.named_parameters()}
    got = {}
    for group in setup.optimizer.param_groups:
        for p in group["params"]:
            got[names[id(p)]] = [group["lr"], group["weight_decay"]]
    assert got.keys() == fixture["params"].keys()
    for key, (lr, wd) in fixture["params"].items():
        assert got[key][0] == pytest.approx(lr, rel=1e-12), key
        assert got[key][1] == pytest.approx(wd, rel=1e-12), key
