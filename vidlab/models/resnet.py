"""ResNet (He et al., 2016) with MMAction2's arguments and state-dict layout.

The 2D backbone of TSN and TSM. Keys: ``conv1.conv.weight``, ``conv1.bn.*``,
``layer{i}.{j}.conv{k}.conv.weight``, ``layer{i}.{j}.conv{k}.bn.*``,
``layer{i}.0.downsample.conv.weight`` / ``.downsample.bn.*``. ``from_torchvision`` converts
torchvision's names (``bn1``, ``downsample.0``/``.1``); ``pretrained=`` files of either layout
load through ``vidlab.models.pretrained``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.models._checks import frozen
from vidlab.models.layers.checkpointing import checkpointed
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.layers.freeze import freeze, norms_to_eval
from vidlab.models.pretrained import load_pretrained


class _ResidualBlock(nn.Module):
    """``relu(residual(x))``, with optional gradient checkpointing of the residual branch."""

    with_cp = False

    def _residual(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(checkpointed(self._residual, x, enabled=self.with_cp))


class BasicBlock(_ResidualBlock):
    """Two 3x3 convs with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        style: str = "pytorch",
        conv_cfg: Mapping | None = frozen(type="Conv"),
        norm_cfg: Mapping | None = frozen(type="BN", requires_grad=True),
        act_cfg: Mapping | None = frozen(type="ReLU", inplace=True),
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if style not in ("pytorch", "caffe"):
            raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
        common = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(
            inplanes,
            planes,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            act_cfg=act_cfg,
            **common,
        )
        self.conv2 = ConvModule(planes, planes, 3, padding=1, act_cfg=None, **common)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.style = style
        self.stride = stride
        self.dilation = dilation
        self.with_cp = with_cp

    def _residual(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv2(self.conv1(x)) + identity


class Bottleneck(_ResidualBlock):
    """1x1 -> 3x3 -> 1x1 convs with a residual connection (ResNet-50/101/152).

    ``style='pytorch'`` puts the stride on the 3x3 conv, ``'caffe'`` on the first 1x1.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        style: str = "pytorch",
        conv_cfg: Mapping | None = frozen(type="Conv"),
        norm_cfg: Mapping | None = frozen(type="BN", requires_grad=True),
        act_cfg: Mapping | None = frozen(type="ReLU", inplace=True),
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if style not in ("pytorch", "caffe"):
            raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
        self.inplanes = inplanes
        self.planes = planes
        self.conv1_stride, self.conv2_stride = (1, stride) if style == "pytorch" else (stride, 1)
        common = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(
            inplanes, planes, 1, stride=self.conv1_stride, act_cfg=act_cfg, **common
        )
        self.conv2 = ConvModule(
            planes,
            planes,
            3,
            stride=self.conv2_stride,
            padding=dilation,
            dilation=dilation,
            act_cfg=act_cfg,
            **common,
        )
        self.conv3 = ConvModule(planes, planes * self.expansion, 1, act_cfg=None, **common)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.dilation = dilation
        self.with_cp = with_cp

    def _residual(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv3(self.conv2(self.conv1(x))) + identity


def make_res_layer(
    block: type[nn.Module],
    inplanes: int,
    planes: int,
    blocks: int,
    stride: int = 1,
    dilation: int = 1,
    style: str = "pytorch",
    conv_cfg: Mapping | None = None,
    norm_cfg: Mapping | None = None,
    act_cfg: Mapping | None = None,
    with_cp: bool = False,
) -> nn.Sequential:
    """One ResNet stage: ``blocks`` blocks, the first one strided and projected if needed."""
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = ConvModule(
            inplanes,
            planes * block.expansion,
            1,
            stride=stride,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=None,
        )
    kwargs = dict(
        style=style, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, with_cp=with_cp
    )
    layers = [block(inplanes, planes, stride, dilation, downsample, **kwargs)]
    inplanes = planes * block.expansion
    layers += [block(inplanes, planes, 1, dilation, **kwargs) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


# Channels of the last stage's output, by depth.
FEAT_DIM = {18: 512, 34: 512, 50: 2048, 101: 2048, 152: 2048}


class ResNet(nn.Module):
    """ResNet backbone: ``(N, C, H, W)`` -> the feature map of each stage in ``out_indices``.

    Args:
        depth: 18, 34, 50, 101 or 152.
        pretrained: Weights to start from, loaded by ``init_weights`` when training starts: a
            local file, a URL or ``torchvision://resnet50`` (fetched into the cache, see
            ``vidlab.models.pretrained``); None: random init.
        torchvision_pretrain: Accepted for MMAction2 compatibility; the file's layout
            (torchvision or vidlab/MMAction2, backbone or whole recognizer) is detected from its
            key names.
        in_channels: Input channels.
        num_stages: Number of residual stages (1-4).
        out_indices: Stages whose outputs are returned (a tuple if more than one).
        strides: Stride of the first block of each stage.
        dilations: Dilation of each stage.
        style: ``'pytorch'`` (stride on the 3x3 conv) or ``'caffe'`` (on the first 1x1).
        frozen_stages: Stages to freeze (eval mode, no gradients); 0 freezes the stem only,
            -1 nothing.
        conv_cfg: Conv layer config.
        norm_cfg: Norm layer config (``requires_grad`` applies to its affine parameters).
        act_cfg: Activation config.
        norm_eval: Keep every BatchNorm in eval mode while training (frozen statistics).
        partial_bn: Freeze every BatchNorm but the first one (TSN's partial BN).
        with_cp: Gradient checkpointing in the blocks (less memory, more compute).
        init_cfg: Accepted for MMAction2 config compatibility; initialization is fixed.
    """

    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        depth: int,
        pretrained: str | None = None,
        torchvision_pretrain: bool = True,
        in_channels: int = 3,
        num_stages: int = 4,
        out_indices: Sequence[int] = (3,),
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 1, 1, 1),
        style: str = "pytorch",
        frozen_stages: int = -1,
        conv_cfg: Mapping | None = frozen(type="Conv"),
        norm_cfg: Mapping | None = frozen(type="BN2d", requires_grad=True),
        act_cfg: Mapping | None = frozen(type="ReLU", inplace=True),
        norm_eval: bool = False,
        partial_bn: bool = False,
        with_cp: bool = False,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(
                f"invalid depth {depth} for ResNet; choose from {sorted(self.arch_settings)}"
            )
        if not 1 <= num_stages <= 4:
            raise ValueError(f"num_stages must be in 1..4, got {num_stages}")
        out_indices = tuple(out_indices)
        if max(out_indices) >= num_stages:
            raise ValueError(f"out_indices {out_indices} must be < num_stages={num_stages}")
        if not len(strides) == len(dilations) == num_stages:
            raise ValueError(
                f"strides {tuple(strides)} and dilations {tuple(dilations)} need "
                f"num_stages={num_stages} entries each"
            )
        self.depth = depth
        self.pretrained = pretrained
        self.torchvision_pretrain = torchvision_pretrain
        self.in_channels = in_channels
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.strides = tuple(strides)
        self.dilations = tuple(dilations)
        self.style = style
        self.frozen_stages = frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.partial_bn = partial_bn
        self.with_cp = with_cp
        self.init_cfg = init_cfg

        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:num_stages]

        self.conv1 = ConvModule(
            in_channels,
            64,
            7,
            stride=2,
            padding=3,
            bias=False,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.res_layers: list[str] = []
        inplanes = 64
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = 64 * 2**i
            layer = make_res_layer(
                self.block,
                inplanes,
                planes,
                num_blocks,
                stride=strides[i],
                dilation=dilations[i],
                style=style,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                with_cp=with_cp,
            )
            inplanes = planes * self.block.expansion
            self.add_module(f"layer{i + 1}", layer)
            self.res_layers.append(f"layer{i + 1}")
        self.feat_dim = inplanes
        self._apply_freezing()

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained``: called when training starts (or by ``create_model``),
        never while building, so a config builds and prints offline. Convs and norms are
        already initialized at construction.

        The file may be a ResNet backbone, a whole recognizer (its ``backbone.*`` weights are
        taken, so a trained model can start another one) or torchvision's ResNet; the layout is
        read off the key names, so ``torchvision_pretrain`` / ``pretrained2d`` need not match it.
        """
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained, from_torchvision, look_through=_unwrapped)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        x = self.maxpool(self.conv1(x))  # (N, 64, H/4, W/4)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    # --- freezing ------------------------------------------------------------------------
    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages < 0:
            return []
        return [self.conv1] + [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]

    def _partial_bn_layers(self) -> list[nn.Module]:
        if not self.partial_bn:
            return []
        return [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)][1:]

    def _apply_freezing(self) -> None:
        freeze(self._frozen_modules())
        freeze(self._partial_bn_layers())

    def train(self, mode: bool = True):
        """Train mode that keeps frozen stages, ``norm_eval`` and partial BN in eval mode."""
        super().train(mode)
        if mode:
            self._apply_freezing()
            if self.norm_eval:
                norms_to_eval(self)
        return self


# --- other zoos' names ------------------------------------------------------------------------


def _unwrapped(name: str) -> str:
    """Drop wrapper segments (``TemporalShift.net``, TIN's ``CombineNet.net2``, the non-local
    wrapper's ``.block``) so a name matches the plain ResNet's."""
    return re.sub(r"\.(net|net2|block)(?=\.)", "", name)


def _torchvision_name(name: str) -> str:
    """vidlab/MMAction2 ResNet name -> torchvision name (``layer1.0.conv2.bn.weight`` ->
    ``layer1.0.bn2.weight``, ``layer1.0.downsample.conv.weight`` -> ``layer1.0.downsample.0.weight``,
    ``conv1.bn.weight`` -> ``bn1.weight``)."""
    name = name.replace(".downsample.conv.", ".downsample.0.")
    name = name.replace(".downsample.bn.", ".downsample.1.")
    name = re.sub(r"(^|\.)conv(\d)\.conv\.", r"\1conv\2.", name)
    name = re.sub(r"(^|\.)conv(\d)\.bn\.", r"\1bn\2.", name)
    return name


def from_torchvision(
    state_dict: Mapping[str, Tensor], model: nn.Module
) -> dict[str, Tensor] | None:
    """torchvision's ResNet names -> ``model``'s, or None when ``state_dict`` is not torchvision's.

    torchvision's ``conv1``/``bn1``, ``layerX.Y.convN``/``bnN`` and ``downsample.0``/``.1``
    become ``conv1.conv``/``conv1.bn``, ``layerX.Y.convN.conv``/``.bn`` and
    ``downsample.conv``/``.bn``; wrappers such as TemporalShift's ``.net`` are looked through.
    ``fc.*`` has no counterpart and stays unexpected.
    """
    if "conv1.weight" not in state_dict:
        return None
    ours = {_torchvision_name(_unwrapped(k)): k for k in model.state_dict()}
    return {ours.get(k, k): v for k, v in state_dict.items()}
