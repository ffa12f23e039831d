"""MMAction2's ``OmniHead``: an image classifier (``fc2d``) and a video classifier (``fc3d``).

4D features ``(N, D, h, w)`` go to ``fc2d`` (pool, flatten, BatchNorm1d, dropout, linear),
5D features ``(N, D, t, h, w)`` to ``fc3d`` (with ``video_nl_head``: pool, flatten, linear to
``2 * video_classes``, BatchNorm1d, ReLU, dropout, linear; else as ``fc2d``). The module
indices are MMAction2's (``cls_head.fc3d.6.weight``), so its checkpoints load as they are.
"""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models.heads.base import BaseHead


class OmniHead(BaseHead):
    """Image and video classifiers for ``OmniResNet`` features.

    ``num_classes`` is the video classifier's (what ``reset_classifier`` replaces); MMAction2's
    ``BaseHead`` keeps ``image_classes`` there, which only its label smoothing reads: here label
    smoothing uses the width of the logits it is given, so it is right for both kinds.

    Args:
        image_classes: Classes of the image classifier.
        video_classes: Classes of the video classifier.
        in_channels: Channels of the backbone features.
        loss_cls: Loss module; None: ``CrossEntropyLoss()``.
        image_dropout_ratio: Dropout of the image classifier.
        video_dropout_ratio: Dropout of the video classifier.
        video_nl_head: A hidden layer (``2 * video_classes`` wide) in the video classifier.
        multi_class, label_smooth_eps, topk, average_clips, init_cfg: as ``BaseHead``.
    """

    def __init__(
        self,
        image_classes: int,
        video_classes: int,
        in_channels: int,
        loss_cls: nn.Module | None = None,
        image_dropout_ratio: float = 0.2,
        video_dropout_ratio: float = 0.5,
        video_nl_head: bool = True,
        multi_class: bool = False,
        label_smooth_eps: float = 0.0,
        topk: int | tuple[int, ...] = (1, 5),
        average_clips: str | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(
            video_classes,
            in_channels,
            loss_cls=loss_cls,
            multi_class=multi_class,
            label_smooth_eps=label_smooth_eps,
            topk=topk,
            average_clips=average_clips,
            dropout_ratio=0.0,
            init_cfg=init_cfg,
        )
        del self.fc_cls  # two classifiers instead; PyTorch's default init, as MMAction2's
        self.image_classes = image_classes
        self.video_classes = video_classes
        self.image_dropout_ratio = image_dropout_ratio
        self.video_dropout_ratio = video_dropout_ratio
        self.video_nl_head = video_nl_head
        self.fc2d = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.BatchNorm1d(in_channels),
            nn.Dropout(image_dropout_ratio),
            nn.Linear(in_channels, image_classes),
        )
        if video_nl_head:
            self.fc3d = nn.Sequential(
                nn.AdaptiveAvgPool3d(1),
                nn.Flatten(),
                nn.Linear(in_channels, video_classes * 2),
                nn.BatchNorm1d(video_classes * 2),
                nn.ReLU(inplace=True),
                nn.Dropout(video_dropout_ratio),
                nn.Linear(video_classes * 2, video_classes),
            )
        else:
            self.fc3d = nn.Sequential(
                nn.AdaptiveAvgPool3d(1),
                nn.Flatten(),
                nn.BatchNorm1d(in_channels),
                nn.Dropout(video_dropout_ratio),
                nn.Linear(in_channels, video_classes),
            )

    def init_weights(self) -> None:
        """Nothing: the layers keep PyTorch's default init (MMAction2's OmniHead has none)."""

    @property
    def num_features(self) -> int:
        """Width the video classifier sees (``2 * video_classes`` with ``video_nl_head``)."""
        return self.fc3d[-1].in_features

    def reset_classifier(self, num_classes: int) -> None:
        """A new last layer of the video classifier for ``num_classes`` (the hidden layer of
        ``video_nl_head`` is kept)."""
        ref = self.fc3d[-1].weight
        self.fc3d[-1] = nn.Linear(self.num_features, num_classes).to(ref.device, ref.dtype)
        self.num_classes = self.video_classes = num_classes

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        """What the last linear layer of the classifier of ``x``'s kind sees, before dropout."""
        layers = self.fc2d if x.dim() == 4 else self.fc3d
        return layers[:-2](x)  # (N, D)

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        """Image maps ``(N, D, h, w)`` -> ``(N, image_classes)``; video maps
        ``(N, D, t, h, w)`` -> ``(N, video_classes)``."""
        if x.dim() == 4:
            return self.fc2d(x)
        return self.fc3d(x)

    def loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Loss of either kind's logits; label smoothing over their own number of classes."""
        if labels.dim() == 0:
            labels = labels.unsqueeze(0)
        if self.label_smooth_eps:
            k = logits.shape[-1]
            if labels.shape != logits.shape:
                labels = F.one_hot(labels.long(), k)
            labels = (1 - self.label_smooth_eps) * labels + self.label_smooth_eps / k
        return self.loss_cls(logits, labels)
