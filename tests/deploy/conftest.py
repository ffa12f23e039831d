"""Shared inputs of the inference and deployment tests: a small TSM with random weights (the
quickstart config, 32 px), its checkpoint, and synthetic videos written by the tests (the
plain helpers are in ``deploy_helpers``)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from deploy_helpers import CLASSES, QUICKSTART, frames_of


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
