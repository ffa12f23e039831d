"""RoIAlign and RoIPool in plain PyTorch, with mmcv's definitions (``mmcv.ops``), no compiled op.

RoIAlign (He et al., Mask R-CNN): each RoI ``[batch_index, x1, y1, x2, y2]`` (image
coordinates) is scaled by ``spatial_scale``, shifted by half a pixel when ``aligned`` and cut
into ``output_size`` bins; each bin averages (or, ``pool_mode='max'``, takes the largest of) a
grid of bilinearly interpolated samples: ``sampling_ratio`` per side, or ``ceil(bin size)``
when it is 0 (mmcv's adaptive grid). A sample more than one pixel outside the map is 0; one
within a pixel is clamped to the border. Without ``aligned`` a RoI is at least 1 x 1.

Computed without a loop over RoIs: bilinear interpolation on a grid is separable, so every
RoI's output is ``A_y F A_x^T`` with per-RoI interpolation matrices ``A_y (out_h, H)`` and
``A_x (out_w, W)`` (the grid average folded in), one batched product per image. Sums run in
another order than mmcv's kernel: equal to it within float rounding (tests compare with a
literal transcription of the kernel).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules.utils import _pair

__all__ = ["RoIAlign", "RoIPool", "roi_align", "roi_pool"]


def _axis_weights(start: Tensor, bin_size: Tensor, grid: Tensor, pooled: int, size: int):
    """Interpolation weights ``(K, pooled, G, size)`` of every grid sample along one axis
    (``G`` = the largest grid; samples past a RoI's own grid have weight 0)."""
    g = max(int(grid.max()), 1) if grid.numel() else 1
    p = torch.arange(pooled, device=start.device, dtype=start.dtype)[None, :, None]
    i = torch.arange(g, device=start.device, dtype=start.dtype)[None, None, :]
    step = bin_size[:, None, None]
    n = grid.to(start.dtype).clamp(min=1)[:, None, None]
    coord = start[:, None, None] + p * step + (i + 0.5) * step / n  # (K, pooled, G)
    used = (i < grid[:, None, None]) & (coord >= -1.0) & (coord <= size)
    coord = coord.clamp(min=0)
    low = coord.floor()
    end = low >= size - 1
    low = torch.where(end, torch.full_like(low, size - 1), low)
    frac = torch.where(end, torch.zeros_like(coord), coord - low)
    low = low.long()
    high = torch.where(end, low, low + 1)
    w = coord.new_zeros((*coord.shape, size))
    w.scatter_add_(-1, low[..., None], ((1 - frac) * used)[..., None])
    w.scatter_add_(-1, high[..., None], (frac * used)[..., None])
    return w


def _grids(rois: Tensor, output_size, spatial_scale: float, sampling_ratio: int, aligned: bool):
    out_h, out_w = output_size
    offset = 0.5 if aligned else 0.0
    x1, y1 = rois[:, 1] * spatial_scale - offset, rois[:, 2] * spatial_scale - offset
    x2, y2 = rois[:, 3] * spatial_scale - offset, rois[:, 4] * spatial_scale - offset
    width, height = x2 - x1, y2 - y1
    if not aligned:  # mmcv: a RoI is at least one pixel
        width, height = width.clamp(min=1.0), height.clamp(min=1.0)
    bin_h, bin_w = height / out_h, width / out_w
    if sampling_ratio > 0:
        grid_h = torch.full_like(height, sampling_ratio, dtype=torch.long)
        grid_w = torch.full_like(width, sampling_ratio, dtype=torch.long)
    else:
        grid_h, grid_w = torch.ceil(height / out_h).long(), torch.ceil(width / out_w).long()
    return (y1, bin_h, grid_h), (x1, bin_w, grid_w)


def roi_align(
    features: Tensor,
    rois: Tensor,
    output_size,
    spatial_scale: float = 1.0,
    sampling_ratio: int = 0,
    pool_mode: str = "avg",
    aligned: bool = True,
) -> Tensor:
    """mmcv's RoIAlign: ``features (N, C, H, W)``, ``rois (K, 5)`` -> ``(K, C, out_h, out_w)``."""
    if pool_mode not in ("avg", "max"):
        raise ValueError(f"pool_mode={pool_mode!r}; expected 'avg' or 'max'")
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(
            f"rois must be (K, 5) [batch_index, x1, y1, x2, y2], got {tuple(rois.shape)}"
        )
    out_h, out_w = _pair(output_size)
    n, c, h, w = features.shape
    out = features.new_zeros((len(rois), c, out_h, out_w))
    if len(rois) == 0:
        return out
    rois = rois.to(features.dtype)
    (y0, bin_h, grid_h), (x0, bin_w, grid_w) = _grids(
        rois, (out_h, out_w), spatial_scale, sampling_ratio, aligned
    )
    wy = _axis_weights(y0, bin_h, grid_h, out_h, h)  # (K, out_h, Gy, H)
    wx = _axis_weights(x0, bin_w, grid_w, out_w, w)  # (K, out_w, Gx, W)
    images = rois[:, 0].long()
    if pool_mode == "avg":
        count = (grid_h * grid_w).clamp(min=1).to(features.dtype)
        ay = wy.sum(2) / count[:, None, None]  # (K, out_h, H): the grid mean folded in
        ax = wx.sum(2)  # (K, out_w, W)
        for b in images.unique().tolist():  # per image, not per RoI
            k = (images == b).nonzero().squeeze(1)
            out[k] = torch.einsum("kph,chw,kqw->kcpq", ay[k], features[b], ax[k])
        return out
    gy, gx = wy.shape[2], wx.shape[2]
    valid = (torch.arange(gy, device=rois.device)[None, :] < grid_h[:, None])[:, :, None] & (
        torch.arange(gx, device=rois.device)[None, :] < grid_w[:, None]
    )[:, None, :]  # (K, Gy, Gx)
    for b in images.unique().tolist():
        k = (images == b).nonzero().squeeze(1)
        samples = torch.einsum("kpih,chw,kqjw->kcpiqj", wy[k], features[b], wx[k])
        mask = valid[k][:, None, None, :, None, :]  # (k, 1, 1, Gy, 1, Gx)
        samples = samples.masked_fill(~mask, float("-inf"))
        best = samples.amax(dim=(3, 5))  # (k, C, out_h, out_w)
        empty = ~valid[k].flatten(1).any(1)  # a RoI with no sample (zero size): 0
        out[k] = torch.where(empty[:, None, None, None], torch.zeros_like(best), best)
    return out


def roi_pool(features: Tensor, rois: Tensor, output_size, spatial_scale: float = 1.0) -> Tensor:
    """mmcv's RoIPool: the max over the whole pixels of each bin (rounded RoI corners; an
    empty bin is 0)."""
    out_h, out_w = _pair(output_size)
    n, c, h, w = features.shape
    out = features.new_zeros((len(rois), c, out_h, out_w))
    if len(rois) == 0:
        return out
    rois = rois.to(features.dtype)

    def c_round(x):  # C's round(): halves away from zero (torch.round goes to even)
        return torch.sign(x) * torch.floor(x.abs() + 0.5)

    x1, y1 = c_round(rois[:, 1] * spatial_scale), c_round(rois[:, 2] * spatial_scale)
    x2, y2 = c_round(rois[:, 3] * spatial_scale), c_round(rois[:, 4] * spatial_scale)
    roi_w = (x2 - x1 + 1).clamp(min=1)
    roi_h = (y2 - y1 + 1).clamp(min=1)

    def edges(start, length, pooled, size):
        p = torch.arange(pooled, device=rois.device, dtype=rois.dtype)[None]
        bin_size = (length / pooled)[:, None]
        lo = torch.floor(p * bin_size) + start[:, None]
        hi = torch.ceil((p + 1) * bin_size) + start[:, None]
        return lo.clamp(0, size), hi.clamp(0, size)  # (K, pooled)

    ylo, yhi = edges(y1, roi_h, out_h, h)
    xlo, xhi = edges(x1, roi_w, out_w, w)
    ys = torch.arange(h, device=rois.device, dtype=rois.dtype)
    xs = torch.arange(w, device=rois.device, dtype=rois.dtype)
    in_y = (ys[None, None] >= ylo[..., None]) & (ys[None, None] < yhi[..., None])  # (K, out_h, H)
    in_x = (xs[None, None] >= xlo[..., None]) & (xs[None, None] < xhi[..., None])  # (K, out_w, W)
    images = rois[:, 0].long()
    for b in images.unique().tolist():
        k = (images == b).nonzero().squeeze(1)
        mask = in_y[k][:, :, None, :, None] & in_x[k][:, None, :, None, :]  # (k, oh, ow, H, W)
        vals = features[b][None, :, None, None].masked_fill(~mask[:, None], float("-inf"))
        best = vals.amax(dim=(-2, -1))  # (k, C, oh, ow)
        out[k] = torch.where(torch.isinf(best), torch.zeros_like(best), best)
    return out


class RoIAlign(nn.Module):
    """mmcv's ``RoIAlign`` module (``forward(features, rois)``); see :func:`roi_align`.
    ``use_torchvision`` is accepted and has no effect (the same definition either way)."""

    def __init__(
        self,
        output_size,
        spatial_scale: float = 1.0,
        sampling_ratio: int = 0,
        pool_mode: str = "avg",
        aligned: bool = True,
        use_torchvision: bool = False,
    ):
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.pool_mode = pool_mode
        self.aligned = aligned

    def forward(self, features: Tensor, rois: Tensor) -> Tensor:
        return roi_align(
            features,
            rois,
            self.output_size,
            self.spatial_scale,
            self.sampling_ratio,
            self.pool_mode,
            self.aligned,
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}, pool_mode={self.pool_mode!r}, "
            f"aligned={self.aligned}"
        )


class RoIPool(nn.Module):
    """mmcv's ``RoIPool`` module; see :func:`roi_pool`."""

    def __init__(self, output_size, spatial_scale: float = 1.0):
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)

    def forward(self, features: Tensor, rois: Tensor) -> Tensor:
        return roi_pool(features, rois, self.output_size, self.spatial_scale)
