import numpy as np
import pytest
import torch

from vidlab.evaluation.metrics import (
    AccMetric,
    mean_average_precision,
    mean_class_accuracy,
    top_k_accuracy,
)

# 4 samples, 3 classes. Rankings (best first): s0: 0,1,2  s1: 2,0,1  s2: 1,2,0  s3: 0,2,1
SCORES = np.array(
    [[0.7, 0.2, 0.1], [0.3, 0.1, 0.6], [0.1, 0.5, 0.4], [0.5, 0.1, 0.4]], dtype=np.float32
)
LABELS = np.array([0, 0, 2, 1])


def test_top_k_by_hand():
    # top1 hits: s0 only -> 1/4; top2 hits: s0, s1 (0 is 2nd), s2 (2 is 2nd) -> 3/4; top3 all.
    assert top_k_accuracy(SCORES, LABELS, topk=(1, 2, 3)) == [0.25, 0.75, 1.0]


def test_top_k_accepts_tensors_and_int():
    assert top_k_accuracy(torch.from_numpy(SCORES), torch.from_numpy(LABELS), topk=1) == [0.25]


def test_mean_class_accuracy_by_hand():
    # class 0: s0 right, s1 wrong -> 0.5; class 1: s3 wrong -> 0; class 2: s2 wrong -> 0.
    assert mean_class_accuracy(SCORES, LABELS) == pytest.approx(0.5 / 3)


def test_mean_average_precision_by_hand():
    labels = np.array([[1, 0], [0, 1], [1, 1]])
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.1, 0.2]])
    # class 0 ranking: s0(+), s1(-), s2(+) -> AP = (1/1 + 2/3) / 2
    # class 1 ranking: s1(+), s2(+), s0(-) -> AP = 1
    assert mean_average_precision(scores, labels) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)


def test_acc_metric_keys_like_mmaction2():
    metric = AccMetric(
        metric_list=("top_k_accuracy", "mean_class_accuracy"),
        metric_options=dict(top_k_accuracy=dict(topk=(1, 2))),
    )
    out = metric.compute(SCORES, LABELS)
    assert out == {"acc/top1": 0.25, "acc/top2": 0.75, "acc/mean1": pytest.approx(0.5 / 3)}


def test_acc_metric_unknown_name():
    with pytest.raises(ValueError, match="did you mean 'top_k_accuracy'"):
        AccMetric(metric_list=("top_k_acuracy",))


def test_shape_mismatch_is_clear():
    with pytest.raises(ValueError, match="4 rows but labels has 3"):
        top_k_accuracy(SCORES, LABELS[:3])
