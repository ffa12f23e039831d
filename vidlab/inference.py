"""Python inference API: `init_recognizer` and `inference_recognizer`, as in MMAction2."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch


def init_recognizer(config, checkpoint=None, device="cpu"):
    """Build a recognizer from a config and load its weights.

    Args:
        config: a config file path or a loaded `Config`.
        checkpoint: a checkpoint path (vidlab's or MMAction2's), or None for random weights.
        device: where to put the model, e.g. "cpu" or "cuda:0".

    Returns:
        The model in eval mode, with the config it was built from as `model.cfg`.
    """
    from vidlab.config import Config, build, load_config

    cfg = (
        Config(copy.deepcopy(dict(config))) if isinstance(config, Mapping) else load_config(config)
    )
    model = build(cfg.model, key_path="model")
    if checkpoint is not None:
        from vidlab.checkpoint import load_weights

        load_weights(model, checkpoint, strict=True)
    model.cfg = cfg
    return model.to(device).eval()


def _record(video) -> dict:
    """The first results dict of a test pipeline, for each kind of input."""
    if isinstance(video, np.ndarray):
        return dict(array=video, total_frames=len(video), start_index=0, modality="RGB", label=-1)
    path = str(video)
    if Path(path).is_dir():
        return dict(frame_dir=path, modality="RGB", label=-1)
    return dict(filename=path, start_index=0, modality="RGB", label=-1)


def _test_pipeline(cfg):
    for key in ("test_dataloader", "val_dataloader"):
        pipeline = cfg.get(key, {}).get("dataset", {}).get("pipeline")
        if pipeline:
            return pipeline
    if cfg.get("test_pipeline"):
        return cfg.test_pipeline
    raise KeyError(
        "the config has no test pipeline: set test_dataloader.dataset.pipeline (or test_pipeline)"
    )


def load_label_names(labels, num_classes: int) -> list[str]:
    """Label names from a file (one per line), a sequence, or None (`"0"`, `"1"`, ...).

    Raises:
        ConfigError: the file or sequence does not name exactly `num_classes` classes (a label
            map of another dataset would put wrong names on the scores).
    """
    if labels is None:
        return [str(i) for i in range(num_classes)]
    if isinstance(labels, (str, Path)):
        names = [ln.strip() for ln in Path(labels).read_text().splitlines() if ln.strip()]
        source = str(labels)
    else:
        names, source = [str(x) for x in labels], "labels"
    if len(names) != num_classes:
        from vidlab.config.errors import ConfigError  # a user error: one line, exit code 2

        raise ConfigError(
            f"{source} names {len(names)} classes but the model predicts {num_classes}; "
            f"give exactly {num_classes} class names, one per line (line i names label i), "
            "or the label file of the dataset the checkpoint was trained on"
        )
    return names


@torch.inference_mode()
def inference_recognizer(model, video, labels=None, top_k: int = 5) -> list[tuple[str, float]]:
    """Classify one video with the model's test pipeline (all its views averaged).

    Args:
        model: a recognizer from `init_recognizer` (it carries its config).
        video: a video file, a frame folder, an http(s) URL or a (T, H, W, 3) uint8 array.
        labels: a label-map file, a list of names, or None (the config's `label_file` if set,
            else the class indices).
        top_k: how many (label, score) pairs to return.

    Returns:
        `[(label, score), ...]`, best first; scores are probabilities when the head averages
        probabilities (`average_clips='prob'`).
    """
    from vidlab.data.pipeline import Compose

    cfg = model.cfg
    sample = Compose(_test_pipeline(cfg))(_record(video))
    if "clips" not in sample:  # a test pipeline without PackActionInputs
        from vidlab.data.transforms.formatting import pack_sample

        sample = pack_sample(sample)
    clips = sample["clips"]  # (V, C, T, H, W) uint8
    device = next(model.parameters()).device
    logits = model(clips.to(device))  # (V, K)
    scores = model.average_views(logits, clips.shape[0])[0].float().cpu()  # (K,)
    if labels is None:
        labels = cfg.get("label_file")
        if labels is not None and not Path(labels).is_file():
            labels = None
    names = load_label_names(labels, scores.numel())
    top = torch.topk(scores, min(top_k, scores.numel()))
    return [(names[i], float(s)) for s, i in zip(top.values.tolist(), top.indices.tolist())]


__all__ = ["init_recognizer", "inference_recognizer", "load_label_names"]
