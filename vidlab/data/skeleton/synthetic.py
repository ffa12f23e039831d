"""A synthetic skeleton dataset: COCO-17 stick figures performing distinct motions.

Each sample is one person (optionally a second, idle one) drawn procedurally: a body of random
height and position, limbs posed by joint angles that follow the action over time, then
Gaussian jitter, a small random tilt, random keypoint scores and missing joints (coordinates
and score 0, as pose estimators report them). The result is MMAction2's skeleton pickle
(``split`` + ``annotations``, 2D keypoints in pixels of ``img_shape``), read by
:class:`~vidlab.data.skeleton.dataset.PoseDataset` with the same pipelines as NTU-60 2D.

Everything is drawn from ``numpy.random.default_rng`` seeded per sample by ``(seed, class,
index)``: the same arguments give the same file, and more samples per class keep the
earlier ones unchanged.

Actions (labels in this order): see :data:`SKELETON_ACTIONS`.
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from vidlab.data.skeleton.layouts import COCO

__all__ = ["SKELETON_ACTIONS", "make_synthetic_skeletons", "write_synthetic_skeletons"]

SKELETON_ACTIONS = (
    "wave",
    "clap",
    "squat",
    "jump",
    "walk_left",
    "walk_right",
    "raise_arms",
    "kick",
)

# Body proportions, in body heights (mid-hip at 0, y up).
_HEAD = {  # joint -> (x, y) relative to the neck point
    0: (0.0, 0.16),
    1: (0.03, 0.19),
    2: (-0.03, 0.19),
    3: (0.06, 0.17),
    4: (-0.06, 0.17),
}
_NECK_Y = 0.62
_SHOULDER_X = 0.12
_HIP_X = 0.08
_UPPER_ARM, _FOREARM = 0.17, 0.15
_THIGH, _SHIN = 0.25, 0.25


def _limb(root, a1, a2, l1, l2):
    """Two segments from ``root`` at angles ``a1`` (upper, from straight down, positive
    towards +x) and ``a1 + a2`` (lower): (mid joint, end joint), each ``(T, 2)``."""
    mid = root + l1 * np.stack([np.sin(a1), -np.cos(a1)], -1)
    end = mid + l2 * np.stack([np.sin(a1 + a2), -np.cos(a1 + a2)], -1)
    return mid, end


def _pose(action: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Joint positions ``(T, 17, 2)`` in body heights (y up) for ``action`` at times ``t``
    (seconds of an action cycle; the caller picks the speed)."""
    n = len(t)
    ph = 2 * np.pi * t + rng.uniform(0, 2 * np.pi)
    s = np.sin(ph)
    zero = np.zeros(n)
    amp = rng.uniform(0.8, 1.2)
    # neutral: arms hang slightly out, legs straight
    la1, la2 = zero + 0.15, zero + 0.1  # left arm (person's left: +x), angles in radians
    ra1, ra2 = zero - 0.15, zero - 0.1
    ll1, ll2 = zero + 0.05, zero.copy()
    rl1, rl2 = zero - 0.05, zero.copy()
    body = np.zeros((n, 2))  # offset of the mid-hip
    width, face = 1.0, 0.0  # shoulder/hip width factor; head turned towards -x/+x (profile)
    knee_bend = zero.copy()
    if action == "wave":
        ra1 = -2.4 - 0.15 * s  # right upper arm raised sideways
        ra2 = -0.9 * amp * s  # forearm waves
    elif action == "clap":
        swing = 0.5 * (1 + s) * amp  # 0: hands together, 1: apart
        la1, ra1 = zero + 1.2, zero - 1.2
        la2, ra2 = 1.9 - 1.5 * swing, -(1.9 - 1.5 * swing)
    elif action == "squat":
        depth = 0.5 * (1 - np.cos(ph)) * amp  # 0 standing .. 1 down
        knee_bend = depth
        body[:, 1] = -0.18 * depth
        la1, ra1 = 0.15 + 1.2 * depth, -0.15 - 1.2 * depth  # arms forward for balance
    elif action == "jump":
        air = np.maximum(0.0, s) * amp
        body[:, 1] = 0.25 * air
        crouch = np.maximum(0.0, -s) * amp
        knee_bend = 0.6 * crouch
        body[:, 1] -= 0.08 * crouch
        la1, ra1 = 0.15 + 2.2 * air, -0.15 - 2.2 * air
    elif action in ("walk_left", "walk_right"):
        sign = -1.0 if action == "walk_left" else 1.0
        width, face = 0.35, 0.05 * sign  # seen from the side, facing where it walks
        step = 0.45 * s * amp
        ll1, rl1 = sign * step, -sign * step
        ll2, rl2 = -np.abs(step) * 0.6 * sign, -np.abs(step) * 0.6 * sign
        la1, ra1 = -sign * step * 0.8, sign * step * 0.8
        speed = rng.uniform(0.25, 0.4)
        body[:, 0] = sign * speed * (t - t.mean())
        body[:, 1] = 0.02 * np.abs(s)
    elif action == "raise_arms":
        up = 0.5 * (1 - np.cos(ph)) * amp
        la1, ra1 = 0.15 + 2.6 * up, -0.15 - 2.6 * up
        la2, ra2 = zero.copy(), zero.copy()
    elif action == "kick":
        kick = np.maximum(0.0, s) ** 2 * amp
        rl1 = -0.05 - 1.2 * kick  # right leg swings out and up
        rl2 = 0.4 * kick
        la1, ra1 = zero + 0.5, zero - 0.5
    else:
        raise ValueError(f"unknown action {action!r}; expected one of {SKELETON_ACTIONS}")
    out = np.zeros((n, 17, 2))
    hip_l = body + [_HIP_X * width, 0.0]
    hip_r = body + [-_HIP_X * width, 0.0]
    neck = body + [0.0, _NECK_Y]
    out[:, 5], out[:, 6] = neck + [_SHOULDER_X * width, 0.0], neck + [-_SHOULDER_X * width, 0.0]
    for j, (dx, dy) in _HEAD.items():
        out[:, j] = neck + [dx * width + face, dy]
    out[:, 7], out[:, 9] = _limb(out[:, 5], la1, la2, _UPPER_ARM, _FOREARM)
    out[:, 8], out[:, 10] = _limb(out[:, 6], ra1, ra2, _UPPER_ARM, _FOREARM)
    # a bent knee points outwards; the feet stay on the ground (the body drops instead)
    out[:, 13], out[:, 15] = _limb(hip_l, ll1 + knee_bend, ll2 - 2 * knee_bend, _THIGH, _SHIN)
    out[:, 14], out[:, 16] = _limb(hip_r, rl1 - knee_bend, rl2 + 2 * knee_bend, _THIGH, _SHIN)
    out[:, 11], out[:, 12] = hip_l, hip_r
    return out


def _sample(action: str, rng: np.random.Generator, img_shape, num_frames, noise, missing):
    """One person's ``keypoint`` ``(T, 17, 2)`` in pixels and ``keypoint_score`` ``(T, 17)``."""
    img_h, img_w = img_shape
    n = int(rng.integers(num_frames[0], num_frames[1] + 1))
    cycles = rng.uniform(1.5, 3.0)  # action cycles in the clip
    t = np.linspace(0, cycles, n)
    pose = _pose(action, t, rng)  # (T, 17, 2), body heights, y up
    tilt = rng.uniform(-0.15, 0.15)
    rot = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
    pose = pose @ rot.T
    pose += rng.normal(0, noise, pose.shape)
    height = rng.uniform(0.3, 0.6) * img_h  # pixels
    xy = pose * [height, -height]  # y down
    lo, hi = xy.min((0, 1)), xy.max((0, 1))
    span = hi - lo
    room = np.maximum(np.array([img_w, img_h]) - span, 1.0)
    xy += rng.uniform(0, 1, 2) * room - lo
    score = rng.uniform(0.6, 1.0, (n, 17))
    gone = rng.random((n, 17)) < missing
    xy[gone] = 0.0
    score[gone] = 0.0
    return xy.astype(np.float32), score.astype(np.float32)


def make_synthetic_skeletons(
    num_train: int = 32,
    num_val: int = 8,
    num_test: int = 8,
    actions=SKELETON_ACTIONS,
    num_frames=(48, 80),
    img_shape=(480, 640),
    noise: float = 0.01,
    missing: float = 0.03,
    second_person: float = 0.0,
    seed: int = 0,
) -> dict:
    """The synthetic skeleton dataset as MMAction2's pickle content.

    Args:
        num_train, num_val, num_test: samples per class in the splits ``'train'``, ``'val'``,
            ``'test'``.
        actions: the action names (a subset of :data:`SKELETON_ACTIONS`), labelled in order.
        num_frames: (min, max) frames per sample.
        img_shape: (height, width) of the frame the keypoints are in.
        noise: joint jitter, in body heights.
        missing: fraction of (frame, joint) keypoints dropped (0 coordinates and score).
        second_person: probability of a second, idle person in a sample.
        seed: the seed; every sample is drawn from its own generator.

    Returns:
        ``{"split": {...}, "annotations": [...], "classes": [...]}`` (see the module docstring).
    """
    bad = [a for a in actions if a not in SKELETON_ACTIONS]
    if bad:
        raise ValueError(f"unknown actions {bad}; expected some of {SKELETON_ACTIONS}")
    annotations = []
    split = {"train": [], "val": [], "test": []}
    counts = (("train", num_train), ("val", num_val), ("test", num_test))
    for label, action in enumerate(actions):
        k = SKELETON_ACTIONS.index(action)
        index = 0
        for name, count in counts:
            for _ in range(count):
                rng = np.random.default_rng([seed, k, index])
                kp, score = _sample(action, rng, img_shape, num_frames, noise, missing)
                kp, score = kp[None], score[None]  # (1, T, 17, 2), (1, T, 17)
                if rng.random() < second_person:
                    other = np.random.default_rng([seed, k, index, 9])
                    t = kp.shape[1]
                    kp2, sc2 = _sample("raise_arms", other, img_shape, (t, t), noise, 0.0)
                    kp2 = np.repeat(kp2[:1], t, axis=0)  # standing still: its first frame
                    kp = np.concatenate([kp, kp2[None]])
                    score = np.concatenate([score, sc2[None]])
                frame_dir = f"synth_{action}_{name}_{index:04d}"
                annotations.append(
                    {
                        "frame_dir": frame_dir,
                        "label": label,
                        "img_shape": tuple(img_shape),
                        "original_shape": tuple(img_shape),
                        "total_frames": int(kp.shape[1]),
                        "keypoint": kp,
                        "keypoint_score": score,
                    }
                )
                split[name].append(frame_dir)
                index += 1
    return {
        "split": split,
        "annotations": annotations,
        "classes": list(actions),
        "layout": COCO.name,
    }


def write_synthetic_skeletons(path: str | os.PathLike, **kwargs) -> str:
    """Write :func:`make_synthetic_skeletons` (``kwargs``) to the pickle ``path``; returns it."""
    data = make_synthetic_skeletons(**kwargs)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(data, f, protocol=4)
    os.replace(tmp, path)
    return path
