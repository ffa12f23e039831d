"""Containers that lie (issue 14): every index of each file against a full sequential decode.

The files are written by `liars` with PyAV: a stream-copy cut and a negative start time (MP4
edit lists), pts overwritten by dts, two captures joined with ``cat``, a size change
mid-stream, and rotation metadata.
"""

from __future__ import annotations

import liars
import numpy as np
import pytest
from videogen import encode, frame_id, full_decode, x264

from vidlab.data.io import open_video, probe, read_frames
from vidlab.data.io.pyav import clear_index_cache


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    folder = tmp_path_factory.mktemp("liars")
    return folder, encode(folder / "src.mp4", options=x264(12))


def check_every_index(path, ref):
    """Every frame read alone backwards (a seek each), all at once, and in random clips, by
    one reader and by fresh ones, equals the full sequential decode."""
    n = len(ref)
    assert probe(path).num_frames == n
    with open_video(path) as reader:
        for t in reversed(range(n)):
            np.testing.assert_array_equal(reader.read([t]), ref[[t]], err_msg=f"{path} {t}")
        np.testing.assert_array_equal(reader.read(range(n)), ref)
        rng = np.random.default_rng(0)
        for _ in range(6):
            idx = rng.integers(0, n, 8)
            np.testing.assert_array_equal(reader.read(idx), ref[idx], err_msg=f"{path} {idx}")
    for t in (0, n // 2, n - 1):
        np.testing.assert_array_equal(read_frames(path, [t]), ref[[t]])


@pytest.mark.parametrize("first", [17, 12, 1])
def test_stream_copy_cut_edit_list(src, first):
    folder, path = src
    cut = liars.stream_copy_cut(path, folder / f"cut{first}.mp4", first)
    ref = full_decode(cut)
    assert [frame_id(f) for f in ref] == list(range(first, 60))  # the decoder drops the rest
    check_every_index(cut, ref)
    info = probe(cut)
    assert info.issues == ()  # an edit list is not a defect: no "truncated" note
    assert info.keyframes[0] == 0


def test_negative_start_time_edit_list(src):
    folder, _ = src
    path = liars.negative_start(folder / "negative.mp4", shift=3)
    ref = full_decode(path)
    assert [frame_id(f) for f in ref] == list(range(3, 60))  # FFmpeg presents from time 0
    check_every_index(path, ref)
    clear_index_cache()
    with open_video(path) as reader:  # index built by the reader itself, then a first read
        np.testing.assert_array_equal(reader.read([0]), ref[[0]])
