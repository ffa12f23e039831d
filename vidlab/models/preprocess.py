"""Normalization on the device: raw pixels ``(N, C, T, H, W)`` -> normalized float clips."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.models._checks import built


class ActionDataPreprocessor(nn.Module):
    """MMAction2's ``ActionDataPreprocessor`` for vidlab's ``(N, C, T, H, W)`` clips.

    ``mean``/``std`` are non-persistent buffers shaped ``(1, C, 1, 1, 1)``, so they follow the
    model to its device and stay out of checkpoints, as in MMAction2.

    Args:
        mean: Per-channel mean in pixel units (None: no normalization, just ``float()``).
        std: Per-channel std; required with ``mean``.
        to_rgb: Reverse the channel order (BGR -> RGB) before normalizing.
        format_shape: ``'NCHW'`` (2D models), ``'NCTHW'`` or ``'MIX2d3d'``: the layout the
            pipeline packed; the input here is ``(N, C, T, H, W)``, and with ``'MIX2d3d'``
            (OmniSource: images and videos) also an image batch ``(N, C, H, W)``.
        blending: Mixup/cutmix object for the training loop (``self.blending``).
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        to_rgb: bool = False,
        format_shape: str = "NCHW",
        blending=None,
    ) -> None:
        super().__init__()
        if format_shape not in ("NCHW", "NCTHW", "MIX2d3d"):
            raise ValueError(
                f"invalid format_shape {format_shape!r}; use 'NCHW', 'NCTHW' or 'MIX2d3d'"
            )
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std to normalize, or neither")
        self.to_rgb = to_rgb
        self.format_shape = format_shape
        self._enable_normalize = mean is not None
        if mean is not None:
            mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1, 1)
            std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1, 1)
            self.register_buffer("mean", mean_t, persistent=False)
            self.register_buffer("std", std_t, persistent=False)
        else:
            self.mean = self.std = None
        self.blending = built(blending, "ActionDataPreprocessor(blending=...)")

    def forward(self, clips: Tensor) -> Tensor:
        """``(N, C, T, H, W)`` uint8 or float pixels -> float32 ``(clips - mean) / std``; with
        ``format_shape='MIX2d3d'`` images ``(N, C, H, W)`` too."""
        if clips.dim() == 4 and self.format_shape == "MIX2d3d":
            return self._normalize_images(clips)
        if clips.dim() != 5:
            raise ValueError(
                f"expected clips of shape (N, C, T, H, W), got {tuple(clips.shape)}; fold views "
                "into the batch first: clips.flatten(0, 1)"
            )
        if self.to_rgb:
            clips = clips[:, [2, 1, 0]]
        if not clips.is_floating_point():
            clips = clips.float()
        if self._enable_normalize:
            return (clips - self.mean) / self.std
        return clips

    def _normalize_images(self, images: Tensor) -> Tensor:
        """``(N, C, H, W)`` -> float32, normalized with the same mean/std (MMAction2's 'MIX2d3d'
        treats a 4D batch as 'NCHW')."""
        if self.to_rgb:
            images = images[:, [2, 1, 0]]
        if not images.is_floating_point():
            images = images.float()
        if self._enable_normalize:
            return (images - self.mean[..., 0]) / self.std[..., 0]  # (1, C, 1, 1)
        return images
