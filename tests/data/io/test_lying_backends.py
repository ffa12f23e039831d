"""Optional backends on lying containers (issue 14): the files where vidlab's rules live in
the PyAV reader (edit lists, untrusted timestamps, a size change, a display rotation) are read
with PyAV, with a `BackendFallbackWarning`, and the frames are exact.

Measured with decord 0.6.0 on these files: a stream-copy cut counts the 5 discarded packets
(48 frames for 43) and returns frame 22 for index 2; pts overwritten by dts returns frame 18
for 20; two joined captures return frame 12 for 0; a rotated file fails in decord. OpenCV
counts the discarded packets too, and turns rotated frames upright itself.
"""

from __future__ import annotations

import importlib.util
import warnings

import liars
import numpy as np
import pytest
from videogen import encode, full_decode, x264

from vidlab.data.io import BackendFallbackWarning, open_video
from vidlab.data.io.pyav import PyAVReader

BACKENDS = [
    pytest.param(
        name,
        marks=pytest.mark.skipif(
            importlib.util.find_spec(module) is None, reason=f"{name} is not installed"
        ),
    )
    for name, module in (("decord", "decord"), ("opencv", "cv2"), ("torchcodec", "torchcodec"))
]


@pytest.fixture(scope="module")
def liar_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("liar_backends")
    src = encode(folder / "src.mp4", options=x264(12))
    bframes_ts = encode(folder / "bframes.ts", options=x264(12, 3))
    return {
        "edit_list_cut": liars.stream_copy_cut(src, folder / "cut.mp4", 17),
        "negative_start": liars.negative_start(folder / "negative.mp4"),
        "pts_as_dts": liars.pts_overwritten_by_dts(bframes_ts, folder / "pts_as_dts.ts"),
        "joined": liars.joined(
            liars.capture(folder / "a.ts", range(30)),
            liars.capture(folder / "b.ts", range(30, 60), offset=101),
            folder / "joined.ts",
        ),
        "rotated": liars.rotated(folder / "rotated.mp4", 90),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "name", ["edit_list_cut", "negative_start", "pts_as_dts", "joined", "rotated"]
)
def test_lying_files_are_read_with_pyav(liar_files, backend, name):
    path = liar_files[name]
    with open_video(path) as reader:
        ref = reader.read(range(reader.info.num_frames))  # PyAV, checked in the other file
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        reader = open_video(path, backend=backend)
    with reader:
        assert isinstance(reader, PyAVReader)
        idx = [0, 5, 2, 20, reader.info.num_frames - 1]
        np.testing.assert_array_equal(reader.read(idx), ref[idx])
    fallbacks = [w for w in record if issubclass(w.category, BackendFallbackWarning)]
    assert len(fallbacks) == 1 and path in str(fallbacks[0].message)


def test_rotated_file_read_as_stored_matches_a_full_decode(liar_files):
    path = liar_files["rotated"]
    with open_video(path, rotate=False) as reader:
        np.testing.assert_array_equal(reader.read([0, 9, 3]), full_decode(path)[[0, 9, 3]])
