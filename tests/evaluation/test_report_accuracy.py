"""Score fusion (vidlab report-accuracy) against MMAction2's report_accuracy.py.

The fixtures were recorded by running MMAction2's tool on dumps in its own format
(tools/parity/make_report_accuracy_fixtures.py); the printed lines must be identical.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from vidlab.cli.report_accuracy import fuse, load_dump

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "metrics" / "report_accuracy"
CASES = json.loads((FIXTURES / "expected.json").read_text())


def _printed(result: dict) -> str:
    if "mmit_mean_average_precision" in result:
        return f"MMit Average Precision: {result['mmit_mean_average_precision']:.04f}\n"
    return (
        f"Mean Class Accuracy: {result['mean_class_accuracy']:.04f}\n"
        f"Top 1 Accuracy: {result['top1']:.04f}\n"
        f"Top 5 Accuracy: {result['top5']:.04f}\n"
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_fusion_prints_what_mmaction2s_tool_prints(name):
    args = CASES[name]["args"]
    preds = [
        str(FIXTURES / a) for a in args[args.index("--preds") + 1 : args.index("--coefficients")]
    ]
    rest = args[args.index("--coefficients") + 1 :]
    coefficients = [float(a) for a in rest if not a.startswith("--")]
    result = fuse(preds, coefficients, "--apply-softmax" in args, "--multi-label" in args)
    assert _printed(result) == CASES[name]["stdout"]


def test_errors(tmp_path):
    rgb, flow = str(FIXTURES / "rgb.pkl"), str(FIXTURES / "flow.pkl")
    with pytest.raises(ValueError, match="2 prediction files but 1 coefficients"):
        fuse([rgb, flow], [1.0])
    short = tmp_path / "short.pkl"
    short.write_bytes(pickle.dumps(load_dump(rgb)[:5]))
    with pytest.raises(ValueError, match="different numbers of videos"):
        fuse([rgb, str(short)], [1.0, 1.0])
    out = tmp_path / "out.pkl"
    out.write_bytes(pickle.dumps({"metrics": {}, "predictions": []}))
    with pytest.raises(ValueError, match="vidlab test --dump"):
        load_dump(out)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps([{"pred_score": os.getcwd}]))
    with pytest.raises(ValueError, match="getcwd is not allowed in a score dump"):
        load_dump(evil)
