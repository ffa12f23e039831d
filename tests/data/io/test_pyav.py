"""PyAV backend: frame-exact reads against a full sequential decode of the same file."""

from __future__ import annotations

import dataclasses
import os

import av
import numpy as np
import pytest
from videogen import NUM_FRAMES, VIDEO_SPECS, encode, frame_id, full_decode, x264

from vidlab.data.io import DecodeError, open_video, probe, read_frames
from vidlab.data.io.pyav import PyAVReader, get_index

ALL = list(VIDEO_SPECS)
RNG_SEEDS = range(3)


def _need(videos, name):
    if name not in videos:
        pytest.skip(f"{name}: this FFmpeg has no encoder for it")
    return videos[name]


@pytest.mark.parametrize("name", ALL)
def test_probe_counts_every_frame(videos, references, name):
    path = _need(videos, name)
    info = probe(path)
    assert info.num_frames == NUM_FRAMES == len(references[name])
    assert (info.width, info.height) == (64, 48)
    assert info.path == path
    # the test pattern survives compression: the reference really is frame 0..59 in order
    assert [frame_id(f) for f in references[name]] == list(range(NUM_FRAMES))


@pytest.mark.parametrize("name", ALL)
def test_read_matches_sequential_decode(videos, references, name):
    path = _need(videos, name)
    ref = references[name]
    cases = [
        [0],
        [NUM_FRAMES - 1],
        list(range(0, NUM_FRAMES, 7)),  # sorted, across GOPs
        [50, 3, 27, 26, 11, 59, 0],  # unsorted, backwards jumps
        [5, 5, 40, 5, 39, 40],  # repeats
        list(range(20, 52, 2)),  # dense clip
    ]
    rng = np.random.default_rng(0)
    cases += [rng.integers(0, NUM_FRAMES, rng.integers(1, 16)).tolist() for _ in RNG_SEEDS]
    with open_video(path) as reader:  # one reader for all reads: its state must not leak
        for indices in cases:
            got = reader.read(indices)
            assert got.dtype == np.uint8 and got.shape == (len(indices), 48, 64, 3)
            np.testing.assert_array_equal(got, ref[indices], err_msg=f"{name} {indices}")
    for indices in cases[:4]:  # and fresh readers
        np.testing.assert_array_equal(read_frames(path, indices), ref[indices])


def test_keyframes_and_gop(videos):
    assert probe(videos["h264_gop12"]).keyframes == (0, 12, 24, 36, 48)
    assert probe(videos["h264_gop250"]).keyframes == (0,)
    assert probe(videos["raw_h264"]).keyframes is None  # no timestamps: nothing to seek by


def test_webm_mkv_report_zero_frames_but_probe_counts_them(videos):
    for name in ("vp9_webm", "h264_mkv", "no_duration_mkv"):
        with av.open(videos[name]) as c:
            assert c.streams.video[0].frames == 0  # the trap: the header has no count
        assert probe(videos[name]).num_frames == NUM_FRAMES


def test_container_without_duration(videos):
    path = videos["no_duration_mkv"]
    with av.open(path) as c:
        assert c.duration is None
    info = probe(path)
    assert info.num_frames == NUM_FRAMES
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert info.fps == pytest.approx(30.0)


def test_ntsc_rate(videos):
    info = probe(videos["ntsc_mp4"])
    assert info.fps == pytest.approx(30000 / 1001, rel=1e-6)
    assert info.duration == pytest.approx(NUM_FRAMES * 1001 / 30000, rel=1e-3)


def test_vfr_maps_by_timestamp(videos, references):
    path = videos["vfr_mp4"]
    index = get_index(path)
    assert index.vfr
    info = probe(path)
    span = (index.pts[-1] - index.pts[0]) * index.time_base
    assert info.fps == pytest.approx((NUM_FRAMES - 1) / float(span), rel=0.02)  # the mean rate
    got = read_frames(path, [59, 1, 30, 31, 2])
    assert [frame_id(f) for f in got] == [59, 1, 30, 31, 2]


def test_start_pts_not_zero(videos):
    index = get_index(videos["start_pts_ts"])
    assert index.start_pts != 0
    got = read_frames(videos["start_pts_ts"], [0, 13, 49])
    assert [frame_id(f) for f in got] == [0, 13, 49]


def test_open_gop_detected(videos):
    assert get_index(videos["open_gop_mp4"]).open_gop
    assert not get_index(videos["h264_gop12"]).open_gop


def test_short_side_resizes_during_conversion(videos, references):
    path = videos["h264_gop12"]
    got = read_frames(path, [3, 40], short_side=24)
    assert got.shape == (2, 24, 32, 3)  # 64x48 -> short side 24, aspect kept
    assert [frame_id(f) for f in got] == [3, 40]
    area = read_frames(path, [3], short_side=36, interpolation="area")
    assert area.shape == (1, 36, 48, 3)
    with pytest.raises(ValueError, match="short_side"):
        read_frames(path, [3], short_side=0)


def test_threads_give_the_same_frames(videos, references):
    path = videos["h264_gop12"]
    with open_video(path, threads=2) as reader:
        np.testing.assert_array_equal(reader.read([1, 30, 2]), references["h264_gop12"][[1, 30, 2]])


def test_index_cache_keyed_by_size_and_mtime(tmp_path):
    path = encode(tmp_path / "a.mp4", n=20, options=x264(12))
    first = get_index(path)
    assert get_index(path) is first
    encode(path, n=30, options=x264(12))
    os.utime(path, ns=(1, 1))  # a rewrite in the same mtime tick still changes size
    assert get_index(path).num_frames == 30
    assert probe(path).num_frames == 30


def test_raw_stream_is_read_by_counting(videos, references):
    path = videos["raw_h264"]
    reader = PyAVReader(path)
    assert reader._sequential
    np.testing.assert_array_equal(reader.read([40, 2, 59]), references["raw_h264"][[40, 2, 59]])


def test_empty_and_out_of_range_indices(videos):
    path = videos["h264_gop12"]
    assert read_frames(path, []).shape == (0, 48, 64, 3)
    with pytest.raises(IndexError, match=r"h264_gop12.mp4.*index 60.*60 frames"):
        read_frames(path, [0, 60])
    with pytest.raises(IndexError, match="index -1"):
        read_frames(path, [-1])
    with pytest.raises(TypeError, match="integers"):
        read_frames(path, [0.5])


def test_reader_protocol(videos):
    from vidlab.data.io import VideoReader

    with open_video(videos["h264_gop12"]) as reader:
        assert isinstance(reader, VideoReader)
        assert reader.info.num_frames == NUM_FRAMES
        assert "frames=60" in repr(reader)
    reader.close()  # twice is fine


def test_full_decode_helper_is_what_pyav_gives(videos):
    # the reference decodes with the same converter; check it against PyAV's own conversion
    ref = full_decode(videos["h264_gop12"])
    with av.open(videos["h264_gop12"]) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    np.testing.assert_array_equal(ref[0], first)


def test_decode_error_is_exception_with_path(videos):
    with pytest.raises(DecodeError) as e:
        read_frames(videos["h264_gop12"] + ".missing", [0])
    assert e.value.path.endswith(".missing")


def test_index_with_unknown_timestamps_falls_back_to_counting(videos, references):
    # a decoder whose timestamps the index does not know: count frames from the start instead
    path = videos["h264_gop12"]
    index = get_index(path)
    shifted = dataclasses.replace(index, pts=index.pts + 1)
    reader = PyAVReader(path, index=shifted)
    np.testing.assert_array_equal(reader.read([40, 3, 41]), references["h264_gop12"][[40, 3, 41]])
    assert reader._sequential


def test_wrong_keyframes_never_give_wrong_frames(videos, references):
    # an index claiming keyframes where there are none: seeks land on real keyframes, the
    # landing check rejects what is not a keyframe, and frames stay exact
    path = videos["h264_gop12"]
    index = get_index(path)
    wrong = dataclasses.replace(
        index,
        keyframes=np.arange(0, NUM_FRAMES, 5),
        key_pts=index.pts[::5].copy(),
        key_dts=index.pts[::5].copy(),
    )
    with PyAVReader(path, index=wrong) as reader:
        for indices in ([7, 33, 58], [22, 21, 50, 4], list(range(40, 60, 3))):
            np.testing.assert_array_equal(reader.read(indices), references["h264_gop12"][indices])


def test_seek_landing_late_is_retried(videos, references):
    # MPEG-TS seeks by dts and lands after the keyframe when asked by pts; MPEG-PS resyncs
    # mid-packet with shifted timestamps: both are caught and read exactly
    for name in ("start_pts_ts", "mpeg2_ps"):
        with open_video(videos[name]) as reader:
            for t in (50, 20, 59, 13, 48):
                np.testing.assert_array_equal(reader.read([t]), references[name][[t]])
