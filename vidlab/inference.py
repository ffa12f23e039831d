"""Python inference API: `init_recognizer` and `inference_recognizer`, as in MMAction2."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

BACKENDS = ("pytorch", "onnxruntime")


def init_recognizer(config, checkpoint=None, device="cpu", backend: str = "pytorch"):
    """Build a recognizer from a config and load its weights.

    Args:
        config: a config file path or a loaded `Config`.
        checkpoint: a checkpoint path (vidlab's or MMAction2's), an http(s) URL of one (as
            MMAction2's demo takes them: fetched once into ``$VIDLAB_HOME/checkpoints`` and
            checked against the SHA-256 prefix in its name), or None for random weights; with
            ``backend="onnxruntime"`` the ``.onnx`` file `vidlab export` wrote.
        device: where to put the model, e.g. "cpu" or "cuda:0" (PyTorch backend).
        backend: ``"pytorch"``, or ``"onnxruntime"`` to run an exported model (the config
            still gives the test pipeline and how views are averaged).

    Returns:
        The model in eval mode, with the config it was built from as `model.cfg`.
    """
    from vidlab.config import Config, build, load_config

    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}; use one of {', '.join(BACKENDS)}")
    cfg = (
        Config(copy.deepcopy(dict(config))) if isinstance(config, Mapping) else load_config(config)
    )
    if backend == "onnxruntime":
        from vidlab.onnx_runtime import OnnxRecognizer

        if checkpoint is None:
            raise ValueError("backend='onnxruntime' needs the .onnx file as the checkpoint")
        return OnnxRecognizer(checkpoint, cfg)
    model = build(cfg.model, key_path="model")
    if checkpoint is not None:
        from vidlab.checkpoint import load_weights
        from vidlab.models.pretrained import resolve_checkpoint

        load_weights(model, resolve_checkpoint(checkpoint), strict=True)  # a URL: cached
    model.cfg = cfg
    return model.to(device).eval()


# Families whose MMAction2 test pipelines resize 224 px clips to a short side of 224 (the other
# families trained at 224 px are tested at a short side of 256, cropped to 224).
_SHORT_SIDE_224 = frozenset(
    ("c2d", "mvit", "swin", "timesformer", "uniformer", "uniformerv2", "videomae")
)
_UNIFORM = re.compile(r"_u\d+(_|$)")  # MMAction2's "u16" configs: UniformSample


def variant_test_pipeline(name: str) -> list[dict]:
    """The test pipeline of a video variant, from its ``default_cfg``: decode, its sampling in
    test mode, a resize of the short side and one center crop of ``clip_shape``'s H x W, the
    layout of its recognizer (2D models: ``NCHW``).

    The short side is MMAction2's for the variant's size: 256 for 224 px clips of the CNN
    families (``Resize(scale=(-1, 256))`` + a 224 crop), 224 for the transformers' and C2D's,
    128 for C3D's 112 px clips, and the clip's own size otherwise (256, 182, 312, 336).
    MMAction2's zoo accuracies use three or ten crops per clip; ``vidlab infer CONFIG CKPT``
    with its config runs those.

    Raises:
        ValueError: an unknown name, or a variant that is not an RGB video model (skeleton,
            audio, flow, PoseC3D heatmaps): those need their config's pipeline.
    """
    from vidlab.models.recognizer import Recognizer2D
    from vidlab.models.variants import find_variant

    fn = find_variant(name)
    if fn is None:
        raise ValueError(f"unknown model {name!r} (vidlab list-models)")
    cfg = fn.default_cfg
    if cfg.input_kind != "video" or len(cfg.clip_shape) != 4 or cfg.clip_shape[0] != 3:
        if cfg.input_kind == "keypoints":
            kind = "skeleton keypoints"
        elif len(cfg.clip_shape) != 4:
            kind = "audio features"
        else:
            kind = "optical flow" if cfg.clip_shape[0] == 2 else "keypoint heatmaps"
        raise ValueError(
            f"--model supports RGB video variants; {name} takes {kind} (clips of shape "
            f"{cfg.clip_shape}): use its MMAction2 config and checkpoint (vidlab infer CONFIG "
            "CKPT INPUT)"
        )
    _, _, height, width = cfg.clip_shape
    clip_len, frame_interval, num_clips = cfg.sampling
    family = name.split("_", 1)[0]
    if height == 224 and family not in _SHORT_SIDE_224:
        short = 256
    elif height == 112:
        short = 128
    else:
        short = height
    if _UNIFORM.search(name):
        sample = dict(type="UniformSample", clip_len=clip_len, num_clips=num_clips)
    else:
        kind = "DenseSampleFrames" if "_dense_" in name else "SampleFrames"
        sample = dict(
            type=kind, clip_len=clip_len, frame_interval=frame_interval, num_clips=num_clips
        )
    with torch.device("meta"):  # which recognizer, without allocating its weights
        two_d = isinstance(fn(), Recognizer2D)
    return [
        dict(type="VideoInit"),
        dict(**sample, test_mode=True),
        dict(type="VideoDecode"),
        dict(type="Resize", scale=(-1, short)),
        dict(type="CenterCrop", crop_size=height if height == width else (width, height)),
        dict(type="FormatShape", input_format="NCHW" if two_d else "NCTHW"),
        dict(type="PackActionInputs"),
    ]


def init_variant(name: str, checkpoint=None, device="cpu"):
    """A named variant ready for `inference_recognizer`: MMAction2's published weights
    (``create_model(name, pretrained=True)``) or ``checkpoint`` (a file or an http(s) URL,
    loaded strictly), in eval mode, with the test pipeline of :func:`variant_test_pipeline` as
    ``model.cfg``."""
    from vidlab.checkpoint import load_weights
    from vidlab.config import Config
    from vidlab.models.pretrained import resolve_checkpoint
    from vidlab.models.variants import create_model

    pipeline = variant_test_pipeline(name)  # a skeleton or audio variant: before any download
    if checkpoint is None:
        model = create_model(name, pretrained=True)
    else:
        model = create_model(name)
        load_weights(model, resolve_checkpoint(checkpoint), strict=True)
    model.cfg = Config(test_pipeline=pipeline)
    return model.to(device).eval()


def skeleton_record(source, sample: str | int | None = None) -> dict:
    """One skeleton sample (a PoseDataset record) from a pickle or a record dict.

    Args:
        source: MMAction2's skeleton pickle (``split`` + ``annotations``, or a bare list of
            records), or one record dict (``keypoint`` (M, T, V, C), ``keypoint_score``,
            ``total_frames``, ``img_shape``, ...).
        sample: Which record of a pickle: its ``frame_dir`` or its index; None: the first.

    Raises:
        KeyError: no record has that ``frame_dir``.
    """
    if isinstance(source, Mapping) and "keypoint" in source:
        record = dict(source)
    else:
        from vidlab.data.skeleton.dataset import load_pose_pickle

        data = load_pose_pickle(source)
        records = data["annotations"] if isinstance(data, Mapping) else list(data)
        if sample is None or isinstance(sample, int):
            record = dict(records[sample or 0])
        else:
            found = [r for r in records if str(r.get("frame_dir")) == str(sample)]
            if not found:
                raise KeyError(f"{source}: no skeleton sample with frame_dir {sample!r}")
            record = dict(found[0])
    for key, value in record.items():  # the pipeline changes arrays in place
        if isinstance(value, np.ndarray):
            record[key] = value.copy()
    record.update(modality="Pose", start_index=0)
    record.setdefault("label", -1)
    return record


def is_skeleton_source(source) -> bool:
    """A skeleton record dict or a ``.pkl`` / ``.pickle`` file (``path.pkl:frame_dir`` too)."""
    if isinstance(source, Mapping):
        return "keypoint" in source
    if not isinstance(source, (str, Path)):
        return False
    path = str(source).rsplit(":", 1)[0] if ".pkl:" in str(source) else str(source)
    return path.endswith((".pkl", ".pickle"))


def _record(video) -> dict:
    """The first results dict of a test pipeline, for each kind of input."""
    if is_skeleton_source(video):
        path, sample = str(video) if not isinstance(video, Mapping) else video, None
        if isinstance(path, str) and ".pkl:" in path:
            path, sample = path.rsplit(":", 1)
        return skeleton_record(path, sample)
    if isinstance(video, np.ndarray):
        return dict(array=video, total_frames=len(video), start_index=0, modality="RGB", label=-1)
    path = str(video)
    if Path(path).is_dir():
        return dict(frame_dir=path, modality="RGB", label=-1)
    return dict(filename=path, start_index=0, modality="RGB", label=-1)


def device_of(model) -> torch.device:
    """Where the model's inputs go (an `OnnxRecognizer` has no parameters: the CPU)."""
    device = getattr(model, "device", None)
    if device is not None:
        return torch.device(device)
    return next(model.parameters()).device


def scores_of(model, logits: torch.Tensor, num_views: int) -> torch.Tensor:
    """Logits ``(B*V, K)`` -> probabilities ``(B, K)`` in [0, 1] that sum to 1.

    Views are merged as the head does (`average_clips`); where that leaves logits (``'score'``
    or None: MMAction2's demo then printed raw scores, the FAQ's "scores not in [0, 1]"), the
    merged logits go through a softmax.
    """
    merged = model.average_views(logits, num_views).float()
    if getattr(model, "average_clips", None) == "prob":
        return merged
    return torch.softmax(merged, dim=-1)


def prepare_clips(pipeline, video) -> torch.Tensor:
    """One input through a composed test pipeline -> uint8 clips ``(V, C, T, H, W)``."""
    sample = pipeline(_record(video))
    if "clips" not in sample:  # a test pipeline without PackActionInputs
        from vidlab.data.transforms.formatting import pack_sample

        sample = pack_sample(sample)
    return sample["clips"]


def _is_multimodal(model) -> bool:
    """A model taking one input per modality (``MMRecognizer3D``: ``imgs``, ``heatmap_imgs``)."""
    return type(getattr(model, "model", model)).__name__ == "MMRecognizer3D"


def _with_video_prefix(record: dict, cfg) -> dict:
    """``frame_dir`` joined to the test dataset's ``data_prefix.video`` (as ``PoseDataset``
    joins it), so that ``MMDecode`` finds ``<prefix>/<frame_dir>.mp4``."""
    dataset = (cfg.get("test_dataloader") or cfg.get("val_dataloader") or {}).get("dataset", {})
    prefix = dataset.get("data_prefix")
    prefix = prefix.get("video") if isinstance(prefix, Mapping) else None
    frame_dir = record.get("frame_dir")
    if prefix and frame_dir and "filename" not in record and not Path(frame_dir).is_absolute():
        record["frame_dir"] = str(Path(prefix) / frame_dir)
    return record


def _multimodal_scores(model, pipeline, record: dict) -> torch.Tensor:
    """``(K,)`` probabilities of an RGB + pose sample: each stream's views merged as the head
    does, then the streams' probabilities averaged (ranked as MMAction2's ``RGBPose_1:1``)."""
    sample = pipeline(record)
    inputs = sample.get("inputs")
    if not isinstance(inputs, Mapping):
        raise ValueError(
            "the test pipeline of a multi-modal model must end with "
            "PackActionInputs(collect_keys=('imgs', 'heatmap_imgs'))"
        )
    device = device_of(model)
    num_views = next(iter(inputs.values())).shape[0]
    logits = model(**{k: x.to(device) for k, x in inputs.items()})  # {stream: (V, K)}
    merged = model.average_views(logits, num_views)  # {stream: (1, K)}
    probs = [
        m.float() if model.cls_head.average_clips == "prob" else m.float().softmax(-1)
        for m in merged.values()
    ]
    return (sum(probs) / len(probs))[0].cpu()


def label_names_for(model, labels, num_classes: int) -> list[str]:
    """`load_label_names` with the config's ``label_file`` as the default (where it exists)."""
    if labels is None:
        labels = model.cfg.get("label_file")
        if labels is not None and not Path(labels).is_file():
            labels = None
    return load_label_names(labels, num_classes)


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
        video: a video file, a frame folder, an http(s) URL or a (T, H, W, 3) uint8 array; for
            skeleton models a skeleton pickle (its first sample, or ``file.pkl:frame_dir``) or
            one PoseDataset record dict.
        labels: a label-map file, a list of names, or None (the config's `label_file` if set,
            else the class indices).
        top_k: how many (label, score) pairs to return.

    Returns:
        `[(label, score), ...]`, best first; scores are probabilities (in [0, 1], summing to 1
        over all classes) whatever the head's `average_clips` (`scores_of`).
    """
    from vidlab.data.pipeline import Compose

    pipeline = Compose(_test_pipeline(model.cfg))
    if _is_multimodal(model):  # RGB + pose (RGBPoseConv3D): a video and its keypoints
        scores = _multimodal_scores(model, pipeline, _with_video_prefix(_record(video), model.cfg))
    else:
        clips = prepare_clips(pipeline, video)  # (V, C, T, H, W) uint8
        logits = model(clips.to(device_of(model)))  # (V, K)
        scores = scores_of(model, logits, clips.shape[0])[0].cpu()  # (K,)
    names = label_names_for(model, labels, scores.numel())
    top = torch.topk(scores, min(top_k, scores.numel()))
    return [(names[i], float(s)) for s, i in zip(top.values.tolist(), top.indices.tolist())]


__all__ = [
    "BACKENDS",
    "device_of",
    "inference_recognizer",
    "init_recognizer",
    "init_variant",
    "is_skeleton_source",
    "load_label_names",
    "prepare_clips",
    "scores_of",
    "skeleton_record",
    "variant_test_pipeline",
]
