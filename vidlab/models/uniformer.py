"""UniFormer (Li et al., 2022): convolution in the early stages, self-attention in the late ones.

MMAction2's ``UniFormer`` (``configs/recognition/uniformer``) with ``I3DHead``: four stages, each
entered through a patch embedding (the first one also halves time with a 3-frame kernel). The
first two stages hold convolution blocks (``CBlock``: a depth-wise 5x5x5 "local affinity" between
two 1x1x1 convolutions, BatchNorm), the last two self-attention blocks over all tokens of the clip
(``SABlock``, LayerNorm); every block starts with a depth-wise 3x3x3 convolution as its position
encoding, so any clip size and length works without interpolating anything. Attention runs through
``F.scaled_dot_product_attention``. Module names follow MMAction2's state dict, so its checkpoints
load as they are; ImageNet weights of the 2D UniFormer (``pretrained2d=True``) are inflated by
:func:`inflate_2d`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils import checkpoint as cp

from vidlab.checkpoint import LoadReport
from vidlab.models.heads.i3d import I3DHead
from vidlab.models.layers.drop_path import DropPath
from vidlab.models.layers.init import trunc_normal_init_
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.variants import variant

logger = logging.getLogger(__name__)

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/"
# ``pretrained=`` names MMAction2 knows for the 2D ImageNet-1k UniFormers (inflated on load)
IMAGENET_2D = {
    "uniformer_small_in1k": _ZOO + "uniformerv1/uniformer_small_in1k_20221219-fe0a7ae0.pth",
    "uniformer_base_in1k": _ZOO + "uniformerv1/uniformer_base_in1k_20221219-82c01015.pth",
}
# the configs' data_preprocessor (0..255 pixel units)
UNIFORMER_MEAN = (114.75, 114.75, 114.75)
UNIFORMER_STD = (57.375, 57.375, 57.375)


def linspace(end: float, steps: int) -> list[float]:
    """``torch.linspace(0, end, steps)`` as Python floats (drop-path rates per block; works
    while building on the meta device)."""
    return [end * i / max(steps - 1, 1) for i in range(steps)]


class Mlp(nn.Module):
    """``fc1 -> GELU -> dropout -> fc2 -> dropout`` on tokens ``(B, L, C)``; 1x1x1 convolutions
    on maps ``(N, C, T, H, W)`` with ``conv=True`` (MMAction2's ``CMlp``)."""

    def __init__(
        self, in_features: int, hidden_features: int, drop: float = 0.0, conv: bool = False
    ) -> None:
        super().__init__()
        if conv:
            self.fc1 = nn.Conv3d(in_features, hidden_features, 1)
            self.fc2 = nn.Conv3d(hidden_features, in_features, 1)
        else:
            self.fc1 = nn.Linear(in_features, hidden_features)
            self.fc2 = nn.Linear(hidden_features, in_features)
        self.act = nn.GELU()
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Attention(nn.Module):
    """Multi-head self-attention over tokens ``(B, L, C)`` through SDPA.

    Args:
        dim: Token channels.
        num_heads: Heads (``dim // num_heads`` channels each).
        qkv_bias: Bias in the ``qkv`` projection.
        qk_scale: Scale of ``q @ k^T``; None: ``head_dim ** -0.5``.
        attn_drop: Dropout on the attention weights (training only).
        proj_drop: Dropout after ``proj``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, heads, L, head_dim)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale
        )
        x = x.transpose(1, 2).reshape(b, n, c)  # (B, L, C)
        return self.proj_drop(self.proj(x))


class CBlock(nn.Module):
    """Convolution block: position conv, then ``BN -> 1x1x1 -> depth-wise 5x5x5 -> 1x1x1`` and
    a convolutional MLP, both residual. ``(N, C, T, H, W)`` in and out."""

    def __init__(
        self, dim: int, mlp_ratio: float = 4.0, drop: float = 0.0, drop_path: float = 0.0
    ) -> None:
        super().__init__()
        self.pos_embed = nn.Conv3d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.BatchNorm3d(dim)
        self.conv1 = nn.Conv3d(dim, dim, 1)
        self.conv2 = nn.Conv3d(dim, dim, 1)
        self.attn = nn.Conv3d(dim, dim, 5, padding=2, groups=dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.BatchNorm3d(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop, conv=True)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos_embed(x)
        x = x + self.drop_path(self.conv2(self.attn(self.conv1(self.norm1(x)))))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class SABlock(nn.Module):
    """Self-attention block: position conv on the map, then pre-norm attention and MLP over the
    ``T*H*W`` tokens of each clip. ``(N, C, T, H, W)`` in and out."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        qk_scale: float | None = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.pos_embed = nn.Conv3d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos_embed(x)
        n, c, t, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)  # (N, T*H*W, C)
        x = x + self.drop_path(self.attn(self.norm1(x)))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x.transpose(1, 2).reshape(n, c, t, h, w)


class PatchEmbed(nn.Module):
    """Strided convolution and LayerNorm over channels: ``(N, C, T, H, W)`` ->
    ``(N, D, T', H/p, W/p)``; a temporal kernel of 3 with stride 2 halves time (stage 1)."""

    def __init__(
        self, in_chans: int, embed_dim: int, patch_size: int, temporal_downsample: bool = False
    ) -> None:
        super().__init__()
        self.patch_size = (patch_size, patch_size)
        self.norm = nn.LayerNorm(embed_dim)
        if temporal_downsample:
            kernel, stride, padding = (3, patch_size, patch_size), (2, patch_size, patch_size), 1
        else:
            kernel, stride, padding = (1, patch_size, patch_size), (1, patch_size, patch_size), 0
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel, stride, (padding, 0, 0))

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x)  # (N, D, T', H', W')
        n, _, t, h, w = x.shape
        x = self.norm(x.flatten(2).transpose(1, 2))  # (N, T'*H'*W', D)
        return x.reshape(n, t, h, w, -1).permute(0, 4, 1, 2, 3).contiguous()


class UniFormer(nn.Module):
    """MMAction2's ``UniFormer`` backbone: ``(N, 3, T, H, W)`` -> ``(N, C4, T/2, H/32, W/32)``.

    Args:
        depth: Blocks per stage.
        img_size: Kept for MMAction2 compatibility (nothing depends on the input size).
        in_chans: Input channels.
        embed_dim: Channels per stage.
        head_dim: Channels per attention head (heads = ``embed_dim // head_dim``).
        mlp_ratio: MLP hidden width over the block's width.
        qkv_bias: Bias in the attention's ``qkv`` projection.
        qk_scale: Attention scale; None: ``head_dim ** -0.5``.
        drop_rate: Dropout after the stem and in MLPs and projections.
        attn_drop_rate: Dropout on attention weights.
        drop_path_rate: Stochastic depth, rising linearly over all blocks to this rate.
        pretrained2d: ``pretrained`` holds a 2D (ImageNet) UniFormer: its 4D kernels are
            inflated (centred in time) and tensors of other shapes skipped.
        pretrained: A name of :data:`IMAGENET_2D`, a file or a URL; loaded by ``init_weights``.
        with_cp: Activation checkpointing per block (less memory, more compute).
        init_cfg: Accepted for MMAction2 compatibility (the init is MMAction2's default:
            truncated normal Linear weights, unit LayerNorms).
    """

    def __init__(
        self,
        depth: Sequence[int] = (5, 8, 20, 7),
        img_size: int = 224,
        in_chans: int = 3,
        embed_dim: Sequence[int] = (64, 128, 320, 512),
        head_dim: int = 64,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        pretrained2d: bool = True,
        pretrained: str | None = None,
        with_cp: bool = False,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if len(depth) != 4 or len(embed_dim) != 4:
            raise ValueError(
                f"UniFormer: depth and embed_dim need 4 stages, got {depth}, {embed_dim}"
            )
        self.pretrained = pretrained
        self.pretrained2d = pretrained2d
        self.with_cp = with_cp
        self.init_cfg = init_cfg
        self.img_size = img_size
        self.patch_embed1 = PatchEmbed(in_chans, embed_dim[0], 4, temporal_downsample=True)
        self.patch_embed2 = PatchEmbed(embed_dim[0], embed_dim[1], 2)
        self.patch_embed3 = PatchEmbed(embed_dim[1], embed_dim[2], 2)
        self.patch_embed4 = PatchEmbed(embed_dim[2], embed_dim[3], 2)
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = linspace(drop_path_rate, sum(depth))
        starts = [sum(depth[:i]) for i in range(4)]
        for s in range(2):
            self.add_module(
                f"blocks{s + 1}",
                nn.ModuleList(
                    CBlock(embed_dim[s], mlp_ratio, drop_rate, dpr[starts[s] + i])
                    for i in range(depth[s])
                ),
            )
        for s in range(2, 4):
            self.add_module(
                f"blocks{s + 1}",
                nn.ModuleList(
                    SABlock(
                        embed_dim[s],
                        embed_dim[s] // head_dim,
                        mlp_ratio,
                        qkv_bias,
                        qk_scale,
                        drop_rate,
                        attn_drop_rate,
                        dpr[starts[s] + i],
                    )
                    for i in range(depth[s])
                ),
            )
        self.norm = nn.BatchNorm3d(embed_dim[-1])
        self.num_features = embed_dim[-1]
        self._init_default()

    def _init_default(self) -> None:
        trunc_normal_init_(self)

    def init_weights(self) -> LoadReport | None:
        """Load ``pretrained``: a 2D ImageNet UniFormer inflated (``pretrained2d``) or a 3D one."""
        if self.pretrained is None:
            return None
        src = IMAGENET_2D.get(self.pretrained, self.pretrained)
        return load_pretrained(self, src, convert=inflate_2d if self.pretrained2d else None)

    def _stage(self, blocks: nn.ModuleList, x: Tensor) -> Tensor:
        for blk in blocks:
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        x = self.pos_drop(self.patch_embed1(x))  # (N, C1, T/2, H/4, W/4)
        x = self._stage(self.blocks1, x)
        x = self._stage(self.blocks2, self.patch_embed2(x))  # (N, C2, T/2, H/8, W/8)
        x = self._stage(self.blocks3, self.patch_embed3(x))  # (N, C3, T/2, H/16, W/16)
        x = self._stage(self.blocks4, self.patch_embed4(x))  # (N, C4, T/2, H/32, W/32)
        return self.norm(x)


def inflate_kernel(weight_2d: Tensor, time_dim: int) -> Tensor:
    """A 2D kernel ``(O, I, h, w)`` as a 3D one ``(O, I, time_dim, h, w)``, all of it in the
    middle frame (zeros elsewhere): MMAction2's ``_inflate_weight(center=True)``."""
    weight_3d = weight_2d.new_zeros(*weight_2d.shape[:2], time_dim, *weight_2d.shape[2:])
    weight_3d[:, :, time_dim // 2] = weight_2d
    return weight_3d


def inflate_2d(state: Mapping[str, Tensor], module: nn.Module) -> dict[str, Tensor]:
    """A 2D checkpoint's tensors for a 3D model: 4D kernels whose 5D counterpart has another
    shape are inflated (:func:`inflate_kernel`); other shapes are left to the load report."""
    own = module.state_dict()
    out = {}
    for key, value in state.items():
        target = own.get(key)
        if target is not None and value.dim() == 4 and target.dim() == 5:
            if value.shape == target.shape[:2] + target.shape[3:]:
                value = inflate_kernel(value, target.shape[2])
        out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# Variants: MMAction2's UniFormer zoo (configs/recognition/uniformer), Kinetics-400
# --------------------------------------------------------------------------------------------
def _uniformer(
    num_classes: int, depth, drop_path_rate: float, dropout_ratio: float = 0.0, **kwargs
) -> Recognizer3D:
    backbone = UniFormer(
        depth=depth,
        embed_dim=(64, 128, 320, 512),
        head_dim=64,
        drop_path_rate=drop_path_rate,
        **kwargs,
    )
    head = I3DHead(
        num_classes=num_classes,
        in_channels=512,
        dropout_ratio=dropout_ratio,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=UNIFORMER_MEAN, std=UNIFORMER_STD, format_shape="NCTHW")
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


def _url(config: str, stamp: str) -> str:
    return f"{_ZOO}uniformerv1/{config}_{stamp}.pth"


@variant(
    clip_shape=(3, 16, 224, 224),
    sampling=(16, 4, 4),
    mean=UNIFORMER_MEAN,
    std=UNIFORMER_STD,
    url=_url("uniformer-small_imagenet1k-pre_16x4x1_kinetics400-rgb", "20221219-c630a037"),
)
def uniformer_s_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """UniFormer-S, 16 frames every 4th (Kinetics-400: 80.9 top-1, 4 clips x 1 crop)."""
    return _uniformer(num_classes, (3, 4, 8, 3), 0.1, **kwargs)


@variant(
    clip_shape=(3, 16, 224, 224),
    sampling=(16, 4, 4),
    mean=UNIFORMER_MEAN,
    std=UNIFORMER_STD,
    url=_url("uniformer-base_imagenet1k-pre_16x4x1_kinetics400-rgb", "20221219-157c2e66"),
)
def uniformer_b_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """UniFormer-B, 16 frames every 4th (Kinetics-400: 82.0 top-1)."""
    return _uniformer(num_classes, (5, 8, 20, 7), 0.3, **kwargs)


@variant(
    clip_shape=(3, 32, 224, 224),
    sampling=(32, 4, 4),
    mean=UNIFORMER_MEAN,
    std=UNIFORMER_STD,
    url=_url("uniformer-base_imagenet1k-pre_32x4x1_kinetics400-rgb", "20221219-b776322c"),
)
def uniformer_b_32x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """UniFormer-B, 32 frames every 4th (Kinetics-400: 83.1 top-1)."""
    return _uniformer(num_classes, (5, 8, 20, 7), 0.3, **kwargs)
