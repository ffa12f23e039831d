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
