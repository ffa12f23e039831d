"""vidlab against MMAction2 1.2.0: fixtures written by ``tools/parity/make_fixtures.py``.

Each fixture holds the model dict of one of MMAction2's own config files, the state-dict keys
and shapes of the model MMAction2 built from it, the seed of its weights and MMAction2's outputs
on a uint8 clip. Here vidlab builds the same dict, regenerates the weights, loads them strictly
(0 missing, 0 unexpected keys) and must give the same logits and scores.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

from vidlab.checkpoint import load_weights
from vidlab.config import build, validate

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "parity").glob("*.pt"))
RTOL = 1e-5  # max abs difference / max abs value


def _seeded():
    spec = importlib.util.spec_from_file_location("seeded", ROOT / "tools/parity/seeded.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rel(a, b) -> float:
    """max |a - b| / max |b|; for dicts of tensors (RGBPoseHead's per-pathway logits), the
    worst over keys, which must be the same."""
    if isinstance(b, dict):
        assert isinstance(a, dict) and a.keys() == b.keys()
        return max(_rel(a[k], b[k]) for k in b)
    return ((a - b).abs().max() / b.abs().max()).item()


def _shape(x):
    return {k: v.shape for k, v in x.items()} if isinstance(x, dict) else x.shape


def test_fixtures_exist():
    assert len(FIXTURES) >= 3


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_same_outputs_as_mmaction2(path):
    fixture = torch.load(path, weights_only=True)
    seeded = _seeded()
    state = seeded.seeded_state_dict(fixture["spec"], fixture["seed"], fixture["scale"])
    assert seeded.digest(state) == fixture["digest"], (
        "regenerated weights differ from MMAction2's: torch's random generator changed; "
        "rewrite the fixtures with tools/parity/make_fixtures.py"
    )
    validate({"model": fixture["model"]})  # MMAction2's own model dict: no problem reported
    model = build(fixture["model"], key_path="model")
    # buffers the model computes (Swin's relative_position_index): vidlab's own values
    own = fixture.get("own_buffers", [])
    state.update({k: v for k, v in model.state_dict().items() if any(p in k for p in own)})
    report = load_weights(model, {"state_dict": state}, strict=True)
    assert report.ok and len(report.loaded) == len(fixture["spec"])
    model.eval()
    for run in fixture["runs"]:
        if "relation_picks" in run:  # TRN: the relations MMAction2 drew at random in this call
            model.cls_head.consensus.fix_relations(run["relation_picks"])
        clips = run["clips"]
        with torch.no_grad():  # one input per modality (RGBPose): a dict of keyword inputs
            logits = model(**clips) if isinstance(clips, dict) else model(clips)  # (N, K)
        if _shape(logits) == _shape(run["logits"]):  # one row per clip in MMAction2 too
            assert _rel(logits, run["logits"]) <= RTOL
        scores = model.average_views(logits, num_views=1)  # what MMAction2's predict returns
        assert _shape(scores) == _shape(run["scores"])
        assert _rel(scores, run["scores"]) <= RTOL
