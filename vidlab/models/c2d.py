"""C2D (Wang et al., 2018, the non-local paper's 2D baseline) and its named variants.

MMAction2's ``C2D`` is its 2D ``ResNet`` run frame by frame on a clip ``(N, C, T, H, W)``, with
two temporal steps from the video-nonlocal-net recipe: the stem's max-pool is a 1x3x3 pool
without padding, and time is halved by a 2x1x1 max-pool after the first stage. Weights are a
2D ResNet's (keys as ``vidlab.models.resnet``), so ImageNet ResNets load with no inflation.

The ``nopool`` configs of the zoo are plain per-frame ResNets with a TSN head
(``Recognizer2D``); their variants are here too.
"""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.tsn import TSNHead
from vidlab.models.i3d import recognizer3d
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer2D, Recognizer3D
from vidlab.models.resnet import FEAT_DIM, ResNet
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant


class C2D(ResNet):
    """2D ResNet over the frames of a clip: ``(N, C, T, H, W)`` -> ``(N, D, T/2, h, w)``.

    Arguments are ``ResNet``'s; the stem max-pool becomes ``maxpool3d_1`` (1x3x3, stride
    1x2x2, no padding) and ``maxpool3d_2`` (2x1x1) halves time after ``layer1``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.maxpool
        self.maxpool3d_1 = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2))
        self.maxpool3d_2 = nn.MaxPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1))

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        n = x.shape[0]

        def to_2d(x: Tensor) -> Tensor:  # (N, C, T, H, W) -> (N*T, C, H, W)
            return x.transpose(1, 2).reshape((-1,) + x.shape[1:2] + x.shape[3:])

        def to_3d(x: Tensor) -> Tensor:  # (N*T, C, H, W) -> (N, C, T, H, W)
            return x.reshape((n, -1) + x.shape[1:]).transpose(1, 2)

        x = self.conv1(to_2d(x))  # (N*T, 64, H/2, W/2)
        x = to_2d(self.maxpool3d_1(to_3d(x)))  # (N*T, 64, H/4, W/4)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i == 0:
                x = to_2d(self.maxpool3d_2(to_3d(x)))  # (N*T/2, C, h, w)
            if i in self.out_indices:
                outs.append(to_3d(x))  # (N, C, T/2, h, w)
        return outs[0] if len(outs) == 1 else tuple(outs)


# --- variants -------------------------------------------------------------------------------

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/c2d/"


def _url(config: str, stamp: str) -> str:
    return f"{_ZOO}{config}/{config}_{stamp}.pth"


def _c2d(num_classes: int, depth: int = 50, pretrained: str | None = None, **kwargs):
    """C2D as ``configs/_base_/models/c2d_r50.py`` builds it; ``kwargs`` go to the backbone."""
    backbone = C2D(depth=depth, pretrained=pretrained, norm_eval=False, **kwargs)
    return recognizer3d(backbone, num_classes, in_channels=FEAT_DIM[depth])


def _nopool(num_classes: int, depth: int, pretrained: str | None = None, **kwargs):
    """The zoo's ``c2d_*-nopool`` configs: a per-frame ResNet with a TSN head."""
    backbone = ResNet(depth=depth, pretrained=pretrained, norm_eval=False, **kwargs)
    head = TSNHead(
        num_classes=num_classes,
        in_channels=FEAT_DIM[depth],
        spatial_type="avg",
        dropout_ratio=0.4,
        init_std=0.01,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(8, 8, 10),
    url=_url("c2d_r50-in1k-pre_8xb32-8x8x1-100e_kinetics400-rgb", "20221027-3ca304fa"),
)
def c2d_r50_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """C2D ResNet-50, 8 frames every 8th (Kinetics-400: 73.9 top-1)."""
    return _c2d(num_classes, **kwargs)


@variant(
    clip_shape=(3, 16, 224, 224),
    sampling=(16, 4, 10),
    url=_url("c2d_r50-in1k-pre_8xb32-16x4x1-100e_kinetics400-rgb", "20221027-5f382a43"),
)
def c2d_r50_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """C2D ResNet-50, 16 frames every 4th (Kinetics-400: 75.0 top-1)."""
    return _c2d(num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(8, 8, 10),
    url=_url("c2d_r50-in1k-pre-nopool_8xb32-8x8x1-100e_kinetics400-rgb", "20221027-e0227b22"),
)
def c2d_r50_nopool_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """ResNet-50 per frame without temporal pooling, TSN head, 8x8 clips (73.4 top-1)."""
    return _nopool(num_classes, 50, **kwargs)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(8, 8, 10),
    url=_url("c2d_r101-in1k-pre-nopool_8xb32-8x8x1-100e_kinetics400-rgb", "20221027-557bd8bc"),
)
def c2d_r101_nopool_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """ResNet-101 per frame without temporal pooling, TSN head, 8x8 clips (75.0 top-1)."""
    return _nopool(num_classes, 101, **kwargs)
