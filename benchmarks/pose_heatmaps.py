"""PoseC3D heatmaps: vidlab's ``GeneratePoseTarget`` against MMAction2's on the same input.

The input is PoseC3D's: keypoints of the synthetic skeleton set (two persons: a second, idle
one in every sample) through the test pipeline up to the heatmaps (``UniformSampleFrames(48)``,
``PoseDecode``, ``PoseCompact``, ``Resize(-1, 64)``, ``CenterCrop(64)``). Each configuration
(joints; limbs; joints with ``double``, as PoseC3D's test pipelines) is timed per sample as
process CPU time, the minimum of ``--repeats`` runs, summed over ``--samples`` samples. The
outputs of the two are checked to be equal.

MMAction2's side runs in its reference environment (``--mmaction2-python``, by default
``~/.cache/mmaction2-ref/venv/bin/python``), on the same arrays, passed through a temporary
``.npz``; without it only vidlab's times are printed.

    python benchmarks/pose_heatmaps.py                   # about a minute on one core
    python benchmarks/pose_heatmaps.py --samples 5 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {
    "joints": dict(with_kp=True, with_limb=False),
    "limbs": dict(with_kp=False, with_limb=True),
    "joints_double": dict(with_kp=True, with_limb=False, double=True),
}


def make_inputs(num_samples: int) -> list[dict]:
    """Keypoints as GeneratePoseTarget sees them in PoseC3D's test pipeline (64 x 64)."""
    sys.path.insert(0, ROOT)
    from vidlab.data.pipeline import Compose
    from vidlab.data.skeleton.synthetic import make_synthetic_skeletons

    data = make_synthetic_skeletons(
        num_train=-(-num_samples // 8), num_val=0, num_test=0, second_person=1.0, seed=1
    )
    pipe = Compose(
        [
            dict(type="UniformSampleFrames", clip_len=48, num_clips=1, test_mode=True),
            dict(type="PoseDecode"),
            dict(type="PoseCompact", hw_ratio=1.0, allow_imgpad=True),
            dict(type="Resize", scale=(-1, 64)),
            dict(type="CenterCrop", crop_size=64),
        ]
    )
    out = []
    for rec in data["annotations"][:num_samples]:
        r = pipe({**rec, "keypoint": rec["keypoint"].copy(), "start_index": 0})
        out.append(
            dict(
                keypoint=r["keypoint"],
                keypoint_score=r["keypoint_score"],
                img_shape=tuple(int(v) for v in r["img_shape"]),
            )
        )
    return out


def time_impl(make, inputs: list[dict], repeats: int) -> tuple[dict, dict]:
    """CPU seconds per configuration (sum over samples of the min over repeats), and outputs."""
    times, outputs = {}, {}
    for name, kwargs in CONFIGS.items():
        t = make(**kwargs)
        total = 0.0
        for i, sample in enumerate(inputs):
            best = float("inf")
            for _ in range(repeats):
                results = {
                    k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in sample.items()
                }
                start = time.process_time()
                results = t(results)
                best = min(best, time.process_time() - start)
            total += best
            outputs[f"{name}_{i}"] = results["imgs"]
        times[name] = total
    return times, outputs


def _load(path: str) -> list[dict]:
    z = np.load(path)
    n = int(z["n"])
    return [
        dict(
            keypoint=z[f"kp{i}"],
            keypoint_score=z[f"sc{i}"],
            img_shape=tuple(int(v) for v in z[f"shape{i}"]),
        )
        for i in range(n)
    ]


def _child(path: str, out: str, repeats: int) -> None:
    """Run MMAction2's GeneratePoseTarget (in the reference environment)."""
    from mmaction.datasets.transforms import GeneratePoseTarget

    times, outputs = time_impl(GeneratePoseTarget, _load(path), repeats)
    np.savez(out, **outputs)
    print(json.dumps(times))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--mmaction2-python",
        default=os.path.expanduser("~/.cache/mmaction2-ref/venv/bin/python"),
    )
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return _child(*args.child, args.repeats)
    sys.path.insert(0, ROOT)
    from vidlab.data.skeleton.heatmap import GeneratePoseTarget

    inputs = make_inputs(args.samples)
    ours, our_out = time_impl(GeneratePoseTarget, inputs, args.repeats)
    theirs = None
    if os.path.exists(args.mmaction2_python):
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
            arrays = {"n": np.array(len(inputs))}
            for i, s in enumerate(inputs):
                arrays[f"kp{i}"] = s["keypoint"]
                arrays[f"sc{i}"] = s["keypoint_score"]
                arrays[f"shape{i}"] = np.array(s["img_shape"])
            np.savez(src, **arrays)
            cmd = [args.mmaction2_python, os.path.abspath(__file__), "--child", src, dst]
            cmd += ["--repeats", str(args.repeats)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            theirs = json.loads(res.stdout.strip().splitlines()[-1])
            ref = np.load(dst)
            same = all(np.array_equal(our_out[k], ref[k]) for k in our_out)
    m = inputs[0]["keypoint"].shape
    print(f"GeneratePoseTarget, {len(inputs)} samples of (M, T, V, C) = {m}, 64 x 64")
    print(f"{'config':<16}{'vidlab ms/sample':>18}{'MMAction2 ms/sample':>21}{'ratio':>8}")
    for name in CONFIGS:
        a = ours[name] / len(inputs) * 1e3
        if theirs:
            b = theirs[name] / len(inputs) * 1e3
            print(f"{name:<16}{a:>18.2f}{b:>21.2f}{a / b:>8.3f}")
        else:
            print(f"{name:<16}{a:>18.2f}{'-':>21}{'-':>8}")
    if theirs:
        print("outputs equal:", same)


if __name__ == "__main__":
    main()
