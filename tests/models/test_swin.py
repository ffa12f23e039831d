"""Video Swin (``vidlab.models.swin``): windows, masks, bias, attention, loading and grouping.

MMAction2's outputs are checked by the parity fixtures (``swin_*`` in tests/fixtures/parity);
here the pieces are checked against literal re-statements of MMAction2's definitions.
"""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vidlab.config import build, load_config
from vidlab.engine.param_groups import (
    LearningRateDecayOptimizerConstructor,
    SwinOptimWrapperConstructor,
)
from vidlab.models import swin as S
from vidlab.models.layers import window_attention as W
from vidlab.models.layers.drop_path import DropPath

MICRO = dict(embed_dims=16, depths=[2, 2], num_heads=[2, 4])
MM_CONFIGS = Path.home() / ".cache/mmaction2-ref/venv/lib/python3.11/site-packages/mmaction/.mim"


def _micro(**kwargs) -> S.SwinTransformer3D:
    torch.manual_seed(0)
    kwargs.setdefault("window_size", (2, 3, 3))
    return S.SwinTransformer3D(arch=MICRO, out_indices=(1,), **kwargs)


def _mask_by_slices(dims, window, shift) -> torch.Tensor:
    """MMAction2's ``compute_mask`` as it reads: three slices per axis numbered in order."""
    img = torch.zeros((1, *dims, 1))
    cnt = 0
    for d in (slice(-window[0]), slice(-window[0], -shift[0]), slice(-shift[0], None)):
        for h in (slice(-window[1]), slice(-window[1], -shift[1]), slice(-shift[1], None)):
            for w in (slice(-window[2]), slice(-window[2], -shift[2]), slice(-shift[2], None)):
                img[:, d, h, w, :] = cnt
                cnt += 1
    ids = W.window_partition(img, window).squeeze(-1)
    diff = ids.unsqueeze(1) - ids.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


@pytest.mark.parametrize(
    "dims, window, shift",
    [
        ((8, 14, 14), (4, 7, 7), (2, 3, 3)),
        ((16, 6, 6), (8, 6, 6), (4, 0, 0)),
        ((4, 8, 8), (2, 4, 4), (1, 2, 2)),
    ],
)
def test_shifted_window_mask_is_mmaction2s(dims, window, shift):
    assert torch.equal(
        W.compute_mask(dims, window, shift, "cpu"), _mask_by_slices(dims, window, shift)
    )


def test_window_partition_round_trip_and_window_size():
    x = torch.randn(2, 4, 6, 9, 5)
    windows = W.window_partition(x, (2, 3, 3))
    assert windows.shape == (2 * 2 * 2 * 3, 18, 5)
    assert torch.equal(windows[0], x[0, :2, :3, :3].reshape(18, 5))
    assert torch.equal(W.window_reverse(windows, (2, 3, 3), 2, 4, 6, 9), x)
    # an axis no longer than the window: the whole axis, and no shift anywhere along it
    assert W.get_window_size((4, 16, 7), (8, 7, 7), (4, 3, 3)) == ((4, 7, 7), (0, 3, 0))


def test_relative_position_index_is_the_definition():
    wd, wh, ww = 2, 3, 4
    index = W._relative_position_index((wd, wh, ww))
    coords = [(d, h, w) for d in range(wd) for h in range(wh) for w in range(ww)]
    for i, (d1, h1, w1) in enumerate(coords):
        for j, (d2, h2, w2) in enumerate(coords):
            rel = (d1 - d2 + wd - 1, h1 - h2 + wh - 1, w1 - w2 + ww - 1)
            assert (
                index[i, j] == rel[0] * (2 * wh - 1) * (2 * ww - 1) + rel[1] * (2 * ww - 1) + rel[2]
            )


@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_attention_equals_explicit_attention(masked):
    torch.manual_seed(0)
    attn = W.WindowAttention3D(16, (2, 3, 3), num_heads=2, qk_scale=0.3).eval()
    torch.nn.init.normal_(attn.relative_position_bias_table)
    n_windows, n = 3, 12  # a window shrunk to 12 tokens: the first 12 x 12 of the index
    x = torch.randn(2 * n_windows, n, 16)
    mask = (torch.rand(n_windows, n, n) > 0.5).float() * -100 if masked else None
    # MMAction2's explicit formula
    q, k, v = attn.qkv(x).reshape(2 * n_windows, n, 3, 2, 8).permute(2, 0, 3, 1, 4)
    scores = (q * 0.3) @ k.transpose(-2, -1)
    bias = attn.relative_position_bias_table[attn.relative_position_index[:n, :n].reshape(-1)]
    scores = scores + bias.reshape(n, n, 2).permute(2, 0, 1)
    if masked:
        scores = (scores.view(2, n_windows, 2, n, n) + mask[None, :, None]).view(-1, 2, n, n)
    expected = attn.proj((F.softmax(scores, -1) @ v).transpose(1, 2).reshape(-1, n, 16))
    with torch.no_grad():
        torch.testing.assert_close(attn(x, mask), expected, rtol=1e-5, atol=1e-5)


def test_backbone_shapes_padding_and_out_indices():
    model = S.SwinTransformer3D(arch=MICRO, window_size=(2, 3, 3), out_indices=(0, 1)).eval()
    with torch.no_grad():
        a, b = model(torch.randn(1, 3, 5, 18, 22))  # odd sizes: padded patches and windows
    assert a.shape == (1, 16, 3, 5, 6) and b.shape == (1, 32, 3, 3, 3)
    assert model.num_features == [16, 32]


def test_with_cp_gives_the_same_gradients():
    x = torch.randn(2, 3, 4, 16, 16)
    grads = []
    for with_cp in (False, True):
        model = _micro(with_cp=with_cp, drop_path_rate=0.0)
        model(x).square().mean().backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, msg=name)


def test_frozen_stages():
    model = _micro(frozen_stages=1).train()
    assert not any(p.requires_grad for p in model.patch_embed.parameters())
    assert not any(p.requires_grad for p in model.layers[0].parameters())
    assert all(p.requires_grad for p in model.layers[1].parameters())
    assert not model.layers[0].training and model.layers[1].training


def test_drop_path_is_stochastic_depth():
    layer = DropPath(0.5).train()
    torch.manual_seed(0)
    out = layer(torch.ones(64, 3, 2))
    kept = out[:, 0, 0]
    assert set(kept.tolist()) <= {0.0, 2.0} and 0 < kept.sum() < 128
    assert torch.equal(layer.eval()(torch.ones(4, 3)), torch.ones(4, 3))


def test_2d_imagenet_swin_inflates_as_mmaction2(caplog):
    arch = dict(embed_dims=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2])
    model = S.SwinTransformer3D(arch=arch, window_size=(2, 3, 3), pretrained="2d.pth")
    own = model.state_dict()
    torch.manual_seed(1)
    state = {"layers.0.blocks.0.attn_mask": torch.zeros(4, 49, 49)}  # 2D Swin's buffers
    for key, value in own.items():
        if key.endswith("relative_position_index"):
            state[key] = torch.zeros(49, 49, dtype=torch.long)  # a 7x7 window's: dropped
        elif key.endswith("relative_position_bias_table"):
            state[key] = torch.randn(13 * 13, value.shape[1])  # a 7x7 window's table
        elif key == "patch_embed.proj.weight":
            state[key] = torch.randn(8, 3, 4, 4)
        elif key.startswith("norm3."):
            state["norm." + key.split(".")[1]] = torch.randn(value.shape)
        else:
            state[key] = torch.randn(value.shape)
    with caplog.at_level("WARNING", logger="vidlab.models.swin"):
        converted = S.inflate_swin2d(state, model)
    assert len(caplog.records) == 1 and "13 offsets a side" in caplog.text  # once, not per block
    assert "layers.0.blocks.0.attn_mask" not in converted and "norm.weight" not in converted
    assert converted["norm3.weight"] is state["norm.weight"]
    kernel = converted["patch_embed.proj.weight"]
    assert kernel.shape == (8, 3, 2, 4, 4)
    torch.testing.assert_close(kernel.sum(2), state["patch_embed.proj.weight"])
    table = converted["layers.0.blocks.0.attn.relative_position_bias_table"]
    assert table.shape == (3 * 5 * 5, 1)  # 5x5 spatial offsets, repeated over 3 temporal ones
    assert torch.equal(table[:25], table[25:50]) and torch.equal(table[:25], table[50:])
    index = "layers.0.blocks.0.attn.relative_position_index"
    assert torch.equal(converted[index], own[index])
    report = S.load_pretrained(model, state, S.inflate_swin2d)
    assert report.ok, report
    assert S.inflate_swin2d(own, model) is None  # a 3D file loads as it is


def test_swin_optimizer_groups_as_mmaction2():
    """The Swin configs' paramwise_cfg (top-level keys, every match applies, multipliers
    multiply): norms and bias tables get no weight decay, the backbone a tenth of the lr."""
    from vidlab.models.heads.i3d import I3DHead
    from vidlab.models.recognizer import Recognizer3D

    model = Recognizer3D(backbone=_micro(), cls_head=I3DHead(4, 32))
    ctor = SwinOptimWrapperConstructor(
        dict(optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.02)),
        dict(
            absolute_pos_embed=dict(decay_mult=0.0),
            relative_position_bias_table=dict(decay_mult=0.0),
            norm=dict(decay_mult=0.0),
            backbone=dict(lr_mult=0.1),
        ),
    )
    opts = {n: g.options for g in ctor.param_groups(model) for n in g.names}
    assert opts["backbone.layers.0.blocks.0.norm1.weight"] == {"lr": 1e-4, "weight_decay": 0.0}
    assert opts["backbone.layers.0.downsample.norm.bias"] == {"lr": 1e-4, "weight_decay": 0.0}
    key = "backbone.layers.1.blocks.1.attn.relative_position_bias_table"
    assert opts[key] == {"lr": 1e-4, "weight_decay": 0.0}
    assert opts["backbone.layers.1.blocks.1.attn.qkv.bias"] == {"lr": 1e-4, "weight_decay": 0.02}
    assert opts["backbone.norm1.weight"]["weight_decay"] == 0.0
    assert opts["cls_head.fc_cls.weight"] == {"lr": 1e-3, "weight_decay": 0.02}
    assert len(opts) == sum(1 for _ in model.parameters())


def test_stage_wise_lr_decay_groups_swin_stages():
    from vidlab.models.heads.i3d import I3DHead
    from vidlab.models.recognizer import Recognizer3D

    model = Recognizer3D(backbone=_micro(), cls_head=I3DHead(4, 32))
    ctor = LearningRateDecayOptimizerConstructor(
        dict(optimizer=dict(type="AdamW", lr=1.0, weight_decay=0.05)),
        dict(num_layers=2, decay_rate=0.5, decay_type="stage_wise"),
    )
    opts = {n: g.options for g in ctor.param_groups(model) for n in g.names}
    assert opts["backbone.patch_embed.proj.weight"] == {"lr": 0.125, "weight_decay": 0.05}
    assert opts["backbone.layers.0.blocks.1.mlp.fc1.weight"]["lr"] == 0.25
    assert opts["backbone.layers.1.blocks.0.attn.qkv.weight"]["lr"] == 0.5
    assert opts["backbone.layers.1.blocks.0.attn.qkv.bias"]["weight_decay"] == 0.0
    assert opts["cls_head.fc_cls.weight"]["lr"] == 1.0


@pytest.mark.skipif(not MM_CONFIGS.exists(), reason="MMAction2's reference configs not installed")
@pytest.mark.parametrize(
    "path", sorted((MM_CONFIGS / "configs/recognition/swin").glob("*.py")), ids=lambda p: p.stem
)
def test_mmaction2_swin_configs_build_unmodified(path):
    cfg = load_config(path)
    with torch.device("meta"):  # no memory, no init work: Swin-L is 197M parameters
        model = build(cfg.model)
    assert isinstance(model.backbone, S.SwinTransformer3D)
    assert model.backbone.pretrained2d and model.backbone.pretrained.endswith(".pth")
    assert model.cls_head.fc_cls.in_features == model.backbone.feat_dim


def test_onnx_export_of_padded_shifted_windows(tmp_path):
    """8 x 8 tokens in 3 x 3 windows: padded to 9 and shifted (the mask's padded size was a
    floor division of negatives, which ONNX's integer Div truncates)."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from vidlab.export import export_onnx
    from vidlab.models.heads.i3d import I3DHead
    from vidlab.models.preprocess import ActionDataPreprocessor
    from vidlab.models.recognizer import Recognizer3D

    pre = ActionDataPreprocessor(mean=[0, 0, 0], std=[255, 255, 255], format_shape="NCTHW")
    model = Recognizer3D(backbone=_micro(), cls_head=I3DHead(4, 32), data_preprocessor=pre)
    result = export_onnx(model, tmp_path / "swin.onnx", clips_shape=(1, 3, 8, 32, 32))
    assert result["max_abs_diff"] < 1e-4
