"""Layer-wise learning-rate decay for transformer backbones (MMAction2's
``LearningRateDecayOptimizerConstructor``), and which parameters get no weight decay with it.

Split from :mod:`vidlab.engine.param_groups` (whose shared machinery it uses); the constructor
is also reachable there.
"""

from __future__ import annotations

import re

import torch.nn as nn

from vidlab.config.errors import ConfigError
from vidlab.engine.param_groups import DefaultOptimWrapperConstructor, _Group, _GroupCollector

__all__ = ["LearningRateDecayOptimizerConstructor", "NO_DECAY_NAMES"]

# ``backbone.transformer.resblocks.N``: UniFormerV2's CLIP layers (MMAction2 raises
# NotImplementedError for it; its CLIP embeddings then get id 0, as ViT's)
_BLOCK_RE = re.compile(r"^backbone\.(?:blocks|transformer\.resblocks)\.(\d+)\.")
_STAGE_RE = re.compile(r"^backbone\.(?:stages|layers)\.(\d+)\.")
_CLIP_EMBEDDINGS = ("backbone.class_embedding", "backbone.positional_embedding")


def _layer_id_layer_wise(name: str, num_layers: int) -> int:
    """MMAction2's ``get_layer_id_for_vit`` / ``get_layer_id_for_mvit`` (and UniFormerV2's)."""
    if name in ("backbone.cls_token", "backbone.mask_token", "backbone.pos_embed"):
        return 0
    if name.startswith(("backbone.patch_embed", "backbone.conv1.", "backbone.ln_pre.")):
        return 0
    if name in _CLIP_EMBEDDINGS:
        return 0
    m = _BLOCK_RE.match(name)
    if m:
        return int(m.group(1)) + 1
    return num_layers + 1


def _layer_id_stage_wise(name: str, num_layers: int) -> int:
    """Stage-wise ids (as MMDetection/MMSegmentation's ConvNeXt rule): embeddings and
    down-sampling layers 0, ``backbone.stages.N`` / ``backbone.layers.N`` N+1, the rest last."""
    if name in ("backbone.cls_token", "backbone.mask_token", "backbone.pos_embed"):
        return 0
    if name.startswith(("backbone.patch_embed", "backbone.downsample_layers", "backbone.stem")):
        return 0
    m = _STAGE_RE.match(name)
    if m:
        return int(m.group(1)) + 1
    return num_layers + 1


# Position embeddings and class tokens, by the last component of the parameter name: they get
# no weight decay under layer-wise decay (see LearningRateDecayOptimizerConstructor).
NO_DECAY_NAMES = (
    "pos_embed",  # ViT / VideoMAE, TimeSformer, MViT: absolute position table
    "cls_token",  # TimeSformer, MViT
    "time_embed",  # TimeSformer: temporal position table
    "rel_pos_h",  # MViTv2: relative position tables of pooling attention
    "rel_pos_w",
    "rel_pos_t",
    "positional_embedding",  # UniFormerV2 (CLIP's names)
    "class_embedding",
    "temporal_cls_token",  # UniFormerV2's video token
    "relative_position_bias_table",  # Video Swin's window attention
)


class LearningRateDecayOptimizerConstructor(DefaultOptimWrapperConstructor):
    """MMAction2's layer-wise learning-rate decay for transformer backbones.

    ``paramwise_cfg=dict(num_layers=12, decay_rate=0.75, decay_type='layer_wise')``. Layer ids:
    ``backbone.cls_token`` / ``mask_token`` / ``pos_embed`` / ``patch_embed.*`` -> 0,
    ``backbone.blocks.N.*`` -> N+1, everything else (head, final norm) -> num_layers+1. A group's
    lr is ``lr * decay_rate ** (num_layers - layer_id + 1)``. Groups are named
    ``layer_<id>_decay`` / ``layer_<id>_no_decay`` as in MMAction2.
    ``decay_type='stage_wise'`` uses ``backbone.stages.N`` (or ``backbone.layers.N``) as the unit
    and ``num_layers`` = number of stages (MMAction2 itself only implements layer_wise).

    No weight decay: 1-D parameters (norms, ``balance``, ...) and biases, as MMAction2, and,
    unlike MMAction2, position embeddings and class tokens: the parameters whose last name
    component is in ``paramwise_cfg.no_decay_names`` (default :data:`NO_DECAY_NAMES`:
    ``pos_embed``, ``cls_token``, TimeSformer's ``time_embed``, MViTv2's ``rel_pos_h/w/t``,
    UniFormerV2's ``positional_embedding``, ``class_embedding`` and ``temporal_cls_token``,
    Video Swin's ``relative_position_bias_table``). That is the fine-tuning recipe of the
    papers' code (timm/BEiT/VideoMAE and TimeSformer's ``no_weight_decay()``, PySlowFast's MViT
    with ``ZERO_DECAY_POS_CLS``, Swin's ``no_weight_decay_keywords()``). MMAction2 decays them:
    its only rule is 1-D or ``.bias``. PySlowFast compares full parameter names with the bare
    names of ``no_weight_decay()``, so it misses nested tables (``blocks.0.attn.rel_pos_h``)
    and every name under a DDP wrapper; vidlab matches the last component, at any depth. A convolutional position encoding
    (UniFormer's ``pos_embed`` conv: ``....pos_embed.weight``) is an ordinary weight and keeps
    its decay. ``no_decay_names=()`` gives MMAction2's grouping exactly.
    """

    def _validate_cfg(self) -> None:
        super()._validate_cfg()
        names = self.paramwise_cfg.get("no_decay_names", NO_DECAY_NAMES)
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ConfigError(
                "optim_wrapper.paramwise_cfg.no_decay_names must be a list of parameter names "
                f"(last components, e.g. ['pos_embed', 'cls_token']), got {names!r}"
            )

    def build_groups(self, model: nn.Module) -> list[_Group]:
        pc = self.paramwise_cfg
        for key in ("num_layers", "decay_rate"):
            if pc.get(key) is None:
                raise ConfigError(
                    f"optim_wrapper.paramwise_cfg.{key} is required by "
                    "LearningRateDecayOptimizerConstructor (e.g. num_layers=12, decay_rate=0.75)"
                )
        if self.base_lr is None:
            raise ConfigError(
                "LearningRateDecayOptimizerConstructor needs optim_wrapper.optimizer.lr"
            )
        num_layers = int(pc["num_layers"])
        decay_rate = float(pc["decay_rate"])
        decay_type = pc.get("decay_type", "layer_wise")
        if decay_type not in ("layer_wise", "stage_wise"):
            raise ConfigError(
                f"optim_wrapper.paramwise_cfg.decay_type: {decay_type!r} is not supported; "
                "use 'layer_wise' or 'stage_wise'"
            )
        get_id = _layer_id_layer_wise if decay_type == "layer_wise" else _layer_id_stage_wise
        unit_re = _BLOCK_RE if decay_type == "layer_wise" else _STAGE_RE
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if named and not any(unit_re.match(n) for n, _ in named):
            where = "backbone.blocks.N." if decay_type == "layer_wise" else "backbone.stages.N."
            raise ConfigError(
                f"{decay_type} learning-rate decay: no trainable parameter is named {where}*, so "
                "every parameter would get the same rate; check the backbone or decay_type"
            )
        wd = self.base_wd if self.base_wd is not None else 0.0
        exempt = frozenset(pc.get("no_decay_names", NO_DECAY_NAMES))
        col = _GroupCollector()
        # ids first so the groups appear in the order MMAction2 creates them (first parameter)
        for name, p in named:
            no_decay = p.ndim == 1 or name.endswith(".bias") or name.rsplit(".", 1)[-1] in exempt
            layer_id = get_id(name, num_layers)
            scale = decay_rate ** (num_layers - layer_id + 1)
            label = f"layer_{layer_id}_{'no_decay' if no_decay else 'decay'}"
            col.add(
                label,
                {"lr": self.base_lr * scale, "weight_decay": 0.0 if no_decay else wd},
                p,
                name,
            )
        return col.result()
