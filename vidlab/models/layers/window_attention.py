"""Shifted-window attention in 3D (Video Swin): windows, the shift mask, relative-position bias.

MMAction2's details are kept on purpose, since its checkpoints were trained with them: the mask
adds -100 (not -inf); a window that is larger than the feature map along an axis shrinks to it
and stops shifting along that axis; a shrunk window of N tokens takes the relative-position bias
of the first ``N x N`` entries of the full window's index table. The attention itself is
``F.scaled_dot_product_attention`` with the bias and mask added as a float mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

Size3 = tuple[int, ...]

# MMAction2's additive mask value between tokens of different regions of a shifted window.
MASK_VALUE = -100.0


def triple(value: int | Sequence[int]) -> Size3:
    return (value,) * 3 if isinstance(value, int) else tuple(value)


def window_partition(x: Tensor, window_size: Size3) -> Tensor:
    """``(B, D, H, W, C)`` -> ``(B * num_windows, wd * wh * ww, C)``, windows in (d, h, w)
    order within each sample."""
    b, d, h, w, c = x.shape
    wd, wh, ww = window_size
    x = x.view(b, d // wd, wd, h // wh, wh, w // ww, ww, c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, wd * wh * ww, c)


def window_reverse(windows: Tensor, window_size: Size3, b: int, d: int, h: int, w: int) -> Tensor:
    """The inverse of :func:`window_partition`: -> ``(B, D, H, W, C)``."""
    wd, wh, ww = window_size
    x = windows.view(b, d // wd, h // wh, w // ww, wd, wh, ww, -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, -1)


def get_window_size(
    x_size: Sequence[int], window_size: Sequence[int], shift_size: Sequence[int]
) -> tuple[Size3, Size3]:
    """The window and shift used for a ``(D, H, W)`` map: along an axis no longer than the
    window, the window is the whole axis and there is no shift."""
    use_window = list(window_size)
    use_shift = list(shift_size)
    for i, size in enumerate(x_size):
        if size <= window_size[i]:
            use_window[i] = size
            use_shift[i] = 0
    return tuple(use_window), tuple(use_shift)


def _region_ids(length: int, window: int, shift: int, device) -> Tensor:
    """Which of the (up to) three regions of a shifted axis each position is in: the part no
    window straddles, the last window's part that stays, the part the roll brought in."""
    pos = torch.arange(length, device=device)
    if shift == 0:  # one region (MMAction2's slices overwrite the axis with one id)
        return torch.zeros(length, dtype=torch.long, device=device)
    return (pos >= length - window).long() + (pos >= length - shift).long()


def compute_mask(dims: Size3, window_size: Size3, shift_size: Size3, device) -> Tensor:
    """The shifted-window mask ``(num_windows, N, N)``: 0 within a region, -100 across."""
    d, h, w = dims
    ids = (
        _region_ids(d, window_size[0], shift_size[0], device)[:, None, None] * 9
        + _region_ids(h, window_size[1], shift_size[1], device)[None, :, None] * 3
        + _region_ids(w, window_size[2], shift_size[2], device)[None, None, :]
    )  # (D, H, W)
    ids = window_partition(ids[None, ..., None], window_size).squeeze(-1)  # (nW, N)
    differs = ids.unsqueeze(1) != ids.unsqueeze(2)  # (nW, N, N)
    return torch.zeros(differs.shape, device=device).masked_fill(differs, MASK_VALUE)


def _relative_position_index(window_size: Size3) -> Tensor:
    """``(N, N)`` index into the bias table of every pair of tokens in a full window."""
    wd, wh, ww = window_size
    coords = torch.stack(
        torch.meshgrid(torch.arange(wd), torch.arange(wh), torch.arange(ww), indexing="ij")
    ).flatten(1)  # (3, N)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # (N, N, 3)
    rel = rel + torch.tensor([wd - 1, wh - 1, ww - 1])  # from 0
    return (rel * torch.tensor([(2 * wh - 1) * (2 * ww - 1), 2 * ww - 1, 1])).sum(-1)


class WindowAttention3D(nn.Module):
    """Multi-head self-attention within windows, with a learnt relative-position bias.

    Args:
        embed_dims: Channels.
        window_size: ``(wd, wh, ww)`` of a full window.
        num_heads: Attention heads.
        qkv_bias: Bias in the query/key/value projection.
        qk_scale: Scale of the dot products; default ``head_dim ** -0.5``.
        attn_drop: Dropout on the attention weights.
        proj_drop: Dropout after the output projection.
    """

    def __init__(
        self,
        embed_dims: int,
        window_size: Sequence[int],
        num_heads: int,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.window_size = triple(window_size)
        self.num_heads = num_heads
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        wd, wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads)
        )
        # persistent, as in MMAction2's state dict (its checkpoints carry it)
        self.register_buffer("relative_position_index", _relative_position_index(self.window_size))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``x``: ``(B * nW, N, C)``; ``mask``: ``(nW, N, N)`` of 0 / -100, or None."""
        b_, n, c = x.shape
        heads = self.num_heads
        qkv = self.qkv(x).reshape(b_, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # (B*nW, nH, N, hd) each
        # MMAction2 takes the first N x N entries of the full window's index, also when the
        # window shrank to a smaller map
        index = self.relative_position_index[:n, :n].reshape(-1)
        bias = self.relative_position_bias_table[index].reshape(n, n, heads).permute(2, 0, 1)
        if mask is None:
            attn_mask = bias.unsqueeze(0)  # (1, nH, N, N)
        else:
            nw = mask.shape[0]
            attn_mask = bias.unsqueeze(0) + mask.unsqueeze(1)  # (nW, nH, N, N)
            attn_mask = attn_mask.unsqueeze(0).expand(b_ // nw, -1, -1, -1, -1)
            attn_mask = attn_mask.reshape(b_, heads, n, n)  # window index varies fastest
        x = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=attn_mask.to(q.dtype),
            dropout_p=self.attn_drop.p if self.training else 0.0,
            scale=self.scale,
        )  # (B*nW, nH, N, hd)
        x = x.transpose(1, 2).reshape(b_, n, c)
        return self.proj_drop(self.proj(x))
