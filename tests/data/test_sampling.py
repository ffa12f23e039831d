"""Frame sampling: the indices MMAction2 1.x gives, computed by hand."""

import numpy as np
import pytest

from vidlab.data.sampling import DenseSampleFrames, SampleFrames, UniformSample, UniformSampleFrames


def sample(sampler, total, start=0, **extra):
    return sampler(dict(total_frames=total, start_index=start, **extra))["frame_inds"]


# -- SampleFrames, train mode -----------------------------------------------------------------
def test_tsn_train_segments_one_random_frame_each():
    # 100 frames, 8 segments: avg_interval = 100 // 8 = 12, offsets 12*i + randint(12)
    np.random.seed(0)
    draws = np.random.randint(12, size=8)
    np.random.seed(0)
    r = SampleFrames(clip_len=1, frame_interval=1, num_clips=8)(
        dict(total_frames=100, start_index=0)
    )
    assert r["frame_inds"].tolist() == (np.arange(8) * 12 + draws).tolist()
    assert r["frame_inds"].dtype == np.int32
    assert (r["clip_len"], r["frame_interval"], r["num_clips"]) == (1, 1, 8)


def test_train_start_index_is_added():
    np.random.seed(1)
    a = sample(SampleFrames(1, 1, 8), 100, start=0)
    np.random.seed(1)
    b = sample(SampleFrames(1, 1, 8), 100, start=1)
    assert (b - a).tolist() == [1] * 8


def test_3d_train_one_clip():
    # 32x2x1 on 300 frames: ori_clip_len 64, avg_interval 237, offset randint(237)
    np.random.seed(3)
    off = np.random.randint(237, size=1)[0]
    np.random.seed(3)
    inds = sample(SampleFrames(32, 2, 1), 300)
    assert inds.tolist() == (off + np.arange(32) * 2).tolist()


def test_train_short_video_loops():
    # 32x2 on 40 frames: ori_clip_len 64 > 40 -> offset 0; indices 0, 2, ..., 62 wrap mod 40
    inds = sample(SampleFrames(32, 2, 1), 40)
    assert inds.tolist() == [(2 * i) % 40 for i in range(32)]


def test_train_short_video_repeat_last():
    inds = sample(SampleFrames(32, 2, 1, out_of_bound_opt="repeat_last"), 40)
    assert inds.tolist() == [min(2 * i, 38) for i in range(32)]


def test_train_fewer_frames_than_segments_spreads_evenly():
    # 8 segments over 5 frames: avg_interval 0 -> around(arange(8) * 5/8)
    inds = sample(SampleFrames(1, 1, 8), 5)
    assert inds.tolist() == [0, 1, 1, 2, 2, 3, 4, 4]


def test_train_sorted_random_offsets_branch():
    # clip_len 4, 4 clips, 6 frames: avg_interval = 3 // 4 = 0 but 6 > max(4, 4)
    np.random.seed(5)
    offs = np.sort(np.random.randint(3, size=4))
    np.random.seed(5)
    inds = sample(SampleFrames(4, 1, 4), 6)
    assert inds.tolist() == ((offs[:, None] + np.arange(4)) % 6).ravel().tolist()


def test_keep_tail_frames():
    np.random.seed(2)
    avg = (100 - 8 + 1) / 2.0
    u = np.random.uniform(0, avg, 2)
    np.random.seed(2)
    inds = sample(SampleFrames(8, 1, 2, keep_tail_frames=True), 100)
    offs = (np.arange(2) * avg + u).astype(np.int32)
    assert inds.tolist() == (offs[:, None] + np.arange(8)).ravel().tolist()


def test_temporal_jitter():
    # test mode 8x4: ori_clip_len 29, max_offset 71, offset 35; one jitter in [0, 4) per index
    np.random.seed(0)
    jitter = np.random.randint(4, size=8)
    np.random.seed(0)
    inds = sample(SampleFrames(8, 4, 1, temporal_jitter=True, test_mode=True), 100)
    assert inds.tolist() == (35 + np.arange(8) * 4 + jitter).tolist()


# -- SampleFrames, test mode ------------------------------------------------------------------
def test_tsn_test_middle_of_segments():
    # 100 frames, 8 segments of 12.5: centres 6.25, 18.75, ... truncated
    assert sample(SampleFrames(1, 1, 8, test_mode=True), 100).tolist() == [
        6,
        18,
        31,
        43,
        56,
        68,
        81,
        93,
    ]
    assert sample(SampleFrames(1, 1, 8, test_mode=True), 100, start=1).tolist() == [
        7,
        19,
        32,
        44,
        57,
        69,
        82,
        94,
    ]


def test_tsn_test_25_segments():
    inds = sample(SampleFrames(1, 1, 25, test_mode=True), 250)
    assert inds.tolist() == [5 + 10 * i for i in range(25)]


def test_twice_sample_2d():
    inds = sample(SampleFrames(1, 1, 8, test_mode=True, twice_sample=True), 100)
    assert inds.tolist() == [6, 18, 31, 43, 56, 68, 81, 93, 0, 12, 25, 37, 50, 62, 75, 87]


def test_3d_test_single_clip_is_centred():
    # 32x2x1 on 100 frames: ori_clip_len = 31*2+1 = 63, max_offset 37, offset 18
    assert sample(SampleFrames(32, 2, 1, test_mode=True), 100).tolist() == list(range(18, 82, 2))


def test_3d_test_ten_clips_evenly_spread():
    # 8x8x10 on 100 frames: ori_clip_len 57, max_offset 43, offsets round(k * 43/9)
    inds = sample(SampleFrames(8, 8, 10, test_mode=True), 100).reshape(10, 8)
    assert inds[:, 0].tolist() == [0, 5, 10, 14, 19, 24, 29, 33, 38, 43]
    assert (np.diff(inds, axis=1) == 8).all()


def test_3d_test_short_video():
    # 32x2x1 on 20 frames: max_offset 0; indices 0..62 step 2 wrap mod 20
    assert sample(SampleFrames(32, 2, 1, test_mode=True), 20).tolist() == [
        (2 * i) % 20 for i in range(32)
    ]


def test_3d_twice_sample_one_clip_is_a_clear_error():
    with pytest.raises(ValueError, match="twice_sample"):
        sample(SampleFrames(8, 2, 1, test_mode=True, twice_sample=True), 100)


def test_test_mode_is_deterministic():
    s = SampleFrames(16, 4, 3, test_mode=True)
    assert sample(s, 321).tolist() == sample(s, 321).tolist()


def test_target_fps():
    # 30 fps video to 15 fps: ori_clip_len = 4*2*2 = 16, max_offset 84, offset 42,
    # inds 42 + linspace(0, 15, 4).astype(int) = 42 + [0, 5, 10, 15]
    s = SampleFrames(4, 2, 1, test_mode=True, target_fps=15)
    assert sample(s, 100, avg_fps=30).tolist() == [42, 47, 52, 57]
    # without avg_fps the ratio is 1: ori_clip_len 8, offset 46, + linspace(0, 7, 4) = 0, 2, 4, 7
    assert sample(s, 100).tolist() == [46, 48, 50, 53]


@pytest.mark.parametrize("total", [1, 2, 3, 7, 31, 64, 65, 200])
@pytest.mark.parametrize("test_mode", [False, True])
@pytest.mark.parametrize("oob", ["loop", "repeat_last"])
def test_never_out_of_range(total, test_mode, oob):
    np.random.seed(total)
    for kw in (
        dict(clip_len=1, num_clips=8),
        dict(clip_len=32, frame_interval=2),
        dict(clip_len=8, frame_interval=8, num_clips=10),
    ):
        for start in (0, 1):
            inds = sample(
                SampleFrames(
                    **kw,
                    test_mode=test_mode,
                    out_of_bound_opt=oob,
                    twice_sample=test_mode and kw.get("num_clips", 1) > 1,
                ),
                total,
                start,
            )
            assert inds.min() >= start and inds.max() < total + start


def test_empty_video_is_a_clear_error():
    with pytest.raises(ValueError, match="clip.mp4: total_frames is 0"):
        SampleFrames(8)(dict(total_frames=0, start_index=0, filename="clip.mp4"))


def test_missing_total_frames_probes_the_source():
    arr = np.zeros((37, 4, 4, 3), np.uint8)
    r = SampleFrames(1, 1, 4, test_mode=True)(dict(array=arr))
    assert r["total_frames"] == 37 and r["start_index"] == 0
    assert r["frame_inds"].max() < 37


def test_bad_options():
    with pytest.raises(ValueError, match="out_of_bound_opt"):
        SampleFrames(8, out_of_bound_opt="clamp")


# -- DenseSampleFrames ------------------------------------------------------------------------
def test_dense_test_positions():
    # sample_range 16 over 40 frames: sample_position 25, starts linspace(0, 24, 3) = 0, 12, 24
    s = DenseSampleFrames(
        clip_len=4,
        frame_interval=2,
        num_clips=1,
        sample_range=16,
        num_sample_positions=3,
        test_mode=True,
    )
    inds = sample(s, 40).reshape(3, 4)
    assert inds.tolist() == [[0, 2, 4, 6], [12, 14, 16, 18], [24, 26, 28, 30]]


def test_dense_train_window():
    np.random.seed(0)
    start = np.random.randint(0, 25 - 1)
    np.random.seed(0)
    s = DenseSampleFrames(clip_len=4, frame_interval=2, num_clips=2, sample_range=16)
    inds = sample(s, 40)
    assert inds.tolist() == [start + o for o in (0, 2, 4, 6, 8, 10, 12, 14)]


# -- UniformSample (SSv2) ---------------------------------------------------------------------
def test_uniform_sample_test_mode():
    # 21 frames, 4 segments: seg 5; clip k takes start + int(5/3 * (k+1))
    s = UniformSample(clip_len=4, num_clips=2, test_mode=True)
    r = s(dict(total_frames=21, start_index=0))
    assert r["frame_inds"].tolist() == [1, 6, 11, 16, 3, 8, 13, 18]
    assert r["frame_interval"] is None and r["num_clips"] == 2


def test_uniform_sample_train_one_per_segment():
    np.random.seed(0)
    inds = sample(UniformSample(clip_len=4), 21)
    bounds = [(0, 5), (5, 10), (10, 15), (15, 20)]
    assert all(lo <= i <= hi for i, (lo, hi) in zip(inds, bounds))


def test_uniform_sample_short_video_repeats():
    inds = sample(UniformSample(clip_len=8, test_mode=True), 3)
    assert inds.min() >= 0 and inds.max() <= 2 and len(inds) == 8
    assert inds.tolist() == sorted(inds.tolist())


def test_uniform_sample_rejects_loop():
    with pytest.raises(ValueError, match="UniformSampleFrames"):
        UniformSample(8, out_of_bound_opt="loop")


def test_uniform_sample_frames_seeded_test_mode_leaves_global_rng_alone():
    np.random.seed(7)
    before = np.random.randint(1000)
    np.random.seed(7)
    s = UniformSampleFrames(clip_len=10, num_clips=2, test_mode=True, seed=255)
    a = sample(s, 100)
    after = np.random.randint(1000)
    assert before == after
    assert a.tolist() == sample(s, 100).tolist()
    # the numbers MMAction2 gets by np.random.seed(255)
    np.random.seed(255)
    bids = np.array([i * 100 // 10 for i in range(11)])
    exp = np.concatenate([bids[:10] + np.random.randint(np.diff(bids)) for _ in range(2)])
    assert a.tolist() == exp.tolist()


def test_uniform_sample_frames_short_video_loops():
    inds = sample(UniformSampleFrames(clip_len=10, test_mode=True), 4)
    assert inds.tolist() == [i % 4 for i in range(10)]
