"""``FormatShape`` (MMAction2's layouts) and ``PackActionInputs`` (vidlab's sample).

``FormatShape`` produces exactly MMAction2's ``imgs`` and ``input_shape`` and also records
``num_crops`` (views per clip made by ThreeCrop/TenCrop) and ``input_format``.
``PackActionInputs`` turns that into the sample every vidlab model and engine reads::

    {"clips": torch.uint8 (V, C, T, H, W), "label": int64 scalar | float (K,) multi-hot,
     "index": int, "meta": {...}}

(audio features: ``clips`` float32 ``(V, 1, T, F)``, see ``vidlab.data.audio``; skeletons:
``clips`` float32 ``(V, M, T, J, C)`` keypoints after ``FormatGCNInput``, one view per clip, or
``(V, K, T, H, W)`` heatmaps after ``FormatShape('NCTHW_Heatmap')``)

with ``V = num_crops * num_clips, T = clip_len`` after ``'NCTHW'`` and
``V = num_crops, T = num_clips * clip_len`` after ``'NCHW'`` (a 2D model's segments are its
time axis).

Detection samples (results with ``gt_bboxes``: AVA) are packed by :func:`pack_detection`
(``inputs``, ``gt_instances``, ``proposals``, ``meta``, ``index``).
"""

from __future__ import annotations

import numpy as np

from vidlab.data.transforms.frames import frames_array

__all__ = [
    "FormatShape",
    "LoadHVULabel",
    "PackActionInputs",
    "Transpose",
    "pack_detection",
    "pack_sample",
]

_FORMATS = ("NCTHW", "NCHW", "NCTHW_Heatmap", "NPTCHW")


def _clip_len(results: dict, modality_key: str = "RGB") -> int:
    clip_len = results["clip_len"]
    if isinstance(clip_len, dict):
        clip_len = clip_len[modality_key]
    return int(clip_len)


class FormatShape:
    """Arrange the frames in the layout a model expects (MMAction2 ``FormatShape``).

    Args:
        input_format: ``'NCTHW'`` (3D models: ``(crops*clips, C, T, H, W)``), ``'NCHW'`` (2D
            models: ``(crops*clips*T, C, H, W)``), ``'NCTHW_Heatmap'``, or ``'NPTCHW'``.
        collapse: drop the leading axis when it is 1 (detection pipelines).
    """

    def __init__(self, input_format: str, collapse: bool = False):
        if input_format not in _FORMATS:
            raise ValueError(
                f"The input format {input_format} is invalid; expected one of {_FORMATS}"
            )
        self.input_format = input_format
        self.collapse = collapse

    def __call__(self, results: dict) -> dict:
        imgs = results.get("imgs")
        if imgs is not None and self.input_format in ("NCTHW", "NCHW"):
            # The one copy of the pixels: crops/flips are views until here. The frames are laid
            # out (M, H, W, C) in memory and the result is a transposed view of that: the
            # values and shape of MMAction2's, with channels-last strides (as the engine wants).
            imgs = frames_array(imgs)
            results["imgs"] = imgs
        elif imgs is not None and not isinstance(imgs, np.ndarray):
            imgs = np.stack(imgs) if len(imgs) else np.array(imgs)
            results["imgs"] = imgs
        if self.collapse and results["num_clips"] != 1:
            raise ValueError("FormatShape(collapse=True) needs num_clips == 1")
        fmt = self.input_format
        if fmt == "NCTHW":
            if imgs is not None:
                num_clips = int(results["num_clips"])
                clip_len = _clip_len(results)
                results["num_crops"] = imgs.shape[0] // (num_clips * clip_len)
                # (crops*clips*T, H, W, C) -> (crops*clips, T, H, W, C) -> (crops*clips, C, T, H, W)
                imgs = imgs.reshape((-1, clip_len) + imgs.shape[1:])
                imgs = np.transpose(imgs, (0, 4, 1, 2, 3))
                results["imgs"] = imgs
                results["input_shape"] = imgs.shape
            if "heatmap_imgs" in results:
                heat = results["heatmap_imgs"]
                num_clips = int(results["num_clips"])
                clip_len = _clip_len(results, "Pose")
                heat = heat.reshape((-1, num_clips, clip_len) + heat.shape[1:])
                heat = np.transpose(heat, (0, 1, 3, 2, 4, 5))
                heat = heat.reshape((-1,) + heat.shape[2:])
                results["heatmap_imgs"] = heat
                results["heatmap_input_shape"] = heat.shape
        elif fmt == "NCTHW_Heatmap":
            num_clips = int(results["num_clips"])
            clip_len = _clip_len(results)
            imgs = imgs.reshape((-1, num_clips, clip_len) + imgs.shape[1:])
            imgs = np.transpose(imgs, (0, 1, 3, 2, 4, 5))
            imgs = imgs.reshape((-1,) + imgs.shape[2:])
            results["imgs"] = imgs
            results["input_shape"] = imgs.shape
        elif fmt == "NCHW":
            num_clips = int(results.get("num_clips") or 1)
            clip_len = _clip_len(results)
            results["num_crops"] = imgs.shape[0] // (num_clips * clip_len)
            imgs = np.transpose(imgs, (0, 3, 1, 2))  # M x C x H x W
            if results.get("modality") == "Flow":
                imgs = imgs.reshape((-1, clip_len * imgs.shape[1]) + imgs.shape[2:])
            results["imgs"] = imgs
            results["input_shape"] = imgs.shape
        elif fmt == "NPTCHW":
            num_proposals = results["num_proposals"]
            num_clips = int(results["num_clips"])
            clip_len = _clip_len(results)
            imgs = imgs.reshape((num_proposals, num_clips * clip_len) + imgs.shape[1:])
            imgs = np.transpose(imgs, (0, 1, 4, 2, 3))  # P x M x C x H x W
            results["imgs"] = imgs
            results["input_shape"] = imgs.shape
        return self._finish(results)

    def _finish(self, results: dict) -> dict:
        if self.collapse:
            if results["imgs"].shape[0] != 1:
                raise ValueError(
                    f"FormatShape(collapse=True): leading axis is {results['imgs'].shape[0]}, not 1"
                )
            results["imgs"] = results["imgs"].squeeze(0)
            results["input_shape"] = results["imgs"].shape
        results["input_format"] = self.input_format
        results["collapsed"] = self.collapse
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_format='{self.input_format}')"


def _to_tensor(x):
    import torch

    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        # a transposed view keeps its strides (for clips: channels-last, which is how the engine
        # lays them out anyway); only negative strides (flips) need a copy
        if any(s < 0 for s in x.strides) or not x.flags.writeable:
            x = np.ascontiguousarray(x)
        return torch.from_numpy(x)
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(np.stack(x)))
    return torch.as_tensor(x)


def _clips_tensor(results: dict):
    """``imgs`` as the contract's ``(V, C, T, H, W)`` tensor."""
    fmt = results.get("input_format")
    if fmt is None:  # no FormatShape in the pipeline: lay out as a 3D model's input
        results = FormatShape("NCTHW")(results)
        fmt = "NCTHW"
    imgs = results["imgs"]
    if fmt in ("NCTHW", "NCTHW_Heatmap"):
        if results.get("collapsed"):
            imgs = imgs[None]  # (1, C, T, H, W)
        return _to_tensor(imgs)
    if fmt == "NCHW":
        num_clips = int(results.get("num_clips") or 1)
        clip_len = _clip_len(results)
        if results.get("collapsed"):
            imgs = imgs[None]
        if (
            results.get("modality") == "Flow"
            and imgs.shape[1] != 2
            and imgs.shape[1] % clip_len == 0
        ):
            # (crops*clips, clip_len*C, H, W) -> (crops*clips*clip_len, C, H, W)
            c = imgs.shape[1] // clip_len
            imgs = imgs.reshape((-1, c) + imgs.shape[2:])
        m, c, h, w = imgs.shape
        num_crops = m // (num_clips * clip_len)
        imgs = imgs.reshape(num_crops, num_clips * clip_len, c, h, w).transpose(0, 2, 1, 3, 4)
        return _to_tensor(imgs)  # (crops, C, clips*T, H, W)
    return _to_tensor(imgs)  # NPTCHW: no contract layout, passed through


def _label_tensor(label):
    import torch

    if label is None:
        return torch.tensor(-1, dtype=torch.int64)
    if isinstance(label, torch.Tensor):
        return label.to(torch.float32) if label.ndim > 0 else label.to(torch.int64)
    if isinstance(label, np.ndarray):
        if label.ndim == 0:
            return torch.tensor(int(label), dtype=torch.int64)
        return torch.from_numpy(label.astype(np.float32))
    if isinstance(label, (list, tuple)):
        return torch.tensor(label, dtype=torch.int64)
    return torch.tensor(int(label), dtype=torch.int64)


class PackActionInputs:
    """Pack the results into vidlab's sample (see the module docstring).

    Args:
        collect_keys: MMAction2's multi-input packing: the listed keys are also returned as
            tensors under ``sample['inputs']`` (``'imgs'`` still gives ``clips``).
        meta_keys: keys copied (when present) into ``sample['meta']``.
        algorithm_keys: further keys copied into ``sample['meta']``.
    """

    def __init__(
        self,
        collect_keys=None,
        meta_keys=("img_shape", "img_key", "video_id", "timestamp"),
        algorithm_keys=(),
    ):
        self.collect_keys = tuple(collect_keys) if collect_keys is not None else None
        self.meta_keys = tuple(meta_keys)
        self.algorithm_keys = tuple(algorithm_keys)

    def __call__(self, results: dict) -> dict:
        return pack_sample(results, self.collect_keys, self.meta_keys + self.algorithm_keys)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(collect_keys={self.collect_keys}, meta_keys={self.meta_keys})"
        )


def pack_sample(results: dict, collect_keys=None, meta_keys=("img_shape",)) -> dict:
    """The sample dict of ``results``: ``clips``, ``label``, ``index``, ``meta`` (a detection
    sample where ``results`` has ``gt_bboxes``, see :func:`pack_detection`)."""
    if "gt_bboxes" in results and collect_keys is None:
        return pack_detection(results, meta_keys)
    sample: dict = {}
    if "imgs" in results and (collect_keys is None or "imgs" in collect_keys):
        sample["clips"] = _clips_tensor(results)
    elif "audios" in results and collect_keys is None:
        # audio features (V, 1, T, F) after FormatAudioShape: the views are clips as for video
        sample["clips"] = _to_tensor(np.asarray(results["audios"], dtype=np.float32))
    if collect_keys is not None:
        sample["inputs"] = {k: _to_tensor(results[k]) for k in collect_keys}
    elif "imgs" not in results and "audios" not in results:
        if "heatmap_imgs" in results:
            sample["inputs"] = _to_tensor(results["heatmap_imgs"])
        elif "keypoint" in results:
            # GCN input after FormatGCNInput: (num_clips, M, T, V, C), the clips are the views
            kp = np.asarray(results["keypoint"], dtype=np.float32)
            sample["clips"] = _to_tensor(kp if kp.ndim == 5 else kp[None])
        else:
            raise ValueError(
                "PackActionInputs: no `imgs` (nor `heatmap_imgs`, `keypoint`, `audios`) in the "
                f"results; keys are {sorted(results)}"
            )
    sample["label"] = _label_tensor(results.get("label"))
    index = results.get("index", results.get("sample_idx", -1))
    sample["index"] = -1 if index is None else int(index)
    meta = {}
    for k in meta_keys:
        v = results.get(k)
        if v is not None:
            meta[k] = tuple(int(x) for x in v) if k == "img_shape" else v
    sample["meta"] = meta
    return sample


def pack_detection(results: dict, meta_keys=("img_shape", "img_key", "video_id", "timestamp")):
    """The sample of a detection pipeline (AVA; the seam the detector reads)::

        {"inputs": (C, T, H, W) raw pixels (one view),
         "gt_instances": {"bboxes": float32 (n, 4) x1y1x2y2 pixels of the transformed frame,
                          "labels": float32 (n, num_classes) multi-hot (column 0: background)},
         "proposals": float32 (m, 4) pixels, m >= 1,
         "meta": {meta_keys..., "ori_shape": (h, w), "scale_factor": (sx, sy)},
         "index": int}

    Without proposals (a dataset without ``proposal_file``) the proposals are the ground truth
    boxes, or the whole frame where there are none.
    """
    import torch

    clips = _clips_tensor(results)  # (V, C, T, H, W)
    if clips.ndim == 5:
        if clips.shape[0] != 1:
            raise ValueError(
                f"a detection sample has one view, got {clips.shape[0]} (crops x clips); "
                "detection pipelines end with FormatShape('NCTHW', collapse=True)"
            )
        clips = clips[0]  # (C, T, H, W)
    bboxes = np.asarray(results["gt_bboxes"], dtype=np.float32).reshape(-1, 4)
    labels = np.asarray(results["gt_labels"])
    labels = labels.astype(np.float32) if labels.dtype.kind == "f" else labels
    proposals = results.get("proposals")
    img_h, img_w = (int(v) for v in results["img_shape"])
    if proposals is None:
        proposals = bboxes if len(bboxes) else np.array([[0, 0, img_w, img_h]])
    meta = {}
    for k in meta_keys:
        v = results.get(k)
        if v is not None:
            meta[k] = tuple(int(x) for x in v) if k == "img_shape" else v
    shape = results.get("original_shape", results["img_shape"])
    meta["ori_shape"] = tuple(int(x) for x in shape)
    factor = results.get("scale_factor", (1.0, 1.0))
    meta["scale_factor"] = tuple(float(x) for x in factor)
    index = results.get("index", results.get("sample_idx", -1))
    return {
        "inputs": clips,
        "gt_instances": {"bboxes": torch.from_numpy(bboxes), "labels": torch.from_numpy(labels)},
        "proposals": torch.from_numpy(np.asarray(proposals, dtype=np.float32).reshape(-1, 4)),
        "meta": meta,
        "index": -1 if index is None else int(index),
    }


class Transpose:
    """MMAction2's ``Transpose``: ``results[key] = results[key].transpose(order)`` per key.

    Args:
        keys: the keys to transpose (arrays or tensors: ``.transpose(order)`` is numpy's).
        order: the new axis order.
    """

    def __init__(self, keys, order):
        self.keys = keys
        self.order = order

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            value = results[key]
            if hasattr(value, "permute"):  # a torch tensor: numpy's transpose(order) is permute
                results[key] = value.permute(*self.order)
            else:
                results[key] = np.asarray(value).transpose(self.order)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys}, order={self.order})"


class LoadHVULabel:
    """MMAction2's ``LoadHVULabel``: HVU's per-category tag lists to multi-hot tensors.

    Reads ``label`` (category -> tag indices within the category), ``categories`` and
    ``category_nums`` (tags per category, in order); sets ``label`` (float ``(num_tags,)``
    multi-hot over all categories' tags laid end to end), ``mask`` (1 over the tags of every
    category the sample is labelled in) and ``category_mask`` (``(num_categories,)``).
    Categories not in ``categories`` are skipped. The category layout is read from the first
    sample and kept.
    """

    _accepts_any_kwargs = True  # MMAction2 takes and ignores **kwargs

    def __init__(self, **kwargs):
        self.hvu_initialized = False
        self.kwargs = kwargs

    def init_hvu_info(self, categories, category_nums) -> None:
        """Set the category layout (names, tags per category, where each starts)."""
        if len(categories) != len(category_nums):
            raise ValueError(
                f"{len(categories)} categories but {len(category_nums)} category_nums; "
                "give one count per category"
            )
        self.categories = list(categories)
        self.category_nums = list(category_nums)
        self.num_categories = len(self.categories)
        self.num_tags = sum(self.category_nums)
        starts = np.concatenate([[0], np.cumsum(self.category_nums)[:-1]]).astype(int)
        self.category2num = dict(zip(self.categories, self.category_nums))
        self.category2startidx = dict(zip(self.categories, starts.tolist()))
        self.hvu_initialized = True

    def __call__(self, results: dict) -> dict:
        import torch

        if not self.hvu_initialized:
            self.init_hvu_info(results["categories"], results["category_nums"])
        label = torch.zeros(self.num_tags)
        mask = torch.zeros(self.num_tags)
        category_mask = torch.zeros(self.num_categories)
        for category, tags in results["label"].items():
            if category not in self.category2startidx:  # not trained on this category
                continue
            category_mask[self.categories.index(category)] = 1.0
            start = self.category2startidx[category]
            label[[start + int(t) for t in tags]] = 1.0
            mask[start : start + self.category2num[category]] = 1.0
        results["label"] = label
        results["mask"] = mask
        results["category_mask"] = category_mask
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(hvu_initialized={self.hvu_initialized})"
