"""Broken input: every case gives a DecodeError naming the file and the cause."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from videogen import encode, full_decode, write_images, x264

from vidlab.data.io import DecodeError, open_video, probe, read_frames
from vidlab.data.io.pyav import get_index


def _raises(src, match, indices=(0,)):
    with pytest.raises(DecodeError, match=match) as e:
        read_frames(src, list(indices))
    assert str(src) in str(e.value)
    assert e.value.path == str(src)
    return str(e.value)


def test_missing_path(tmp_path):
    _raises(tmp_path / "nope.mp4", "no such file")
    with pytest.raises(DecodeError, match="no such file"):
        probe(tmp_path / "nope.mp4")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    _raises(path, r"empty \(0 bytes\)")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 40000, dtype=np.uint8).tobytes())
    _raises(path, "cannot open as a video")


@pytest.mark.parametrize("name", ["notes.txt", "notes.mp4"])
def test_text_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("this is not a video\n" * 50)
    # FFmpeg opens a .txt as "ANSI art" video; vidlab says what it is
    _raises(path, "not a video|cannot open as a video")


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = encode(tmp_path / "locked.mp4", n=10, options=x264(12))
    os.chmod(path, 0)
    try:
        _raises(path, "permission denied")
    finally:
        os.chmod(path, 0o644)


def test_directory_without_images(tmp_path):
    folder = tmp_path / "empty_dir"
    folder.mkdir()
    _raises(folder, "no numbered images")


def test_truncated_file_with_index_intact(tmp_path):
    full = encode(
        tmp_path / "full.mp4",
        n=90,
        gop=30,
        options=x264(30),
        container_options={"movflags": "faststart"},  # moov first: cut files still open
    )
    data = open(full, "rb").read()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    info = probe(cut)
    assert 0 < info.num_frames < 90
    assert any("truncated" in issue for issue in info.issues)
    reference = full_decode(full)
    # the cut can lose B-frames in the middle of the tail: match frames by timestamp
    original = get_index(full)
    cut_pts = get_index(cut).pts
    failures = {}
    for t in range(info.num_frames):
        try:
            got = read_frames(cut, [t])
        except DecodeError as e:
            failures[t] = str(e)
        else:  # what decodes is that frame of the whole file, exactly
            np.testing.assert_array_equal(got[0], reference[original.locate(int(cut_pts[t]))])
    assert failures, "the packet cut in half must fail to decode"
    t, message = next(iter(failures.items()))
    m = re.search(
        r"cut.mp4: cannot decode frame (\d+): .*; (\d+) of (\d+) frames are decodable", message
    )
    assert m, message
    assert int(m.group(1)) == t and int(m.group(3)) == info.num_frames
    assert int(m.group(2)) < info.num_frames
    assert "truncated" in message


def test_truncated_file_without_index(tmp_path):
    full = encode(tmp_path / "full_end.mp4", n=90, gop=30, options=x264(30))  # moov at the end
    cut = tmp_path / "cut_end.mp4"
    cut.write_bytes(open(full, "rb").read()[: int(os.path.getsize(full) * 0.6)])
    _raises(cut, "cannot open as a video")


def test_frame_folder_with_gaps(tmp_path):
    folder = write_images(tmp_path / "gappy", range(1, 11), skip={4, 5, 8})
    with pytest.warns(UserWarning, match="missing: 4-5, 8"):
        info = probe(folder)
    assert info.num_frames == 3 and info.start_index == 1
    assert any("4-5, 8" in issue for issue in info.issues)
    with pytest.warns(UserWarning):
        message = _raises(folder, "missing for numbers 4, 8", [0, 3, 7])
    assert "gappy" in message
    with pytest.warns(UserWarning):
        assert read_frames(folder, [0, 2, 5]).shape == (3, 48, 64, 3)  # 1, 3, 6 are there


def test_url_scheme_rejected():
    with pytest.raises(ValueError, match=r"'ftp' scheme.*http://.*https://.*local path"):
        read_frames("ftp://example.org/a.mp4", [0])
    with pytest.raises(ValueError, match="'s3' scheme"):
        open_video("s3://bucket/a.mp4")


def test_unknown_backend(tmp_path):
    with pytest.raises(ValueError, match="backend='ffmpeg' is not known"):
        open_video(tmp_path / "a.mp4", backend="ffmpeg")


def test_not_a_source():
    with pytest.raises(TypeError, match="video source"):
        probe(42)


def test_frames_backend_on_a_file(tmp_path):
    path = encode(tmp_path / "v.mp4", n=5, options=x264(12))
    with pytest.raises(DecodeError, match="reads frame folders"):
        open_video(path, backend="frames")
