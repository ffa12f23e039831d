"""MMAction2's lazy mode: crops, resizes and flips with ``lazy=True`` only record what they would
do; ``Fuse`` then crops, resizes and flips the frames once.

``results['lazy']`` holds the pending operation (MMAction2's keys): ``crop_bbox`` (x1, y1, x2,
y2 as float32, in the coordinates of the frames when the first lazy transform ran),
``interpolation`` (of the last lazy ``Resize``), ``flip`` and ``flip_direction``, and
``original_shape``. The other keys (``img_shape``, ``crop_bbox``, ``crop_quadruple``,
``scale_factor``, ``flip``...) are written as in eager mode. As in MMAction2, a lazy crop or
resize after a lazy flip is refused, and an eager spatial transform must not follow lazy ones
before ``Fuse``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Fuse", "init_lazy", "lazy_crop", "lazy_flip"]


def init_lazy(results: dict, lazy: bool) -> None:
    """Start the pending operation (``lazy=True``), or check that none is pending."""
    if lazy:
        if "img_shape" not in results:
            results["img_shape"] = tuple(results["imgs"][0].shape[:2])
        if "lazy" not in results:
            img_h, img_w = results["img_shape"]
            results["lazy"] = {
                "original_shape": results["img_shape"],
                "crop_bbox": np.array([0, 0, img_w, img_h], dtype=np.float32),
                "flip": False,
                "flip_direction": None,
                "interpolation": None,
            }
        if "keypoint" in results or "gt_bboxes" in results:
            raise ValueError("lazy=True does not support keypoints or boxes; use lazy=False")
    elif "lazy" in results:
        raise ValueError(
            "an eager spatial transform follows lazy ones: put a Fuse step after the last "
            "lazy=True transform, or make them all eager"
        )


def _pending(results: dict) -> dict:
    op = results["lazy"]
    if op["flip"]:
        raise ValueError("lazy mode: put Flip after the lazy crops and resizes (as MMAction2)")
    return op


def lazy_crop(results: dict, box, img_h: int, img_w: int) -> None:
    """Compose the crop ``box`` (in the current frame coordinates) into the pending crop."""
    op = _pending(results)
    x1, y1, x2, y2 = box
    left, top, right, bottom = op["crop_bbox"]  # float32 scalars
    # MMAction2's arithmetic in its order (float32 rounding included): offset * width / img_w
    new = [
        left + x1 * (right - left) / img_w,
        top + y1 * (bottom - top) / img_h,
        left + x2 * (right - left) / img_w,
        top + y2 * (bottom - top) / img_h,
    ]
    op["crop_bbox"] = np.array(new, dtype=np.float32)


def lazy_resize(results: dict, interpolation: str) -> None:
    """Record the interpolation of a pending resize (its size is ``img_shape``)."""
    _pending(results)["interpolation"] = interpolation


def lazy_flip(results: dict, flip: bool, direction: str) -> None:
    """Record a pending flip."""
    op = results["lazy"]
    if op["flip"]:
        raise ValueError("lazy mode: use one Flip")
    op["flip"] = flip
    op["flip_direction"] = direction


class Fuse:
    """Apply the pending lazy operations: crop, then resize to ``img_shape``, then flip.

    The frames are resized once, from the crop of the original frames (so the pixels differ
    from eager mode, exactly as in MMAction2).
    """

    def __call__(self, results: dict) -> dict:
        from vidlab.data.transforms.frames import _crop
        from vidlab.data.transforms.resize import resize_frames

        if "lazy" not in results:
            raise ValueError("Fuse: no lazy operation to fuse (no transform had lazy=True)")
        op = results.pop("lazy")
        left, top, right, bottom = op["crop_bbox"].round().astype(int)
        imgs = _crop(results["imgs"], left, top, right, bottom)
        img_h, img_w = results["img_shape"]
        imgs = resize_frames(imgs, (img_w, img_h), op["interpolation"] or "bilinear")
        if op["flip"]:
            imgs = imgs[:, :, ::-1] if op["flip_direction"] == "horizontal" else imgs[:, ::-1]
        results["imgs"] = imgs
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
