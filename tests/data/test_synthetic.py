"""Tests of the synthetic motion dataset: pixels, encoding, layout, determinism, reuse, and the
property that makes it useful: the direction of motion is in the ORDER of the frames only."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from vidlab.data import datasets, loading, sampling
from vidlab.data import synthetic as S
from vidlab.data.synthetic import (
    DEFAULT_CLASSES,
    SyntheticMotionDataset,
    cli,
    files,
    make_synthetic_dataset,
    prepare_synthetic_data,
    render,
    render_clip,
    sample_clip_spec,
    synth_main,
    write_video,
)
from vidlab.data.transforms import formatting

PAIRS = [
    ("move_left", "move_right"),
    ("move_up", "move_down"),
    ("grow", "shrink"),
    ("rotate_cw", "rotate_ccw"),
]
SMALL = dict(videos_per_class=4, val_fraction=0.25, num_frames=12, size=32)


def _decode(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _direction_score(frames: np.ndarray, axis: int, shift: int = 4, step: int = 3) -> float:
    """Model-free motion direction along ``axis`` (2 = x, 1 = y): > 0 means towards +axis.

    Compares frame t+step with frame t displaced by +shift and by -shift. The static
    background mismatches both displacements equally (same pixel pairs), so only what moves
    decides the sign.
    """
    g = frames.astype(np.float32).mean(axis=-1)  # (T, H, W) grey
    n = g.shape[axis]
    lead, lag = np.arange(shift, n), np.arange(0, n - shift)
    score = 0.0
    for t in range(0, len(g) - step):
        a, b = g[t], g[t + step]  # (H, W)
        plus = np.take(b, lead, axis - 1) - np.take(a, lag, axis - 1)
        minus = np.take(b, lag, axis - 1) - np.take(a, lead, axis - 1)
        score += float((minus**2).mean() - (plus**2).mean())
    return score


# ------------------------------------------------------------------------------ rendering


def test_render_clip_is_pure_and_seeded():
    a = render_clip("move_left", np.random.default_rng(7), 10, 32)
    b = render_clip("move_left", 7, 10, 32)
    c = render_clip("move_left", 8, 10, 32)
    assert a.shape == (10, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.std() > 10  # not a blank picture


def test_frames_change_over_time_for_every_class():
    for cls_name in DEFAULT_CLASSES:
        frames = render_clip(cls_name, 3, 24, 64).astype(np.float32)
        # first vs last frame differ by much more than the pixel noise alone
        assert np.abs(frames[-1] - frames[0]).mean() > 4, cls_name


def test_unknown_class_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="move_left.*rotate_ccw"):
        render_clip("jump", 0)
    with pytest.raises(ValueError, match=r"'jump'.*valid names: move_left"):
        make_synthetic_dataset(tmp_path / "d", classes=["grow", "jump"])
    with pytest.raises(ValueError, match="more than once"):
        make_synthetic_dataset(tmp_path / "d", classes="grow,grow")
    with pytest.raises(ValueError, match="size must be an even int"):
        make_synthetic_dataset(tmp_path / "d", size=33)
    assert not (tmp_path / "d").exists()


# ------------------------------------------------------------------ order is what matters


@pytest.mark.parametrize("a, b", PAIRS)
def test_pair_clips_are_time_reverses(a, b):
    for seed in range(5):
        sa, sb = sample_clip_spec(a, seed), sample_clip_spec(b, seed)
        np.testing.assert_allclose(sa.centers[::-1], sb.centers, atol=1e-9)
        np.testing.assert_allclose(sa.radii[::-1], sb.radii, atol=1e-9)
        np.testing.assert_allclose(sa.angles[::-1], sb.angles, atol=1e-9)
        assert sa.shape == sb.shape
        np.testing.assert_array_equal(sa.colors, sb.colors)


def _pair_specs(cls_name, n=300):
    # independent draws per class, as in the dataset (class-keyed streams)
    return [sample_clip_spec(cls_name, files._video_rng(0, cls_name, i)) for i in range(n)]


@pytest.mark.parametrize(
    "a, b, axis", [("move_left", "move_right", 0), ("move_up", "move_down", 1)]
)
def test_translation_pairs_visit_the_same_positions(a, b, axis):
    pa = np.stack([s.centers for s in _pair_specs(a)])  # (N, T, 2)
    pb = np.stack([s.centers for s in _pair_specs(b)])
    # the unordered set of positions: same distribution (mean, spread) in both classes
    assert abs(pa[..., axis].mean() - pb[..., axis].mean()) < 1.0
    assert abs(pa[..., axis].std() - pb[..., axis].std()) < 1.0
    assert abs(pa[..., 1 - axis].mean() - pb[..., 1 - axis].mean()) < 1.5
    # ...but the displacement has opposite signs, always, and a clear size (>= 0.3 frame)
    da = pa[:, -1, axis] - pa[:, 0, axis]
    db = pb[:, -1, axis] - pb[:, 0, axis]
    assert (da < -0.3 * 64).all() and (db > 0.3 * 64).all()
    # reversing the frames of a gives the statistics of b
    dar = pa[:, 0, axis] - pa[:, -1, axis]
    assert abs(dar.mean() - db.mean()) < 1.5 and abs(dar.std() - db.std()) < 1.5


def test_scale_and_rotation_pairs_share_per_frame_statistics():
    ga, gb = _pair_specs("grow"), _pair_specs("shrink")
    ra = np.log(np.stack([s.radii for s in ga]))  # (N, T)
    rb = np.log(np.stack([s.radii for s in gb]))
    assert abs(ra.mean() - rb.mean()) < 0.05 and abs(ra.std() - rb.std()) < 0.05
    assert ((ra[:, -1] - ra[:, 0]) > np.log(1.9)).all()
    assert ((rb[:, -1] - rb[:, 0]) < -np.log(1.9)).all()

    ca, cc = _pair_specs("rotate_cw"), _pair_specs("rotate_ccw")
    aa = np.stack([s.angles for s in ca])
    ac = np.stack([s.angles for s in cc])
    # orientations mod a full turn: uniform in both classes (compare circular moments)
    for k in (1, 2):
        assert abs(np.cos(k * aa).mean() - np.cos(k * ac).mean()) < 0.1
        assert abs(np.sin(k * aa).mean() - np.sin(k * ac).mean()) < 0.1
    turn_a, turn_c = aa[:, -1] - aa[:, 0], ac[:, -1] - ac[:, 0]
    assert (turn_a > np.deg2rad(110)).all() and (turn_c < -np.deg2rad(110)).all()


@pytest.mark.parametrize(
    "cls_name, axis, sign",
    [("move_left", 2, -1), ("move_right", 2, 1), ("move_up", 1, -1), ("move_down", 1, 1)],
)
def test_frames_show_direction_and_reversal_flips_it(cls_name, axis, sign):
    for seed in range(3):
        frames = render_clip(cls_name, seed, 24, 64)
        assert np.sign(_direction_score(frames, axis)) == sign
        assert np.sign(_direction_score(frames[::-1], axis)) == -sign
        # the other axis carries no consistent motion: much weaker than the true one
        assert abs(_direction_score(frames, 3 - axis)) < 0.5 * abs(_direction_score(frames, axis))


def _mask_stats(spec):
    alpha = 1.0 - render._object_weights(spec)[..., 0]  # (T, H, W) object coverage
    ys, xs = np.mgrid[0 : spec.size, 0 : spec.size]
    area = alpha.sum(axis=(1, 2))
    cx = (alpha * xs).sum(axis=(1, 2)) / area
    cy = (alpha * ys).sum(axis=(1, 2)) / area
    mxx = (alpha * (xs - cx[:, None, None]) ** 2).sum(axis=(1, 2))
    myy = (alpha * (ys - cy[:, None, None]) ** 2).sum(axis=(1, 2))
    mxy = (alpha * (xs - cx[:, None, None]) * (ys - cy[:, None, None])).sum(axis=(1, 2))
    # orientation of the long axis in image coordinates (y down): growing = clockwise
    phi = np.unwrap(np.arctan2(2 * mxy, mxx - myy)) / 2
    return area, np.stack([cx, cy], axis=1), phi


def test_rendered_object_follows_its_spec():
    # centroid of the drawn mask = the spec's centre (object fully inside for grow)
    spec = sample_clip_spec("grow", 11)
    area, centroid, _ = _mask_stats(spec)
    if spec.shape in ("rectangle", "ellipse"):  # symmetric shapes: centroid is the centre
        np.testing.assert_allclose(centroid, spec.centers, atol=0.3)
    assert area[-1] > 3.5 * area[0]  # radius x2..2.8 -> area x4..7.8
    area, _, _ = _mask_stats(sample_clip_spec("shrink", 11))
    assert area[0] > 3.5 * area[-1]
    # rotation direction on screen, from the second moments of elongated shapes
    seen = 0
    for seed in range(40):
        cw = sample_clip_spec("rotate_cw", seed)
        if cw.shape not in ("rectangle", "ellipse") or cw.aspect > 0.8:
            continue
        _, _, phi_cw = _mask_stats(cw)
        _, _, phi_ccw = _mask_stats(sample_clip_spec("rotate_ccw", seed))
        assert phi_cw[-1] - phi_cw[0] > np.deg2rad(100)
        assert phi_ccw[-1] - phi_ccw[0] < -np.deg2rad(100)
        seen += 1
    assert seen >= 3


# ---------------------------------------------------------------------------- write_video


def test_write_video_roundtrip_fixed_gop(tmp_path):
    frames = render_clip("rotate_cw", 0, 30, 48)
    path = write_video(tmp_path / "clip.mp4", frames, fps=15, gop=10)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == 15
        decoded = [f for f in container.decode(video=0)]
    keys = [i for i, f in enumerate(decoded) if f.key_frame]
    assert keys == [0, 10, 20]
    out = np.stack([f.to_ndarray(format="rgb24") for f in decoded])
    assert out.shape == frames.shape
    mse = ((out.astype(np.float32) - frames) ** 2).mean()
    assert 10 * np.log10(255**2 / mse) > 30  # PSNR: the content survives compression
    # same frames -> same bytes
    again = write_video(tmp_path / "again.mp4", frames, fps=15, gop=10)
    assert path.read_bytes() == again.read_bytes()


def test_write_video_is_deterministic_over_many_runs(tmp_path):
    # x264's default macroblock-tree rate control changed ~1 encode in 20; catch a regression
    frames = render_clip("move_down", 5, 24, 64)
    digests = {
        hashlib.sha256(write_video(tmp_path / "r.mp4", frames).read_bytes()).hexdigest()
        for _ in range(40)
    }
    assert len(digests) == 1


@pytest.mark.parametrize(
    "name, codec, pix_fmt",
    [
        ("a.mkv", "libx264", "yuv444p"),
        ("b.avi", "mpeg4", "yuv420p"),
        ("c.webm", "libvpx-vp9", "yuv420p"),
    ],
)
def test_write_video_other_codecs_and_containers(tmp_path, name, codec, pix_fmt):
    frames = render_clip("grow", 1, 6, 32)
    write_video(tmp_path / name, [f for f in frames], fps=10, codec=codec, pix_fmt=pix_fmt)
    assert _decode(tmp_path / name).shape == frames.shape


def test_write_video_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError, match="even width and height, got 33x32"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 32, 33, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        write_video(tmp_path / "x.mp4", np.zeros((32, 32, 3), np.uint8))


# ------------------------------------------------------------------------ dataset on disk


def test_dataset_layout_lists_and_videos(tmp_path):
    classes = ["move_right", "grow", "rotate_ccw"]
    info = make_synthetic_dataset(tmp_path / "ds", classes=classes, **SMALL)
    root = Path(info["root"])
    assert info["num_train"] == 9 and info["num_val"] == 3 and not info["reused"]
    assert (root / "labels.txt").read_text().splitlines() == classes
    seen = []
    for name, per_class in (("train.txt", 3), ("val.txt", 1)):
        lines = (root / name).read_text().splitlines()
        assert len(lines) == per_class * len(classes)
        for line in lines:
            rel, label = line.split(" ")
            cls_name = classes[int(label)]
            assert rel.startswith(f"videos/{cls_name}/{cls_name}_") and rel.endswith(".mp4")
            frames = _decode(root / rel)
            assert frames.shape == (12, 32, 32, 3)
            seen.append(rel)
    assert len(set(seen)) == 12  # train and val are disjoint and cover every video
    assert sorted(seen) == sorted(str(p.relative_to(root)) for p in root.rglob("*.mp4"))
    meta = json.loads((root / "meta.json").read_text())
    assert meta["version"] == S.GENERATOR_VERSION and meta["args"]["classes"] == classes
    # the left/right video still moves the right way after H.264
    frames = _decode(root / "videos/move_right/move_right_0000.mp4")
    assert _direction_score(frames, 2, shift=2, step=2) > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    args = dict(classes=["move_left", "shrink"], **SMALL)
    a = _hashes(Path(make_synthetic_dataset(tmp_path / "a", seed=3, **args)["root"]))
    b = _hashes(Path(make_synthetic_dataset(tmp_path / "b", seed=3, **args)["root"]))
    c = _hashes(Path(make_synthetic_dataset(tmp_path / "c", seed=4, **args)["root"]))
    assert a == b
    videos = [k for k in a if k.endswith(".mp4")]
    assert len(videos) == 8 and all(a[k] != c[k] for k in videos)


def test_reuse_and_regenerate(tmp_path):
    root = tmp_path / "ds"
    args = dict(classes=["grow"], **SMALL)
    first = make_synthetic_dataset(root, **args)
    video = root / "videos/grow/grow_0000.mp4"
    stamp = video.stat().st_mtime_ns
    # same arguments: reused, nothing rewritten
    again = make_synthetic_dataset(root, **args)
    assert again["reused"] and again["root"] == first["root"]
    assert video.stat().st_mtime_ns == stamp
    # different arguments: issue 8: never re-rendered in place (was: regenerated in place)
    with pytest.raises(FileExistsError, match=r"other arguments \(seed=0 there, 1 asked\)"):
        make_synthetic_dataset(root, **{**args, "seed": 1})
    assert video.stat().st_mtime_ns == stamp
    other = make_synthetic_dataset(root, overwrite=True, **{**args, "seed": 1})
    assert not other["reused"]
    assert json.loads((root / "meta.json").read_text())["args"]["seed"] == 1
    # a partial dataset (a video lost) is regenerated
    (root / "videos/grow/grow_0001.mp4").unlink()
    assert not make_synthetic_dataset(root, **{**args, "seed": 1})["reused"]
    assert (root / "videos/grow/grow_0001.mp4").is_file()
    # overwrite=True always regenerates
    assert not make_synthetic_dataset(root, overwrite=True, **{**args, "seed": 1})["reused"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_interrupted_run_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    root = tmp_path / "ds"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    calls = []
    real = S.write_video

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            boom()
        return real(*args, **kwargs)

    monkeypatch.setattr(files, "write_video", flaky)
    with pytest.raises(KeyboardInterrupt):
        make_synthetic_dataset(root, classes=["grow"], **SMALL)
    assert not root.exists() and os.listdir(tmp_path) == []
    monkeypatch.setattr(files, "write_video", real)
    assert not make_synthetic_dataset(root, classes=["grow"], **SMALL)["reused"]


def test_refuses_to_replace_foreign_folder(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="thesis.tex.*overwrite=True"):
        make_synthetic_dataset(root, classes=["grow"], **SMALL)
    assert (root / "thesis.tex").read_text() == "precious"
    # an empty folder is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert make_synthetic_dataset(empty, classes=["grow"], **SMALL)["num_train"] == 3


def test_synth_main_prints_summary(tmp_path, capsys):
    info = synth_main(
        tmp_path / "ds", classes="move_up,move_down", videos_per_class=2, num_frames=8, size=32
    )
    out = capsys.readouterr().out
    assert "2 train, 2 val" in out and "move_up, move_down" in out and info["root"] in out
    synth_main(
        tmp_path / "ds", classes="move_up,move_down", videos_per_class=2, num_frames=8, size=32
    )
    assert "reused existing" in capsys.readouterr().out


# ---------------------------------------------------------------------------- in memory


def test_in_memory_dataset_matches_render_clip():
    ds = SyntheticMotionDataset(
        classes=["move_left", "grow"],
        videos_per_class=5,
        split="val",
        val_fraction=0.4,
        num_frames=12,
        num_segments=4,
        size=32,
        seed=2,
        test_mode=True,
    )
    assert len(ds) == 4 and ds.labels == [0, 0, 1, 1]
    item = ds[2]
    assert item["clips"].shape == (1, 3, 4, 32, 32) and item["clips"].dtype == torch.uint8
    assert item["label"].dtype == torch.int64 and int(item["label"]) == 1 and item["index"] == 2
    frames = render_clip("grow", files._video_rng(2, "grow", 3), 12, 32)
    expected = frames[[1, 4, 7, 10]].transpose(3, 0, 1, 2)  # segment centres, (C, T, H, W)
    np.testing.assert_array_equal(item["clips"][0].numpy(), expected)
    train = SyntheticMotionDataset(classes=["grow"], videos_per_class=5, val_fraction=0.4)
    assert len(train) == 3
    with pytest.raises(ValueError, match="split"):
        SyntheticMotionDataset(split="test")


def test_lists_load_with_video_dataset(tmp_path):
    """The lists work as MMAction2 configs use them: ann_file + data_prefix=root."""
    info = make_synthetic_dataset(tmp_path / "ds", classes=["move_left", "move_right"], **SMALL)
    pipeline = [
        loading.VideoInit(),
        sampling.SampleFrames(clip_len=1, frame_interval=1, num_clips=4, test_mode=True),
        loading.VideoDecode(),
        formatting.FormatShape(input_format="NCHW"),
        formatting.PackActionInputs(),
    ]
    ds = datasets.VideoDataset(info["val_list"], pipeline, data_prefix=info["root"], test_mode=True)
    assert len(ds) == 2 and list(ds.labels) == [0, 1]
    sample = ds[1]
    assert tuple(sample["clips"].shape) == (1, 3, 4, 32, 32)
    assert int(sample["label"]) == 1


# ---------------------------------------------------------------------------- from a config


def test_prepare_synthetic_data_from_a_config(tmp_path, monkeypatch):
    assert prepare_synthetic_data({"data_root": "elsewhere"}) is None  # nothing asked for
    calls = []

    def fake(root, **kw):
        calls.append((root, kw))
        return dict(root=root, reused=True, num_train=1, num_val=1)

    monkeypatch.setattr(cli, "make_synthetic_dataset", fake)
    prepare_synthetic_data({"synthetic_data": dict(root=str(tmp_path), size=32, seed=1)})
    # issue 8: the root names a cache; the dataset goes to a sibling keyed by its arguments
    key = cli.cache_key(cli.dataset_args(size=32, seed=1))
    assert calls == [(f"{tmp_path}-{key}", {"overwrite": False, "size": 32, "seed": 1})]
    with pytest.raises(ValueError, match="synthetic_data needs root="):
        prepare_synthetic_data({"synthetic_data": dict(size=32)})


def test_config_cache_is_keyed_by_the_arguments(tmp_path, capsys):
    root = str(tmp_path / "cache" / "motion")
    args = dict(classes=["grow", "shrink"], **SMALL)

    def config(**over):
        return {
            "synthetic_data": dict(root=root, **{**args, **over}),
            "data_root": root,
            "train_dataloader": {"dataset": {"ann_file": os.path.join(root, "train.txt")}},
            "label_file": root + os.sep + "labels.txt",
            "unrelated": root + "_other/x.txt",
        }

    a = config()
    first = prepare_synthetic_data(a)
    out = capsys.readouterr().out
    assert first["root"] in out and "wrote" in out  # says where it is
    assert a["data_root"] == first["root"] != root and a["synthetic_data"]["root"] == root
    assert a["train_dataloader"]["dataset"]["ann_file"] == first["train_list"]
    assert a["label_file"] == first["labels"] and a["unrelated"] == root + "_other/x.txt"
    video = Path(first["root"]) / "videos/grow/grow_0000.mp4"
    stamp = video.stat().st_mtime_ns
    # other arguments: another folder; the first dataset is untouched and still reused
    b = config(videos_per_class=2)
    second = prepare_synthetic_data(b)
    assert second["root"] != first["root"] and b["data_root"] == second["root"]
    again = prepare_synthetic_data(config())
    assert again["reused"] and again["root"] == first["root"]
    assert video.stat().st_mtime_ns == stamp
    assert "reused" in capsys.readouterr().out
