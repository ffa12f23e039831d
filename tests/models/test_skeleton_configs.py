"""Every model of MMAction2's ``configs/skeleton`` (42 files) validates and builds unmodified.

Read from the MMAction2 1.2.0 reference environment when it is present (skipped otherwise);
building never downloads (``pretrained`` is read by ``init_weights`` only).
"""

import os
from pathlib import Path

import pytest
import torch

from vidlab.config import build, load_config, validate

ROOT = Path(
    os.path.expanduser(
        "~/.cache/mmaction2-ref/venv/lib/python3.11/site-packages/mmaction/.mim/configs/skeleton"
    )
)
CONFIGS = sorted(ROOT.rglob("*.py")) if ROOT.is_dir() else []
needs_reference = pytest.mark.skipif(not CONFIGS, reason="MMAction2 reference configs absent")

# the model class each family's configs build
EXPECTED = {
    "stgcn": ("RecognizerGCN", "STGCN"),
    "stgcnpp": ("RecognizerGCN", "STGCN"),
    "2s-agcn": ("RecognizerGCN", "AAGCN"),
    "posec3d": ("Recognizer3D", "ResNet3dSlowOnly"),
    "rgbpose_conv3d": (None, None),  # pose_only / rgb_only / the two-stream model
}


@needs_reference
def test_all_42_configs_are_there():
    assert len(CONFIGS) == 42


@needs_reference
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_model_builds_unmodified(path):
    cfg = load_config(path)
    validate({"model": cfg.model})
    with torch.device("meta"):  # the structure only: no memory, no init work
        model = build(cfg.model, key_path="model")
    recognizer, backbone = EXPECTED[path.parent.name]
    if recognizer is not None:
        assert type(model).__name__ == recognizer
        assert type(model.backbone).__name__ == backbone
    assert model.cls_head.num_classes == cfg.model.cls_head.num_classes
