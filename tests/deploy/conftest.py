"""Shared inputs of the inference and deployment tests: a small TSM with random weights (the
quickstart config, 32 px), its checkpoint, and synthetic videos written by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vidlab

QUICKSTART = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"
CLASSES = ["move_left", "move_right", "move_up", "move_down", "grow", "shrink"]


def vidlab_run(*args, env, check=True, timeout=300):
    """``vidlab ARGS`` as a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"vidlab {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def env(cache_dir):
    return dict(os.environ, VIDLAB_CACHE=str(cache_dir), PYTHONUNBUFFERED="1")


@pytest.fixture(scope="session")
def model(cache_dir):
    """The quickstart TSM-R18 (6 classes, 32 px, two views) with seeded random weights."""
    from vidlab.inference import init_recognizer

    old = os.environ.get("VIDLAB_CACHE")
    os.environ["VIDLAB_CACHE"] = str(cache_dir)  # the config's data_root: nothing is read there
    try:
        torch.manual_seed(0)
        return init_recognizer(QUICKSTART)
    finally:
        if old is None:
            del os.environ["VIDLAB_CACHE"]
        else:
            os.environ["VIDLAB_CACHE"] = old


@pytest.fixture(scope="session")
def ckpt(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tsm.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def labels(tmp_path_factory):
    path = tmp_path_factory.mktemp("labels") / "labels.txt"
    path.write_text("\n".join(CLASSES) + "\n")
    return path


def frames_of(cls_name: str, seed: int, num_frames: int = 24, size: int = 48) -> np.ndarray:
    from vidlab.data.synthetic import render_clip

    return render_clip(cls_name, seed, num_frames=num_frames, size=size)


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    """``videos/{move_left,grow}.mp4``, ``videos/sub/shrink.mp4`` (24 frames, 48 px, 12 fps)."""
    from vidlab.data.synthetic import write_video

    root = tmp_path_factory.mktemp("videos")
    (root / "sub").mkdir()
    for i, (name, where) in enumerate([("move_left", ""), ("grow", ""), ("shrink", "sub")]):
        write_video(root / where / f"{name}.mp4", frames_of(name, i), fps=12)
    return root


@pytest.fixture(scope="session")
def long_video(tmp_path_factory):
    """A 12-second video (144 frames at 12 fps, 48 px) of four actions, three times over."""
    from vidlab.data.synthetic import write_video

    frames = np.concatenate(
        [frames_of(c, 5, num_frames=12) for c in ["move_left", "move_up", "grow", "shrink"] * 3]
    )
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    write_video(path, frames, fps=12)
    return path
