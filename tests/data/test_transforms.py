"""Spatial, colour and formatting transforms: MMAction2's boxes and shapes, views, determinism."""

import random

import numpy as np
import pytest
import torch

from vidlab.data.loading import VideoDecode, VideoInit
from vidlab.data.pipeline import Compose
from vidlab.data.sampling import SampleFrames
from vidlab.data.transforms import (
    CenterCrop,
    ColorJitter,
    Flip,
    FormatShape,
    MultiScaleCrop,
    PackActionInputs,
    RandAugment,
    RandomCrop,
    RandomErasing,
    RandomRescale,
    RandomResizedCrop,
    Resize,
    TenCrop,
    ThreeCrop,
)
from vidlab.data.transforms.color import hsv_to_rgb_u8, rgb_to_hsv_u8


def frames(n=4, h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def res(imgs, **kw):
    return dict(imgs=imgs, img_shape=imgs.shape[1:3], modality="RGB", **kw)


def coded_video(n=30, h=48, w=64):
    """Frame t is filled with value t (so a decoded frame tells its index)."""
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, h, w, 3)).copy()


# -- Resize -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "scale, keep, hw, expect_hw",
    [
        ((-1, 256), True, (240, 320), (256, 341)),  # short side 256: 320 * 256/240 + .5 -> 341
        ((256, -1), True, (240, 320), (256, 341)),
        ((340, 256), True, (480, 640), (255, 340)),  # fits in 340x256: factor min(.53125, .5333)
        (0.5, True, (240, 320), (120, 160)),
        ((224, 112), False, (240, 320), (112, 224)),  # (w, h)
    ],
)
def test_resize_sizes(scale, keep, hw, expect_hw):
    r = Resize(scale, keep_ratio=keep)(res(np.zeros((2, *hw, 3), np.uint8)))
    assert r["img_shape"] == expect_hw
    assert r["imgs"].shape == (2, *expect_hw, 3) and r["imgs"].dtype == np.uint8
    np.testing.assert_allclose(
        r["scale_factor"], [expect_hw[1] / hw[1], expect_hw[0] / hw[0]], rtol=1e-6
    )
    assert r["keep_ratio"] == keep


def test_resize_values_match_float_bilinear():
    x = frames(3, 30, 40)
    out = Resize((20, 15), keep_ratio=False)(res(x))["imgs"]
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(x).permute(0, 3, 1, 2).float(),
        size=(15, 20),
        mode="bilinear",
        align_corners=False,
    )
    ref = ref.round().clamp(0, 255).permute(0, 2, 3, 1).numpy()
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    flat = np.full((2, 30, 40, 3), 77, np.uint8)
    assert (Resize((-1, 64))(res(flat))["imgs"] == 77).all()


def test_resize_same_size_is_a_no_op_view():
    x = frames()
    assert Resize((-1, 48))(res(x))["imgs"] is x


def test_resize_accepts_list_of_frames_and_cropped_views():
    x = frames()
    r = Resize((-1, 24))(dict(imgs=[f[:, 2:50] for f in x]))
    assert r["imgs"].shape == (4, 24, 24, 3)
    r = Resize((-1, 24))(dict(imgs=x[:, :, ::-1]))  # negative strides
    assert r["imgs"].shape == (4, 24, 32, 3)


def test_random_rescale():
    np.random.seed(0)
    short = np.random.randint(30, 41)
    np.random.seed(0)
    r = RandomRescale((30, 40))(res(frames()))
    assert r["short_edge"] == short and min(r["img_shape"]) == short


# -- crops ------------------------------------------------------------------------------------
def test_random_crop_offsets_and_views():
    x = frames(h=48, w=64)
    np.random.seed(4)
    y0 = np.random.randint(0, 48 - 32)
    x0 = np.random.randint(0, 64 - 32)
    np.random.seed(4)
    r = RandomCrop(32)(res(x))
    assert r["crop_bbox"].tolist() == [x0, y0, x0 + 32, y0 + 32]
    assert r["img_shape"] == (32, 32)
    assert np.shares_memory(r["imgs"], x)  # a view, no copy
    assert (r["imgs"] == x[:, y0 : y0 + 32, x0 : x0 + 32]).all()
    np.testing.assert_allclose(r["crop_quadruple"], [x0 / 64, y0 / 48, 0.5, 32 / 48], rtol=1e-6)


def test_center_crop_box():
    r = CenterCrop(224)(res(np.zeros((2, 256, 341, 3), np.uint8)))
    assert r["crop_bbox"].tolist() == [58, 16, 282, 240]
    assert r["img_shape"] == (224, 224) and r["imgs"].shape == (2, 224, 224, 3)
    r = CenterCrop((100, 50))(res(np.zeros((1, 60, 120, 3), np.uint8)))  # (w, h)
    assert r["crop_bbox"].tolist() == [10, 5, 110, 55]


def test_crop_larger_than_frame_is_a_clear_error():
    with pytest.raises(ValueError, match="does not fit"):
        CenterCrop(100)(res(frames()))


def test_random_resized_crop_is_reproducible_and_in_range():
    x = frames(h=120, w=160)
    boxes = set()
    for seed in range(20):
        np.random.seed(seed)
        random.seed(seed)
        r = RandomResizedCrop()(res(x))
        x1, y1, x2, y2 = r["crop_bbox"].tolist()
        assert 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 120
        assert r["img_shape"] == (y2 - y1, x2 - x1) == r["imgs"].shape[1:3]
        area = (x2 - x1) * (y2 - y1) / (120 * 160)
        fallback = (x2 - x1) == (y2 - y1) == 120
        assert fallback or 0.07 <= area <= 1.0
        boxes.add((x1, y1, x2, y2))
        np.random.seed(seed)
        random.seed(seed)
        assert RandomResizedCrop()(res(x))["crop_bbox"].tolist() == [x1, y1, x2, y2]
    assert len(boxes) > 10


def test_random_resized_crop_fallback_centre_square():
    # an impossible aspect range: every attempt fails -> centred square of the short side
    r = RandomResizedCrop(area_range=(1.0, 1.0), aspect_ratio_range=(3.0, 3.0))(
        res(frames(h=48, w=64))
    )
    assert r["crop_bbox"].tolist() == [8, 0, 56, 48]


def test_multi_scale_crop_fixed_positions():
    x = np.zeros((2, 256, 340, 3), np.uint8)
    seen = set()
    for seed in range(30):
        random.seed(seed)
        r = MultiScaleCrop(224, scales=(1,))(res(x))
        seen.add(tuple(r["crop_bbox"].tolist()))
    # crop 256x256 (not within 3 px of 224); w_step = (340-256)//4 = 21, h_step = 0
    assert seen <= {(0, 0, 256, 256), (84, 0, 340, 256), (42, 0, 298, 256)}
    assert len(seen) == 3


def test_multi_scale_crop_snaps_to_input_size_and_scales():
    x = np.zeros((1, 256, 340, 3), np.uint8)
    sizes = set()
    for seed in range(50):
        random.seed(seed)
        r = MultiScaleCrop(224, scales=(1, 0.875, 0.75, 0.66))(res(x))
        sizes.add(r["img_shape"])
        assert r["scales"] == (1, 0.875, 0.75, 0.66)
    # base 256: crops 256, 224 (snapped), 192, 168; h/w scale levels at most 1 apart
    assert (224, 224) in sizes
    assert all(h in (256, 224, 192, 168) and w in (256, 224, 192, 168) for h, w in sizes)
    assert (256, 168) not in sizes


def test_three_crop_boxes_and_order():
    x = coded_video(3, 256, 341)
    r = ThreeCrop(256)(res(x))
    assert len(r["imgs"]) == 9 and r["img_shape"] == (256, 256)
    # w_step = (341 - 256) // 2 = 42: left, right, middle
    assert r["crop_bbox"][::3, 0].tolist() == [0, 84, 42]
    assert [int(f[0, 0, 0]) for f in r["imgs"]] == [0, 1, 2] * 3
    assert all(np.shares_memory(f, x) for f in r["imgs"])
    with pytest.raises(ValueError, match="must match the frame"):
        ThreeCrop(200)(res(x))


def test_ten_crop_boxes_and_flips():
    x = frames(2, 256, 341)
    r = TenCrop(224)(res(x))
    imgs = r["imgs"]
    assert len(imgs) == 20 and r["img_shape"] == (224, 224)
    # w_step = (341-224)//4 = 29, h_step = (256-224)//4 = 8
    offsets = [(0, 0), (116, 0), (0, 32), (116, 32), (58, 16)]
    for k, (ox, oy) in enumerate(offsets):
        for t in range(2):
            crop = imgs[2 * k * 2 + t]
            flipped = imgs[2 * k * 2 + 2 + t]
            assert (crop == x[t, oy : oy + 224, ox : ox + 224]).all()
            assert (flipped == crop[:, ::-1]).all()
        assert r["crop_bbox"][4 * k].tolist() == [ox, oy, ox + 224, oy + 224]


# -- flip -------------------------------------------------------------------------------------
def test_flip_horizontal_and_vertical_views():
    x = frames()
    r = Flip(flip_ratio=1.0)(res(x))
    assert r["flip"] and r["flip_direction"] == "horizontal"
    assert (r["imgs"] == x[:, :, ::-1]).all() and np.shares_memory(r["imgs"], x)
    r = Flip(flip_ratio=1.0, direction="vertical")(res(x))
    assert (r["imgs"] == x[:, ::-1]).all()
    r = Flip(flip_ratio=0.0)(res(x))
    assert not r["flip"] and r["imgs"] is x


def test_flip_one_draw_per_sample_and_label_map():
    np.random.seed(0)
    draw = np.random.rand() < 0.5
    np.random.seed(0)
    r = Flip(flip_ratio=0.5, flip_label_map={0: 1, 1: 0})(res(frames(), label=0))
    assert r["flip"] == draw and r["label"] == (1 if draw else 0)


def test_flip_flow_inverts_x():
    flow = np.random.default_rng(0).integers(0, 256, (3, 8, 10, 2), dtype=np.uint8)
    r = Flip(flip_ratio=1.0)(dict(imgs=flow, img_shape=(8, 10), modality="Flow"))
    out = np.stack(r["imgs"])
    assert (out[..., 0] == 255 - flow[:, :, ::-1, 0]).all()
    assert (out[..., 1] == flow[:, :, ::-1, 1]).all()


# -- colour -----------------------------------------------------------------------------------
def test_hsv_round_trip():
    rgb = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    back = hsv_to_rgb_u8(rgb_to_hsv_u8(rgb))
    assert np.abs(back.astype(int) - rgb).max() <= 6  # 8-bit hue quantisation, as OpenCV
    hsv = rgb_to_hsv_u8(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]]], np.uint8))
    assert hsv[0, :, 0].tolist() == [0, 60, 120, 0] and hsv[0, 3, 1] == 0


def test_color_jitter_same_draw_for_all_frames():
    x = np.repeat(frames(1), 4, axis=0)
    np.random.seed(0)
    out = ColorJitter()(res(x))["imgs"]
    assert out.dtype == np.uint8 and out.shape == x.shape
    assert all((out[i] == out[0]).all() for i in range(4))
    np.random.seed(0)
    assert (ColorJitter()(res(x))["imgs"] == out).all()


def test_color_jitter_brightness_only():
    x = np.full((2, 4, 4, 3), 100, np.uint8)
    np.random.seed(0)
    out = ColorJitter(brightness=(1.5, 1.5), contrast=0, saturation=0, hue=0)(res(x))["imgs"]
    assert (out == 150).all()


def test_random_erasing_same_box_every_frame_and_input_untouched():
    x = frames(3, 40, 40)
    keep = x.copy()
    np.random.seed(1)
    r = RandomErasing(erase_prob=1.0, fill_color=(1, 2, 3))(res(x))
    out = r["imgs"]
    mask = (out == np.array([1, 2, 3], np.uint8)).all(-1)
    assert mask.any() and all((mask[i] == mask[0]).all() for i in range(3))
    assert (x == keep).all()
    assert RandomErasing(erase_prob=0.0)(res(x))["imgs"] is x


def test_rand_augment_same_ops_for_every_frame():
    # PyTorchVideo's RandAugment (torch's generator); op-by-op tests: tests/data/test_pytorchvideo.py
    import torch

    x = np.repeat(frames(1, 32, 32), 3, axis=0)
    for seed in range(10):
        torch.manual_seed(seed)
        out = RandAugment(num_layers=2, magnitude=9, prob=1.0)(res(x))["imgs"]
        assert out.dtype == np.uint8 and out.shape == x.shape
        assert all((out[i] == out[0]).all() for i in range(3))
        torch.manual_seed(seed)
        assert (RandAugment(num_layers=2, magnitude=9, prob=1.0)(res(x))["imgs"] == out).all()


# -- formatting and packing -------------------------------------------------------------------
def test_format_shape_ncthw_layout():
    x = coded_video(2 * 3 * 4, 6, 8)  # crops=2, clips=3, clip_len=4
    r = FormatShape("NCTHW")(dict(imgs=x, num_clips=3, clip_len=4))
    assert r["imgs"].shape == r["input_shape"] == (6, 3, 4, 6, 8)
    assert r["num_crops"] == 2
    # view v = crop*3 + clip, time t -> frame v*4 + t
    assert r["imgs"][5, 0, 3, 0, 0] == 5 * 4 + 3


def test_format_shape_ncthw_from_list_of_views_equals_array_path():
    x = frames(6, 10, 12)
    a = FormatShape("NCTHW")(dict(imgs=x[:, 1:9, ::-1], num_clips=2, clip_len=3))["imgs"]
    b = FormatShape("NCTHW")(dict(imgs=[f[1:9, ::-1] for f in x], num_clips=2, clip_len=3))["imgs"]
    assert a.shape == b.shape == (2, 3, 3, 8, 12) and (a == b).all()


def test_format_shape_nchw_and_collapse():
    x = frames(8, 6, 8)
    r = FormatShape("NCHW")(dict(imgs=x, num_clips=8, clip_len=1))
    assert r["imgs"].shape == r["input_shape"] == (8, 3, 6, 8)
    r = FormatShape("NCTHW", collapse=True)(dict(imgs=x, num_clips=1, clip_len=8))
    assert r["imgs"].shape == r["input_shape"] == (3, 8, 6, 8)
    with pytest.raises(ValueError, match="invalid"):
        FormatShape("NTCHW")


def test_pack_nchw_puts_segments_on_time_axis():
    x = coded_video(2 * 5, 4, 4)  # 2 crops x 5 segments
    r = FormatShape("NCHW")(
        dict(imgs=x, num_clips=5, clip_len=1, label=2, index=7, img_shape=(4, 4))
    )
    s = PackActionInputs()(r)
    assert s["clips"].shape == (2, 3, 5, 4, 4) and s["clips"].dtype == torch.uint8
    assert s["clips"][1, 0, 3, 0, 0].item() == 1 * 5 + 3
    assert s["label"].item() == 2 and s["label"].dtype == torch.int64 and s["index"] == 7
    assert s["meta"]["img_shape"] == (4, 4)


def test_pack_without_format_shape_and_multi_hot_label():
    x = frames(8, 6, 6)
    s = PackActionInputs()(
        dict(imgs=x, num_clips=1, clip_len=8, label=torch.tensor([0.0, 1.0, 1.0]))
    )
    assert s["clips"].shape == (1, 3, 8, 6, 6)
    assert s["label"].dtype == torch.float32 and s["label"].tolist() == [0.0, 1.0, 1.0]
    assert PackActionInputs()(dict(imgs=x, num_clips=1, clip_len=8))["label"].item() == -1


def _run(pipeline, total=60, h=72, w=96, seed=0):
    np.random.seed(seed)
    random.seed(seed)
    arr = coded_video(total, h, w)
    return Compose(pipeline)(dict(array=arr, label=1, start_index=0, modality="RGB"))


def test_tsn_train_pipeline_shape():
    s = _run(
        [
            VideoInit(),
            SampleFrames(clip_len=1, frame_interval=1, num_clips=8),
            VideoDecode(),
            Resize(scale=(-1, 64)),
            MultiScaleCrop(
                56, scales=(1, 0.875, 0.75, 0.66), random_crop=False, max_wh_scale_gap=1
            ),
            Resize(scale=(56, 56), keep_ratio=False),
            Flip(flip_ratio=0.5),
            FormatShape(input_format="NCHW"),
            PackActionInputs(),
        ]
    )
    assert s["clips"].shape == (1, 3, 8, 56, 56) and s["clips"].dtype == torch.uint8


def test_tsn_test_pipeline_25_clips_ten_crop():
    s = _run(
        [
            SampleFrames(clip_len=1, frame_interval=1, num_clips=25, test_mode=True),
            VideoDecode(),
            Resize(scale=(-1, 64)),
            TenCrop(crop_size=56),
            FormatShape(input_format="NCHW"),
            PackActionInputs(),
        ],
        total=100,
    )
    assert s["clips"].shape == (10, 3, 25, 56, 56)
    # segment t of every view is frame 2 + 4t (middle of 4-frame segments)
    assert s["clips"][3, 0, :, 5, 5].tolist() == [2 + 4 * t for t in range(25)]


def test_3d_train_and_test_pipelines():
    s = _run(
        [
            VideoInit(),
            SampleFrames(clip_len=32, frame_interval=2, num_clips=1),
            VideoDecode(),
            Resize(scale=(-1, 64)),
            RandomResizedCrop(),
            Resize(scale=(56, 56), keep_ratio=False),
            Flip(flip_ratio=0.5),
            FormatShape(input_format="NCTHW"),
            PackActionInputs(),
        ],
        total=90,
    )
    assert s["clips"].shape == (1, 3, 32, 56, 56)
    s = _run(
        [
            VideoInit(),
            SampleFrames(clip_len=32, frame_interval=2, num_clips=10, test_mode=True),
            VideoDecode(),
            Resize(scale=(-1, 64)),
            ThreeCrop(crop_size=64),
            FormatShape(input_format="NCTHW"),
            PackActionInputs(),
        ],
        total=90,
    )
    assert s["clips"].shape == (30, 3, 32, 64, 64)
    # view = crop * 10 + clip; clip k starts at round(k * 27/9) = 3k
    assert s["clips"][10 + 4, 0, :3, 0, 0].tolist() == [12, 14, 16]


def test_pipeline_is_deterministic_under_a_seed():
    p = [
        VideoInit(),
        SampleFrames(clip_len=1, num_clips=4),
        VideoDecode(),
        RandomResizedCrop(),
        Resize(scale=(32, 32), keep_ratio=False),
        Flip(),
        ColorJitter(),
        FormatShape("NCHW"),
        PackActionInputs(),
    ]
    a = _run(p, seed=3)["clips"]
    b = _run(p, seed=3)["clips"]
    c = _run(p, seed=4)["clips"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_compose_adds_a_note_naming_the_step():
    p = Compose([SampleFrames(1, 1, 2), CenterCrop(10)])
    with pytest.raises(KeyError) as info:
        p(dict(total_frames=10, start_index=0))
    assert any("step 1 (CenterCrop)" in n for n in info.value.__notes__)
