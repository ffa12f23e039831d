"""``vidlab data detect-persons``: person boxes at AVA timestamps, as MMAction2's proposal pickle.

A user-supplied ONNX person detector runs through onnxruntime on the key frame of each
timestamp (the detector code of ``vidlab pose extract``, :class:`OnnxDetector`). The pickle maps
``'{video_id},{timestamp:04d}'`` to a float32 ``(n, 5)`` array ``x1, y1, x2, y2, score``, the
box normalised to [0, 1] by the frame size, best first: what ``AVADataset(proposal_file=...)``
reads. A timestamp whose frame has no person above the threshold gets no key (the dataset then
uses the whole frame, as MMAction2's does for a missing key).

**Detector signature** (RTMDet / YOLOX exported by MMDeploy, end-to-end YOLO exports):

- input ``(1, 3, H, W)`` float32 (640 x 640 where dynamic): the frame resized keeping its
  aspect ratio into the top-left corner of an H x W canvas filled with 114, normalised by
  ``--det-mean`` / ``--det-std`` (RTMDet's by default; YOLOX: mean 0, std 1), BGR unless
  ``--rgb``;
- outputs: ``dets`` ``(1, N, 5)`` ``x1, y1, x2, y2, score`` in canvas pixels with an optional
  ``labels`` ``(1, N)``, or one ``(1, N, 6)`` output with the class in the last column;
  boxes of class ``--person-class`` (COCO's person: 0) scoring above ``--score-thr`` are kept.

**Timestamps.** As ``AVADataset``: the key frame of timestamp ``t`` is frame
``fps * (t - timestamp_start)`` of the video (0-based; of a frame folder, its
``fps * (t - timestamp_start)``-th file), with the dataset config's ``fps`` (30) and
``timestamp_start`` (900: AVA's 15-minute clips start at second 900). By default every whole
timestamp whose frame exists; ``--timestamps FIRST LAST`` limits them (AVA annotates 902 to
1798). The video id is the file (or folder) name without its extension.
"""

from __future__ import annotations

import os
import pickle

import numpy as np

from vidlab.data.skeleton.extract import RTMDET_MEAN, RTMDET_STD, OnnxDetector, _videos

__all__ = ["detect_persons", "detect_persons_main"]


def _key_frames(num_frames: int, fps: int, timestamp_start: int, timestamps=None):
    """``[(timestamp, frame index)]`` of the timestamps whose key frame exists."""
    if timestamps is None:
        first, last = timestamp_start, timestamp_start + (num_frames - 1) // fps
    else:
        first, last = timestamps
    out = []
    for t in range(int(first), int(last) + 1):
        index = fps * (t - timestamp_start)
        if 0 <= index < num_frames:
            out.append((t, index))
    return out


def detect_persons(
    path,
    detector: OnnxDetector,
    fps: int = 30,
    timestamp_start: int = 900,
    timestamps: tuple[int, int] | None = None,
    chunk: int = 16,
) -> dict[str, np.ndarray]:
    """The proposals of one video (or frame folder): frame key -> ``(n, 5)`` float32."""
    from vidlab.data.io import open_video

    video_id = os.path.splitext(os.path.basename(os.path.normpath(os.fspath(path))))[0]
    out = {}
    with open_video(path) as reader:
        keys = _key_frames(reader.info.num_frames, fps, timestamp_start, timestamps)
        if not keys:
            raise ValueError(
                f"{path}: no key frame: {reader.info.num_frames} frames, fps={fps}, "
                f"timestamp_start={timestamp_start}, timestamps={timestamps}"
            )
        for s in range(0, len(keys), chunk):
            part = keys[s : s + chunk]
            for (t, _), frame in zip(part, reader.read([i for _, i in part])):
                boxes, scores = detector(frame)
                if len(boxes) == 0:
                    continue
                h, w = frame.shape[:2]
                norm = boxes / np.array([w, h, w, h], dtype=np.float32)
                out[f"{video_id},{t:04d}"] = np.concatenate([norm, scores[:, None]], axis=1).astype(
                    np.float32
                )
    return out


def detect_persons_main(args) -> int:
    """``vidlab data detect-persons``."""
    detector = OnnxDetector(
        args.detector,
        score_thr=args.score_thr,
        mean=args.det_mean,
        std=args.det_std,
        bgr=not args.rgb,
        person_class=args.person_class,
    )
    proposals: dict[str, np.ndarray] = {}
    for src in args.sources:
        for path, _ in _videos(src):
            found = detect_persons(path, detector, args.fps, args.timestamp_start, args.timestamps)
            boxes = sum(len(v) for v in found.values())
            print(f"{path}: {boxes} person box(es) on {len(found)} key frame(s)")
            proposals.update(found)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as f:
        pickle.dump(proposals, f)
    print(f"wrote {args.out}: {len(proposals)} key frames")
    return 0


def add_parser(data_subparsers) -> None:
    """``vidlab data detect-persons``."""
    p = data_subparsers.add_parser(
        "detect-persons",
        help="person boxes at AVA timestamps with an ONNX detector -> MMAction2 proposal pickle",
    )
    p.add_argument("sources", nargs="+", help="videos or frame folders, or lists of them (.txt)")
    p.add_argument("--detector", required=True, help="person detector (.onnx, RTMDet-like)")
    p.add_argument("--out", required=True, help="the proposal pickle to write (.pkl)")
    p.add_argument("--score-thr", type=float, default=0.5, help="least box score kept")
    p.add_argument("--person-class", type=int, default=0, help="the detector's person class")
    p.add_argument("--fps", type=int, default=30, help="frames per timestamp (dataset's fps)")
    p.add_argument(
        "--timestamp-start", type=int, default=900, help="timestamp of frame 0 (AVA: 900)"
    )
    p.add_argument(
        "--timestamps", type=int, nargs=2, metavar=("FIRST", "LAST"), default=None,
        help="only these timestamps (inclusive; default: every one with a frame)",
    )  # fmt: skip
    p.add_argument("--det-mean", type=float, nargs=3, default=RTMDET_MEAN, help="input mean")
    p.add_argument("--det-std", type=float, nargs=3, default=RTMDET_STD, help="input std")
    p.add_argument("--rgb", action="store_true", help="the detector takes RGB (default BGR)")
    p.set_defaults(func=detect_persons_main)
