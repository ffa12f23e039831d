"""UniFormerV2's head: dropout and a linear classifier on the backbone's pooled features.

MMAction2's ``UniFormerHead`` can start from a Kinetics-710 checkpoint's classifier for a
Kinetics-400/600/700 model: ``init_cfg=dict(type='Pretrained', checkpoint=...)`` names the
file, ``channel_map`` a JSON list of the K-710 rows that are the new classes, in order.
vidlab reads both in ``init_weights`` (when training starts), never while building.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport, extract_state_dict, load_checkpoint, load_weights
from vidlab.models._checks import frozen
from vidlab.models.heads.base import BaseHead
from vidlab.models.pretrained import PretrainedError, resolve_pretrained

TRUNC_NORMAL_INIT = frozen(type="TruncNormal", layer="Linear", std=0.02)


class UniFormerHead(BaseHead):
    """``(N, in_channels)`` features -> dropout -> ``fc_cls`` -> ``(N, K)``.

    Args:
        num_classes: Number of classes.
        in_channels: Feature channels.
        loss_cls: Loss module; None: cross entropy.
        dropout_ratio: Dropout before ``fc_cls``.
        channel_map: JSON file of the checkpoint classifier's rows to keep (with a
            ``Pretrained`` ``init_cfg``); a relative path is taken from the working directory.
        init_cfg: ``TruncNormal`` (std 0.02, MMAction2's default), or ``Pretrained`` with
            ``checkpoint``: the classifier is then loaded by ``init_weights``.
        **kwargs: ``BaseHead`` arguments (``average_clips``, ``label_smooth_eps``, ...).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        loss_cls: nn.Module | None = None,
        dropout_ratio: float = 0.0,
        channel_map: str | None = None,
        init_cfg: Mapping | None = TRUNC_NORMAL_INIT,
        **kwargs,
    ) -> None:
        super().__init__(
            num_classes,
            in_channels,
            loss_cls=loss_cls,
            dropout_ratio=dropout_ratio,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.channel_map = channel_map
        pretrained = None
        if isinstance(init_cfg, Mapping) and init_cfg.get("type") == "Pretrained":
            pretrained = init_cfg.get("checkpoint")
            if channel_map is None:
                raise ValueError(
                    "UniFormerHead: init_cfg type='Pretrained' loads a classifier of other "
                    "classes and needs channel_map= (a JSON list of the rows to keep)"
                )
        self.pretrained = pretrained  # read by init_pretrained, after building

    def init_weights(self) -> LoadReport | None:
        """Truncated-normal ``fc_cls`` (std 0.02, zero bias); with a ``Pretrained`` init_cfg
        (once ``pretrained`` is set) the checkpoint's ``cls_head.*`` rows of ``channel_map``."""
        if getattr(self, "pretrained", None) is None:
            nn.init.trunc_normal_(self.fc_cls.weight, std=0.02)
            nn.init.zeros_(self.fc_cls.bias)
            return None
        path = resolve_pretrained(self.pretrained)
        state = extract_state_dict(load_checkpoint(path))
        state = {k[len("cls_head.") :]: v for k, v in state.items() if k.startswith("cls_head.")}
        try:
            with open(self.channel_map) as f:
                rows = json.load(f)
        except OSError as e:
            raise PretrainedError(
                f"UniFormerHead: channel_map={self.channel_map!r} cannot be read ({e}); give the "
                "JSON file of class rows (MMAction2's configs/recognition/uniformerv2/"
                "k710_channel_map/) as an absolute path or relative to the working directory"
            ) from e
        state = {k: v[rows] for k, v in state.items()}
        report = load_weights(self, state, strict=False)
        report.source = path
        return report

    def reset_classifier(self, num_classes: int) -> None:
        self.pretrained = None  # a new classifier is a fresh one
        super().reset_classifier(num_classes)

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        return x  # (N, C): the backbone pools already

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        return self._classify(x)  # (N, K)
