"""A trained recognizer's checkpoint as the backbone of a new model (MMAction2 FAQ)."""

import pytest
import torch

from vidlab.checkpoint import save_checkpoint
from vidlab.models import create_model
from vidlab.models.tsm import ResNetTSM


def test_recognizer_checkpoint_initialises_a_backbone(tmp_path):
    trained = create_model("tsm_r18_1x1x8", num_classes=5)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)  # anything but the fresh init
    path = tmp_path / "recognizer.pth"
    save_checkpoint(path, {"meta": {"epoch": 1}, "state_dict": trained.state_dict()})

    backbone = ResNetTSM(depth=18, pretrained=str(path))
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, trained.state_dict()[f"backbone.{key}"]), key


def test_checkpoint_that_fits_nothing_is_an_error(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(3, 3)}}, path)
    with pytest.raises(ValueError, match="none of the 1 tensors"):
        ResNetTSM(depth=18, pretrained=str(path))
