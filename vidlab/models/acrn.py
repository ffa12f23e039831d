"""MMAction2's ``ACRNHead`` (Sun et al., Actor-Centric Relation Network, 2018): a shared head
of the AVA detector that relates each actor to the whole scene.

Each RoI's feature is max-pooled to one vector, tiled over the clip's feature map, joined with
that map along channels, and passed through a 1x1x1 conv and ``num_convs`` (1, 3, 3) convs
(MMCV conv-BN-ReLU blocks: ``conv1``, ``conv2``, ``convs.*``, as MMAction2's keys).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.models._checks import frozen
from vidlab.models.layers.conv_module import ConvModule

__all__ = ["ACRNHead"]


class ACRNHead(nn.Module):
    """Tile + 1x1x1 conv + (1, 3, 3) convs over [actor, context] features.

    Args:
        in_channels: Channels of the joined features (RoI channels + context channels).
        out_channels: Channels of the output.
        stride: Spatial stride of the first (1, 3, 3) conv.
        num_convs: Number of (1, 3, 3) convs (at least 1).
        conv_cfg, norm_cfg, act_cfg: MMCV layer specs.
    """

    _accepts_any_kwargs = True  # MMAction2: "other arguments, to be compatible with MMDet"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        num_convs: int = 1,
        conv_cfg: Mapping = frozen(type="Conv3d"),
        norm_cfg: Mapping = frozen(type="BN3d", requires_grad=True),
        act_cfg: Mapping = frozen(type="ReLU", inplace=True),
        **kwargs,
    ) -> None:
        super().__init__()
        if num_convs < 1:
            raise ValueError(f"ACRNHead: num_convs={num_convs}; at least 1")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.num_convs = num_convs
        self.max_pool = nn.AdaptiveMaxPool3d(1)
        layer = dict(bias=False, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(in_channels, out_channels, 1, stride=1, padding=0, **layer)
        self.conv2 = ConvModule(
            out_channels,
            out_channels,
            (1, 3, 3),
            stride=(1, stride, stride),
            padding=(0, 1, 1),
            **layer,
        )
        self.convs = nn.ModuleList(
            ConvModule(out_channels, out_channels, (1, 3, 3), padding=(0, 1, 1), **layer)
            for _ in range(num_convs - 1)
        )

    def init_weights(self, **kwargs) -> None:
        """Kaiming-normal convs (fan_out), BatchNorm weight 1 and bias 0, as MMAction2."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor, feat: Tensor, rois: Tensor, **kwargs) -> Tensor:
        """``x`` RoI features ``(K, C, T, s, s)``, ``feat`` the clip's pooled map
        ``(N, C', T, H, W)``, ``rois (K, 5)`` -> ``(K, out_channels, T, H', W')``."""
        x = self.max_pool(x)  # (K, C, 1, 1, 1)
        h, w = feat.shape[-2:]
        x_tile = x.repeat(1, 1, 1, h, w)  # (K, C, 1, H, W)
        context = feat[rois[:, 0].long()]  # (K, C', T, H, W): each RoI's own clip
        out = self.conv2(self.conv1(torch.cat([x_tile, context], dim=1)))
        for conv in self.convs:
            out = conv(out)
        return out
