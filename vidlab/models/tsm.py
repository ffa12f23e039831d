"""TSM (Lin et al., 2019): MMAction2's ``ResNetTSM`` backbone and the named TSM variants.

With ``shift_place='blockres'`` each block's first conv is wrapped, ``conv1.conv`` becoming
``TemporalShift(net=Conv2d)``: keys ``layer1.0.conv1.conv.net.weight`` (as MMAction2's).
With ``'block'`` whole blocks are wrapped: ``layer1.0.net.conv1.conv.weight``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.tsm import TSMHead
from vidlab.models.layers.temporal_shift import TemporalShift
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer2D
from vidlab.models.resnet import FEAT_DIM, ResNet
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant


class TemporalPool(nn.Module):
    """Halve the frames with a temporal max-pool, then run ``net`` (keys gain ``.net``)."""

    def __init__(self, net: nn.Module, num_segments: int) -> None:
        super().__init__()
        self.net = net
        self.num_segments = num_segments
        self.max_pool3d = nn.MaxPool3d(kernel_size=(3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0))

    def forward(self, x: Tensor) -> Tensor:
        nt, c, h, w = x.shape
        x = x.reshape(-1, self.num_segments, c, h, w).transpose(1, 2)  # (N, C, T, H, W)
        x = self.max_pool3d(x)  # (N, C, T/2, H, W)
        x = x.transpose(1, 2).reshape(-1, c, h, w)  # (N*T/2, C, H, W)
        return self.net(x)


def _flat_sum(values) -> int:
    if isinstance(values, Sequence):
        return sum(_flat_sum(v) for v in values)
    return int(values)


class ResNetTSM(ResNet):
    """ResNet backbone for TSM: input ``(N*T, C, H, W)`` with ``T = num_segments``.

    Args:
        depth: ResNet depth.
        num_segments: Frames per clip in the folded batch.
        is_shift: Insert temporal shifts.
        non_local: Non-local blocks per stage; only zeros are supported.
        non_local_cfg: Non-local config; must stay empty.
        shift_div: ``1 / shift_div`` of the channels shift each way.
        shift_place: ``'blockres'`` (shift before each block's first conv, in the residual
            branch) or ``'block'`` (shift the input of whole blocks).
        temporal_pool: Max-pool time by 2 before ``layer2``.
        pretrained: Weights to start from, as ``ResNet``'s (loaded by ``init_weights``).
        pretrained2d: Accepted for MMAction2 compatibility; the file's layout (torchvision or
            vidlab/MMAction2) is detected from its key names.
        **kwargs: ``ResNet`` arguments (``norm_eval``, ``frozen_stages``, ``with_cp``, ...).
    """

    def __init__(
        self,
        depth: int,
        num_segments: int = 8,
        is_shift: bool = True,
        non_local: Sequence = (0, 0, 0, 0),
        non_local_cfg: Mapping | None = None,
        shift_div: int = 8,
        shift_place: str = "blockres",
        temporal_pool: bool = False,
        pretrained: str | None = None,
        pretrained2d: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(depth, pretrained=pretrained, **kwargs)
        if non_local_cfg and _flat_sum(non_local):
            raise NotImplementedError(
                f"ResNetTSM: non-local blocks (non_local={non_local}) are not implemented in "
                "vidlab; use non_local=(0, 0, 0, 0) or leave non_local_cfg empty."
            )
        if shift_place not in ("block", "blockres"):
            raise NotImplementedError(
                f"ResNetTSM: shift_place={shift_place!r} is not supported; use 'blockres' or 'block'"
            )
        self.num_segments = num_segments
        self.is_shift = is_shift
        self.non_local = non_local
        self.non_local_cfg = non_local_cfg
        self.shift_div = shift_div
        self.shift_place = shift_place
        self.temporal_pool = temporal_pool
        self.pretrained2d = pretrained2d

        if is_shift:
            self.make_temporal_shift()
        if temporal_pool:
            self.layer2 = TemporalPool(self.layer2, num_segments)
        self._apply_freezing()

    def make_temporal_shift(self) -> None:
        """Wrap blocks (or their first convs) of every stage in ``TemporalShift``."""
        if self.temporal_pool:
            segments = [self.num_segments] + [self.num_segments // 2] * 3
        else:
            segments = [self.num_segments] * 4
        if segments[-1] <= 0:
            raise ValueError(f"num_segments={self.num_segments} is too small for temporal_pool")
        # Deep nets (>= 23 blocks in layer3) shift every other block, as MMAction2 does.
        n_round = 2 if len(getattr(self, "layer3", ())) >= 23 else 1
        for i, name in enumerate(self.res_layers):
            for j, block in enumerate(getattr(self, name)):
                if self.shift_place == "block":
                    getattr(self, name)[j] = TemporalShift(block, segments[i], self.shift_div)
                elif j % n_round == 0:
                    block.conv1.conv = TemporalShift(block.conv1.conv, segments[i], self.shift_div)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        if self.is_shift and x.shape[0] % self.num_segments:
            raise ValueError(
                f"ResNetTSM(num_segments={self.num_segments}) got {x.shape[0]} frames, not a "
                f"multiple of {self.num_segments}: give clips of T = k * {self.num_segments} frames"
            )
        return super().forward(x)


# --- variants -------------------------------------------------------------------------------


def _tsm(
    depth: int, num_segments: int, num_classes: int, pretrained: str | None = None, **kwargs
) -> Recognizer2D:
    """TSM as MMAction2's ``configs/_base_/models/tsm_r50.py`` builds it, at any depth."""
    backbone = ResNetTSM(
        depth=depth,
        num_segments=num_segments,
        shift_div=8,
        pretrained=pretrained,
        norm_eval=False,
        **kwargs,
    )
    head = TSMHead(
        num_classes=num_classes,
        in_channels=FEAT_DIM[depth],
        num_segments=num_segments,
        dropout_ratio=0.5,
        init_std=0.001,
        is_shift=True,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)


@variant(clip_shape=(3, 8, 224, 224), sampling=(1, 1, 8))
def tsm_r18_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with ResNet-18, 8 segments, shift 1/8 of the channels each way (Lin et al., 2019)."""
    return _tsm(depth=18, num_segments=8, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(1, 1, 8),
    url="https://download.openmmlab.com/mmaction/v1.0/recognition/tsm/"
    "tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb/"
    "tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb_20220831-64d69186.pth",
)
def tsm_r50_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with ResNet-50, 8 segments, shift 1/8 of the channels each way (Lin et al., 2019)."""
    return _tsm(depth=50, num_segments=8, num_classes=num_classes, **kwargs)
