"""ResNeXt (Xie et al., 2017) as MMPretrain's (formerly MMCls') ``ResNeXt`` backbone.

MMAction2's TSN config ``tsn_imagenet-pretrained-rn101-32x4d`` names ``mmcls.ResNeXt``; its
checkpoints carry MMPretrain's key layout, which is torchvision's rather than MMAction2's
ResNet one: ``conv1.weight`` / ``bn1.*`` (stem; ``stem.{0,1,2}.conv`` / ``.bn`` with
``deep_stem``), ``layer{i}.{j}.conv{k}.weight`` / ``bn{k}.*`` and
``layer{i}.0.downsample.0.weight`` / ``downsample.1.*`` (``downsample.1`` / ``.2`` after the
average pool of ``avg_down``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.compat.layers import build_conv_layer, build_norm_layer
from vidlab.models._checks import frozen
from vidlab.models.heads.tsn import TSNHead
from vidlab.models.layers.checkpointing import checkpointed
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.layers.drop_path import DropPath
from vidlab.models.layers.freeze import FreezableBackbone, freeze
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer2D
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant

_BatchNorm = nn.modules.batchnorm._BatchNorm


class Bottleneck(nn.Module):
    """ResNeXt bottleneck: 1x1 -> grouped 3x3 -> 1x1, with ``groups * width_per_group``
    channels per ``base_channels`` of the plain ResNet's width.

    Args:
        in_channels: Input channels.
        out_channels: Output channels (``expansion`` x the plain width).
        base_channels: Width of the first stage of the plain ResNet.
        groups: Groups of the 3x3 conv.
        width_per_group: Channels per group at ``base_channels`` width.
        expansion: ``out_channels`` / plain width.
        stride: Stride of the block.
        dilation: Dilation of the 3x3 conv.
        downsample: Projection of the identity path, if needed.
        style: ``'pytorch'`` (stride on the 3x3 conv) or ``'caffe'`` (on the first 1x1).
        with_cp: Gradient checkpointing of the residual branch.
        conv_cfg: Conv layer config.
        norm_cfg: Norm layer config.
        drop_path_rate: Stochastic depth rate of the block.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        base_channels: int = 64,
        groups: int = 32,
        width_per_group: int = 4,
        expansion: int = 4,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        style: str = "pytorch",
        with_cp: bool = False,
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = frozen(type="BN"),
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if style not in ("pytorch", "caffe"):
            raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
        if out_channels % expansion:
            raise ValueError(f"out_channels {out_channels} is not divisible by {expansion}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.expansion = expansion
        mid = out_channels // expansion
        if groups != 1:
            if mid % base_channels:
                raise ValueError(f"width {mid} is not a multiple of base_channels {base_channels}")
            mid = groups * width_per_group * mid // base_channels
        self.mid_channels = mid
        self.stride = stride
        self.dilation = dilation
        self.style = style
        self.with_cp = with_cp
        self.conv1_stride, self.conv2_stride = (1, stride) if style == "pytorch" else (stride, 1)

        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, mid, 1, stride=self.conv1_stride, bias=False
        )
        self.bn1 = build_norm_layer(norm_cfg, mid)[1]
        self.conv2 = build_conv_layer(
            conv_cfg,
            mid,
            mid,
            3,
            stride=self.conv2_stride,
            padding=dilation,
            dilation=dilation,
            groups=groups,
            bias=False,
        )
        self.bn2 = build_norm_layer(norm_cfg, mid)[1]
        self.conv3 = build_conv_layer(conv_cfg, mid, out_channels, 1, bias=False)
        self.bn3 = build_norm_layer(norm_cfg, out_channels)[1]
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 1e-5 else nn.Identity()

    def _residual(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.drop_path(out) + identity

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(checkpointed(self._residual, x, enabled=self.with_cp))


class ResNeXt(FreezableBackbone):
    """ResNeXt backbone: ``(N, C, H, W)`` -> a tuple of the ``out_indices`` stage outputs.

    As MMPretrain's, the output is always a tuple (``Recognizer2D`` unwraps a single one).

    Args:
        depth: 50, 101 or 152.
        groups: Groups of the 3x3 convs (the "32" of 32x4d).
        width_per_group: Channels per group in the first stage (the "4d").
        in_channels: Input channels.
        stem_channels: Output channels of the stem.
        base_channels: Plain ResNet width of the first stage.
        expansion: Block expansion (default 4).
        num_stages: Number of stages (1-4).
        strides: Stride of the first block of each stage.
        dilations: Dilation of each stage.
        out_indices: Stages whose outputs are returned.
        style: ``'pytorch'`` or ``'caffe'``.
        deep_stem: Three 3x3 convs instead of the 7x7 stem conv.
        avg_down: Average-pool before the projection conv instead of striding it.
        frozen_stages: Freeze the stem and the first ``frozen_stages`` stages (-1: nothing).
        conv_cfg: Conv layer config.
        norm_cfg: Norm layer config.
        norm_eval: Keep BatchNorm layers in eval mode while training.
        with_cp: Gradient checkpointing in the blocks.
        zero_init_residual: Start each block's last norm at zero (the block is the identity).
        init_cfg: ``dict(type='Pretrained', checkpoint=..., prefix='backbone')`` names the
            weights ``init_weights`` loads; other init specs are accepted and ignored.
        drop_path_rate: Stochastic depth rate, rising linearly over the blocks to this value.
    """

    arch_settings = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

    def __init__(
        self,
        depth: int,
        groups: int = 32,
        width_per_group: int = 4,
        in_channels: int = 3,
        stem_channels: int = 64,
        base_channels: int = 64,
        expansion: int | None = None,
        num_stages: int = 4,
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 1, 1, 1),
        out_indices: Sequence[int] = (3,),
        style: str = "pytorch",
        deep_stem: bool = False,
        avg_down: bool = False,
        frozen_stages: int = -1,
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = frozen(type="BN", requires_grad=True),
        norm_eval: bool = False,
        with_cp: bool = False,
        zero_init_residual: bool = True,
        init_cfg: dict | list | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(
                f"invalid depth {depth} for ResNeXt; choose from {list(self.arch_settings)}"
            )
        if not 1 <= num_stages <= 4:
            raise ValueError(f"num_stages must be in 1..4, got {num_stages}")
        if not len(strides) == len(dilations) == num_stages:
            raise ValueError("strides and dilations need num_stages entries each")
        if max(out_indices) >= num_stages:
            raise ValueError(f"out_indices {tuple(out_indices)} must be < num_stages")
        self.depth = depth
        self.groups = groups
        self.width_per_group = width_per_group
        self.stem_channels = stem_channels
        self.base_channels = base_channels
        self.expansion = expansion or 4
        self.num_stages = num_stages
        self.strides = tuple(strides)
        self.dilations = tuple(dilations)
        self.out_indices = tuple(out_indices)
        self.style = style
        self.deep_stem = deep_stem
        self.avg_down = avg_down
        self.frozen_stages = frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.zero_init_residual = zero_init_residual
        self.init_cfg = init_cfg
        self.pretrained = None
        if isinstance(init_cfg, Mapping) and init_cfg.get("type") == "Pretrained":
            self.pretrained = init_cfg.get("checkpoint")
        self.stage_blocks = self.arch_settings[depth][:num_stages]

        self._make_stem(in_channels, stem_channels)
        total = sum(self.arch_settings[depth])
        rates = torch.linspace(0, drop_path_rate, total, device="cpu").tolist()  # also under meta
        self.res_layers: list[str] = []
        in_ch, out_ch = stem_channels, base_channels * self.expansion
        for i, num_blocks in enumerate(self.stage_blocks):
            layer = self._make_layer(
                in_ch, out_ch, num_blocks, strides[i], dilations[i], rates[:num_blocks]
            )
            rates = rates[num_blocks:]
            in_ch, out_ch = out_ch, out_ch * 2
            self.add_module(f"layer{i + 1}", layer)
            self.res_layers.append(f"layer{i + 1}")
        self.feat_dim = in_ch
        self._init_weights()

    def _make_stem(self, in_channels: int, stem_channels: int) -> None:
        if self.deep_stem:
            cfg = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, inplace=True)
            half = stem_channels // 2
            self.stem = nn.Sequential(
                ConvModule(in_channels, half, 3, stride=2, padding=1, **cfg),
                ConvModule(half, half, 3, stride=1, padding=1, **cfg),
                ConvModule(half, stem_channels, 3, stride=1, padding=1, **cfg),
            )
        else:
            self.conv1 = build_conv_layer(
                self.conv_cfg, in_channels, stem_channels, 7, stride=2, padding=3, bias=False
            )
            self.bn1 = build_norm_layer(self.norm_cfg, stem_channels)[1]
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def _make_layer(self, in_ch, out_ch, num_blocks, stride, dilation, rates) -> nn.Sequential:
        downsample = None
        if stride != 1 or in_ch != out_ch:
            parts: list[nn.Module] = []
            conv_stride = stride
            if self.avg_down and stride != 1:
                conv_stride = 1
                parts.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
            parts.append(
                build_conv_layer(self.conv_cfg, in_ch, out_ch, 1, stride=conv_stride, bias=False)
            )
            parts.append(build_norm_layer(self.norm_cfg, out_ch)[1])
            downsample = nn.Sequential(*parts)
        common = dict(
            base_channels=self.base_channels,
            groups=self.groups,
            width_per_group=self.width_per_group,
            expansion=self.expansion,
            dilation=dilation,
            style=self.style,
            with_cp=self.with_cp,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
        )
        blocks = [
            Bottleneck(
                in_ch,
                out_ch,
                stride=stride,
                downsample=downsample,
                drop_path_rate=rates[0],
                **common,
            )
        ]
        blocks += [
            Bottleneck(out_ch, out_ch, stride=1, drop_path_rate=rates[i], **common)
            for i in range(1, num_blocks)
        ]
        return nn.Sequential(*blocks)

    def _init_weights(self) -> None:
        """Kaiming (fan_out) convs, unit norms, as MMPretrain's default ``init_cfg``; each
        block's last norm at zero with ``zero_init_residual``."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (_BatchNorm, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)

    def init_weights(self) -> LoadReport | None:
        """Load the ``init_cfg`` checkpoint (an MMPretrain classifier or a ResNeXt backbone)."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(x)  # (N, stem, H/4, W/4)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _apply_freezing(self) -> None:
        modules: list[nn.Module] = []
        if self.frozen_stages >= 0:
            modules = [self.stem] if self.deep_stem else [self.conv1, self.bn1]
        modules += [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]
        freeze(modules)


# --- variants -------------------------------------------------------------------------------

_IN1K = (
    "https://download.openmmlab.com/mmclassification/v0/resnext/"
    "resnext101_32x4d_b32x8_imagenet_20210506-e0fa3dd5.pth"
)


# MMAction2 publishes no checkpoint for this config (its metafile.yml does not list it); its
# backbone starts from the ImageNet ResNeXt above (pretrained=_IN1K loads it).
@variant(clip_shape=(3, 25, 224, 224), sampling=(1, 1, 25))
def resnext_101_32x4d_tsn_1x1x3(
    num_classes: int = 400, pretrained: str | None = None, **kwargs
) -> Recognizer2D:
    """TSN with ResNeXt-101 32x4d (trained on 3 segments, tested on 25)."""
    init_cfg = None
    if pretrained is not None:
        init_cfg = dict(type="Pretrained", checkpoint=pretrained, prefix="backbone")
    backbone = ResNeXt(
        101, groups=32, width_per_group=4, out_indices=(3,), init_cfg=init_cfg, **kwargs
    )
    head = TSNHead(
        num_classes=num_classes,
        in_channels=2048,
        dropout_ratio=0.4,
        init_std=0.01,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)
