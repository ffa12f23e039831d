"""X3D's head (Feichtenhofer, 2020): pool, a 2048-wide hidden layer, classify."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.base import BaseHead


class X3DHead(BaseHead):
    """Global pool, ``fc1`` + ReLU, dropout, ``fc2``: ``(N, C, T, H, W)`` -> ``(N, K)``.

    The classifier is ``fc2`` (MMAction2's keys ``cls_head.fc1.weight``, ``cls_head.fc2.*``);
    ``pre_logits`` gives the hidden features ``(N, mid_channels)`` that ``fc2`` sees, so
    ``num_features`` is ``mid_channels``, not ``in_channels``.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        spatial_type: ``'avg'`` or ``'max'`` global pooling.
        dropout_ratio: Dropout before ``fc2``.
        init_std: Std of the ``fc1``/``fc2`` weight init.
        fc1_bias: Give ``fc1`` a bias.
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """

    mid_channels = 2048

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        spatial_type: str | None = "avg",
        dropout_ratio: float = 0.5,
        init_std: float = 0.01,
        fc1_bias: bool = False,
        **kwargs,
    ) -> None:
        if spatial_type not in ("avg", "max"):
            raise NotImplementedError(f"X3DHead: spatial_type={spatial_type!r}; use 'avg' or 'max'")
        super().__init__(
            num_classes, in_channels, dropout_ratio=dropout_ratio, init_std=init_std, **kwargs
        )
        del self.fc_cls  # MMAction2's X3D head classifies with fc2
        self.spatial_type = spatial_type
        self.fc1_bias = fc1_bias
        self.fc1 = nn.Linear(in_channels, self.mid_channels, bias=fc1_bias)
        self.fc2 = nn.Linear(self.mid_channels, num_classes)
        self.relu = nn.ReLU()
        pool = nn.AdaptiveAvgPool3d if spatial_type == "avg" else nn.AdaptiveMaxPool3d
        self.pool = pool((1, 1, 1))
        self.init_weights()

    @property
    def num_features(self) -> int:
        return self.mid_channels

    def init_weights(self) -> None:
        """Normal(0, init_std) weights and zero biases for ``fc1`` and ``fc2``."""
        if "fc2" not in self._modules:  # BaseHead.__init__ calls this before fc1/fc2 exist
            return
        for fc in (self.fc1, self.fc2):
            nn.init.normal_(fc.weight, 0, self.init_std)
            if fc.bias is not None:
                nn.init.zeros_(fc.bias)

    def reset_classifier(self, num_classes: int) -> None:
        """A new, freshly initialized ``fc2`` for ``num_classes`` classes."""
        ref = self.fc2.weight
        self.fc2 = nn.Linear(self.mid_channels, num_classes).to(ref.device, ref.dtype)
        nn.init.normal_(self.fc2.weight, 0, self.init_std)
        nn.init.zeros_(self.fc2.bias)
        self.num_classes = num_classes

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        x = self.pool(x).flatten(1)  # (N, C)
        return self.relu(self.fc1(x))  # (N, mid_channels)

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        x = self.pre_logits(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc2(x)  # (N, K)
