import math

import pytest
import torch
import torch.nn.functional as F

from vidlab.config import build
from vidlab.models.heads import AvgConsensus, I3DHead, TSMHead, TSNHead
from vidlab.models.losses import BCELossWithLogits, CrossEntropyLoss


def test_cross_entropy_hard_labels_by_hand():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0]])
    labels = torch.tensor([0, 1])
    p0 = math.exp(2) / (math.exp(2) + 2)
    p1 = math.exp(1) / (1 + math.exp(1) + math.exp(3))
    expected = -(math.log(p0) + math.log(p1)) / 2
    assert CrossEntropyLoss()(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    assert CrossEntropyLoss(loss_weight=0.5)(logits, labels).item() == pytest.approx(
        expected / 2, rel=1e-6
    )


def test_cross_entropy_soft_labels_equal_hard_for_one_hot():
    torch.manual_seed(0)
    logits = torch.randn(4, 5)
    labels = torch.tensor([0, 3, 1, 4])
    soft = F.one_hot(labels, 5).float()
    loss = CrossEntropyLoss()
    assert torch.allclose(loss(logits, soft), loss(logits, labels))
    weighted = CrossEntropyLoss(class_weight=[1.0, 2.0, 0.5, 1.0, 3.0])
    assert torch.allclose(weighted(logits, soft), weighted(logits, labels))


def test_cross_entropy_soft_labels_by_hand():
    logits = torch.tensor([[0.0, 0.0]])
    labels = torch.tensor([[0.3, 0.7]])
    assert CrossEntropyLoss()(logits, labels).item() == pytest.approx(math.log(2), rel=1e-6)


def test_bce_with_logits():
    logits = torch.tensor([[0.0, 2.0]])
    labels = torch.tensor([[1.0, 0.0]])
    expected = (math.log(2) + math.log(1 + math.exp(2))) / 2
    assert BCELossWithLogits()(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    # hard labels become one-hot
    assert BCELossWithLogits()(logits, torch.tensor([0])).item() == pytest.approx(
        expected, rel=1e-6
    )


def test_head_label_smoothing():
    head = TSNHead(num_classes=4, in_channels=8, label_smooth_eps=0.1)
    logits = torch.randn(3, 4)
    labels = torch.tensor([0, 2, 3])
    target = F.one_hot(labels, 4) * 0.9 + 0.1 / 4
    expected = -(target * F.log_softmax(logits, 1)).sum(1).mean()
    assert torch.allclose(head.loss(logits, labels), expected)
    assert isinstance(head.loss_cls, CrossEntropyLoss)


def test_head_loss_accepts_built_modules_and_configs():
    node = dict(type="TSNHead", num_classes=4, in_channels=8, multi_class=True)
    head = build({**node, "loss_cls": dict(type="BCELossWithLogits")})
    assert isinstance(head.loss_cls, BCELossWithLogits)
    with pytest.raises(TypeError, match=r"TSNHead\(loss_cls=...\) got the config dict"):
        TSNHead(4, 8, loss_cls=dict(type="BCELossWithLogits"))
    head = TSNHead(4, 8, loss_cls=CrossEntropyLoss(loss_weight=2.0), consensus=AvgConsensus(dim=1))
    assert head.loss_cls.loss_weight == 2.0
    # a soft label of one sample
    assert head.loss(torch.zeros(1, 4), torch.full((4,), 0.25)).item() == pytest.approx(
        2 * math.log(4)
    )


def test_tsn_head_averages_segments_before_fc():
    head = TSNHead(num_classes=3, in_channels=6, dropout_ratio=0).eval()
    x = torch.randn(2 * 4, 6, 5, 5)
    expected = head.fc_cls(x.mean(dim=(2, 3)).view(2, 4, 6).mean(1))
    assert torch.allclose(head(x, num_segs=4), expected, atol=1e-6)


def test_tsm_head_groups_by_its_own_num_segments():
    head = TSMHead(num_classes=3, in_channels=6, num_segments=4).eval()
    x = torch.randn(2 * 8, 6, 2, 2)
    assert head(x, num_segs=8).shape == (4, 3)  # two rows per 8-frame clip
    assert head.dropout.p == 0.8 and head.init_std == 0.001


def test_head_defaults_and_init():
    head = TSNHead(num_classes=400, in_channels=2048)
    assert head.dropout.p == 0.4 and head.average_clips is None
    assert head.fc_cls.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.count_nonzero(head.fc_cls.bias) == 0
    with pytest.raises(ValueError, match="average_clips"):
        TSNHead(4, 8, average_clips="mean")


def test_i3d_head_pools_time_and_space():
    head = I3DHead(num_classes=5, in_channels=16).eval()
    assert head(torch.randn(2, 16, 4, 3, 3)).shape == (2, 5)
