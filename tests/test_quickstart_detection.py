"""`vidlab quickstart --task detection` end to end in a subprocess, shortened (slow).

It needs the detector, the AVA dataset and the metric (FastRCNN, AVADataset, AVAMetric in the
name table); until those are in this build the test says so and is skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vidlab.config.names import NAMES

pytestmark = pytest.mark.slow
NEEDED = ("FastRCNN", "AVARoIHead", "AVADataset", "SampleAVAFrames", "AVAMetric")


@pytest.mark.skipif(
    not all(n in NAMES for n in NEEDED),
    reason="the detector, AVADataset or AVAMetric is not in this build yet: "
    + ", ".join(n for n in NEEDED if n not in NAMES),
)
def test_cli_quickstart_detection(tmp_path):
    work = tmp_path / "work"
    options = [
        "synthetic_actors.videos=5",
        "synthetic_actors.seconds=6",
        "train_cfg.max_epochs=1",
        "train_cfg.val_interval=1",
        "default_hooks.checkpoint.interval=1",
        "train_dataloader.batch_size=2",
        "train_dataloader.num_workers=0",
        "val_dataloader.num_workers=0",
        "test_dataloader.num_workers=0",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", VIDLAB_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "vidlab.cli.main", "quickstart", "--task", "detection"]
    proc = subprocess.run(
        [*cmd, "--work-dir", str(work), "--cfg-options", *options],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((work / "summary.json").read_text())
    assert summary["task"] == "detection" and 0.0 <= summary["mAP"] <= 1.0
    assert Path(summary["demo"]["annotated"]).stat().st_size > 0
    demo = json.loads(Path(summary["demo"]["json"]).read_text())
    assert len(demo["keyframes"]) == summary["demo"]["keyframes"] == 6  # 6 s at 1 keyframe/s
    assert "frame mAP@0.5" in proc.stdout
