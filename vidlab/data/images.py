"""Image classification data, for OmniSource's image loader (MMPretrain's names).

MMAction2's OmniSource config trains on ImageNet next to Kinetics with MMPretrain (MMCls)
parts: ``mmcls.ImageNet`` (a ``meta/train.txt`` list of ``path label`` lines under
``data_root``), ``LoadRGBFromFile`` (in :mod:`vidlab.data.loading`), ``mmcls.RandomResizedCrop``, ``mmcls.RandomFlip`` and
``mmcls.PackClsInputs``. The scope prefix is stripped by the name lookup, except for
``RandomResizedCrop``, whose MMPretrain version (output ``scale``, crop ratio in
``crop_ratio_range``, another fallback) differs from MMAction2's: it is listed under its
scoped names.

Images are decoded as frame folders are (:mod:`vidlab.data.pixels`: OpenCV for MMAction2's exact
pixels where it is installed, else FFmpeg through PyAV). A sample is
``{"clips": uint8 (C, H, W), "label", "index", "meta"}``: a 4D batch, which the recognition task
and ``ActionDataPreprocessor(format_shape='MIX2d3d')`` take as images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vidlab.data.datasets import BaseActionDataset, _join
from vidlab.data.transforms.resize import resize_frames

__all__ = ["ClsRandomResizedCrop", "ImageNet", "PackClsInputs", "RandomFlip"]


class ImageNet(BaseActionDataset):
    """MMPretrain's ``ImageNet``: images listed as ``path label`` lines.

    Args:
        ann_file: The list (``meta/train.txt``), relative to ``data_root``.
        metainfo: MMEngine's, accepted (class names are not needed to train).
        data_root: Root of ``ann_file`` and ``data_prefix``.
        data_prefix: Folder of the images under ``data_root`` (``'train'``), or
            ``dict(img_path=...)``.
        pipeline: Transforms.
        test_mode: Evaluation dataset (informational).
        on_error: ``'raise'`` or ``'skip'`` (see :mod:`vidlab.data.datasets`).
        indices: Keep only the first ``n`` records (an int) or these indices.
        split, with_label, extensions, lazy_init, serialize_data, max_refetch: MMPretrain's,
            accepted; the list is always read (scanning class folders without ``ann_file`` is
            not implemented).
    """

    _prefix_keys = ("img_path", "img", "prefix")

    def __init__(
        self,
        ann_file: str = "",
        metainfo: dict | None = None,
        data_root: str = "",
        data_prefix: str | dict = "",
        pipeline=(),
        test_mode: bool = False,
        on_error: str = "raise",
        indices: int | Sequence[int] | None = None,
        split: str = "",
        with_label: bool = True,
        extensions: Sequence[str] = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif"),
        lazy_init: bool = False,
        serialize_data: bool = True,
        max_refetch: int = 1000,
    ) -> None:
        if not ann_file:
            raise NotImplementedError(
                "ImageNet without ann_file (scanning class folders) is not implemented in "
                "vidlab; give a list of 'path label' lines (meta/train.txt)"
            )
        super().__init__(
            ann_file,
            list(pipeline),
            data_prefix=data_prefix,
            test_mode=test_mode,
            on_error=on_error,
            data_root=data_root or None,
            indices=indices,
        )

    def parse_line(self, cols: list[str]) -> dict:
        label = self._labels_from(cols[1:], "'path label' (2 columns)")
        return {"img_path": _join(self._prefix, cols[0]), "label": label}

    def parse_record(self, item: dict) -> dict:
        path = item.pop("img_path", None) or item.pop("filename")
        label = item.pop("gt_label", item.pop("label", -1))
        return {"img_path": _join(self._prefix, path), "label": label, **item}

    def _source_path(self, rec: dict) -> str | None:
        return rec.get("img_path")

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info["gt_label"] = info["label"]
        return info


class ClsRandomResizedCrop:
    """MMPretrain's ``RandomResizedCrop``: a crop of random area and aspect ratio, resized to
    ``scale``.

    Up to ``max_attempts`` draws of an area fraction in ``crop_ratio_range`` and a log-uniform
    aspect ratio (w/h) in ``aspect_ratio_range``; the first that fits is cropped at a random
    offset. If none fits, a centre crop of the whole image clamped to the aspect range. The
    crop is resized as ``mmcv.imresize`` does (OpenCV's sampling; ``bilinear`` or
    ``nearest``).

    Args:
        scale: Output size: an int (square) or ``(h, w)``.
        crop_ratio_range: Area fraction of the image, ``(min, max)``.
        aspect_ratio_range: Width/height, ``(min, max)``.
        max_attempts: Draws before the centre crop.
        interpolation: ``'bilinear'`` or ``'nearest'``.
        backend: MMCV's resize backend, accepted.
    """

    def __init__(
        self,
        scale: int | Sequence[int],
        crop_ratio_range: Sequence[float] = (0.08, 1.0),
        aspect_ratio_range: Sequence[float] = (3.0 / 4.0, 4.0 / 3.0),
        max_attempts: int = 10,
        interpolation: str = "bilinear",
        backend: str = "cv2",
    ) -> None:
        scale = (int(scale), int(scale)) if isinstance(scale, int | float) else tuple(scale)
        if len(scale) != 2 or min(scale) <= 0:
            raise ValueError(f"scale must be a positive int or (h, w), got {scale}")
        lo, hi = crop_ratio_range
        a_lo, a_hi = aspect_ratio_range
        if lo > hi or a_lo > a_hi:
            raise ValueError(
                "crop_ratio_range and aspect_ratio_range must be (min, max), got "
                f"{crop_ratio_range} and {aspect_ratio_range}"
            )
        if int(max_attempts) < 0:
            raise ValueError(f"max_attempts must be >= 0, got {max_attempts}")
        self.scale = scale
        self.crop_ratio_range = (float(lo), float(hi))
        self.aspect_ratio_range = (float(a_lo), float(a_hi))
        self.max_attempts = int(max_attempts)
        self.interpolation = interpolation
        self.backend = backend

    def crop_params(self, h: int, w: int) -> tuple[int, int, int, int]:
        """``(offset_h, offset_w, target_h, target_w)`` of the crop of an ``h x w`` image."""
        area = h * w
        log_ratio = (math.log(self.aspect_ratio_range[0]), math.log(self.aspect_ratio_range[1]))
        for _ in range(self.max_attempts):
            target_area = np.random.uniform(*self.crop_ratio_range) * area
            aspect_ratio = math.exp(np.random.uniform(*log_ratio))
            target_w = int(round(math.sqrt(target_area * aspect_ratio)))
            target_h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < target_w <= w and 0 < target_h <= h:
                offset_h = np.random.randint(0, h - target_h + 1)
                offset_w = np.random.randint(0, w - target_w + 1)
                return int(offset_h), int(offset_w), target_h, target_w
        ratio = w / h  # no draw fitted: the centre, clamped to the aspect range
        target_h, target_w = h, w
        if ratio < self.aspect_ratio_range[0]:
            target_h = int(round(w / self.aspect_ratio_range[0]))
        elif ratio > self.aspect_ratio_range[1]:
            target_w = int(round(h * self.aspect_ratio_range[1]))
        return (h - target_h) // 2, (w - target_w) // 2, target_h, target_w

    def __call__(self, results: dict) -> dict:
        img = results["img"]
        h, w = img.shape[:2]
        top, left, th, tw = self.crop_params(h, w)
        crop = img[top : top + th, left : left + tw]  # (th, tw, C), a view
        out_h, out_w = self.scale
        img = resize_frames(crop[None], (out_w, out_h), self.interpolation)[0]  # (h, w, C)
        results["img"] = img
        results["img_shape"] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (
            f"RandomResizedCrop(scale={self.scale}, crop_ratio_range={self.crop_ratio_range}, "
            f"aspect_ratio_range={self.aspect_ratio_range}, max_attempts={self.max_attempts})"
        )


class RandomFlip:
    """MMCV's ``RandomFlip`` (``mmcls.RandomFlip``) on ``results['img']``.

    Args:
        prob: Probability of flipping: a float with one ``direction``, or one per direction.
        direction: ``'horizontal'``, ``'vertical'``, ``'diagonal'``, or a list of them.
        swap_seg_labels: MMCV's, accepted (no segmentation maps here).
    """

    _DIRECTIONS = ("horizontal", "vertical", "diagonal")

    def __init__(
        self,
        prob: float | Sequence[float] | None = None,
        direction: str | Sequence[str] = "horizontal",
        swap_seg_labels=None,
    ) -> None:
        probs = [prob] if isinstance(prob, int | float) or prob is None else list(prob)
        dirs = [direction] if isinstance(direction, str) else list(direction)
        if any(d not in self._DIRECTIONS for d in dirs):
            raise ValueError(f"direction must be one of {self._DIRECTIONS}, got {direction!r}")
        if len(probs) > 1 and len(probs) != len(dirs):
            raise ValueError(f"prob {prob} and direction {direction} differ in length")
        probs = [0.0 if p is None else float(p) for p in probs]
        if len(probs) == 1 and len(dirs) > 1:
            probs = [probs[0] / len(dirs)] * len(dirs)
        if not 0 <= sum(probs) <= 1:
            raise ValueError(f"prob must add up to a value in [0, 1], got {prob}")
        self.prob = prob
        self.direction = direction
        self._choices = dirs + [None]
        self._probs = probs + [1 - sum(probs)]

    def __call__(self, results: dict) -> dict:
        choice = self._choices[np.random.choice(len(self._choices), p=self._probs)]
        results["flip"] = choice is not None
        results["flip_direction"] = choice
        if choice is not None:
            img = results["img"]
            if choice in ("horizontal", "diagonal"):
                img = img[:, ::-1]
            if choice in ("vertical", "diagonal"):
                img = img[::-1]
            results["img"] = img  # a view; packing makes it contiguous
        return results

    def __repr__(self) -> str:
        return f"RandomFlip(prob={self.prob}, direction={self.direction!r})"


class PackClsInputs:
    """MMPretrain's ``PackClsInputs``: the image as a uint8 ``(C, H, W)`` tensor in ``clips``.

    Args:
        meta_keys: Keys copied (when present) into ``sample['meta']``.
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = ("sample_idx", "img_path", "ori_shape", "img_shape", "flip"),
        algorithm_keys: Sequence[str] = (),
    ) -> None:
        self.meta_keys = tuple(meta_keys) + tuple(algorithm_keys)

    def __call__(self, results: dict) -> dict:
        import torch

        img = np.asarray(results["img"])
        if img.ndim == 2:  # a grey image: one channel
            img = img[..., None]
        if img.dtype != np.uint8:
            img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        clips = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))  # (C, H, W)
        label = results.get("gt_label", results.get("label"))
        label = -1 if label is None else int(label)
        meta = {k: results[k] for k in self.meta_keys if results.get(k) is not None}
        index = results.get("index", results.get("sample_idx", -1))
        return {
            "clips": clips,
            "label": torch.tensor(label, dtype=torch.int64),
            "index": -1 if index is None else int(index),
            "meta": meta,
        }

    def __repr__(self) -> str:
        return f"PackClsInputs(meta_keys={self.meta_keys})"
