"""MViTv2 (Li et al., 2022): MMAction2's ``MViT`` backbone, PySlowFast's checkpoints, variants.

Keys as MMAction2's: ``patch_embed.projection`` (a 3x7x7 conv, stride 2x4x4), ``cls_token``,
``pos_embed`` (only with ``use_abs_pos_embed``), blocks ``blocks.{i}.{norm1, attn, norm2, mlp,
proj}`` with ``attn.{qkv, proj, pool_q, norm_q, pool_k, norm_k, pool_v, norm_v, rel_pos_t,
rel_pos_h, rel_pos_w}``, and one LayerNorm per output scale, ``norm{scale}`` (``norm3`` for the
default last scale). The head is ``vidlab.models.heads.mvit.MViTHead``.

Attention runs through ``F.scaled_dot_product_attention``; the decomposed relative position
terms are its additive mask (zero in the class-token row and column, as MMAction2 adds none
there). PySlowFast's MViTv2 files (``.pyth``, ``model_state``) are converted on load
(:func:`convert_pyslowfast`); their names differ from MMAction2's in three places only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils import checkpoint as cp

from vidlab.checkpoint import LoadReport
from vidlab.compat.layers import build_norm_layer
from vidlab.models._checks import frozen
from vidlab.models.heads.mvit import MViTHead
from vidlab.models.layers.init import trunc_normal_init_
from vidlab.models.layers.multiscale_attention import MultiScaleBlock, PatchEmbed3D, Size3
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant

logger = logging.getLogger(__name__)


def resize_pos_embed(pos_embed: Tensor, src: Size3, dst: Size3, mode: str = "trilinear") -> Tensor:
    """``(1, 1 + T*H*W, C)`` absolute position embedding on a ``src`` grid -> the ``dst`` grid
    (the class token's entry is kept)."""
    if tuple(src) == tuple(dst):
        return pos_embed
    c = pos_embed.shape[-1]
    grid = pos_embed[:, 1:].reshape(1, *src, c).permute(0, 4, 1, 2, 3)  # (1, C, T, H, W)
    grid = F.interpolate(grid, size=tuple(dst), mode=mode, align_corners=False)
    return torch.cat((pos_embed[:, :1], grid.flatten(2).transpose(1, 2)), dim=1)


class MViT(nn.Module):
    """MViTv2 backbone: ``(N, C, T, H, W)`` -> one entry per output scale: ``(patch_map
    (N, D, t, h, w), cls_token (N, D))`` with ``output_cls_token``, else the patch map.

    Args:
        arch: ``'tiny'``, ``'small'``, ``'base'``, ``'large'`` or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads``, ``downscale_indices`` (and ``dim_mul_indices``).
        spatial_size: Input size the position tables are built for (others are interpolated).
        temporal_size: Input frames the position tables are built for.
        in_channels: Input channels.
        pretrained: Weights loaded by ``init_weights``: a vidlab/MMAction2 file or recognizer
            checkpoint, or a PySlowFast MViTv2 file (converted; position tables of another
            length are interpolated).
        pretrained_type: Accepted for MMAction2 compatibility (``'maskfeat'``: vidlab resizes
            position tables of any pretrained file).
        out_scales: Output scale indices (negative from the end).
        drop_path_rate: Stochastic depth of the last block (linear from 0).
        use_abs_pos_embed: Add an absolute position embedding (``pos_embed``).
        interpolate_mode: How ``pos_embed`` is resized for another input size.
        pool_kernel: Kernel of the q/k/v pooling convs.
        dim_mul: Width factor at each ``dim_mul_indices`` block.
        head_mul: Head-count factor at those blocks.
        adaptive_kv_stride: Stride of k/v pooling in the first stage (halved at each downscale).
        rel_pos_embed: Decomposed relative position terms in attention.
        residual_pooling: Add pooled q to the attention output.
        dim_mul_in_attention: Widen in the attention (True) or in the MLP of the block before.
        with_cls_token: Prepend the class token.
        output_cls_token: Output ``(patch_map, cls_token)`` per scale.
        rel_pos_zero_init: Start position tables at zero.
        mlp_ratio: MLP width factor.
        qkv_bias: Bias in ``qkv``.
        norm_cfg: Norm layers' config.
        patch_cfg: ``kernel_size``, ``stride``, ``padding`` of the patch embedding.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` is read as ``pretrained``.
        with_cp: Activation checkpointing of every block while training (less memory).
    """

    arch_zoo = {
        "tiny": dict(embed_dims=96, num_layers=10, num_heads=1, downscale_indices=[1, 3, 8]),
        "small": dict(embed_dims=96, num_layers=16, num_heads=1, downscale_indices=[1, 3, 14]),
        "base": dict(embed_dims=96, num_layers=24, num_heads=1, downscale_indices=[2, 5, 21]),
        "large": dict(embed_dims=144, num_layers=48, num_heads=2, downscale_indices=[2, 8, 44]),
    }
    num_extra_tokens = 1

    def __init__(
        self,
        arch: str | Mapping = "base",
        spatial_size: int = 224,
        temporal_size: int = 16,
        in_channels: int = 3,
        pretrained: str | None = None,
        pretrained_type: str | None = None,
        out_scales: int | Sequence[int] = -1,
        drop_path_rate: float = 0.0,
        use_abs_pos_embed: bool = False,
        interpolate_mode: str = "trilinear",
        pool_kernel: Sequence[int] = (3, 3, 3),
        dim_mul: int = 2,
        head_mul: int = 2,
        adaptive_kv_stride: Sequence[int] = (1, 8, 8),
        rel_pos_embed: bool = True,
        residual_pooling: bool = True,
        dim_mul_in_attention: bool = True,
        with_cls_token: bool = True,
        output_cls_token: bool = True,
        rel_pos_zero_init: bool = False,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_cfg: Mapping = frozen(type="LN", eps=1e-6),
        patch_cfg: Mapping = frozen(kernel_size=(3, 7, 7), stride=(2, 4, 4), padding=(1, 3, 3)),
        init_cfg: dict | list | None = None,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f"MViT: arch={arch!r}; use one of {sorted(self.arch_zoo)}")
            settings = self.arch_zoo[arch.lower()]
        else:
            needed = {"embed_dims", "num_layers", "num_heads", "downscale_indices"}
            if not needed <= set(arch):
                raise ValueError(f"MViT: a custom arch needs the keys {sorted(needed)}")
            settings = dict(arch)
        if output_cls_token and not with_cls_token:
            raise ValueError("MViT: output_cls_token=True needs with_cls_token=True")
        self.arch_settings = settings
        self.embed_dims = settings["embed_dims"]
        self.num_layers = settings["num_layers"]
        self.num_heads = settings["num_heads"]
        self.downscale_indices = list(settings["downscale_indices"])
        self.dim_mul_indices = list(settings.get("dim_mul_indices", self.downscale_indices))
        self.num_scales = len(self.downscale_indices) + 1
        self.stage_indices = {index - 1: i for i, index in enumerate(self.downscale_indices)}
        self.stage_indices[self.num_layers - 1] = self.num_scales - 1
        scales = [out_scales] if isinstance(out_scales, int) else list(out_scales)
        scales = [s + self.num_scales if s < 0 else s for s in scales]
        if any(not 0 <= s <= self.num_scales for s in scales):
            raise ValueError(f"MViT: out_scales {out_scales} out of range for {self.num_scales}")
        self.out_scales = sorted(scales)
        self.pretrained = pretrained
        if (
            pretrained is None
            and isinstance(init_cfg, Mapping)
            and init_cfg.get("type") == "Pretrained"
        ):
            self.pretrained = init_cfg.get("checkpoint")  # MMEngine's way (the SSv2 config)
        self.pretrained_type = pretrained_type
        self.use_abs_pos_embed = use_abs_pos_embed
        self.interpolate_mode = interpolate_mode
        self.with_cls_token = with_cls_token
        self.output_cls_token = output_cls_token
        self.init_cfg = init_cfg
        self.with_cp = with_cp
        self._size_noted = False

        self.patch_embed = PatchEmbed3D(
            in_channels,
            self.embed_dims,
            input_size=(temporal_size, spatial_size, spatial_size),
            **dict(patch_cfg),
        )
        self.patch_resolution = self.patch_embed.init_out_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.embed_dims))
        if use_abs_pos_embed:
            num_patches = self.patch_resolution[0] * self.patch_resolution[1]
            num_patches *= self.patch_resolution[2]
            self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, self.embed_dims))

        num_layers = self.num_layers
        dpr = [drop_path_rate * i / max(num_layers - 1, 1) for i in range(num_layers)]
        self.blocks = nn.ModuleList()
        dims = [self.embed_dims]
        num_heads = self.num_heads
        stride_kv = list(adaptive_kv_stride)
        input_size = self.patch_resolution
        for i in range(num_layers):
            if i in self.downscale_indices or i in self.dim_mul_indices:
                num_heads *= head_mul
            stride_q = [1, 1, 1]
            if i in self.downscale_indices:
                stride_q = [1, 2, 2]
                stride_kv = [max(s // 2, 1) for s in stride_kv]
            out_dims = dims[-1]
            if dim_mul_in_attention and i in self.dim_mul_indices:
                out_dims = dims[-1] * dim_mul
            elif not dim_mul_in_attention and i + 1 in self.dim_mul_indices:
                out_dims = dims[-1] * dim_mul
            block = MultiScaleBlock(
                in_dims=dims[-1],
                out_dims=out_dims,
                num_heads=num_heads,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path=dpr[i],
                norm_cfg=norm_cfg,
                qkv_pool_kernel=pool_kernel,
                stride_q=stride_q,
                stride_kv=stride_kv,
                rel_pos_embed=rel_pos_embed,
                residual_pooling=residual_pooling,
                with_cls_token=with_cls_token,
                dim_mul_in_attention=dim_mul_in_attention,
                input_size=input_size,
                rel_pos_zero_init=rel_pos_zero_init,
            )
            self.blocks.append(block)
            input_size = block.init_out_size
            dims.append(out_dims)
            if self.stage_indices.get(i) in self.out_scales:
                self.add_module(
                    f"norm{self.stage_indices[i]}", build_norm_layer(norm_cfg, out_dims)[1]
                )
        self.out_dims = dims[-1]
        self._init_from_scratch()

    def _init_from_scratch(self) -> None:
        """MMAction2's ``init_cfg``: truncated normal (std 0.02) for convs and linears (linear
        biases 0.02), LayerNorms weight 1 bias 0.02, ``pos_embed`` truncated normal."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        trunc_normal_init_(self, bias=0.02, norm_bias=0.02)
        if self.use_abs_pos_embed:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained`` (called when training starts, never while building)."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained, convert=_convert_backbone)

    def convert_checkpoint(self, state: Mapping[str, Tensor]) -> dict[str, Tensor] | None:
        """A whole recognizer's weights in PySlowFast's layout -> vidlab's (``load_weights``
        and ``load_from`` call this); None for any other layout."""
        return convert_pyslowfast(state, self)

    def _note_size(self, thw: Size3) -> None:
        """Say once that position terms are interpolated for an input of another size."""
        if self._size_noted or torch.compiler.is_compiling():
            return
        self._size_noted = True
        attn = self.blocks[0].attn if len(self.blocks) else None
        what = [
            name
            for name, used in (
                ("relative position tables", attn is not None and attn.rel_pos_embed),
                ("pos_embed", self.use_abs_pos_embed),
            )
            if used
        ]
        if what:
            logger.warning(
                "MViT: the input gives a %s token grid, the model was built for %s "
                "(temporal_size, spatial_size): its %s are interpolated",
                "x".join(str(int(n)) for n in thw),  # ints: traced sizes are tensors
                "x".join(map(str, self.patch_resolution)),
                " and ".join(what),
            )

    def forward(self, x: Tensor) -> tuple:
        b = x.shape[0]
        x, thw = self.patch_embed(x)  # (N, L, D)
        if thw != tuple(self.patch_resolution):
            self._note_size(thw)
        x = torch.cat((self.cls_token.expand(b, -1, -1), x), dim=1)  # (N, 1 + L, D)
        if self.use_abs_pos_embed:
            x = x + resize_pos_embed(
                self.pos_embed, self.patch_resolution, thw, self.interpolate_mode
            )
        if not self.with_cls_token:
            x = x[:, 1:]
        outs = []
        for i, block in enumerate(self.blocks):
            if self.with_cp and self.training and x.requires_grad:
                x, thw = cp.checkpoint(block, x, thw, use_reentrant=False)
            else:
                x, thw = block(x, thw)
            scale = self.stage_indices.get(i)
            if scale is None or scale not in self.out_scales:
                continue
            x = getattr(self, f"norm{scale}")(x)
            tokens = x.transpose(1, 2)  # (N, C, L)
            first = 1 if self.with_cls_token else 0
            patch = tokens[:, :, first:].reshape(b, tokens.shape[1], *thw)  # (N, C, t, h, w)
            outs.append((patch, tokens[:, :, 0]) if self.output_cls_token else patch)
        return tuple(outs)


# --- other zoos' weights --------------------------------------------------------------------


def _resize_rel_pos(state: dict[str, Tensor], model: nn.Module, prefix: str) -> None:
    """Position tables of another length (pre-training at another size) -> the model's,
    linearly, as MMAction2 does for MaskFeat weights."""
    own = model.state_dict()
    for key, value in list(state.items()):
        if ".rel_pos_" not in key or not key.startswith(prefix):
            continue
        target = own.get(key[len(prefix) :])
        if target is None or value.shape == target.shape or value.dim() != 2:
            continue
        if value.shape[1] == target.shape[1]:
            table = value.t().unsqueeze(0).float()  # (1, C, L)
            table = F.interpolate(table, size=target.shape[0], mode="linear")
            state[key] = table.squeeze(0).t().to(value.dtype)


def convert_pyslowfast(
    state: Mapping[str, Tensor], backbone: MViT | None = None
) -> dict[str, Tensor] | None:
    """PySlowFast MViTv2 weights (``model_state`` of its ``.pyth`` files) -> vidlab's recognizer
    keys; None when ``state`` is not in that layout.

    PySlowFast names the patch conv ``patch_embed.proj``, the final norm ``norm`` and the
    classifier ``head.projection``; blocks are named as MMAction2's (separate ``attn.q``,
    ``attn.k``, ``attn.v`` are concatenated into ``attn.qkv``). Position tables of another
    length are resized to ``backbone``'s.
    """
    if not any(k.startswith("patch_embed.proj.") for k in state):
        return None
    last = f"norm{backbone.num_scales - 1}." if backbone is not None else "norm3."
    renames = {"patch_embed.proj.": "patch_embed.projection.", "norm.": last}
    out: dict[str, Tensor] = {}
    split: dict[str, dict[str, Tensor]] = {}
    for key, value in state.items():
        if key.startswith("head.projection."):
            out["cls_head.fc_cls." + key[len("head.projection.") :]] = value
            continue
        for old, new in renames.items():
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        parts = key.rsplit(".", 2)  # blocks.i.attn.{q,k,v}.{weight,bias}
        if len(parts) == 3 and parts[1] in ("q", "k", "v") and ".attn" in parts[0]:
            split.setdefault(f"{parts[0]}.qkv.{parts[2]}", {})[parts[1]] = value
            continue
        out["backbone." + key] = value
    for key, qkv in split.items():
        out["backbone." + key] = torch.cat([qkv["q"], qkv["k"], qkv["v"]], dim=0)
    if backbone is not None:
        _resize_rel_pos(out, backbone, "backbone.")
    return out


def _convert_backbone(state: Mapping[str, Tensor], module: MViT) -> dict[str, Tensor] | None:
    """``pretrained=`` of the backbone: PySlowFast files converted (head dropped), and position
    tables of other lengths resized in any file."""
    full = convert_pyslowfast(state, module)
    if full is not None:
        return {k[len("backbone.") :]: v for k, v in full.items() if k.startswith("backbone.")}
    state = dict(state)
    _resize_rel_pos(state, module, "")
    return state


# --- variants -------------------------------------------------------------------------------

# MMAction2's MViTv2 configs normalize with one mean/std for all channels (the converted
# PySlowFast weights' 0.45/0.225), except the SSv2 fine-tuning of MViT-S (ImageNet's).
MVIT_MEAN = (114.75, 114.75, 114.75)
MVIT_STD = (57.375, 57.375, 57.375)
_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/mvit/"


def _mvit(
    arch: str,
    num_classes: int,
    temporal_size: int,
    spatial_size: int = 224,
    mean: tuple = MVIT_MEAN,
    std: tuple = MVIT_STD,
    dropout_ratio: float = 0.5,
    init_scale: float = 1.0,
    pretrained: str | None = None,
    **kwargs,
) -> Recognizer3D:
    """MViTv2 as MMAction2's ``configs/_base_/models/mvit_small.py`` builds it, at any size."""
    backbone = MViT(
        arch=arch,
        temporal_size=temporal_size,
        spatial_size=spatial_size,
        pretrained=pretrained,
        **kwargs,
    )
    head = MViTHead(
        num_classes=num_classes,
        in_channels=backbone.out_dims,
        dropout_ratio=dropout_ratio,
        init_scale=init_scale,
        label_smooth_eps=0.1,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=mean, std=std, format_shape="NCTHW")
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


_K400 = dict(mean=MVIT_MEAN, std=MVIT_STD)


@variant(
    clip_shape=(3, 16, 224, 224),
    sampling=(16, 4, 5),
    url=_ZOO + "converted/mvit-small-p244_16x4x1_kinetics400-rgb_20221021-9ebaaeed.pth",
    **_K400,
)
def mvit_small_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """MViTv2-S, 16 frames 4 apart at 224 px (weights converted from PySlowFast; MMAction2's
    own training: ``..._20230201-23284ff3.pth``)."""
    return _mvit("small", num_classes, temporal_size=16, **kwargs)


@variant(
    clip_shape=(3, 16, 224, 224),
    sampling=(16, 1, 1),
    num_classes=174,
    url=_ZOO + "converted/mvit-small-p244_u16_sthv2-rgb_20221021-65ecae7d.pth",
)
def mvit_small_u16(num_classes: int = 174, **kwargs) -> Recognizer3D:
    """MViTv2-S on Something-Something V2: 16 frames sampled uniformly (``UniformSample``),
    ImageNet mean/std as its config."""
    return _mvit(
        "small", num_classes, temporal_size=16, mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs
    )


@variant(
    clip_shape=(3, 16, 224, 224),
    sampling=(16, 4, 10),
    url=_ZOO
    + "mvit-small-p244_k400-maskfeat-pre_8xb32-16x4x1-100e_kinetics400-rgb/"
    + "mvit-small-p244_k400-maskfeat-pre_8xb32-16x4x1-100e_kinetics400-rgb_20230201-5bced1d0.pth",
    **_K400,
)
def mvit_small_maskfeat_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """MViTv2-S fine-tuned from MaskFeat: widths grow in the MLP of the block before each
    downscale (``dim_mul_in_attention=False``), no head dropout, head initialised at 0.001."""
    kwargs.setdefault("dim_mul_in_attention", False)
    return _mvit(
        "small", num_classes, temporal_size=16, dropout_ratio=0.0, init_scale=0.001, **kwargs
    )


@variant(
    clip_shape=(3, 32, 224, 224),
    sampling=(32, 3, 5),
    url=_ZOO + "converted/mvit-base-p244_32x3x1_kinetics400-rgb_20221021-f392cd2d.pth",
    **_K400,
)
def mvit_base_32x3x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """MViTv2-B, 32 frames 3 apart at 224 px (weights converted from PySlowFast)."""
    return _mvit("base", num_classes, temporal_size=32, **kwargs)


@variant(
    clip_shape=(3, 32, 224, 224),
    sampling=(32, 1, 1),
    num_classes=174,
    url=_ZOO + "converted/mvit-base-p244_u32_sthv2-rgb_20221021-d5de5da6.pth",
    **_K400,
)
def mvit_base_u32(num_classes: int = 174, **kwargs) -> Recognizer3D:
    """MViTv2-B on Something-Something V2: 32 frames sampled uniformly."""
    return _mvit("base", num_classes, temporal_size=32, **kwargs)


@variant(
    clip_shape=(3, 40, 312, 312),
    sampling=(40, 3, 5),
    url=_ZOO + "converted/mvit-large-p244_40x3x1_kinetics400-rgb_20221021-11fe1f97.pth",
    **_K400,
)
def mvit_large_40x3x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """MViTv2-L, 40 frames 3 apart at 312 px (weights converted from PySlowFast)."""
    return _mvit("large", num_classes, temporal_size=40, spatial_size=312, **kwargs)


@variant(
    clip_shape=(3, 40, 224, 224),
    sampling=(40, 1, 1),
    num_classes=174,
    url=_ZOO + "converted/mvit-large-p244_u40_sthv2-rgb_20221021-61696e07.pth",
    **_K400,
)
def mvit_large_u40(num_classes: int = 174, **kwargs) -> Recognizer3D:
    """MViTv2-L on Something-Something V2: 40 frames sampled uniformly, built for 312 px and
    tested at 224 px as its config (position tables interpolated)."""
    return _mvit("large", num_classes, temporal_size=40, spatial_size=312, **kwargs)
