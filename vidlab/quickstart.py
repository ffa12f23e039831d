"""`vidlab quickstart`: the embedded default job, end to end on the CPU with no downloads.

It renders the synthetic motion dataset (or reuses it), trains a small model from scratch (TSM
by default; TSN, or a 3D CNN: I3D-R18 or X3D), tests the best checkpoint, classifies one
held-out video, and writes `summary.json`. Its configs are ordinary files in
`configs/quickstart/`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

CONFIG_DIR = Path(__file__).parent / "configs" / "quickstart"
CONFIGS = {
    "tsm": CONFIG_DIR / "tsm_r18_synthetic_motion.py",
    "tsn": CONFIG_DIR / "tsn_r18_synthetic_motion.py",
    "x3d": CONFIG_DIR / "x3d_s_synthetic_motion.py",
    "i3d": CONFIG_DIR / "i3d_r18_synthetic_motion.py",
}


def _first_val_video(cfg) -> str:
    dataset = cfg.test_dataloader.dataset
    prefix = dataset.get("data_prefix", "")
    if isinstance(prefix, dict):
        prefix = prefix.get("video", "")
    with open(dataset.ann_file) as f:
        rel = f.readline().split()[0]
    return str(Path(prefix) / rel)


def quickstart(model: str = "tsm", work_dir=None, cfg_options=None) -> dict:
    """Run the embedded default job and return its summary (also written to summary.json)."""
    from vidlab.config import load_config, validate
    from vidlab.data.synthetic import prepare_synthetic_data
    from vidlab.engine.train import test, train
    from vidlab.inference import inference_recognizer, init_recognizer

    start = time.perf_counter()
    config = CONFIGS[model]
    cfg = load_config(config, cfg_options)
    validate(cfg)  # every config problem before any data is generated
    work_dir = Path(work_dir or Path("work_dirs") / f"quickstart_{model}")
    work_dir.mkdir(parents=True, exist_ok=True)

    t = time.perf_counter()
    prepare_synthetic_data(cfg)
    print(f"[quickstart] data: {cfg.data_root} ({time.perf_counter() - t:.1f}s)")

    result = train(cfg, work_dir=work_dir)
    best = result.get("best_checkpoints") or {}
    checkpoint = next(iter(best.values()), None) or result["last_checkpoint"]
    test_out = work_dir / "test_results.json"
    metrics = test(cfg, checkpoint, out=str(test_out))["metrics"]

    video = _first_val_video(cfg)
    recognizer = init_recognizer(cfg, checkpoint)
    top5 = inference_recognizer(recognizer, video, labels=cfg.get("label_file"), top_k=5)

    summary = dict(
        model=model,
        top1=metrics["acc/top1"],
        top5=metrics["acc/top5"],
        mean_class_accuracy=metrics["acc/mean1"],
        seconds=round(time.perf_counter() - start, 1),
        config=str(work_dir / "config.py"),
        source_config=str(config),
        checkpoint=str(checkpoint),
        log=str(work_dir / "log.jsonl"),
        test_results=str(test_out),
        inference=dict(video=video, top5=[[label, round(s, 4)] for label, s in top5]),
    )
    (work_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    print()
    print(
        f"[quickstart] top-1 {summary['top1']:.2%}  top-5 {summary['top5']:.2%}  "
        f"mean class accuracy {summary['mean_class_accuracy']:.2%}"
    )
    print(f"[quickstart] inference on held-out {video}:")
    for label, score in top5:
        print(f"    {label:<12} {score:.3f}")
    print(f"[quickstart] checkpoint: {checkpoint}")
    print(f"[quickstart] log:        {summary['log']}")
    print(f"[quickstart] config:     {summary['config']} (from {config})")
    print(f"[quickstart] summary:    {work_dir / 'summary.json'}  ({summary['seconds']:.0f}s)")
    return summary
