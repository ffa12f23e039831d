"""Data tools: check, build-list, extract-frames, resize, on small real videos."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest

from vidlab.data.io import probe, read_frames
from vidlab.data.tools import build_list, check_videos
from vidlab.data.transcode import extract_frames, resize_videos


def _write(path, n=12, width=64, height=48, gop=12, shade=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25, options={"x264-params": f"keyint={gop}:scenecut=0"})
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for i in range(n):
            img = np.full((height, width, 3), (shade + 20 * i) % 256, np.uint8)
            img[: height // 2, : width // 2] = 255 - img[0, 0]
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(s.encode(None))
    return path


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "videos"
    for cls in ("cat", "dog"):
        for i in range(3):
            _write(root / cls / f"v{i}.mp4", shade=40 * i)
    return root


def test_build_list(tree, tmp_path):
    (tree / "dog" / "with space.mp4").write_bytes(b"")
    (tree / "empty_class").mkdir()
    with pytest.warns(UserWarning, match="whitespace"):
        result = build_list(tree, tmp_path / "lists", val_fraction=0.34, seed=1)
    assert result["classes"] == ["cat", "dog"]
    assert (result["num_train"], result["num_val"]) == (4, 2)
    assert result["skipped"] == ["dog/with space.mp4"]
    train = open(result["train"]).read().split("\n")[:-1]
    val = open(result["val"]).read().split("\n")[:-1]
    assert open(result["labels"]).read() == "cat\ndog\n"
    assert sorted(train + val) == [
        f"{c}/v{i}.mp4 {k}" for k, c in enumerate(["cat", "dog"]) for i in range(3)
    ]
    assert {line.split()[1] for line in val} == {"0", "1"}  # stratified: one val video per class
    with pytest.warns(UserWarning):
        again = build_list(tree, tmp_path / "lists2", val_fraction=0.34, seed=1)
    assert open(again["val"]).read() == open(result["val"]).read()
    with pytest.raises(ValueError, match="val_fraction"):
        build_list(tree, val_fraction=1.0)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_check_videos(tree, tmp_path, num_workers):
    (tree / "cat" / "empty.mp4").write_bytes(b"")
    good = _write(tmp_path / "long.mp4", n=60, gop=30)  # then cut with its moov at the front
    with (
        av.open(str(good)) as c,
        av.open(str(tmp_path / "fast.mp4"), "w", options={"movflags": "faststart"}) as o,
    ):
        s = o.add_stream_from_template(c.streams.video[0])
        for p in c.demux(c.streams.video[0]):
            if p.size:
                p.stream = s
                o.mux(p)
    data = (tmp_path / "fast.mp4").read_bytes()
    (tree / "dog" / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    list_file = tmp_path / "list.txt"
    list_file.write_text(
        "cat/v0.mp4 0\ncat/empty.mp4 0\n\ndog/v1.mp4 1\ndog/missing.mp4 1\ndog/cut.mp4 1\n"
    )
    result = check_videos(
        list_file,
        tree,
        out=tmp_path / "bad.txt",
        clean=tmp_path / "ok.txt",
        num_workers=num_workers,
    )
    assert (result["total"], result["num_good"], result["num_bad"]) == (5, 2, 3)
    reasons = {os.path.basename(b["path"]): b["reason"] for b in result["bad"]}
    assert "empty (0 bytes)" in reasons["empty.mp4"]
    assert "no such file" in reasons["missing.mp4"]
    assert "cut.mp4" in reasons["cut.mp4"] and "frames" in reasons["cut.mp4"]
    assert [b["line"] for b in result["bad"]] == [2, 5, 6]
    assert (tmp_path / "ok.txt").read_text() == "cat/v0.mp4 0\ndog/v1.mp4 1\n"
    bad_lines = (tmp_path / "bad.txt").read_text().splitlines()
    assert bad_lines[0].startswith("cat/empty.mp4 0\t") and len(bad_lines) == 3


def test_extract_frames_from_list(tree, tmp_path):
    list_file = tmp_path / "train.txt"
    list_file.write_text("cat/v0.mp4 0\ndog/v2.mp4 1\nnope.mp4 1\n")
    out = tmp_path / "rawframes"
    result = extract_frames(list_file, out, data_prefix=tree, tmpl="img_{:05d}.png", num_workers=0)
    assert result["num_videos"] == 2 and result["num_frames"] == 24
    assert [f["path"] for f in result["failed"]] == [str(tree / "nope.mp4")]
    assert open(result["list"]).read() == "cat/v0 12 0\ndog/v2 12 1\n"
    assert result["list"].endswith("train_rawframes.txt")
    info = probe(out / "cat" / "v0")
    assert (info.num_frames, info.start_index) == (12, 1)
    # PNG is lossless: the folder holds exactly what the video decodes to
    np.testing.assert_array_equal(
        read_frames(out / "dog" / "v2", [0, 5, 11]),
        read_frames(tree / "dog" / "v2.mp4", [0, 5, 11]),
    )


def test_extract_frames_from_tree_with_short_side(tree, tmp_path):
    result = extract_frames(tree, tmp_path / "frames", short_side=24, start_index=0, num_workers=0)
    assert result["num_videos"] == 6
    lines = open(result["list"]).read().splitlines()
    assert lines[0] == "cat/v0 12 0" and lines[-1] == "dog/v2 12 1"
    info = probe(tmp_path / "frames" / "dog" / "v1")
    assert (info.width, info.height, info.start_index) == (32, 24, 0)
    assert os.path.exists(tmp_path / "frames" / "dog" / "v1" / "img_00000.jpg")


def test_resize_videos(tree, tmp_path):
    _write(tree / "cat" / "wide.mp4", n=40, width=96, height=48, gop=40)
    (tree / "dog" / "broken.mp4").write_bytes(b"junk" * 10)
    result = resize_videos(tree, tmp_path / "small", short_side=32, gop=8, num_workers=0)
    assert result["num_videos"] == 7 and len(result["failed"]) == 1
    assert "broken.mp4" in result["failed"][0]["reason"]
    info = probe(tmp_path / "small" / "cat" / "wide.mp4")
    assert (info.width, info.height, info.num_frames) == (64, 32, 40)
    assert info.keyframes == (0, 8, 16, 24, 32)
    assert info.fps == pytest.approx(25)
    single = resize_videos(tree / "cat" / "v0.mp4", tmp_path / "one.mp4", short_side=24, gop=4)
    assert single["outputs"] == [str(tmp_path / "one.mp4")]
    assert probe(tmp_path / "one.mp4").height == 24
