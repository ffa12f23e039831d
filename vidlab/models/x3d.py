"""X3D (Feichtenhofer, 2020): MMAction2's ``X3D`` backbone and the named X3D variants.

Keys as MMAction2's: stem ``conv1_s.conv`` (spatial 1x3x3, no norm) and ``conv1_t.{conv,bn}``
(depthwise temporal 5x1x1); blocks ``layer{i}.{j}.conv{1,2,3}.{conv,bn}``, SE gates
``layer{i}.{j}.se_module.fc{1,2}`` on every other block, projections
``layer{i}.0.downsample.{conv,bn}``; the last 1x1 expansion ``conv5.{conv,bn}``. The head is
``vidlab.models.heads.x3d.X3DHead``. X3D-S and X3D-M share one network (``gamma_b=2.25``,
``gamma_d=2.2``); they differ in frames and resolution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.compat.layers import build_activation_layer
from vidlab.models._checks import frozen
from vidlab.models.heads.x3d import X3DHead
from vidlab.models.layers.checkpointing import checkpointed
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.layers.freeze import FreezableBackbone, freeze
from vidlab.models.layers.rounding import make_divisible
from vidlab.models.layers.squeeze_excite import SEModule
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.variants import variant


class Swish(nn.Module):
    """``x * sigmoid(x)``, written as MMCV writes it (bit-identical to its outputs)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(x)


class BlockX3D(nn.Module):
    """1x1x1 conv, depthwise 3x3x3 conv, optional SE, swish, 1x1x1 conv, residual, ReLU.

    Args:
        inplanes: Input channels.
        planes: Channels of the depthwise conv (the expanded bottleneck).
        outplanes: Output channels.
        spatial_stride: Spatial stride of the depthwise conv.
        downsample: Projection of the input for the residual sum, if shapes differ.
        se_ratio: Bottleneck ratio of the SE gate; None: no SE.
        use_swish: Accepted for MMAction2 compatibility; like MMAction2's block, the block
            applies swish after the depthwise conv whatever its value.
        conv_cfg: Conv layer config.
        norm_cfg: Norm layer config.
        act_cfg: Activation after ``conv1`` and after the residual sum.
        with_cp: Gradient checkpointing of the residual branch.
    """

    def __init__(
        self,
        inplanes: int,
        planes: int,
        outplanes: int,
        spatial_stride: int = 1,
        downsample: nn.Module | None = None,
        se_ratio: float | None = None,
        use_swish: bool = True,
        conv_cfg: Mapping | None = frozen(type="Conv3d"),
        norm_cfg: Mapping | None = frozen(type="BN3d"),
        act_cfg: Mapping | None = frozen(type="ReLU"),
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.inplanes = inplanes
        self.planes = planes
        self.outplanes = outplanes
        self.spatial_stride = spatial_stride
        self.downsample = downsample
        self.se_ratio = se_ratio
        self.use_swish = use_swish
        self.with_cp = with_cp
        common = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(inplanes, planes, 1, act_cfg=act_cfg, **common)
        self.conv2 = ConvModule(
            planes,
            planes,
            3,
            stride=(1, spatial_stride, spatial_stride),
            padding=1,
            groups=planes,  # depthwise
            act_cfg=None,
            **common,
        )
        self.swish = Swish()
        self.conv3 = ConvModule(planes, outplanes, 1, act_cfg=None, **common)
        if se_ratio is not None:
            self.se_module = SEModule(planes, se_ratio)
        self.relu = build_activation_layer(act_cfg)

    def _residual(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        if self.se_ratio is not None:
            out = self.se_module(out)
        out = self.conv3(self.swish(out))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(checkpointed(self._residual, x, enabled=self.with_cp))


class X3D(FreezableBackbone):
    """X3D backbone: ``(N, C, T, H, W)`` -> ``(N, feat_dim, T, H/32, W/32)``.

    Time is never strided. Widths start at ``24 * gamma_w`` (rounded to a multiple of 8) and
    double per stage; the blocks' depthwise width is ``gamma_b`` times that; stage depths are
    ``(1, 2, 5, 3)`` times ``gamma_d``, rounded up.

    Args:
        gamma_w: Width multiplier of every stage.
        gamma_b: Bottleneck (depthwise conv) width multiplier, also of ``conv5``.
        gamma_d: Depth multiplier.
        pretrained: Weights to start from, loaded by ``init_weights`` (a file, a URL, or a
            whole recognizer's checkpoint whose ``backbone.*`` are taken).
        in_channels: Input channels.
        num_stages: Residual stages (1-4).
        spatial_strides: Spatial stride of each stage's first block.
        frozen_stages: Stages to freeze (eval mode, no gradients); 0 freezes the stem only.
        se_style: ``'half'`` (SE on blocks 0, 2, 4, ... of each stage) or ``'all'``.
        se_ratio: SE bottleneck ratio; None: no SE.
        use_swish: Accepted for MMAction2 compatibility (swish is always used, as there).
        conv_cfg: Conv layer config.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
        norm_eval: Keep every BatchNorm in eval mode while training.
        with_cp: Gradient checkpointing in the blocks.
        zero_init_residual: Zero the last BatchNorm of every block at construction (each block
            starts as the identity), as MMAction2's ``init_weights``.
    """

    def __init__(
        self,
        gamma_w: float = 1.0,
        gamma_b: float = 1.0,
        gamma_d: float = 1.0,
        pretrained: str | None = None,
        in_channels: int = 3,
        num_stages: int = 4,
        spatial_strides: Sequence[int] = (2, 2, 2, 2),
        frozen_stages: int = -1,
        se_style: str = "half",
        se_ratio: float | None = 1 / 16,
        use_swish: bool = True,
        conv_cfg: Mapping | None = frozen(type="Conv3d"),
        norm_cfg: Mapping | None = frozen(type="BN3d", requires_grad=True),
        act_cfg: Mapping | None = frozen(type="ReLU", inplace=True),
        norm_eval: bool = False,
        with_cp: bool = False,
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        if not 1 <= num_stages <= 4:
            raise ValueError(f"X3D: num_stages must be in 1..4, got {num_stages}")
        if len(spatial_strides) != num_stages:
            raise ValueError(
                f"X3D: spatial_strides {tuple(spatial_strides)} needs num_stages={num_stages} "
                "entries"
            )
        if se_style not in ("all", "half"):
            raise ValueError(f"X3D: se_style must be 'all' or 'half', got {se_style!r}")
        if se_ratio is not None and se_ratio <= 0:
            raise ValueError(f"X3D: se_ratio must be positive or None, got {se_ratio}")
        self.gamma_w = gamma_w
        self.gamma_b = gamma_b
        self.gamma_d = gamma_d
        self.pretrained = pretrained
        self.in_channels = in_channels
        self.num_stages = num_stages
        self.spatial_strides = tuple(spatial_strides)
        self.frozen_stages = frozen_stages
        self.se_style = se_style
        self.se_ratio = se_ratio
        self.use_swish = use_swish
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.zero_init_residual = zero_init_residual

        self.base_channels = make_divisible(24 * gamma_w, 8) if gamma_w else 24
        self.stage_blocks = [int(math.ceil(gamma_d * n)) if gamma_d else n for n in (1, 2, 5, 3)][
            :num_stages
        ]

        common = dict(bias=False, conv_cfg=conv_cfg)
        self.conv1_s = ConvModule(
            in_channels,
            self.base_channels,
            (1, 3, 3),
            stride=(1, 2, 2),
            padding=(0, 1, 1),
            norm_cfg=None,
            act_cfg=None,
            **common,
        )
        self.conv1_t = ConvModule(
            self.base_channels,
            self.base_channels,
            (5, 1, 1),
            padding=(2, 0, 0),
            groups=self.base_channels,  # depthwise temporal conv
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            **common,
        )

        self.res_layers: list[str] = []
        layer_inplanes = self.base_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            inplanes = self.base_channels * 2**i
            layer = self._make_res_layer(
                layer_inplanes, inplanes, int(inplanes * gamma_b), num_blocks, spatial_strides[i]
            )
            layer_inplanes = inplanes
            self.add_module(f"layer{i + 1}", layer)
            self.res_layers.append(f"layer{i + 1}")

        stage_out = self.base_channels * 2 ** (len(self.stage_blocks) - 1)
        self.feat_dim = int(stage_out * gamma_b)
        self.conv5 = ConvModule(
            stage_out, self.feat_dim, 1, norm_cfg=norm_cfg, act_cfg=act_cfg, **common
        )
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BlockX3D):
                    nn.init.zeros_(m.conv3.bn.weight)
        self._apply_freezing()

    def _make_res_layer(
        self, layer_inplanes: int, inplanes: int, planes: int, blocks: int, spatial_stride: int
    ) -> nn.Sequential:
        """One stage: ``blocks`` blocks of width ``inplanes`` (depthwise width ``planes``)."""
        downsample = None
        if spatial_stride != 1 or layer_inplanes != inplanes:
            downsample = ConvModule(
                layer_inplanes,
                inplanes,
                1,
                stride=(1, spatial_stride, spatial_stride),
                bias=False,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=None,
            )
        common = dict(
            use_swish=self.use_swish,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
            with_cp=self.with_cp,
        )
        layers = []
        for j in range(blocks):
            with_se = self.se_style == "all" or j % 2 == 0
            layers.append(
                BlockX3D(
                    layer_inplanes if j == 0 else inplanes,
                    planes,
                    inplanes,
                    spatial_stride=spatial_stride if j == 0 else 1,
                    downsample=downsample if j == 0 else None,
                    se_ratio=self.se_ratio if with_se else None,
                    **common,
                )
            )
        return nn.Sequential(*layers)

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained`` (called when training starts, never while building)."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1_t(self.conv1_s(x))  # (N, 24*gamma_w, T, H/2, W/2)
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return self.conv5(x)  # (N, feat_dim, T, H/32, W/32)

    # --- freezing ------------------------------------------------------------------------
    def _apply_freezing(self) -> None:
        if self.frozen_stages < 0:
            return
        stages = [self.conv1_s, self.conv1_t]
        stages += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        freeze(stages)


# --- variants -------------------------------------------------------------------------------

# Kinetics-400 X3D weights converted from PySlowFast by MMAction2; its configs normalize with
# a single mean/std for all channels.
X3D_MEAN = (114.75, 114.75, 114.75)
X3D_STD = (57.38, 57.38, 57.38)
_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/x3d/facebook/"


def _x3d(
    gamma_w: float,
    gamma_b: float,
    gamma_d: float,
    num_classes: int,
    pretrained: str | None = None,
    **kwargs,
) -> Recognizer3D:
    """X3D as MMAction2's ``configs/_base_/models/x3d.py`` builds it, at any size."""
    backbone = X3D(
        gamma_w=gamma_w, gamma_b=gamma_b, gamma_d=gamma_d, pretrained=pretrained, **kwargs
    )
    head = X3DHead(
        num_classes=num_classes,
        in_channels=backbone.feat_dim,
        spatial_type="avg",
        dropout_ratio=0.5,
        fc1_bias=False,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=X3D_MEAN, std=X3D_STD, format_shape="NCTHW")
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


@variant(
    clip_shape=(3, 13, 182, 182),
    sampling=(13, 6, 10),
    mean=X3D_MEAN,
    std=X3D_STD,
    classifier="cls_head.fc2",
    url=_ZOO + "x3d_s_13x6x1_facebook-kinetics400-rgb_20201027-623825a0.pth",
)
def x3d_s(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """X3D-S: 13 frames, 6 apart, at 182 px (the X3D-M network at a smaller input)."""
    return _x3d(1.0, 2.25, 2.2, num_classes=num_classes, **kwargs)


@variant(
    clip_shape=(3, 16, 256, 256),
    sampling=(16, 5, 10),
    mean=X3D_MEAN,
    std=X3D_STD,
    classifier="cls_head.fc2",
    url=_ZOO + "x3d_m_16x5x1_facebook-kinetics400-rgb_20201027-3f42382a.pth",
)
def x3d_m(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """X3D-M: 16 frames, 5 apart, at 256 px (``gamma_b=2.25``, ``gamma_d=2.2``)."""
    return _x3d(1.0, 2.25, 2.2, num_classes=num_classes, **kwargs)
