"""BMN and soft-NMS against MMAction2 1.2.0 (fixtures of tools/parity/make_localization_fixtures.py).

The BMN fixture is MMAction2's own localization config at a smaller scale: its sampling mask,
outputs on seeded weights, training targets, loss terms (RNG seeded) and post-processed
proposals. Everything is compared for equality, not closeness: vidlab computes the same float
operations in the same order.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.checkpoint import load_weights
from vidlab.config import build, validate
from vidlab.models.bmn import BMN
from vidlab.models.proposals import post_processing, soft_nms, temporal_iou

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "localization"


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURES / "bmn.pt", weights_only=True)


@pytest.fixture(scope="module")
def model(fixture):
    spec = importlib.util.spec_from_file_location("seeded", ROOT / "tools/parity/seeded.py")
    seeded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeded)
    state = seeded.seeded_state_dict(fixture["spec"], fixture["seed"])
    assert seeded.digest(state) == fixture["digest"], "torch's generator changed: rewrite fixtures"
    validate({"model": fixture["model"]})
    model = build(fixture["model"], key_path="model").eval()
    # MMAction2's checkpoints carry the two masks too: 0 missing, 0 unexpected keys
    full = {**state, "sample_mask": fixture["sample_mask"], "bm_mask": fixture["bm_mask"]}
    report = load_weights(model, {"state_dict": full}, strict=True)
    assert report.ok and len(report.loaded) == len(full)
    return model


def test_sampling_mask_is_mmaction2s(model, fixture):
    fresh = BMN(**{k: v for k, v in fixture["model"].items() if k != "type"})
    assert torch.equal(fresh.sample_mask, fixture["sample_mask"])
    assert torch.equal(fresh.bm_mask, fixture["bm_mask"])
    assert not fresh.sample_mask.requires_grad


def test_outputs_targets_and_loss_equal_mmaction2(model, fixture):
    with torch.no_grad():
        outputs = model(fixture["features"])
    for ours, theirs in zip(outputs, fixture["outputs"]):
        assert torch.equal(ours, theirs)
    boxes = [torch.tensor(b, dtype=torch.float64) for b in fixture["gt_boxes"]]
    labels = model.generate_labels(boxes)
    for ours, theirs in zip(labels, fixture["labels"]):
        assert torch.equal(ours, theirs)
    torch.manual_seed(fixture["loss_seed"])
    with torch.no_grad():
        terms = model.loss_cls(*outputs, *labels, model.bm_mask)
    for ours, theirs in zip(terms, fixture["loss"]):
        assert torch.allclose(ours, theirs, rtol=1e-6, atol=0)
    torch.manual_seed(fixture["loss_seed"])
    assert torch.allclose(model.loss(outputs, boxes)["loss"], fixture["loss"][0], rtol=1e-6)


def test_proposals_equal_mmaction2(model, fixture):
    with torch.no_grad():
        outputs = model(fixture["features"][:1])  # MMAction2 predicts one video at a time
    assert model.proposals(outputs, [fixture["video_info"]])[0] == fixture["proposals"]


def test_soft_nms_and_post_processing_equal_mmaction2():
    fx = torch.load(FIXTURES / "soft_nms.pt", weights_only=True)
    props = fx["proposals"].numpy()
    kept = soft_nms(props.copy(), 0.4, 0.5, 0.9, 100)
    assert np.array_equal(kept, fx["soft_nms"].numpy())
    assert len(kept) == 101  # MMAction2 keeps top_k + 1
    assert (
        post_processing(props.copy(), fx["video_info"], 0.4, 0.5, 0.9, 100, 16)
        == (fx["post_processing"])
    )


def test_soft_nms_decays_overlaps_and_keeps_far_ones():
    props = np.array([[0.0, 0.5, 0.9], [0.0, 0.45, 0.8], [0.6, 0.9, 0.7]])
    kept = soft_nms(props, alpha=0.4, low_threshold=0.0, high_threshold=0.0, top_k=5)
    assert kept[0].tolist() == [0.0, 0.5, 0.9]
    iou = temporal_iou(0.0, 0.5, 0.0, 0.45)
    # the far proposal keeps its score and now ranks before the decayed near-duplicate
    assert kept[1].tolist() == [0.6, 0.9, 0.7]
    assert kept[2, 2] == pytest.approx(0.8 * np.exp(-(iou**2) / 0.4))


def test_a_wrong_input_shape_is_one_clear_error(model):
    with pytest.raises(ValueError, match=r"BMN expects features \(N, 32, 24\)"):
        model(torch.zeros(1, 400, 100))


def test_backward_reaches_every_trainable_weight(model):
    model.train()
    try:
        x = torch.randn(2, 32, 24)
        loss = model.loss(model(x), [torch.tensor([[0.1, 0.5]]), torch.tensor([[0.2, 0.9]])])
        loss["loss"].backward()
        for name, p in model.named_parameters():
            if p.requires_grad:
                assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert model.sample_mask.grad is None
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()


def test_temporal_average_precision_equals_mmaction2():
    from vidlab.evaluation.temporal import average_precision_at_temporal_iou

    fx = torch.load(FIXTURES / "temporal_ap.pt", weights_only=True)
    for case in fx["cases"]:
        gt = {k: np.array(v) for k, v in case["ground_truth"].items()}
        ap = average_precision_at_temporal_iou(gt, case["prediction"])
        assert np.array_equal(ap, case["ap"].numpy()), len(case["prediction"])
    assert fx["cases"][-1]["ap"].max() > 0  # the largest case has true positives
