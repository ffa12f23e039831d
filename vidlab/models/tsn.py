"""TSN (Wang et al., 2016): a 2D backbone on each of a clip's segments, averaged; named variants.

The variants build the same modules as MMAction2's ``configs/_base_/models/tsn_r50.py``, so that
config's checkpoints load into them. TSN's head is ``vidlab.models.heads.tsn.TSNHead``; its
backbones are the 2D ones (``vidlab.models.resnet``).
"""

from __future__ import annotations

from vidlab.models.heads.tsn import TSNHead
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer2D
from vidlab.models.resnet import FEAT_DIM, ResNet
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant


def _tsn(depth: int, num_classes: int, pretrained: str | None = None, **kwargs) -> Recognizer2D:
    backbone = ResNet(depth=depth, pretrained=pretrained, norm_eval=False, **kwargs)
    head = TSNHead(
        num_classes=num_classes,
        in_channels=FEAT_DIM[depth],
        dropout_ratio=0.4,
        init_std=0.01,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)


@variant(clip_shape=(3, 8, 224, 224), sampling=(1, 1, 8))
def tsn_r18_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSN with ResNet-18, 8 segments of 1 frame (Wang et al., 2016)."""
    return _tsn(depth=18, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 25, 224, 224),  # the config's test pipeline (its base's): 25 segments
    sampling=(1, 1, 25),
    url="https://download.openmmlab.com/mmaction/v1.0/recognition/tsn/"
    "tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb/"
    "tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb_20220906-2692d16c.pth",
)
def tsn_r50_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSN with ResNet-50, trained on 8 segments of 1 frame and tested, as MMAction2's config,
    on 25 (Wang et al., 2016)."""
    return _tsn(depth=50, num_classes=num_classes, **kwargs)
