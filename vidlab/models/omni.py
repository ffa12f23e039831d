"""OmniSource (Duan et al., 2020): one ResNet trained on images and videos together.

MMAction2's ``RecognizerOmni`` runs an ``OmniResNet``, a SlowOnly-like ResNet-50 whose 3D
kernels double as 2D ones: a video batch ``(N, C, T, H, W)`` goes through the 3D convolutions
(``res4`` and ``res5`` with 3x1x1 temporal kernels), an image batch ``(N, C, H, W)`` through
the same weights as 2D convolutions (a temporal kernel summed over time). ``OmniHead``
(``vidlab.models.heads.omni``) has one classifier per input kind. Here ``forward`` dispatches on
the rank of its input the way MMAction2 does: 5D clips give video logits, 4D images give image
logits. Normalization is the ``data_preprocessor``'s ``'MIX2d3d'`` format, which takes both.

Training on both sources is the engine's ``MultiLoaderEpochBasedTrainLoop``
(``vidlab.engine.multi``): one batch of each loader per step, the losses summed.

MMAction2 facts kept here (from ``mmaction/models/backbones/resnet_omni.py``): every BatchNorm
has ``momentum=0.01``; the 2D path normalizes with batch statistics in training but does not
update the running statistics (those follow the video batches only); ``res2`` and ``res3`` have
temporal kernel 1, ``res4`` and ``res5`` kernel 3 (``conv1`` of each block); the stem is 1x7x7
with spatial stride 2 and a 1x3x3 max-pool.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models._checks import built
from vidlab.models.heads.omni import OmniHead
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import BaseRecognizer
from vidlab.models.resnet3d import inflate_2d
from vidlab.models.variants import variant

__all__ = ["OmniResNet", "RecognizerOmni", "omni_slowonly_r50_8x8x1"]

_BN_MOMENTUM = 0.01


def _batch_norm_2d(x: Tensor, bn: nn.BatchNorm3d) -> Tensor:
    """``bn``'s parameters on a 4D map; batch statistics in training, without updating the
    running ones (as MMAction2's image path: running statistics are the videos')."""
    training = bn.training
    return F.batch_norm(
        x,
        None if training else bn.running_mean,
        None if training else bn.running_var,
        bn.weight,
        bn.bias,
        training,
        bn.momentum,
        bn.eps,
    )


def _conv2d(x: Tensor, conv: nn.Conv3d, padding: int = 0) -> Tensor:
    """``conv``'s ``(O, I, t, k, k)`` kernel applied to images, summed over ``t``."""
    return F.conv2d(x, conv.weight.sum(2), stride=conv.stride[-1], padding=padding)


class OmniBottleneck(nn.Module):
    """MMAction2's Omni-ResNet ``BottleNeck``: 3D on 5D input, 2D on 4D input.

    Args:
        inplanes: Input channels.
        planes: Bottleneck width (output is ``4 * planes``).
        temporal_kernel: Temporal kernel of ``conv1`` (1 or 3).
        spatial_stride: Stride of ``conv2`` and of the shortcut.
    """

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, temporal_kernel: int = 3, spatial_stride: int = 1
    ) -> None:
        super().__init__()
        if temporal_kernel not in (1, 3):
            raise ValueError(f"temporal_kernel must be 1 or 3, got {temporal_kernel}")
        out = planes * self.expansion
        self.conv1 = nn.Conv3d(
            inplanes, planes, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0),
            bias=False,
        )  # fmt: skip
        self.conv2 = nn.Conv3d(
            planes, planes, (1, 3, 3), stride=(1, spatial_stride, spatial_stride),
            padding=(0, 1, 1), bias=False,
        )  # fmt: skip
        self.conv3 = nn.Conv3d(planes, out, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(planes, momentum=_BN_MOMENTUM)
        self.bn2 = nn.BatchNorm3d(planes, momentum=_BN_MOMENTUM)
        self.bn3 = nn.BatchNorm3d(out, momentum=_BN_MOMENTUM)
        if inplanes != out or spatial_stride != 1:
            self.downsample = nn.Sequential(
                nn.Conv3d(inplanes, out, 1, stride=(1, spatial_stride, spatial_stride), bias=False),
                nn.BatchNorm3d(out, momentum=_BN_MOMENTUM),
            )
        else:
            self.downsample = None

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, T, H, W)`` -> 3D block; ``(N, C, H, W)`` -> the same weights in 2D."""
        if x.dim() == 4:
            return self.forward_2d(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)

    def forward_2d(self, x: Tensor) -> Tensor:
        out = F.relu(_batch_norm_2d(_conv2d(x, self.conv1), self.bn1))
        out = F.relu(_batch_norm_2d(_conv2d(out, self.conv2, padding=1), self.bn2))
        out = _batch_norm_2d(_conv2d(out, self.conv3), self.bn3)
        identity = x
        if self.downsample is not None:
            identity = _batch_norm_2d(_conv2d(x, self.downsample[0]), self.downsample[1])
        return F.relu(out + identity)


class OmniResNet(nn.Module):
    """MMAction2's ``OmniResNet``: a ResNet-50 layout for images (2D) and videos (3D).

    Args:
        layers: Blocks per stage.
        pretrain_2d: A 2D ResNet checkpoint (torchvision's names, which this backbone shares),
            inflated into the 3D kernels by ``init_weights`` (each 2D kernel repeated over time
            and divided by its length), as MMAction2's ``init_from_2d``; read when training
            starts, never while building.
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 6, 3),
        pretrain_2d: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.layers = tuple(layers)
        self.pretrain_2d = pretrain_2d
        self.init_cfg = init_cfg
        self.inplanes = 64
        self.conv1 = nn.Conv3d(3, 64, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(64, momentum=_BN_MOMENTUM)
        self.pool3d = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.pool2d = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, self.layers[0], 1, temporal_kernel=1)
        self.layer2 = self._make_layer(128, self.layers[1], 2, temporal_kernel=1)
        self.layer3 = self._make_layer(256, self.layers[2], 2, temporal_kernel=3)
        self.layer4 = self._make_layer(512, self.layers[3], 2, temporal_kernel=3)

    @property
    def pretrained(self) -> str | None:
        """``pretrain_2d`` under the name ``init_pretrained`` looks for."""
        return self.pretrain_2d

    def _make_layer(self, planes: int, blocks: int, stride: int, temporal_kernel: int):
        layers = [OmniBottleneck(self.inplanes, planes, temporal_kernel, stride)]
        self.inplanes = planes * OmniBottleneck.expansion
        layers += [OmniBottleneck(self.inplanes, planes, temporal_kernel) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def init_weights(self):
        """Inflate ``pretrain_2d`` (a file, URL or ``torchvision://resnet50``) when given."""
        if self.pretrain_2d is None:
            return None
        return load_pretrained(self, self.pretrain_2d, convert=inflate_2d)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, 3, T, H, W)`` -> ``(N, 2048, T, H/32, W/32)``; ``(N, 3, H, W)`` -> 2D maps."""
        if x.dim() == 4:
            return self.forward_2d(x)
        x = self.pool3d(F.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_2d(self, x: Tensor) -> Tensor:
        x = F.conv2d(
            x, self.conv1.weight.squeeze(2), stride=self.conv1.stride[-1], padding=3
        )  # (N, 64, H/2, W/2)
        x = self.pool2d(F.relu(_batch_norm_2d(x, self.bn1)))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class RecognizerOmni(BaseRecognizer):
    """MMAction2's ``RecognizerOmni``: videos and images through one backbone and head.

    ``forward(clips)`` takes vidlab's ``(N, C, T, H, W)`` clips (video logits, ``(N,
    video_classes)``) or an image batch ``(N, C, H, W)`` (image logits, ``(N,
    image_classes)``), as MMAction2 tells them apart by rank. ``num_classes`` and
    ``reset_classifier`` are the video classifier's.

    Args:
        backbone: Backbone taking both ranks (``OmniResNet``).
        cls_head: Head taking both ranks (``OmniHead``).
        data_preprocessor: ``ActionDataPreprocessor`` (``format_shape='MIX2d3d'``); None: no
            normalization.
    """

    # the image classifier: trained by image batches only (the contract test's clips are videos)
    params_unused_by_clips = ("cls_head.fc2d.",)

    def __init__(
        self,
        backbone: nn.Module,
        cls_head: nn.Module,
        data_preprocessor: nn.Module | None = None,
    ) -> None:
        super().__init__(
            built(backbone, "RecognizerOmni(backbone=...)"),
            built(cls_head, "RecognizerOmni(cls_head=...)"),
            data_preprocessor=data_preprocessor,
        )

    def forward_features(self, clips: Tensor) -> Tensor:
        """Clips ``(N, C, T, H, W)`` or images ``(N, C, H, W)`` -> backbone maps (same rank)."""
        if clips.dim() not in (4, 5):
            raise ValueError(
                f"RecognizerOmni takes clips (N, C, T, H, W) or images (N, C, H, W), got "
                f"{tuple(clips.shape)}"
            )
        return self.backbone(self.data_preprocessor(clips))

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        if pre_logits:
            return self.cls_head.pre_logits(features)  # (N, D)
        return self.cls_head(features)  # (N, K) of the input's kind


# --- variants -------------------------------------------------------------------------------

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/omnisource/"
_NAME = "slowonly_r50_8xb16-8x8x1-256e_imagenet-kinetics400-rgb"


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(8, 8, 10),
    classifier="cls_head.fc3d.6",
    url=f"{_ZOO}{_NAME}_20230208-61c4be0d.pth",  # as metafile.yml gives it (no folder)
)
def omni_slowonly_r50_8x8x1(
    num_classes: int = 400, image_classes: int = 1000, **kwargs
) -> RecognizerOmni:
    """OmniSource SlowOnly R50, 8 frames every 8th, trained from scratch on ImageNet and
    Kinetics-400 together (77.3 top-1 on K400). ``kwargs`` go to ``OmniResNet``."""
    return RecognizerOmni(
        backbone=OmniResNet(**kwargs),
        cls_head=OmniHead(
            image_classes=image_classes,
            video_classes=num_classes,
            in_channels=2048,
            average_clips="prob",
        ),
        data_preprocessor=ActionDataPreprocessor(
            mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), format_shape="MIX2d3d"
        ),
    )
