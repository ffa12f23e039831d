"""Recognizers: raw pixel clips ``(N, C, T, H, W)`` in, logits ``(N, K)`` out.

Every recognizer keeps one contract (as timm's models do):

- ``forward(clips) -> logits``: nothing else, so ``torch.onnx.export(model, clips)`` needs no
  wrapper and ``torch.compile`` sees one graph;
- ``forward_features(clips)``: normalized clips through backbone and neck;
- ``forward_head(features, pre_logits=False)``: logits, or with ``pre_logits`` the pooled
  ``(N, num_features)`` features the classifier sees;
- ``num_features`` and ``reset_classifier(num_classes)``.

The engine computes the loss from the logits with ``model.loss(logits, labels)`` and merges
test views with ``model.average_views``. One exception to "logits only": a neck with an
auxiliary classifier (TPN's ``AuxHead``) makes ``forward`` return a ``RecognizerOutput``
(logits and auxiliary logits) in training mode, and ``model.loss`` of it a dict
``{'loss_cls', 'loss_aux'}``, as MMAction2's losses; in eval mode (tests, export) the output is
logits as always. Submodules are named as in MMAction2's state dicts
(``data_preprocessor``, ``backbone``, ``neck``, ``cls_head``), so its checkpoints load as
they are. Submodules are passed built; config files are built children first by
``vidlab.config.build``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models._checks import built
from vidlab.models.preprocess import ActionDataPreprocessor


def _merge(logits: Tensor, mode: str | None) -> Tensor:
    """``(B, V, K)`` -> ``(B, K)``: mean of softmax for ``'prob'``, mean of logits otherwise."""
    if mode == "prob":
        return F.softmax(logits, dim=2).mean(dim=1)
    return logits.mean(dim=1)


class RecognizerOutput(NamedTuple):
    """Training-mode output of a recognizer whose neck has an auxiliary head (TPN).

    Attributes:
        logits: The head's logits ``(N, K)``.
        aux_logits: The neck's auxiliary logits ``(N, K)``.
    """

    logits: Tensor
    aux_logits: Tensor


class BaseRecognizer(nn.Module):
    """The recognizer contract, the loss and view averaging.

    Args:
        backbone: Backbone module.
        cls_head: Head module (a ``BaseHead``).
        neck: Optional module applied to the backbone features before the head.
        train_cfg: Kept for MMAction2 config compatibility.
        test_cfg: May hold ``average_clips`` (MMAction2 0.x style), used when the head has none,
            and ``max_testing_views``.
        data_preprocessor: Normalization module; None: ``ActionDataPreprocessor()`` (no
            normalization).
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        backbone: nn.Module,
        cls_head: nn.Module | None = None,
        neck: nn.Module | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: nn.Module | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if data_preprocessor is None:
            data_preprocessor = ActionDataPreprocessor()
        self.data_preprocessor = built(data_preprocessor, f"{name}(data_preprocessor=...)")
        self.backbone = built(backbone, f"{name}(backbone=...)")
        self.neck = built(neck, f"{name}(neck=...)")
        self.cls_head = built(cls_head, f"{name}(cls_head=...)")
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.init_cfg = init_cfg

    # --- the contract -------------------------------------------------------------------------
    def forward(self, clips: Tensor) -> Tensor | RecognizerOutput:
        """Raw pixels ``(N, C, T, H, W)`` (uint8 or float 0..255) -> logits ``(N, K)``.

        In training mode with a neck that has an auxiliary head: ``RecognizerOutput(logits,
        aux_logits)``, for ``loss``.
        """
        if self.training and getattr(self.neck, "with_aux", False):
            feats, aux_logits = self._features(clips, with_aux=True)
            return RecognizerOutput(self.forward_head(feats), aux_logits)
        return self.forward_head(self.forward_features(clips))

    def forward_features(self, clips: Tensor) -> Tensor:
        """Raw pixels ``(N, C, T, H, W)`` -> backbone (and neck) features."""
        raise NotImplementedError

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        """Features of ``forward_features`` -> logits ``(N, K)``, or ``(N, num_features)``
        pooled features with ``pre_logits=True``."""
        raise NotImplementedError

    @property
    def num_features(self) -> int:
        """Channels of the pooled features that the classifier sees: the head's
        ``num_features`` where it has a hidden layer (X3D), else its ``in_channels``."""
        return getattr(self.cls_head, "num_features", self.cls_head.in_channels)

    @property
    def num_classes(self) -> int:
        return self.cls_head.num_classes

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier with a freshly initialized one for ``num_classes`` classes
        (and the neck's auxiliary classifier, where it has one)."""
        self.cls_head.reset_classifier(num_classes)
        if hasattr(self.neck, "reset_classifier"):
            self.neck.reset_classifier(num_classes)

    @property
    def _fcn_test(self) -> bool:
        """MMAction2's ``test_cfg.fcn_test`` (TPN): in eval mode the head classifies with
        ``fc_cls`` as a 1x1x1 conv, and a 2D recognizer's neck sees ``test_cfg.num_segs``
        (default: the backbone's ``num_segments``) frames at a time."""
        return not self.training and bool(self.test_cfg and self.test_cfg.get("fcn_test"))

    # --- what the engine uses -------------------------------------------------------------------
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

    def loss(self, logits: Tensor | RecognizerOutput, labels: Tensor) -> Tensor | dict[str, Tensor]:
        """The head's loss (label smoothing included) of logits ``(B, K)`` against labels.

        Given a ``RecognizerOutput`` (training with an auxiliary head): ``{'loss_cls': ...,
        'loss_aux': ...}``; the auxiliary loss sees the labels as given (soft ones from mixup
        included, no label smoothing), as MMAction2's ``AuxHead.loss``.
        """
        if isinstance(logits, RecognizerOutput):
            return {
                "loss_cls": self.cls_head.loss(logits.logits, labels),
                "loss_aux": self.neck.aux_loss(logits.aux_logits, labels),
            }
        return self.cls_head.loss(logits, labels)


class Recognizer2D(BaseRecognizer):
    """2D recognizer (TSN, TSM): frames are folded into the batch for a 2D backbone.

    Features are ``(N, T', D, h, w)``: per-frame maps, ``T'`` frames per clip (``T``, or fewer
    when the backbone pools time). With a neck (TPN), the backbone's levels are folded back into
    clips of ``S`` frames, ``(N*k, D_i, S, h_i, w_i)`` with ``T = k * S``, as MMAction2 does, and
    features are the neck's maps ``(N, k, D, t, h, w)``; ``S`` is ``T`` while training and, with
    ``test_cfg.fcn_test``, ``test_cfg.num_segs`` (default the backbone's ``num_segments``) in
    eval mode, whose ``k`` rows per clip are merged as TSM's.
    """

    def forward_features(self, clips: Tensor) -> Tensor:
        return self._features(clips)[0]

    def _features(self, clips: Tensor, with_aux: bool = False) -> tuple[Tensor, Tensor | None]:
        n, c, t, h, w = clips.shape
        x = self.data_preprocessor(clips)  # (N, C, T, H, W) float, normalized
        x = x.transpose(1, 2).reshape(n * t, c, h, w)  # (N*T, C, H, W): one image per frame
        feats = self._backbone_features(x)  # (N*T', D, h, w), or a tuple of levels
        if self.neck is None:
            return feats.reshape((n, -1) + feats.shape[1:]), None  # (N, T', D, h, w)
        segs = t
        if self._fcn_test:
            segs = self.test_cfg.get("num_segs", getattr(self.backbone, "num_segments", t))
        levels = feats if isinstance(feats, (tuple, list)) else (feats,)
        # (N*k, D_i, S, h_i, w_i): each clip of S frames is one sequence for the neck
        levels = [f.reshape((-1, segs) + f.shape[1:]).transpose(1, 2).contiguous() for f in levels]
        # the auxiliary head runs before the neck, as in MMAction2 (the same dropout draws)
        aux_logits = self.neck.forward_aux(levels) if with_aux else None
        feats = self.neck(levels)  # (N*k, D, t, h, w)
        return feats.reshape((n, -1) + feats.shape[1:]), aux_logits  # (N, k, D, t, h, w)

    def _backbone_features(self, x: Tensor) -> Tensor:
        """The backbone's map of each frame, as MMAction2's ``extract_feat`` takes it.

        MMPretrain/MMCls backbones return a tuple of one map: it is unwrapped. Backbones
        built from timm or torchvision (``vidlab.models.external``, marked ``backbone_from``)
        give ``forward_features`` (timm) or ``features`` (torchvision models that have it, else
        the model without its classifier), pooled here to ``(N*T, D, 1, 1)`` by their
        ``feature_shape``: ``'NCHW'``, ``'NHWC'`` or ``'NLC'``, read off the rank when unset.
        """
        source = getattr(self.backbone, "backbone_from", None)
        if source == "timm":
            x = self.backbone.forward_features(x)
        elif source == "torchvision" and hasattr(self.backbone, "features"):
            x = self.backbone.features(x)
        else:
            x = self.backbone(x)
        if isinstance(x, tuple) and len(x) == 1:
            x = x[0]
        if source not in ("timm", "torchvision"):
            return x
        shape = getattr(self.backbone, "feature_shape", None)
        if not shape:
            shape = "NLC" if x.dim() == 3 else "NCHW"
        # the pooling ops MMAction2 uses, so sums round the same way
        if shape == "NHWC":
            x = F.adaptive_avg_pool2d(x.permute(0, 3, 1, 2), 1)  # (N*T, D, 1, 1)
        elif shape == "NCHW":
            x = F.adaptive_avg_pool2d(x, 1)
        elif shape == "NLC":
            x = F.adaptive_avg_pool1d(x.transpose(1, 2), 1)  # (N*T, D, 1)
        else:
            raise ValueError(f"feature_shape must be 'NCHW', 'NHWC' or 'NLC', got {shape!r}")
        return x.reshape(x.shape[0], -1, 1, 1)  # (N*T, D, 1, 1)

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        n, t = features.shape[:2]
        x = features.flatten(0, 1)  # (N*T', D, h, w), or (N*k, D, t, h, w) after a neck
        if self.neck is not None:
            return self._neck_head(x, n, pre_logits)
        if pre_logits:
            return self.cls_head.pre_logits(x, num_segs=t)  # (N, D)
        logits = self.cls_head(x, num_segs=t)  # (N, K), or (k*N, K) for TSM with T=k*S
        if logits.shape[0] != n:
            logits = self._fold_rows(logits, n)
        return logits

    def _neck_head(self, x: Tensor, n: int, pre_logits: bool) -> Tensor:
        """The head on the neck's maps ``(N*k, D, t, h, w)``: one row per sequence (MMAction2
        squeezes the neck's single time step and calls the head with ``num_segs=1``)."""
        if pre_logits:
            pooled = self.cls_head.pre_logits(x, num_segs=None if self._fcn_test else 1)
            return pooled.reshape(n, -1, pooled.shape[-1]).mean(1)  # (N, D)
        if self._fcn_test:
            logits = self.cls_head(x, num_segs=1, fcn_test=True)  # (N*k, K)
        else:
            logits = self.cls_head(x, num_segs=1)
        return logits if logits.shape[0] == n else self._fold_rows(logits, n)

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


class Recognizer3D(BaseRecognizer):
    """3D recognizer: the backbone takes the clip ``(N, C, T, H, W)`` as it is.

    Features are the backbone's (and neck's) ``(N, D, t, h, w)`` map.
    """

    def forward_features(self, clips: Tensor) -> Tensor:
        return self._features(clips)[0]

    def _features(self, clips: Tensor, with_aux: bool = False) -> tuple[Tensor, Tensor | None]:
        x = self.data_preprocessor(clips)  # (N, C, T, H, W) float, normalized
        feats = self.backbone(x)  # (N, D, t, h, w), or a tuple of levels
        if self.neck is None:
            return feats, None
        aux_logits = self.neck.forward_aux(feats) if with_aux else None  # first, as MMAction2
        return self.neck(feats), aux_logits

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        if pre_logits:
            return self.cls_head.pre_logits(features)  # (N, D)
        if self._fcn_test:  # MMAction2 passes it to any head; only TPNHead reads it
            return self.cls_head(features, fcn_test=True)  # (N, K)
        return self.cls_head(features)  # (N, K)


class RecognizerGCN(BaseRecognizer):
    """Skeleton recognizer (MMAction2's ``RecognizerGCN``): keypoints in, logits out.

    The input is keypoints ``(N, M, T, V, C)``: N samples (views folded into the batch, as
    clips are), M persons, T frames, V joints, C coordinates (x, y, score or x, y, z), float.
    ``data_preprocessor`` only casts to float (MMAction2's GCN configs set no normalization).
    Features are the backbone's per-person maps ``(N, M, C', T', V)``.
    """

    def forward_features(self, clips: Tensor) -> Tensor:
        if clips.dim() != 5:
            raise ValueError(
                f"expected keypoints of shape (N, M, T, V, C), got {tuple(clips.shape)}; fold "
                "clips into the batch first: keypoints.flatten(0, 1)"
            )
        return self.backbone(self.data_preprocessor(clips))  # (N, M, C', T', V)

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        if pre_logits:
            return self.cls_head.pre_logits(features)  # (N, C')
        return self.cls_head(features)  # (N, K)
