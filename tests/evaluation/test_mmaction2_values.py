"""vidlab's metrics against MMAction2's values, recorded by tools/parity/make_metric_fixtures.py."""

import json
from pathlib import Path

import numpy as np
import pytest

from vidlab.evaluation import metrics as M
from vidlab.evaluation.temporal import average_recall_at_avg_proposals, pairwise_temporal_iou

DATA = json.loads(
    (Path(__file__).parents[1] / "fixtures/metrics/mmaction2_metrics.json").read_text()
)


def _num(x):
    """The fixture's JSON back to numbers ('nan' -> nan)."""
    if isinstance(x, list):
        return [_num(v) for v in x]
    if isinstance(x, dict):
        return {k: _num(v) for k, v in x.items()}
    return float("nan") if x == "nan" else x


def _cases(group):
    return pytest.mark.parametrize("case", DATA[group], ids=[c["name"] for c in DATA[group]])


@_cases("classification")
def test_classification_like_mmaction2(case):
    s = np.asarray(case["scores"], dtype=np.float32)
    lab = np.asarray(case["labels"], dtype=np.int64)
    assert M.top_k_accuracy(s, lab, (1, 2, 3)) == case["top_k_accuracy"]
    assert M.mean_class_accuracy(s, lab) == case["mean_class_accuracy"]
    pred = s.argmax(1)
    assert M.confusion_matrix(pred, lab).tolist() == case["confusion_matrix"]
    assert M.confusion_matrix(pred, lab, normalize="true").tolist() == case["confusion_matrix_true"]
    got = [[int(c), float(a)] for c, a in M.top_k_classes(s, lab, 2)]
    assert got == case["top_k_classes"]
    got = [[int(c), float(a)] for c, a in M.top_k_classes(s, lab, 2, "inaccurate")]
    assert got == case["top_k_classes_inaccurate"]
    assert M.ConfusionMatrix.calculate(s, lab).tolist() == case["ConfusionMatrix"]
    out = M.AccMetric().compute(s, lab)
    assert out == {f"acc/{k}": v for k, v in case["AccMetric"].items()}


@_cases("multilabel")
def test_multilabel_like_mmaction2(case):
    s = np.asarray(case["scores"], dtype=np.float32)
    lab = np.asarray(case["labels"], dtype=np.int64)
    np.testing.assert_equal(M.mean_average_precision(s, lab), _num(case["mean_average_precision"]))
    np.testing.assert_equal(
        M.mmit_mean_average_precision(s, lab), _num(case["mmit_mean_average_precision"])
    )


@_cases("temporal")
def test_temporal_like_mmaction2(case):
    cands, targets = np.asarray(case["candidates"]), np.asarray(case["targets"])
    iou, over = pairwise_temporal_iou(cands, targets, calculate_overlap_self=True)
    assert iou.tolist() == case["iou"] and over.tolist() == case["overlap_self"]
    assert pairwise_temporal_iou(cands[0], targets).tolist() == case["iou_one"]
    gt = {k: np.asarray(v) for k, v in case["ground_truth"].items()}
    props = {k: np.asarray(v) for k, v in case["proposals"].items()}
    recall, avg, ppv, auc = average_recall_at_avg_proposals(gt, props, case["total"])
    assert recall.tolist() == case["recall"] and avg.tolist() == case["avg_recall"]
    assert ppv.tolist() == case["proposals_per_video"] and auc == case["auc"]
    recall, _, _, auc = average_recall_at_avg_proposals(gt, props, case["total"], 2)
    assert recall.tolist() == case["recall_max2"] and auc == case["auc_max2"]


def test_score_fusion_like_mmaction2():
    (case,) = DATA["fusion"]
    scores = [np.asarray(s, dtype=np.float32) for s in case["scores"]]
    fused = M.get_weighted_score(scores, case["coeffs"])
    assert [r.tolist() for r in fused] == case["fused"]


def test_issue_examples():
    """The three disagreements the issue reported, with MMAction2's numbers."""
    by_name = {c["name"]: c for c in DATA["classification"] + DATA["multilabel"]}
    assert by_name["issue_mean1"]["mean_class_accuracy"] == 0.5
    assert by_name["issue_tie_top1"]["top_k_accuracy"][0] == 1.0
    s = np.array([[0.9, 0.1, 0], [0.1, 0.9, 0], [0, 0.2, 0.8]])
    assert M.mean_class_accuracy(s, [0, 1, 1]) == 0.5
    assert M.balanced_accuracy(s, [0, 1, 1]) == 0.75  # the named alternative
    assert M.top_k_accuracy([[0.5, 0.5, 0]], [1]) == [1.0]
    tie = by_name["issue_tie_map"]
    assert M.mean_average_precision(tie["scores"], tie["labels"]) == tie["mean_average_precision"]
    # Reordering tied samples does not change mAP.
    assert (
        M.mean_average_precision([[0.5], [0.5], [0.9], [0.1]], [[1], [0], [1], [0]])
        == (tie["mean_average_precision"])
    )
    assert np.isnan(M.mean_average_precision([[0.2], [0.6]], [[0], [0]]))


def test_acc_metric_new_names():
    s = np.array([[0.9, 0.1, 0], [0.1, 0.9, 0], [0, 0.2, 0.8]])
    out = M.AccMetric(metric_list=("mean_class_accuracy", "balanced_accuracy")).compute(
        s, [0, 1, 1]
    )
    assert out == {"acc/mean1": 0.5, "acc/balanced1": 0.75}
    multi = np.array([[1, 0], [0, 1], [1, 1]])
    out = M.AccMetric(metric_list="mmit_mean_average_precision").compute(s[:, :2], multi)
    assert list(out) == ["acc/mmit_mean_average_precision"]


def test_confusion_matrix_metric_keys():
    s = np.array([[0.9, 0.1, 0], [0.1, 0.9, 0], [0, 0.2, 0.8]])
    assert M.ConfusionMatrix().compute(s, [0, 1, 1]) == {
        "confusion_matrix/result": [[1, 0, 0], [0, 1, 1], [0, 0, 0]]
    }
    with pytest.raises(ValueError, match="num_classes is required"):
        M.ConfusionMatrix.calculate([0, 1], [0, 1])


def test_top_k_classes_label_ids():
    # Classes 5 and 7 only: MMAction2 reports positions (0, 1); label_ids=True the ids.
    s = np.zeros((2, 8))
    s[0, 5] = s[1, 5] = 1
    assert [int(c) for c, _ in M.top_k_classes(s, [5, 7], 2)] == [0, 1]
    assert [int(c) for c, _ in M.top_k_classes(s, [5, 7], 2, label_ids=True)] == [5, 7]


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="normalize must be"):
        M.confusion_matrix([0], [0], normalize="rows")
    with pytest.raises(TypeError, match="integer class indices"):
        M.confusion_matrix([0.5], [0])
    with pytest.raises(ValueError, match="mode must be"):
        M.top_k_classes([[1.0, 0.0]], [0], mode="wrong")
    with pytest.raises(ValueError, match="2 score sets but 1 coefficients"):
        M.get_weighted_score([[[1.0]], [[2.0]]], [1.0])
    with pytest.raises(ValueError, match="target segments"):
        pairwise_temporal_iou(np.array([]), np.array([]))


def test_mmengine_metric_calls():
    """process() per batch, then evaluate() or compute_metrics(), as MMEngine's Evaluator."""
    import torch

    metric = M.AccMetric(metric_options=dict(top_k_accuracy=dict(topk=(1, 2))))
    samples = [
        dict(pred_score=torch.tensor([0.9, 0.1, 0.0]), gt_label=torch.tensor([0])),
        dict(pred_score=torch.tensor([0.1, 0.9, 0.0]), gt_label=torch.tensor([1])),
        dict(pred_score=torch.tensor([0.0, 0.2, 0.8]), gt_label=torch.tensor([1])),
    ]
    metric.process(None, samples[:2])
    metric.process(None, samples[2:])
    assert metric.compute_metrics(metric.results) == {"top1": 2 / 3, "top2": 1.0, "mean1": 0.5}
    assert metric.evaluate(3) == {"acc/top1": 2 / 3, "acc/top2": 1.0, "acc/mean1": 0.5}
    assert metric.results == []
    cm = M.ConfusionMatrix()
    cm.process(None, samples)
    assert cm.evaluate(3)["confusion_matrix/result"].tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 0]]


def test_confusion_matrix_plot():
    plt = pytest.importorskip("matplotlib.pyplot")
    import matplotlib

    matplotlib.use("Agg")
    fig = M.ConfusionMatrix.plot([[2, 0, 1], [0, 1, 1], [0, 0, 1]], include_values=True, show=False)
    assert isinstance(fig, plt.Figure) and [t.get_text() for t in fig.axes[0].texts][:3] == [
        "2",
        "0",
        "1",
    ]
    plt.close(fig)
