"""Helpers of the inference and deployment tests: the quickstart config, its classes, a
``vidlab`` subprocess and synthetic frames.

Imported by the test files as ``deploy_helpers`` (a name of its own: ``from conftest import``
would pick up whichever ``conftest`` module pytest imported last, e.g. ``tests/engine``'s).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

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


def frames_of(cls_name: str, seed: int, num_frames: int = 24, size: int = 48) -> np.ndarray:
    from vidlab.data.synthetic import render_clip

    return render_clip(cls_name, seed, num_frames=num_frames, size=size)
