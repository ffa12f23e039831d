"""The variants table: every named model, found lazily by its family.

A variant is a small function in its family's file (``vidlab/models/tsm.py``), decorated with
:func:`variant` to carry what using it needs (:class:`VariantCfg`). A variant's name begins with
its family's key and an underscore (``tsm_r50_1x1x8`` is in family ``tsm``), so the table below
lists families, not variants: adding a family is one file plus one line here. Nothing is
imported until a name is asked for; ``create_model``, ``list_models`` and config files
(``model=dict(type='tsm_r50_1x1x8', num_classes=174)``) all read this table.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vidlab.models.pretrained import PretrainedError, init_pretrained, resolve_checkpoint

logger = logging.getLogger(__name__)

# family key -> module holding its variants
FAMILIES: dict[str, str] = {
    "tsn": "vidlab.models.tsn",
    "tsm": "vidlab.models.tsm",
    "mobilenetv2": "vidlab.models.mobilenet_v2",
    "tin": "vidlab.models.tin",
    "mobileone": "vidlab.models.mobileone",
    "resnext": "vidlab.models.resnext",
    "x3d": "vidlab.models.x3d",
    "c3d": "vidlab.models.c3d",
    "tanet": "vidlab.models.tanet",
    "trn": "vidlab.models.trn",
    "i3d": "vidlab.models.i3d",
    "slowonly": "vidlab.models.slowonly",
    "slowfast": "vidlab.models.slowfast",
    "c2d": "vidlab.models.c2d",
    "csn": "vidlab.models.csn",
    "r2plus1d": "vidlab.models.r2plus1d",
    "omni": "vidlab.models.omni",
    "tpn": "vidlab.models.tpn",
    "audio": "vidlab.models.audio",
    "swin": "vidlab.models.swin",
    "videomae": "vidlab.models.videomae",
    "timesformer": "vidlab.models.timesformer",
    "mvit": "vidlab.models.mvit",
    "uniformer": "vidlab.models.uniformer",
    "uniformerv2": "vidlab.models.uniformerv2",
    "stgcn": "vidlab.models.stgcn",
    "stgcnpp": "vidlab.models.stgcnpp",
    "agcn": "vidlab.models.aagcn",
    "posec3d": "vidlab.models.posec3d",
}

# ImageNet mean/std in 0..255 pixel units, as MMAction2's configs use.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class VariantCfg:
    """What using a variant needs beyond its architecture (timm's ``default_cfg``).

    Attributes:
        clip_shape: ``(C, T, H, W)`` of one test view; ``(C, T, F)`` for audio features
            (``vidlab.models.audio``: T feature frames by F mel bins).
        sampling: MMAction2's ``clip_len x frame_interval x num_clips`` of its test pipeline.
        num_classes: Classes of the published weights.
        mean: Per-channel mean in pixel units (what ``data_preprocessor`` subtracts).
        std: Per-channel std in pixel units.
        classifier: The classifier layer, replaced by ``reset_classifier``; None where the head
            has no single one (TRN: one MLP per relation scale).
        url: The published checkpoint, if any.
        fixed_size: The network takes clips of ``clip_shape``'s H and W only (C3D, whose
            ``fc6`` sees the flattened last map); tests then run it at that size, not 32 px.
        input_kind: ``'video'`` (pixels, or PoseC3D's keypoint heatmaps: ``(C, T, H, W)``) or
            ``'keypoints'``: a GCN's input, ``clip_shape`` is ``(M, T, V, C)`` (persons,
            frames, joints, coordinates) and the model takes float ``(N, M, T, V, C)``.
    """

    clip_shape: tuple[int, ...]
    sampling: tuple[int, int, int] = (1, 1, 8)
    num_classes: int = 400
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    classifier: str | None = "cls_head.fc_cls"
    url: str | None = None
    fixed_size: bool = False
    input_kind: str = "video"


def variant(**cfg: Any) -> Callable:
    """Mark a family function as a named variant; its model gets ``default_cfg``."""
    default_cfg = VariantCfg(**cfg)

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any):
            model = fn(*args, **kwargs)
            model.default_cfg = default_cfg
            return model

        build.default_cfg = default_cfg
        return build

    return wrap


def _family_variants(family: str) -> dict[str, Callable]:
    module = importlib.import_module(FAMILIES[family])
    return {
        name: fn
        for name, fn in vars(module).items()
        if isinstance(getattr(fn, "default_cfg", None), VariantCfg) and callable(fn)
    }


def find_variant(name: str) -> Callable | None:
    """The variant function called ``name``, importing only its family; None if unknown."""
    family = name.split("_", 1)[0]
    if family not in FAMILIES:
        return None
    return _family_variants(family).get(name)


def variant_names() -> list[str]:
    """Every variant of every family, sorted (imports every family module)."""
    return sorted(name for family in FAMILIES for name in _family_variants(family))


def list_models(pattern: str = "") -> list[str]:
    """Names accepted by ``create_model``, sorted; those containing ``pattern`` if given."""
    return [n for n in variant_names() if pattern in n]


def create_model(
    name: str, num_classes: int | None = None, pretrained: bool | str | None = False, **kwargs: Any
):
    """Build a named variant, optionally with MMAction2's published weights.

    Args:
        name: One of ``list_models()``.
        num_classes: Classes of the head; default the variant's ``default_cfg.num_classes``.
        pretrained: ``True``: the whole model gets the variant's published MMAction2 checkpoint
            (``default_cfg.url``; fetched once into ``$VIDLAB_HOME/checkpoints`` and checked
            against the hash in its name, then loaded strictly: a file that does not fit is an
            error with the grouped report). With a ``num_classes`` other than the published
            head's, the weights are loaded and then the classifier is replaced by a fresh one
            (``reset_classifier``, for fine-tuning). ``False``/None: random weights. A string:
            backbone weights, as ``pretrained=`` in a config (a file, a URL or
            ``torchvision://resnet50``), loaded here.
        **kwargs: The variant's arguments: backbone arguments (``frozen_stages``,
            ``partial_bn``, ``with_cp``, ...).

    Raises:
        ValueError: an unknown name.
        PretrainedError: ``pretrained=True`` for a variant without published weights, or a URL
            that cannot be fetched.
        CheckpointError: the published file does not fit the model (with the report).
    """
    fn = find_variant(name)
    if fn is None:
        close = difflib.get_close_matches(name, variant_names(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Known: {', '.join(list_models())}")
    default_cfg: VariantCfg = fn.default_cfg
    if pretrained is True:
        return _with_published_weights(name, fn, default_cfg, num_classes, kwargs)
    if pretrained not in (False, None):
        kwargs["pretrained"] = pretrained
    if num_classes is None:
        num_classes = default_cfg.num_classes
    model = fn(num_classes=num_classes, **kwargs)
    init_pretrained(model)  # pretrained= given here is meant to be loaded now
    return model


def _with_published_weights(name, fn, default_cfg, num_classes, kwargs):
    """``create_model(name, pretrained=True)``: the whole model from ``default_cfg.url``."""
    from vidlab.checkpoint import CheckpointError, load_weights

    if default_cfg.url is None:
        raise PretrainedError(
            f"{name} has no published checkpoint (its default_cfg.url is None): pass a file "
            f"instead: create_model({name!r}, pretrained='backbone.pth') for backbone weights, "
            f"or vidlab.checkpoint.load_weights(create_model({name!r}), 'model.pth') for a "
            "whole recognizer's"
        )
    model = fn(num_classes=default_cfg.num_classes, **kwargs)
    path = resolve_checkpoint(default_cfg.url)  # cached, hash-checked
    try:
        load_weights(model, path, strict=True)
    except CheckpointError as err:
        raise CheckpointError(
            f"{name}: the published checkpoint {default_cfg.url}: {err}"
        ) from None
    if num_classes is not None and num_classes != default_cfg.num_classes:
        model.reset_classifier(num_classes)
        logger.warning(
            "%s: loaded the published %d-class weights, then reset the classifier to %d classes",
            name,
            default_cfg.num_classes,
            num_classes,
        )
    return model
