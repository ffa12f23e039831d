"""TSM (Lin et al., 2019): MMAction2's ``ResNetTSM`` backbone and the named TSM variants.

With ``shift_place='blockres'`` each block's first conv is wrapped, ``conv1.conv`` becoming
``TemporalShift(net=Conv2d)``: keys ``layer1.0.conv1.conv.net.weight`` (as MMAction2's).
With ``'block'`` whole blocks are wrapped: ``layer1.0.net.conv1.conv.weight``.
Non-local blocks (``non_local`` / ``non_local_cfg``) wrap whole blocks as MMAction2's
``NL3DWrapper``: ``layer2.0.block.conv1.conv.net.weight`` and
``layer2.0.non_local_block.g.0.conv.weight``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.tsm import TSMHead
from vidlab.models.layers.non_local import NonLocal3d
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


class NL3DWrapper(nn.Module):
    """Run ``block``, then a 3D non-local block over the clip's frames (MMAction2's wrapper).

    Args:
        block: A ResNet Bottleneck (its output channels size the non-local block).
        num_segments: Frames per clip in the folded batch.
        non_local_cfg: ``NonLocal3d`` arguments.
    """

    def __init__(
        self, block: nn.Module, num_segments: int, non_local_cfg: Mapping | None = None
    ) -> None:
        super().__init__()
        self.block = block
        self.non_local_cfg = dict(non_local_cfg or {})
        self.non_local_block = NonLocal3d(block.conv3.norm.num_features, **self.non_local_cfg)
        self.num_segments = num_segments

    def forward(self, x: Tensor) -> Tensor:
        x = self.block(x)
        nt, c, h, w = x.shape
        x = x.reshape(-1, self.num_segments, c, h, w).transpose(1, 2)  # (N, C, T, H, W)
        x = self.non_local_block(x)
        return x.transpose(1, 2).reshape(nt, c, h, w)  # (N*T, C, H, W)


def _per_stage(non_local: Sequence, num_stages: int) -> list:
    """MMAction2's ``_ntuple(num_stages)``: a scalar is repeated, a sequence kept."""
    if isinstance(non_local, Sequence):
        return list(non_local)
    return [non_local] * num_stages


class ResNetTSM(ResNet):
    """ResNet backbone for TSM: input ``(N*T, C, H, W)`` with ``T = num_segments``.

    Args:
        depth: ResNet depth.
        num_segments: Frames per clip in the folded batch.
        is_shift: Insert temporal shifts.
        non_local: Per stage, a 0/1 flag per block: wrap that block in ``NL3DWrapper``
            (used only when ``non_local_cfg`` is not empty, as in MMAction2).
        non_local_cfg: ``NonLocal3d`` arguments (``mode``, ``sub_sample``, ``use_scale``,
            ``norm_cfg``, ...).
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
        if shift_place not in ("block", "blockres"):
            raise NotImplementedError(
                f"ResNetTSM: shift_place={shift_place!r} is not supported; use 'blockres' or 'block'"
            )
        self.num_segments = num_segments
        self.is_shift = is_shift
        self.non_local = non_local
        self.non_local_stages = _per_stage(non_local, self.num_stages)
        self.non_local_cfg = dict(non_local_cfg or {})
        self.shift_div = shift_div
        self.shift_place = shift_place
        self.temporal_pool = temporal_pool
        self.pretrained2d = pretrained2d

        self.init_structure()
        self._apply_freezing()

    def init_structure(self) -> None:
        """Shifts, then non-local wrappers, then the temporal pool (MMAction2's order)."""
        if self.is_shift:
            self.make_temporal_shift()
        if self.non_local_cfg:
            self.make_non_local()
        if self.temporal_pool:
            self.layer2 = TemporalPool(self.layer2, self.num_segments)

    def make_non_local(self) -> None:
        """Wrap the blocks flagged in ``non_local`` in ``NL3DWrapper`` (Bottleneck blocks)."""
        for i, name in enumerate(self.res_layers):
            stage = self.non_local_stages[i]
            if not isinstance(stage, Sequence) or sum(stage) == 0:
                continue
            layer = getattr(self, name)
            if len(stage) > len(layer):
                raise ValueError(
                    f"non_local[{i}]={tuple(stage)} has {len(stage)} flags, but {name} has "
                    f"{len(layer)} blocks"
                )
            for j, flag in enumerate(stage):
                if flag:
                    layer[j] = NL3DWrapper(layer[j], self.num_segments, self.non_local_cfg)

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

_URL = "https://download.openmmlab.com/mmaction/v1.0/recognition/tsm/"


def _url(config: str, stamp: str) -> str:
    return f"{_URL}{config}/{config}_{stamp}.pth"


def _tsm(
    depth: int,
    num_segments: int,
    num_classes: int,
    pretrained: str | None = None,
    **kwargs,
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


# MMAction2's non-local TSM configs: blocks 0 and 2 of layer2, 0/2/4 of layer3.
_NON_LOCAL = ((0, 0, 0), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 0, 0))


def _tsm_nl(mode: str, num_classes: int, **kwargs) -> Recognizer2D:
    cfg = dict(
        sub_sample=True, use_scale=False, norm_cfg=dict(type="BN3d", requires_grad=True), mode=mode
    )
    return _tsm(50, 8, num_classes, non_local=_NON_LOCAL, non_local_cfg=cfg, **kwargs)


@variant(clip_shape=(3, 8, 224, 224), sampling=(1, 1, 8))
def tsm_r18_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with ResNet-18, 8 segments, shift 1/8 of the channels each way (Lin et al., 2019)."""
    return _tsm(depth=18, num_segments=8, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(1, 1, 8),
    url=_url("tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb", "20220831-64d69186"),
)
def tsm_r50_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with ResNet-50, 8 segments, shift 1/8 of the channels each way (Lin et al., 2019).

    MMAction2's 50- and 100-epoch Kinetics-400 configs build this model; ``url`` is the
    50-epoch checkpoint.
    """
    return _tsm(depth=50, num_segments=8, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(1, 1, 8),
    url=_url(
        "tsm_imagenet-pretrained-r50_8xb16-dense-1x1x8-50e_kinetics400-rgb", "20220831-f55d3c2b"
    ),
)
def tsm_r50_dense_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM R50 trained on densely sampled frames (``DenseSampleFrames``); same model."""
    return _tsm(depth=50, num_segments=8, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 16, 224, 224),
    sampling=(1, 1, 16),
    url=_url("tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_kinetics400-rgb", "20220831-042b1748"),
)
def tsm_r50_1x1x16(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with ResNet-50, 16 segments."""
    return _tsm(depth=50, num_segments=16, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(1, 1, 8),
    num_classes=174,
    url=_url("tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb", "20230317-be0fc26e"),
)
def tsm_r50_1x1x8_sthv2(num_classes: int = 174, **kwargs) -> Recognizer2D:
    """TSM R50, 8 segments, Something-Something V2 (174 classes)."""
    return _tsm(depth=50, num_segments=8, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 16, 256, 256),
    sampling=(1, 1, 16),
    num_classes=174,
    url=_url("tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_sthv2-rgb", "20230317-ec6696ad"),
)
def tsm_r50_1x1x16_sthv2(num_classes: int = 174, **kwargs) -> Recognizer2D:
    """TSM R50, 16 segments, Something-Something V2 (174 classes)."""
    return _tsm(depth=50, num_segments=16, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(1, 1, 8),
    num_classes=174,
    url=_url("tsm_imagenet-pretrained-r101_8xb16-1x1x8-50e_sthv2-rgb", "20230320-efcc0d1b"),
)
def tsm_r101_1x1x8_sthv2(num_classes: int = 174, **kwargs) -> Recognizer2D:
    """TSM R101, 8 segments, Something-Something V2 (shifts every other block of layer3)."""
    return _tsm(depth=101, num_segments=8, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(1, 1, 8),
    url=_url(
        "tsm_imagenet-pretrained-r50-nl-dot-product_8xb16-1x1x8-50e_kinetics400-rgb",
        "20220831-108bfde5",
    ),
)
def tsm_r50_nl_dot_product_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM R50 with five dot-product non-local blocks in layers 2-3."""
    return _tsm_nl("dot_product", num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(1, 1, 8),
    url=_url(
        "tsm_imagenet-pretrained-r50-nl-embedded-gaussian_8xb16-1x1x8-50e_kinetics400-rgb",
        "20220831-35eddb57",
    ),
)
def tsm_r50_nl_embedded_gaussian_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM R50 with five embedded-Gaussian non-local blocks in layers 2-3."""
    return _tsm_nl("embedded_gaussian", num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(1, 1, 8),
    url=_url(
        "tsm_imagenet-pretrained-r50-nl-gaussian_8xb16-1x1x8-50e_kinetics400-rgb",
        "20220831-7e54dacf",
    ),
)
def tsm_r50_nl_gaussian_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM R50 with five Gaussian non-local blocks in layers 2-3."""
    return _tsm_nl("gaussian", num_classes, **kwargs)
