"""Skeleton data: keypoint layouts, ``PoseDataset``, the keypoint and heatmap transforms of
MMAction2's skeleton pipelines, and a synthetic skeleton dataset.

Names are re-exported lazily (``import vidlab.data.skeleton`` imports no submodule).
"""

from __future__ import annotations

_WHERE = {
    "Layout": "layouts",
    "LAYOUTS": "layouts",
    "get_layout": "layouts",
    "PoseDataset": "dataset",
    "load_pose_pickle": "dataset",
    "check_record": "dataset",
    "PreNormalize2D": "transforms",
    "PreNormalize3D": "transforms",
    "JointToBone": "transforms",
    "ToMotion": "transforms",
    "MergeSkeFeat": "transforms",
    "GenSkeFeat": "transforms",
    "PoseDecode": "transforms",
    "PadTo": "transforms",
    "FormatGCNInput": "transforms",
    "PoseCompact": "transforms",
    "DecompressPose": "transforms",
    "GeneratePoseTarget": "heatmap",
    "MMUniformSampleFrames": "multimodal",
    "MMDecode": "multimodal",
    "MMCompact": "multimodal",
    "make_synthetic_skeletons": "synthetic",
    "write_synthetic_skeletons": "synthetic",
    "SKELETON_ACTIONS": "synthetic",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'vidlab.data.skeleton' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{where}"), name)


def __dir__():
    return sorted(set(globals()) | set(_WHERE))
