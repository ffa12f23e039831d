"""Batch blending (mixup, cutmix) with MMAction2's names: ``clips, labels -> clips, soft labels``.

The engine calls ``clips, labels = blending(clips, labels)`` on a training batch. Clips are raw
pixel values ``(N, C, T, H, W)`` or ``(N, V, C, T, H, W)`` (uint8 becomes float32); both blends
are affine per pixel, so blending before normalization equals blending after it, as MMAction2
does. All randomness comes from torch's global generator (seeded by the engine).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from vidlab.models._checks import built


class BaseMiniBatchBlending:
    """Turns hard labels into one-hot targets and calls ``do_blending``.

    Args:
        num_classes: Number of classes.
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes

    def __call__(self, clips: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        if not clips.is_floating_point():
            clips = clips.float()
        if labels.dim() == 1:  # hard labels (B,)
            labels = F.one_hot(labels.long(), self.num_classes)
        return self.do_blending(clips, labels.float())

    def do_blending(self, clips: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class _BetaBlending(BaseMiniBatchBlending):
    def __init__(self, num_classes: int, alpha: float = 0.2) -> None:
        super().__init__(num_classes)
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha}")
        self.alpha = alpha
        self._beta = torch.distributions.Beta(
            torch.tensor(float(alpha)), torch.tensor(float(alpha))
        )

    def _sample(self, batch_size: int) -> tuple[float, Tensor]:
        lam = float(self._beta.sample())
        return lam, torch.randperm(batch_size)


class MixupBlending(_BetaBlending):
    """Mixup (Zhang et al., 2018): ``lam * x + (1 - lam) * x[perm]``, ``lam ~ Beta(alpha, alpha)``.

    Args:
        num_classes: Number of classes.
        alpha: Beta distribution parameter.
    """

    def do_blending(self, clips: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        lam, perm = self._sample(clips.shape[0])
        perm = perm.to(clips.device)
        clips = lam * clips + (1 - lam) * clips[perm]
        labels = lam * labels + (1 - lam) * labels[perm]
        return clips, labels


class CutmixBlending(_BetaBlending):
    """CutMix (Yun et al., 2019): paste a box from ``x[perm]`` into every frame of ``x``.

    The box covers about ``1 - lam`` of the frame; labels mix by the exact pasted area.

    Args:
        num_classes: Number of classes.
        alpha: Beta distribution parameter.
    """

    @staticmethod
    def rand_bbox(size: Sequence[int], lam: float) -> tuple[int, int, int, int]:
        """A box ``(x1, y1, x2, y2)`` of side ``sqrt(1 - lam)`` around a uniform centre."""
        h, w = size[-2], size[-1]
        cut_ratio = (1.0 - lam) ** 0.5
        cut_w, cut_h = int(w * cut_ratio), int(h * cut_ratio)
        cx = int(torch.randint(w, (1,)))
        cy = int(torch.randint(h, (1,)))
        x1, x2 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
        y1, y2 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
        return x1, y1, x2, y2

    def do_blending(self, clips: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        lam, perm = self._sample(clips.shape[0])
        perm = perm.to(clips.device)
        x1, y1, x2, y2 = self.rand_bbox(clips.shape, lam)
        clips = clips.clone()  # never write into the caller's batch
        clips[..., y1:y2, x1:x2] = clips[perm][..., y1:y2, x1:x2]
        lam = 1.0 - (x2 - x1) * (y2 - y1) / (clips.shape[-1] * clips.shape[-2])
        labels = lam * labels + (1 - lam) * labels[perm]
        return clips, labels


class RandomBatchAugment(BaseMiniBatchBlending):
    """Apply one of ``augments`` per batch, picked with ``probs``.

    Args:
        augments: Blending objects (one or a list).
        probs: Probability of each; None picks uniformly. If they sum to less than 1, the rest
            is the probability of leaving the batch unchanged (labels still become one-hot).
    """

    def __init__(self, augments, probs: float | Sequence[float] | None = None) -> None:
        if not isinstance(augments, (list, tuple)):
            augments = [augments]
        self.augments = [
            built(a, f"RandomBatchAugment(augments[{i}])") for i, a in enumerate(augments)
        ]
        super().__init__(self.augments[0].num_classes)
        if isinstance(probs, (int, float)):
            probs = [float(probs)]
        if probs is not None:
            probs = list(probs)
            if len(probs) != len(self.augments):
                raise ValueError(
                    f"augments and probs must have the same length, got {len(self.augments)} "
                    f"vs {len(probs)}"
                )
            if sum(probs) > 1 + 1e-6:
                raise ValueError(f"probs sum to {sum(probs)} > 1")
            self.augments.append(None)
            probs.append(max(0.0, 1.0 - sum(probs)))
        self.probs = probs

    def do_blending(self, clips: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        if self.probs is None:
            index = int(torch.randint(len(self.augments), (1,)))
        else:
            index = int(torch.multinomial(torch.tensor(self.probs), 1))
        aug = self.augments[index]
        return (clips, labels) if aug is None else aug.do_blending(clips, labels)
