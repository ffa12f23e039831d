"""I3D (Carreira & Zisserman, 2017): ImageNet ResNets inflated to 3D, and its named variants.

The backbone is MMAction2's ``ResNet3d`` (``vidlab.models.resnet3d``); the variants are the
configs of MMAction2's I3D model zoo (``configs/recognition/i3d``): ResNet-50 with the
I3D inflation pattern (every other block inflated, 3x1x1), the "heavy" one (every block,
5x7x7 stem without temporal strides) and the three non-local ones (dot product, embedded
Gaussian and Gaussian affinities in half of the blocks of stages 2 and 3).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn as nn

from vidlab.models.heads.i3d import I3DHead
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.resnet3d import ResNet3d
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/"

# which blocks of each stage are inflated / get a non-local block (configs/_base_/models/i3d_r50)
I3D_INFLATE = ((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))
I3D_NON_LOCAL = ((0, 0, 0), (0, 1, 0, 1), (0, 1, 0, 1, 0, 1), (0, 0, 0))


def recognizer3d(
    backbone: nn.Module,
    num_classes: int,
    in_channels: int = 2048,
    dropout_ratio: float = 0.5,
    init_std: float = 0.01,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
) -> Recognizer3D:
    """``Recognizer3D`` with an ``I3DHead`` (average over clips of softmax scores), as
    MMAction2's 3D configs build it."""
    head = I3DHead(
        num_classes=num_classes,
        in_channels=in_channels,
        spatial_type="avg",
        dropout_ratio=dropout_ratio,
        init_std=init_std,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=mean, std=std, format_shape="NCTHW")
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


def _i3d(num_classes: int, pretrained: str | None = None, **kwargs) -> Recognizer3D:
    """I3D ResNet-50 as ``configs/_base_/models/i3d_r50.py``; ``kwargs`` override it."""
    cfg: dict = dict(
        depth=50,
        pretrained=pretrained,
        pretrained2d=True,
        conv1_kernel=(5, 7, 7),
        conv1_stride_t=2,
        pool1_stride_t=2,
        norm_eval=False,
        inflate=I3D_INFLATE,
        zero_init_residual=False,
    )
    cfg.update(kwargs)
    return recognizer3d(ResNet3d(**cfg), num_classes)


def _non_local(mode: str, use_scale: bool = False) -> Mapping:
    return dict(
        sub_sample=True,
        use_scale=use_scale,
        norm_cfg=dict(type="BN3d", requires_grad=True),
        mode=mode,
    )


def _url(config: str, stamp: str) -> str:
    return f"{_ZOO}i3d/{config}/{config}_{stamp}.pth"


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url("i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb", "20220812-e213c223"),
)
def i3d_r50_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """I3D ResNet-50, 32 frames every 2nd, inflated from ImageNet (Kinetics-400: 73.5 top-1)."""
    return _i3d(num_classes, **kwargs)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 1),  # DenseSampleFrames: 10 clips from one dense window
    url=_url(
        "i3d_imagenet-pretrained-r50_8xb8-dense-32x2x1-100e_kinetics400-rgb", "20220812-9f46003f"
    ),
)
def i3d_r50_dense_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """I3D ResNet-50 trained on densely sampled clips (``DenseSampleFrames``; 73.8 top-1)."""
    return _i3d(num_classes, **kwargs)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url(
        "i3d_imagenet-pretrained-r50-heavy_8xb8-32x2x1-100e_kinetics400-rgb", "20220812-ed501b31"
    ),
)
def i3d_r50_heavy_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """I3D ResNet-50 "heavy": every block inflated, no temporal stride in the stem (76.2)."""
    cfg = dict(conv1_stride_t=1, pool1_stride_t=1, inflate=(1, 1, 1, 1), with_pool2=True)
    cfg.update(kwargs)
    return _i3d(num_classes, **cfg)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url(
        "i3d_imagenet-pretrained-r50-nl-dot-product_8xb8-32x2x1-100e_kinetics400-rgb",
        "20220812-8e1f2148",
    ),
)
def i3d_r50_nl_dot_product_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """I3D ResNet-50 with 5 non-local blocks, dot-product affinity (74.8 top-1)."""
    cfg = dict(non_local=I3D_NON_LOCAL, non_local_cfg=_non_local("dot_product"))
    cfg.update(kwargs)
    return _i3d(num_classes, **cfg)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url(
        "i3d_imagenet-pretrained-r50-nl-embedded-gaussian_8xb8-32x2x1-100e_kinetics400-rgb",
        "20220812-afd8f562",
    ),
)
def i3d_r50_nl_embedded_gaussian_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """I3D ResNet-50 with 5 non-local blocks, embedded-Gaussian affinity (74.7 top-1)."""
    cfg = dict(non_local=I3D_NON_LOCAL, non_local_cfg=_non_local("embedded_gaussian"))
    cfg.update(kwargs)
    return _i3d(num_classes, **cfg)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url(
        "i3d_imagenet-pretrained-r50-nl-gaussian_8xb8-32x2x1-100e_kinetics400-rgb",
        "20220812-0c5cbf5a",
    ),
)
def i3d_r50_nl_gaussian_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """I3D ResNet-50 with 5 non-local blocks, Gaussian affinity (74.0 top-1)."""
    cfg = dict(non_local=I3D_NON_LOCAL, non_local_cfg=_non_local("gaussian"))
    cfg.update(kwargs)
    return _i3d(num_classes, **cfg)
