"""The AVA detector's parts against MMAction2 1.2.0 (tools/parity/make_detection_fixtures.py):
``ACRNHead``, ``FBOHead`` (non-local, max, avg, reading a feature bank), MMAction2's
``MaxIoUAssignerAVA``; and MMDetection's ``RandomSampler`` and ``bbox2roi`` by their
definitions; the feature bank written by ``LFBInferHead`` and read back by ``LFB``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from vidlab.config import build
from vidlab.models.det_assign import (
    AssignResult,
    MaxIoUAssignerAVA,
    RandomSampler,
    bbox2roi,
    bbox_overlaps,
    bbox_targets,
)
from vidlab.models.lfb import LFB, FBOHead, LFBInferHead

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fixtures/detection"
SHARED = torch.load(FIXTURES / "shared_heads.pt", weights_only=True)
ASSIGNER = torch.load(FIXTURES / "assigner_ava.pt", weights_only=True)


def _seeded_weights(case):
    spec = importlib.util.spec_from_file_location("seeded", ROOT / "tools/parity/seeded.py")
    seeded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeded)
    state = seeded.seeded_state_dict(case["spec"], case["seed"])
    assert seeded.digest(state) == case["digest"]
    return state


def _close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in sorted(SHARED) if n.startswith("acrn")])
def test_acrn_head_equals_mmaction2(name):
    case = SHARED[name]
    head = build(dict(type="ACRNHead", **case["kwargs"])).eval()
    head.load_state_dict(_seeded_weights(case), strict=True)  # MMAction2's keys, all of them
    with torch.no_grad():
        out = head(case["x"], feat=case["feat"], rois=case["rois"])
    _close(out, case["out"])


@pytest.mark.parametrize("name", [n for n in sorted(SHARED) if n.startswith("fbo")])
def test_fbo_head_equals_mmaction2(name, tmp_path):
    case = SHARED[name]
    torch.save(case["bank"], tmp_path / "lfb_train.pkl")
    lfb_cfg = dict(case["lfb_cfg"], lfb_prefix_path=str(tmp_path))
    head = build(dict(type="FBOHead", lfb_cfg=lfb_cfg, fbo_cfg=dict(case["fbo_cfg"]))).eval()
    head.load_state_dict(_seeded_weights(case), strict=True)
    torch.manual_seed(case["seed"])  # the bank samples with torch.randperm, as MMAction2's
    with torch.no_grad():
        out = head(case["x"], rois=case["rois"], img_metas=case["metas"])
    _close(out, case["out"])


@pytest.mark.parametrize("name", sorted(ASSIGNER))
def test_max_iou_assigner_ava_equals_mmaction2(name):
    case = ASSIGNER[name]
    overlaps = bbox_overlaps(case["gt_bboxes"], case["priors"])
    _close(overlaps, case["overlaps"])
    assigner = build(dict(type="MaxIoUAssignerAVA", **case["kwargs"]))
    result = assigner.assign(case["priors"], case["gt_bboxes"], case["gt_labels"])
    assert torch.equal(result.gt_inds, case["gt_inds"])
    assert torch.equal(result.max_overlaps, case["max_overlaps"])
    assert torch.equal(result.labels, case["labels"])


def test_assigner_without_ground_truth_makes_everything_negative():
    result = MaxIoUAssignerAVA(0.9, 0.9).assign(
        torch.rand(4, 4), torch.zeros(0, 4), torch.zeros(0, 5)
    )
    assert result.gt_inds.tolist() == [0] * 4 and result.labels.shape == (4, 5)


def _assigned(num_pos: int, num_neg: int, num_ignored: int = 0) -> AssignResult:
    inds = torch.tensor([1] * num_pos + [0] * num_neg + [-1] * num_ignored)
    labels = torch.zeros(len(inds), 3)
    labels[:num_pos, 1] = 1
    return AssignResult(1, inds, torch.zeros(len(inds)), labels)


def test_random_sampler_adds_the_ground_truth_and_draws_like_mmdetection():
    priors = torch.arange(40 * 4, dtype=torch.float32).view(40, 4)
    gt, gt_labels = torch.full((1, 4), -1.0), torch.tensor([[1.0, 0, 1]])
    sampler = RandomSampler(num=8, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True)
    torch.manual_seed(3)
    res = sampler.sample(_assigned(10, 28, 2), priors, gt, gt_labels)
    # priors: [gt, 40 proposals]; 11 positives (gt + 10), 28 negatives, 2 ignored
    torch.manual_seed(3)
    pos = (torch.arange(11)[torch.randperm(11)[:2]]).unique()
    neg = (torch.arange(11, 39)[torch.randperm(28)[:6]]).unique()
    assert torch.equal(res.pos_inds, pos) and torch.equal(res.neg_inds, neg)
    assert res.priors.shape == (8, 4) and res.gt_flags[0] == 1 and res.gt_flags[1:].sum() == 0
    assert torch.equal(
        res.pos_gt_labels[res.pos_is_gt.bool()], gt_labels[: int(res.pos_is_gt.sum())]
    )
    labels, weights = bbox_targets([res], pos_weight=2.0)
    assert labels.shape == (8, 3) and labels[2:].sum() == 0 and weights.tolist() == [2, 2] + [1] * 6


def test_random_sampler_bounds_negatives_and_keeps_all_when_few():
    priors = torch.rand(6, 4)
    sampler = RandomSampler(num=32, pos_fraction=1, neg_pos_ub=2, add_gt_as_proposals=False)
    res = sampler.sample(_assigned(1, 5), priors, torch.zeros(1, 4), torch.ones(1, 3))
    assert res.pos_inds.tolist() == [0] and len(res.neg_inds) == 2  # at most 2 per positive
    res = RandomSampler(num=32, pos_fraction=1).sample(
        _assigned(2, 4), priors, torch.zeros(0, 4), torch.zeros(0, 3)
    )
    assert res.pos_inds.tolist() == [0, 1] and res.neg_inds.tolist() == [2, 3, 4, 5]


def test_bbox2roi_prefixes_the_clip_index():
    rois = bbox2roi([torch.ones(2, 4), torch.zeros(0, 4), torch.full((1, 5), 2.0)])
    assert rois.tolist() == [[0, 1, 1, 1, 1], [0, 1, 1, 1, 1], [2, 2, 2, 2, 2]]


def test_lfb_infer_head_writes_a_bank_that_lfb_reads(tmp_path):
    head = LFBInferHead(str(tmp_path), dataset_mode="val", use_half_precision=False)
    x = torch.randn(3, 4, 2, 3, 3)
    rois = torch.tensor([[0.0, 0, 0, 1, 1], [1, 0, 0, 1, 1], [1, 0, 0, 1, 1]])
    metas = [dict(img_key="v,0902"), dict(img_key="v,0903")]
    assert head(x, rois, metas) is x  # features pass through unchanged
    assert head.save() == tmp_path / "lfb_val.pkl"
    bank = LFB(
        str(tmp_path), max_num_sampled_feat=2, window_size=3, lfb_channels=4, dataset_modes="val"
    )
    pooled = x.mean(2).amax((2, 3))  # avg over time, max over space (the defaults)
    torch.manual_seed(0)
    window = bank["v,0903"].view(3, 2, 4)  # seconds 902, 903, 904; 2 features each at most
    _close(window[0, 0], pooled[0])
    assert {tuple(r.tolist()) for r in window[1]} == {tuple(r.tolist()) for r in pooled[1:]}
    assert window[2].abs().sum() == 0  # no features at 904: zeros


def test_lfb_is_read_at_first_use_and_names_a_missing_folder(tmp_path):
    head = FBOHead(
        lfb_cfg=dict(lfb_prefix_path=str(tmp_path / "none"), lfb_channels=4),
        fbo_cfg=dict(type="max"),
    )
    with pytest.raises(FileNotFoundError, match="does not exist"):
        head(torch.randn(1, 4, 1, 2, 2), torch.zeros(1, 5), [dict(img_key="v,0902")])
    with pytest.raises(ValueError, match="fbo_cfg type"):
        FBOHead(lfb_cfg=dict(lfb_prefix_path="x"), fbo_cfg=dict(type="sum"))


LAYOUTS = torch.load(FIXTURES / "ava_state_dict_keys.pt", weights_only=True)
DET_CONFIGS = [(lid, name) for lid, layout in LAYOUTS.items() for name in sorted(layout["configs"])]


@pytest.mark.parametrize("layout_id, config", DET_CONFIGS, ids=[c for _, c in DET_CONFIGS])
def test_every_detection_config_has_mmaction2s_state_dict_layout(layout_id, config):
    """The 30 configs' model dicts (as MMAction2 reads them) build, and the detector's weights
    are MMAction2's, name for name and shape for shape: its checkpoints load with 0 missing
    and 0 unexpected keys."""
    layout = LAYOUTS[layout_id]
    try:
        with torch.device("meta"):  # no memory, no init
            model = build(layout["configs"][config])
    except (RuntimeError, NotImplementedError):  # a backbone that reads values while building
        model = build(layout["configs"][config])
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {k: tuple(v) for k, v in layout["keys"].items()}
    assert sorted(set(theirs) - set(ours)) == [], "missing"
    assert sorted(set(ours) - set(theirs)) == [], "unexpected"
    assert ours == theirs
