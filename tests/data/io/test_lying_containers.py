"""Containers that lie (issue 14): every index of each file against a full sequential decode.

The files are written by `liars` with PyAV: a stream-copy cut and a negative start time (MP4
edit lists), pts overwritten by dts, two captures joined with ``cat``, a size change
mid-stream, and rotation metadata.
"""

from __future__ import annotations

import logging
from fractions import Fraction

import av
import liars
import numpy as np
import pytest
from videogen import encode, frame_id, full_decode, x264

from vidlab.data.io import index as index_module
from vidlab.data.io import open_video, probe, read_frames
from vidlab.data.io.convert import RGBConverter
from vidlab.data.io.pyav import clear_index_cache
from vidlab.data.tools import check_videos


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


@pytest.fixture(scope="module")
def pts_as_dts(src):
    folder, _ = src
    ts = encode(folder / "bframes.ts", options=x264(12, 3))
    return liars.pts_overwritten_by_dts(ts, folder / "pts_as_dts.ts")


def test_pts_overwritten_by_dts_is_counted(pts_as_dts):
    ref = full_decode(pts_as_dts)
    assert [frame_id(f) for f in ref] == list(range(60))
    info = probe(pts_as_dts)
    assert info.keyframes is None  # nothing to seek by
    assert sum("decode times" in issue for issue in info.issues) == 1
    check_every_index(pts_as_dts, ref)


def test_frames_out_of_timestamp_order_are_caught_while_reading(pts_as_dts, monkeypatch):
    # where the demux pass sees nothing wrong, the reader notices the first frame that comes
    # out of timestamp order, counts from the start instead, and the cache remembers it
    monkeypatch.setattr(index_module, "_trust_note", lambda *args: None)
    clear_index_cache()
    assert probe(pts_as_dts).keyframes is not None  # trusted at first
    ref = full_decode(pts_as_dts)
    with open_video(pts_as_dts) as reader:
        np.testing.assert_array_equal(reader.read(range(12, 40)), ref[12:40])
        assert reader._sequential
        assert any("out of timestamp order" in issue for issue in reader.info.issues)
    info = probe(pts_as_dts)  # learnt once, kept in the index cache
    assert info.keyframes is None
    assert sum("out of timestamp order" in issue for issue in info.issues) == 1
    check_every_index(pts_as_dts, ref)
    clear_index_cache()


def test_joined_captures_are_counted(src):
    # the second capture's timestamps restart half a frame after the first's start: no value
    # repeats, so sorting them would interleave the two captures
    folder, _ = src
    first = liars.capture(folder / "part1.ts", range(30))
    second = liars.capture(folder / "part2.ts", range(30, 60), offset=101)
    path = liars.joined(first, second, folder / "joined.ts")
    ref = full_decode(path)
    assert [frame_id(f) for f in ref] == list(range(60))
    info = probe(path)
    assert info.keyframes is None
    assert sum("jump back" in issue for issue in info.issues) == 1
    check_every_index(path, ref)


def test_size_change_mid_stream_has_one_rule(src):
    # every frame comes back at the first frame's size, scaled; the change is noted once
    folder, _ = src
    path = liars.size_change(folder / "size.ts", change_at=30, size=(32, 24))
    converter = RGBConverter()
    ref = []
    with av.open(path) as c:
        for frame in c.decode(video=0):
            ref.append(np.empty((48, 64, 3), np.uint8))
            converter.convert(frame, ref[-1])  # the rule, applied to the full decode
    ref = np.stack(ref)
    assert [frame_id(f) for f in ref] == list(range(60))
    assert probe(path).issues == ()  # the demux pass cannot see it
    check_every_index(path, ref)
    info = probe(path)
    assert (info.width, info.height) == (64, 48)
    assert sum("changes mid-stream" in issue for issue in info.issues) == 1
    assert read_frames(path, [45], short_side=24).shape == (1, 24, 32, 3)
    clear_index_cache()
    with open_video(path) as reader:  # a reader that starts after the change
        np.testing.assert_array_equal(reader.read([45, 2]), ref[[45, 2]])
        assert "changes mid-stream" in reader.info.issues[-1]


def test_data_check_reports_a_size_change(src, tmp_path):
    folder, plain = src
    path = liars.size_change(folder / "size_check.ts")
    listed = tmp_path / "list.txt"
    listed.write_text(f"{path} 0\n{plain} 1\n")
    report = check_videos(listed, num_workers=0)
    assert report["num_bad"] == 0
    assert [w for w in report["warnings"] if "changes mid-stream" in w] == [
        f"{path}: the frame size changes mid-stream (64x48 at the start, 32x24 from frame 30); "
        "every frame is returned at 64x48, scaled"
    ]


# set_display_rotation turns counterclockwise; VideoInfo.rotation is the clockwise turn that
# displays the frame upright (what FFmpeg's command line applies)
ROTATIONS = {90: 270, 180: 180, 270: 90}


@pytest.mark.parametrize("ccw", sorted(ROTATIONS))
def test_rotation_is_reported_and_frames_come_upright(src, ccw):
    folder, _ = src
    path = liars.rotated(folder / f"rotated{ccw}.mp4", ccw, sar=Fraction(4, 3))
    stored = full_decode(path)  # (24, 48, 64, 3) as stored
    info = probe(path)
    clockwise = ROTATIONS[ccw]
    assert info.rotation == clockwise
    assert info.sample_aspect_ratio == Fraction(4, 3)
    assert (info.width, info.height) == (64, 48)
    assert info.upright_size == ((48, 64) if clockwise in (90, 270) else (64, 48))
    upright = np.stack([np.rot90(f, -clockwise // 90) for f in stored])
    check_every_index(path, upright)
    assert read_frames(path, []).shape == (0, *upright.shape[1:])
    with open_video(path, rotate=False) as reader:  # as stored
        np.testing.assert_array_equal(reader.read([0, 13, 5]), stored[[0, 13, 5]])
    small = read_frames(path, [3], short_side=24)
    assert small.shape[1:3] == ((32, 24) if clockwise in (90, 270) else (24, 32))


def test_unrotated_files_report_no_rotation(videos):
    for name in ("h264_gop12", "h264_mkv", "start_pts_ts"):
        info = probe(videos[name])
        assert info.rotation == 0 and info.upright_size == (64, 48)


def test_rotation_learnt_from_frames_in_other_containers(src, monkeypatch):
    # where the index cannot read the display matrix, the first decoded frame tells it
    folder, _ = src
    path = liars.rotated(folder / "rotated_learnt.mp4", 90)
    monkeypatch.setattr(index_module, "display_rotation", lambda path: None)
    clear_index_cache()
    assert probe(path).rotation == 0
    stored = full_decode(path)
    got = read_frames(path, [2])
    np.testing.assert_array_equal(got[0], np.rot90(stored[2], 1))  # 270 clockwise
    assert probe(path).rotation == 270
    clear_index_cache()


def test_data_check_and_datasets_report_rotated_files(src, tmp_path, caplog):
    folder, plain = src
    path = liars.rotated(folder / "rotated_check.mp4", 90)
    listed = tmp_path / "list.txt"
    listed.write_text(f"{path} 0\n{plain} 1\n")
    report = check_videos(listed, num_workers=0)
    assert report["warnings"] == [
        f"{path}: rotated 270 degrees for display (a display matrix); frames are read upright"
    ]
    from vidlab.data.loading import open_source

    with caplog.at_level(logging.INFO, logger="vidlab"):
        source = open_source({"filename": path})
    assert (source.width, source.height) == (48, 64)
    assert "rotated 270 degrees" in caplog.text
    source.close()
