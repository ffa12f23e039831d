"""AVA data against MMAction2 1.2.0: dataset records and whole train/val pipelines of two real
configs, recorded by tools/parity/make_ava_fixtures.py on the tiny set in
tests/fixtures/detection/ava/ (frame indices, boxes, labels, shapes and the clip's pixels)."""

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.config import build
from vidlab.data.pipeline import Compose

HERE = Path(__file__).parents[1] / "fixtures" / "detection"
FIXTURE = torch.load(HERE / "ava_mmaction2.pt", weights_only=True)
CASES = FIXTURE["cases"]
PIPELINES = FIXTURE["pipelines"]


@pytest.fixture(autouse=True)
def _in_data(monkeypatch):
    monkeypatch.chdir(HERE / "ava")  # the fixture's paths are relative to it


def _dataset(name, pipeline=()):
    case = CASES[name]
    return build(dict(type=case["type"], pipeline=list(pipeline), **case["kwargs"]))


def _same(ours, theirs, what):
    if isinstance(theirs, torch.Tensor):
        ours = torch.as_tensor(np.asarray(ours))
        assert ours.dtype == theirs.dtype, what
        assert torch.equal(ours, theirs), what
    else:
        assert ours == theirs, what


@pytest.mark.parametrize("name", sorted(CASES))
def test_records_are_mmaction2s(name):
    ds = _dataset(name)
    theirs = CASES[name]["records"]
    assert len(ds) == len(theirs)
    for i, (rec, ref) in enumerate(zip(ds.records, theirs)):
        ours = {k: v for k, v in rec.items() if k != "ann"}
        info = ds.get_data_info(i)  # the labels are kept as ids and made multi-hot here
        ours.update({k: info[k] for k in ("gt_bboxes", "gt_labels", "entity_ids")})
        for key, value in ref.items():
            if key == "shot_info" and CASES[name]["type"] == "AVAKineticsDataset":
                continue  # a deliberate difference, test_avak_shot_info_is_per_video
            _same(ours[key], value, f"{name}[{i}].{key}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_proposals_are_mmaction2s(name):
    ds = _dataset(name)
    for i, ref in enumerate(CASES[name]["infos"]):
        info = ds.get_data_info(i)
        assert ("proposals" in info) == ("proposals" in ref)
        assert ("scores" in info) == ("scores" in ref)
        for key, value in ref.items():
            _same(info[key], value, f"{name}[{i}].{key}")


def test_avak_shot_info_is_per_video():
    """MMAction2 gives every record the last csv row's shot_info (an AVA movie here: 27001
    frames also for the 10 s Kinetics clip); vidlab each video its own."""
    ds = _dataset("avak")
    theirs = [r["shot_info"] for r in CASES["avak"]["records"]]
    assert theirs == [(1, 27001), (1, 27001)]
    assert [r["shot_info"] for r in ds.records] == [(1, 301), (1, 27001)]


def _sha(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_pipelines_are_mmaction2s(name, monkeypatch):
    pytest.importorskip("cv2")
    monkeypatch.setenv("VIDLAB_PIXELS", "mmaction2")  # MMAction2's JPEG decoder and resize
    spec = PIPELINES[name]
    ds = _dataset(spec["dataset"])
    steps = Compose(spec["steps"])
    for ref in spec["samples"]:
        np.random.seed(ref["seed"])
        results = ds.get_data_info(ref["idx"])
        for t in steps.transforms[:-1]:
            results = t(results)
        packed = steps.transforms[-1](dict(results))
        what = f"{name} sample {ref['idx']} seed {ref['seed']}"
        _same(results["frame_inds"], ref["frame_inds"], what + " frame_inds")
        assert tuple(results["img_shape"]) == ref["img_shape"], what
        _same(results["scale_factor"], ref["scale_factor"], what + " scale_factor")
        if ref["crop_bbox"] is not None:
            _same(results["crop_bbox"], ref["crop_bbox"], what + " crop_bbox")
        assert bool(results.get("flip", False)) == ref["flip"], what
        assert tuple(packed["inputs"].shape) == ref["inputs_shape"], what
        assert _sha(packed["inputs"].numpy()) == ref["inputs_sha"], what + " pixels"
        _same(packed["gt_instances"]["bboxes"], ref["bboxes"], what + " bboxes")
        _same(packed["gt_instances"]["labels"], ref["labels"], what + " labels")
        _same(packed["proposals"], ref["proposals"], what + " proposals")
        meta = packed["meta"]
        for key, value in ref["meta"].items():
            assert meta[key] == value, f"{what} meta {key}"
