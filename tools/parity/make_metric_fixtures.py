"""Record MMAction2's metric values for vidlab's tests (tests/evaluation/test_mmaction2_values.py).

Run with the MMAction2 1.2.0 reference python from the repository root:

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_metric_fixtures.py

Writes tests/fixtures/metrics/mmaction2_metrics.json: each case holds its inputs and
MMAction2's outputs, so vidlab's tests need neither MMAction2 nor this script.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

if not hasattr(np, "trapz"):  # numpy 2.4 removed it; MMAction2 1.2 still calls it
    np.trapz = np.trapezoid

from mmaction.evaluation.functional import (  # noqa: E402
    average_recall_at_avg_proposals,
    confusion_matrix,
    get_weighted_score,
    mean_average_precision,
    mean_class_accuracy,
    mmit_mean_average_precision,
    pairwise_temporal_iou,
    top_k_accuracy,
    top_k_classes,
)
from mmaction.evaluation.metrics import AccMetric, ConfusionMatrix  # noqa: E402

OUT = Path("tests/fixtures/metrics/mmaction2_metrics.json")


def _plain(x):
    """JSON-able copy of a metric output (nan -> the string 'nan')."""
    if hasattr(x, "tolist"):
        x = x.tolist()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, float) and np.isnan(x):
        return "nan"
    if isinstance(x, np.generic):
        return _plain(x.item())
    return x


def _rows(a):
    return [np.asarray(r) for r in a]


def classification_cases(rng):
    cases = []
    # The examples.
    cases.append(
        dict(
            name="issue_mean1",
            scores=[[0.9, 0.1, 0], [0.1, 0.9, 0], [0, 0.2, 0.8]],
            labels=[0, 1, 1],
        )
    )
    cases.append(dict(name="issue_tie_top1", scores=[[0.5, 0.5, 0]], labels=[1]))
    # Random cases: few samples, some classes absent from the labels, quantised scores (ties).
    for i in range(40):
        n, k = int(rng.integers(3, 12)), int(rng.integers(3, 8))
        scores = (rng.integers(0, 5, size=(n, k)) / 4).astype(np.float32)
        labels = rng.integers(0, k, size=n)
        cases.append(dict(name=f"random_{i}", scores=scores.tolist(), labels=labels.tolist()))
    # Wider: 12 and 40 classes (numpy's default sort is not stable there).
    for i, k in enumerate((12, 40)):
        scores = (rng.integers(0, 3, size=(30, k)) / 2).astype(np.float32)
        labels = rng.integers(0, k, size=30)
        cases.append(dict(name=f"wide_{i}", scores=scores.tolist(), labels=labels.tolist()))
    for c in cases:
        s = np.asarray(c["scores"], dtype=np.float32)
        lab = [int(x) for x in c["labels"]]
        c["top_k_accuracy"] = _plain(top_k_accuracy(_rows(s), lab, (1, 2, 3)))
        c["mean_class_accuracy"] = _plain(mean_class_accuracy(_rows(s), lab))
        c["confusion_matrix"] = _plain(confusion_matrix(np.argmax(s, 1), np.array(lab)))
        c["confusion_matrix_true"] = _plain(
            confusion_matrix(np.argmax(s, 1), np.array(lab), normalize="true")
        )
        c["top_k_classes"] = _plain(top_k_classes(_rows(s), np.array(lab), 2))
        c["top_k_classes_inaccurate"] = _plain(
            top_k_classes(_rows(s), np.array(lab), 2, "inaccurate")
        )
        c["ConfusionMatrix"] = _plain(ConfusionMatrix.calculate(s, lab))
        metric = AccMetric(metric_list=("top_k_accuracy", "mean_class_accuracy"))
        c["AccMetric"] = _plain(metric.calculate(_rows(s), lab))
    return cases


def multilabel_cases(rng):
    cases = []
    # The tie case: order of tied samples must not matter.
    cases.append(
        dict(name="issue_tie_map", scores=[[0.5], [0.5], [0.9], [0.1]], labels=[[0], [1], [1], [0]])
    )
    cases.append(
        dict(name="no_positive_class", scores=[[0.2, 0.8], [0.6, 0.4]], labels=[[1, 0], [1, 0]])
    )
    cases.append(
        dict(name="no_positive_at_all", scores=[[0.2, 0.8], [0.6, 0.4]], labels=[[0, 0], [0, 0]])
    )
    for i in range(20):
        n, k = int(rng.integers(3, 10)), int(rng.integers(2, 6))
        scores = (rng.integers(0, 4, size=(n, k)) / 3).astype(np.float32)
        labels = rng.integers(0, 2, size=(n, k))
        labels[:, 0] |= labels.sum(1) == 0  # every sample one positive: mmit mAP is defined
        cases.append(dict(name=f"random_{i}", scores=scores.tolist(), labels=labels.tolist()))
    for c in cases:
        s = np.asarray(c["scores"], dtype=np.float32)
        lab = np.asarray(c["labels"], dtype=np.int64)
        with np.errstate(all="ignore"):
            c["mean_average_precision"] = _plain(mean_average_precision(_rows(s), _rows(lab)))
            c["mmit_mean_average_precision"] = _plain(
                mmit_mean_average_precision(_rows(s), _rows(lab))
            )
    return cases


def temporal_cases(rng):
    cases = []
    for i in range(5):
        targets = np.sort(rng.integers(0, 20, size=(4, 2)), axis=1).astype(float)
        targets[:, 1] += 1
        cands = np.sort(rng.uniform(0, 20, size=(6, 2)), axis=1)
        iou, over = pairwise_temporal_iou(cands, targets, calculate_overlap_self=True)
        gt = {
            f"v{j}": np.sort(rng.uniform(0, 30, size=(int(rng.integers(1, 4)), 2)), axis=1)
            for j in range(3)
        }
        props = {}
        total = 0
        for j in range(3):
            p = int(rng.integers(1, 12))
            seg = np.sort(rng.uniform(0, 30, size=(p, 2)), axis=1)
            props[f"v{j}"] = np.concatenate([seg, rng.uniform(0, 1, size=(p, 1))], axis=1)
            total += p
        recall, avg, ppv, auc = average_recall_at_avg_proposals(gt, props, total)
        recall2, avg2, ppv2, auc2 = average_recall_at_avg_proposals(
            gt, props, total, max_avg_proposals=2
        )
        cases.append(
            dict(
                name=f"random_{i}",
                targets=targets.tolist(),
                candidates=cands.tolist(),
                iou=_plain(iou),
                overlap_self=_plain(over),
                iou_one=_plain(pairwise_temporal_iou(cands[0], targets)),
                ground_truth={k: v.tolist() for k, v in gt.items()},
                proposals={k: v.tolist() for k, v in props.items()},
                total=total,
                recall=_plain(recall),
                avg_recall=_plain(avg),
                proposals_per_video=_plain(ppv),
                auc=auc,
                recall_max2=_plain(recall2),
                auc_max2=auc2,
            )
        )
    return cases


def fusion_cases(rng):
    a = rng.normal(size=(5, 4)).astype(np.float32)
    b = rng.normal(size=(5, 4)).astype(np.float32)
    return [
        dict(
            name="two_models",
            scores=[a.tolist(), b.tolist()],
            coeffs=[2.0, 0.5],
            fused=_plain(get_weighted_score([_rows(a), _rows(b)], [2.0, 0.5])),
        )
    ]


def main():
    rng = np.random.default_rng(15)
    data = dict(
        source="MMAction2 1.2.0 (mmaction.evaluation), numpy " + np.__version__,
        classification=classification_cases(rng),
        multilabel=multilabel_cases(rng),
        temporal=temporal_cases(rng),
        fusion=fusion_cases(rng),
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=None, separators=(",", ":")))
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
