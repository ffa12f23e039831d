"""TCANet against MMAction2 1.2.0 (tools/parity/make_localization_fixtures.py).

The encoded features, each stage's refined proposals and IoU estimates, and the six loss terms
(RNG seeded) for two videos' proposals and segments, on MMAction2's own config at a smaller
scale. Attention runs through scaled_dot_product_attention here and explicitly in MMAction2:
close, not bit-equal.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.checkpoint import load_weights
from vidlab.config import build, validate

ROOT = Path(__file__).resolve().parents[2]
RTOL = 1e-5


def _rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.fixture(scope="module")
def fx():
    return torch.load(ROOT / "tests/fixtures/localization/tcanet.pt", weights_only=True)


@pytest.fixture(scope="module")
def model(fx):
    spec = importlib.util.spec_from_file_location("seeded", ROOT / "tools/parity/seeded.py")
    seeded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeded)
    state = seeded.seeded_state_dict(fx["spec"], fx["seed"])
    assert seeded.digest(state) == fx["digest"]
    validate({"model": fx["model"]})
    model = build(fx["model"], key_path="model").eval()
    report = load_weights(model, {"state_dict": state}, strict=True)
    assert report.ok and len(report.loaded) == len(state)  # the masks are buffers there too
    return model


def test_encoder_and_refinement_match_mmaction2(model, fx):
    with torch.no_grad():
        encoded = model(fx["features"])
        assert _rel(encoded, fx["encoded"]) <= RTOL
        targets = [{"proposals": p} for p in fx["proposals"]]
        refined = model.refine(encoded, targets)
    n = sum(len(p) for p in fx["proposals"])
    for k in range(3):
        stage = refined[k * n : (k + 1) * n]
        assert _rel(stage[:, :2], fx["refined"][k]) <= RTOL
        scores = torch.cat([p[:, 2] for p in fx["proposals"]])
        # vidlab keeps the proposals' scores (MMAction2 1.2.0 zeroes them: see the module doc)
        assert _rel(stage[:, 2], scores * fx["iou"][k]) <= RTOL


def test_loss_terms_match_mmaction2(model, fx):
    targets = [{"proposals": p, "gt_bbox": b} for p, b in zip(fx["proposals"], fx["gt_boxes"])]
    torch.manual_seed(fx["loss_seed"])
    with torch.no_grad():
        loss = model.loss(model(fx["features"]), targets)
    assert loss.keys() == fx["loss"].keys()
    for key, value in fx["loss"].items():
        assert abs(loss[key].item() - value.item()) <= RTOL * max(abs(value.item()), 1e-3), key


def test_results_are_sorted_proposals_in_seconds(model, fx):
    info = dict(video_name="v_x", duration_second=60.0, duration_frame=1800, feature_frame=1800)
    with torch.no_grad():
        out = model.results(model(fx["features"][:1]), [{"proposals": fx["proposals"][0]}], [info])
    props = out[0]["proposals"]
    assert out[0]["video_name"] == "v_x" and props.shape[1] == 3 and len(props) > 0
    assert (np.diff(props[:, 2]) <= 0).all() and (props[:, :2] >= 0).all()
    assert props[:, 1].max() <= 60.0 * (1800 // 16 * 16) / 1800 + 1e-9
