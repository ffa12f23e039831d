"""TPN (Yang et al., 2020): MMAction2's ``TPN`` neck, its auxiliary head, and the variants.

The Temporal Pyramid Network takes two backbone stages (``out_indices=(2, 3)``: res4 and res5)
as ``(N, C, T, h, w)`` maps and

1. aligns their space (``SpatialModulation``: stride-2 convs bring res4 to res5's size and width),
2. modulates their tempo (``TemporalModulation``: grouped temporal conv, then a temporal
   max-pool by each level's ``downsample_scales``),
3. mixes the levels top-down (``upsample_ops``) and bottom-up (``downsample_ops``), after the
   top-down flow (``flow_type='cascade'``) or beside it (``'parallel'``), fuses each pyramid
   (``LevelFusion``) and both (``pyramid_fusion``, 2048 channels).

While training, ``AuxHead`` classifies res4 on its own; its loss, weighted by ``loss_weight``,
is added to the head's. MMAction2 computes it inside the neck from the labels; here the
recognizer returns its logits beside the head's in training mode (``RecognizerOutput``) and
``model.loss`` gives ``{'loss_cls', 'loss_aux'}`` (see ``vidlab.models.recognizer``).
Submodules are named as MMAction2's, so its TPN checkpoints load without a key map.

The variants are MMAction2's TPN zoo (``configs/recognition/tpn``): TPN on TSM (ResNet-50,
Something-Something V1) and on SlowOnly (ResNet-50, Kinetics-400).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.models._checks import built, frozen
from vidlab.models.heads.base import AvgConsensus
from vidlab.models.heads.tpn import TPNHead
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.losses import CrossEntropyLoss
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer2D, Recognizer3D
from vidlab.models.slowonly import ResNet3dSlowOnly
from vidlab.models.tsm import ResNetTSM
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant

_CONV3D = frozen(type="Conv3d")
_BN3D = frozen(type="BN3d", requires_grad=True)
_RELU = frozen(type="ReLU", inplace=True)


def _conv(in_channels: int, out_channels: int, kernel, stride=1, padding=0, **kwargs):
    """A bias-free 3D ``ConvModule`` (MMAction2's TPN builds every conv so)."""
    return ConvModule(
        in_channels, out_channels, kernel, stride, padding, bias=False, conv_cfg=_CONV3D, **kwargs
    )


class DownSample(nn.Module):
    """A conv and a max-pool of ``downsample_scale`` (kernel = stride, ceil mode), the pool
    ``'before'`` or ``'after'`` the conv.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Conv kernel.
        stride: Conv stride.
        padding: Conv padding.
        groups: Conv groups.
        bias: Conv bias (``'auto'``: only without a norm).
        conv_cfg: Conv layer spec.
        norm_cfg: Norm layer spec, or None.
        act_cfg: Activation spec, or None.
        downsample_position: ``'before'`` or ``'after'`` the conv.
        downsample_scale: Max-pool kernel and stride.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size=(3, 1, 1),
        stride=(1, 1, 1),
        padding=(1, 0, 0),
        groups: int = 1,
        bias: bool | str = False,
        conv_cfg: Mapping | None = _CONV3D,
        norm_cfg: Mapping | None = None,
        act_cfg: Mapping | None = None,
        downsample_position: str = "after",
        downsample_scale=(1, 2, 2),
    ) -> None:
        super().__init__()
        if downsample_position not in ("before", "after"):
            raise ValueError(
                f"downsample_position must be 'before' or 'after', got {downsample_position!r}"
            )
        self.conv = ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            groups=groups,
            bias=bias,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.downsample_position = downsample_position
        self.pool = nn.MaxPool3d(downsample_scale, downsample_scale, (0, 0, 0), ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.downsample_position == "before":
            return self.conv(self.pool(x))
        return self.pool(self.conv(x))


class LevelFusion(nn.Module):
    """Bring each level to ``mid_channels[i]`` (grouped 1x1x1 conv-BN-ReLU after a max-pool by
    ``downsample_scales[i]``), concatenate, fuse to ``out_channels`` (1x1x1 conv-BN-ReLU).

    Args:
        in_channels: Channels of each level.
        mid_channels: Channels of each level after its conv.
        out_channels: Channels of the fused map.
        downsample_scales: Max-pool kernel and stride of each level.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        mid_channels: Sequence[int],
        out_channels: int,
        downsample_scales: Sequence = ((1, 1, 1), (1, 1, 1)),
    ) -> None:
        super().__init__()
        self.downsamples = nn.ModuleList(
            DownSample(
                in_channels[i],
                mid_channels[i],
                kernel_size=(1, 1, 1),
                stride=(1, 1, 1),
                padding=(0, 0, 0),
                groups=32,
                bias=False,
                norm_cfg=_BN3D,
                act_cfg=_RELU,
                downsample_position="before",
                downsample_scale=downsample_scales[i],
            )
            for i in range(len(in_channels))
        )
        self.fusion_conv = _conv(sum(mid_channels), out_channels, 1, norm_cfg=_BN3D, act_cfg=_RELU)

    def forward(self, x: Sequence[Tensor]) -> Tensor:
        out = [down(level) for down, level in zip(self.downsamples, x)]
        return self.fusion_conv(torch.cat(out, 1))  # (N, out_channels, t, h, w)


class SpatialModulation(nn.Module):
    """Match every level's space and width to the top one: ``log2(out / in)`` stride-2 convs
    (1x3x3, each doubling the channels), or nothing for a level already as wide.

    Args:
        in_channels: Channels of each level.
        out_channels: Channels of the top level.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        self.spatial_modulation = nn.ModuleList()
        for channels in in_channels:
            scale = out_channels // channels
            steps = int(math.log2(scale)) if scale > 0 else 0
            if steps < 1:
                self.spatial_modulation.append(nn.Identity())
                continue
            self.spatial_modulation.append(
                nn.ModuleList(
                    _conv(
                        channels * 2**k,
                        channels * 2 ** (k + 1),
                        (1, 3, 3),
                        stride=(1, 2, 2),
                        padding=(0, 1, 1),
                        norm_cfg=_BN3D,
                        act_cfg=_RELU,
                    )
                    for k in range(steps)
                )
            )

    def forward(self, x: Sequence[Tensor]) -> list[Tensor]:
        out = []
        for ops, level in zip(self.spatial_modulation, x):
            if isinstance(ops, nn.ModuleList):
                for op in ops:
                    level = op(level)
            else:
                level = ops(level)
            out.append(level)
        return out


class TemporalModulation(nn.Module):
    """Grouped (32) temporal conv (3x1x1, no norm, no activation), then a temporal max-pool
    by ``downsample_scale`` (ceil mode).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        downsample_scale: Temporal pool kernel and stride.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample_scale: int = 8) -> None:
        super().__init__()
        self.conv = _conv(
            in_channels, out_channels, (3, 1, 1), padding=(1, 0, 0), groups=32, act_cfg=None
        )
        scale = (downsample_scale, 1, 1)
        self.pool = nn.MaxPool3d(scale, scale, (0, 0, 0), ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.conv(x))


class AuxHead(nn.Module):
    """The auxiliary classifier on res4: conv (1x3x3, stride 2, twice the channels)-BN-ReLU,
    global average pool, dropout 0.5, linear.

    Args:
        in_channels: Channels of res4.
        out_channels: Number of classes.
        loss_weight: Factor on its loss.
        loss_cls: Loss module; None: ``CrossEntropyLoss()``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        loss_weight: float = 0.5,
        loss_cls: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.conv = _conv(
            in_channels, in_channels * 2, (1, 3, 3), (1, 2, 2), (0, 1, 1), norm_cfg=_BN3D
        )
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.loss_weight = loss_weight
        self.dropout = nn.Dropout(p=0.5)
        self.fc = nn.Linear(in_channels * 2, out_channels)
        loss_cls = built(loss_cls, "AuxHead(loss_cls=...)")
        self.loss_cls = CrossEntropyLoss() if loss_cls is None else loss_cls
        self.init_weights()

    def init_weights(self) -> None:
        """MMAction2's: Normal(0, 0.01) linear, Xavier-uniform convs, unit BN; zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
        _xavier_convs_unit_norms(self)

    def reset_classifier(self, num_classes: int) -> None:
        """A new, freshly initialized ``fc`` for ``num_classes`` classes."""
        ref = self.fc.weight
        self.fc = nn.Linear(self.fc.in_features, num_classes).to(ref.device, ref.dtype)
        nn.init.normal_(self.fc.weight, 0, 0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)  # (N, 2C, t, h/2, w/2)
        x = self.avg_pool(x).flatten(1)  # (N, 2C)
        return self.fc(self.dropout(x))  # (N, K)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """``loss_weight * loss_cls`` against the labels as given: hard ``(B,)`` or soft
        ``(B, K)`` (mixup, cutmix). MMAction2 applies no label smoothing here (the head's
        ``label_smooth_eps`` is the head's)."""
        k = logits.shape[1]
        one_soft = labels.dim() == 1 and logits.shape[0] == 1 and labels.shape[0] == k > 1
        if labels.dim() == 0 or one_soft:  # a batch of one: one hard label, or one soft label
            labels = labels.unsqueeze(0)
        return self.loss_weight * self.loss_cls(logits, labels)


def _xavier_convs_unit_norms(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        if isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class TPN(nn.Module):
    """The Temporal Pyramid Network neck, with MMAction2's arguments.

    Input: the backbone's levels, each ``(N, C_i, T, h_i, w_i)`` (a 2D recognizer folds its
    frames back into clips first). Output: ``(N, 2048, t, h, w)``; with the configs'
    ``downsample_scales=(8, 8)`` and 8 frames, ``t = 1``.

    Args:
        in_channels: Channels of each level (a tuple; res4 is ``in_channels[-2]``).
        out_channels: Channels after the temporal modulation.
        spatial_modulation_cfg: ``SpatialModulation`` arguments (``in_channels``,
            ``out_channels``).
        temporal_modulation_cfg: ``dict(downsample_scales=...)``, one per level, or None.
        upsample_cfg: ``nn.Upsample`` arguments of the top-down flow, or None (no flow).
        downsample_cfg: ``DownSample`` arguments of the bottom-up flow, or None (no flow).
        level_fusion_cfg: ``LevelFusion`` arguments (``in_channels``, ``mid_channels``,
            ``out_channels``, ``downsample_scales``).
        aux_head_cfg: ``AuxHead`` arguments but ``in_channels`` (``out_channels``,
            ``loss_weight``, ``loss_cls``), or None for no auxiliary head.
        flow_type: ``'cascade'`` (bottom-up after top-down) or ``'parallel'``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        spatial_modulation_cfg: Mapping | None = None,
        temporal_modulation_cfg: Mapping | None = None,
        upsample_cfg: Mapping | None = None,
        downsample_cfg: Mapping | None = None,
        level_fusion_cfg: Mapping | None = None,
        aux_head_cfg: Mapping | None = None,
        flow_type: str = "cascade",
    ) -> None:
        super().__init__()
        if flow_type not in ("cascade", "parallel"):
            raise ValueError(f"flow_type must be 'cascade' or 'parallel', got {flow_type!r}")
        for name, cfg in (
            ("spatial_modulation_cfg", spatial_modulation_cfg),
            ("level_fusion_cfg", level_fusion_cfg),
        ):
            if cfg is None:
                raise ValueError(f"TPN needs {name} (a dict of its arguments)")
        self.in_channels = tuple(in_channels)
        self.out_channels = out_channels
        self.num_tpn_stages = len(self.in_channels)
        self.flow_type = flow_type

        self.temporal_modulation_ops = nn.ModuleList()
        self.upsample_ops = nn.ModuleList()
        self.downsample_ops = nn.ModuleList()
        self.level_fusion_1 = LevelFusion(**level_fusion_cfg)
        self.spatial_modulation = SpatialModulation(**spatial_modulation_cfg)
        for i in range(self.num_tpn_stages):
            if temporal_modulation_cfg is not None:
                scale = temporal_modulation_cfg["downsample_scales"][i]
                # every level is as wide as the top one after the spatial modulation
                self.temporal_modulation_ops.append(
                    TemporalModulation(self.in_channels[-1], out_channels, scale)
                )
            if i < self.num_tpn_stages - 1:
                if upsample_cfg is not None:
                    self.upsample_ops.append(nn.Upsample(**upsample_cfg))
                if downsample_cfg is not None:
                    self.downsample_ops.append(
                        DownSample(out_channels, out_channels, **downsample_cfg)
                    )
        self.level_fusion_2 = LevelFusion(**level_fusion_cfg)
        fused = level_fusion_cfg["out_channels"]
        self.pyramid_fusion = _conv(fused * 2, 2048, 1, norm_cfg=_BN3D)  # ConvModule's ReLU
        self.aux_head = None
        if aux_head_cfg is not None:
            self.aux_head = AuxHead(self.in_channels[-2], **aux_head_cfg)
        self.init_weights()

    def init_weights(self) -> None:
        """MMAction2's: Xavier-uniform convs, unit BN, then the auxiliary head's own init."""
        _xavier_convs_unit_norms(self)
        if self.aux_head is not None:
            self.aux_head.init_weights()

    @property
    def with_aux(self) -> bool:
        """The neck has an auxiliary head (its logits are returned in training mode)."""
        return self.aux_head is not None

    def forward_aux(self, x: Sequence[Tensor]) -> Tensor:
        """Auxiliary logits ``(N, K)`` of res4 (``x[-2]``)."""
        return self.aux_head(x[-2])

    def aux_loss(self, aux_logits: Tensor, labels: Tensor) -> Tensor:
        """The weighted auxiliary loss (``loss_aux``)."""
        return self.aux_head.loss(aux_logits, labels)

    def reset_classifier(self, num_classes: int) -> None:
        """The auxiliary classifier follows the head's number of classes."""
        if self.aux_head is not None:
            self.aux_head.reset_classifier(num_classes)

    def forward(self, x: Sequence[Tensor]) -> Tensor:
        spatial = self.spatial_modulation(x)  # each (N, C_top, T, h, w)
        temporal = [op(level) for op, level in zip(self.temporal_modulation_ops, spatial)]
        # New tensors are made by every step below (no in-place op on a shared one), so the
        # levels need no copies where MMAction2 clones them.
        outs = list(temporal)  # each (N, out_channels, T / scale_i, h, w)
        for i in range(len(self.upsample_ops), 0, -1):  # top-down
            outs[i - 1] = outs[i - 1] + self.upsample_ops[i - 1](outs[i])
        top_down = self.level_fusion_1(outs)
        if self.flow_type == "parallel":
            outs = list(temporal)
        for i, down in enumerate(self.downsample_ops):  # bottom-up
            outs[i + 1] = outs[i + 1] + down(outs[i])
        bottom_up = self.level_fusion_2(outs)
        return self.pyramid_fusion(torch.cat([top_down, bottom_up], 1))  # (N, 2048, t, h, w)


# --- variants -------------------------------------------------------------------------------

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/tpn/"


def _url(name: str, stamp: str) -> str:
    return f"{_ZOO}{name}/{name}_{stamp}.pth"


def _tpn_neck(num_classes: int) -> TPN:
    """The neck of ``configs/_base_/models/tpn_{tsm,slowonly}_r50.py``."""
    return TPN(
        in_channels=(1024, 2048),
        out_channels=1024,
        spatial_modulation_cfg=dict(in_channels=(1024, 2048), out_channels=2048),
        temporal_modulation_cfg=dict(downsample_scales=(8, 8)),
        upsample_cfg=dict(scale_factor=(1, 1, 1)),
        downsample_cfg=dict(downsample_scale=(1, 1, 1)),
        level_fusion_cfg=dict(
            in_channels=(1024, 1024),
            mid_channels=(1024, 1024),
            out_channels=2048,
            downsample_scales=((1, 1, 1), (1, 1, 1)),
        ),
        aux_head_cfg=dict(out_channels=num_classes, loss_weight=0.5),
    )


def _tpn_head(num_classes: int) -> TPNHead:
    return TPNHead(
        num_classes=num_classes,
        in_channels=2048,
        spatial_type="avg",
        consensus=AvgConsensus(dim=1),
        dropout_ratio=0.5,
        init_std=0.01,
        average_clips="prob",
    )


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(1, 1, 8),
    num_classes=174,
    url=_url("tpn-tsm_imagenet-pretrained-r50_8xb8-1x1x8-150e_sthv1-rgb", "20230221-940a3615"),
)
def tpn_tsm_r50_1x1x8(num_classes: int = 174, pretrained: str | None = None, **kwargs):
    """TPN on TSM ResNet-50, 8 segments, Something-Something V1 weights (51.9 top-1).

    ``kwargs`` go to the backbone. Test views may have ``k * 8`` frames (MMAction2's
    ``twice_sample``): each 8 is one pyramid, their scores are averaged.
    """
    backbone = ResNetTSM(
        depth=50,
        pretrained=pretrained,
        out_indices=(2, 3),
        norm_eval=False,
        shift_div=8,
        **kwargs,
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(
        backbone=backbone,
        neck=_tpn_neck(num_classes),
        cls_head=_tpn_head(num_classes),
        data_preprocessor=pre,
        test_cfg=dict(fcn_test=True),
    )


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(8, 8, 10),
    url=_url(
        "tpn-slowonly_imagenet-pretrained-r50_8xb8-8x8x1-150e_kinetics400-rgb",
        "20220913-fed3f4c1",
    ),
)
def tpn_slowonly_r50_8x8x1(num_classes: int = 400, pretrained: str | None = None, **kwargs):
    """TPN on SlowOnly ResNet-50, 8 frames every 8th, Kinetics-400 (ImageNet-initialized:
    76.7 top-1; the from-scratch weights of the same model, 74.2, are
    ``tpn-slowonly_r50_8xb8-8x8x1-150e_kinetics400-rgb_20220913-97d0835d.pth``).

    ``kwargs`` go to the backbone.
    """
    backbone = ResNet3dSlowOnly(
        depth=50,
        pretrained=pretrained,
        out_indices=(2, 3),
        norm_eval=False,
        **kwargs,
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCTHW")
    return Recognizer3D(
        backbone=backbone,
        neck=_tpn_neck(num_classes),
        cls_head=_tpn_head(num_classes),
        data_preprocessor=pre,
        test_cfg=dict(fcn_test=True),
    )
