"""Pixels against MMAction2's (issue 15): hashes recorded by
tools/parity/make_transform_fixtures.py in the reference environment."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from vidlab.data.loading import RawFrameDecode, VideoDecode, VideoInit
from vidlab.data.pipeline import Compose
from vidlab.data.pixels import pixel_mode, set_pixel_mode
from vidlab.data.transforms.crop import CenterCrop
from vidlab.data.transforms.resize import Resize

HERE = Path(__file__).parents[1] / "fixtures" / "mmaction2"
PIXELS = json.loads((HERE / "transforms.json").read_text())["pixels"]
STEPS = {
    "decode": [],
    "short_side_48_crop_40": [Resize(scale=(-1, 48)), CenterCrop(crop_size=40)],
    "to_57x33_bilinear": [Resize(scale=(57, 33), keep_ratio=False)],
    "to_150x114_bicubic": [Resize(scale=(150, 114), keep_ratio=False, interpolation="bicubic")],
}


def _sha(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def _frames(name: str, fuse: bool = True):
    results = dict(
        frame_dir=str(HERE / "frames"),
        total_frames=6,
        filename_tmpl="img_{:05d}.jpg",
        start_index=1,
        modality="RGB",
        frame_inds=np.array([1, 3, 6, 3]),
    )
    return Compose([RawFrameDecode(), *STEPS[name]], fuse_resize=fuse)(results)["imgs"]


@pytest.fixture
def mode(request, monkeypatch):
    if request.param == "mmaction2":
        pytest.importorskip("cv2")
    monkeypatch.setenv("VIDLAB_PIXELS", request.param)
    return request.param


@pytest.mark.parametrize("mode", ["mmaction2"], indirect=True)
@pytest.mark.parametrize("name", sorted(STEPS))
@pytest.mark.parametrize("fuse", [True, False])
def test_frame_folder_pixels_are_mmaction2s(mode, name, fuse):
    assert [_sha(f) for f in _frames(name, fuse)] == PIXELS["frames"][name]


@pytest.mark.parametrize("mode", ["fast"], indirect=True)
def test_fast_mode_is_close_but_not_identical(mode):
    assert pixel_mode() == "fast"
    imgs = _frames("decode")
    assert [_sha(f) for f in imgs] != PIXELS["frames"]["decode"]
    cv2 = pytest.importorskip("cv2")
    ref = [
        cv2.cvtColor(cv2.imread(str(HERE / "frames" / f"img_{i:05d}.jpg")), cv2.COLOR_BGR2RGB)
        for i in (1, 3, 6, 3)
    ]
    diff = np.abs(np.asarray(imgs, dtype=int) - np.asarray(ref, dtype=int))
    # FFmpeg's JPEG decoder (IDCT, chroma upsampling) rounds otherwise: a few levels on
    # average, more at sharp chroma edges (this noisy test image: mean 4.8, max 74)
    assert 0 < diff.mean() < 8


@pytest.mark.parametrize("mode", ["fast", "mmaction2"], indirect=True)
def test_video_pixels_are_mmaction2s_in_both_modes(mode):
    """Video files: vidlab's readers give MMAction2's PyAV and OpenCV pixels exactly."""
    video = PIXELS["video"]
    assert video["pyav"] == video["opencv"]  # MMAction2's two readers agree on this file
    results = dict(filename=str(HERE / "motion.mp4"), frame_inds=np.array(video["frame_inds"]))
    imgs = VideoDecode()(VideoInit()(results))["imgs"]
    assert [_sha(f) for f in imgs] == video["pyav"]


def test_pixel_mode_setting(monkeypatch):
    monkeypatch.delenv("VIDLAB_PIXELS", raising=False)
    try:
        set_pixel_mode("fast")
        assert pixel_mode() == "fast" and __import__("os").environ["VIDLAB_PIXELS"] == "fast"
        with pytest.raises(ValueError, match="not known"):
            set_pixel_mode("exact")
    finally:
        set_pixel_mode(None)
    monkeypatch.setenv("VIDLAB_PIXELS", "nope")
    with pytest.raises(ValueError, match="VIDLAB_PIXELS='nope'"):
        pixel_mode()


@pytest.mark.parametrize("mode", ["mmaction2"], indirect=True)
def test_loader_workers_after_the_parent_used_opencv(mode, tmp_path):
    """OpenCV in forked DataLoader workers after the parent used it (its thread pool does not
    survive a fork; vidlab runs OpenCV single-threaded, as MMEngine): no hang."""
    from vidlab.data.datasets import RawframeDataset
    from vidlab.data.loader import build_dataloader

    parent = _frames("short_side_48_crop_40")  # the parent uses OpenCV first
    (tmp_path / "list.txt").write_text("frames 6 0\nframes 6 1\n")
    pipeline = [
        dict(type="SampleFrames", clip_len=1, num_clips=4, test_mode=True),
        dict(type="RawFrameDecode"),
        dict(type="Resize", scale=(-1, 48)),
        dict(type="CenterCrop", crop_size=40),
        dict(type="FormatShape", input_format="NCHW"),
        dict(type="PackActionInputs"),
    ]
    ds = RawframeDataset(
        str(tmp_path / "list.txt"), pipeline, data_prefix=str(HERE), test_mode=True
    )
    loader = build_dataloader(ds, batch_size=2, num_workers=2, seed=0, shuffle=False)
    (batch,) = list(loader)
    assert batch["clips"].shape == (2, 1, 3, 4, 40, 40)
    assert parent.shape == (4, 40, 40, 3)
