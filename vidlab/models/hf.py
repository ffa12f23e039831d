"""Hugging Face ``transformers`` model folders: read them, and build the vidlab model they hold.

A folder (``save_pretrained``'s output, or a hub snapshot) holds ``config.json`` and the weights
as ``model.safetensors`` (possibly sharded, with an index) or ``pytorch_model.bin``.
``config.json``'s ``model_type`` names the family, whose file converts the keys
(``vidlab.models.videomae.convert_hf``, ``vidlab.models.timesformer.convert_hf``). Nothing is
downloaded: give the folder's path. ``transformers`` itself is not needed (``safetensors`` is,
for ``.safetensors`` files).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from torch import Tensor

from vidlab.checkpoint import LoadReport, load_checkpoint, load_weights

# config.json's model_type -> family module (holding convert_hf and from_hf_config)
HF_FAMILIES = {
    "videomae": "vidlab.models.videomae",
    "timesformer": "vidlab.models.timesformer",
}


def is_hf_folder(path) -> bool:
    """True for a directory holding a ``config.json``."""
    return isinstance(path, str | os.PathLike) and (Path(path) / "config.json").is_file()


def _read_weights(folder: Path) -> dict[str, Tensor]:
    files = sorted(folder.glob("*.safetensors"))
    if files:
        try:
            from safetensors.torch import load_file
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                f"{folder} holds .safetensors weights: pip install safetensors"
            ) from e
        state: dict[str, Tensor] = {}
        for f in files:
            state.update(load_file(str(f)))
        return state
    files = sorted(folder.glob("pytorch_model*.bin"))
    if files:
        state = {}
        for f in files:
            state.update(load_checkpoint(f))  # a bare state dict
        return state
    raise FileNotFoundError(
        f"{folder}: config.json but no model.safetensors or pytorch_model.bin weights"
    )


def read_hf_folder(path: str | os.PathLike) -> tuple[dict, dict[str, Tensor]]:
    """``(config.json as a dict, state dict)`` of a Hugging Face model folder."""
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder}: not a Hugging Face model folder (no config.json)")
    config = json.loads((folder / "config.json").read_text())
    return config, _read_weights(folder)


def load_backbone_pretrained(backbone, pretrained, convert):
    """``pretrained`` of a backbone that reads Hugging Face folders too: the folder's weights
    (or the file) through ``load_pretrained`` with the family's ``convert``; the report."""
    from vidlab.models.pretrained import load_pretrained

    if pretrained is None:
        return None
    src = read_hf_folder(pretrained)[1] if is_hf_folder(pretrained) else pretrained
    report = load_pretrained(backbone, src, convert=convert)
    report.source = str(pretrained)
    return report


def _family(config: Mapping, where: str):
    model_type = config.get("model_type")
    if model_type not in HF_FAMILIES:
        raise ValueError(
            f"{where}: model_type={model_type!r} is not converted; known: "
            f"{', '.join(sorted(HF_FAMILIES))}"
        )
    return importlib.import_module(HF_FAMILIES[model_type])


def load_hf_model(path: str | os.PathLike, num_classes: int | None = None, verbose: bool = True):
    """Build the vidlab recognizer of a Hugging Face folder and load its weights.

    Args:
        path: The folder (``config.json`` + weights).
        num_classes: Classes of the new model; None: the folder's (``id2label``). Another
            number gives a fresh classifier (fine-tuning), listed in the report.
        verbose: Print the grouped load report.

    Returns:
        ``(model, report)``.
    """
    config, state = read_hf_folder(path)
    family = _family(config, str(path))
    model = family.from_hf_config(config, num_classes)
    divided = config.get("attention_type", "divided_space_time") == "divided_space_time"
    if config.get("model_type") == "timesformer":
        converted = family.convert_hf(state, divided)
    else:
        converted = family.convert_hf(state)
    if converted is None:
        raise ValueError(f"{path}: the weights are not in {config['model_type']}'s layout")
    report: LoadReport = load_weights(model, converted, strict=False)
    report.source = str(path)
    # buffers that Hugging Face does not save (VideoMAE's fixed position table) are vidlab's own
    report.missing = [k for k in report.missing if k != "backbone.pos_embed"]
    if verbose:
        print(report)
    return model, report
