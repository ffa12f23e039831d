"""ResNet (He et al., 2016) with MMAction2's arguments and state-dict layout.

Keys: ``conv1.conv.weight``, ``conv1.bn.*``, ``layer{i}.{j}.conv{k}.conv.weight``,
``layer{i}.{j}.conv{k}.bn.*``, ``layer{i}.0.downsample.conv.weight`` / ``.downsample.bn.*``.
``load_torchvision_resnet`` converts torchvision's names (``bn1``, ``downsample.0``/``.1``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor
from torch.utils import checkpoint as cp

from vidlab.models.layers.conv_module import ConvModule

logger = logging.getLogger(__name__)

_BatchNorm = nn.modules.batchnorm._BatchNorm


class _ResidualBlock(nn.Module):
    """``relu(residual(x))``, with optional gradient checkpointing of the residual branch."""

    with_cp = False

    def _residual(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self._residual, x, use_reentrant=False)
        else:
            out = self._residual(x)
        return self.relu(out)


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
        conv_cfg: dict | None = dict(type="Conv"),  # noqa: B006
        norm_cfg: dict | None = dict(type="BN", requires_grad=True),  # noqa: B006
        act_cfg: dict | None = dict(type="ReLU", inplace=True),  # noqa: B006
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
        conv_cfg: dict | None = dict(type="Conv"),  # noqa: B006
        norm_cfg: dict | None = dict(type="BN", requires_grad=True),  # noqa: B006
        act_cfg: dict | None = dict(type="ReLU", inplace=True),  # noqa: B006
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
    conv_cfg: dict | None = None,
    norm_cfg: dict | None = None,
    act_cfg: dict | None = None,
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


class ResNet(nn.Module):
    """ResNet backbone: ``(N, C, H, W)`` -> the feature map of each stage in ``out_indices``.

    Args:
        depth: 18, 34, 50, 101 or 152.
        pretrained: A local checkpoint file to initialize from (None: random init). URLs and
            ``torchvision://`` names are looked up in the torch hub cache only; vidlab never
            downloads weights.
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
        conv_cfg: dict | None = dict(type="Conv"),  # noqa: B006
        norm_cfg: dict | None = dict(type="BN2d", requires_grad=True),  # noqa: B006
        act_cfg: dict | None = dict(type="ReLU", inplace=True),  # noqa: B006
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

        if pretrained is not None:
            self.init_weights()
        self._apply_freezing()

    def init_weights(self) -> None:
        """Load ``self.pretrained`` (convs and norms are already initialized at construction).

        A whole recognizer checkpoint works too: its ``backbone.*`` weights are taken, so a
        trained model can be the starting point of another one.
        """
        if self.pretrained is None:
            return
        path = resolve_pretrained(self.pretrained)
        state_dict = load_state_dict_file(path)
        # The layout is read off the file (torchvision's names have no ConvModule level), so
        # torchvision_pretrain / pretrained2d need not match it.
        if "conv1.weight" in state_dict:
            report = load_torchvision_resnet(self, state_dict)
        else:
            report = load_backbone_state_dict(self, state_dict)
        if report["loaded"] == 0:
            raise ValueError(
                f"pretrained={self.pretrained!r}: none of the {len(state_dict)} tensors in {path} "
                f"fit this {type(self).__name__} (first keys: {sorted(state_dict)[:3]}); "
                "expected a ResNet backbone, a recognizer checkpoint with backbone.* keys, or a "
                "torchvision ResNet (torchvision_pretrain=True)"
            )

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
        for m in self._frozen_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
        for m in self._partial_bn_layers():
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        """Train mode that keeps frozen stages, ``norm_eval`` and partial BN in eval mode."""
        super().train(mode)
        if mode:
            self._apply_freezing()
            if self.norm_eval:
                for m in self.modules():
                    if isinstance(m, _BatchNorm):
                        m.eval()
        return self


# --- pretrained weights ---------------------------------------------------------------------

# torchvision's ImageNet ResNet files (V1 and the older names), for a look-up in the hub cache.
_TORCHVISION_FILES = {
    "resnet18": ("resnet18-f37072fd.pth", "resnet18-5c106cde.pth"),
    "resnet34": ("resnet34-b627a593.pth", "resnet34-333f7ec4.pth"),
    "resnet50": ("resnet50-0676ba61.pth", "resnet50-19c8e357.pth", "resnet50-11ad3fa6.pth"),
    "resnet101": ("resnet101-63fe2227.pth", "resnet101-5d3b4d8f.pth"),
    "resnet152": ("resnet152-394f9c45.pth", "resnet152-b121ed2d.pth"),
}


def resolve_pretrained(pretrained: str) -> str:
    """Turn ``pretrained`` into a local file path, or raise a clear error.

    Local paths are returned as they are. ``torchvision://resnetXX`` names and http(s) URLs are
    looked up by file name in the torch hub cache (``$TORCH_HOME/hub/checkpoints``); vidlab
    never downloads weights at run time.
    """
    if not isinstance(pretrained, str):
        raise TypeError(f"pretrained must be a file path or None, got {type(pretrained).__name__}")
    is_remote = pretrained.startswith(("torchvision://", "http://", "https://", "open-mmlab://"))
    if not is_remote:
        if not os.path.isfile(pretrained):
            raise FileNotFoundError(f"pretrained={pretrained!r}: no such file")
        return pretrained
    if pretrained.startswith("torchvision://"):
        names = _TORCHVISION_FILES.get(pretrained[len("torchvision://") :], ())
    else:
        names = (os.path.basename(pretrained.split("?")[0]),)
    cache = os.path.join(torch.hub.get_dir(), "checkpoints")
    for name in names:
        path = os.path.join(cache, name)
        if os.path.isfile(path):
            return path
    raise ValueError(
        f"pretrained={pretrained!r} cannot be downloaded here: vidlab never fetches weights at "
        f"run time. Download the file yourself and pass its local path (pretrained="
        f"'/path/to/{names[0] if names else 'weights.pth'}'), put it in {cache}, or set "
        f"pretrained=None to start from random weights "
        f"(e.g. --cfg-options model.backbone.pretrained=None)."
    )


def load_state_dict_file(path: str) -> dict[str, Tensor]:
    """The weights in a checkpoint file (vidlab, MMAction2, torchvision), read safely."""
    from vidlab.checkpoint import extract_state_dict, load_checkpoint

    state_dict = extract_state_dict(load_checkpoint(path))
    return {k: v for k, v in state_dict.items() if isinstance(v, Tensor)}


def _unwrapped(name: str) -> str:
    """Drop wrapper segments (``TemporalShift.net``) so a name matches the plain ResNet's."""
    return re.sub(r"\.net(?=\.)", "", name)


def _torchvision_name(name: str) -> str:
    """vidlab/MMAction2 ResNet name -> torchvision name (``layer1.0.conv2.bn.weight`` ->
    ``layer1.0.bn2.weight``, ``layer1.0.downsample.conv.weight`` -> ``layer1.0.downsample.0.weight``,
    ``conv1.bn.weight`` -> ``bn1.weight``)."""
    name = name.replace(".downsample.conv.", ".downsample.0.")
    name = name.replace(".downsample.bn.", ".downsample.1.")
    name = re.sub(r"(^|\.)conv(\d)\.conv\.", r"\1conv\2.", name)
    name = re.sub(r"(^|\.)conv(\d)\.bn\.", r"\1bn\2.", name)
    return name


def _copy_matching(model: nn.Module, source: Mapping[str, Tensor], name_map) -> dict:
    """Copy ``source[name_map(key)]`` into each of ``model``'s tensors; return what happened."""
    targets = dict(model.state_dict(keep_vars=True))
    used, missing, mismatched = set(), [], []
    with torch.no_grad():
        for key, target in targets.items():
            src_key = name_map(key)
            if src_key not in source:
                if not key.endswith("num_batches_tracked"):
                    missing.append(key)
                continue
            value = source[src_key]
            used.add(src_key)
            if value.shape != target.shape:
                mismatched.append(f"{key}: {tuple(value.shape)} in file vs {tuple(target.shape)}")
                continue
            target.copy_(value)
    report = dict(
        loaded=len(used) - len(mismatched),
        missing=missing,
        unexpected=sorted(set(source) - used),
        shape_mismatch=mismatched,
    )
    for what in ("missing", "unexpected", "shape_mismatch"):
        if report[what]:
            logger.warning("pretrained weights, %s: %s", what.replace("_", " "), report[what])
    return report


def load_torchvision_resnet(model: nn.Module, state_dict: Mapping[str, Tensor]) -> dict:
    """Load a torchvision-format ResNet state dict into a vidlab ``ResNet`` (or ``ResNetTSM``).

    torchvision's ``conv1``/``bn1``, ``layerX.Y.convN``/``bnN`` and ``downsample.0``/``.1`` are
    mapped onto ``conv1.conv``/``conv1.bn``, ``layerX.Y.convN.conv``/``.bn`` and
    ``downsample.conv``/``.bn``; wrappers such as TemporalShift's ``.net`` are looked through.
    Tensors whose shapes differ (another ``in_channels``) are skipped, ``fc.*`` is unused.

    Returns:
        A dict with ``loaded`` (count), ``missing``, ``unexpected`` and ``shape_mismatch``.
    """
    return _copy_matching(model, state_dict, lambda k: _torchvision_name(_unwrapped(k)))


def load_backbone_state_dict(model: nn.Module, state_dict: Mapping[str, Tensor]) -> dict:
    """Load a vidlab/MMAction2-format backbone state dict; from a whole recognizer's state dict
    only the ``backbone.`` entries are taken (prefix dropped)."""
    if any(k.startswith("backbone.") for k in state_dict):
        state_dict = {
            k[len("backbone.") :]: v for k, v in state_dict.items() if k.startswith("backbone.")
        }
    # A TSM model may load a plain ResNet's weights: look through its wrappers if needed.
    return _copy_matching(model, state_dict, lambda k: k if k in state_dict else _unwrapped(k))
