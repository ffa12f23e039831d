"""TRN (Zhou et al., 2018) on ResNet-50: the named variants of MMAction2's TRN configs.

The backbone is the 2D ``ResNet`` (``vidlab.models.resnet``, partial BN as MMAction2's
``configs/_base_/models/trn_r50.py``); the head is ``vidlab.models.heads.trn.TRNHead`` with
multi-scale relations, whose eval-mode scores are the expectation of MMAction2's random
draws (see that module).
"""

from __future__ import annotations

from vidlab.models.heads.trn import TRNHead
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer2D
from vidlab.models.resnet import FEAT_DIM, ResNet
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/trn/"


def _trn(num_classes: int, pretrained: str | None = None, **kwargs) -> Recognizer2D:
    backbone = ResNet(depth=50, pretrained=pretrained, norm_eval=False, partial_bn=True, **kwargs)
    head = TRNHead(
        num_classes=num_classes,
        in_channels=FEAT_DIM[50],
        num_segments=8,
        spatial_type="avg",
        relation_type="TRNMultiScale",
        hidden_dim=256,
        dropout_ratio=0.8,
        init_std=0.001,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)


def _url(dataset: str, stamp: str) -> str:
    name = f"trn_imagenet-pretrained-r50_8xb16-1x1x8-50e_{dataset}-rgb"
    return f"{_ZOO}{name}/{name}_{stamp}.pth"


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(1, 1, 8),
    num_classes=174,
    classifier=None,
    url=_url("sthv1", "20220815-e13db2e9"),
)
def trn_r50_1x1x8_sthv1(num_classes: int = 174, **kwargs) -> Recognizer2D:
    """Multi-scale TRN on ResNet-50, 8 segments, Something-Something V1 weights."""
    return _trn(num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(1, 1, 8),
    num_classes=174,
    classifier=None,
    url=_url("sthv2", "20220815-e01617db"),
)
def trn_r50_1x1x8_sthv2(num_classes: int = 174, **kwargs) -> Recognizer2D:
    """Multi-scale TRN on ResNet-50, 8 segments, Something-Something V2 weights."""
    return _trn(num_classes, **kwargs)
