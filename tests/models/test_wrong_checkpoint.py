"""A checkpoint of another family gives the grouped report (missing / unexpected / shape
mismatch) and loads nothing; wrapper prefixes are taken off (issue 9, bad input)."""

from __future__ import annotations

import re

import pytest
import torch

from vidlab.checkpoint import CheckpointError, load_weights
from vidlab.engine.train import check_load_from
from vidlab.models import create_model


def _changed(model):
    return {k: v.clone() for k, v in model.state_dict().items() if v.is_floating_point()}


def _assert_untouched(model, before):
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())


def _strict_error(model, state):
    before = _changed(model)
    with pytest.raises(CheckpointError) as err:
        load_weights(model, {"state_dict": state}, strict=True)
    _assert_untouched(model, before)  # never a partial load
    return str(err.value)


def test_i3d_into_slowfast_reports_all_three_groups():
    i3d = create_model("i3d_r50_32x2x1").state_dict()
    slowfast = create_model("slowfast_r50_4x16x1")
    text = _strict_error(slowfast, i3d)
    assert "do not fit the model (strict loading; nothing was loaded)" in text
    assert "missing in checkpoint: backbone.fast_path.conv1.bn.{" in text
    assert "missing in checkpoint: ... and " in text  # long groups are cut, and counted
    assert "unexpected in checkpoint: backbone.conv1.bn.{" in text
    assert "shape mismatch, skipped: cls_head.fc_cls.weight (400, 2048) in file vs " in text
    assert "(400, 2304) in model" in text
    # the first line counts each group; the next says what it most likely means
    assert re.search(r"1 tensors fit from .+ \(1 of another shape, \d+ missing, \d+ unexp", text)
    assert "likely a checkpoint of another model" in text
    assert len(text.splitlines()) < 50  # long groups are cut: a report, not a dump
    # load_from's default (load_from_strict='backbone') refuses a file that fills no backbone key
    report = load_weights(slowfast, {"state_dict": i3d}, strict=False)
    assert report.loaded == ["cls_head.fc_cls.bias"]  # what fits by name and shape, and no more
    with pytest.raises(CheckpointError, match="none of the .* backbone tensors"):
        check_load_from(report, slowfast, "backbone")


def test_tsn_into_tsm_with_other_classes():
    tsn = create_model("tsn_r18_1x1x8", num_classes=400).state_dict()
    tsm = create_model("tsm_r18_1x1x8", num_classes=174)
    text = _strict_error(tsm, tsn)
    # TSM's shift wraps each block's first conv: those keys differ by '.net'
    assert "missing in checkpoint: backbone.layer1.0.conv1.conv.net.weight" in text
    assert "unexpected in checkpoint: backbone.layer1.0.conv1.conv.weight" in text
    assert (
        "shape mismatch, skipped: cls_head.fc_cls.weight (400, 512) in file vs (174, 512)" in text
    )


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod.", "module._orig_mod."])
def test_wrapper_prefixes_are_taken_off(prefix):
    torch.manual_seed(0)
    src = create_model("tsm_r18_1x1x8", num_classes=5)
    state = {
        f"{prefix}{k}": v + 1 if v.is_floating_point() else v for k, v in src.state_dict().items()
    }
    dst = create_model("tsm_r18_1x1x8", num_classes=5)
    report = load_weights(dst, {"state_dict": state}, strict=True)
    assert report.ok and len(report.loaded) == len(state)
    assert torch.equal(dst.backbone.conv1.conv.weight, src.backbone.conv1.conv.weight + 1)


def test_a_backbone_file_is_not_a_recognizer_checkpoint():
    backbone = create_model("tsm_r18_1x1x8", num_classes=5).backbone.state_dict()
    model = create_model("tsm_r18_1x1x8", num_classes=5)
    text = _strict_error(model, backbone)  # bare backbone keys: nothing of the model's names
    assert "0 tensors fit" in text
    assert "unexpected in checkpoint: conv1.conv.weight" in text
    assert "missing in checkpoint: backbone.conv1.conv.weight" in text
    only_backbone = {f"backbone.{k}": v for k, v in backbone.items()}
    text = _strict_error(model, only_backbone)  # the head is missing, and said so
    assert "missing in checkpoint: cls_head.fc_cls.{bias, weight}" in text
    assert "unexpected" not in text and "another model" not in text  # only the head is missing
    report = load_weights(model, {"state_dict": only_backbone}, strict=False)
    check_load_from(report, model, "backbone")  # fine for load_from: the backbone is filled
    assert report.missing == ["cls_head.fc_cls.weight", "cls_head.fc_cls.bias"]
