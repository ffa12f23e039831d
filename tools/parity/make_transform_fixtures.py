"""Record MMAction2's outputs of the transforms vidlab added for issue 15.

Run with the MMAction2 1.2.0 reference python from the repository root:

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_transform_fixtures.py

Reads tests/fixtures/mmaction2/motion.mp4 (a 12-frame mpeg4 clip with P-frames) and writes
tests/fixtures/mmaction2/transforms.json (small: sampled indices, label tensors, and per-frame
sums and hashes of larger arrays), checked by tests/data/test_mmaction2_transforms.py.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
from mmaction.datasets.transforms import (
    LoadHVULabel,
    PyAVDecodeMotionVector,
    PyAVInit,
    UntrimmedSampleFrames,
)

HERE = Path("tests/fixtures/mmaction2")


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def untrimmed():
    cases = []
    for total, start in ((100, 0), (37, 1), (12, 0)):
        for clip_len, clip_interval, frame_interval in ((1, 16, 1), (5, 10, 2), (4, 8, 3)):
            r = UntrimmedSampleFrames(clip_len, clip_interval, frame_interval)(
                dict(total_frames=total, start_index=start, filename="x")
            )
            cases.append(
                dict(
                    total_frames=total,
                    start_index=start,
                    args=[clip_len, clip_interval, frame_interval],
                    frame_inds=r["frame_inds"].tolist(),
                    num_clips=int(r["num_clips"]),
                )
            )
    return cases


def hvu():
    categories = ["action", "object", "scene", "concept"]
    nums = [3, 5, 2, 4]
    out = []
    loader = LoadHVULabel()
    for label in (
        {"action": [0, 2], "scene": [1]},
        {"object": [4], "concept": [0, 3], "other": [1]},
    ):
        r = loader(dict(label=dict(label), categories=categories, category_nums=nums))
        out.append(
            dict(
                label_in=label,
                label=r["label"].tolist(),
                mask=r["mask"].tolist(),
                category_mask=r["category_mask"].tolist(),
            )
        )
    return dict(categories=categories, category_nums=nums, cases=out)


def motion_vectors():
    results = dict(filename=str(HERE / "motion.mp4"), frame_inds=np.array([0, 1, 3, 5, 8, 11, 11]))
    results = dict(filename=str(HERE / "motion.mp4"), frame_inds=np.array([0, 1, 3, 5, 8, 11, 11]))
    results = PyAVInit()(results)
    mv = PyAVDecodeMotionVector()(results)["motion_vectors"]
    return dict(
        frame_inds=[0, 1, 3, 5, 8, 11, 11],
        shape=list(mv.shape),
        sums=[int(m.astype(np.int64).sum()) for m in mv],
        nonzero=[int(np.count_nonzero(m)) for m in mv],
        sha=[_sha(m) for m in mv],
    )


def lazy_pipelines():
    """Lazy crops/resizes/flips then Fuse, on a fixed frame stack, with seeded draws."""
    import random

    from mmaction.datasets.transforms import (
        CenterCrop,
        Flip,
        Fuse,
        MultiScaleCrop,
        RandomCrop,
        RandomResizedCrop,
        Resize,
    )

    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, size=(3, 48, 64, 3), dtype=np.uint8)
    frames = np.ascontiguousarray(np.cumsum(frames, axis=2) // 30 % 256).astype(np.uint8)
    pipes = {
        "msc_resize_flip": [
            Resize(scale=(-1, 40), lazy=True),
            MultiScaleCrop(32, (1, 0.875, 0.75), random_crop=False, lazy=True),
            Resize(scale=(24, 24), keep_ratio=False, lazy=True),
            Flip(flip_ratio=1.0, lazy=True),
        ],
        "rrc_resize": [
            RandomResizedCrop(lazy=True),
            Resize(scale=(20, 20), keep_ratio=False, lazy=True),
            Flip(flip_ratio=0.0, lazy=True),
        ],
        "random_center": [
            RandomCrop(40, lazy=True),
            CenterCrop(30, lazy=True),
            Resize(scale=(-1, 16), lazy=True, interpolation="nearest"),
        ],
    }
    out = {}
    for name, steps in pipes.items():
        np.random.seed(5)
        random.seed(5)
        r = dict(imgs=list(frames.copy()), modality="RGB")
        for t in steps:
            r = t(r)
        pending = dict(
            crop_bbox=r["lazy"]["crop_bbox"].tolist(),
            flip=bool(r["lazy"]["flip"]),
            interpolation=r["lazy"]["interpolation"],
        )
        r = Fuse()(r)
        imgs = np.stack(r["imgs"])
        out[name] = dict(
            pending=pending,
            img_shape=list(r["img_shape"]),
            crop_quadruple=r["crop_quadruple"].tolist() if "crop_quadruple" in r else None,
            imgs=imgs.tolist(),
        )
    return dict(frames=frames.tolist(), cases=out)


def _write_frames(folder: Path) -> None:
    """Six JPEG frames (OpenCV's encoder, quality 90) of a textured moving scene, 100x76."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:76, 0:100]
    for i in range(6):
        base = np.stack(
            [(xx * 2 + i * 9) % 256, (yy * 3 + xx) % 256, (xx * yy // 7 + i * 20) % 256], -1
        )
        noise = rng.integers(-25, 25, size=base.shape)
        img = np.clip(base + noise, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"img_{i + 1:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


PIXEL_PIPES = {
    "decode": [],
    "short_side_48_crop_40": [("Resize", dict(scale=(-1, 48))), ("CenterCrop", dict(crop_size=40))],
    "to_57x33_bilinear": [("Resize", dict(scale=(57, 33), keep_ratio=False))],
    "to_150x114_bicubic": [
        ("Resize", dict(scale=(150, 114), keep_ratio=False, interpolation="bicubic"))
    ],
}


def pixels():
    """MMAction2's pixels: a frame folder through RawFrameDecode (+ Resize, crop), and a video
    through its PyAV and OpenCV readers; per-frame sha256 of the uint8 arrays."""
    import mmaction.datasets.transforms as T

    folder = HERE / "frames"
    if not folder.exists():
        _write_frames(folder)
    out = {}
    for name, steps in PIXEL_PIPES.items():
        r = dict(
            frame_dir=str(folder),
            total_frames=6,
            filename_tmpl="img_{:05d}.jpg",
            start_index=1,
            modality="RGB",
            frame_inds=np.array([1, 3, 6, 3]),
        )
        r = T.RawFrameDecode()(r)
        for type_name, kwargs in steps:
            r = getattr(T, type_name)(**kwargs)(r)
        out[name] = [_sha(np.ascontiguousarray(img)) for img in r["imgs"]]
    inds = np.array([0, 2, 5, 11, 7])
    video = dict(frame_inds=inds.tolist())
    path = str(HERE / "motion.mp4")
    r = T.PyAVDecode()(T.PyAVInit()(dict(filename=path, frame_inds=inds)))
    video["pyav"] = [_sha(img) for img in r["imgs"]]
    r = T.OpenCVDecode()(T.OpenCVInit()(dict(filename=path, frame_inds=inds)))
    video["opencv"] = [_sha(img) for img in r["imgs"]]
    return dict(frames=out, video=video)


def _pose_inputs(rng: np.random.Generator) -> dict:
    """Keypoint records: 2D COCO (two persons, the second leaves), 3D NTU (empty frames),
    2D OpenPose."""
    t = 37
    coco = rng.uniform(20, 340, (2, t, 17, 2)).astype(np.float32)
    coco[..., 0] += 100  # x within a 480-wide frame
    coco_score = rng.uniform(0, 1, (2, t, 17)).astype(np.float32)
    coco[1, 25:] = 0  # the second person leaves
    coco_score[1, 25:] = 0
    coco[0, 3, 4] = 0  # a missing joint
    ntu = rng.normal(0, 0.4, (2, 30, 25, 3)).astype(np.float32)
    ntu[..., 2] += 3.0
    ntu[0, 26:] = 0  # trailing empty frames of the main person
    ntu[1, :] = 0
    ntu[1, 5:12] = rng.normal(0, 0.4, (7, 25, 3))
    openpose = rng.uniform(0, 300, (1, 12, 18, 2)).astype(np.float32)
    openpose_score = rng.uniform(0, 1, (1, 12, 18)).astype(np.float32)
    return dict(
        coco=coco,
        coco_score=coco_score,
        ntu=ntu,
        openpose=openpose,
        openpose_score=openpose_score,
    )


# (name, pipeline): GCN pipelines as MMAction2's skeleton configs write them (short clips)
_GCN_CASES = [
    (f"coco_{'_'.join(feats)}", "coco", [
        dict(type="PreNormalize2D"),
        dict(type="GenSkeFeat", dataset="coco", feats=feats),
        dict(type="UniformSampleFrames", clip_len=20, num_clips=3, test_mode=True),
        dict(type="PoseDecode"),
        dict(type="FormatGCNInput", num_person=2),
    ])
    for feats in (["j"], ["b"], ["jm"], ["bm"], ["j", "b", "jm", "bm"])
] + [
    (f"ntu_{'_'.join(feats)}", "ntu", [
        dict(type="PreNormalize3D"),
        dict(type="GenSkeFeat", dataset="nturgb+d", feats=feats),
        dict(type="UniformSampleFrames", clip_len=16, num_clips=2, test_mode=True),
        dict(type="PoseDecode"),
        dict(type="FormatGCNInput", num_person=2),
    ])
    for feats in (["j"], ["b"], ["bm"])
] + [
    ("openpose_b_loop", "openpose", [
        dict(type="PreNormalize2D", img_shape=(300, 300)),
        dict(type="GenSkeFeat", dataset="openpose", feats=["b", "jm"]),
        dict(type="UniformSampleFrames", clip_len=30, num_clips=1, test_mode=True),
        dict(type="PoseDecode"),
        dict(type="FormatGCNInput", num_person=3, mode="loop"),
    ]),
]  # fmt: skip

_LIMBS = [[0, 5], [0, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [11, 13], [13, 15],
          [6, 12], [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4], [11, 12]]  # fmt: skip
_LEFT_LIMB = [0, 2, 3, 6, 7, 8, 12, 14]
_RIGHT_LIMB = [1, 4, 5, 9, 10, 11, 13, 15]
_LEFT_KP = [1, 3, 5, 7, 9, 11, 13, 15]
_RIGHT_KP = [2, 4, 6, 8, 10, 12, 14, 16]

# PoseC3D pipelines (as its configs, at 32 px); training ones are drawn after np.random.seed(i)
# and random.seed(i)
_HEATMAP_CASES = [
    ("test_kp_double", [
        dict(type="UniformSampleFrames", clip_len=6, num_clips=2, test_mode=True),
        dict(type="PoseDecode"),
        dict(type="PoseCompact", hw_ratio=1.0, allow_imgpad=True),
        dict(type="Resize", scale=(-1, 32)),
        dict(type="CenterCrop", crop_size=32),
        dict(type="GeneratePoseTarget", with_kp=True, with_limb=False, double=True,
             left_kp=_LEFT_KP, right_kp=_RIGHT_KP),
        dict(type="FormatShape", input_format="NCTHW_Heatmap"),
    ]),
    ("test_limb_double", [
        dict(type="UniformSampleFrames", clip_len=6, num_clips=1, test_mode=True),
        dict(type="PoseDecode"),
        dict(type="PoseCompact", hw_ratio=1.0, allow_imgpad=True),
        dict(type="Resize", scale=(-1, 32)),
        dict(type="CenterCrop", crop_size=32),
        dict(type="GeneratePoseTarget", sigma=0.6, use_score=True, with_kp=False,
             with_limb=True, skeletons=_LIMBS, double=True, left_limb=_LEFT_LIMB,
             right_limb=_RIGHT_LIMB),
        dict(type="FormatShape", input_format="NCTHW_Heatmap"),
    ]),
    ("train_kp_limb", [
        dict(type="UniformSampleFrames", clip_len=6),
        dict(type="PoseDecode"),
        dict(type="PoseCompact", hw_ratio=1.0, allow_imgpad=True),
        dict(type="Resize", scale=(-1, 36)),
        dict(type="RandomResizedCrop", area_range=(0.56, 1.0)),
        dict(type="Resize", scale=(28, 28), keep_ratio=False),
        dict(type="Flip", flip_ratio=0.5, left_kp=_LEFT_KP, right_kp=_RIGHT_KP),
        dict(type="GeneratePoseTarget", sigma=1.1, use_score=False, with_kp=True,
             with_limb=True),
        dict(type="FormatShape", input_format="NCTHW_Heatmap"),
    ]),
    ("val_scaling", [
        dict(type="UniformSampleFrames", clip_len=5, num_clips=1, test_mode=True),
        dict(type="PoseDecode"),
        dict(type="PoseCompact", hw_ratio=1.0, allow_imgpad=False),
        dict(type="Resize", scale=(40, 40), keep_ratio=False),
        dict(type="GeneratePoseTarget", with_kp=True, with_limb=False, scaling=0.5),
        dict(type="FormatShape", input_format="NCTHW_Heatmap"),
    ]),
]  # fmt: skip


def pose():
    """Skeleton pipelines: inputs and MMAction2's outputs, in tests/fixtures/mmaction2/pose.npz.

    NumPy 2 removed ``np.Inf``, which MMAction2's PoseCompact and MMCompact use: it is put back
    here (an alias of ``np.inf``) so they run.
    """
    from mmaction.registry import TRANSFORMS
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    init_default_scope("mmaction")
    np.Inf = np.inf
    inputs = _pose_inputs(np.random.default_rng(11))
    out = {f"in_{k}": v for k, v in inputs.items()}
    shapes = dict(coco=(360, 480), ntu=None, openpose=None)
    for name, src, steps in _GCN_CASES:
        results = dict(keypoint=inputs[src].copy(), total_frames=inputs[src].shape[1])
        if f"{src}_score" in inputs:
            results["keypoint_score"] = inputs[f"{src}_score"].copy()
        if shapes[src]:
            results["img_shape"] = shapes[src]
        r = Compose([TRANSFORMS.build(s) for s in steps])(results)
        out[f"gcn_{name}"] = r["keypoint"]
    for i, (name, steps) in enumerate(_HEATMAP_CASES):
        np.random.seed(i)
        random.seed(i)  # RandomResizedCrop's offsets come from Python's random
        results = dict(
            keypoint=inputs["coco"].copy(),
            keypoint_score=inputs["coco_score"].copy(),
            total_frames=inputs["coco"].shape[1],
            img_shape=(360, 480),
            start_index=0,
            modality="Pose",
        )
        r = Compose([TRANSFORMS.build(s) for s in steps])(results)
        out[f"heatmap_{name}"] = r["imgs"]
    out.update(_rgb_pose())
    out.update(_decompress_pad())
    np.savez_compressed(HERE / "pose.npz", **out)
    print("wrote", HERE / "pose.npz", sorted(out))


def _decompress_pad() -> dict:
    """DecompressPose (Kinetics-skeleton's compressed rows) and PadTo."""
    from mmaction.datasets.transforms import DecompressPose, PadTo

    rng = np.random.default_rng(7)
    rows = rng.uniform(0, 100, (9, 17, 3)).astype(np.float16)
    frame_inds = np.array([0, 0, 1, 3, 3, 3, 4, 6, 6])
    out = {"dp_rows": rows, "dp_frame_inds": frame_inds}
    for name, kwargs, anno in (
        ("squeeze2", dict(squeeze=True, max_person=2), None),
        ("full", dict(squeeze=False, max_person=10), np.array([1, 1, 1, 1, 0, 1, 1, 0, 1], bool)),
    ):
        r = dict(keypoint=rows.copy(), frame_inds=frame_inds.copy(), total_frames=8)
        if anno is not None:
            r["anno_inds"] = anno
            out["dp_anno_inds"] = anno
        r = DecompressPose(**kwargs)(r)
        out[f"dp_{name}_keypoint"] = r["keypoint"]
        out[f"dp_{name}_keypoint_score"] = r["keypoint_score"]
        out[f"dp_{name}_total_frames"] = np.array(r["total_frames"])
    kp = rng.uniform(0, 1, (2, 5, 17, 3)).astype(np.float32)
    out["pad_in"] = kp
    for mode in ("loop", "zero"):
        r = PadTo(12, mode)(dict(keypoint=kp.copy(), total_frames=5, start_index=0))
        out[f"pad_{mode}"] = r["keypoint"]
    return out


def _rgb_pose() -> dict:
    """MMUniformSampleFrames' indices; MMDecode (its decord reader replaced by an array of
    frames: decord is not installed) and MMCompact on frames and keypoints."""
    from mmaction.datasets.transforms import MMCompact, MMDecode, MMUniformSampleFrames

    out = {}
    for total in (7, 12, 40):
        for test_mode in (True, False):
            np.random.seed(total)
            r = MMUniformSampleFrames(dict(RGB=5, Pose=12), num_clips=2, test_mode=test_mode)(
                dict(total_frames=total, modality="Pose")
            )
            for mod in ("RGB", "Pose"):
                out[f"mm_{total}_{int(test_mode)}_{mod}"] = r[f"{mod}_inds"]
    rng = np.random.default_rng(5)
    frames = rng.integers(0, 255, (12, 24, 36, 3), dtype=np.uint8)
    kp = rng.uniform(20, 110, (2, 12, 17, 2)).astype(np.float32)
    kp[1, 6:] = 0
    out["mm_frames"], out["mm_keypoint_in"] = frames, kp
    dec = MMDecode()
    dec._get_video_reader = lambda filename: None
    dec._decord_load_frames = lambda reader, inds: [frames[i] for i in inds]
    for name, compact in (("pad", MMCompact(hw_ratio=1.0)), ("nopad", MMCompact(padding=0.1,
                          hw_ratio=None, allow_imgpad=False))):  # fmt: skip
        r = MMUniformSampleFrames(dict(RGB=4, Pose=8), test_mode=True)(
            dict(total_frames=12, modality="Pose", frame_dir="x")
        )
        r["modality"] = ["RGB", "Pose"]
        r.update(keypoint=kp.copy(), img_shape=(128, 192))
        r = compact(dec(r))
        out[f"mm_{name}_imgs"] = np.stack(r["imgs"])
        out[f"mm_{name}_keypoint"] = r["keypoint"]
        out[f"mm_{name}_img_shape"] = np.array(r["img_shape"])
    return out


def main():
    import sys

    if sys.argv[1:] == ["--only", "pose"]:
        return pose()
    pose()
    data = dict(
        untrimmed=untrimmed(),
        hvu=hvu(),
        motion_vectors=motion_vectors(),
        lazy=lazy_pipelines(),
        pixels=pixels(),
    )
    (HERE / "transforms.json").write_text(json.dumps(data))
    print("wrote", HERE / "transforms.json", data["motion_vectors"]["nonzero"])


if __name__ == "__main__":
    main()
