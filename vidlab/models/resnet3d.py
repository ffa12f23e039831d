"""3D ResNet with MMAction2's ``ResNet3d`` arguments and state-dict layout.

The backbone of I3D, SlowOnly, CSN and R(2+1)D, and of SlowFast's pathways. Keys as
MMAction2's: ``conv1.conv.weight``/``conv1.bn.*``, ``layer{i}.{j}.conv{k}.conv.weight``,
``layer{i}.{j}.conv{k}.bn.*``, ``layer{i}.0.downsample.conv/bn.*`` and, where a block has a
non-local block, ``layer{i}.{j}.non_local_block.*``.

Built to be extended (MMAction2's ``ResNet3dPathway``, ``ResNet3dCSN`` and ``ResNet2Plus1d``
subclass ``ResNet3d``): a subclass may override ``_make_stem_layer`` (the stem),
``_lateral_inplanes`` (extra input channels of each stage, for lateral connections),
``_block_kwargs`` (extra block arguments, e.g. CSN's ``bottleneck_mode``) and the class
attribute ``arch_settings``; ``make_res_layer`` builds one stage.

2D ImageNet ResNets (torchvision's names or MMAction2/vidlab's) are inflated into 3D by
:func:`inflate_2d`, the converter ``init_weights`` uses: each 2D kernel is repeated along time
and divided by the temporal kernel size, so a static clip gives the 2D network's features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.compat.layers import build_activation_layer
from vidlab.models._checks import frozen
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.layers.freeze import FreezableBackbone, freeze
from vidlab.models.layers.non_local import NonLocal3d
from vidlab.models.pretrained import load_pretrained
from vidlab.models.resnet import _ResidualBlock, _torchvision_name, _unwrapped


def _triple(value) -> tuple[int, int, int]:
    return tuple(value) if isinstance(value, Sequence) else (value,) * 3


def _per_stage(value, n: int) -> tuple:
    """An int for every stage, or one entry per stage (as torch's ``_ntuple``)."""
    return tuple(value) if isinstance(value, Sequence) else (value,) * n


class _Block3d(_ResidualBlock):
    """``non_local(relu(residual(x)))``: the 2D block's residual step (with its optional
    gradient checkpointing), then an optional non-local block."""

    def _add_non_local(self, channels: int, non_local: bool, non_local_cfg: Mapping) -> None:
        self.non_local = non_local
        self.non_local_cfg = non_local_cfg
        if non_local:
            self.non_local_block = NonLocal3d(channels, **dict(non_local_cfg or {}))

    def forward(self, x: Tensor) -> Tensor:
        out = super().forward(x)
        if self.non_local:
            out = self.non_local_block(out)
        return out


class BasicBlock3d(_Block3d):
    """Two 3x3(x3) convs with a residual connection (3D ResNet-18/34).

    Args:
        inplanes: Input channels.
        planes: Output channels.
        spatial_stride: Spatial stride of the first conv.
        temporal_stride: Temporal stride of the first conv.
        dilation: Spatial dilation of the first conv.
        downsample: Projection of the identity, if shapes change.
        style: ``'pytorch'`` or ``'caffe'`` (the same for this block).
        inflate: 3x3x3 kernels (else 1x3x3).
        inflate_style: Ignored (accepted as MMAction2's ``**kwargs``).
        non_local: Append a non-local block.
        non_local_cfg: ``NonLocal3d`` arguments.
        conv_cfg: Conv layer spec.
        norm_cfg: Norm layer spec.
        act_cfg: Activation spec.
        with_cp: Gradient checkpointing of the residual branch.
    """

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        spatial_stride: int = 1,
        temporal_stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        style: str = "pytorch",
        inflate: bool = True,
        inflate_style: str = "3x1x1",
        non_local: bool = False,
        non_local_cfg: Mapping = frozen(),
        conv_cfg: Mapping = frozen(type="Conv3d"),
        norm_cfg: Mapping = frozen(type="BN3d"),
        act_cfg: Mapping = frozen(type="ReLU"),
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if style not in ("pytorch", "caffe"):
            raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
        self.inplanes, self.planes = inplanes, planes
        self.spatial_stride, self.temporal_stride = spatial_stride, temporal_stride
        self.dilation, self.style, self.inflate = dilation, style, inflate
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.with_cp = with_cp
        kt, pt = (3, 1) if inflate else (1, 0)
        common = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(
            inplanes,
            planes,
            (kt, 3, 3),
            stride=(temporal_stride, spatial_stride, spatial_stride),
            padding=(pt, dilation, dilation),
            dilation=(1, dilation, dilation),
            act_cfg=act_cfg,
            **common,
        )
        self.conv2 = ConvModule(
            planes, planes * self.expansion, (kt, 3, 3), padding=(pt, 1, 1), act_cfg=None, **common
        )
        self.downsample = downsample
        self.relu = build_activation_layer(act_cfg)
        self._add_non_local(planes * self.expansion, non_local, non_local_cfg)

    def _residual(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv2(self.conv1(x)) + identity


class Bottleneck3d(_Block3d):
    """1x1x1 -> 1x3x3 -> 1x1x1 convs, the first or second inflated in time (3D ResNet-50+).

    ``inflate_style='3x1x1'`` inflates the first conv (3x1x1), ``'3x3x3'`` the second (3x3x3);
    ``style='pytorch'`` strides the second conv, ``'caffe'`` the first. Other arguments as
    :class:`BasicBlock3d`.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        spatial_stride: int = 1,
        temporal_stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        style: str = "pytorch",
        inflate: bool = True,
        inflate_style: str = "3x1x1",
        non_local: bool = False,
        non_local_cfg: Mapping = frozen(),
        conv_cfg: Mapping = frozen(type="Conv3d"),
        norm_cfg: Mapping = frozen(type="BN3d"),
        act_cfg: Mapping = frozen(type="ReLU"),
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if style not in ("pytorch", "caffe"):
            raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
        if inflate_style not in ("3x1x1", "3x3x3"):
            raise ValueError(f"inflate_style must be '3x1x1' or '3x3x3', got {inflate_style!r}")
        self.inplanes, self.planes = inplanes, planes
        self.spatial_stride, self.temporal_stride = spatial_stride, temporal_stride
        self.dilation, self.style = dilation, style
        self.inflate, self.inflate_style = inflate, inflate_style
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.with_cp = with_cp
        if style == "pytorch":
            self.conv1_stride_s, self.conv1_stride_t = 1, 1
            self.conv2_stride_s, self.conv2_stride_t = spatial_stride, temporal_stride
        else:
            self.conv1_stride_s, self.conv1_stride_t = spatial_stride, temporal_stride
            self.conv2_stride_s, self.conv2_stride_t = 1, 1
        # temporal kernel of (conv1, conv2)
        kt1, kt2 = (1, 1) if not inflate else ((3, 1) if inflate_style == "3x1x1" else (1, 3))
        common = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(
            inplanes,
            planes,
            (kt1, 1, 1),
            stride=(self.conv1_stride_t, self.conv1_stride_s, self.conv1_stride_s),
            padding=(kt1 // 2, 0, 0),
            act_cfg=act_cfg,
            **common,
        )
        self.conv2 = ConvModule(
            planes,
            planes,
            (kt2, 3, 3),
            stride=(self.conv2_stride_t, self.conv2_stride_s, self.conv2_stride_s),
            padding=(kt2 // 2, dilation, dilation),
            dilation=(1, dilation, dilation),
            act_cfg=act_cfg,
            **common,
        )
        self.conv3 = ConvModule(planes, planes * self.expansion, 1, act_cfg=None, **common)
        self.downsample = downsample
        self.relu = build_activation_layer(act_cfg)
        self._add_non_local(planes * self.expansion, non_local, non_local_cfg)

    def _residual(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.conv3(self.conv2(self.conv1(x))) + identity


class ResNet3d(FreezableBackbone):
    """3D ResNet backbone: ``(N, C, T, H, W)`` -> the feature map of each stage in
    ``out_indices`` (a tuple if more than one).

    Args:
        depth: 18, 34, 50, 101 or 152.
        pretrained: Weights loaded by ``init_weights`` (a file, URL or ``torchvision://``
            name): a 3D backbone or recognizer, or a 2D ResNet that is inflated.
        stage_blocks: Blocks per stage (default: by depth).
        pretrained2d: Accepted for MMAction2 compatibility; 2D files are recognized by their
            4D conv kernels and inflated either way.
        in_channels: Input channels.
        num_stages: Residual stages (1-4).
        base_channels: Stem output channels (stage ``i`` has ``base_channels * 2**i`` planes).
        out_indices: Stages whose outputs are returned.
        spatial_strides: Spatial stride of each stage's first block.
        temporal_strides: Temporal stride of each stage's first block.
        dilations: Spatial dilation of each stage.
        conv1_kernel: Stem conv kernel ``(t, h, w)``.
        conv1_stride_s: Stem conv spatial stride.
        conv1_stride_t: Stem conv temporal stride.
        pool1_stride_s: Stem max-pool spatial stride.
        pool1_stride_t: Stem max-pool temporal stride.
        with_pool1: Use the stem max-pool.
        with_pool2: Halve time with a max-pool after the first stage.
        style: ``'pytorch'`` or ``'caffe'``.
        frozen_stages: Stages to freeze (eval mode, no gradients); 0: the stem only.
        inflate: Per stage, an int or one flag per block: inflate its conv in time.
        inflate_style: ``'3x1x1'`` or ``'3x3x3'`` (see :class:`Bottleneck3d`).
        conv_cfg: Conv layer spec.
        norm_cfg: Norm layer spec.
        act_cfg: Activation spec.
        norm_eval: Keep every BatchNorm in eval mode while training.
        with_cp: Gradient checkpointing in the blocks.
        non_local: Per stage, an int or one flag per block: append a non-local block.
        non_local_cfg: ``NonLocal3d`` arguments (``mode``, ``sub_sample``, ``use_scale``, ...).
        zero_init_residual: Start the last norm of each block at zero (random init only).
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    arch_settings = {
        18: (BasicBlock3d, (2, 2, 2, 2)),
        34: (BasicBlock3d, (3, 4, 6, 3)),
        50: (Bottleneck3d, (3, 4, 6, 3)),
        101: (Bottleneck3d, (3, 4, 23, 3)),
        152: (Bottleneck3d, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        depth: int = 50,
        pretrained: str | None = None,
        stage_blocks: Sequence[int] | None = None,
        pretrained2d: bool = True,
        in_channels: int = 3,
        num_stages: int = 4,
        base_channels: int = 64,
        out_indices: Sequence[int] = (3,),
        spatial_strides: Sequence[int] = (1, 2, 2, 2),
        temporal_strides: Sequence[int] = (1, 1, 1, 1),
        dilations: Sequence[int] = (1, 1, 1, 1),
        conv1_kernel: Sequence[int] = (3, 7, 7),
        conv1_stride_s: int = 2,
        conv1_stride_t: int = 1,
        pool1_stride_s: int = 2,
        pool1_stride_t: int = 1,
        with_pool1: bool = True,
        with_pool2: bool = True,
        style: str = "pytorch",
        frozen_stages: int = -1,
        inflate: Sequence = (1, 1, 1, 1),
        inflate_style: str = "3x1x1",
        conv_cfg: Mapping = frozen(type="Conv3d"),
        norm_cfg: Mapping = frozen(type="BN3d", requires_grad=True),
        act_cfg: Mapping = frozen(type="ReLU", inplace=True),
        norm_eval: bool = False,
        with_cp: bool = False,
        non_local: Sequence = (0, 0, 0, 0),
        non_local_cfg: Mapping = frozen(),
        zero_init_residual: bool = True,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(f"invalid depth {depth} for {type(self).__name__}")
        if not 1 <= num_stages <= 4:
            raise ValueError(f"num_stages must be in 1..4, got {num_stages}")
        out_indices = tuple(out_indices)
        if max(out_indices) >= num_stages:
            raise ValueError(f"out_indices {out_indices} must be < num_stages={num_stages}")
        if not len(spatial_strides) == len(temporal_strides) == len(dilations) == num_stages:
            raise ValueError(
                f"spatial_strides, temporal_strides and dilations need num_stages={num_stages} "
                "entries each"
            )
        self.depth = depth
        self.pretrained = pretrained
        self.pretrained2d = pretrained2d
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.spatial_strides = tuple(spatial_strides)
        self.temporal_strides = tuple(temporal_strides)
        self.dilations = tuple(dilations)
        self.conv1_kernel = _triple(conv1_kernel)
        self.conv1_stride_s, self.conv1_stride_t = conv1_stride_s, conv1_stride_t
        self.pool1_stride_s, self.pool1_stride_t = pool1_stride_s, pool1_stride_t
        self.with_pool1, self.with_pool2 = with_pool1, with_pool2
        self.style = style
        self.frozen_stages = frozen_stages
        self.stage_inflations = _per_stage(inflate, num_stages)
        self.non_local_stages = _per_stage(non_local, num_stages)
        self.inflate_style = inflate_style
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.non_local_cfg = non_local_cfg
        self.zero_init_residual = zero_init_residual
        self.init_cfg = init_cfg

        self.block, default_blocks = self.arch_settings[depth]
        if stage_blocks is None:
            stage_blocks = default_blocks[:num_stages]
        if len(stage_blocks) != num_stages:
            raise ValueError(f"stage_blocks {tuple(stage_blocks)} needs {num_stages} entries")
        self.stage_blocks = tuple(stage_blocks)

        self._make_stem_layer()
        self.inplanes = base_channels
        lateral_inplanes = self._lateral_inplanes()
        self.res_layers: list[str] = []
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            layer = self.make_res_layer(
                self.block,
                self.inplanes + lateral_inplanes[i],
                planes,
                num_blocks,
                spatial_stride=self.spatial_strides[i],
                temporal_stride=self.temporal_strides[i],
                dilation=self.dilations[i],
                style=style,
                inflate=self.stage_inflations[i],
                inflate_style=inflate_style,
                non_local=self.non_local_stages[i],
                non_local_cfg=non_local_cfg,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                with_cp=with_cp,
                **self._block_kwargs(),
            )
            self.inplanes = planes * self.block.expansion
            self.add_module(f"layer{i + 1}", layer)
            self.res_layers.append(f"layer{i + 1}")
        self.feat_dim = self.block.expansion * base_channels * 2 ** (len(self.stage_blocks) - 1)
        self._init_residuals()
        self._apply_freezing()

    # --- construction hooks for subclasses --------------------------------------------------
    def _make_stem_layer(self) -> None:
        """``conv1`` (conv-norm-act), ``maxpool`` (1x3x3) and ``pool2`` (2x1x1 in time)."""
        self.conv1 = ConvModule(
            self.in_channels,
            self.base_channels,
            self.conv1_kernel,
            stride=(self.conv1_stride_t, self.conv1_stride_s, self.conv1_stride_s),
            padding=tuple((k - 1) // 2 for k in self.conv1_kernel),
            bias=False,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
        )
        self.maxpool = nn.MaxPool3d(
            kernel_size=(1, 3, 3),
            stride=(self.pool1_stride_t, self.pool1_stride_s, self.pool1_stride_s),
            padding=(0, 1, 1),
        )
        self.pool2 = nn.MaxPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1))

    def _lateral_inplanes(self) -> list[int]:
        """Extra input channels of each stage (lateral connections of SlowFast's slow path)."""
        return [0] * self.num_stages

    def _block_kwargs(self) -> dict:
        """Extra arguments for every block (CSN: ``bottleneck_mode``)."""
        return {}

    @staticmethod
    def make_res_layer(
        block: type[nn.Module],
        inplanes: int,
        planes: int,
        blocks: int,
        spatial_stride: int = 1,
        temporal_stride: int = 1,
        dilation: int = 1,
        style: str = "pytorch",
        inflate: int | Sequence[int] = 1,
        inflate_style: str = "3x1x1",
        non_local: int | Sequence[int] = 0,
        non_local_cfg: Mapping = frozen(),
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = None,
        act_cfg: Mapping | None = None,
        with_cp: bool = False,
        **block_kwargs,
    ) -> nn.Sequential:
        """One stage: ``blocks`` blocks, the first strided and projected where needed.

        ``inflate`` and ``non_local`` are an int for all blocks or one flag per block.
        """
        inflate = _per_stage(inflate, blocks)
        non_local = _per_stage(non_local, blocks)
        if len(inflate) != blocks or len(non_local) != blocks:
            raise ValueError(
                f"inflate {inflate} and non_local {non_local} need one flag per block ({blocks})"
            )
        downsample = None
        if spatial_stride != 1 or inplanes != planes * block.expansion:
            downsample = ConvModule(
                inplanes,
                planes * block.expansion,
                1,
                stride=(temporal_stride, spatial_stride, spatial_stride),
                bias=False,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=None,
            )
        common = dict(
            dilation=dilation,
            style=style,
            inflate_style=inflate_style,
            non_local_cfg=non_local_cfg,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            with_cp=with_cp,
            **block_kwargs,
        )
        layers = []
        for i in range(blocks):
            first = i == 0
            layers.append(
                block(
                    inplanes if first else planes * block.expansion,
                    planes,
                    spatial_stride=spatial_stride if first else 1,
                    temporal_stride=temporal_stride if first else 1,
                    downsample=downsample if first else None,
                    inflate=inflate[i] == 1,
                    non_local=non_local[i] == 1,
                    **common,
                )
            )
        return nn.Sequential(*layers)

    def _init_residuals(self) -> None:
        """Zero the last norm of each block (``zero_init_residual``), as MMAction2's random
        init does: each block starts as the identity."""
        if not self.zero_init_residual:
            return
        for m in self.modules():
            last = None
            if isinstance(m, Bottleneck3d):
                last = m.conv3.norm
            elif isinstance(m, BasicBlock3d):
                last = m.conv2.norm
            if last is not None and getattr(last, "weight", None) is not None:
                nn.init.zeros_(last.weight)
                nn.init.zeros_(last.bias)

    # --- weights ------------------------------------------------------------------------
    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained`` (called when training starts, never while building): a 3D
        backbone or recognizer loads as it is; a 2D ResNet (torchvision's or MMAction2's
        names) is inflated by :func:`inflate_2d`."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained, inflate_2d, look_through=_unwrapped)

    # --- forward ------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        x = self.conv1(x)  # (N, 64, T/st, H/2, W/2)
        if self.with_pool1:
            x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i == 0 and self.with_pool2:
                x = self.pool2(x)  # (N, C, T/2, h, w)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    # --- freezing -----------------------------------------------------------------------
    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages < 0:
            return []
        return [self.conv1] + [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]

    def _apply_freezing(self) -> None:
        freeze(self._frozen_modules())


# --- 2D -> 3D ---------------------------------------------------------------------------------


def inflate_2d(state_dict: Mapping[str, Tensor], model: nn.Module) -> dict[str, Tensor] | None:
    """A 2D ResNet's weights inflated into ``model``'s 3D names, or None when ``state_dict`` is
    not 2D (its stem conv kernel is not 4D).

    Takes torchvision's names (``conv1.weight``, ``bn1.*``, ``layer1.0.downsample.0.weight``)
    or MMAction2/vidlab's 2D ResNet names (``conv1.conv.weight``, ``conv1.bn.*``). A 2D kernel
    ``(O, I, h, w)`` becomes ``(O, I, t, h, w)``, repeated along ``t`` and divided by ``t``;
    norm parameters and statistics are copied. Kernels of another shape and tensors ``model``
    lacks (``fc.*``) are left out, so the load report lists them.
    """
    stem = state_dict.get("conv1.weight", state_dict.get("conv1.conv.weight"))
    if stem is None or stem.dim() != 4:
        return None
    out: dict[str, Tensor] = {}
    for key, target in model.state_dict().items():
        plain = _unwrapped(key)
        source = state_dict.get(plain)
        if source is None:
            source = state_dict.get(_torchvision_name(plain))
        if source is None:
            continue
        if target.dim() == 5 and source.dim() == 4:
            if source.shape != target.shape[:2] + target.shape[3:]:
                continue
            kt = target.shape[2]
            source = source.unsqueeze(2).expand(-1, -1, kt, -1, -1) / kt
        elif source.shape != target.shape:
            continue
        out[key] = source.to(target.dtype) if torch.is_floating_point(source) else source
    # what the model has no place for stays in, so the report names it as unexpected
    used = {_torchvision_name(_unwrapped(k)) for k in out} | {_unwrapped(k) for k in out}
    out.update({k: v for k, v in state_dict.items() if k not in used and k not in out})
    return out
