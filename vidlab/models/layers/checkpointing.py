"""Activation checkpointing of one block (MMAction2's ``with_cp``)."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor
from torch.utils import checkpoint as cp


def checkpointed(fn: Callable[..., Tensor], x: Tensor, *args, enabled: bool) -> Tensor:
    """``fn(x, *args)``; when ``enabled`` and ``x`` needs gradients, under activation
    checkpointing (the activations inside ``fn`` are recomputed in backward, not kept)."""
    if enabled and x.requires_grad:
        return cp.checkpoint(fn, x, *args, use_reentrant=False)
    return fn(x, *args)
