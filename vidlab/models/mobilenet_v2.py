"""MobileNetV2 (Sandler et al., 2018) and its TSM form, with MMAction2's arguments and keys.

Keys: ``conv1.conv.weight`` / ``conv1.bn.*`` (stem), ``layer{i}.{j}.conv.{k}.conv.weight`` /
``.bn.*`` (inverted residual blocks: expand 1x1, depthwise 3x3, project 1x1, the expand conv
absent when ``expand_ratio == 1``), ``conv2.conv.weight`` / ``conv2.bn.*`` (last 1x1 conv).
``MobileNetV2TSM`` wraps the first conv of every block that has a residual connection and an
expand conv: ``layer2.1.conv.0.net.conv.weight``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.models._checks import frozen
from vidlab.models.heads.tsm import TSMHead
from vidlab.models.layers.checkpointing import checkpointed
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.layers.freeze import FreezableBackbone
from vidlab.models.layers.rounding import make_divisible
from vidlab.models.layers.temporal_shift import TemporalShift
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer2D
from vidlab.models.resnet import _unwrapped
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant


class InvertedResidual(nn.Module):
    """Expand 1x1 -> depthwise 3x3 -> project 1x1 (linear), plus ``x`` when shapes allow.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Stride of the depthwise conv (1 or 2).
        expand_ratio: Hidden channels are ``round(in_channels * expand_ratio)``.
        conv_cfg: Conv layer config.
        norm_cfg: Norm layer config.
        act_cfg: Activation config (not applied after the projection).
        with_cp: Gradient checkpointing of the block.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        expand_ratio: float,
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = frozen(type="BN"),
        act_cfg: Mapping | None = frozen(type="ReLU6"),
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        self.stride = stride
        self.with_cp = with_cp
        self.use_res_connect = stride == 1 and in_channels == out_channels
        hidden = int(round(in_channels * expand_ratio))
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        layers = []
        if expand_ratio != 1:
            layers.append(ConvModule(in_channels, hidden, 1, act_cfg=act_cfg, **common))
        layers.append(
            ConvModule(
                hidden,
                hidden,
                3,
                stride=stride,
                padding=1,
                groups=hidden,
                act_cfg=act_cfg,
                **common,
            )
        )
        layers.append(ConvModule(hidden, out_channels, 1, act_cfg=None, **common))
        self.conv = nn.Sequential(*layers)

    def _inner(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)

    def forward(self, x: Tensor) -> Tensor:
        return checkpointed(self._inner, x, enabled=self.with_cp)


class MobileNetV2(FreezableBackbone):
    """MobileNetV2 backbone: ``(N, 3, H, W)`` -> the outputs of the stages in ``out_indices``.

    Stages 0-6 are the seven inverted-residual layers (``layer1``..``layer7``), stage 7 is the
    final 1x1 conv ``conv2`` (1280 channels, or ``1280 * widen_factor`` above 1).

    Args:
        pretrained: Weights to start from, loaded by ``init_weights`` (a file or URL).
        widen_factor: Channel multiplier.
        out_indices: Stages whose outputs are returned (a tuple if more than one), in 0..7.
        frozen_stages: Freeze the stem and the first ``frozen_stages`` stages (-1: nothing);
            applied when ``train()`` is called, as MMAction2 does.
        conv_cfg: Conv layer config.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
        norm_eval: Keep BatchNorm layers in eval mode while training.
        with_cp: Gradient checkpointing in the blocks.
        init_cfg: Accepted for MMAction2 compatibility; initialization is fixed.
    """

    # expand ratio, channels, blocks, stride of the first block
    arch_settings = [
        [1, 16, 1, 1],
        [6, 24, 2, 2],
        [6, 32, 3, 2],
        [6, 64, 4, 2],
        [6, 96, 3, 1],
        [6, 160, 3, 2],
        [6, 320, 1, 1],
    ]

    def __init__(
        self,
        pretrained: str | None = None,
        widen_factor: float = 1.0,
        out_indices: Sequence[int] = (7,),
        frozen_stages: int = -1,
        conv_cfg: Mapping | None = frozen(type="Conv"),
        norm_cfg: Mapping | None = frozen(type="BN2d", requires_grad=True),
        act_cfg: Mapping | None = frozen(type="ReLU6", inplace=True),
        norm_eval: bool = False,
        with_cp: bool = False,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        out_indices = tuple(out_indices)
        for index in out_indices:
            if index not in range(0, 8):
                raise ValueError(f"MobileNetV2: out_indices must be in 0..7, got {index}")
        if frozen_stages not in range(-1, 9):
            raise ValueError(f"MobileNetV2: frozen_stages must be in -1..8, got {frozen_stages}")
        self.pretrained = pretrained
        self.widen_factor = widen_factor
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.init_cfg = init_cfg

        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.in_channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = ConvModule(3, self.in_channels, 3, stride=2, padding=1, **common)
        self.layers: list[str] = []
        for i, (expand_ratio, channels, num_blocks, stride) in enumerate(self.arch_settings):
            out_channels = make_divisible(channels * widen_factor, 8)
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    InvertedResidual(
                        self.in_channels,
                        out_channels,
                        stride if j == 0 else 1,
                        expand_ratio,
                        with_cp=with_cp,
                        **common,
                    )
                )
                self.in_channels = out_channels
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            self.layers.append(f"layer{i + 1}")
        self.out_channel = int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        self.conv2 = ConvModule(self.in_channels, self.out_channel, 1, **common)
        self.layers.append("conv2")

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained`` (a MobileNetV2 backbone or a recognizer checkpoint);
        TSM's ``.net`` wrappers are looked through, as MMAction2's ``pretrained2d`` does."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained, look_through=_unwrapped)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        x = self.conv1(x)  # (N, 32w, H/2, W/2)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def _apply_freezing(self) -> None:
        if self.frozen_stages >= 0:
            self.conv1.eval()
            for p in self.conv1.parameters():
                p.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            layer = getattr(self, self.layers[i - 1])
            layer.eval()
            for p in layer.parameters():
                p.requires_grad = False


class MobileNetV2TSM(MobileNetV2):
    """MobileNetV2 for TSM: the expand conv of every residual block sees time-shifted input.

    Input ``(N*T, 3, H, W)`` with ``T = num_segments``.

    Args:
        num_segments: Frames per clip in the folded batch.
        is_shift: Insert the temporal shifts.
        shift_div: ``1 / shift_div`` of the channels shift each way.
        pretrained2d: Accepted for MMAction2 compatibility; a 2D file loads through the
            wrappers either way (``init_weights``).
        **kwargs: ``MobileNetV2`` arguments.
    """

    def __init__(
        self,
        num_segments: int = 8,
        is_shift: bool = True,
        shift_div: int = 8,
        pretrained2d: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.num_segments = num_segments
        self.is_shift = is_shift
        self.shift_div = shift_div
        self.pretrained2d = pretrained2d
        if is_shift:
            self.make_temporal_shift()

    def make_temporal_shift(self) -> None:
        """Wrap ``conv[0]`` of blocks with an expand conv and a residual connection."""
        for m in self.modules():
            if isinstance(m, InvertedResidual) and len(m.conv) == 3 and m.use_res_connect:
                m.conv[0] = TemporalShift(m.conv[0], self.num_segments, self.shift_div)


# --- variants -------------------------------------------------------------------------------


# MMAction2 publishes no checkpoint for this config (its metafile.yml does not list it).
@variant(clip_shape=(3, 8, 256, 256), sampling=(1, 1, 8))
def mobilenetv2_tsm_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with MobileNetV2, 8 segments (MMAction2's ``tsm_imagenet-pretrained-mobilenetv2``
    Kinetics-400 config)."""
    backbone = MobileNetV2TSM(num_segments=8, is_shift=True, shift_div=8, **kwargs)
    head = TSMHead(
        num_classes=num_classes,
        in_channels=1280,
        num_segments=8,
        dropout_ratio=0.5,
        init_std=0.001,
        is_shift=True,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)
