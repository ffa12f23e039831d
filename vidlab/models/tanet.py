"""TANet (Liu et al., 2021): MMAction2's ``TANet`` backbone and the named TANet variants.

A ResNet whose every Bottleneck becomes a ``TABlock``: the block moves under ``.block`` and a
temporal adaptive module (TAM) after its first conv sits beside it, so keys read
``layer1.0.block.conv1.conv.weight`` and ``layer1.0.tam.{G,L}.*`` (as MMAction2's). The head is
TSM's (``TSMHead``), as in MMAction2's configs.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.models.heads.base import AvgConsensus
from vidlab.models.heads.tsm import TSMHead
from vidlab.models.layers.checkpointing import checkpointed
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer2D
from vidlab.models.resnet import FEAT_DIM, Bottleneck, ResNet, _torchvision_name
from vidlab.models.variants import IMAGENET_STD, variant


class TAM(nn.Module):
    """Temporal adaptive module: a local channel gate and a global, per-clip temporal kernel.

    Input and output ``(N*T, C, H, W)`` with ``T = num_segments``. From each channel's
    per-frame means, the local branch ``L`` (1D convs over time) gates every frame, and the
    global branch ``G`` (MLP over time) predicts a temporal kernel of ``adaptive_kernel_size``
    taps, which then convolves the gated frames of that channel and clip.

    Args:
        in_channels: Channels of the input.
        num_segments: Frames per clip.
        alpha: Hidden width of ``G`` in units of ``num_segments``.
        adaptive_kernel_size: Taps of the predicted temporal kernel.
        beta: Channel reduction of ``L``'s hidden layer.
        conv1d_kernel_size: Kernel size of ``L``'s first temporal conv.
        adaptive_convolution_stride: Temporal stride of the adaptive convolution.
        adaptive_convolution_padding: Temporal zero padding of the adaptive convolution.
        init_std: Accepted for MMAction2 compatibility (it leaves PyTorch's init, as here).
    """

    def __init__(
        self,
        in_channels: int,
        num_segments: int,
        alpha: int = 2,
        adaptive_kernel_size: int = 3,
        beta: int = 4,
        conv1d_kernel_size: int = 3,
        adaptive_convolution_stride: int = 1,
        adaptive_convolution_padding: int = 1,
        init_std: float = 0.001,
    ) -> None:
        super().__init__()
        if alpha <= 0 or beta <= 0:
            raise ValueError(f"TAM: alpha and beta must be positive, got {alpha}, {beta}")
        self.in_channels = in_channels
        self.num_segments = num_segments
        self.alpha = alpha
        self.adaptive_kernel_size = adaptive_kernel_size
        self.beta = beta
        self.conv1d_kernel_size = conv1d_kernel_size
        self.adaptive_convolution_stride = adaptive_convolution_stride
        self.adaptive_convolution_padding = adaptive_convolution_padding
        self.init_std = init_std
        self.G = nn.Sequential(
            nn.Linear(num_segments, num_segments * alpha, bias=False),
            nn.BatchNorm1d(num_segments * alpha),
            nn.ReLU(inplace=True),
            nn.Linear(num_segments * alpha, adaptive_kernel_size, bias=False),
            nn.Softmax(-1),
        )
        self.L = nn.Sequential(
            nn.Conv1d(
                in_channels,
                in_channels // beta,
                conv1d_kernel_size,
                stride=1,
                padding=conv1d_kernel_size // 2,
                bias=False,
            ),
            nn.BatchNorm1d(in_channels // beta),
            nn.ReLU(inplace=True),
            nn.Conv1d(in_channels // beta, in_channels, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        nt, c, h, w = x.shape
        t = self.num_segments
        n = nt // t
        x = x.view(n, t, c, h, w).permute(0, 2, 1, 3, 4).contiguous()  # (N, C, T, H, W)
        theta = F.adaptive_avg_pool2d(x.view(-1, t, h, w), (1, 1))  # (N*C, T, 1, 1)
        kernel = self.G(theta.view(-1, t)).view(n, c, -1)  # (N, C, K): one kernel per clip
        gate = self.L(theta.view(n, c, t)).view(n, c, t, 1, 1)  # (N, C, T, 1, 1)
        x = x * gate
        s, p = self.adaptive_convolution_stride, self.adaptive_convolution_padding
        if torch.onnx.is_in_onnx_export() or torch.jit.is_tracing():
            y = self._shifted_sum(x, kernel, s, p)
        else:
            # One grouped conv over all (clip, channel) pairs, as MMAction2 computes it: 2.4x
            # faster than the shifted sums on CPU (forward + backward, 256 ch at 28 px).
            k = kernel.shape[2]
            y = F.conv2d(
                x.view(1, n * c, t, h * w),
                kernel.reshape(n * c, 1, k, 1),
                stride=(s, 1),
                padding=(p, 0),
                groups=n * c,
            ).view(n, c, -1, h, w)
        return y.permute(0, 2, 1, 3, 4).reshape(nt, c, h, w)  # (N*T, C, H, W)

    @staticmethod
    def _shifted_sum(x: Tensor, kernel: Tensor, s: int, p: int) -> Tensor:
        """The same convolution as a sum of shifted frames, for export: the grouped conv's
        ``groups=N*C`` would bake the batch size into the graph. addcmul (a fused multiply-add
        on CPU) gives the conv's sums exactly."""
        n, c, t = x.shape[:3]
        k = kernel.shape[2]
        x = F.pad(x, (0, 0, 0, 0, p, p))  # (N, C, T + 2p, H, W)
        t_out = (t + 2 * p - k) // s + 1
        taps = [x[:, :, i : i + s * (t_out - 1) + 1 : s] for i in range(k)]  # (N, C, T', H, W)
        weights = [kernel[:, :, i].view(n, c, 1, 1, 1) for i in range(k)]
        y = taps[0] * weights[0]
        for tap, weight in zip(taps[1:], weights[1:]):
            y = torch.addcmul(y, tap, weight)
        return y


class TABlock(nn.Module):
    """A Bottleneck with a TAM after its first conv (keys ``.block.*`` and ``.tam.*``).

    Args:
        block: The Bottleneck to wrap.
        num_segments: Frames per clip.
        tam_cfg: ``TAM`` arguments beyond channels and segments.
    """

    def __init__(self, block: nn.Module, num_segments: int, tam_cfg: Mapping | None = None) -> None:
        super().__init__()
        if not isinstance(block, Bottleneck):
            raise NotImplementedError(
                f"TANet wraps Bottleneck blocks only (ResNet-50 and deeper), got "
                f"{type(block).__name__}"
            )
        self.block = block
        self.num_segments = num_segments
        self.tam_cfg = dict(tam_cfg or {})
        self.tam = TAM(block.conv1.conv.out_channels, num_segments, **self.tam_cfg)

    def _residual(self, x: Tensor) -> Tensor:
        b = self.block
        out = b.conv3(b.conv2(self.tam(b.conv1(x))))
        identity = x if b.downsample is None else b.downsample(x)
        return out + identity

    def forward(self, x: Tensor) -> Tensor:
        return self.block.relu(checkpointed(self._residual, x, enabled=self.block.with_cp))


def _plain(name: str) -> str:
    """A TANet key without its ``TABlock`` wrapper: ``layer1.0.block.conv1...`` ->
    ``layer1.0.conv1...`` (the plain ResNet's name)."""
    return name.replace(".block.", ".", 1)


def from_torchvision(state_dict: Mapping[str, Tensor], model: nn.Module) -> dict | None:
    """torchvision's ResNet names -> TANet's, or None when ``state_dict`` is not torchvision's
    (the TAMs stay missing: they start from PyTorch's init, as in MMAction2)."""
    if "conv1.weight" not in state_dict:
        return None
    ours = {_torchvision_name(_plain(k)): k for k in model.state_dict()}
    return {ours.get(k, k): v for k, v in state_dict.items()}


class TANet(ResNet):
    """ResNet backbone with a TAM in every block: input ``(N*T, C, H, W)``, ``T = num_segments``.

    Args:
        depth: ResNet depth (50, 101 or 152: TAMs go into Bottlenecks).
        num_segments: Frames per clip in the folded batch (at least 3).
        tam_cfg: ``TAM`` arguments (``alpha``, ``beta``, ``adaptive_kernel_size``, ...).
        **kwargs: ``ResNet`` arguments (``pretrained``, ``norm_eval``, ``frozen_stages``, ...);
            ``pretrained`` may be torchvision's ResNet, a plain ResNet backbone or a TANet.
    """

    def __init__(
        self, depth: int, num_segments: int, tam_cfg: Mapping | None = None, **kwargs
    ) -> None:
        super().__init__(depth, **kwargs)
        if num_segments < 3:
            raise ValueError(f"TANet needs num_segments >= 3, got {num_segments}")
        self.num_segments = num_segments
        self.tam_cfg = dict(tam_cfg or {})
        for name in self.res_layers:
            blocks = [TABlock(b, num_segments, self.tam_cfg) for b in getattr(self, name)]
            setattr(self, name, nn.Sequential(*blocks))
        self._apply_freezing()

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained`` (called when training starts, never while building)."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained, from_torchvision, look_through=_plain)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        if x.shape[0] % self.num_segments:
            raise ValueError(
                f"TANet(num_segments={self.num_segments}) got {x.shape[0]} frames, not a "
                f"multiple of {self.num_segments}: give clips of T = k * {self.num_segments} "
                "frames"
            )
        return super().forward(x)


# --- variants -------------------------------------------------------------------------------

# MMAction2's TANet configs subtract 103.5, not 103.53, from the blue channel.
TANET_MEAN = (123.675, 116.28, 103.5)
_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/tanet/"


def _tanet(
    num_segments: int,
    num_classes: int,
    dropout_ratio: float,
    pretrained: str | None = None,
    **kwargs,
) -> Recognizer2D:
    """TANet as MMAction2's ``configs/_base_/models/tanet_r50.py`` builds it."""
    backbone = TANet(depth=50, num_segments=num_segments, pretrained=pretrained, **kwargs)
    head = TSMHead(
        num_classes=num_classes,
        in_channels=FEAT_DIM[50],
        num_segments=num_segments,
        spatial_type="avg",
        consensus=AvgConsensus(dim=1),
        dropout_ratio=dropout_ratio,
        init_std=0.001,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=TANET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)


def _url(name: str, stamp: str) -> str:
    return f"{_ZOO}{name}/{name}_{stamp}.pth"


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(1, 1, 8),
    mean=TANET_MEAN,
    url=_url(
        "tanet_imagenet-pretrained-r50_8xb8-dense-1x1x8-100e_kinetics400-rgb", "20220919-a34346bc"
    ),
)
def tanet_r50_dense_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TANet-R50 on Kinetics-400: 8 densely sampled frames, tested on three 256 px crops."""
    return _tanet(8, num_classes, dropout_ratio=0.5, **kwargs)


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(1, 1, 8),
    num_classes=174,
    mean=TANET_MEAN,
    url=_url("tanet_imagenet-pretrained-r50_8xb8-1x1x8-50e_sthv1-rgb", "20220906-de50e4ef"),
)
def tanet_r50_1x1x8(num_classes: int = 174, **kwargs) -> Recognizer2D:
    """TANet-R50 on Something-Something V1: 8 segments (tested twice-sampled, three crops)."""
    return _tanet(8, num_classes, dropout_ratio=0.6, **kwargs)


@variant(
    clip_shape=(3, 16, 224, 224),
    sampling=(1, 1, 16),
    num_classes=174,
    mean=TANET_MEAN,
    url=_url("tanet_imagenet-pretrained-r50_8xb6-1x1x16-50e_sthv1-rgb", "20220919-cc37e9b8"),
)
def tanet_r50_1x1x16(num_classes: int = 174, **kwargs) -> Recognizer2D:
    """TANet-R50 on Something-Something V1: 16 segments, tested on a 224 px center crop."""
    return _tanet(16, num_classes, dropout_ratio=0.6, **kwargs)
