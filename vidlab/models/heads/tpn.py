"""TPN's head (Yang et al., 2020): pool the neck's ``(N, C, t, h, w)`` map, classify.

MMAction2's ``TPNHead`` is a ``TSNHead`` with three ways through it, all kept here because each
uses its own pooling op (and MMAction2's logits are matched to the bit where the op is the same):

- 3D recognizer (``num_segs=None``): adaptive average pool over ``(t, h, w)``, dropout, ``fc_cls``;
- 2D recognizer (``num_segs`` given; the neck has pooled time to one step): an average pool with
  a ``(1, h, w)`` window, the segment consensus, dropout, ``fc_cls``;
- ``fcn_test`` (the configs' ``test_cfg=dict(fcn_test=True)``, eval only): adaptive average pool,
  then ``fc_cls`` applied as a 1x1x1 convolution (MMAction2 copies ``fc_cls`` into a ``Conv3d``
  on its first test call and keeps that copy; here the weights are read from ``fc_cls`` at each
  call, so a classifier trained after a test still tests as trained).
"""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models.heads.tsn import TSNHead


class TPNHead(TSNHead):
    """The TPN neck's map ``(N, C, t, h, w)`` -> logits ``(N, num_classes)``.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels (the neck's ``pyramid_fusion`` gives 2048).
        spatial_type: ``'avg'`` pools; anything else expects pooled features.
        consensus: The segment consensus module; None: ``AvgConsensus(dim=1)``.
        dropout_ratio: Dropout before ``fc_cls``.
        init_std: Std of the ``fc_cls`` weight init.
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """

    pool_type = nn.AdaptiveAvgPool3d  # the 3D recognizer's and fcn_test's pool

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        spatial_type: str | None = "avg",
        consensus: nn.Module | None = None,
        dropout_ratio: float = 0.4,
        init_std: float = 0.01,
        **kwargs,
    ) -> None:
        super().__init__(
            num_classes,
            in_channels,
            spatial_type=spatial_type,
            consensus=consensus,
            dropout_ratio=dropout_ratio,
            init_std=init_std,
            **kwargs,
        )

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        """Pooled features ``(N, C)`` of the map ``(N, C, t, h, w)``; ``num_segs`` given: the
        2D recognizer's way (a window over space and the one time step left, then the
        consensus over ``num_segs`` rows)."""
        if num_segs is None:
            return self._pool(x)  # (N, C)
        # MMAction2 pools (N, C, h, w) with an AvgPool3d window (1, h, w) (the time axis was
        # squeezed away); the same window over (t, h, w) of a 5D map sums the same values.
        x = F.avg_pool3d(x, x.shape[2:])  # (N*S, C, 1, 1, 1)
        x = x.flatten(1).reshape(-1, num_segs, x.shape[1])  # (N, S, C)
        return self.consensus(x).squeeze(1)  # (N, C)

    def forward(
        self, x: Tensor, num_segs: int | None = None, fcn_test: bool = False, **kwargs
    ) -> Tensor:
        """Logits ``(N, K)`` of the map ``(N, C, t, h, w)``.

        Args:
            x: The neck's output.
            num_segs: None for a 3D recognizer; the rows per clip (1) for a 2D one.
            fcn_test: Classify with ``fc_cls`` as a 1x1x1 convolution (MMAction2's
                ``test_cfg.fcn_test``; the recognizer sets it in eval mode only).
        """
        if fcn_test:
            x = self.avg_pool(x) if self.avg_pool is not None else x  # (N, C, 1, 1, 1)
            weight = self.fc_cls.weight[:, :, None, None, None]  # (K, C, 1, 1, 1)
            return F.conv3d(x, weight, self.fc_cls.bias).flatten(1)  # (N, K)
        return self._classify(self.pre_logits(x, num_segs))  # (N, K)
