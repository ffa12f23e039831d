"""The 3D head (I3D, Carreira & Zisserman, 2017): pool space and time, classify."""

from __future__ import annotations

from vidlab.models.heads.base import PooledHead


class I3DHead(PooledHead):
    """Spatio-temporal average pool, dropout, linear: ``(N, C, T, H, W)`` -> ``(N, K)``.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        spatial_type: ``'avg'`` pools; anything else expects pooled features.
        dropout_ratio: Dropout before ``fc_cls``.
        init_std: Std of the ``fc_cls`` weight init.
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """
