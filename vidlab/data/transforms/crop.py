"""Crop transforms (MMAction2 semantics): random, random-resized, multi-scale, centre, three and
ten crops. Crops return views of the frames (no pixel is copied)."""

from __future__ import annotations

import logging
import random
import warnings
from collections.abc import Sequence

import numpy as np

from vidlab.data.transforms.frames import (
    _box_crop,
    _boxes_apply,
    _check_box,
    _crop,
    _frame_hw,
    _img_shape,
    _is_int_pair,
    _pair,
    _update_quadruple,
)

__all__ = [
    "RandomCrop",
    "RandomResizedCrop",
    "MultiScaleCrop",
    "CenterCrop",
    "ThreeCrop",
    "TenCrop",
]

from vidlab.data.transforms.lazy import init_lazy, lazy_crop

log = logging.getLogger(__name__)


class RandomCrop:
    """A ``size x size`` crop at a random position (MMAction2 ``RandomCrop``)."""

    def __init__(self, size: int, lazy: bool = False):
        if not isinstance(size, int):
            raise TypeError(f"Size must be an int, but got {type(size)}")
        self.size = size
        self.lazy = lazy

    def _apply(self, results: dict, box: tuple[int, int, int, int], img_h: int, img_w: int) -> dict:
        x1, y1, x2, y2 = (int(v) for v in box)
        _check_box(type(self).__name__, x1, y1, x2, y2, img_w, img_h)
        _update_quadruple(results, x1, y1, x2 - x1, y2 - y1, img_w, img_h)
        results["crop_bbox"] = np.array([x1, y1, x2, y2])
        results["img_shape"] = (y2 - y1, x2 - x1)
        if self.lazy:
            lazy_crop(results, (x1, y1, x2, y2), img_h, img_w)
            return results
        if "imgs" in results:
            results["imgs"] = _crop(results["imgs"], x1, y1, x2, y2)
        if "keypoint" in results:  # skeleton pipelines: coordinates move with the crop
            results["keypoint"] = results["keypoint"] - np.array([x1, y1])
        _boxes_apply(results, lambda b: _box_crop(b, x1, y1, x2, y2))
        return results

    def __call__(self, results: dict) -> dict:
        init_lazy(results, self.lazy)
        img_h, img_w = _img_shape(results)
        if self.size > img_h or self.size > img_w:
            raise ValueError(
                f"RandomCrop(size={self.size}) is larger than the {img_w}x{img_h} frames (w x h)"
            )
        y_offset = x_offset = 0
        if img_h > self.size:
            y_offset = int(np.random.randint(0, img_h - self.size))
        if img_w > self.size:
            x_offset = int(np.random.randint(0, img_w - self.size))
        box = (x_offset, y_offset, x_offset + self.size, y_offset + self.size)
        return self._apply(results, box, img_h, img_w)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, lazy={self.lazy})"


class RandomResizedCrop(RandomCrop):
    """A crop of random area and aspect ratio (Inception-style; resize it afterwards).

    Args:
        area_range: fraction of the frame area, ``(min, max)``.
        aspect_ratio_range: width/height, ``(min, max)``, sampled log-uniformly.
        lazy: only record the crop; a later ``Fuse`` applies it (MMAction2's lazy mode).
    """

    def __init__(
        self, area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3), lazy: bool = False
    ):
        area_range = tuple(float(v) for v in area_range)
        aspect_ratio_range = tuple(float(v) for v in aspect_ratio_range)
        if not (len(area_range) == 2 and 0 < area_range[0] <= area_range[1] <= 1):
            raise ValueError(f"area_range must satisfy 0 < min <= max <= 1, got {area_range}")
        if not (
            len(aspect_ratio_range) == 2 and 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]
        ):
            raise ValueError(
                f"aspect_ratio_range must satisfy 0 < min <= max, got {aspect_ratio_range}"
            )
        self.area_range = area_range
        self.aspect_ratio_range = aspect_ratio_range
        self.lazy = lazy

    @staticmethod
    def get_crop_bbox(img_shape, area_range, aspect_ratio_range, max_attempts: int = 10):
        """(x1, y1, x2, y2) of a random crop; the centred square when 10 draws do not fit."""
        img_h, img_w = img_shape
        area = img_h * img_w
        min_ar, max_ar = aspect_ratio_range
        aspect_ratios = np.exp(np.random.uniform(np.log(min_ar), np.log(max_ar), size=max_attempts))
        target_areas = np.random.uniform(*area_range, size=max_attempts) * area
        candidate_crop_w = np.round(np.sqrt(target_areas * aspect_ratios)).astype(np.int32)
        candidate_crop_h = np.round(np.sqrt(target_areas / aspect_ratios)).astype(np.int32)
        for i in range(max_attempts):
            crop_w = int(candidate_crop_w[i])
            crop_h = int(candidate_crop_h[i])
            if crop_h <= img_h and crop_w <= img_w:
                x_offset = random.randint(0, img_w - crop_w)
                y_offset = random.randint(0, img_h - crop_h)
                return x_offset, y_offset, x_offset + crop_w, y_offset + crop_h
        crop_size = min(img_h, img_w)
        x_offset = (img_w - crop_size) // 2
        y_offset = (img_h - crop_size) // 2
        return x_offset, y_offset, x_offset + crop_size, y_offset + crop_size

    def __call__(self, results: dict) -> dict:
        init_lazy(results, self.lazy)
        img_h, img_w = _img_shape(results)
        box = self.get_crop_bbox((img_h, img_w), self.area_range, self.aspect_ratio_range)
        return self._apply(results, box, img_h, img_w)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(area_range={self.area_range}, "
            f"aspect_ratio_range={self.aspect_ratio_range}, lazy={self.lazy})"
        )


class MultiScaleCrop(RandomCrop):
    """TSN's multi-scale crop: sizes are ``scales`` times the short side, at fixed positions.

    Args:
        input_size: ``(w, h)`` of the network input; crop sizes within 3 px snap to it.
        scales: factors of the short side for the crop width and height.
        max_wh_scale_gap: the largest allowed gap between the width and height scale levels.
        random_crop: random position instead of the fixed ones.
        num_fixed_crops: 5 (corners + centre) or 13 fixed positions.
        lazy: only record the crop; a later ``Fuse`` applies it (MMAction2's lazy mode).
    """

    def __init__(
        self,
        input_size,
        scales=(1,),
        max_wh_scale_gap: int = 1,
        random_crop: bool = False,
        num_fixed_crops: int = 5,
        lazy: bool = False,
    ):
        self.input_size = _pair(input_size)
        if not _is_int_pair(self.input_size):
            raise TypeError(f"Input_size must be int or tuple of int, but got {type(input_size)}")
        if not isinstance(scales, (tuple, list)):
            raise TypeError(f"Scales must be tuple, but got {type(scales)}")
        if num_fixed_crops not in (5, 13):
            raise ValueError(f"Num_fix_crops must be in {[5, 13]}, but got {num_fixed_crops}")
        self.scales = tuple(scales)
        self.max_wh_scale_gap = max_wh_scale_gap
        self.random_crop = random_crop
        self.num_fixed_crops = num_fixed_crops
        self.lazy = lazy

    def __call__(self, results: dict) -> dict:
        init_lazy(results, self.lazy)
        img_h, img_w = _img_shape(results)
        base_size = min(img_h, img_w)
        crop_sizes = [int(base_size * s) for s in self.scales]
        candidate_sizes = []
        for i, h in enumerate(crop_sizes):
            for j, w in enumerate(crop_sizes):
                if abs(i - j) <= self.max_wh_scale_gap:
                    candidate_sizes.append([w, h])
        crop_size = list(random.choice(candidate_sizes))
        for i in range(2):
            if abs(crop_size[i] - self.input_size[i]) < 3:
                crop_size[i] = self.input_size[i]
        crop_w, crop_h = crop_size
        if self.random_crop:
            x_offset = random.randint(0, img_w - crop_w)
            y_offset = random.randint(0, img_h - crop_h)
        else:
            w_step = (img_w - crop_w) // 4
            h_step = (img_h - crop_h) // 4
            candidate_offsets = [
                (0, 0),  # upper left
                (4 * w_step, 0),  # upper right
                (0, 4 * h_step),  # lower left
                (4 * w_step, 4 * h_step),  # lower right
                (2 * w_step, 2 * h_step),  # center
            ]
            if self.num_fixed_crops == 13:
                candidate_offsets += [
                    (0, 2 * h_step),  # center left
                    (4 * w_step, 2 * h_step),  # center right
                    (2 * w_step, 4 * h_step),  # lower center
                    (2 * w_step, 0 * h_step),  # upper center
                    (1 * w_step, 1 * h_step),  # upper left quarter
                    (3 * w_step, 1 * h_step),  # upper right quarter
                    (1 * w_step, 3 * h_step),  # lower left quarter
                    (3 * w_step, 3 * h_step),  # lower right quarter
                ]
            x_offset, y_offset = random.choice(candidate_offsets)
        results["scales"] = self.scales
        box = (x_offset, y_offset, x_offset + crop_w, y_offset + crop_h)
        return self._apply(results, box, img_h, img_w)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, scales={self.scales}, "
            f"max_wh_scale_gap={self.max_wh_scale_gap}, random_crop={self.random_crop}, "
            f"num_fixed_crops={self.num_fixed_crops}, lazy={self.lazy})"
        )


class CenterCrop(RandomCrop):
    """The centre ``crop_size`` region; ``crop_size`` is an int or ``(w, h)``."""

    def __init__(self, crop_size, lazy: bool = False):
        self.crop_size = _pair(crop_size)
        if not _is_int_pair(self.crop_size):
            raise TypeError(f"Crop_size must be int or tuple of int, but got {type(crop_size)}")
        self.lazy = lazy

    def __call__(self, results: dict) -> dict:
        init_lazy(results, self.lazy)
        img_h, img_w = _img_shape(results)
        crop_w, crop_h = self.crop_size
        left = (img_w - crop_w) // 2
        top = (img_h - crop_h) // 2
        return self._apply(results, (left, top, left + crop_w, top + crop_h), img_h, img_w)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(crop_size={self.crop_size}, lazy={self.lazy})"


def _multi_crop(results: dict, boxes_and_flips: Sequence[tuple[int, int, int, int, bool]]) -> dict:
    imgs = results["imgs"]
    n = len(imgs)
    frames, crop_bboxes = [], []
    for x1, y1, x2, y2, flipped in boxes_and_flips:
        crops = _crop(imgs, x1, y1, x2, y2)
        if flipped:
            crops = [c[:, ::-1] for c in crops]
        frames.extend(crops)  # views of the source frames
        crop_bboxes.extend([[x1, y1, x2, y2]] * n)
    results["imgs"] = frames
    results["crop_bbox"] = np.array(crop_bboxes)
    results["img_shape"] = _frame_hw(frames)
    return results


class ThreeCrop:
    """Three crops along the long side (left/top, right/bottom, middle); the views multiply by 3.

    One side of ``crop_size`` (w, h) must equal the frame's (resize the short side first).
    """

    def __init__(self, crop_size):
        self.crop_size = _pair(crop_size)
        if not _is_int_pair(self.crop_size):
            raise TypeError(f"Crop_size must be int or tuple of int, but got {type(crop_size)}")

    def __call__(self, results: dict) -> dict:
        if "gt_bboxes" in results or "proposals" in results:
            warnings.warn("ThreeCrop cannot process bounding boxes", stacklevel=2)
        img_h, img_w = _frame_hw(results["imgs"])
        crop_w, crop_h = self.crop_size
        if crop_h == img_h:
            w_step = (img_w - crop_w) // 2
            offsets = [(0, 0), (2 * w_step, 0), (w_step, 0)]  # left, right, middle
        elif crop_w == img_w:
            h_step = (img_h - crop_h) // 2
            offsets = [(0, 0), (0, 2 * h_step), (0, h_step)]  # top, bottom, middle
        else:
            raise ValueError(
                f"ThreeCrop(crop_size={self.crop_size}): the crop (w, h) must match the frame "
                f"width or height, but frames are {img_w}x{img_h}; resize the short side to the "
                f"crop size first (e.g. Resize(scale=(-1, {min(self.crop_size)})))"
            )
        for x, y in offsets:
            _check_box("ThreeCrop", x, y, x + crop_w, y + crop_h, img_w, img_h)
        return _multi_crop(results, [(x, y, x + crop_w, y + crop_h, False) for x, y in offsets])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(crop_size={self.crop_size})"


class TenCrop:
    """Four corners and the centre, each followed by its horizontal flip; the views multiply by 10."""

    def __init__(self, crop_size):
        self.crop_size = _pair(crop_size)
        if not _is_int_pair(self.crop_size):
            raise TypeError(f"Crop_size must be int or tuple of int, but got {type(crop_size)}")

    def __call__(self, results: dict) -> dict:
        if "gt_bboxes" in results or "proposals" in results:
            warnings.warn("TenCrop cannot process bounding boxes", stacklevel=2)
        img_h, img_w = _frame_hw(results["imgs"])
        crop_w, crop_h = self.crop_size
        _check_box("TenCrop", 0, 0, crop_w, crop_h, img_w, img_h)
        w_step = (img_w - crop_w) // 4
        h_step = (img_h - crop_h) // 4
        offsets = [
            (0, 0),  # upper left
            (4 * w_step, 0),  # upper right
            (0, 4 * h_step),  # lower left
            (4 * w_step, 4 * h_step),  # lower right
            (2 * w_step, 2 * h_step),  # center
        ]
        plan = []
        for x, y in offsets:
            plan.append((x, y, x + crop_w, y + crop_h, False))
            plan.append((x, y, x + crop_w, y + crop_h, True))
        return _multi_crop(results, plan)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(crop_size={self.crop_size})"
