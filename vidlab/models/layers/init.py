"""Weight initialisation shared by the transformer families (MMAction2's ``init_cfg``s)."""

from __future__ import annotations

import torch.nn as nn

__all__ = ["trunc_normal_init_"]


def trunc_normal_init_(module: nn.Module, bias: float = 0.0, norm_bias: float = 0.0) -> None:
    """Every ``nn.Linear`` below ``module``: weights truncated normal (std 0.02), biases
    ``bias``; every ``nn.LayerNorm``: weight 1, bias ``norm_bias`` (MMAction2's
    ``TruncNormal`` / ``Constant`` init_cfg of ViT, Swin, UniFormer; MViT uses 0.02 biases)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.constant_(m.bias, norm_bias)
