"""MViTv2's pooling-attention blocks (Li et al., 2022), as MMAction2's ``MViT`` names them.

Attention runs through ``F.scaled_dot_product_attention``; the decomposed relative position
terms are its additive mask (zero in the class-token row and column, where MMAction2 adds none).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.compat.layers import build_activation_layer, build_norm_layer
from vidlab.models._checks import frozen
from vidlab.models.layers.drop_path import DropPath

Size3 = tuple[int, int, int]


def _rel_pos_table(rel_pos: Tensor, q_size: int, k_size: int) -> Tensor:
    """``(q_size, k_size, C)`` embeddings of the relative positions of ``q`` and ``k`` along one
    axis; the table is resized (linearly) when the sizes differ from those it was built for.
    The shorter axis' coordinates are stretched to the longer's, as in MViTv2."""
    max_dist = 2 * max(q_size, k_size) - 1
    if rel_pos.shape[0] != max_dist:
        # (L, C) -> (1, C, L) -> resized -> (L', C)
        rel_pos = F.interpolate(rel_pos.t().unsqueeze(0), size=max_dist, mode="linear")
        rel_pos = rel_pos.squeeze(0).t()
    q_ratio = max(k_size / q_size, 1.0)
    k_ratio = max(q_size / k_size, 1.0)
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * q_ratio
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * k_ratio
    index = (q_coords - k_coords) + (k_size - 1) * k_ratio
    return rel_pos[index.long()]


def _attention_pool(
    x: Tensor, pool: nn.Module, thw: Size3, with_cls_token: bool, norm: nn.Module | None = None
) -> tuple[Tensor, Size3]:
    """Pool tokens ``(B, heads, L, C)`` or ``(B, L, C)`` on their ``thw`` grid; the class token
    (first, if any) passes unpooled and is normalized with the rest."""
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(1)
    b, heads, _, c = x.shape
    t, h, w = thw
    if with_cls_token:
        cls_tok, x = x[:, :, :1], x[:, :, 1:]
    x = x.reshape(b * heads, t, h, w, c).permute(0, 4, 1, 2, 3).contiguous()  # (B*heads,C,T,H,W)
    x = pool(x)
    out_thw = (x.shape[2], x.shape[3], x.shape[4])
    x = x.reshape(b, heads, c, -1).transpose(2, 3)  # (B, heads, T'*H'*W', C)
    if with_cls_token:
        x = torch.cat((cls_tok, x), dim=2)
    if norm is not None:
        x = norm(x)
    return (x.squeeze(1) if squeeze else x), out_thw


class MLP(nn.Module):
    """``fc1``, activation, ``fc2`` (output width may differ from the input's)."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int | None = None,
        out_channels: int | None = None,
        act_cfg: Mapping = frozen(type="GELU"),
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_channels, hidden_channels or in_channels)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Linear(hidden_channels or in_channels, out_channels or in_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class MultiScaleAttention(nn.Module):
    """Pooling attention: q, k and v are pooled by depthwise 3D convs (q by ``stride_q``, k and
    v by ``stride_kv``) and normalized; decomposed relative position terms; residual pooling.

    Args:
        in_dims: Input channels.
        out_dims: Output channels (``num_heads`` heads of ``out_dims // num_heads``).
        num_heads: Attention heads.
        qkv_bias: Bias in ``qkv``.
        norm_cfg: Norm after each pooling.
        pool_kernel: Kernel of the pooling convs.
        stride_q: Stride of q's pooling.
        stride_kv: Stride of k's and v's pooling.
        rel_pos_embed: Add the decomposed relative position terms.
        residual_pooling: Add the pooled q to the attention output.
        input_size: ``(T, H, W)`` token grid the position tables are sized for.
        rel_pos_zero_init: Start the position tables at zero (else truncated normal, std 0.02).
        with_cls_token: The first token is a class token.
    """

    def __init__(
        self,
        in_dims: int,
        out_dims: int,
        num_heads: int,
        qkv_bias: bool = True,
        norm_cfg: Mapping = frozen(type="LN"),
        pool_kernel: Sequence[int] = (3, 3, 3),
        stride_q: Sequence[int] = (1, 1, 1),
        stride_kv: Sequence[int] = (1, 1, 1),
        rel_pos_embed: bool = True,
        residual_pooling: bool = True,
        input_size: Sequence[int] | None = None,
        rel_pos_zero_init: bool = False,
        with_cls_token: bool = True,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.with_cls_token = with_cls_token
        self.in_dims = in_dims
        self.out_dims = out_dims
        head_dim = out_dims // num_heads
        self.scale = head_dim**-0.5
        self.qkv = nn.Linear(in_dims, out_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(out_dims, out_dims)

        def pooling(stride):
            conv = nn.Conv3d(
                head_dim,
                head_dim,
                tuple(pool_kernel),
                stride=tuple(stride),
                padding=tuple(k // 2 for k in pool_kernel),
                groups=head_dim,  # depthwise, shared by the heads
                bias=False,
            )
            return conv, build_norm_layer(norm_cfg, head_dim)[1]

        self.pool_q, self.norm_q = pooling(stride_q)
        self.pool_k, self.norm_k = pooling(stride_kv)
        self.pool_v, self.norm_v = pooling(stride_kv)
        self.residual_pooling = residual_pooling
        self.rel_pos_embed = rel_pos_embed
        self.rel_pos_zero_init = rel_pos_zero_init
        if rel_pos_embed:
            if input_size is None or input_size[1] != input_size[2]:
                raise ValueError(
                    f"MultiScaleAttention: rel_pos_embed needs a square input_size (T, H, H), "
                    f"got {input_size}"
                )
            size = input_size[1]
            rel_dim = 2 * max(size // stride_q[1], size // stride_kv[1]) - 1
            self.rel_pos_h = nn.Parameter(torch.zeros(rel_dim, head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(rel_dim, head_dim))
            self.rel_pos_t = nn.Parameter(torch.zeros(2 * input_size[0] - 1, head_dim))
            if not rel_pos_zero_init:
                for p in (self.rel_pos_h, self.rel_pos_w, self.rel_pos_t):
                    nn.init.trunc_normal_(p, std=0.02)

    def _rel_pos_bias(self, q: Tensor, q_thw: Size3, k_thw: Size3) -> Tensor:
        """``(B, heads, Lq, Lk)`` additive terms: ``q . R_t + q . R_h + q . R_w`` (unscaled q)."""
        b, heads, _, c = q.shape
        first = 1 if self.with_cls_token else 0
        r_q = q[:, :, first:].reshape(b, heads, *q_thw, c)  # (B, heads, qt, qh, qw, C)
        rel_t = torch.einsum(
            "bythwc,tkc->bythwk", r_q, _rel_pos_table(self.rel_pos_t, q_thw[0], k_thw[0])
        )
        rel_h = torch.einsum(
            "bythwc,hkc->bythwk", r_q, _rel_pos_table(self.rel_pos_h, q_thw[1], k_thw[1])
        )
        rel_w = torch.einsum(
            "bythwc,wkc->bythwk", r_q, _rel_pos_table(self.rel_pos_w, q_thw[2], k_thw[2])
        )
        # (B, heads, qt, qh, qw, kt, kh, kw)
        bias = rel_t[..., None, None] + rel_h[..., None, :, None] + rel_w[..., None, None, :]
        bias = bias.reshape(b, heads, q_thw[0] * q_thw[1] * q_thw[2], -1)  # (B, heads, Lq, Lk)
        if self.with_cls_token:  # no terms in the class token's row and column
            bias = F.pad(bias, (1, 0, 1, 0))
        return bias

    def forward(self, x: Tensor, in_size: Size3) -> tuple[Tensor, Size3]:
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, L, C)
        q, q_thw = _attention_pool(q, self.pool_q, in_size, self.with_cls_token, self.norm_q)
        k, k_thw = _attention_pool(k, self.pool_k, in_size, self.with_cls_token, self.norm_k)
        v, _ = _attention_pool(v, self.pool_v, in_size, self.with_cls_token, self.norm_v)
        bias = self._rel_pos_bias(q, q_thw, k_thw) if self.rel_pos_embed else None
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
        if self.residual_pooling:  # the class token gets no residual
            x = x + (F.pad(q[:, :, 1:], (0, 0, 1, 0)) if self.with_cls_token else q)
        x = x.transpose(1, 2).reshape(b, -1, self.out_dims)  # (B, L', out_dims)
        return self.proj(x), q_thw


class MultiScaleBlock(nn.Module):
    """Pre-norm pooling-attention block with an MLP; ``proj`` widens the skip path where the
    width changes (at the attention, or at the MLP with ``dim_mul_in_attention=False``), and
    a max pool shrinks it where q is strided.

    Args follow :class:`MultiScaleAttention`, plus ``mlp_ratio``, ``drop_path``, ``act_cfg``,
    ``qkv_pool_kernel`` (the pooling kernel) and ``dim_mul_in_attention``.
    """

    def __init__(
        self,
        in_dims: int,
        out_dims: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        norm_cfg: Mapping = frozen(type="LN"),
        act_cfg: Mapping = frozen(type="GELU"),
        qkv_pool_kernel: Sequence[int] = (3, 3, 3),
        stride_q: Sequence[int] = (1, 1, 1),
        stride_kv: Sequence[int] = (1, 1, 1),
        rel_pos_embed: bool = True,
        residual_pooling: bool = True,
        with_cls_token: bool = True,
        dim_mul_in_attention: bool = True,
        input_size: Sequence[int] | None = None,
        rel_pos_zero_init: bool = False,
    ) -> None:
        super().__init__()
        self.with_cls_token = with_cls_token
        self.in_dims = in_dims
        self.out_dims = out_dims
        self.dim_mul_in_attention = dim_mul_in_attention
        self.norm1 = build_norm_layer(norm_cfg, in_dims)[1]
        attn_dims = out_dims if dim_mul_in_attention else in_dims
        self.attn = MultiScaleAttention(
            in_dims,
            attn_dims,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            norm_cfg=norm_cfg,
            pool_kernel=qkv_pool_kernel,
            stride_q=stride_q,
            stride_kv=stride_kv,
            rel_pos_embed=rel_pos_embed,
            residual_pooling=residual_pooling,
            input_size=input_size,
            rel_pos_zero_init=rel_pos_zero_init,
            with_cls_token=with_cls_token,
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, attn_dims)[1]
        self.mlp = MLP(attn_dims, int(attn_dims * mlp_ratio), out_dims, act_cfg=act_cfg)
        self.proj = nn.Linear(in_dims, out_dims) if in_dims != out_dims else None
        self.pool_skip = None
        self.init_out_size = tuple(input_size) if input_size is not None else None
        if any(s > 1 for s in stride_q):
            kernel = [s + 1 if s > 1 else s for s in stride_q]
            self.pool_skip = nn.MaxPool3d(kernel, tuple(stride_q), [k // 2 for k in kernel])
            if input_size is not None:
                self.init_out_size = tuple(n // s for n, s in zip(input_size, stride_q))

    def forward(self, x: Tensor, in_size: Size3) -> tuple[Tensor, Size3]:
        x_norm = self.norm1(x)
        x_attn, out_size = self.attn(x_norm, in_size)
        skip = self.proj(x_norm) if self.dim_mul_in_attention and self.proj is not None else x
        if self.pool_skip is not None:
            skip, _ = _attention_pool(skip, self.pool_skip, in_size, self.with_cls_token)
        x = skip + self.drop_path(x_attn)
        x_norm = self.norm2(x)
        x_mlp = self.mlp(x_norm)
        skip = self.proj(x_norm) if not self.dim_mul_in_attention and self.proj is not None else x
        return skip + self.drop_path(x_mlp), out_size


class PatchEmbed3D(nn.Module):
    """A strided 3D conv, ``projection``: ``(N, C, T, H, W)`` -> tokens ``(N, L, D)``."""

    def __init__(
        self,
        in_channels: int,
        embed_dims: int,
        kernel_size: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        input_size: Size3,
    ) -> None:
        super().__init__()
        self.projection = nn.Conv3d(
            in_channels, embed_dims, tuple(kernel_size), tuple(stride), tuple(padding)
        )
        self.init_out_size = tuple(
            (n + 2 * p - k) // s + 1 for n, k, s, p in zip(input_size, kernel_size, stride, padding)
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Size3]:
        x = self.projection(x)  # (N, D, T', H', W')
        thw = (x.shape[2], x.shape[3], x.shape[4])
        return x.flatten(2).transpose(1, 2), thw  # (N, T'*H'*W', D)
