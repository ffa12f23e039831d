"""A synthetic motion dataset whose classes can only be told apart by the ORDER of the frames.

Eight classes in four direction pairs (``move_left``/``move_right``, ``move_up``/``move_down``,
``grow``/``shrink``, ``rotate_cw``/``rotate_ccw``). Each clip shows one textured object over a
low-frequency background with per-frame pixel noise. Within a pair, a clip of one class is the
time-reverse of a clip of the other: both are drawn from the SAME random numbers, only the sign
of the motion differs, and every trajectory is centred on its middle frame. So a single frame,
or the unordered set of frames, carries no information about the direction; a model that
ignores frame order (TSN) stays near chance within each pair, while a model that uses it (TSM)
learns the task in a few epochs from scratch.

Everything is rendered with NumPy (vectorised inverse-affine sampling of signed-distance shapes,
no per-pixel Python loops) and encoded to H.264 MP4 with PyAV, deterministically: the same
arguments give the same bytes.

Public API:
    :func:`make_synthetic_dataset` writes ``videos/<class>/<class>_<nnnn>.mp4``, ``train.txt``,
    ``val.txt`` (MMAction2 video lists), ``labels.txt`` and ``meta.json``.
    :func:`render_clip` renders one clip in memory; :func:`sample_clip_spec` /
    :func:`render_spec` split it into "draw the random parameters" and "draw the pixels".
    :func:`write_video` is a small, general PyAV encoder for tests and tools.
    :class:`SyntheticMotionDataset` serves the same clips from memory, without files.
    :func:`prepare_synthetic_data` makes the dataset a config names in ``synthetic_data``.
    :func:`synth_main` is the ``vidlab data synth`` entry point.

Modules: :mod:`.render` (clip parameters and pixels), :mod:`.encode` (the video writer),
:mod:`.files` (the dataset on disk and its reuse), :mod:`.memory` (the in-memory dataset),
:mod:`.cli` (the config hook and the ``vidlab data synth`` command); also :mod:`.untrimmed`
(untrimmed videos for localization) and :mod:`.actors` (a spatio-temporal detection set in
AVA's formats, with its config hook ``synthetic_actors``).
"""

from __future__ import annotations

from .cli import prepare_synthetic_data, synth_main
from .encode import write_video
from .files import GENERATOR_VERSION, make_synthetic_dataset
from .memory import SyntheticMotionDataset
from .render import DEFAULT_CLASSES, ClipSpec, render_clip, render_spec, sample_clip_spec

__all__ = [
    "DEFAULT_CLASSES",
    "GENERATOR_VERSION",
    "ClipSpec",
    "SyntheticMotionDataset",
    "make_synthetic_dataset",
    "prepare_synthetic_data",
    "render_clip",
    "render_spec",
    "sample_clip_spec",
    "synth_main",
    "write_video",
]
