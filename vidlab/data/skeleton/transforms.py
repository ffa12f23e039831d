"""The keypoint transforms of MMAction2's skeleton pipelines, with its names and outputs.

GCN pipelines (``PreNormalize2D``/``PreNormalize3D`` -> ``GenSkeFeat`` -> ``UniformSampleFrames``
-> ``PoseDecode`` -> ``FormatGCNInput``) and the keypoint steps of PoseC3D's (``PoseDecode``,
``PoseCompact``; the heatmaps are in :mod:`vidlab.data.skeleton.heatmap`).

Keypoints are ``keypoint`` ``(M, T, V, C)`` (persons, frames, joints, coordinates) and
``keypoint_score`` ``(M, T, V)``. The arithmetic is MMAction2's, in the same dtypes, so the
outputs are bit-identical (``tests/data/test_skeleton_parity.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidlab.data.skeleton.layouts import get_layout

__all__ = [
    "DecompressPose",
    "FormatGCNInput",
    "GenSkeFeat",
    "JointToBone",
    "MergeSkeFeat",
    "PadTo",
    "PoseCompact",
    "PoseDecode",
    "PreNormalize2D",
    "PreNormalize3D",
    "ToMotion",
    "compact_box",
    "combine_quadruple",
]

_DATASETS = ("nturgb+d", "openpose", "coco")


def _keypoint(results: dict, who: str) -> np.ndarray:
    kp = results.get("keypoint")
    if kp is None:
        src = results.get("frame_dir", results.get("filename", "<sample>"))
        raise KeyError(f"{who}: {src} has no 'keypoint' (keys: {sorted(results)})")
    return kp


class PreNormalize2D:
    """Scale 2D keypoints to [-1, 1] by the frame size (``img_shape`` of the sample, else
    ``img_shape`` given here, ``(h, w)``)."""

    def __init__(self, img_shape: Sequence[int] = (1080, 1920)) -> None:
        self.img_shape = img_shape

    def __call__(self, results: dict) -> dict:
        kp = _keypoint(results, "PreNormalize2D")
        h, w = results.get("img_shape", self.img_shape)
        half_w, half_h = w / 2, h / 2
        kp[..., 0] = (kp[..., 0] - half_w) / half_w  # in place, as MMAction2
        kp[..., 1] = (kp[..., 1] - half_h) / half_h
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(img_shape={self.img_shape})"


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _angle(v1: np.ndarray, v2) -> float:
    """Angle between ``v1`` and ``v2`` in radians (0 for a zero vector)."""
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0
    return np.arccos(np.clip(np.dot(_unit(v1), _unit(v2)), -1.0, 1.0))


def _rotation(axis: np.ndarray, theta: float) -> np.ndarray:
    """Counter-clockwise rotation by ``theta`` about ``axis`` (Euler-Rodrigues), 3 x 3."""
    if np.abs(axis).sum() < 1e-6 or np.abs(theta) < 1e-6:
        return np.eye(3)
    axis = np.asarray(axis)
    axis = axis / np.sqrt(np.dot(axis, axis))
    a = np.cos(theta / 2.0)
    b, c, d = -axis * np.sin(theta / 2.0)
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    return np.array(
        [
            [aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
            [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
            [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc],
        ]
    )


class PreNormalize3D:
    """NTU RGB+D 3D keypoints: drop empty frames, centre on the first person's spine, rotate the
    spine onto z and the shoulders onto x (2s-AGCN's normalisation).

    Empty frames of the main person are dropped (``total_frames`` shrinks); with two persons
    the one present in more frames comes first. Sets ``body_center``.

    Args:
        zaxis: joints (bottom, top) whose direction becomes +z.
        xaxis: joints (right shoulder, left shoulder) whose direction becomes +x.
        align_spine, align_shoulder, align_center: which steps to run.
    """

    def __init__(
        self,
        zaxis: Sequence[int] = (0, 1),
        xaxis: Sequence[int] = (8, 4),
        align_spine: bool = True,
        align_shoulder: bool = True,
        align_center: bool = True,
    ) -> None:
        self.zaxis = list(zaxis)
        self.xaxis = list(xaxis)
        self.align_spine = align_spine
        self.align_shoulder = align_shoulder
        self.align_center = align_center

    def __call__(self, results: dict) -> dict:
        skel = _keypoint(results, "PreNormalize3D")
        m, t, v, _ = skel.shape
        total = results.get("total_frames", t)
        if total != t:
            raise ValueError(f"PreNormalize3D: total_frames={total} but keypoint has {t} frames")
        if skel.sum() == 0:
            return results
        if m not in (1, 2):
            raise ValueError(f"PreNormalize3D handles 1 or 2 persons; keypoint has {m}")
        present = [[i for i in range(t) if not np.all(np.isclose(skel[p, i], 0))] for p in range(m)]
        if m == 2 and len(present[0]) < len(present[1]):
            skel = skel[:, np.array(present[1])][[1, 0]]  # the more present person first
        else:
            skel = skel[:, np.array(present[0])]
        center = None
        if self.align_center:
            center = skel[0, 0, 1 if v == 25 else -1].copy()
            mask = ((skel != 0).sum(-1) > 0)[..., None]
            skel = (skel - center) * mask
        if self.align_spine:
            bottom, top = skel[0, 0, self.zaxis[0]], skel[0, 0, self.zaxis[1]]
            axis = np.cross(top - bottom, [0, 0, 1])
            rot = _rotation(axis, _angle(top - bottom, [0, 0, 1]))
            skel = np.einsum("abcd,kd->abck", skel, rot)
        if self.align_shoulder:
            right, left = skel[0, 0, self.xaxis[0]], skel[0, 0, self.xaxis[1]]
            axis = np.cross(right - left, [1, 0, 0])
            rot = _rotation(axis, _angle(right - left, [1, 0, 0]))
            skel = np.einsum("abcd,kd->abck", skel, rot)
        results["keypoint"] = skel
        results["total_frames"] = skel.shape[1]
        # MMAction2 sets it only with align_center (and fails without); vidlab: None then
        results["body_center"] = center
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(zaxis={self.zaxis}, xaxis={self.xaxis}, "
            f"align_center={self.align_center}, align_spine={self.align_spine}, "
            f"align_shoulder={self.align_shoulder})"
        )


def _check_dataset(dataset: str) -> str:
    if dataset not in _DATASETS:
        raise ValueError(
            f"The dataset type {dataset} is not supported; expected one of {_DATASETS}"
        )
    return dataset


class JointToBone:
    """Bones from joints: bone ``v1`` = joint ``v1`` - joint ``v2`` for the layout's pairs.

    With a score channel (C == 3) of 'coco' or 'openpose', the bone's score is the mean of its
    joints' scores.

    Args:
        dataset: layout, ``'nturgb+d'``, ``'openpose'`` or ``'coco'``.
        target: key the bones are written to.
    """

    def __init__(self, dataset: str = "nturgb+d", target: str = "keypoint") -> None:
        self.dataset = _check_dataset(dataset)
        self.target = target
        self.pairs = get_layout(dataset).bone_pairs

    def __call__(self, results: dict) -> dict:
        kp = _keypoint(results, "JointToBone")
        c = kp.shape[-1]
        if c not in (2, 3):
            raise ValueError(f"JointToBone: keypoint has {c} channels; expected 2 or 3")
        bone = np.zeros(kp.shape, dtype=np.float32)
        with_score = c == 3 and self.dataset in ("openpose", "coco")
        for v1, v2 in self.pairs:
            bone[..., v1, :] = kp[..., v1, :] - kp[..., v2, :]
            if with_score:
                bone[..., v1, 2] = (kp[..., v1, 2] + kp[..., v2, 2]) / 2
        results[self.target] = bone
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dataset={self.dataset}, target={self.target})"


class ToMotion:
    """Motion: the difference to the next frame (the last frame's is 0).

    With a score channel (C == 3) of 'coco' or 'openpose', the score is the mean of the two
    frames' scores.
    """

    def __init__(self, dataset: str = "nturgb+d", source: str = "keypoint", target: str = "motion"):
        self.dataset = dataset
        self.source = source
        self.target = target

    def __call__(self, results: dict) -> dict:
        data = results[self.source]
        t, c = data.shape[1], data.shape[-1]
        if c not in (2, 3):
            raise ValueError(f"ToMotion: {self.source} has {c} channels; expected 2 or 3")
        motion = np.zeros_like(data)
        motion[:, : t - 1] = np.diff(data, axis=1)
        if c == 3 and self.dataset in ("openpose", "coco"):
            motion[:, : t - 1, :, 2] = (data[:, : t - 1, :, 2] + data[:, 1:, :, 2]) / 2
        results[self.target] = motion
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dataset={self.dataset}, source={self.source}, "
            f"target={self.target})"
        )


class MergeSkeFeat:
    """Concatenate the feature arrays ``feat_list`` (removed) into ``target`` along ``axis``."""

    def __init__(self, feat_list: Sequence[str] = ("keypoint",), target="keypoint", axis=-1):
        self.feat_list = list(feat_list)
        self.target = target
        self.axis = axis

    def __call__(self, results: dict) -> dict:
        missing = [k for k in self.feat_list if k not in results]
        if missing:
            raise KeyError(f"MergeSkeFeat: no {missing} in the results (keys: {sorted(results)})")
        feats = [results.pop(k) for k in self.feat_list]
        results[self.target] = np.concatenate(feats, axis=self.axis)
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(feat_list={self.feat_list}, target={self.target}, "
            f"axis={self.axis})"
        )


_FEATS = ("j", "b", "jm", "bm")


class GenSkeFeat:
    """Multi-stream features: joint ``'j'``, bone ``'b'``, joint motion ``'jm'``, bone motion
    ``'bm'``, concatenated along ``axis`` into ``keypoint``.

    A ``keypoint_score`` is first appended to 2D keypoints as a third channel (then the
    dataset cannot be 'nturgb+d', whose keypoints are 3D and have no scores).

    Args:
        dataset: layout, ``'nturgb+d'``, ``'openpose'`` or ``'coco'``.
        feats: the streams, in order.
        axis: concatenation axis.
    """

    def __init__(self, dataset: str = "nturgb+d", feats: Sequence[str] = ("j",), axis: int = -1):
        bad = [f for f in feats if f not in _FEATS]
        if bad:
            raise ValueError(f"GenSkeFeat: unknown feats {bad}; expected some of {_FEATS}")
        self.dataset = _check_dataset(dataset)
        self.feats = list(feats)
        self.axis = axis
        self._bone = JointToBone(dataset, target="b") if {"b", "bm"} & set(feats) else None
        self._jm = ToMotion(dataset, "j", "jm") if "jm" in feats else None
        self._bm = ToMotion(dataset, "b", "bm") if "bm" in feats else None
        self._merge = MergeSkeFeat(self.feats, axis=axis)

    def __call__(self, results: dict) -> dict:
        if "keypoint_score" in results and "keypoint" in results:
            kp = results["keypoint"]
            if self.dataset == "nturgb+d":
                raise ValueError(
                    "GenSkeFeat(dataset='nturgb+d') got keypoint_score; NTU RGB+D keypoints are "
                    "3D without scores: use dataset='coco' or 'openpose' for 2D keypoints"
                )
            if kp.shape[-1] != 2:
                raise ValueError(
                    f"GenSkeFeat: only 2D keypoints have keypoint_score; keypoint has "
                    f"{kp.shape[-1]} channels"
                )
            score = results.pop("keypoint_score")
            results["keypoint"] = np.concatenate([results.pop("keypoint"), score[..., None]], -1)
        if self._bone is not None:
            results = self._bone(results)
        results["j"] = _keypoint(results, "GenSkeFeat")
        for op in (self._jm, self._bm):
            if op is not None:
                results = op(results)
        return self._merge(results)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dataset={self.dataset}, feats={self.feats}, axis={self.axis})"
        )


class PoseDecode:
    """Take the sampled frames ``frame_inds`` (+ ``offset``) of ``keypoint`` and
    ``keypoint_score`` as float32 (all frames when nothing was sampled)."""

    def __call__(self, results: dict) -> dict:
        kp = _keypoint(results, "PoseDecode")
        if "total_frames" not in results:
            results["total_frames"] = kp.shape[1]
        if "frame_inds" not in results:
            results["frame_inds"] = np.arange(results["total_frames"])
        inds = np.asarray(results["frame_inds"])
        if inds.ndim != 1:
            inds = np.squeeze(inds)
            results["frame_inds"] = inds
        inds = inds + results.get("offset", 0)
        if len(inds) and (inds.max() >= kp.shape[1] or inds.min() < -kp.shape[1]):
            src = results.get("frame_dir", results.get("filename", "<sample>"))
            raise IndexError(
                f"PoseDecode: {src} has {kp.shape[1]} keypoint frames but frame {inds.max()} "
                f"was sampled (total_frames={results['total_frames']})"
            )
        if "keypoint_score" in results:
            results["keypoint_score"] = results["keypoint_score"][:, inds].astype(np.float32)
        results["keypoint"] = kp[:, inds].astype(np.float32)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PadTo:
    """Make the sequence ``length`` frames long by looping it (``'loop'``), or with zeros after
    the end (``'zero'``); ``total_frames`` must be <= ``length``."""

    def __init__(self, length: int, mode: str = "loop") -> None:
        if mode not in ("loop", "zero"):
            raise ValueError(f"PadTo mode={mode!r}; expected 'loop' or 'zero'")
        self.length = length
        self.mode = mode

    def __call__(self, results: dict) -> dict:
        total = results["total_frames"]
        if total > self.length:
            raise ValueError(f"PadTo(length={self.length}): the sample has {total} frames")
        start = results.get("start_index", 0)
        inds = np.mod(np.arange(start, start + self.length), total)
        kp = results["keypoint"][:, inds].copy()
        if self.mode == "zero":
            kp[:, total:] = 0
        results["keypoint"] = kp
        results["total_frames"] = self.length
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(length={self.length}, mode={self.mode})"


class FormatGCNInput:
    """``keypoint`` (+ score channel) as ``(num_clips, M, T, V, C)`` with exactly
    ``num_person`` persons: extra persons dropped, missing ones zeros (``'zero'``) or, for a
    single person, copies of it (``'loop'``)."""

    def __init__(self, num_person: int = 2, mode: str = "zero") -> None:
        if mode not in ("zero", "loop"):
            raise ValueError(f"FormatGCNInput mode={mode!r}; expected 'zero' or 'loop'")
        self.num_person = num_person
        self.mode = mode

    def __call__(self, results: dict) -> dict:
        kp = _keypoint(results, "FormatGCNInput")
        if "keypoint_score" in results:
            kp = np.concatenate((kp, results["keypoint_score"][..., None]), axis=-1)
        m = kp.shape[0]
        if m < self.num_person:
            pad = np.zeros((self.num_person - m,) + kp.shape[1:], dtype=kp.dtype)
            kp = np.concatenate((kp, pad), axis=0)
            if self.mode == "loop" and m == 1:
                kp[1:] = kp[0]
        elif m > self.num_person:
            kp = kp[: self.num_person]
        m, t, v, c = kp.shape
        nc = results.get("num_clips", 1)
        if t % nc:
            raise ValueError(f"FormatGCNInput: {t} frames do not split into {nc} clips")
        kp = kp.reshape((m, nc, t // nc, v, c)).transpose(1, 0, 2, 3, 4)  # (nc, M, T, V, C)
        results["keypoint"] = np.ascontiguousarray(kp)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_person={self.num_person}, mode={self.mode})"


def combine_quadruple(a, b) -> tuple:
    """Crop quadruple ``b`` (x, y, w, h fractions) taken inside crop quadruple ``a``."""
    return a[0] + a[2] * b[0], a[1] + a[3] * b[1], a[2] * b[2], a[3] * b[3]


def _pair(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x, x)


def compact_box(kp: np.ndarray, img_shape, padding, threshold, hw_ratio, allow_imgpad):
    """The box ``(x1, y1, x2, y2)`` around all non-zero keypoints, padded by ``padding`` and
    widened to ``hw_ratio``; None when the keypoints span less than ``threshold`` pixels."""
    h, w = img_shape
    kp_x, kp_y = kp[..., 0], kp[..., 1]
    xs, ys = kp_x[kp_x != 0], kp_y[kp_y != 0]
    min_x = np.min(xs, initial=np.inf)
    min_y = np.min(ys, initial=np.inf)
    max_x = np.max(xs, initial=-np.inf)
    max_y = np.max(ys, initial=-np.inf)
    if max_x - min_x < threshold or max_y - min_y < threshold:
        return None
    cx, cy = (max_x + min_x) / 2, (max_y + min_y) / 2
    half_w = (max_x - min_x) / 2 * (1 + padding)
    half_h = (max_y - min_y) / 2 * (1 + padding)
    if hw_ratio is not None:
        half_h = max(hw_ratio[0] * half_w, half_h)
        half_w = max(1 / hw_ratio[1] * half_h, half_w)
    x1, x2 = cx - half_w, cx + half_w
    y1, y2 = cy - half_h, cy + half_h
    if not allow_imgpad:
        return int(max(0, x1)), int(max(0, y1)), int(min(w, x2)), int(min(h, y2))
    return int(x1), int(y1), int(x2), int(y2)


class PoseCompact:
    """Shrink the frame to the box around all keypoints (padded by ``padding``, widened to
    ``hw_ratio`` = h/w or a range) and move the keypoints into it; zeros stay zeros (missing).

    Sets ``img_shape`` and ``crop_quadruple``. NaN keypoints become 0. A box under
    ``threshold`` pixels wide or high leaves the sample unchanged.
    """

    def __init__(self, padding=0.25, threshold=10, hw_ratio=None, allow_imgpad=True) -> None:
        if padding < 0:
            raise ValueError(f"PoseCompact padding={padding} must be >= 0")
        self.padding = padding
        self.threshold = threshold
        self.hw_ratio = _pair(hw_ratio) if hw_ratio is not None else None
        self.allow_imgpad = allow_imgpad

    def __call__(self, results: dict) -> dict:
        h, w = results["img_shape"]
        kp = _keypoint(results, "PoseCompact")
        kp[np.isnan(kp)] = 0.0
        box = compact_box(
            kp, (h, w), self.padding, self.threshold, self.hw_ratio, self.allow_imgpad
        )
        if box is None:
            return results
        x1, y1, x2, y2 = box
        kp_x, kp_y = kp[..., 0], kp[..., 1]
        kp_x[kp_x != 0] -= x1
        kp_y[kp_y != 0] -= y1
        results["img_shape"] = (y2 - y1, x2 - x1)
        quad = results.get("crop_quadruple", (0.0, 0.0, 1.0, 1.0))
        new = (x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h)
        results["crop_quadruple"] = combine_quadruple(quad, new)
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(padding={self.padding}, threshold={self.threshold}, "
            f"hw_ratio={self.hw_ratio}, allow_imgpad={self.allow_imgpad})"
        )


class DecompressPose:
    """Kinetics-skeleton's compressed pose: rows of ``keypoint`` ``(K, V, 3)`` (x, y, score)
    with their frame in ``frame_inds`` become ``keypoint`` ``(M, T, V, 2)`` and
    ``keypoint_score`` ``(M, T, V)`` (float16), M = most persons in a frame.

    Args:
        squeeze: drop frames with no person (``total_frames`` = frames with one).
        max_person: keep at most this many persons per frame, the highest total scores.
    """

    def __init__(self, squeeze: bool = True, max_person: int = 10) -> None:
        self.squeeze = squeeze
        self.max_person = max_person

    def __call__(self, results: dict) -> dict:
        for k in ("total_frames", "frame_inds", "keypoint"):
            if k not in results:
                raise KeyError(f"DecompressPose needs {k!r} (keys: {sorted(results)})")
        total = results["total_frames"]
        frame_inds = results.pop("frame_inds")
        kp = results["keypoint"]
        if "anno_inds" in results:
            frame_inds = frame_inds[results["anno_inds"]]
            kp = kp[results["anno_inds"]]
        if np.any(np.diff(frame_inds) < 0):
            raise ValueError("DecompressPose: frame_inds must be non-decreasing")
        if self.squeeze:
            _, frame_inds = np.unique(frame_inds, return_inverse=True)
            frame_inds = frame_inds.astype(np.int16)
            total = int(np.max(frame_inds)) + 1
        results["total_frames"] = total
        v = kp.shape[1]
        _, counts = np.unique(frame_inds, return_counts=True)
        num_person = int(counts.max())
        new_kp = np.zeros([num_person, total, v, 2], dtype=np.float16)
        new_score = np.zeros([num_person, total, v], dtype=np.float16)
        per_frame = np.zeros([total], dtype=np.int16)
        for f, row in zip(frame_inds, kp):
            p = per_frame[f]
            new_kp[p, f] = row[:, :2]
            new_score[p, f] = row[:, 2]
            per_frame[f] += 1
        if num_person > self.max_person:
            for i in range(total):
                n = per_frame[i]
                sums = new_score[:n, i].sum(-1)
                order = sorted(range(n), key=lambda x: -sums[x])  # noqa: B023 - used at once
                new_score[:n, i] = new_score[order, i]
                new_kp[:n, i] = new_kp[order, i]
            num_person = self.max_person
            results["num_person"] = num_person
        results["keypoint"] = new_kp[:num_person]
        results["keypoint_score"] = new_score[:num_person]
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(squeeze={self.squeeze}, max_person={self.max_person})"
