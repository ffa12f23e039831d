"""Temporal Shift Module (Lin et al., 2019): move a fraction of channels one frame in time."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor


def temporal_shift(x: Tensor, num_segments: int, shift_div: int = 8) -> Tensor:
    """Shift channels of a folded clip along time.

    ``x`` is ``(N*T, C, H, W)`` with ``T = num_segments`` frames per clip. With
    ``fold = C // shift_div``: channels ``[0, fold)`` of frame t take frame t+1's values (the
    last frame gets zeros), channels ``[fold, 2*fold)`` take frame t-1's values (the first frame
    gets zeros), the rest stay. Built from slices and ``cat`` (no in-place writes), so it traces
    and exports to ONNX.
    """
    nt, c, h, w = x.shape
    x = x.reshape(-1, num_segments, c, h * w)  # (N, T, C, H*W)
    fold = c // shift_div
    from_next = x[:, 1:, :fold]  # (N, T-1, fold, H*W): frame t+1 -> t
    from_prev = x[:, :-1, fold : 2 * fold]  # (N, T-1, fold, H*W): frame t-1 -> t
    zeros = torch.zeros_like(x[:, :1, :fold])  # (N, 1, fold, H*W)
    left = torch.cat((from_next, zeros), dim=1)
    right = torch.cat((zeros, from_prev), dim=1)
    out = torch.cat((left, right, x[:, :, 2 * fold :]), dim=2)  # (N, T, C, H*W)
    return out.reshape(nt, c, h, w)


class TemporalShift(nn.Module):
    """Shift in time, then run the wrapped module ``net`` (so its keys gain ``.net``).

    Args:
        net: The module that sees the shifted features.
        num_segments: Frames per clip in the folded batch.
        shift_div: ``1 / shift_div`` of the channels move each way.
    """

    def __init__(self, net: nn.Module, num_segments: int = 3, shift_div: int = 8) -> None:
        super().__init__()
        self.net = net
        self.num_segments = num_segments
        self.shift_div = shift_div

    def forward(self, x: Tensor) -> Tensor:
        return self.net(temporal_shift(x, self.num_segments, self.shift_div))

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}, shift_div={self.shift_div}"
