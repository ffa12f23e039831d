"""Multi-stream fusion at test time: the scores of joint, bone and motion models, weighted.

Skeleton GCNs are trained once per input stream (``GenSkeFeat(feats=['j'])``, ``['b']``,
``['jm']``, ``['bm']``) and their test scores are fused: MMAction2 does it offline with
``tools/analysis_tools/report_accuracy.py --preds j.pkl b.pkl ... --coefficients ...``
(``sum_i coefficient_i * scores_i``, optionally of softmaxed scores). :func:`fuse_scores` is that
sum on tensors; :class:`StreamFusion` runs several recognizers, each on its own stream, and
fuses their view-averaged scores in one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn as nn
from torch import Tensor


def fuse_scores(
    scores: Sequence[Tensor],
    coefficients: Sequence[float] | None = None,
    apply_softmax: bool = False,
) -> Tensor:
    """``sum_i coefficients[i] * scores[i]`` over streams: each ``(B, K)``, result ``(B, K)``.

    Args:
        scores: One ``(B, K)`` tensor per stream (the same samples in the same order).
        coefficients: Weight of each stream; None: 1 each (MMAction2's default).
        apply_softmax: Softmax each stream's scores over classes first (``--apply-softmax``).
    """
    if not scores:
        raise ValueError("fuse_scores needs the scores of at least one stream")
    if coefficients is None:
        coefficients = [1.0] * len(scores)
    if len(coefficients) != len(scores):
        raise ValueError(f"{len(scores)} score tensors but {len(coefficients)} coefficients")
    shapes = {tuple(s.shape) for s in scores}
    if len(shapes) != 1:
        raise ValueError(f"the streams' scores differ in shape: {sorted(shapes)}")
    fused = None
    for s, c in zip(scores, coefficients):
        s = s.softmax(dim=-1) if apply_softmax else s
        fused = s * c if fused is None else fused + s * c
    return fused


class StreamFusion(nn.Module):
    """Recognizers of several input streams, their scores fused.

    ``forward(streams)`` takes ``{name: input}`` (e.g. ``{'j': joints, 'b': bones}``, each
    ``(B*V, M, T, V_joints, C)`` with ``num_views`` views per sample) and returns the fused
    ``(B, K)`` scores: each model's logits averaged over views by its own ``average_views``
    (probabilities for GCNHead's ``average_clips='prob'``), then :func:`fuse_scores`.

    Args:
        models: Stream name -> recognizer (all with the same classes).
        coefficients: Stream name -> weight; None: 1 each.
        apply_softmax: Softmax each stream's averaged scores before weighting.
    """

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        coefficients: Mapping[str, float] | None = None,
        apply_softmax: bool = False,
    ) -> None:
        super().__init__()
        if not models:
            raise ValueError("StreamFusion needs at least one stream")
        self.models = nn.ModuleDict(dict(models))
        coefficients = dict(coefficients or {})
        unknown = sorted(set(coefficients) - set(models))
        if unknown:
            raise ValueError(f"coefficients for unknown streams {unknown}; streams: {list(models)}")
        self.coefficients = {name: float(coefficients.get(name, 1.0)) for name in models}
        self.apply_softmax = apply_softmax

    def forward(self, streams: Mapping[str, Tensor], num_views: int = 1) -> Tensor:
        missing = sorted(set(self.models) - set(streams))
        if missing:
            raise ValueError(f"no input for streams {missing}; got {sorted(streams)}")
        scores = []
        for name, model in self.models.items():
            logits = model(streams[name])  # (B*V, K)
            scores.append(model.average_views(logits, num_views))  # (B, K)
        coefficients = [self.coefficients[name] for name in self.models]
        return fuse_scores(scores, coefficients, self.apply_softmax)


__all__ = ["StreamFusion", "fuse_scores"]
