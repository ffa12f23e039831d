"""Issue 8, sections 4 and 5, through the CLI as subprocesses: data that was silently wrong,
and interrupted runs.

One tiny run (TSM-R18 of the quickstart on 32x32 frame folders, 2 epochs of 2 iterations) is
shared by the tests that need a checkpoint or a work dir; the bad inputs are fed to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vidlab
from vidlab.data.io.frames import ImageEncoder

QUICKSTART = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"

CONFIG = """
_base_ = [{base!r}]
synthetic_data = None
_pipe = [
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=8, test_mode=True),
    dict(type="RawFrameDecode"),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
_data = dict(type="RawframeDataset", data_prefix={root!r}, pipeline=_pipe)
train_dataloader = dict(
    _delete_=True, batch_size=2, num_workers=0, sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(_data, ann_file={train!r}),
)
val_dataloader = dict(
    _delete_=True, batch_size=2, num_workers=0, sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(_data, ann_file={val!r}, test_mode=True),
)
test_dataloader = val_dataloader
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=2, val_begin=1, val_interval=1)
param_scheduler = []
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2, save_best="auto"))
"""


def vidlab_run(*args, env, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"vidlab {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def write_frames(folder: Path, numbers, level: int) -> None:
    folder.mkdir(parents=True)
    enc = ImageEncoder(".png")
    rng = np.random.default_rng(level)
    for k in numbers:
        img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        (folder / f"img_{k:05d}.png").write_bytes(enc.encode(img))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    for name in ("a", "b", "c", "d"):
        write_frames(root / name, range(1, 9), ord(name))
    write_frames(root / "gappy", [1, 2, 3, 4, 7, 8, 9, 10], 1)  # 5 and 6 missing
    (root / "train.txt").write_text("a 8 0\nb 8 1\nc 8 0\nd 8 1\n")
    (root / "train_gap.txt").write_text("gappy 10 0\na 8 0\nb 8 1\nc 8 0\n")
    (root / "val.txt").write_text("a 8 0\nb 8 1\n")
    cfg = root / "tiny.py"
    text = CONFIG.format(
        base=str(QUICKSTART),
        root=str(root),
        train=str(root / "train.txt"),
        val=str(root / "val.txt"),
    )
    cfg.write_text(text)
    env = dict(os.environ, PYTHONUNBUFFERED="1", VIDLAB_CACHE=str(root / "cache"))
    work = root / "work"
    vidlab_run("train", cfg, "--work-dir", work, env=env)
    return root, cfg, env, work


def assert_user_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr[-3000:]


# -- section 4: data that was silently wrong ----------------------------------------------------


def test_frame_folder_with_missing_numbers(setup, tmp_path):
    root, cfg, env, _ = setup
    gap = f"train_dataloader.dataset.ann_file={root / 'train_gap.txt'}"
    proc = vidlab_run(
        "train", cfg, "--work-dir", tmp_path / "raise", "--cfg-options", gap, env=env, check=False
    )
    assert_user_error(proc, str(root / "gappy"), "missing for numbers 5-6", "on_error='skip'")
    skip = "train_dataloader.dataset.on_error=skip"
    work = tmp_path / "skip"
    options = [gap, skip, "train_cfg.max_epochs=1"]
    proc = vidlab_run("train", cfg, "--work-dir", work, "--cfg-options", *options, env=env)
    listed = (work / "bad_samples.txt").read_text()
    assert str(root / "gappy") in listed and "5-6" in listed
    # smaller item: a skipped sample is logged once (it was twice: dataset and loop)
    assert (proc.stdout + proc.stderr).count("missing for numbers 5-6") == 1


def test_explicit_start_index_that_contradicts_the_files(setup, tmp_path):
    _, cfg, env, _ = setup
    options = ["train_dataloader.dataset.start_index=0", "train_cfg.max_epochs=1"]
    proc = vidlab_run(
        "train", cfg, "--work-dir", tmp_path, "--cfg-options", *options, env=env, check=False
    )
    assert_user_error(proc, "start_index=0", "first frame file is number 1", "start_index=1")


def test_load_from_a_file_that_fits_nothing(setup, tmp_path):
    _, cfg, env, _ = setup
    other = tmp_path / "other.pth"
    torch.save({"state_dict": {"encoder.layer.weight": torch.zeros(3, 3)}}, other)
    options = [f"load_from={other}", "train_cfg.max_epochs=1"]
    proc = vidlab_run(
        "train", cfg, "--work-dir", tmp_path / "w", "--cfg-options", *options, env=env, check=False
    )
    assert_user_error(proc, str(other), "backbone tensors", "load_from_strict=False")
    assert not (tmp_path / "w" / "epoch_1.pth").exists()
    proc = vidlab_run(
        "train", cfg, "--work-dir", tmp_path / "w", "--cfg-options", *options,
        "load_from_strict=False", env=env,
    )  # fmt: skip
    assert (tmp_path / "w" / "epoch_1.pth").is_file() and "loaded 0 tensors" in proc.stdout


def test_infer_labels_of_another_length(setup, tmp_path):
    root, cfg, env, work = setup
    labels = tmp_path / "labels.txt"
    labels.write_text("left\nright\nup\n")  # the model predicts 6 classes
    ckpt = work / "epoch_2.pth"
    proc = vidlab_run("infer", cfg, ckpt, root / "a", "--labels", labels, env=env, check=False)
    assert_user_error(proc, str(labels), "names 3 classes", "predicts 6")


def test_hls_playlist_and_concat_list_are_refused(setup, tmp_path):
    root, cfg, env, work = setup
    hls = tmp_path / "clip.mp4"  # a playlist under a video's name
    hls.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nhttp://127.0.0.1:9/a.ts\n")
    concat = tmp_path / "list.ffconcat"
    concat.write_text("ffconcat version 1.0\nfile 'http://127.0.0.1:9/a.mp4'\n")
    ckpt = work / "epoch_2.pth"
    proc = vidlab_run("infer", cfg, ckpt, hls, env=env, check=False)
    assert_user_error(proc, str(hls), "an HLS playlist", "file protocol only")
    listing = tmp_path / "videos.txt"
    listing.write_text(f"{hls} 0\n{concat} 1\n")
    proc = vidlab_run("data", "check", listing, "--workers", "0", env=env, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "an HLS playlist" in proc.stdout and "a concat list" in proc.stdout


def test_paths_with_spaces_in_lists(setup, tmp_path):
    root, cfg, env, _ = setup
    shutil.copytree(root / "a", tmp_path / "my clip")
    quoted = tmp_path / "quoted.txt"
    quoted.write_text(f'"{tmp_path / "my clip"}" 8 0\n')
    proc = vidlab_run("data", "check", quoted, "--workers", "0", env=env)
    assert "1 entries, 1 good, 0 bad" in proc.stdout  # a summary without --out
    plain = tmp_path / "plain.txt"
    plain.write_text(f"{tmp_path / 'my clip'} 8 0\n")
    proc = vidlab_run("data", "check", plain, "--workers", "0", env=env, check=False)
    assert proc.returncode == 1 and "0 good, 1 bad" in proc.stdout
    assert "the path has spaces" in proc.stdout and f'"{tmp_path / "my clip"}" 8 0' in proc.stdout
    # and a dataset reads the quoted line
    options = [f"train_dataloader.dataset.ann_file={quoted}", "train_cfg.max_epochs=1"]
    options += ["train_dataloader.batch_size=1", "train_dataloader.drop_last=False"]
    vidlab_run("train", cfg, "--work-dir", tmp_path / "w", "--cfg-options", *options, env=env)


def test_synth_never_rerenders_a_dataset_in_place(tmp_path):
    args = ["data", "synth", tmp_path / "ds", "--classes", "grow", "--videos-per-class", "2"]
    vidlab_run(*args, env=dict(os.environ))
    proc = vidlab_run(*args, "--seed", "1", env=dict(os.environ), check=False)
    assert_user_error(proc, "other arguments", "seed=0 there, 1 asked", "--overwrite")


# -- section 5: interrupted runs and work dirs ----------------------------------------------------


def test_resume_of_a_finished_run(setup):
    _, cfg, env, work = setup
    assert (work / "last_checkpoint").read_text() == "epoch_2.pth"  # relative to the work dir
    proc = vidlab_run("train", cfg, "--work-dir", work, "--resume", env=env)
    assert "already finished at epoch 2" in proc.stdout


def test_copied_work_dir_killed_at_the_epoch_end_resumes_from_its_own_files(setup, tmp_path):
    _, cfg, env, work = setup
    copy = tmp_path / "copy"
    shutil.copytree(work, copy)
    # killed while epoch 2 ended: epoch_2.pth half-written, the marker still at epoch 1 (as
    # an older vidlab wrote it: the absolute path of the ORIGINAL work dir), a best file of
    # the unfinished epoch end left behind
    (copy / "epoch_2.pth").unlink()
    (copy / "epoch_2.pth.tmp").write_bytes(b"")
    (copy / "last_checkpoint").write_text(str((work / "epoch_1.pth").resolve()))
    (copy / "best_acc_top1_epoch_7.pth").write_bytes(b"stale")
    proc = vidlab_run("train", cfg, "--work-dir", copy, "--resume", env=env)
    assert f"resumed from {copy / 'epoch_1.pth'}" in proc.stdout
    assert (copy / "epoch_2.pth").is_file() and not (copy / "epoch_2.pth.tmp").exists()
    assert not (copy / "best_acc_top1_epoch_7.pth").exists()
    assert (copy / "last_checkpoint").read_text() == "epoch_2.pth"
    assert list(copy.glob("best_acc_top1_epoch_*.pth"))
