"""Compose: steps, error notes, and the decode + short-side Resize fusion."""

import os

import av
import numpy as np
import pytest

from vidlab.data.loading import DecordDecode, DecordInit, RawFrameDecode, VideoDecode, VideoInit
from vidlab.data.pipeline import Compose
from vidlab.data.sampling import SampleFrames
from vidlab.data.transforms import CenterCrop, FormatShape, PackActionInputs, Resize

H, W = 72, 128


def smooth_frame(t: int) -> np.ndarray:
    """A smooth gradient that moves with t: scalers of any kind agree on it closely."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r = 128 + 100 * np.sin((xx + 3 * t) / 17)
    g = 128 + 100 * np.cos((yy - 2 * t) / 13)
    b = (xx + yy + 5 * t) % 256 * 0.5 + 60
    return np.stack([r, g, b], -1).astype(np.uint8)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("fuse") / "clip.mp4")
    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = {"crf": "12"}
        for t in range(24):
            frame = av.VideoFrame.from_ndarray(smooth_frame(t), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from vidlab.data.io.frames import ImageEncoder

    d = tmp_path_factory.mktemp("fuse_frames") / "clip"
    os.makedirs(d)
    enc = ImageEncoder(".png")
    for t in range(10):
        (d / f"img_{t + 1:05d}.png").write_bytes(enc.encode(smooth_frame(t)))
    return str(d)


def steps(decode, scale=(-1, 32), crop=20):
    return [
        DecordInit(),
        SampleFrames(clip_len=4, frame_interval=2, num_clips=1, test_mode=True),
        decode,
        Resize(scale=scale),
        CenterCrop(crop_size=crop),
        FormatShape(input_format="NCTHW"),
    ]


@pytest.mark.parametrize("mode", ["fast", "mmaction2"])
@pytest.mark.parametrize("scale", [(-1, 24), (24, -1), (-1, 40)])
def test_fused_pipeline_matches_unfused(video, scale, mode, monkeypatch):
    if mode == "mmaction2":
        pytest.importorskip("cv2")
    monkeypatch.setenv("VIDLAB_PIXELS", mode)
    fused = Compose(steps(DecordDecode(), scale))
    plain = Compose(steps(DecordDecode(), scale), fuse_resize=False)
    assert len(fused.fused) == 1 and len(fused) == len(plain) - 1
    assert not any(type(t) is Resize for t in fused.transforms)
    a = fused(dict(filename=video, start_index=0, modality="RGB", label=1))
    b = plain(dict(filename=video, start_index=0, modality="RGB", label=1))
    assert set(a) == set(b)
    for key in ("img_shape", "original_shape", "keep_ratio", "input_shape", "frame_inds"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    np.testing.assert_allclose(a["scale_factor"], b["scale_factor"], rtol=1e-6)
    assert a["imgs"].shape == b["imgs"].shape and a["imgs"].dtype == np.uint8
    diff = np.abs(a["imgs"].astype(np.float32) - b["imgs"].astype(np.float32))
    if mode == "fast" and H >= 2.5 * max(scale):  # FFmpeg's scaler, close to Resize's pixels
        assert 0 < diff.mean() < 3.0, diff.mean()
    else:  # a small one: resized after the conversion as Resize does
        assert diff.max() == 0


def test_fused_keys_equal_resize_keys_exactly(video):
    # img_shape / scale_factor / keep_ratio straight after the step, before any crop
    def run(fuse):
        steps = [
            VideoInit(),
            SampleFrames(2, 1, 1, test_mode=True),
            VideoDecode(),
            Resize((-1, 36)),
        ]
        pipe = Compose(steps, fuse_resize=fuse)
        assert len(pipe) == (3 if fuse else 4)
        return pipe(dict(filename=video, start_index=0))

    a, b = run(True), run(False)
    assert a["img_shape"] == b["img_shape"] == (36, 64)  # int(128 * 36 / 72 + 0.5)
    assert a["scale_factor"].dtype == b["scale_factor"].dtype == np.float32
    np.testing.assert_array_equal(a["scale_factor"], b["scale_factor"])
    assert a["keep_ratio"] is b["keep_ratio"] is True


def test_rawframe_decode_is_fused_on_folders(folder):
    pipe = [SampleFrames(2, 3, 1, test_mode=True), RawFrameDecode(), Resize((-1, 36))]
    a = Compose(pipe)(dict(frame_dir=folder, total_frames=10, start_index=1, modality="RGB"))
    b = Compose(pipe, fuse_resize=False)(
        dict(frame_dir=folder, total_frames=10, start_index=1, modality="RGB")
    )
    assert a["imgs"].shape == b["imgs"].shape == (2, 36, 64, 3)
    assert np.abs(a["imgs"].astype(int) - b["imgs"].astype(int)).mean() < 3.0


@pytest.mark.parametrize(
    "resize",
    [
        Resize((340, 256)),  # fits in a box: not a short-side resize
        Resize((-1, 32), keep_ratio=False),
        Resize((-1, 32), interpolation="nearest"),
        Resize(0.5),
    ],
    ids=["box", "no-keep-ratio", "nearest", "factor"],
)
def test_other_resizes_are_not_fused(resize):
    pipe = Compose([VideoDecode(), resize])
    assert pipe.fused == [] and pipe.transforms[1] is resize


def test_not_fused_when_not_adjacent_or_already_resizing():
    d = VideoDecode()
    pipe = Compose([d, CenterCrop(8), Resize((-1, 32))])
    assert pipe.fused == []
    pipe = Compose([VideoDecode(short_side=64), Resize((-1, 32))])
    assert pipe.fused == [] and len(pipe) == 2
    pipe = Compose([d, Resize((-1, 32))])
    assert d.short_side is None, "the caller's decode step must not change"
    assert pipe.transforms[0].short_side == 32


def test_config_dicts_are_fused(video):
    pipe = Compose(
        [
            dict(type="DecordInit"),
            dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=2, test_mode=True),
            dict(type="DecordDecode"),
            dict(type="Resize", scale=(-1, 36)),
            dict(type="FormatShape", input_format="NCHW"),
            dict(type="PackActionInputs"),
        ]
    )
    assert len(pipe.fused) == 1
    out = pipe(dict(filename=video, start_index=0, label=0, modality="RGB"))
    assert tuple(out["inputs"].shape if "inputs" in out else out["clips"].shape)[-2:] == (36, 64)


def test_error_note_names_the_step(tmp_path):
    def boom(results):
        raise RuntimeError("bad")

    with pytest.raises(RuntimeError) as e:
        Compose([lambda r: r, boom])({})
    assert "in pipeline step 1 (function)" in e.value.__notes__
    assert Compose([lambda r: None, boom])({}) is None


def test_pack_after_fused_resize(video):
    pipe = Compose(steps(DecordDecode(), (-1, 36), 32) + [PackActionInputs()])
    out = pipe(dict(filename=video, start_index=0, modality="RGB", label=1))
    clips = out["clips"] if "clips" in out else out["inputs"]
    assert tuple(clips.shape) == (1, 3, 4, 32, 32)
