"""Opening and decoding: videos, frame folders and arrays, whatever the pipeline was written for."""

import os

import av
import numpy as np
import pytest

from vidlab.data.io import DecodeError
from vidlab.data.loading import (
    DecordDecode,
    DecordInit,
    OpenCVInit,
    PyAVDecode,
    PyAVInit,
    RawFrameDecode,
    VideoDecode,
    VideoInit,
)
from vidlab.data.pipeline import Compose
from vidlab.data.sampling import SampleFrames

H, W = 32, 48


def level(t: int) -> int:
    return 5 + 6 * t  # frame t is a flat grey of this level: survives H.264 (t < 42)


def write_mp4(path, n=40, fps=25, h=H, w=W):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"g": "10", "bf": "2"}
        for t in range(n):
            img = np.full((h, w, 3), level(t), np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return str(path)


def write_image(path, img):
    gray = img.ndim == 2
    with av.open(str(path), "w", format="image2") as c:
        s = c.add_stream("png", rate=1)
        s.width, s.height = img.shape[1], img.shape[0]
        s.pix_fmt = "gray" if gray else "rgb24"
        for p in s.encode(av.VideoFrame.from_ndarray(img, format="gray" if gray else "rgb24")):
            c.mux(p)
        for p in s.encode():
            c.mux(p)


def write_folder(folder, n=12, tmpl="img_{:05d}.png", start=1):
    os.makedirs(folder, exist_ok=True)
    for k in range(n):
        write_image(
            os.path.join(folder, tmpl.format(start + k)), np.full((H, W, 3), level(k), np.uint8)
        )
    return str(folder)


def ids(imgs) -> list[int]:
    """Frame positions read back from the grey levels."""
    return [int(round((float(np.mean(f)) - 5) / 6)) for f in imgs]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_mp4(tmp_path_factory.mktemp("vid") / "clip.mp4")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("frames") / "clip")


# -- frame folders ----------------------------------------------------------------------------
def test_rawframe_pipeline_exact_frames(folder):
    r = Compose([SampleFrames(1, 1, 4, test_mode=True), RawFrameDecode()])(
        dict(
            frame_dir=folder,
            total_frames=12,
            start_index=1,
            filename_tmpl="img_{:05}.png",
            modality="RGB",
        )
    )
    # 12 frames, 4 segments of 3: centres 1.5, 4.5, ... -> 1, 4, 7, 10 (+ start 1); position = ind - 1
    assert r["frame_inds"].tolist() == [2, 5, 8, 11]
    assert ids(r["imgs"]) == [1, 4, 7, 10]
    assert r["imgs"].shape == (4, H, W, 3) and r["img_shape"] == r["original_shape"] == (H, W)


def test_wrong_start_index_cannot_lose_a_frame(tmp_path):
    # MMAction2's FAQ: files from 00000 with start_index=1 read a file past the end
    f = write_folder(tmp_path / "zero", n=6, tmpl="img_{:05d}.png", start=0)
    r = Compose([SampleFrames(1, 1, 6, test_mode=True), RawFrameDecode()])(
        dict(
            frame_dir=f,
            total_frames=6,
            start_index=1,
            filename_tmpl="img_{:05}.png",
            modality="RGB",
        )
    )
    assert ids(r["imgs"]) == [0, 1, 2, 3, 4, 5]


def test_template_is_read_off_the_files(tmp_path):
    f = write_folder(tmp_path / "other", n=5, tmpl="{:06d}.png", start=1)
    r = Compose([SampleFrames(1, 1, 5, test_mode=True), RawFrameDecode()])(
        dict(
            frame_dir=f,
            total_frames=5,
            start_index=1,
            filename_tmpl="img_{:05}.jpg",
            modality="RGB",
        )
    )
    assert ids(r["imgs"]) == [0, 1, 2, 3, 4]


def test_video_pipeline_runs_on_a_frame_folder(folder):
    r = Compose([DecordInit(), SampleFrames(1, 1, 3, test_mode=True), DecordDecode()])(
        dict(filename=folder, label=0, start_index=0, modality="RGB")
    )
    assert r["total_frames"] == 12 and r["video_reader"] is None
    assert ids(r["imgs"]) == [2, 6, 10]


def test_frame_folder_without_start_index(folder):
    r = Compose([VideoInit(), SampleFrames(1, 1, 2, test_mode=True), VideoDecode()])(
        dict(frame_dir=folder)
    )
    assert r["start_index"] == 1 and r["frame_inds"].tolist() == [4, 10]
    assert ids(r["imgs"]) == [3, 9]


def test_with_offset_clip_of_a_folder(folder):
    r = Compose([SampleFrames(1, 1, 2, test_mode=True), RawFrameDecode()])(
        dict(frame_dir=folder, offset=4, total_frames=6, start_index=1, modality="RGB")
    )
    # clip of 6 frames from offset 4: centres 1, 4 of the clip -> folder positions 5, 8
    assert ids(r["imgs"]) == [5, 8]
    with pytest.raises(ValueError, match="from offset 10"):
        VideoInit()(dict(frame_dir=folder, offset=10, total_frames=6, start_index=1))


def test_missing_frame_names_the_folder_and_number(tmp_path):
    f = write_folder(tmp_path / "gap", n=6)
    os.remove(os.path.join(f, "img_00004.png"))
    with pytest.raises(DecodeError, match=r"gap: frame files missing for numbers 4 \(img_00004"):
        RawFrameDecode()(
            dict(frame_dir=f, frame_inds=np.array([1, 4, 5]), start_index=1, modality="RGB")
        )
    # issue 8: Init no longer uses the contiguous run (1-3) quietly: a gap is an error
    with pytest.raises(DecodeError, match=r"gap: frame files missing for numbers 4 .*on_error"):
        VideoInit()(dict(frame_dir=f))


def test_flow_folder_reads_xy_pairs(tmp_path):
    d = tmp_path / "flow"
    os.makedirs(d)
    for k in range(1, 4):
        write_image(d / f"x_{k:05d}.png", np.full((H, W), 100 + k, np.uint8))
        write_image(d / f"y_{k:05d}.png", np.full((H, W), 200 + k, np.uint8))
    r = RawFrameDecode()(
        dict(
            frame_dir=str(d),
            frame_inds=np.array([1, 3]),
            start_index=1,
            modality="Flow",
            filename_tmpl="{}_{:05d}.jpg",
        )
    )
    assert r["imgs"].shape == (2, H, W, 2)
    assert r["imgs"][1, 0, 0].tolist() == [103, 203]


# -- videos -----------------------------------------------------------------------------------
def test_video_init_and_decode(video):
    r = VideoInit()(dict(filename=video, start_index=0))
    assert r["total_frames"] == 40 and r["avg_fps"] == pytest.approx(25)
    r["frame_inds"] = np.array([39, 0, 7, 7, 20], np.int32)
    r = VideoDecode()(r)
    assert ids(r["imgs"]) == [39, 0, 7, 7, 20]
    assert r["imgs"].dtype == np.uint8 and r["video_reader"] is None
    assert r["img_shape"] == r["original_shape"] == (H, W)


def test_frame_pipeline_runs_on_a_video(video):
    # written for RawframeDataset (no Init): total_frames is probed by the sampler
    r = Compose([SampleFrames(1, 1, 4, test_mode=True), RawFrameDecode()])(
        dict(filename=video, start_index=0, modality="RGB")
    )
    assert r["total_frames"] == 40 and ids(r["imgs"]) == [5, 15, 25, 35]


def test_video_with_start_index_one(video):
    # frame_inds counting from 1 still map to the right frames of a video
    r = Compose([VideoInit(), SampleFrames(1, 1, 4, test_mode=True), VideoDecode()])(
        dict(filename=video, start_index=1)
    )
    assert r["frame_inds"].tolist() == [6, 16, 26, 36] and ids(r["imgs"]) == [5, 15, 25, 35]


def test_decode_with_short_side(video):
    r = Compose([VideoInit(), SampleFrames(1, 1, 2, test_mode=True), VideoDecode(short_side=16)])(
        dict(filename=video, start_index=0)
    )
    assert r["img_shape"] == (16, 24) and r["original_shape"] == (H, W)
    np.testing.assert_allclose(r["scale_factor"], [0.5, 0.5])


@pytest.mark.parametrize(
    "init, decode", [(PyAVInit, PyAVDecode), (DecordInit, DecordDecode), (OpenCVInit, VideoDecode)]
)
def test_mmaction_names(video, init, decode, monkeypatch):
    # decord/OpenCV are optional: without them DecordInit/OpenCVInit read with the default backend
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("decord", "cv2") else real(name, *a),
    )
    r = Compose([init(io_backend="disk"), SampleFrames(1, 1, 2, test_mode=True), decode()])(
        dict(filename=video, start_index=0)
    )
    assert ids(r["imgs"]) == [10, 30]
    assert init().backend in ("pyav", "decord", "opencv")


def test_missing_video_and_bad_io_backend(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4: video file does not exist"):
        VideoInit()(dict(filename=str(tmp_path / "nope.mp4")))
    with pytest.raises(ValueError, match="io_backend='petrel'"):
        VideoInit(io_backend="petrel")


def test_extensionless_name_gets_mp4(video):
    r = DecordInit()(dict(filename=video[:-4], start_index=0))
    assert r["total_frames"] == 40


def test_array_source():
    arr = np.stack([np.full((4, 6, 3), level(t), np.uint8) for t in range(10)])
    r = Compose([VideoInit(), SampleFrames(1, 1, 5, test_mode=True), VideoDecode()])(
        dict(array=arr)
    )
    assert ids(r["imgs"]) == [1, 3, 5, 7, 9] and r["original_shape"] == (4, 6)


def test_mixed_folder_template_picks_the_series(tmp_path):
    # a denseflow folder: img_ (RGB) beside flow_x_/flow_y_; the template and modality choose
    d = tmp_path / "mixed"
    os.makedirs(d)
    for k in range(1, 5):
        write_image(d / f"img_{k:05d}.png", np.full((H, W, 3), level(k), np.uint8))
        write_image(d / f"flow_x_{k:05d}.png", np.full((H, W), 100 + k, np.uint8))
        write_image(d / f"flow_y_{k:05d}.png", np.full((H, W), 200 + k, np.uint8))
    inds = np.array([1, 4])
    rgb = RawFrameDecode()(
        dict(frame_dir=str(d), frame_inds=inds, start_index=1, filename_tmpl="img_{:05}.png")
    )
    assert ids(rgb["imgs"]) == [1, 4]
    flow = RawFrameDecode()(
        dict(
            frame_dir=str(d),
            frame_inds=inds,
            start_index=1,
            modality="Flow",
            filename_tmpl="flow_{}_{:05d}.png",
        )
    )
    assert flow["imgs"].shape == (2, H, W, 2)
    assert flow["imgs"][:, 0, 0].tolist() == [[101, 201], [104, 204]]
    x_only = RawFrameDecode()(
        dict(frame_dir=str(d), frame_inds=inds, start_index=1, filename_tmpl="flow_x_{:05d}.png")
    )
    assert x_only["imgs"][:, 0, 0, 0].tolist() == [101, 104]


def test_flow_with_short_side_and_offset(tmp_path):
    d = tmp_path / "flow2"
    os.makedirs(d)
    for k in range(0, 6):
        write_image(d / f"x_{k:05d}.png", np.full((H, W), 10 + k, np.uint8))
        write_image(d / f"y_{k:05d}.png", np.full((H, W), 20 + k, np.uint8))
    r = Compose([SampleFrames(1, 1, 2, test_mode=True), RawFrameDecode(short_side=16)])(
        dict(frame_dir=str(d), offset=2, total_frames=4, start_index=1, modality="Flow")
    )
    # 4 frames from file 2: centres 1, 3 of the clip -> files 3, 5 (numbered from 0)
    assert r["imgs"].shape == (2, 16, 24, 2)
    assert r["imgs"][:, 0, 0].tolist() == [[13, 23], [15, 25]]


def test_flow_needs_a_folder(video):
    with pytest.raises(DecodeError, match="modality='Flow' reads x/y image pairs"):
        VideoInit()(dict(filename=video, modality="Flow"))


def test_same_frames_from_video_folder_and_array(video, tmp_path):
    # PNG extraction is lossless: the video, its frames and an array give equal pixels
    from vidlab.data.io import read_frames
    from vidlab.data.io.frames import ImageEncoder

    frames = read_frames(video, list(range(40)))
    d = tmp_path / "png"
    os.makedirs(d)
    enc = ImageEncoder(".png")
    for k, img in enumerate(frames):
        (d / f"img_{k + 1:05d}.png").write_bytes(enc.encode(img))
    video_pipe = [VideoInit(), SampleFrames(2, 3, 2, test_mode=True), VideoDecode()]
    from_video = Compose(video_pipe)(dict(filename=video, start_index=0))["imgs"]
    from_folder = Compose(video_pipe)(dict(frame_dir=str(d), start_index=1))["imgs"]
    from_array = Compose(video_pipe)(dict(array=frames))["imgs"]
    np.testing.assert_array_equal(from_video, from_folder)
    np.testing.assert_array_equal(from_video, from_array)
    # a rawframe pipeline (no Init) on the video file gives the folder's frames too
    raw = [SampleFrames(2, 3, 2, test_mode=True), RawFrameDecode()]
    on_video = Compose(raw)(dict(filename=video, start_index=0, modality="RGB"))["imgs"]
    on_folder = Compose(raw)(dict(frame_dir=str(d), start_index=1, total_frames=40))["imgs"]
    np.testing.assert_array_equal(on_video, on_folder)
