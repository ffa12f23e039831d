"""PyTorchVideo's transforms as MMAction2's ``PytorchVideoWrapper`` reaches them, ported to torch.

Parity: ``tests/fixtures/pytorchvideo/transforms.pt`` holds PyTorchVideo's (and, through
it, torchvision 0.28's) outputs, made by ``tools/parity/make_pytorchvideo_fixtures.py``; vidlab
must give the same bytes. The literal tests pin each op's definition by hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.config import build
from vidlab.data.transforms import augment_ops as ops
from vidlab.data.transforms.color import RandAugment as RandAugmentStep
from vidlab.data.transforms.pytorchvideo import AugMix, PytorchVideoWrapper, RandAugment

FIXTURE = Path(__file__).parents[1] / "fixtures" / "pytorchvideo" / "transforms.pt"
FILL = (0.5, 0.5, 0.5)


@pytest.fixture(scope="module")
def reference():
    return torch.load(FIXTURE, weights_only=True)


def _ids(fixture_ops):
    return [f"{name}-{v}" for name, v, _, _ in fixture_ops]


# -- parity with PyTorchVideo / torchvision -----------------------------------------------------
def test_each_op_matches_pytorchvideo_byte_for_byte(reference):
    x = reference["clip"]  # (T, C, H, W) uint8
    assert len(reference["ops"]) == 30
    for name, v, want_u8, want_float in reference["ops"]:
        args = () if v is None else (v,)
        got = ops.OPS[name](x, *args, fill=FILL)
        assert got.dtype == torch.uint8 and torch.equal(got, want_u8), (name, v)
        if want_float is not None:
            got = ops.OPS[name](x.float() / 255, *args, fill=FILL)
            assert torch.equal(got, want_float), (name, v, "float")


def test_wrapper_matches_mmaction2_pytorchvideo_wrapper_under_each_seed(reference):
    frames = reference["clip"].permute(0, 2, 3, 1).numpy()  # (T, H, W, 3)
    for op, kwargs, outs in reference["wrapped"]:
        t = PytorchVideoWrapper(op, **kwargs)
        for seed, want in enumerate(outs):
            torch.manual_seed(seed)
            r = t(dict(imgs=list(frames), img_shape=frames.shape[1:3]))
            assert r["imgs"].dtype == np.uint8, op
            assert np.array_equal(r["imgs"], want.numpy()), (op, kwargs, seed)
            assert tuple(r["img_shape"]) == want.shape[1:3]


# -- each op by hand --------------------------------------------------------------------------
def _frame(h, w, value=0):
    return torch.full((1, 3, h, w), value, dtype=torch.uint8)


def test_equalize_histogram_by_hand():
    # 1024 pixels: 510 of 10, 255 of 20, 259 of 30 -> step (510 + 255) // 255 = 3;
    # v -> (pixels below v + 3 // 2) // 3: 10 -> 0, 20 -> 511 // 3 = 170, 30 -> 766 // 3 = 255
    ch = torch.tensor([10] * 510 + [20] * 255 + [30] * 259, dtype=torch.uint8).reshape(32, 32)
    out = ops.equalize(ch.expand(2, 3, 32, 32))
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 32, 32)
    lut = {10: 0, 20: 170, 30: 255}
    assert torch.equal(out[1, 2], ch.clone().apply_(lambda v: lut[v]))
    few = torch.tensor([0, 7, 7, 200], dtype=torch.uint8).reshape(1, 1, 2, 2)
    assert torch.equal(ops.equalize(few), few)  # step 0: fewer than 255 pixels below the top


def test_posterize_bits():
    x = torch.tensor([0b10110111, 0b01111111, 255], dtype=torch.uint8).reshape(1, 1, 1, 3)
    assert ops.posterize(x, 3).flatten().tolist() == [0b10100000, 0b01100000, 0b11100000]
    assert ops.posterize(x, 1).flatten().tolist() == [128, 0, 128]
    assert ops.posterize(x, 0).flatten().tolist() == [0, 0, 0]
    assert ops.posterize(x, 8) is x


def test_solarize_brightness_contrast_truncate():
    x = torch.tensor([0, 78, 79, 200], dtype=torch.uint8).reshape(1, 1, 1, 4).expand(1, 3, 1, 4)
    # threshold int(0.31 * 255) = 79: 79 and up are inverted
    assert ops.solarize(x, 0.31)[0, 0, 0].tolist() == [0, 78, 176, 55]
    y = torch.tensor([100, 101, 200], dtype=torch.uint8).reshape(1, 1, 1, 3).expand(1, 3, 1, 3)
    # 101 * 1.37 = 138.37 -> 138 (truncated, not rounded); 200 * 1.37 -> 255 (clamped)
    assert ops.adjust_brightness(y, 1.37)[0, 0, 0].tolist() == [137, 138, 255]
    flat = torch.tensor([10, 30], dtype=torch.uint8).reshape(1, 1, 1, 2).expand(1, 3, 1, 2)
    # grey = 0.2989 v + 0.587 v + 0.114 v (truncated: 9, 29), mean 19; factor 0 -> all 19
    assert ops.adjust_contrast(flat, 0.0).unique().tolist() == [19]
    assert torch.equal(ops.invert(y), 255 - y)


def test_autocontrast_stretches_each_channel_and_keeps_flat_ones():
    x = torch.zeros(1, 3, 1, 3, dtype=torch.uint8)
    x[0, 0, 0] = torch.tensor([40, 80, 120])
    x[0, 1] = 7  # flat: unchanged
    x[0, 2, 0] = torch.tensor([0, 1, 2])
    out = ops.autocontrast(x)[0]
    assert out[0, 0].tolist() == [0, 127, 255]  # (80 - 40) * 255 / 80 = 127.5 -> 127
    assert out[1].unique().tolist() == [7]
    assert out[2, 0].tolist() == [0, 127, 255]


def test_sharpness_keeps_the_border_and_smooths_the_inside():
    x = _frame(5, 5)
    x[..., 2, 2] = 130  # one bright pixel
    out = ops.adjust_sharpness(x, 0.0)  # factor 0: the smoothed image itself
    assert out[0, 0, 2, 2] == 50  # 130 * 5 / 13 = 50.0
    assert out[0, 0, 1, 1] == 10  # 130 / 13 = 10.0
    assert out[0, 0, 0].tolist() == [0] * 5  # border rows and columns are not filtered


def test_rotate_90_is_exact_and_counter_clockwise():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.int64).remainder(251).to(torch.uint8)
    x = x.reshape(2, 3, 6, 6)
    assert torch.equal(ops.rotate(x, 90.0, fill=FILL), torch.rot90(x, 1, dims=(-2, -1)))
    assert torch.equal(ops.rotate(x, -90.0, fill=FILL), torch.rot90(x, -1, dims=(-2, -1)))
    assert torch.equal(ops.rotate(x, 0.0, fill=FILL), x)


def test_shear_x_by_its_matrix_and_black_fill_on_uint8():
    # ShearX samples column c + f * r + f / 2 of row r; f = 2 gives whole pixels: c + 2r + 1
    h, w = 3, 8
    x = (torch.arange(h * w, dtype=torch.uint8) + 1).reshape(1, 1, h, w).expand(1, 3, h, w)
    out = ops.shear_x(x, 2.0, fill=FILL)
    want = torch.zeros(h, w, dtype=torch.uint8)  # fill 0.5 rounds to 0 on uint8 (half to even)
    for r in range(h):
        for c in range(w):
            if c + 2 * r + 1 < w:
                want[r, c] = x[0, 0, r, c + 2 * r + 1]
    assert torch.equal(out[0, 1], want)
    grey = ops.shear_x(x, 2.0, fill=(128, 128, 128))
    assert grey[0, 0, 2, -1] == 128  # a fill in pixel units fills with that value


def test_shear_y_and_translations_move_whole_pixels():
    x = (torch.arange(4 * 8, dtype=torch.uint8) + 1).reshape(1, 1, 4, 8).expand(2, 3, 4, 8)
    out = ops.translate_x(x, 0.25, fill=FILL)  # samples column c + 2: content moves left
    assert torch.equal(out[..., :6], x[..., 2:]) and (out[..., 6:] == 0).all()
    out = ops.translate_y(x, -0.5, fill=FILL)  # samples row r - 2: content moves down
    assert torch.equal(out[..., 2:, :], x[..., :2, :]) and (out[..., :2, :] == 0).all()
    # ShearY is ShearX with x and y swapped
    t = x.transpose(-2, -1).contiguous()  # (.., 8, 4)
    assert torch.equal(ops.shear_y(x, 2.0), ops.shear_x(t, 2.0).transpose(-2, -1))


# -- RandAugment / AugMix ---------------------------------------------------------------------
def _clip(t=4, h=16, w=20, same_frames=False):
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 256, (t, 3, h, w), dtype=torch.uint8, generator=g)
    return x[:1].expand_as(x).contiguous() if same_frames else x


@pytest.mark.parametrize("make", [lambda: RandAugment(7, 4), lambda: AugMix(), lambda: AugMix(9)])
def test_same_ops_for_every_frame_and_deterministic_under_a_seed(make):
    t = make()
    x = _clip(same_frames=True)
    outs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        out = t(x)
        assert out.shape == x.shape and out.dtype == torch.uint8
        assert all(torch.equal(out[i], out[0]) for i in range(4))
        outs.append(out)
    assert torch.equal(outs[0], outs[1])
    changed = 0
    for seed in range(5):
        torch.manual_seed(seed)
        changed += not torch.equal(t(x), x)
    assert changed >= 3


def test_rand_augment_draws_in_pytorchvideos_order(monkeypatch):
    """multinomial for the ops, then per op: rand (prob), normal (level), rand (sign)."""
    x = _clip()
    ra = RandAugment(magnitude=7, num_layers=3, prob=1.0)
    calls, chosen = [], []
    for fn in ("rand", "normal", "multinomial", "randint"):
        real = getattr(torch, fn)
        monkeypatch.setattr(
            torch, fn, lambda *a, _real=real, _fn=fn, **k: calls.append(_fn) or _real(*a, **k)
        )
    for name in list(ops.OPS):
        monkeypatch.setitem(ops.OPS, name, lambda v, *a, _n=name, **k: chosen.append(_n) or v)
    torch.manual_seed(0)
    ra(x)
    want = ["multinomial"]
    for name in chosen:
        if name in ("AutoContrast", "Equalize", "Invert"):
            want += ["rand", "normal"]  # the level is drawn though the op takes none
        elif name in ("Posterize", "Solarize"):
            want += ["rand", "normal"]
        else:
            want += ["rand", "normal", "rand"]
    assert len(chosen) == 3 and calls == want


def test_rand_augment_levels_map_to_pytorchvideos_arguments(monkeypatch):
    seen = {}
    for name in ops.OPS:
        monkeypatch.setitem(ops.OPS, name, lambda v, *a, _n=name, **k: seen.setdefault(_n, a) and v)
    ra = RandAugment(magnitude=10, num_layers=14, prob=1.0, sampling_hparas=dict(sampling_std=0))
    torch.manual_seed(0)
    ra(_clip())
    assert seen["Posterize"] == (0,) and seen["Solarize"] == (0.0,)
    assert abs(seen["Rotate"][0]) == 30 and abs(seen["TranslateX"][0]) == pytest.approx(0.45)
    assert seen["AdjustBrightness"][0] in (pytest.approx(1.9), pytest.approx(0.1))
    assert seen["AutoContrast"] == ()


# -- the pipeline step ------------------------------------------------------------------------
def test_wrapper_shapes_dtypes_and_errors():
    frames = _clip().permute(0, 2, 3, 1).numpy()  # (T, H, W, 3)
    torch.manual_seed(0)
    r = PytorchVideoWrapper("RandAugment", magnitude=7, num_layers=4)(dict(imgs=list(frames)))
    assert r["imgs"].shape == frames.shape and r["imgs"].dtype == np.uint8
    r = PytorchVideoWrapper("ShortSideScale", size=8)(dict(imgs=frames))
    assert r["imgs"].shape == (4, 8, 10, 3) and tuple(r["img_shape"]) == (8, 10)
    with pytest.raises(ValueError, match="op='Blur' is not one vidlab has; it has AugMix, Rand"):
        PytorchVideoWrapper("Blur")
    with pytest.raises(TypeError, match="magnitud.*its arguments: magnitude, num_layers"):
        PytorchVideoWrapper("RandAugment", magnitud=7)
    with pytest.raises(ValueError, match="does not support 'gt_bboxes'"):
        PytorchVideoWrapper("AugMix")(dict(imgs=frames, gt_bboxes=np.zeros((1, 4))))
    with pytest.raises(ValueError, match="'pytorch' backend only"):
        PytorchVideoWrapper("ShortSideScale", size=8, backend="opencv")


def test_config_steps_of_the_mvit_and_uniformerv2_configs_build():
    for step in (
        dict(type="PytorchVideoWrapper", op="RandAugment", magnitude=7, num_layers=4),
        dict(type="PytorchVideoWrapper", op="RandAugment", magnitude=7),
    ):
        t = build(step)
        assert isinstance(t, PytorchVideoWrapper) and t.trans.magnitude == 7
    assert "num_layers=4" in repr(build(dict(type="PytorchVideoWrapper", op="RandAugment",
                                              magnitude=7, num_layers=4)))  # fmt: skip


def test_randaugment_step_is_the_wrapper():
    frames = _clip().permute(0, 2, 3, 1).numpy()
    torch.manual_seed(5)
    a = RandAugmentStep(magnitude=9, num_layers=3)(dict(imgs=frames))["imgs"]
    torch.manual_seed(5)
    b = PytorchVideoWrapper("RandAugment", magnitude=9, num_layers=3)(dict(imgs=frames))["imgs"]
    assert np.array_equal(a, b)
    assert isinstance(build(dict(type="RandAugment", magnitude=5)), RandAugmentStep)


def test_mvit_train_pipeline_after_decoding():
    """The MViT config's steps after decoding, on 16 decoded frames: one (1, 3, 16, 224, 224)
    uint8 clip, the same under the same seeds (torch here; np.random and random for the
    others, as in MMAction2)."""
    import random

    from vidlab.data.pipeline import Compose

    steps = [
        dict(type="Resize", scale=(-1, 256)),
        dict(type="PytorchVideoWrapper", op="RandAugment", magnitude=7, num_layers=4),
        dict(type="RandomResizedCrop"),
        dict(type="Resize", scale=(224, 224), keep_ratio=False),
        dict(type="Flip", flip_ratio=0.5),
        dict(type="RandomErasing", erase_prob=0.25, mode="rand"),
        dict(type="FormatShape", input_format="NCTHW"),
        dict(type="PackActionInputs"),
    ]
    pipeline = Compose(steps)
    frames = _clip(t=16, h=120, w=160).permute(0, 2, 3, 1).numpy()

    def run(seed):
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        r = dict(imgs=list(frames), img_shape=(120, 160), ori_shape=(120, 160), label=3)
        r.update(num_clips=1, clip_len=16, modality="RGB")
        return pipeline(r)

    a, b = run(0), run(0)
    assert tuple(a["clips"].shape) == (1, 3, 16, 224, 224) and a["clips"].dtype == torch.uint8
    assert torch.equal(a["clips"], b["clips"]) and not torch.equal(a["clips"], run(1)["clips"])
