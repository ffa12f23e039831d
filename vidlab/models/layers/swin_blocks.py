"""The layers of Video Swin (Liu et al., 2022) with MMAction2's keys: a block (window attention
and MLP, each with a residual), the stage (``BasicLayer``: blocks and patch merging) and the 3D
patch embedding. The windowed attention itself is :mod:`vidlab.models.layers.window_attention`;
the backbone that stacks the stages is :class:`vidlab.models.swin.SwinTransformer3D`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.compat.layers import build_activation_layer, build_norm_layer
from vidlab.models._checks import frozen
from vidlab.models.layers.checkpointing import checkpointed
from vidlab.models.layers.drop_path import DropPath
from vidlab.models.layers.window_attention import (
    WindowAttention3D,
    compute_mask,
    get_window_size,
    triple,
    window_partition,
    window_reverse,
)


class Mlp(nn.Module):
    """Linear, activation, dropout, linear, dropout (keys ``fc1``, ``fc2``)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_cfg: Mapping = frozen(type="GELU"),
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_features, out_features or in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class SwinTransformerBlock3D(nn.Module):
    """Pre-norm (shifted-)window attention and MLP, each a residual branch with drop path.

    Args:
        embed_dims: Channels.
        num_heads: Attention heads.
        window_size: Window size.
        shift_size: Shift of the windows (``(0, 0, 0)``: regular windows).
        mlp_ratio: MLP hidden width over ``embed_dims``.
        qkv_bias: Bias in the query/key/value projection.
        qk_scale: Override of ``head_dim ** -0.5``.
        drop: Dropout after projections.
        attn_drop: Dropout on attention weights.
        drop_path: Stochastic depth rate.
        act_cfg: MLP activation.
        norm_cfg: Norm layers.
        with_cp: Activation checkpointing of the block while training.
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        window_size: Sequence[int] = (8, 7, 7),
        shift_size: Sequence[int] = (0, 0, 0),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.1,
        act_cfg: Mapping = frozen(type="GELU"),
        norm_cfg: Mapping = frozen(type="LN"),
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.window_size = triple(window_size)
        self.shift_size = triple(shift_size)
        self.with_cp = with_cp
        for i, axis in enumerate("dhw"):
            if not 0 <= self.shift_size[i] < self.window_size[i]:
                raise ValueError(
                    f"shift_size {self.shift_size} must be in [0, window_size) along {axis} "
                    f"(window_size {self.window_size})"
                )
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = WindowAttention3D(
            embed_dims, self.window_size, num_heads, qkv_bias, qk_scale, attn_drop, drop
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), act_cfg=act_cfg, drop=drop)

    def _attention(self, x: Tensor, mask: Tensor | None) -> Tensor:
        b, d, h, w, c = x.shape
        window, shift = get_window_size((d, h, w), self.window_size, self.shift_size)
        x = self.norm1(x)
        # pad the map to whole windows (zeros, after the norm: MMAction2's order)
        pad_d = (window[0] - d % window[0]) % window[0]
        pad_h = (window[1] - h % window[1]) % window[1]
        pad_w = (window[2] - w % window[2]) % window[2]
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h, 0, pad_d))  # (B, Dp, Hp, Wp, C)
        _, dp, hp, wp, _ = x.shape
        shifted = any(s > 0 for s in shift)
        if shifted:
            x = torch.roll(x, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
        windows = window_partition(x, window)  # (B*nW, N, C)
        windows = self.attn(windows, mask=mask if shifted else None)
        x = window_reverse(windows, window, b, dp, hp, wp)  # (B, Dp, Hp, Wp, C)
        if shifted:
            x = torch.roll(x, shifts=shift, dims=(1, 2, 3))
        return x[:, :d, :h, :w, :]

    def _forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        x = x + self.drop_path(self._attention(x, mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def forward(self, x: Tensor, mask_matrix: Tensor | None) -> Tensor:
        """``x``: ``(B, D, H, W, C)``; ``mask_matrix``: the stage's shifted-window mask."""
        return checkpointed(self._forward, x, mask_matrix, enabled=self.with_cp)


class PatchMerging(nn.Module):
    """2x2 spatial neighbours concatenated, normed and projected: ``(B, D, H, W, C)`` ->
    ``(B, D, ceil(H/2), ceil(W/2), 2C)``."""

    def __init__(self, embed_dims: int, norm_cfg: Mapping = frozen(type="LN")) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.mid_embed_dims = 4 * embed_dims
        self.out_embed_dims = 2 * embed_dims
        self.reduction = nn.Linear(self.mid_embed_dims, self.out_embed_dims, bias=False)
        self.norm = build_norm_layer(norm_cfg, self.mid_embed_dims)[1]

    def forward(self, x: Tensor) -> Tensor:
        _, _, h, w, _ = x.shape
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))  # even H and W
        parts = (x[:, :, 0::2, 0::2], x[:, :, 1::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 1::2])
        x = torch.cat(parts, -1)  # (B, D, H/2, W/2, 4C)
        return self.reduction(self.norm(x))


class BasicLayer(nn.Module):
    """One stage: blocks alternating regular and shifted windows, then patch merging.

    Args:
        embed_dims: Channels.
        depth: Blocks.
        num_heads: Attention heads.
        window_size: Window size; the shift is half of it.
        mlp_ratio, qkv_bias, qk_scale, drop, attn_drop, act_cfg, norm_cfg, with_cp: As
            :class:`SwinTransformerBlock3D`.
        drop_paths: Stochastic depth rate of each block (or one for all).
        downsample: Whether the stage ends with :class:`PatchMerging`.
    """

    def __init__(
        self,
        embed_dims: int,
        depth: int,
        num_heads: int,
        window_size: Sequence[int] = (8, 7, 7),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_paths: float | Sequence[float] = 0.0,
        act_cfg: Mapping = frozen(type="GELU"),
        norm_cfg: Mapping = frozen(type="LN"),
        downsample: bool = False,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.window_size = triple(window_size)
        self.shift_size = tuple(s // 2 for s in self.window_size)
        self.depth = depth
        if not isinstance(drop_paths, Sequence):
            drop_paths = [drop_paths] * depth
        self.blocks = nn.ModuleList(
            SwinTransformerBlock3D(
                embed_dims,
                num_heads,
                window_size=self.window_size,
                shift_size=(0, 0, 0) if i % 2 == 0 else self.shift_size,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                drop=drop,
                attn_drop=attn_drop,
                drop_path=drop_paths[i],
                act_cfg=act_cfg,
                norm_cfg=norm_cfg,
                with_cp=with_cp,
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(embed_dims, norm_cfg) if downsample else None

    @property
    def out_embed_dims(self) -> int:
        return self.downsample.out_embed_dims if self.downsample is not None else self.embed_dims

    def forward(self, x: Tensor, do_downsample: bool = True) -> Tensor:
        """``(B, C, D, H, W)`` -> ``(B, D, H, W, C')``."""
        _, _, d, h, w = x.shape
        window, shift = get_window_size((d, h, w), self.window_size, self.shift_size)
        x = x.permute(0, 2, 3, 4, 1)  # (B, D, H, W, C)
        # whole windows; no floor division of negatives: ONNX's integer Div truncates
        padded = tuple((size + win - 1) // win * win for size, win in zip((d, h, w), window))
        mask = None
        if any(s > 0 for s in shift):
            mask = compute_mask(padded, window, shift, x.device).to(x.dtype)  # (nW, N, N)
        for block in self.blocks:
            x = block(x, mask)
        if self.downsample is not None and do_downsample:
            x = self.downsample(x)
        return x


class PatchEmbed3D(nn.Module):
    """Non-overlapping 3D patches by a strided conv (input padded to whole patches), then an
    optional norm: ``(B, C, D, H, W)`` -> ``(B, embed_dims, D/pd, H/ph, W/pw)``."""

    def __init__(
        self,
        patch_size: int | Sequence[int] = (2, 4, 4),
        in_channels: int = 3,
        embed_dims: int = 96,
        norm_cfg: Mapping | None = None,
    ) -> None:
        super().__init__()
        self.patch_size = triple(patch_size)
        self.in_channels = in_channels
        self.embed_dims = embed_dims
        self.proj = nn.Conv3d(in_channels, embed_dims, self.patch_size, stride=self.patch_size)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1] if norm_cfg is not None else None

    def forward(self, x: Tensor) -> Tensor:
        _, _, d, h, w = x.shape
        pd, ph, pw = self.patch_size
        x = F.pad(x, (0, (pw - w % pw) % pw, 0, (ph - h % ph) % ph, 0, (pd - d % pd) % pd))
        x = self.proj(x)  # (B, E, Dp, Hp, Wp)
        if self.norm is not None:
            x = self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        return x
