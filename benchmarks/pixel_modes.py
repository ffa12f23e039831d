"""Pixel modes (issue 15): MMAction2's pixels (OpenCV decode + cv2.resize) against vidlab's
fast path (FFmpeg decode + torch resize) on frame folders: the scores of one checkpoint and the
speed of each.

1. Renders the synthetic motion dataset (6 classes, ``--videos`` per class, 64x64 H.264),
   trains TSM-R18 on the videos at 32 px for ``--epochs`` epochs (vidlab's engine, seed 0;
   the checkpoint is what the comparison needs, not a good model), and extracts the
   validation videos to JPEG frame folders (FFmpeg, -q:v 2).
2. Tests the checkpoint on the frame folders (RawframeDataset, ``RawFrameDecode`` ->
   ``Resize(-1, 32)`` -> ``CenterCrop(32)``, 8 segments x 2 clips) once per mode, and reports
   top-1 / mean-class accuracy, the largest and mean absolute difference of the per-video
   scores, and how many top-1 predictions differ.
3. Times the test pipeline per clip in each mode (CPU time of the process, modes
   interleaved, minimum of ``--repeats``): on the 64x64 frames above, and on 320x240 and
   1280x720 JPEG frames with MMAction2's TSN test pipeline (``Resize(-1, 256)``,
   ``CenterCrop(224)``, 8 frames: up-scaling as MMAction2's rawframe configs do for 320x240
   frames; a large shrink, where the fast mode decodes with FFmpeg's scaler, for 720p).

    python benchmarks/pixel_modes.py --out pixel_modes.json     # ~10 min on 2 busy cores
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import vidlab

QUICKSTART = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"
MODES = ("mmaction2", "fast")


def _test_pipeline(scale: int, crop: int, num_clips: int = 8, twice: bool = True) -> list:
    return [
        dict(
            type="SampleFrames",
            clip_len=1,
            frame_interval=1,
            num_clips=num_clips,
            test_mode=True,
            twice_sample=twice,
        ),
        dict(type="RawFrameDecode"),
        dict(type="Resize", scale=(-1, scale)),
        dict(type="CenterCrop", crop_size=crop),
        dict(type="FormatShape", input_format="NCHW"),
        dict(type="PackActionInputs"),
    ]


def train_and_extract(work: Path, videos: int, epochs: int) -> tuple[Path, dict, dict]:
    from vidlab.config import load_config
    from vidlab.data.synthetic import prepare_synthetic_data
    from vidlab.data.transcode import extract_frames
    from vidlab.engine.train import train

    os.environ["VIDLAB_CACHE"] = str(work / "cache")  # the quickstart config's data root
    opts = [
        f"synthetic_data.videos_per_class={videos}",
        "synthetic_data.size=64",
        f"train_cfg.max_epochs={epochs}",
        f"train_cfg.val_interval={epochs}",
        f"param_scheduler.1.T_max={max(epochs - 1, 1)}",
        "train_dataloader.num_workers=0",
        "train_dataloader.persistent_workers=False",
        "val_dataloader.num_workers=0",
        "val_dataloader.persistent_workers=False",
        "test_dataloader.num_workers=0",
    ]
    cfg = load_config(QUICKSTART, opts)
    info = prepare_synthetic_data(cfg)
    start = time.perf_counter()
    result = train(cfg, work_dir=work / "train", seed=0)
    train_s = time.perf_counter() - start
    root = Path(info["root"])
    frames = extract_frames(root / "val.txt", work / "frames", data_prefix=root)
    return (
        Path(result["last_checkpoint"]),
        cfg,
        dict(train_s=train_s, frames=frames["list"], num_videos=frames["num_videos"]),
    )


class _Capture:
    """An evaluator that keeps the full score matrix of the last evaluation."""

    last = None

    def compute(self, scores, labels) -> dict:
        _Capture.last = (np.asarray(scores, dtype=np.float64), np.asarray(labels))
        return {}


def test_both_ways(cfg, checkpoint: Path, frame_list: str, frames_root: Path) -> dict:
    from vidlab.data.pixels import set_pixel_mode
    from vidlab.engine.train import test
    from vidlab.evaluation.metrics import mean_class_accuracy, top_k_accuracy

    cfg["test_dataloader"]["dataset"] = dict(
        type="RawframeDataset",
        ann_file=frame_list,
        data_prefix=dict(img=str(frames_root)),
        pipeline=_test_pipeline(32, 32),
        test_mode=True,
    )
    out = {}
    scores = {}
    cfg["test_evaluator"] = [dict(type="AccMetric"), dict(type=_Capture)]
    for mode in MODES:
        set_pixel_mode(mode)
        start = time.perf_counter()
        res = test(cfg, checkpoint)
        wall = time.perf_counter() - start
        s, labels = _Capture.last
        scores[mode] = s
        out[mode] = dict(
            metrics=res["metrics"],
            top1=top_k_accuracy(s, labels, (1,))[0],
            mean1=mean_class_accuracy(s, labels),
            wall_s=round(wall, 2),
        )
    set_pixel_mode(None)
    d = np.abs(scores["mmaction2"] - scores["fast"])
    out["score_diff"] = dict(
        max_abs=float(d.max()),
        mean_abs=float(d.mean()),
        top1_changed=int((scores["mmaction2"].argmax(1) != scores["fast"].argmax(1)).sum()),
        num_videos=len(d),
    )
    return out


def _write_jpeg_clip(folder: Path, w: int, h: int, n: int = 16) -> None:
    from vidlab.data.io.frames import ImageEncoder

    folder.mkdir(parents=True, exist_ok=True)
    enc = ImageEncoder(".jpg", quality=2)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        base = np.stack([(xx + 3 * i) % 256, (yy * 2) % 256, ((xx + yy) // 2 + 5 * i) % 256], -1)
        img = np.clip(base + rng.integers(-12, 12, size=base.shape), 0, 255).astype(np.uint8)
        (folder / f"img_{i + 1:05d}.jpg").write_bytes(enc.encode(img))


def time_pipeline(folder: Path, n: int, scale: int, crop: int, repeats: int) -> dict:
    from vidlab.data.pipeline import Compose
    from vidlab.data.pixels import set_pixel_mode

    pipe = Compose(_test_pipeline(scale, crop, num_clips=8, twice=False))
    best = {m: float("inf") for m in MODES}
    for _ in range(repeats):
        for mode in MODES:
            set_pixel_mode(mode)
            r = dict(
                frame_dir=str(folder),
                total_frames=n,
                label=0,
                start_index=1,
                modality="RGB",
                filename_tmpl="img_{:05d}.jpg",
            )
            t = time.process_time()
            pipe(r)
            best[mode] = min(best[mode], time.process_time() - t)
    set_pixel_mode(None)
    return {f"{m}_ms_per_clip": round(1000 * v, 2) for m, v in best.items()} | {
        "fast_speedup": round(best["mmaction2"] / best["fast"], 2)
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--videos", type=int, default=40, help="videos per class")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--work", default=None, help="work folder (default: a temporary one)")
    p.add_argument("--out", default=None, help="write the results as JSON")
    p.add_argument("--speed-only", action="store_true", help="only the pipeline timings (3.)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    work = Path(args.work or tempfile.mkdtemp(prefix="vidlab_pixels_"))
    work.mkdir(parents=True, exist_ok=True)
    result = {}
    if not args.speed_only:
        ckpt, cfg, info = train_and_extract(work, args.videos, args.epochs)
        frames_root = work / "frames"
        result["train"] = dict(videos_per_class=args.videos, epochs=args.epochs, **info)
        result["test"] = test_both_ways(cfg, ckpt, info["frames"], frames_root)
        one = sorted(p.parent for p in frames_root.rglob("img_00001.jpg"))[0]
        n = len(list(one.glob("img_*.jpg")))
        result["speed_64px"] = time_pipeline(one, n, 32, 32, args.repeats)
    for w, h in ((320, 240), (1280, 720)):
        clip = work / f"clip_{w}x{h}"
        _write_jpeg_clip(clip, w, h)
        result[f"speed_{w}x{h}"] = time_pipeline(clip, 16, 256, 224, args.repeats)
    result["cpu"] = os.cpu_count()
    text = json.dumps(result, indent=1, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
