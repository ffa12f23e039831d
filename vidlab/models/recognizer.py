"""Recognizers: raw pixel clips ``(N, C, T, H, W)`` in, logits ``(N, K)`` out.

Submodules are named as in MMAction2's state dicts (``data_preprocessor``, ``backbone``,
``neck``, ``cls_head``). ``forward`` returns logits and nothing else, so
``torch.onnx.export(model, clips)`` needs no wrapper; the engine computes the loss with
``model.loss(logits, labels)`` and merges test views with ``model.average_views``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models._build import build_module
from vidlab.models.preprocess import ActionDataPreprocessor


def _merge(logits: Tensor, mode: str | None) -> Tensor:
    """``(B, V, K)`` -> ``(B, K)``: mean of softmax for ``'prob'``, mean of logits otherwise."""
    if mode == "prob":
        return F.softmax(logits, dim=2).mean(dim=1)
    return logits.mean(dim=1)


class BaseRecognizer(nn.Module):
    """Shared construction, loss and view averaging.

    Args:
        backbone: Backbone module or config.
        cls_head: Head module or config.
        neck: Optional module or config applied to the backbone features before the head.
        train_cfg: Kept for MMAction2 config compatibility.
        test_cfg: May hold ``average_clips`` (MMAction2 0.x style), used when the head has none.
        data_preprocessor: Module or config; default ``ActionDataPreprocessor()`` (no
            normalization).
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        backbone,
        cls_head=None,
        neck=None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor=None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if data_preprocessor is None:
            data_preprocessor = ActionDataPreprocessor()
        self.data_preprocessor = build_module(data_preprocessor, "model.data_preprocessor")
        self.backbone = build_module(backbone, "model.backbone")
        self.neck = build_module(neck, "model.neck")
        self.cls_head = build_module(cls_head, "model.cls_head")
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.init_cfg = init_cfg

    @property
    def average_clips(self) -> str | None:
        """``'prob'``, ``'score'`` or None, from the head or else from ``test_cfg``."""
        mode = getattr(self.cls_head, "average_clips", None)
        if mode is None and self.test_cfg:
            mode = self.test_cfg.get("average_clips")
        return mode

    def average_views(self, logits: Tensor, num_views: int) -> Tensor:
        """``(B*V, K)`` logits of ``V`` views per video -> ``(B, K)`` per ``average_clips``.

        ``'prob'`` averages softmax probabilities (the result is probabilities); ``'score'``
        and None average logits.
        """
        logits = logits.reshape(-1, num_views, logits.shape[-1])  # (B, V, K)
        return _merge(logits, self.average_clips)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """The head's loss (label smoothing included) of logits ``(B, K)`` against labels."""
        return self.cls_head.loss(logits, labels)

    def _fold_rows(self, logits: Tensor, n: int) -> Tensor:
        """Merge ``k`` rows per clip (TSM given ``k * num_segments`` frames) into one.

        With ``average_clips='prob'`` the merged row is ``log(mean softmax)``, whose softmax is
        the mean probability, so averaging views afterwards equals MMAction2's average over all
        ``views * k`` rows; otherwise logits are averaged.
        """
        k = logits.shape[0] // n
        logits = logits.reshape(n, k, logits.shape[-1])  # (N, k, K)
        if self.average_clips == "prob":
            return torch.logsumexp(F.log_softmax(logits, dim=2), dim=1) - math.log(k)
        return logits.mean(dim=1)


class Recognizer2D(BaseRecognizer):
    """2D recognizer (TSN, TSM): frames are folded into the batch for a 2D backbone."""

    def forward(self, clips: Tensor) -> Tensor:
        """Raw pixels ``(N, C, T, H, W)`` (uint8 or float 0..255) -> logits ``(N, K)``."""
        n, c, t, h, w = clips.shape
        x = self.data_preprocessor(clips)  # (N, C, T, H, W) float, normalized
        x = x.transpose(1, 2).reshape(n * t, c, h, w)  # (N*T, C, H, W): one image per frame
        feats = self.backbone(x)  # (N*T, D, h, w)
        if self.neck is not None:
            feats = self.neck(feats)
        logits = self.cls_head(feats, num_segs=t)  # (N, K), or (k*N, K) for TSM with T=k*S
        if logits.shape[0] != n:
            logits = self._fold_rows(logits, n)
        return logits


class Recognizer3D(BaseRecognizer):
    """3D recognizer: the backbone takes the clip ``(N, C, T, H, W)`` as it is."""

    def forward(self, clips: Tensor) -> Tensor:
        """Raw pixels ``(N, C, T, H, W)`` (uint8 or float 0..255) -> logits ``(N, K)``."""
        x = self.data_preprocessor(clips)  # (N, C, T, H, W) float, normalized
        feats = self.backbone(x)  # (N, D, t, h, w)
        if self.neck is not None:
            feats = self.neck(feats)
        return self.cls_head(feats)  # (N, K)
