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


def main():
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
