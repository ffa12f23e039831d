"""Video Swin Transformer (Liu et al., 2022): MMAction2's ``SwinTransformer3D`` and its variants.

Keys as MMAction2's: ``patch_embed.{proj,norm}``, stages ``layers.{i}.blocks.{j}.{norm1,
attn.{qkv,proj,relative_position_bias_table,relative_position_index},norm2,mlp.{fc1,fc2}}``,
``layers.{i}.downsample.{norm,reduction}`` (patch merging) and one ``norm{i}`` per output
stage. The head is ``vidlab.models.heads.i3d.I3DHead``.

Attention runs inside non-overlapping 3D windows; every second block of a stage shifts the
windows by half a window (a cyclic roll) and masks the pairs of tokens that the roll brought
together from distant places (``vidlab.models.layers.window_attention``, which keeps
MMAction2's details). Tokens that pad the map to a multiple of the window are zeros (after
``norm1``) and are attended to, as in MMAction2. The blocks, stages and patch embedding are
in ``vidlab.models.layers.swin_blocks``; this file stacks them, converts 2D checkpoints and
names the variants.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.compat.layers import build_norm_layer
from vidlab.models._checks import frozen
from vidlab.models.heads.i3d import I3DHead
from vidlab.models.layers.freeze import FreezableBackbone, freeze
from vidlab.models.layers.init import trunc_normal_init_
from vidlab.models.layers.swin_blocks import BasicLayer, PatchEmbed3D
from vidlab.models.layers.window_attention import Size3, triple
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.variants import variant

logger = logging.getLogger(__name__)


class SwinTransformer3D(FreezableBackbone):
    """Video Swin Transformer backbone: ``(N, C, T, H, W)`` -> ``(N, C', T/2, H/32, W/32)``.

    Args:
        arch: ``'tiny'``, ``'small'``, ``'base'``, ``'large'`` (or ``'t'``, ``'s'``, ``'b'``,
            ``'l'``), or ``dict(embed_dims=..., depths=[...], num_heads=[...])``.
        pretrained: Weights loaded by :meth:`init_weights` (never while building).
        pretrained2d: ``pretrained`` is a 2D Swin (ImageNet) checkpoint: inflated as MMAction2
            does (:func:`inflate_swin2d`).
        patch_size: Patch size ``(pd, ph, pw)``.
        in_channels: Input channels.
        window_size: Attention window ``(wd, wh, ww)``.
        mlp_ratio: MLP hidden width over the channels.
        qkv_bias: Bias in the query/key/value projections.
        qk_scale: Override of ``head_dim ** -0.5``.
        drop_rate: Dropout after the patch embedding and projections.
        attn_drop_rate: Dropout on attention weights.
        drop_path_rate: Stochastic depth, rising linearly over the blocks to this rate.
        act_cfg: MLP activation.
        norm_cfg: Norm layers.
        patch_norm: Norm after the patch embedding.
        frozen_stages: Freeze the patch embedding (0) and stages ``< frozen_stages``; -1: none.
        with_cp: Activation checkpointing per block while training.
        out_indices: Stages whose (normed) outputs are returned.
        out_after_downsample: Output a stage after its patch merging.
        init_cfg: Accepted for MMAction2 compatibility; the initialization is MMAction2's
            default (truncated normal linears, std 0.02) whatever its value.
    """

    arch_zoo = {
        **dict.fromkeys(
            ["t", "tiny"], {"embed_dims": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24]}
        ),
        **dict.fromkeys(
            ["s", "small"],
            {"embed_dims": 96, "depths": [2, 2, 18, 2], "num_heads": [3, 6, 12, 24]},
        ),
        **dict.fromkeys(
            ["b", "base"],
            {"embed_dims": 128, "depths": [2, 2, 18, 2], "num_heads": [4, 8, 16, 32]},
        ),
        **dict.fromkeys(
            ["l", "large"],
            {"embed_dims": 192, "depths": [2, 2, 18, 2], "num_heads": [6, 12, 24, 48]},
        ),
    }

    def __init__(
        self,
        arch: str | Mapping,
        pretrained: str | None = None,
        pretrained2d: bool = True,
        patch_size: int | Sequence[int] = (2, 4, 4),
        in_channels: int = 3,
        window_size: Sequence[int] = (8, 7, 7),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        act_cfg: Mapping = frozen(type="GELU"),
        norm_cfg: Mapping | None = frozen(type="LN"),
        patch_norm: bool = True,
        frozen_stages: int = -1,
        with_cp: bool = False,
        out_indices: Sequence[int] = (3,),
        out_after_downsample: bool = False,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.pretrained = pretrained
        self.pretrained2d = pretrained2d
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f"arch={arch!r} is not one of {sorted(set(self.arch_zoo))}")
            self.arch_settings = self.arch_zoo[arch.lower()]
        else:
            keys = {"embed_dims", "depths", "num_heads"}
            if not isinstance(arch, Mapping) or set(arch) != keys:
                raise ValueError(f"a custom arch is a dict with exactly the keys {sorted(keys)}")
            self.arch_settings = dict(arch)
        self.embed_dims = self.arch_settings["embed_dims"]
        self.depths = list(self.arch_settings["depths"])
        self.num_heads = list(self.arch_settings["num_heads"])
        if len(self.depths) != len(self.num_heads) or not 1 <= len(self.depths) <= 4:
            raise ValueError("arch: depths and num_heads need the same length, 1 to 4 stages")
        self.num_layers = len(self.depths)
        self.out_indices = tuple(out_indices)
        if max(self.out_indices) >= self.num_layers:
            raise ValueError(f"out_indices {self.out_indices} beyond {self.num_layers} stages")
        self.out_after_downsample = out_after_downsample
        self.frozen_stages = frozen_stages
        self.window_size = triple(window_size)
        self.patch_size = triple(patch_size)
        self.with_cp = with_cp
        self.init_cfg = init_cfg

        self.patch_embed = PatchEmbed3D(
            self.patch_size, in_channels, self.embed_dims, norm_cfg if patch_norm else None
        )
        self.pos_drop = nn.Dropout(p=drop_rate)
        # stochastic depth rises linearly over all blocks (float32 linspace, as MMAction2; on the
        # CPU also while building on the meta device)
        dpr = torch.linspace(0, drop_path_rate, sum(self.depths), device="cpu").tolist()
        self.layers = nn.ModuleList()
        dims = [self.embed_dims]
        for i, (depth, num_heads) in enumerate(zip(self.depths, self.num_heads)):
            layer = BasicLayer(
                dims[-1],
                depth,
                num_heads,
                window_size=self.window_size,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                drop=drop_rate,
                attn_drop=attn_drop_rate,
                drop_paths=dpr[sum(self.depths[:i]) : sum(self.depths[: i + 1])],
                act_cfg=act_cfg,
                norm_cfg=norm_cfg,
                downsample=i < self.num_layers - 1,
                with_cp=with_cp,
            )
            self.layers.append(layer)
            dims.append(layer.out_embed_dims)
        self.num_features = dims[1:] if out_after_downsample else dims[:-1]
        for i in self.out_indices:
            norm = build_norm_layer(norm_cfg, self.num_features[i])[1] if norm_cfg else None
            self.add_module(f"norm{i}", norm if norm is not None else nn.Identity())
        self.feat_dim = self.num_features[self.out_indices[-1]]
        self._init_weights()
        self._apply_freezing()

    def _init_weights(self) -> None:
        """MMAction2's ``init_cfg``: linears truncated normal (std 0.02, no bias), LayerNorms
        1 and 0; the bias tables were drawn by their attention modules."""
        trunc_normal_init_(self)

    def _frozen_modules(self) -> list[nn.Module]:
        modules = []
        if self.frozen_stages >= 0:
            modules.append(self.patch_embed)
        if self.frozen_stages >= 1:
            modules.append(self.pos_drop)
            modules.extend(self.layers[: self.frozen_stages])
        return modules

    def _apply_freezing(self) -> None:
        freeze(self._frozen_modules())

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained`` (called when training starts, never while building): a 2D
        Swin file is inflated when ``pretrained2d`` (:func:`inflate_swin2d`), a 3D backbone or
        recognizer loads as it is."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained, inflate_swin2d)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        x = self.pos_drop(self.patch_embed(x))  # (N, E, T/2, H/4, W/4)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x.contiguous(), do_downsample=self.out_after_downsample)  # (N, t, h, w, C)
            if i in self.out_indices:
                out = getattr(self, f"norm{i}")(x)
                outs.append(out.permute(0, 4, 1, 2, 3).contiguous())  # (N, C, t, h, w)
            if layer.downsample is not None and not self.out_after_downsample:
                x = layer.downsample(x)  # (N, t, h/2, w/2, 2C)
            x = x.permute(0, 4, 1, 2, 3)  # (N, C, t, h, w)
        return outs[0] if len(outs) == 1 else tuple(outs)


def _interpolate_bias_table(table: Tensor, window_size: Size3) -> Tensor:
    """A 2D Swin's bias table ``((2s-1)^2, nH)`` resized bicubically to the window's
    ``(2wh-1) x (2ww-1)`` and repeated over the ``2wd-1`` temporal offsets (MMAction2's
    inflation)."""
    length, heads = table.shape
    wd, wh, ww = window_size
    target = (2 * wh - 1) * (2 * ww - 1)
    if length != target:
        side = int(length**0.5)
        grid = table.permute(1, 0).reshape(1, heads, side, side)
        grid = F.interpolate(grid, size=(2 * wh - 1, 2 * ww - 1), mode="bicubic")
        table = grid.reshape(heads, target).permute(1, 0)
    return table.repeat(2 * wd - 1, 1)


def inflate_swin2d(
    state_dict: Mapping[str, Tensor], model: SwinTransformer3D
) -> dict[str, Tensor] | None:
    """A 2D Swin (ImageNet, Microsoft's names; MMAction2's ``pretrained2d`` files) inflated
    into ``model``, or None when the file is not 2D (its patch embedding is not 4D).

    As MMAction2's ``inflate_weights``: the patch kernel is repeated over ``pd`` frames and
    divided by ``pd``; bias tables are resized to the window (bicubic) and repeated over the
    temporal offsets (a table whose head count differs is left to the report); the final
    ``norm`` becomes ``norm3``; the index buffers and attention masks are the model's own.
    """
    proj = state_dict.get("patch_embed.proj.weight")
    if proj is None or proj.dim() != 4 or not model.pretrained2d:
        return None
    own = model.state_dict()
    out: dict[str, Tensor] = {}
    resized = set()
    for key, value in state_dict.items():
        if "relative_position_index" in key or "attn_mask" in key:
            continue
        if key == "patch_embed.proj.weight":
            pd = model.patch_size[0]
            value = value.unsqueeze(2).repeat(1, 1, pd, 1, 1) / pd
        elif "relative_position_bias_table" in key and key in own:
            if value.shape[1] == own[key].shape[1]:
                resized.add(int(value.shape[0] ** 0.5))
                value = _interpolate_bias_table(value, model.window_size)
        elif key in ("norm.weight", "norm.bias") and hasattr(model, "norm3"):
            key = "norm3." + key.split(".")[1]
        out[key] = value
    _, wh, ww = model.window_size
    if resized - {2 * wh - 1}:  # said once per file, not per block
        logger.warning(
            "2D Swin relative-position bias tables (%s offsets a side) resized bicubically to "
            "the %dx%d window's %dx%d",
            "/".join(map(str, sorted(resized))),
            wh,
            ww,
            2 * wh - 1,
            2 * ww - 1,
        )
    for key, value in own.items():  # computed, not learnt: keep the model's
        if key.endswith("relative_position_index"):
            out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# Variants: MMAction2's zoo (configs/recognition/swin), Kinetics, 32 frames every 2nd
# --------------------------------------------------------------------------------------------
_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/swin/"


def _zoo(config: str, stamp: str, num_classes: int = 400) -> dict:
    """``default_cfg`` of a zoo model: 32 frames every 2nd, tested on 4 clips x 3 crops."""
    url = f"{_ZOO}{config}/{config}_{stamp}.pth"
    return dict(clip_shape=(3, 32, 224, 224), sampling=(32, 2, 4), num_classes=num_classes, url=url)


def _swin(arch: str, num_classes: int, drop_path_rate: float, **kwargs) -> Recognizer3D:
    """Video Swin as MMAction2's ``configs/_base_/models/swin_tiny.py`` builds it."""
    backbone = SwinTransformer3D(arch=arch, drop_path_rate=drop_path_rate, **kwargs)
    head = I3DHead(
        num_classes=num_classes,
        in_channels=backbone.feat_dim,
        spatial_type="avg",
        dropout_ratio=0.5,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], format_shape="NCTHW"
    )
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


@variant(
    **_zoo("swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb", "20220930-241016b2")
)
def swin_tiny_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """Swin-T, patch 2x4x4, window 8x7x7, ImageNet-1k init (Kinetics-400: 78.9 top-1)."""
    return _swin("tiny", num_classes, 0.1, **kwargs)


@variant(
    **_zoo("swin-small-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb", "20220930-e91ab986")
)
def swin_small_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """Swin-S (18 blocks in stage 3), ImageNet-1k init (Kinetics-400: 80.5 top-1)."""
    return _swin("small", num_classes, 0.2, **kwargs)


@variant(
    **_zoo(
        "swin-small-p244-w877_in1k-pre_32xb4-amp-32x2x1-30e_kinetics710-rgb",
        "20230612-8e082ff1",
        num_classes=710,
    )
)
def swin_small_32x2x1_k710(num_classes: int = 710, **kwargs) -> Recognizer3D:
    """Swin-S trained on Kinetics-710 (Kinetics-400/600/700 merged: 76.9 top-1)."""
    return _swin("small", num_classes, 0.2, **kwargs)


@variant(
    **_zoo("swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb", "20220930-182ec6cc")
)
def swin_base_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """Swin-B (width 128), ImageNet-1k init (Kinetics-400: 80.6 top-1)."""
    return _swin("base", num_classes, 0.3, **kwargs)


@variant(
    **_zoo(
        "swin-large-p244-w877_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb", "20220930-78ad8b11"
    )
)
def swin_large_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """Swin-L (width 192), ImageNet-22k init (Kinetics-400: 83.5 top-1)."""
    return _swin("large", num_classes, 0.4, **kwargs)


@variant(
    **_zoo(
        "swin-large-p244-w877_in22k-pre_16xb8-amp-32x2x1-30e_kinetics700-rgb",
        "20220930-f8d74db7",
        num_classes=700,
    )
)
def swin_large_32x2x1_k700(num_classes: int = 700, **kwargs) -> Recognizer3D:
    """Swin-L, ImageNet-22k init, trained on Kinetics-700 (75.9 top-1)."""
    return _swin("large", num_classes, 0.4, **kwargs)
