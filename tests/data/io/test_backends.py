"""Optional backends: same exactness checks where installed; fallback to PyAV where a backend
is known to be wrong; a clear error where it is not installed."""

from __future__ import annotations

import importlib
import sys
import warnings

import numpy as np
import pytest
from videogen import NUM_FRAMES, frame_id

from vidlab.data.io import BackendFallbackWarning, BackendUnavailableError, open_video
from vidlab.data.io.pyav import PyAVReader

INDICES = [0, 59, 13, 12, 30, 30, 47, 1, 25, 26, 27]
# Files each backend must read itself (exact there), and files it must hand to PyAV.
EXPECTED = {
    "decord": {
        "own": [
            "h264_gop250",
            "h264_gop12",
            "vp9_webm",
            "h264_mkv",
            "vfr_mp4",
            "ntsc_mp4",
            "offset_mp4",
            "offset_mkv",
        ],
        "fallback": [
            "mpeg4_bframes_avi",
            "no_duration_mkv",
            "start_pts_ts",
            "open_gop_mp4",
            "hevc_mp4",
            "mpeg2_ps",
            "raw_h264",
        ],
    },
    "opencv": {
        "own": [
            "h264_gop250",
            "h264_gop12",
            "vp9_webm",
            "h264_mkv",
            "ntsc_mp4",
            "mpeg4_bframes_avi",
            "open_gop_mp4",
            "hevc_mp4",
            "offset_mp4",
        ],
        # offset_mkv: OpenCV miscounts its frames (104 of 60)
        "fallback": [
            "vfr_mp4",
            "no_duration_mkv",
            "start_pts_ts",
            "mpeg2_ps",
            "raw_h264",
            "offset_mkv",
        ],
    },
    "torchcodec": {
        "own": [
            "h264_gop250",
            "h264_gop12",
            "vp9_webm",
            "h264_mkv",
            "vfr_mp4",
            "ntsc_mp4",
            "open_gop_mp4",
            "hevc_mp4",
            "no_duration_mkv",
            "offset_mp4",
            "offset_mkv",
        ],
        "fallback": ["mpeg4_bframes_avi", "start_pts_ts", "mpeg2_ps", "raw_h264"],
    },
}
IMPORTS = {"decord": "decord", "opencv": "cv2", "torchcodec": "torchcodec.decoders"}
PACKAGES = {"decord": "decord", "opencv": "opencv-python-headless", "torchcodec": "torchcodec"}


def _installed(backend):
    try:
        importlib.import_module(IMPORTS[backend])
        return True
    except Exception:  # missing, or present but unloadable (TorchCodec without FFmpeg libs)
        return False


def _needs(backend):
    if not _installed(backend):
        pytest.skip(f"{backend} is not installed")


def _cases(kind):
    return [(b, n) for b, d in EXPECTED.items() for n in d[kind]]


@pytest.mark.parametrize("backend, name", _cases("own"))
def test_backend_exact_where_it_reads(videos, references, backend, name):
    _needs(backend)
    if name not in videos:
        pytest.skip(f"no encoder for {name}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", BackendFallbackWarning)
        reader = open_video(videos[name], backend=backend)
    with reader:
        assert not isinstance(reader, PyAVReader)
        assert reader.info.num_frames == NUM_FRAMES
        for indices in (INDICES, sorted(INDICES), list(range(10, 40, 2))):
            got = reader.read(indices)
            assert [frame_id(f) for f in got] == indices
            # another RGB conversion may differ by a little; never by a frame
            diff = np.abs(got.astype(np.int16) - references[name][indices]).mean()
            assert diff < 4, (backend, name, diff)
        assert reader.read([2], short_side=24).shape == (1, 24, 32, 3)


@pytest.mark.parametrize("backend, name", _cases("fallback"))
def test_backend_falls_back_to_pyav(videos, references, backend, name):
    _needs(backend)
    if name not in videos:
        pytest.skip(f"no encoder for {name}")
    with pytest.warns(BackendFallbackWarning, match=f"backend='{backend}'") as record:
        reader = open_video(videos[name], backend=backend)
    assert videos[name] in str(record[0].message) and "PyAV" in str(record[0].message)
    with reader:
        assert isinstance(reader, PyAVReader)
        np.testing.assert_array_equal(reader.read(INDICES), references[name][INDICES])
    with warnings.catch_warnings():  # once per reason, not once per file
        warnings.simplefilter("error", BackendFallbackWarning)
        open_video(videos[name], backend=backend).close()


@pytest.mark.parametrize("backend", ["decord", "opencv", "torchcodec"])
def test_missing_backend_names_the_package(videos, monkeypatch, backend):
    monkeypatch.setitem(sys.modules, IMPORTS[backend].split(".")[0], None)  # import fails
    if "." in IMPORTS[backend]:
        monkeypatch.setitem(sys.modules, IMPORTS[backend], None)
    with pytest.raises(BackendUnavailableError, match=f"pip install {PACKAGES[backend]}"):
        open_video(videos["h264_gop12"], backend=backend)
    assert issubclass(BackendUnavailableError, ImportError)


def test_folders_and_arrays_ignore_video_backends(tmp_path):
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    assert open_video(frames, backend="decord").info.num_frames == 3  # no import needed
