"""BSN (TEM, PGM, PEM) against MMAction2 1.2.0: tools/parity/make_localization_fixtures.py.

The fixture runs MMAction2's three stages on one video: TEM outputs, targets and loss; its
proposal generation and boundary-sensitive features, through its own files; PEM outputs, loss
(RNG seeded) and proposals. vidlab must give the same values (equal, or within 1e-6 where
MMAction2 clips a ratio in double precision).
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.checkpoint import load_weights
from vidlab.config import build, validate
from vidlab.models.bsn import bsp_features, candidate_proposals

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fx():
    return torch.load(ROOT / "tests/fixtures/localization/bsn.pt", weights_only=True)


def _model(fx, which):
    spec = importlib.util.spec_from_file_location("seeded", ROOT / "tools/parity/seeded.py")
    seeded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeded)
    state = seeded.seeded_state_dict(fx[f"{which}_spec"], fx["seed"])
    assert seeded.digest(state) == fx[f"{which}_digest"]
    validate({"model": fx[f"{which}_model"]})
    model = build(fx[f"{which}_model"], key_path="model").eval()
    report = load_weights(model, {"state_dict": state}, strict=True)
    assert report.ok and len(report.loaded) == len(state)
    return model


def test_tem_outputs_targets_loss_and_rows(fx):
    tem = _model(fx, "tem")
    with torch.no_grad():
        out = tem(fx["features"])
    assert torch.equal(out, fx["tem_outputs"])
    boxes = [torch.tensor(b, dtype=torch.float64) for b in fx["gt_boxes"]]
    for ours, theirs in zip(tem.generate_labels(boxes), fx["tem_labels"]):
        assert torch.equal(ours, theirs)
    loss = tem.loss(out, [{"gt_bbox": b} for b in boxes])
    assert loss.keys() == fx["tem_loss"].keys()
    for key, value in fx["tem_loss"].items():
        assert torch.allclose(loss[key], value, rtol=1e-6, atol=0), key
    with torch.no_grad():  # MMAction2's predict ran on one video: a batch of one
        one = tem(fx["features"][:1])
    rows = tem.results(one, [{}], [{"video_name": "v_fixture"}])[0]["tem"]
    assert np.array_equal(rows, fx["tem_rows"].numpy())


def test_pgm_proposals_and_features(fx):
    # the TEM rows as MMAction2's PGM reads them back from its CSV: float32
    tem = fx["tem_rows"].numpy().astype(np.float32)
    cfg = fx["pgm_proposals_cfg"]
    # the fixture's TEM has 32 snippets (the config's temporal_scale is 100)
    props = candidate_proposals(tem, fx["video_info"], len(tem), cfg["peak_threshold"])
    assert np.array_equal(props, fx["proposals"].numpy())
    feats = bsp_features(tem, fx["read_proposals"].numpy(), **fx["pgm_features_cfg"])
    assert np.array_equal(feats, fx["bsp_feature"].numpy())
    assert feats.shape[1] == 32


def test_pem_outputs_loss_and_proposals(fx):
    pem = _model(fx, "pem")
    top = fx["read_proposals"][:1000]
    target = {
        "bsp_feature": fx["bsp_feature"].float(),
        "reference_temporal_iou": top[:, 5],
        "tmin": top[:, 0],
        "tmax": top[:, 1],
        "tmin_score": top[:, 2],
        "tmax_score": top[:, 3],
    }
    with torch.no_grad():
        out = pem(target["bsp_feature"])
    assert torch.equal(out, fx["pem_outputs"])
    torch.manual_seed(fx["pem_loss_seed"])
    loss = pem.loss(out, [target])["temporal_iou_loss"]
    assert torch.allclose(loss, fx["pem_loss"], rtol=1e-6, atol=0)
    assert pem.proposals(out, [target], [fx["video_info"]])[0] == fx["pem_proposals"]
