"""`vidlab quickstart`: the embedded default job, end to end on the CPU with no downloads.

It renders the synthetic motion dataset (or reuses it), trains a small model from scratch (TSM
by default; TSN, a 3D CNN: I3D-R18 or X3D, or a micro video transformer: `vit`, VideoMAE's
ViT types at 0.8M parameters), tests the best checkpoint, classifies one
held-out video, and writes `summary.json`. Its configs are ordinary files in
`configs/quickstart/`.

`--task skeleton` does the same for skeleton-based recognition: it writes the synthetic
COCO-17 stick-figure set (`vidlab.data.skeleton.synthetic`, a PoseDataset pickle), trains
ST-GCN++ (`stgcnpp_synthetic_skeleton.py`), tests it, classifies one held-out sample and renders
that sample to `sample.mp4`. `--task localization` trains BMN on features of synthetic
untrimmed videos (`vidlab.quickstart_localization`); `--task detection` trains an AVA-style
detector on the synthetic actors set (`vidlab.quickstart_detection`).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

CONFIG_DIR = Path(__file__).parent / "configs" / "quickstart"
CONFIGS = {
    "tsm": CONFIG_DIR / "tsm_r18_synthetic_motion.py",
    "tsn": CONFIG_DIR / "tsn_r18_synthetic_motion.py",
    "x3d": CONFIG_DIR / "x3d_s_synthetic_motion.py",
    "i3d": CONFIG_DIR / "i3d_r18_synthetic_motion.py",
    "vit": CONFIG_DIR / "vit_micro_synthetic_motion.py",
}
SKELETON_CONFIG = CONFIG_DIR / "stgcnpp_synthetic_skeleton.py"


def prepare_synthetic_skeletons(cfg) -> Path:
    """Write (or reuse) the pickle of ``cfg.synthetic_skeletons`` (arguments of
    ``make_synthetic_skeletons``) below ``cfg.data_root``, named by all those arguments, and point
    the config's datasets and ``label_file`` at it."""
    from vidlab.data.skeleton.synthetic import write_synthetic_skeletons

    spec = dict(cfg.synthetic_skeletons)
    counts = "-".join(
        str(spec.get(k, d)) for k, d in (("num_train", 32), ("num_val", 8), ("num_test", 8))
    )
    # every other argument in the name too: a file written with other arguments is not reused
    others = "".join(
        "_" + re.sub(r"[^\w.-]+", "-", f"{k}{spec[k]}").strip("-")
        for k in sorted(spec)
        if k not in ("num_train", "num_val", "num_test", "seed")
    )
    root = Path(cfg.data_root)
    path = root / f"synthetic_skeletons_{counts}_s{spec.get('seed', 0)}{others}.pkl"
    if not path.is_file():
        write_synthetic_skeletons(path, **spec)
        print(f"[quickstart] wrote {path}")
    from vidlab.data.skeleton.dataset import load_pose_pickle

    labels = root / "labels.txt"
    classes = load_pose_pickle(path)["classes"]
    labels.write_text("\n".join(classes) + "\n")
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[key]["dataset"]["ann_file"] = str(path)
    cfg["label_file"] = str(labels)
    return path


def _first_val_video(cfg) -> str:
    dataset = cfg.test_dataloader.dataset
    prefix = dataset.get("data_prefix", "")
    if isinstance(prefix, dict):
        prefix = prefix.get("video", "")
    with open(dataset.ann_file) as f:
        rel = f.readline().split()[0]
    return str(Path(prefix) / rel)


def quickstart(
    model: str = "tsm", work_dir=None, cfg_options=None, task: str = "recognition"
) -> dict:
    """Run the embedded default job and return its summary (also written to summary.json).

    Args:
        model: The RGB model (``CONFIGS``) for ``task='recognition'``.
        work_dir: Where checkpoints, logs and the summary go.
        cfg_options: ``key=value`` overrides of the config.
        task: ``'recognition'`` (synthetic motion videos), ``'skeleton'`` (ST-GCN++ on
            synthetic stick figures), ``'localization'`` (BMN on synthetic untrimmed videos)
            or ``'detection'`` (an AVA-style detector on synthetic actors).
    """
    if task == "skeleton":
        return _quickstart_skeleton(work_dir, cfg_options)
    if task == "localization":
        from vidlab.quickstart_localization import localization_quickstart

        return localization_quickstart(work_dir, cfg_options)
    if task == "detection":
        from vidlab.quickstart_detection import detection_quickstart

        return detection_quickstart(work_dir, cfg_options)
    if task != "recognition":
        raise ValueError(
            f"task={task!r}; use 'recognition', 'skeleton', 'localization' or 'detection'"
        )
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


def _set_cpu_threads(threads) -> int | None:
    """``torch.set_num_threads(threads)`` unless the user chose (``OMP_NUM_THREADS`` or
    ``MKL_NUM_THREADS`` set) or ``threads`` is None; returns the count set."""
    import os

    if not threads or any(v in os.environ for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")):
        return None
    import torch

    torch.set_num_threads(int(threads))
    return int(threads)


def _quickstart_skeleton(work_dir=None, cfg_options=None) -> dict:
    from vidlab.config import load_config, validate
    from vidlab.data.skeleton.dataset import load_pose_pickle
    from vidlab.engine.train import test, train
    from vidlab.inference import inference_recognizer, init_recognizer, skeleton_record

    start = time.perf_counter()
    cfg = load_config(SKELETON_CONFIG, cfg_options)
    validate(cfg)
    threads = _set_cpu_threads(cfg.get("cpu_threads"))
    if threads:
        print(f"[quickstart] {threads} intra-op thread(s) (the config's cpu_threads)")
    work_dir = Path(work_dir or Path("work_dirs") / "quickstart_skeleton")
    work_dir.mkdir(parents=True, exist_ok=True)
    data = prepare_synthetic_skeletons(cfg)

    result = train(cfg, work_dir=work_dir)
    best = result.get("best_checkpoints") or {}
    checkpoint = next(iter(best.values()), None) or result["last_checkpoint"]
    test_out = work_dir / "test_results.json"
    metrics = test(cfg, checkpoint, out=str(test_out))["metrics"]

    sample = load_pose_pickle(data)["split"]["test"][0]
    recognizer = init_recognizer(cfg, checkpoint)
    top5 = inference_recognizer(recognizer, f"{data}:{sample}", labels=cfg.label_file, top_k=5)
    video = None
    try:
        from vidlab.data.skeleton.render import render_skeleton

        video = str(render_skeleton(skeleton_record(data, sample), work_dir / "sample.mp4"))
    except ImportError as err:  # PyAV missing: the rest of the summary stands
        print(f"[quickstart] no rendering: {err}")

    summary = dict(
        task="skeleton",
        model="stgcnpp",
        top1=metrics["acc/top1"],
        top5=metrics["acc/top5"],
        mean_class_accuracy=metrics["acc/mean1"],
        seconds=round(time.perf_counter() - start, 1),
        config=str(work_dir / "config.py"),
        source_config=str(SKELETON_CONFIG),
        checkpoint=str(checkpoint),
        log=str(work_dir / "log.jsonl"),
        test_results=str(test_out),
        inference=dict(sample=f"{data}:{sample}", top5=[[label, round(s, 4)] for label, s in top5]),
        rendering=video,
    )
    (work_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print(
        f"[quickstart] top-1 {summary['top1']:.2%}  top-5 {summary['top5']:.2%}  "
        f"mean class accuracy {summary['mean_class_accuracy']:.2%}"
    )
    print(f"[quickstart] inference on held-out {sample}:")
    for label, score in top5:
        print(f"    {label:<12} {score:.3f}")
    if video:
        print(f"[quickstart] rendering:  {video}")
    print(f"[quickstart] checkpoint: {checkpoint}")
    print(f"[quickstart] summary:    {work_dir / 'summary.json'}  ({summary['seconds']:.0f}s)")
    return summary
