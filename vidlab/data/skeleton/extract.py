"""``vidlab pose extract``: skeletons from videos with ONNX models, written as a PoseDataset pickle.

A person detector and a top-down pose estimator run through onnxruntime (nothing compiled, no
MMDetection or MMPose). The expected models are RTMDet and RTMPose exported by MMDeploy; any
ONNX model with the same signature works:

**Detector** (``--detector``): one input ``(1, 3, H, W)`` float32 (H, W from the model, 640 x
640 where it is dynamic); the frame is resized keeping its aspect ratio into the top-left
corner of an H x W canvas filled with 114, in BGR order, normalised by ``det_mean`` /
``det_std`` (RTMDet's: mean 103.53, 116.28, 123.675, std 57.375, 57.12, 58.395). First output
``dets`` ``(1, N, 5)``: ``x1, y1, x2, y2, score`` in canvas pixels; an optional second output
``labels`` ``(1, N)``: only class 0 (person) is kept. Also read: ``(1, N, 6)`` with the class
in the last column (end-to-end YOLO exports), and either without the batch dimension.

**Pose model** (``--pose``): one input ``(1, 3, h, w)`` float32 (RTMPose: 256 x 192), a crop
of the box enlarged 1.25 times at the input's aspect ratio, RGB, normalised by ``pose_mean`` /
``pose_std`` (ImageNet's on 0-255). Outputs either SimCC ``simcc_x`` ``(1, K, w * r)`` and
``simcc_y`` ``(1, K, h * r)`` (RTMPose, r = 2: location = argmax / r, score = the smaller of
the two maxima) or one heatmap ``(1, K, h', w')`` (location = argmax, score = its value).

Persons are linked across frames by :func:`vidlab.data.skeleton.convert.track_persons`.
"""

from __future__ import annotations

import os

import numpy as np

from vidlab.data.skeleton.convert import track_persons, write_pose_pickle

__all__ = ["OnnxDetector", "OnnxPoseEstimator", "extract_main", "extract_video"]

RTMDET_MEAN, RTMDET_STD = (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)
IMAGENET_MEAN, IMAGENET_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def _session(path: str, what: str):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: {what} model file does not exist")
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError(
            "vidlab pose extract needs onnxruntime: pip install onnxruntime"
        ) from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def _input_hw(session, default) -> tuple[int, int]:
    shape = session.get_inputs()[0].shape
    h, w = shape[2:4] if len(shape) == 4 else (None, None)
    if not isinstance(h, int) or not isinstance(w, int):
        return default
    return h, w


def _resample(frame: np.ndarray, boxes: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear crops ``(n, 3, out_h, out_w)`` float32 of ``frame`` (H, W, 3) at ``boxes``
    ``(n, 4)`` = (cx, cy, bw, bh); outside the frame is 0. Pixel centres are at integers."""
    import torch
    import torch.nn.functional as F

    img_h, img_w = frame.shape[:2]
    src = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float()
    b = torch.from_numpy(boxes.astype(np.float32))
    theta = torch.zeros(len(b), 2, 3)
    theta[:, 0, 0] = b[:, 2] / img_w
    theta[:, 0, 2] = (2 * b[:, 0] + 1) / img_w - 1
    theta[:, 1, 1] = b[:, 3] / img_h
    theta[:, 1, 2] = (2 * b[:, 1] + 1) / img_h - 1
    grid = F.affine_grid(theta, [len(b), 3, out_h, out_w], align_corners=False)
    out = F.grid_sample(src.expand(len(b), -1, -1, -1), grid, align_corners=False)
    return out.numpy()  # (n, 3, out_h, out_w)


class OnnxDetector:
    """Person boxes of a frame from an RTMDet-like ONNX model (see the module docstring)."""

    def __init__(
        self, path, score_thr=0.5, mean=RTMDET_MEAN, std=RTMDET_STD, bgr=True, person_class=0
    ):
        self.session = _session(os.fspath(path), "detector")
        self.person_class = person_class
        self.input_hw = _input_hw(self.session, (640, 640))
        self.score_thr = score_thr
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.bgr = bgr

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes ``(n, 4)`` x1, y1, x2, y2 in frame pixels and scores ``(n,)``, best first."""
        h, w = self.input_hw
        img_h, img_w = frame.shape[:2]
        ratio = min(h / img_h, w / img_w)
        nh, nw = max(1, round(img_h * ratio)), max(1, round(img_w * ratio))
        whole = np.array([[(img_w - 1) / 2, (img_h - 1) / 2, img_w, img_h]])
        resized = _resample(frame, whole, nh, nw)[0]  # (3, nh, nw): the frame, resized
        canvas = np.full((3, h, w), 114.0, np.float32)
        canvas[:, :nh, :nw] = resized
        if self.bgr:
            canvas = canvas[::-1]
        canvas = (canvas - self.mean[:, None, None]) / self.std[:, None, None]
        outs = self.session.run(None, {self.session.get_inputs()[0].name: canvas[None]})
        dets = np.asarray(outs[0])
        cols = dets.shape[-1] if dets.ndim in (2, 3) else 0
        if cols not in (5, 6):
            raise ValueError(
                f"detector output {self.session.get_outputs()[0].name!r} has shape "
                f"{dets.shape}; expected (1, N, 5) boxes + scores or (1, N, 6) with classes"
            )
        dets = dets.reshape(-1, cols)
        keep = dets[:, 4] > self.score_thr
        if cols == 6:
            keep &= dets[:, 5] == self.person_class
        elif len(outs) > 1:
            keep &= np.asarray(outs[1]).reshape(-1) == self.person_class
        dets = dets[keep, :5]
        dets = dets[np.argsort(-dets[:, 4], kind="stable")]
        boxes = dets[:, :4] / ratio
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, img_w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, img_h)
        return boxes.astype(np.float32), dets[:, 4].astype(np.float32)


class OnnxPoseEstimator:
    """Keypoints of boxed persons from an RTMPose-like ONNX model (see the module docstring)."""

    def __init__(self, path, mean=IMAGENET_MEAN, std=IMAGENET_STD, bgr=False, padding=1.25):
        self.session = _session(os.fspath(path), "pose")
        self.input_hw = _input_hw(self.session, (256, 192))
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.bgr = bgr
        self.padding = padding

    def _crop_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """(cx, cy, bw, bh) of each box enlarged by ``padding`` at the input's aspect ratio."""
        h, w = self.input_hw
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        bw = (boxes[:, 2] - boxes[:, 0]) * self.padding
        bh = (boxes[:, 3] - boxes[:, 1]) * self.padding
        aspect = w / h
        bw, bh = np.maximum(bw, bh * aspect), np.maximum(bh, bw / aspect)
        return np.stack([cx, cy, np.maximum(bw, 1), np.maximum(bh, 1)], -1)

    def __call__(self, frame: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints ``(n, K, 2)`` in frame pixels and scores ``(n, K)`` of ``boxes``."""
        if not len(boxes):
            return np.zeros((0, 0, 2), np.float32), np.zeros((0, 0), np.float32)
        h, w = self.input_hw
        crops = self._crop_boxes(boxes)
        x = _resample(frame, crops, h, w)  # (n, 3, h, w)
        if self.bgr:
            x = x[:, ::-1]
        x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        name = self.session.get_inputs()[0].name
        locs, scores = [], []
        for one in x:  # batch 1: exports often fix it
            outs = [np.asarray(o) for o in self.session.run(None, {name: one[None]})]
            loc, score = self._decode(outs)
            locs.append(loc)
            scores.append(score)
        loc, score = np.stack(locs), np.stack(scores)  # (n, K, 2) in input pixels
        cx, cy, bw, bh = (crops[:, i, None] for i in range(4))
        kx = cx - bw / 2 + (loc[..., 0] + 0.5) * bw / w
        ky = cy - bh / 2 + (loc[..., 1] + 0.5) * bh / h
        return np.stack([kx, ky], -1).astype(np.float32), score.astype(np.float32)

    def _decode(self, outs) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.input_hw
        if len(outs) >= 2 and outs[0].ndim == 3:  # SimCC
            sx, sy = outs[0][0], outs[1][0]  # (K, w*r), (K, h*r)
            ratio = sx.shape[-1] / w
            loc = np.stack([sx.argmax(-1), sy.argmax(-1)], -1) / ratio
            score = np.minimum(sx.max(-1), sy.max(-1))
            return loc, score
        heat = outs[0][0]  # (K, h', w')
        if heat.ndim != 3:
            raise ValueError(
                f"pose model output has shape {outs[0].shape}; expected SimCC (1, K, W), "
                "(1, K, H) or heatmaps (1, K, h, w)"
            )
        k, hh, ww = heat.shape
        flat = heat.reshape(k, -1)
        idx = flat.argmax(-1)
        loc = np.stack([(idx % ww + 0.5) * w / ww - 0.5, (idx // ww + 0.5) * h / hh - 0.5], -1)
        return loc, flat.max(-1)


def extract_video(path, detector, pose, max_persons=None, frame_interval=1, chunk=32) -> dict:
    """The skeleton record of one video (label -1)."""
    from vidlab.data.io import open_video

    frames = []
    with open_video(path) as reader:
        info = reader.info
        inds = np.arange(0, info.num_frames, frame_interval)
        for s in range(0, len(inds), chunk):
            for img in reader.read(inds[s : s + chunk]):
                boxes, _ = detector(img)
                if max_persons is not None:
                    boxes = boxes[: 2 * max_persons]  # the tracker keeps the surest
                kp, sc = pose(img, boxes)
                frames.append(list(zip(kp, sc)))
        shape = (int(info.height), int(info.width))
    kp, sc = track_persons(frames, max_persons)
    if not any(len(f) for f in frames):
        k = pose.session.get_outputs()[0].shape[1]
        k = k if isinstance(k, int) else 17
        kp = np.zeros((1, len(frames), k, 2), np.float32)
        sc = np.zeros(kp.shape[:3], np.float32)
    name = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return {
        "frame_dir": name,
        "filename": os.fspath(path),
        "label": -1,
        "img_shape": shape,
        "original_shape": shape,
        "total_frames": int(kp.shape[1]),
        "keypoint": kp,
        "keypoint_score": sc,
    }


def _videos(src: str) -> list[tuple[str, int]]:
    """``(path, label)`` of a video, or of each line of a ``path [label]`` list."""
    if src.endswith((".txt", ".list")):
        out = []
        base = os.path.dirname(src)
        with open(src, encoding="utf-8") as f:
            for line in f:
                cols = line.split()
                if cols:
                    p = cols[0] if os.path.isabs(cols[0]) else os.path.join(base, cols[0])
                    out.append((p, int(cols[1]) if len(cols) > 1 else -1))
        return out
    return [(src, -1)]


def extract_main(args) -> int:
    """``vidlab pose extract``."""
    detector = OnnxDetector(args.detector, score_thr=args.det_thr)
    pose = OnnxPoseEstimator(args.pose)
    records = []
    for src in args.sources:
        for path, label in _videos(src):
            rec = extract_video(path, detector, pose, args.max_persons, args.frame_interval)
            rec["label"] = label if args.label is None else args.label
            records.append(rec)
            print(f"{path}: {rec['total_frames']} frames, {rec['keypoint'].shape[0]} person(s)")
    write_pose_pickle(records, args.out)
    print(f"wrote {args.out}: {len(records)} samples")
    return 0
