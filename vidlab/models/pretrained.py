"""Pretrained weights for a backbone: where the file is, and loading it with a report.

``pretrained=`` of a backbone names a local file, a URL or ``torchvision://name``. URLs and
torchvision names are looked up in the torch hub cache only; vidlab never downloads weights at
run time. The file may hold the backbone itself, a whole recognizer (its ``backbone.*`` weights
are taken) or another zoo's layout, which the family's converter maps onto vidlab's names. What
did not fit is reported grouped (``vidlab.checkpoint.LoadReport``); a file of which nothing fits
is an error, never a silent random init.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport, extract_state_dict, load_checkpoint, load_weights

logger = logging.getLogger(__name__)

# torchvision's ImageNet files (V1 and the older names), for a look-up in the hub cache.
_TORCHVISION_FILES = {
    "resnet18": ("resnet18-f37072fd.pth", "resnet18-5c106cde.pth"),
    "resnet34": ("resnet34-b627a593.pth", "resnet34-333f7ec4.pth"),
    "resnet50": ("resnet50-0676ba61.pth", "resnet50-19c8e357.pth", "resnet50-11ad3fa6.pth"),
    "resnet101": ("resnet101-63fe2227.pth", "resnet101-5d3b4d8f.pth"),
    "resnet152": ("resnet152-394f9c45.pth", "resnet152-b121ed2d.pth"),
}

# (file state dict, model) -> state dict in the model's names, or None if not that layout.
Converter = Callable[[Mapping[str, Tensor], nn.Module], "dict[str, Tensor] | None"]


def resolve_pretrained(pretrained: str) -> str:
    """Turn ``pretrained`` into a local file path, or raise a clear error.

    Local paths are returned as they are. ``torchvision://resnetXX`` names and http(s) URLs are
    looked up by file name in the torch hub cache (``$TORCH_HOME/hub/checkpoints``).
    """
    if not isinstance(pretrained, str):
        raise TypeError(f"pretrained must be a file path or None, got {type(pretrained).__name__}")
    is_remote = pretrained.startswith(("torchvision://", "http://", "https://", "open-mmlab://"))
    if not is_remote:
        if not os.path.isfile(pretrained):
            raise FileNotFoundError(f"pretrained={pretrained!r}: no such file")
        return pretrained
    if pretrained.startswith("torchvision://"):
        names = _TORCHVISION_FILES.get(pretrained[len("torchvision://") :], ())
    else:
        names = (os.path.basename(pretrained.split("?")[0]),)
    cache = os.path.join(torch.hub.get_dir(), "checkpoints")
    for name in names:
        path = os.path.join(cache, name)
        if os.path.isfile(path):
            return path
    raise ValueError(
        f"pretrained={pretrained!r} cannot be downloaded here: vidlab never fetches weights at "
        f"run time. Download the file yourself and pass its local path (pretrained="
        f"'/path/to/{names[0] if names else 'weights.pth'}'), put it in {cache}, or set "
        f"pretrained=None to start from random weights "
        f"(e.g. --cfg-options model.backbone.pretrained=None)."
    )


def _tensors(state: Mapping) -> dict[str, Tensor]:
    return {k: v for k, v in state.items() if isinstance(v, Tensor)}


def load_pretrained(
    module: nn.Module,
    src: str | Mapping[str, Tensor],
    convert: Converter | None = None,
    look_through: Callable[[str], str] | None = None,
) -> LoadReport:
    """Load a backbone's pretrained weights and report what did not fit.

    Args:
        module: The backbone.
        src: ``pretrained`` as in a config (see :func:`resolve_pretrained`), or a state dict.
        convert: The family's converter from another zoo's layout; it returns None when the
            file is not in that layout, and the names are then taken as vidlab's.
        look_through: Maps a model key to the key it has without wrapper modules
            (``TemporalShift``'s ``.net``), so a plain backbone's file loads into a wrapped one.

    Returns:
        The report; tensors of another shape are skipped (and listed).

    Raises:
        ValueError: nothing in the file fits ``module``.
    """
    source = "<state dict>"
    if isinstance(src, str):
        source = resolve_pretrained(src)
        state = _tensors(extract_state_dict(load_checkpoint(source)))
    else:
        state = _tensors(src)
    if any(k.startswith("backbone.") for k in state):  # a whole recognizer
        state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    converted = convert(state, module) if convert is not None else None
    if converted is not None:
        state = converted
    elif look_through is not None:
        model_keys = module.state_dict().keys()
        plain = {look_through(k): k for k in model_keys}
        state = {(k if k in model_keys else plain.get(k, k)): v for k, v in state.items()}

    report = LoadReport(source=source)
    if state:
        report = load_weights(module, state, strict=False)
        report.source = source
    # Older files have no BatchNorm step counters; they are not weights.
    report.missing = [k for k in report.missing if not k.endswith("num_batches_tracked")]
    if not report.loaded:
        raise ValueError(
            f"pretrained={src if isinstance(src, str) else '<state dict>'!r}: none of the "
            f"{len(state)} tensors in {source} fit this {type(module).__name__} (first keys: "
            f"{sorted(state)[:3]}); expected a {type(module).__name__} backbone, a recognizer "
            "checkpoint with backbone.* keys, or a layout the family converts (e.g. torchvision)"
        )
    if not report.ok:
        logger.warning("pretrained weights for %s:\n%s", type(module).__name__, report)
    return report
