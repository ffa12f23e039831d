"""TRN's head (Zhou et al., 2018): relations among ordered frame subsets, classified by MLPs.

Keys as MMAction2's: ``cls_head.fc_cls`` embeds each frame (``in_channels -> hidden_dim``);
the relation module is ``cls_head.consensus``: ``classifier.{1,3}`` (``'TRN'``, one relation of
all frames) or ``fc_fusion_scales.{i}.{1,3}`` (``'TRNMultiScale'``, one MLP per subset size).

Multi-scale TRN sums, for each subset size below ``num_segments``, the MLP scores of up to 3
subsets of that size. MMAction2 draws those subsets at random on every call, in training and
in testing alike (numpy's global generator), so its test scores vary from run to run. vidlab
draws them in training (torch's generator) and, in eval mode, uses their expectation: the mean
over all subsets of a size, times the number drawn. ``fix_relations`` pins the draws instead
(to reproduce a given MMAction2 call).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.models.heads.base import PooledHead


def _mlp(in_features: int, bottleneck: int, num_classes: int) -> nn.Sequential:
    # ReLU first: the frame embeddings come straight from fc_cls.
    return nn.Sequential(
        nn.ReLU(),
        nn.Linear(in_features, bottleneck),
        nn.ReLU(),
        nn.Linear(bottleneck, num_classes),
    )


def _new_last_layer(mlp: nn.Sequential, num_classes: int) -> None:
    last = mlp[3]
    mlp[3] = nn.Linear(last.in_features, num_classes).to(last.weight.device, last.weight.dtype)


class RelationModule(nn.Module):
    """One relation of all ``num_segments`` frames: an MLP on their concatenated embeddings.

    Args:
        hidden_dim: Embedding size of each frame.
        num_segments: Frames per clip.
        num_classes: Number of classes.
    """

    bottleneck_dim = 512

    def __init__(self, hidden_dim: int, num_segments: int, num_classes: int) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.num_segments = num_segments
        self.num_classes = num_classes
        self.classifier = _mlp(num_segments * hidden_dim, self.bottleneck_dim, num_classes)

    def reset_classifier(self, num_classes: int) -> None:
        _new_last_layer(self.classifier, num_classes)
        self.num_classes = num_classes

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(x.reshape(x.shape[0], -1))  # (N, S*hidden) -> (N, K)


class RelationModuleMultiScale(nn.Module):
    """Relations of every subset size from ``num_segments`` down to 2, summed.

    The full-size relation (all frames, in order) always counts; of each smaller size, up to
    ``max_subsample`` subsets (frames kept in order) are drawn in training, and their
    expectation is used in eval mode (see the module docstring).

    Args:
        hidden_dim: Embedding size of each frame.
        num_segments: Frames per clip.
        num_classes: Number of classes.
    """

    bottleneck_dim = 256
    max_subsample = 3

    def __init__(self, hidden_dim: int, num_segments: int, num_classes: int) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.num_segments = num_segments
        self.num_classes = num_classes
        self.scales = list(range(num_segments, 1, -1))
        self.relations_scales = [
            list(itertools.combinations(range(num_segments), s)) for s in self.scales
        ]
        self.subsample_scales = [min(self.max_subsample, len(r)) for r in self.relations_scales]
        # (subsets, size) frame indices per scale; derived, so not in the state dict
        for i, rel in enumerate(self.relations_scales):
            self.register_buffer(f"_subsets{i}", torch.tensor(rel), persistent=False)
        self.fc_fusion_scales = nn.ModuleList(
            _mlp(s * hidden_dim, self.bottleneck_dim, num_classes) for s in self.scales
        )
        self.picks: list[list[int]] | None = None

    def fix_relations(self, picks: Sequence[Sequence[int]] | None) -> None:
        """Use the given subsets (indices into ``relations_scales[i]`` for each scale ``i >= 1``)
        in every call, instead of drawing them or taking their expectation; None: undo."""
        if picks is not None:
            picks = [list(map(int, p)) for p in picks]
            if len(picks) != len(self.scales) - 1:
                raise ValueError(f"need picks for {len(self.scales) - 1} scales, got {len(picks)}")
        self.picks = picks

    def reset_classifier(self, num_classes: int) -> None:
        for mlp in self.fc_fusion_scales:
            _new_last_layer(mlp, num_classes)
        self.num_classes = num_classes

    def _relation(self, x: Tensor, i: int, subsets: Tensor) -> Tensor:
        """Scores of the subsets ``(M, size)`` of scale ``i``: ``(N, M, K)``."""
        n = x.shape[0]
        rel = x[:, subsets]  # (N, M, size, hidden)
        return self.fc_fusion_scales[i](rel.reshape(n, subsets.shape[0], -1))

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]  # x: (N, S, hidden)
        scores = self.fc_fusion_scales[0](x.reshape(n, -1))  # all frames in order: (N, K)
        for i in range(1, len(self.scales)):
            subsets = getattr(self, f"_subsets{i}")  # (M, size)
            k = self.subsample_scales[i]
            if self.picks is not None:
                for j in self.picks[i - 1]:  # one at a time, in MMAction2's order of sums
                    rel = x[:, list(self.relations_scales[i][j])].reshape(n, -1)
                    scores = scores + self.fc_fusion_scales[i](rel)
            elif self.training:
                drawn = torch.randperm(subsets.shape[0], device=subsets.device)[:k]
                scores = scores + self._relation(x, i, subsets[drawn]).sum(1)
            else:  # the expectation of the sum of k subsets drawn without replacement
                scores = scores + k * self._relation(x, i, subsets).mean(1)
        return scores  # (N, K)


class TRNHead(PooledHead):
    """Per-frame pool and embedding (``fc_cls``), then a relation module over the segments.

    Input ``(N*num_segments, C, H, W)`` -> logits ``(N, K)``; ``k * num_segments`` frames per
    clip give ``k`` rows per clip, as in MMAction2 (the recognizer merges them). There is no
    single classifier layer: ``pre_logits`` gives the frame embeddings the relation MLPs see,
    ``(N, num_segments * hidden_dim)``, and ``reset_classifier`` replaces the last layer of
    every relation MLP.

    Args:
        num_classes: Number of classes.
        in_channels: Input channels.
        num_segments: Frames per clip (the relations are built for this number).
        spatial_type: ``'avg'`` pools space; anything else expects pooled features.
        relation_type: ``'TRNMultiScale'`` or ``'TRN'``.
        hidden_dim: Embedding size of each frame.
        dropout_ratio: Dropout before ``fc_cls``.
        init_std: Std of the ``fc_cls`` weight init.
        **kwargs: ``BaseHead`` arguments (``loss_cls``, ``average_clips``, ...).
    """

    pool_type = nn.AdaptiveAvgPool2d

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        num_segments: int = 8,
        spatial_type: str | None = "avg",
        relation_type: str = "TRNMultiScale",
        hidden_dim: int = 256,
        dropout_ratio: float = 0.8,
        init_std: float = 0.001,
        **kwargs,
    ) -> None:
        relations = {"TRN": RelationModule, "TRNMultiScale": RelationModuleMultiScale}
        if relation_type not in relations:
            raise ValueError(
                f"TRNHead: unknown relation_type {relation_type!r}; use {sorted(relations)}"
            )
        super().__init__(num_classes, in_channels, spatial_type, dropout_ratio, init_std, **kwargs)
        self.num_segments = num_segments
        self.relation_type = relation_type
        self.hidden_dim = hidden_dim
        self.consensus = relations[relation_type](hidden_dim, num_segments, num_classes)
        self.fc_cls = nn.Linear(in_channels, hidden_dim)  # a frame embedding here
        super().init_weights()

    @property
    def num_features(self) -> int:
        return self.num_segments * self.hidden_dim

    def reset_classifier(self, num_classes: int) -> None:
        """New, freshly initialized last layers of the relation MLPs, for ``num_classes``."""
        self.consensus.reset_classifier(num_classes)
        self.num_classes = num_classes

    def _embed(self, x: Tensor, dropout: bool) -> Tensor:
        x = self._pool(x)  # (N*S, C)
        if dropout and self.dropout is not None:
            x = self.dropout(x)
        x = self.fc_cls(x)  # (N*S, hidden)
        return x.reshape(-1, self.num_segments, self.hidden_dim)  # (N, S, hidden)

    def pre_logits(self, x: Tensor, num_segs: int | None = None) -> Tensor:
        return self._embed(x, dropout=False).flatten(1)  # (N, S*hidden)

    def forward(self, x: Tensor, num_segs: int | None = None, **kwargs) -> Tensor:
        return self.consensus(self._embed(x, dropout=True))  # (N, K)
