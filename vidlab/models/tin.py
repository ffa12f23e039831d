"""TIN, the Temporal Interlacing Network (Shao et al., 2020): MMAction2's ``ResNetTIN``.

MMAction2 builds TIN on mmcv's compiled ``tin_shift`` op (CUDA only; mmcv has no CPU kernel).
Here the op is :func:`tin_shift`, plain PyTorch (a gather), so TIN runs on any device, compiles
and exports to ONNX. Keys are MMAction2's: each block's first conv becomes
``conv1.conv = CombineNet(net1=TemporalInterlace, net2=Conv2d)``, so
``layer1.0.conv1.conv.net2.weight`` is the conv and ``layer1.0.conv1.conv.net1.offset_net.*`` /
``.weight_net.*`` the interlace module.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.tsm import TSMHead
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer2D
from vidlab.models.resnet import ResNet
from vidlab.models.tsm import ResNetTSM
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant


def tin_shift(x: Tensor, shift: Tensor) -> Tensor:
    """Shift channel groups along time by integer offsets, zero-filling: mmcv's ``tin_shift``.

    mmcv's CUDA kernel (``tin_shift_forward_cuda_kernel``; the CPU entry point only raises
    "not implemented on CPU") starts from a zero output and, for every sample ``n``, channel
    ``c``, position ``p`` and input frame ``i``, with ``s = shift[n, c // (C // G)]`` (``G``
    groups of ``C // G`` consecutive channels), writes ``out[n, i + s, c, p] = x[n, i, c, p]``
    when ``0 <= i + s < T``. So ``out[n, t, c] = x[n, t - s, c]`` where ``0 <= t - s < T``, and
    zero elsewhere: a positive shift moves content to later frames. Its gradient
    (``tin_shift_backward``) is the shift by ``-s``; the offsets get no gradient.

    Args:
        x: ``(N, T, C, HW)`` features.
        shift: ``(N, G)`` integer offsets, one per channel group; ``C`` must be divisible
            by ``G``.

    Returns:
        ``(N, T, C, HW)``, same dtype as ``x``.
    """
    n, t, c, hw = x.shape
    groups = shift.shape[1]
    if c % groups:
        raise ValueError(f"tin_shift: {c} channels are not divisible into {groups} groups")
    per_channel = shift.long().repeat_interleave(c // groups, dim=1)  # (N, C)
    frames = torch.arange(t, device=x.device).view(1, t, 1)  # (1, T, 1)
    source = frames - per_channel[:, None, :]  # (N, T, C): out[t] reads x[t - s]
    valid = (source >= 0) & (source < t)
    index = source.clamp(0, t - 1)[..., None].expand(n, t, c, hw)  # (N, T, C, HW)
    picked = torch.gather(x, 1, index)
    return torch.where(valid[..., None], picked, torch.zeros((), dtype=x.dtype, device=x.device))


def linear_sampler(data: Tensor, offset: Tensor) -> Tensor:
    """Shift channel groups by fractional offsets: linear interpolation of two integer shifts.

    Args:
        data: ``(N, T, C, H, W)`` features.
        offset: ``(N, G)`` offsets (float), one per group of ``C // G`` channels.

    Returns:
        ``(N, T, C, H, W)``.
    """
    n, t, c, h, w = data.shape
    offset0 = torch.floor(offset).int()
    offset1 = offset0 + 1
    data = data.reshape(n, t, c, h * w)  # (N, T, C, HW)
    data0 = tin_shift(data, offset0)
    data1 = tin_shift(data, offset1)
    weight0 = 1 - (offset - offset0.float())  # (N, G)
    weight1 = 1 - weight0
    groups = offset.shape[1]
    weight0 = weight0.repeat_interleave(c // groups, dim=1)[:, None, :, None]  # (N, 1, C, 1)
    weight1 = weight1.repeat_interleave(c // groups, dim=1)[:, None, :, None]
    out = weight0 * data0 + weight1 * data1
    return out.reshape(n, t, c, h, w)


class CombineNet(nn.Module):
    """``net2(net1(x))``; the interlace module and the conv it feeds, under MMAction2's names."""

    def __init__(self, net1: nn.Module, net2: nn.Module) -> None:
        super().__init__()
        self.net1 = net1
        self.net2 = net2

    def forward(self, x: Tensor) -> Tensor:
        return self.net2(self.net1(x))


class WeightNet(nn.Module):
    """Per-frame, per-group weights in (0, 2): ``2 * sigmoid(conv1d(x))``, 1 at init."""

    def __init__(self, in_channels: int, groups: int) -> None:
        super().__init__()
        self.sigmoid = nn.Sigmoid()
        self.groups = groups
        self.conv = nn.Conv1d(in_channels, groups, 3, padding=1)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        n, _, t = x.shape  # (N, C, T)
        x = self.conv(x).reshape(n, self.groups, t).permute(0, 2, 1)  # (N, T, G)
        return 2 * self.sigmoid(x)


class OffsetNet(nn.Module):
    """Per-group temporal offsets in (-2, 2): conv1d over channels, two fc layers over time."""

    def __init__(self, in_channels: int, groups: int, num_segments: int) -> None:
        super().__init__()
        self.sigmoid = nn.Sigmoid()
        self.conv = nn.Conv1d(in_channels, 1, 3, padding=1)
        self.fc1 = nn.Linear(num_segments, num_segments)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(num_segments, groups)
        nn.init.constant_(self.fc2.bias, 0.5108)

    def forward(self, x: Tensor) -> Tensor:
        n, _, t = x.shape  # (N, C, T)
        x = self.conv(x).reshape(n, t)  # (N, T)
        x = self.fc2(self.relu(self.fc1(x)))  # (N, G)
        x = x.reshape(n, 1, -1)  # (N, 1, G)
        return 4 * (self.sigmoid(x) - 0.5)


class TemporalInterlace(nn.Module):
    """Shift the first ``C // shift_div`` channels by learned, fractional temporal offsets.

    Those channels are split in four groups: groups 0 and 1 move by the two offsets that
    ``offset_net`` predicts per clip, groups 2 and 3 by their negatives; each frame is then
    scaled by ``weight_net``'s weights (groups 0/2 by the first, 1/3 by the second). The other
    channels pass unchanged.

    Args:
        in_channels: Channels of the input.
        num_segments: Frames per clip in the folded batch.
        shift_div: ``1 / shift_div`` of the channels are interlaced.
    """

    def __init__(self, in_channels: int, num_segments: int = 3, shift_div: int = 1) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.shift_div = shift_div
        self.in_channels = in_channels
        self.deform_groups = 2
        self.offset_net = OffsetNet(in_channels // shift_div, self.deform_groups, num_segments)
        self.weight_net = WeightNet(in_channels // shift_div, self.deform_groups)

    def forward(self, x: Tensor) -> Tensor:
        nt, c, h, w = x.shape
        n = nt // self.num_segments
        folds = c // self.shift_div
        desc = x[:, :folds].reshape(n, self.num_segments, folds, h, w)  # (N, T, F, H, W)
        pooled = desc.mean(3).mean(3).permute(0, 2, 1)  # (N, F, T)
        offset = self.offset_net(pooled).reshape(n, -1)  # (N, 2)
        weight = self.weight_net(pooled)  # (N, T, 2)
        offset = torch.cat([offset, -offset], 1)  # (N, 4)
        shifted = linear_sampler(desc, offset)  # (N, T, F, H, W)
        # (N, T, 2) -> (N, T, F): [g0 g1 g0 g1], each repeated F/4 times
        weight = weight[:, :, None, :, None].expand(n, self.num_segments, 2, 2, folds // 4)
        weight = weight.reshape(n, self.num_segments, folds)[..., None, None]
        shifted = (shifted * weight).reshape(nt, folds, h, w)
        return torch.cat([shifted, x[:, folds:]], dim=1)  # (N*T, C, H, W)


class ResNetTIN(ResNetTSM):
    """ResNet backbone for TIN: a temporal interlace before the first conv of every block.

    Input ``(N*T, C, H, W)`` with ``T = num_segments``.

    Args:
        depth: ResNet depth.
        is_tin: Insert the interlace modules.
        **kwargs: ``ResNetTSM`` arguments (``num_segments``, ``shift_div``, ``non_local``,
            ``non_local_cfg``, ``pretrained``, ``norm_eval``, ...); the temporal shift
            arguments (``is_shift``, ``shift_place``, ``temporal_pool``) are accepted and, as in
            MMAction2, have no effect.
    """

    def __init__(self, depth: int, is_tin: bool = True, **kwargs) -> None:
        self.is_tin = is_tin
        super().__init__(depth, **kwargs)

    def init_structure(self) -> None:
        """Interlace, then non-local blocks (the TSM shift and temporal pool are not used)."""
        if self.is_tin:
            self.make_temporal_interlace()
        if self.non_local_cfg:
            self.make_non_local()

    def make_temporal_interlace(self) -> None:
        for name in self.res_layers:
            for block in getattr(self, name):
                tim = TemporalInterlace(
                    block.conv1.conv.in_channels,
                    num_segments=self.num_segments,
                    shift_div=self.shift_div,
                )
                block.conv1.conv = CombineNet(tim, block.conv1.conv)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        if self.is_tin and x.shape[0] % self.num_segments:
            raise ValueError(
                f"ResNetTIN(num_segments={self.num_segments}) got {x.shape[0]} frames, not a "
                f"multiple of {self.num_segments}"
            )
        return ResNet.forward(self, x)


# --- variants -------------------------------------------------------------------------------

_URL = "https://download.openmmlab.com/mmaction/v1.0/recognition/tin/"


def _tin(num_classes: int, dropout_ratio: float, is_shift: bool, **kwargs) -> Recognizer2D:
    """TIN as MMAction2's ``configs/_base_/models/tin_r50.py`` builds it."""
    backbone = ResNetTIN(depth=50, norm_eval=False, shift_div=4, **kwargs)
    head = TSMHead(
        num_classes=num_classes,
        in_channels=2048,
        dropout_ratio=dropout_ratio,
        init_std=0.001,
        is_shift=is_shift,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(1, 1, 8),
    num_classes=174,
    url=_URL + "tin_imagenet-pretrained-r50_8xb6-1x1x8-40e_sthv2-rgb/"
    "tin_imagenet-pretrained-r50_8xb6-1x1x8-40e_sthv2-rgb_20220913-84f9b4b0.pth",
)
def tin_r50_1x1x8_sthv2(num_classes: int = 174, **kwargs) -> Recognizer2D:
    """TIN R50, 8 segments, Something-Something head (no shift in the head, dropout 0.8)."""
    return _tin(num_classes, dropout_ratio=0.8, is_shift=False, **kwargs)


@variant(
    clip_shape=(3, 8, 224, 224),
    sampling=(1, 1, 8),
    url=_URL + "tin_kinetics400-pretrained-tsm-r50_1x1x8-50e_kinetics400-rgb/"
    "tin_kinetics400-pretrained-tsm-r50_1x1x8-50e_kinetics400-rgb_20220913-7f10d0c0.pth",
)
def tin_r50_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TIN R50, 8 segments, Kinetics-400 head (shift in the head, dropout 0.5)."""
    return _tin(num_classes, dropout_ratio=0.5, is_shift=True, **kwargs)
