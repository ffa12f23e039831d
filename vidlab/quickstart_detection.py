"""`vidlab quickstart --task detection`: spatio-temporal action detection with no downloads.

1. Writes the synthetic actors set (`vidlab.data.synthetic.actors`: AVA-format frame folders,
   csv, exclusions, label map and proposals), or reuses it.
2. Trains the detector of `configs/quickstart/i3d_r18_synthetic_actors.py` (MMAction2's AVA
   config layout: FastRCNN + AVARoIHead on a small 3D ResNet) from scratch.
3. Tests the best checkpoint: frame mAP@0.5 (AVAMetric) on the held-out videos.
4. Runs the demo (`vidlab.detection_demo`) on one held-out video: its boxes and actions drawn
   into ``demo.mp4``, the keyframes in ``demo.json``; ``summary.json`` as the other quickstarts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

__all__ = ["CONFIG", "detection_quickstart"]

CONFIG = Path(__file__).parent / "configs" / "quickstart" / "i3d_r18_synthetic_actors.py"


def _first_val_video(info: dict) -> str:
    with open(info["ann_file_val"]) as f:
        return f.readline().split(",")[0]


def _encode_frames(folder: Path, out: Path, fps: int) -> Path:
    """The frame folder as an MP4 (the demo reads videos)."""
    import av
    import numpy as np

    from vidlab.data.synthetic import write_video

    frames = []
    for path in sorted(folder.glob("img_*.jpg")):
        with av.open(str(path)) as c:
            frames.append(next(c.decode(video=0)).to_ndarray(format="rgb24"))
    return write_video(out, np.stack(frames), fps=fps)


def detection_quickstart(work_dir=None, cfg_options=None) -> dict:
    """Run the detection quickstart; returns its summary (also in ``summary.json``).

    Args:
        work_dir: Where checkpoints, logs, the demo and the summary go (default
            ``work_dirs/quickstart_detection``).
        cfg_options: ``key=value`` overrides of the config.
    """
    from vidlab.config import load_config, validate
    from vidlab.data.synthetic import prepare_synthetic_data
    from vidlab.detection_demo import ProposalFile, detect_video, read_label_map
    from vidlab.engine.train import test, train
    from vidlab.inference import init_recognizer

    start = time.perf_counter()
    cfg = load_config(CONFIG, cfg_options)
    validate(cfg)  # every config problem before any data is written
    work_dir = Path(work_dir or Path("work_dirs") / "quickstart_detection")
    work_dir.mkdir(parents=True, exist_ok=True)
    info = prepare_synthetic_data(cfg)  # its synthetic_actors
    print(f"[quickstart] data: {info['root']} ({time.perf_counter() - start:.0f}s)")

    result = train(cfg, work_dir=work_dir)
    best = result.get("best_checkpoints") or {}
    checkpoint = next(iter(best.values()), None) or result["last_checkpoint"]
    test_out = work_dir / "test_results.json"
    metrics = test(cfg, checkpoint, out=str(test_out))["metrics"]

    video_id = _first_val_video(info)
    fps = int(cfg.synthetic_actors.get("fps", 30))
    video = _encode_frames(Path(info["frames"]) / video_id, work_dir / f"{video_id}.mp4", fps)
    model = init_recognizer(cfg, checkpoint)
    demo = detect_video(
        model,
        video,
        ProposalFile(info["proposal_file_val"]),
        out_video=work_dir / "demo.mp4",
        json_out=work_dir / "demo.json",
        labels=read_label_map(info["label_file"]),
        timestamp_start=900,
    )
    summary = dict(
        task="detection",
        model="i3d_r18_fastrcnn",
        mAP=metrics.get("mAP/overall"),
        # AVA's categories without a class of this set are NaN: left out (not valid JSON)
        metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float)) and v == v},
        seconds=round(time.perf_counter() - start, 1),
        config=str(work_dir / "config.py"),
        source_config=str(CONFIG),
        checkpoint=str(checkpoint),
        log=str(work_dir / "log.jsonl"),
        test_results=str(test_out),
        demo=dict(
            video=str(video),
            annotated=str(work_dir / "demo.mp4"),
            json=str(work_dir / "demo.json"),
            keyframes=demo["num_keyframes"],
        ),
    )
    (work_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    if summary["mAP"] is not None:
        print(f"[quickstart] frame mAP@0.5 {summary['mAP']:.3f} on held-out videos")
    print(f"[quickstart] demo:       {work_dir / 'demo.mp4'} (from {video})")
    print(f"[quickstart] checkpoint: {checkpoint}")
    print(f"[quickstart] summary:    {work_dir / 'summary.json'}  ({summary['seconds']:.0f}s)")
    return summary
