"""Skeleton pipelines against MMAction2's outputs, recorded by
``tools/parity/make_transform_fixtures.py --only pose`` in the reference environment
(tests/fixtures/mmaction2/pose.npz holds the inputs and the outputs)."""

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

from vidlab.data.pipeline import Compose

FIXTURE = Path(__file__).parents[1] / "fixtures" / "mmaction2" / "pose.npz"
DATA = dict(np.load(FIXTURE))

_spec = importlib.util.spec_from_file_location(
    "make_transform_fixtures",
    Path(__file__).parents[2] / "tools" / "parity" / "make_transform_fixtures.py",
)


def _cases():
    """The fixture script's case lists (it imports mmaction only inside its functions)."""
    import ast

    src = Path(_spec.origin).read_text()
    tree = ast.parse(src)
    names = {"_GCN_CASES", "_HEATMAP_CASES", "_LIMBS", "_LEFT_LIMB", "_RIGHT_LIMB", "_LEFT_KP"}
    names |= {"_RIGHT_KP"}
    body = [
        n
        for n in tree.body
        if isinstance(n, ast.Assign) and any(getattr(t, "id", None) in names for t in n.targets)
    ]
    scope: dict = {}
    exec(compile(ast.Module(body=body, type_ignores=[]), _spec.origin, "exec"), scope)
    return scope["_GCN_CASES"], scope["_HEATMAP_CASES"]


GCN_CASES, HEATMAP_CASES = _cases()
SHAPES = dict(coco=(360, 480), ntu=None, openpose=None)


@pytest.mark.parametrize("case", GCN_CASES, ids=lambda c: c[0])
def test_gcn_pipeline_equals_mmaction2(case):
    name, src, steps = case
    kp = DATA[f"in_{src}"]
    results = dict(keypoint=kp.copy(), total_frames=kp.shape[1])
    if f"in_{src}_score" in DATA:
        results["keypoint_score"] = DATA[f"in_{src}_score"].copy()
    if SHAPES[src]:
        results["img_shape"] = SHAPES[src]
    out = Compose(steps)(results)["keypoint"]
    expected = DATA[f"gcn_{name}"]
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("i", range(len(HEATMAP_CASES)), ids=[c[0] for c in HEATMAP_CASES])
def test_heatmap_pipeline_equals_mmaction2(i):
    """PoseC3D's pipelines (PoseCompact, keypoint-aware Resize/RandomResizedCrop/CenterCrop/
    Flip, GeneratePoseTarget, FormatShape('NCTHW_Heatmap')): bit-identical heatmaps, the
    training ones drawn after the same np.random.seed."""
    name, steps = HEATMAP_CASES[i]
    np.random.seed(i)
    random.seed(i)
    results = dict(
        keypoint=DATA["in_coco"].copy(),
        keypoint_score=DATA["in_coco_score"].copy(),
        total_frames=DATA["in_coco"].shape[1],
        img_shape=(360, 480),
        start_index=0,
        modality="Pose",
    )
    out = Compose(steps)(results)["imgs"]
    expected = DATA[f"heatmap_{name}"]
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert expected.max() > 0.5  # something was drawn
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("total", [7, 12, 40])
@pytest.mark.parametrize("test_mode", [True, False])
def test_mm_uniform_sample_frames_equals_mmaction2(total, test_mode):
    from vidlab.data.skeleton.multimodal import MMUniformSampleFrames

    np.random.seed(total)
    r = MMUniformSampleFrames(dict(RGB=5, Pose=12), num_clips=2, test_mode=test_mode)(
        dict(total_frames=total, modality="Pose")
    )
    assert r["modality"] == ["RGB", "Pose"] and r["clip_len"] == dict(RGB=5, Pose=12)
    for mod in ("RGB", "Pose"):
        np.testing.assert_array_equal(r[f"{mod}_inds"], DATA[f"mm_{total}_{int(test_mode)}_{mod}"])


@pytest.mark.parametrize("name", ["pad", "nopad"])
def test_mm_decode_and_compact_equal_mmaction2(name, monkeypatch):
    """MMDecode (frames from an array, as the fixture replaced decord) scales the keypoints to
    the decoded frames; MMCompact crops (and pads) frames and keypoints as MMAction2."""
    from vidlab.data.skeleton.multimodal import MMCompact, MMDecode, MMUniformSampleFrames

    frames = DATA["mm_frames"]
    dec = MMDecode()
    monkeypatch.setattr(dec, "_decode_rgb", lambda results, inds: frames[inds])
    compact = MMCompact(hw_ratio=1.0)
    if name == "nopad":
        compact = MMCompact(padding=0.1, hw_ratio=None, allow_imgpad=False)
    r = MMUniformSampleFrames(dict(RGB=4, Pose=8), test_mode=True)(
        dict(total_frames=12, modality="Pose", frame_dir="x")
    )
    r["modality"] = ["RGB", "Pose"]
    r.update(keypoint=DATA["mm_keypoint_in"].copy(), img_shape=(128, 192))
    r = compact(dec(r))
    np.testing.assert_array_equal(r["keypoint"], DATA[f"mm_{name}_keypoint"])
    assert tuple(r["img_shape"]) == tuple(DATA[f"mm_{name}_img_shape"])
    np.testing.assert_array_equal(np.stack(r["imgs"]), DATA[f"mm_{name}_imgs"])


@pytest.mark.parametrize("name", ["squeeze2", "full"])
def test_decompress_pose_equals_mmaction2(name):
    from vidlab.data.skeleton.transforms import DecompressPose

    kwargs = dict(squeeze=True, max_person=2) if name == "squeeze2" else dict(squeeze=False)
    r = dict(keypoint=DATA["dp_rows"].copy(), frame_inds=DATA["dp_frame_inds"].copy())
    r["total_frames"] = 8
    if name == "full":
        r["anno_inds"] = DATA["dp_anno_inds"]
    r = DecompressPose(**kwargs)(r)
    for key in ("keypoint", "keypoint_score"):
        expected = DATA[f"dp_{name}_{key}"]
        assert r[key].dtype == expected.dtype
        np.testing.assert_array_equal(r[key], expected)
    assert r["total_frames"] == int(DATA[f"dp_{name}_total_frames"])


@pytest.mark.parametrize("mode", ["loop", "zero"])
def test_pad_to_equals_mmaction2(mode):
    from vidlab.data.skeleton.transforms import PadTo

    r = PadTo(12, mode)(dict(keypoint=DATA["pad_in"].copy(), total_frames=5, start_index=0))
    np.testing.assert_array_equal(r["keypoint"], DATA[f"pad_{mode}"])
    assert r["total_frames"] == 12
