"""`vidlab quickstart --task localization`: temporal action localization with no downloads.

1. Renders synthetic untrimmed videos (`vidlab.data.synthetic.untrimmed`: an object drifting
   is background, an object growing or shrinking is the action) with ActivityNet annotations.
2. Trains the I3D quickstart recognizer briefly on the synthetic motion clips (4 epochs).
3. Extracts its snippet features from the untrimmed videos (`vidlab extract-features`: 8-frame
   windows every 4 frames, resampled to 32 rows).
4. Trains BMN on them (`configs/quickstart/bmn_synthetic_untrimmed.py`), tests it and reports
   MMAction2's AR@AN (AR@100, AUC) on the held-out videos; `summary.json` as the others.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

__all__ = ["localization_quickstart"]

CONFIG_DIR = Path(__file__).parent / "configs" / "quickstart"
RECOGNIZER = CONFIG_DIR / "i3d_r18_synthetic_motion.py"
LOCALIZER = CONFIG_DIR / "bmn_synthetic_untrimmed.py"
WINDOW, STRIDE, SNIPPETS = 8, 4, 32


def localization_quickstart(
    work_dir=None,
    cfg_options=None,
    recognizer_epochs: int = 4,
    videos: int = 60,
    recognizer_options=(),
) -> dict:
    """Run the localization quickstart; returns its summary (also in ``summary.json``).

    Args:
        work_dir: Where everything goes (default ``work_dirs/quickstart_localization``).
        cfg_options: ``key=value`` overrides of the BMN config.
        recognizer_epochs: Epochs of the feature extractor's training.
        videos: Number of synthetic untrimmed videos (a quarter held out).
        recognizer_options: ``key=value`` overrides of the recognizer's config.
    """
    from vidlab.config import load_config, validate
    from vidlab.data.synthetic import prepare_synthetic_data
    from vidlab.data.synthetic.untrimmed import make_untrimmed_dataset
    from vidlab.engine.train import test, train
    from vidlab.features import extract_many
    from vidlab.inference import init_recognizer

    start = time.perf_counter()
    work_dir = Path(work_dir or Path("work_dirs") / "quickstart_localization")
    work_dir.mkdir(parents=True, exist_ok=True)
    cfg = load_config(LOCALIZER, cfg_options)
    features = work_dir / "features"
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        dataset = cfg[key]["dataset"]
        dataset["data_prefix"] = dict(video=str(features))
        dataset["ann_file"] = str(
            work_dir / ("train.json" if key.startswith("train") else "val.json")
        )
    validate(cfg)

    data = make_untrimmed_dataset(work_dir / "untrimmed", videos=videos)
    print(f"[quickstart] untrimmed videos: {data['videos']} ({time.perf_counter() - start:.0f}s)")

    rec_cfg = load_config(
        RECOGNIZER, [f"train_cfg.max_epochs={recognizer_epochs}", *recognizer_options]
    )
    prepare_synthetic_data(rec_cfg)
    rec = train(rec_cfg, work_dir=work_dir / "recognizer")["last_checkpoint"]
    print(f"[quickstart] feature extractor: {rec} ({time.perf_counter() - start:.0f}s)")

    model = init_recognizer(rec_cfg, rec)
    for split in ("train", "val"):
        database = json.loads(Path(data[split]).read_text())
        paths = [str(Path(data["videos"]) / f"{name}.mp4") for name in database]
        done = extract_many(
            model,
            paths,
            features,
            window=WINDOW,
            stride=STRIDE,
            temporal_dim=SNIPPETS,
            progress=False,
        )
        for name, info in database.items():
            info["feature_frame"] = done[name]["feature_frame"]
        (work_dir / f"{split}.json").write_text(json.dumps(database, indent=1))
    print(f"[quickstart] features: {features} ({time.perf_counter() - start:.0f}s)")

    result = train(cfg, work_dir=work_dir / "bmn")
    best = result.get("best_checkpoints") or {}
    checkpoint = next(iter(best.values()), None) or result["last_checkpoint"]
    out = work_dir / "test_results.json"
    metrics = test(cfg, checkpoint, out=str(out))["metrics"]
    summary = dict(
        task="localization",
        **{k: metrics[k] for k in ("AR@1", "AR@5", "AR@10", "AR@100", "auc")},
        seconds=round(time.perf_counter() - start, 1),
        checkpoint=str(checkpoint),
        recognizer=str(rec),
        test_results=str(out),
        source_config=str(LOCALIZER),
    )
    (work_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print(
        f"[quickstart] AR@100 {summary['AR@100']:.3f}  AR@10 {summary['AR@10']:.3f}  "
        f"AUC {summary['auc']:.1f}  ({summary['seconds']:.0f}s)"
    )
    print(f"[quickstart] proposals: {out}")
    print(f"[quickstart] summary:   {work_dir / 'summary.json'}")
    return summary
