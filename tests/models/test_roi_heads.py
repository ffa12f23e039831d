"""AVA detection heads: BBoxHeadAVA against MMAction2 1.2.0 (tools/parity/make_detection_
fixtures.py: forward, loss and logs, box post-processing with flip and crop undone, for three
head settings), and SingleRoIExtractor3D by its definition."""

import importlib.util
from pathlib import Path

import pytest
import torch

from vidlab.config import build
from vidlab.models.layers.roi_align import roi_align
from vidlab.models.roi_heads import BBoxHeadAVA, SingleRoIExtractor3D

ROOT = Path(__file__).resolve().parents[2]
CASES = torch.load(ROOT / "tests/fixtures/detection/bbox_head_ava.pt", weights_only=True)


def _seeded():
    spec = importlib.util.spec_from_file_location("seeded", ROOT / "tools/parity/seeded.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(CASES))
def test_bbox_head_ava_equals_mmaction2(name):
    case = CASES[name]
    seeded = _seeded()
    state = seeded.seeded_state_dict(case["spec"], case["seed"])
    assert seeded.digest(state) == case["digest"]
    head = build(dict(type="BBoxHeadAVA", **case["kwargs"])).eval()
    head.load_state_dict(state, strict=True)
    with torch.no_grad():
        logits = head(case["feats"])
    # the MLP's float32 sums depend on the thread count (bit-identical with 2 threads, not 1):
    # the parity measure of tests/models/test_parity.py, max |diff| / max |value|
    err = (logits - case["logits"]).abs().max() / case["logits"].abs().max()
    assert err <= 1e-5, f"relative error {err:.2e}"
    losses = head.loss(logits, case["labels"])
    assert losses.keys() == case["losses"].keys()
    for key, value in case["losses"].items():
        torch.testing.assert_close(losses[key], value, rtol=1e-6, atol=1e-7, msg=key)
    for meta, (boxes, scores) in zip(case["metas"], case["predicted"]):
        ours = head.predict_boxes(case["rois"], case["logits"], meta)  # exact from the same logits
        assert torch.equal(ours[0], boxes) and torch.equal(ours[1], scores)


def test_bbox_head_rejects_bad_settings():
    with pytest.raises(ValueError, match="topk"):
        BBoxHeadAVA(background_class=True, num_classes=4, topk=(3, 5))
    with pytest.raises(ValueError, match="spatial_pool_type"):
        BBoxHeadAVA(background_class=True, spatial_pool_type="sum")


def test_roi_extractor_pools_time_then_aligns():
    gen = torch.Generator().manual_seed(0)
    feat = torch.randn(2, 3, 4, 8, 8, generator=gen)
    rois = torch.tensor([[0.0, 10, 10, 90, 120], [1.0, 0, 0, 127, 127]])
    ext = SingleRoIExtractor3D(featmap_stride=16, output_size=4)
    out, maps = ext(feat, rois)
    assert out.shape == (2, 3, 1, 4, 4) and maps.shape == (2, 3, 1, 8, 8)
    expected = roi_align(feat.mean(2), rois, 4, 1 / 16, 0, "avg", True)
    torch.testing.assert_close(out[:, :, 0], expected)
    ext = SingleRoIExtractor3D(output_size=4, temporal_pool_mode="max", with_global=True)
    out, _ = ext(feat, rois)
    context = torch.nn.functional.adaptive_avg_pool2d(feat.amax(2), 4)[rois[:, 0].long()]
    assert out.shape == (2, 6, 1, 4, 4)
    torch.testing.assert_close(out[:, 3:, 0], context)
    ext = SingleRoIExtractor3D(output_size=2, with_temporal_pool=False)
    assert ext(feat, rois)[0].shape == (2, 3, 4, 2, 2)  # one RoI feature per time step


def test_roi_extractor_joins_slowfast_pathways():
    slow, fast = torch.randn(1, 4, 2, 8, 8), torch.randn(1, 2, 8, 8, 8)
    out, maps = SingleRoIExtractor3D(output_size=2)(
        (slow, fast), torch.tensor([[0.0, 0, 0, 64, 64]])
    )
    assert out.shape == (1, 6, 1, 2, 2)
    # the slow pathway is repeated (nearest) to 8 steps before pooling: its mean is unchanged
    torch.testing.assert_close(maps[:, :4, 0], slow.mean(2))
