"""`vidlab data ...` as subprocesses, on small videos the tests write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vidlab.data import probe


def vidlab(*args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"vidlab {' '.join(map(str, args))}: {proc.stderr[-2000:]}")
    return proc


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    vidlab("data", "synth", root, "--classes", "move_left", "move_right", "--videos-per-class", "3")
    return root


def test_synth_writes_lists_labels_and_videos(synth):
    assert (synth / "labels.txt").read_text().split() == ["move_left", "move_right"]
    lines = (synth / "train.txt").read_text().splitlines() + (
        synth / "val.txt"
    ).read_text().splitlines()
    assert len(lines) == 6
    for line in lines:
        path, label = line.split()
        assert (synth / path).is_file() and label in ("0", "1")


def test_synth_rejects_an_unknown_class(tmp_path):
    proc = vidlab("data", "synth", tmp_path, "--classes", "move_sideways", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "move_sideways" in proc.stderr and "move_left" in proc.stderr


def test_check_lists_the_broken_file_and_keeps_the_rest(synth, tmp_path):
    broken = tmp_path / "broken.mp4"
    good = (synth / (synth / "train.txt").read_text().splitlines()[0].split()[0]).read_bytes()
    broken.write_bytes(good[: len(good) // 3])
    listing = tmp_path / "list.txt"
    lines = (synth / "train.txt").read_text().splitlines()
    listing.write_text(
        "\n".join([*(f"{synth / ln.split()[0]} {ln.split()[1]}" for ln in lines), f"{broken} 0"])
        + "\n"
    )
    bad, clean = tmp_path / "bad.txt", tmp_path / "clean.txt"
    proc = vidlab("data", "check", listing, "--out", bad, "--clean", clean, check=False)
    assert proc.returncode == 1  # something was bad
    assert "broken.mp4" in bad.read_text()
    assert len(clean.read_text().splitlines()) == len(lines)
    assert "broken.mp4" not in clean.read_text()


def test_build_list_from_class_folders(synth, tmp_path):
    out = tmp_path / "lists"
    proc = vidlab(
        "data", "build-list", synth / "videos", "--out-dir", out, "--val-fraction", "0.34"
    )
    assert f"wrote {out / 'train.txt'} (4 videos)" in proc.stdout  # says where it wrote
    assert f"{out / 'labels.txt'} (2 classes)" in proc.stdout
    assert (out / "labels.txt").read_text().split() == ["move_left", "move_right"]
    train = (out / "train.txt").read_text().splitlines()
    val = (out / "val.txt").read_text().splitlines()
    assert len(train) + len(val) == 6 and len(val) == 2


def test_extract_frames_writes_folders_and_a_rawframe_list(synth, tmp_path):
    out = tmp_path / "frames"
    proc = vidlab(
        "data", "extract-frames", synth / "videos" / "move_left", out, "--short-side", "32"
    )
    assert f"of 3 videos under {out} and the list {out}" in proc.stdout
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) == 3
    info = probe(folders[0])
    assert info.num_frames == 24 and min(info.width, info.height) == 32
    rawlist = next(out.glob("*.txt")).read_text().splitlines()
    assert len(rawlist) == 3 and all(line.split()[1] == "24" for line in rawlist)


def test_resize_sets_short_side_and_keyframe_interval(synth, tmp_path):
    src = next((synth / "videos" / "move_right").glob("*.mp4"))
    dst = tmp_path / "small.mp4"
    vidlab("data", "resize", src, dst, "--short-side", "32", "--gop", "6")
    info = probe(dst)
    assert min(info.width, info.height) == 32 and info.num_frames == 24
    assert list(info.keyframes) == [0, 6, 12, 18]
