"""Record MMAction2's ``report_accuracy.py`` output for ``vidlab report-accuracy``'s test.

Run with the MMAction2 1.2.0 reference python from the repository root:

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_report_accuracy_fixtures.py

Writes tests/fixtures/metrics/report_accuracy/: dump files made the way MMAction2's
``tools/test.py --dump`` makes them (``ActionDataSample.to_dict()`` lists, ``mmengine.dump``),
and ``expected.json``: for each case, the arguments and what MMAction2's tool printed.
"""

from __future__ import annotations

import contextlib
import io
import json
import runpy
import sys
from pathlib import Path

import mmaction
import numpy as np
import torch
from mmaction.structures import ActionDataSample
from mmengine import dump

OUT = Path("tests/fixtures/metrics/report_accuracy")
TOOL = Path(mmaction.__file__).parent / ".mim/tools/analysis_tools/report_accuracy.py"
NUM, K = 40, 7


def _samples(rng, labels, multi_label=False):
    out = []
    for i in range(NUM):
        s = ActionDataSample()
        score = rng.normal(size=K)
        if not multi_label:  # a weak model: the true class gets a random boost
            score[labels[i]] += rng.uniform(0, 2.5)
        s.set_pred_score(torch.from_numpy(score.astype(np.float32)))
        s.set_gt_label(torch.from_numpy(labels[i]) if multi_label else int(labels[i]))
        s.set_metainfo({"filename": f"video_{i:03d}.mp4"})
        out.append(s.to_dict())
    return out


def _run(args: list[str]) -> str:
    argv, sys.argv = sys.argv, ["report_accuracy.py", *args]
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            runpy.run_path(str(TOOL), run_name="__main__")
    finally:
        sys.argv = argv
    return buf.getvalue()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(12)
    labels = rng.integers(0, K, NUM)
    for name in ("rgb", "flow", "audio"):
        dump(_samples(rng, labels), str(OUT / f"{name}.pkl"))
    multi = (rng.random((NUM, K)) < 0.3).astype(np.int64)
    multi[:, 0] |= multi.sum(1) == 0
    for name in ("ml_a", "ml_b"):
        dump(_samples(rng, multi, multi_label=True), str(OUT / f"{name}.pkl"))
    cases = {
        "two": ["--preds", "rgb.pkl", "flow.pkl", "--coefficients", "1", "1.5"],
        "three_softmax": [
            "--preds", "rgb.pkl", "flow.pkl", "audio.pkl",
            "--coefficients", "1", "0.5", "2", "--apply-softmax",
        ],
        "multi_label": [
            "--preds", "ml_a.pkl", "ml_b.pkl", "--coefficients", "1", "2", "--multi-label",
        ],
    }  # fmt: skip
    expected = {}
    for name, args in cases.items():
        run_args = [str(OUT / a) if a.endswith(".pkl") else a for a in args]
        expected[name] = {"args": args, "stdout": _run(run_args)}
        print(name, expected[name]["stdout"].strip().replace("\n", " | "))
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
