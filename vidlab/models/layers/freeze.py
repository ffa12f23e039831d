"""Freezing parts of a backbone: MMAction2's ``frozen_stages``, ``partial_bn`` and ``norm_eval``."""

from __future__ import annotations

from collections.abc import Iterable

import torch.nn as nn

_BatchNorm = nn.modules.batchnorm._BatchNorm


def freeze(modules: Iterable[nn.Module]) -> None:
    """Eval mode and no gradients for each module (a frozen stage keeps its statistics)."""
    for m in modules:
        m.eval()
        for p in m.parameters():
            p.requires_grad = False


def norms_to_eval(module: nn.Module) -> None:
    """Every BatchNorm inside ``module`` to eval mode (``norm_eval``: statistics stay fixed)."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.eval()


class FreezableBackbone(nn.Module):
    """A backbone whose frozen stages (MMAction2's ``frozen_stages``) and, with ``norm_eval``,
    BatchNorms stay in eval mode through every ``train()`` call.

    Subclasses implement ``_apply_freezing`` (eval mode and no gradients for what is frozen,
    usually :func:`freeze`) and set ``self.norm_eval`` where they take it.
    """

    norm_eval: bool = False

    def _apply_freezing(self) -> None:
        raise NotImplementedError

    def train(self, mode: bool = True):
        """Train mode that keeps frozen stages (and every BatchNorm with ``norm_eval``) in eval."""
        super().train(mode)
        self._apply_freezing()
        if mode and self.norm_eval:
            norms_to_eval(self)
        return self
