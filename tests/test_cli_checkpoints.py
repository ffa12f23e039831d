"""Every entry point that reads a checkpoint refuses one whose pickle would run code.

Three real payloads (``os.system``, NumPy's write-then-load chain, ``builtins.eval``) through
the eight ways a file reaches vidlab: ``vidlab test``, ``infer``, ``export``, ``train`` with
``load_from=``, ``--resume PATH``, ``--resume`` from a work dir, ``backbone.pretrained=``, and
``init_recognizer`` in Python. The marker file the payloads would create must never appear.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import vidlab
from vidlab.checkpoint import CheckpointError

sys.path.insert(0, str(Path(__file__).parent))
from test_checkpoint_safety import payloads, write_malicious  # noqa: E402

CONFIG = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"
TINY = [
    "synthetic_data.videos_per_class=1",
    "train_dataloader.batch_size=2",
]
ONE_WORKER = [
    "train_dataloader.num_workers=0",
    "train_dataloader.persistent_workers=False",
    "val_dataloader.num_workers=0",
    "val_dataloader.persistent_workers=False",
    "test_dataloader.num_workers=0",
]
PAYLOADS = ["os_system", "numpy_write_then_load", "builtins_eval"]


def _cli_args(entry: str, ckpt: Path, work: Path) -> list:
    opts = ["--cfg-options", *TINY, *ONE_WORKER]
    if entry == "test":
        return ["test", CONFIG, ckpt, *opts]
    if entry == "infer":
        video = work / "clip.mp4"
        video.write_bytes(b"")
        return ["infer", CONFIG, ckpt, video]
    if entry == "export":
        return ["export", CONFIG, ckpt, "--out", work / "m.onnx"]
    if entry == "load_from":
        return ["train", CONFIG, "--work-dir", work / "w", *opts, f"load_from={ckpt}"]
    if entry == "resume_path":
        return ["train", CONFIG, "--work-dir", work / "w", "--resume", ckpt, *opts]
    if entry == "resume_work_dir":
        (work / "w").mkdir()
        os.replace(ckpt, work / "w" / "epoch_1.pth")
        (work / "w" / "last_checkpoint").write_text("epoch_1.pth\n")
        return ["train", CONFIG, "--work-dir", work / "w", "--resume", *opts]
    if entry == "pretrained":
        return [
            "train",
            CONFIG,
            "--work-dir",
            work / "w",
            *opts,
            f"model.backbone.pretrained={ckpt}",
        ]
    raise AssertionError(entry)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return dict(os.environ, VIDLAB_CACHE=str(cache), PYTHONUNBUFFERED="1")


ENTRIES = ["test", "infer", "export", "load_from", "resume_path", "resume_work_dir", "pretrained"]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("entry", ENTRIES)
def test_cli_refuses_code_in_checkpoints(entry, payload, env, tmp_path):
    marker = tmp_path / "pwned"
    ckpt = write_malicious(tmp_path / "evil.pth", payloads(tmp_path, marker)[payload])
    args = _cli_args(entry, ckpt, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "could run code" in proc.stderr, proc.stderr[-2000:]
    assert "evil.pth" in proc.stderr or "epoch_1.pth" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_init_recognizer_refuses_code_in_checkpoints(payload, tmp_path):
    from vidlab.inference import init_recognizer

    marker = tmp_path / "pwned"
    ckpt = write_malicious(tmp_path / "evil.pth", payloads(tmp_path, marker)[payload])
    with pytest.raises(CheckpointError, match="could run code"):
        init_recognizer(str(CONFIG), str(ckpt))
    assert not marker.exists()
