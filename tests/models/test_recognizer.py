import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vidlab.config import build
from vidlab.models import Recognizer2D, Recognizer3D, create_model
from vidlab.models.heads import I3DHead
from vidlab.models.preprocess import ActionDataPreprocessor


def _with_big_fc(model):
    """Head init is tiny (std 0.001); larger weights make order effects visible in logits."""
    torch.manual_seed(1)
    nn.init.normal_(model.cls_head.fc_cls.weight, std=1.0)
    return model.eval()


@pytest.fixture(scope="module")
def r18():
    torch.manual_seed(0)
    return {
        n: _with_big_fc(create_model(n, num_classes=6)) for n in ("tsm_r18_1x1x8", "tsn_r18_1x1x8")
    }


def test_tsm_sees_frame_order_and_tsn_does_not(r18):
    torch.manual_seed(0)
    clips = torch.randint(0, 256, (2, 3, 8, 32, 32), dtype=torch.uint8)
    perm = torch.randperm(8)
    with torch.no_grad():
        tsm, tsm_perm = r18["tsm_r18_1x1x8"](clips), r18["tsm_r18_1x1x8"](clips[:, :, perm])
        tsn, tsn_perm = r18["tsn_r18_1x1x8"](clips), r18["tsn_r18_1x1x8"](clips[:, :, perm])
    assert tsm.shape == tsn.shape == (2, 6)
    assert (tsm - tsm_perm).abs().max() > 1e-3
    assert torch.allclose(tsn, tsn_perm, atol=1e-4)


def test_tsm_with_twice_the_segments_merges_rows_like_mmaction2(r18):
    model = r18["tsm_r18_1x1x8"]
    assert model.average_clips == "prob"
    torch.manual_seed(0)
    clips = torch.rand(2, 3, 16, 32, 32) * 255
    with torch.no_grad():
        merged = model(clips)  # (2, K): 2 rows per clip folded
        halves = [model(clips[:, :, :8]), model(clips[:, :, 8:])]
    expected = (F.softmax(halves[0], 1) + F.softmax(halves[1], 1)) / 2
    assert merged.shape == (2, 6)
    assert torch.allclose(F.softmax(merged, 1), expected, atol=1e-5)
    # average_views of the merged rows equals averaging all 2 * V rows
    views = model.average_views(merged, num_views=2)
    assert torch.allclose(views, expected.mean(0, keepdim=True), atol=1e-5)


def test_average_views_and_loss():
    model = create_model("tsn_r18_1x1x8", num_classes=3)
    logits = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    probs = model.average_views(logits, num_views=2)
    assert torch.allclose(probs, F.softmax(logits, 1).mean(0, keepdim=True))
    model.cls_head.average_clips = "score"
    assert torch.allclose(model.average_views(logits, 2), torch.tensor([[0.5, 0.5, 0.0]]))
    model.cls_head.average_clips = None
    model.test_cfg = dict(average_clips="prob")  # MMAction2 0.x placed it in test_cfg
    assert torch.allclose(model.average_views(logits, 2), probs)
    labels = torch.tensor([0, 1])
    assert torch.allclose(model.loss(logits, labels), F.cross_entropy(logits, labels))


def test_recognizer_from_mmaction2_style_dicts_matches_factory_keys():
    model = build(
        dict(
            type="Recognizer2D",
            backbone=dict(
                type="ResNetTSM", pretrained=None, depth=18, norm_eval=False, shift_div=8
            ),
            cls_head=dict(
                type="TSMHead",
                num_classes=7,
                in_channels=512,
                spatial_type="avg",
                consensus=dict(type="AvgConsensus", dim=1),
                dropout_ratio=0.5,
                init_std=0.001,
                is_shift=True,
                average_clips="prob",
            ),
            data_preprocessor=dict(
                type="ActionDataPreprocessor",
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape="NCHW",
            ),
            train_cfg=None,
            test_cfg=None,
        )
    )
    assert isinstance(model, Recognizer2D)
    reference = create_model("tsm_r18_1x1x8", num_classes=7)
    assert model.state_dict().keys() == reference.state_dict().keys()
    model.load_state_dict(reference.state_dict(), strict=True)
    model.eval(), reference.eval()
    clips = torch.randint(0, 256, (1, 3, 8, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(model(clips), reference(clips))


def test_tsm_rejects_a_frame_count_it_cannot_fold():
    model = create_model("tsm_r18_1x1x8", num_classes=3).eval()
    with pytest.raises(ValueError, match="not a multiple of 8"):
        model(torch.zeros(1, 3, 4, 32, 32))


def test_recognizer3d_passes_the_clip_to_the_backbone():
    backbone = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU())
    model = Recognizer3D(
        backbone=backbone,
        cls_head=I3DHead(num_classes=4, in_channels=8),
        data_preprocessor=ActionDataPreprocessor(
            mean=[128] * 3, std=[64] * 3, format_shape="NCTHW"
        ),
    )
    logits = model(torch.randint(0, 256, (2, 3, 4, 8, 8), dtype=torch.uint8))
    assert logits.shape == (2, 4)
    model.loss(logits, torch.tensor([0, 3])).backward()
    assert backbone[0].weight.grad is not None
