"""Frame helpers shared by the spatial transforms (:mod:`.resize`, :mod:`.crop`, :mod:`.flip`).

``results['imgs']`` is either one array ``(N, H, W, C)`` or a list of ``(H, W, C)`` arrays; every
transform accepts both. Crops and flips return views (no pixel is copied); the one copy happens
when the frames are resized or stacked by ``FormatShape``. All frames of a clip get the same
random draw. Randomness comes from ``np.random`` and, where MMAction2 uses it
(``RandomResizedCrop``/``MultiScaleCrop`` offsets), Python's ``random``.

The keys written are MMAction2's: ``img_shape`` (h, w), ``crop_bbox`` (x1, y1, x2, y2),
``crop_quadruple`` (x, y, w, h as fractions of the original frame), ``scale_factor`` (w, h),
``keep_ratio``, ``flip``, ``flip_direction``. ``lazy=True`` is MMAction2's lazy mode (see
:mod:`.lazy`: the operations are recorded and applied once by ``Fuse``).
"""

from __future__ import annotations

import logging

import numpy as np

__all__ = ["boxes_to_pixels", "compact", "frames_array"]

log = logging.getLogger(__name__)


def _pair(x) -> tuple:
    if isinstance(x, (list, tuple)):
        if len(x) != 2:
            raise ValueError(f"expected an int or a pair, got {x!r}")
        return tuple(x)
    return (x, x)


def _is_int_pair(x) -> bool:
    return len(x) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in x
    )


def _frame_hw(imgs) -> tuple[int, int]:
    first = imgs[0]
    return int(first.shape[0]), int(first.shape[1])


def _img_shape(results: dict) -> tuple[int, int]:
    if "img_shape" not in results:
        results["img_shape"] = _frame_hw(results["imgs"])
    h, w = results["img_shape"]
    return int(h), int(w)


def _crop(imgs, x1: int, y1: int, x2: int, y2: int):
    """A view of every frame cropped to the box (no copy)."""
    if isinstance(imgs, np.ndarray):
        return imgs[:, y1:y2, x1:x2]
    return [img[y1:y2, x1:x2] for img in imgs]


def _as_array(imgs) -> np.ndarray:
    """``(N, H, W, C)`` view or stack of the frames (stacking a list copies once)."""
    if isinstance(imgs, np.ndarray):
        return imgs
    return frames_array(imgs)


def _flipped_copy(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Contiguous copy of a view with negative strides (flips), through torch: NumPy copies
    reversed 3-byte pixels element by element, about 5x slower."""
    import torch

    neg = [i for i, s in enumerate(a.strides) if s < 0]
    src = torch.from_numpy(np.flip(a, axis=neg)).flip(neg)
    if out is None:
        return src.numpy()
    torch.from_numpy(out).copy_(src)
    return out


def compact(a: np.ndarray) -> np.ndarray:
    """``a`` as a C-contiguous array (no copy when it already is one)."""
    if any(s < 0 for s in a.strides):
        return _flipped_copy(a)
    return np.ascontiguousarray(a)


def frames_array(imgs) -> np.ndarray:
    """The frames as one C-contiguous ``(N, H, W, C)`` array: at most one copy of the pixels."""
    if isinstance(imgs, np.ndarray):
        return compact(imgs)
    if not len(imgs):
        return np.zeros((0, 0, 0, 3), np.uint8)
    first = imgs[0]
    out = np.empty((len(imgs),) + first.shape, dtype=first.dtype)
    for m, f in enumerate(imgs):
        if f.shape != first.shape:
            raise ValueError(f"frames have different shapes: {first.shape} and {f.shape}")
        if any(s < 0 for s in f.strides):
            _flipped_copy(f, out[m])
        else:
            out[m] = f
    return out


def _update_quadruple(
    results: dict, x: int, y: int, w: int, h: int, img_w: int, img_h: int
) -> None:
    if "crop_quadruple" not in results:
        results["crop_quadruple"] = np.array([0, 0, 1, 1], dtype=np.float32)
    old_x, old_y, old_w, old_h = results["crop_quadruple"]
    x_ratio, y_ratio = x / img_w, y / img_h
    w_ratio, h_ratio = w / img_w, h / img_h
    results["crop_quadruple"] = np.array(
        [old_x + x_ratio * old_w, old_y + y_ratio * old_h, w_ratio * old_w, h_ratio * old_h],
        dtype=np.float32,
    )


def _check_box(name: str, x1: int, y1: int, x2: int, y2: int, img_w: int, img_h: int) -> None:
    if x1 < 0 or y1 < 0 or x2 > img_w or y2 > img_h:
        raise ValueError(
            f"{name}: crop box ({x1}, {y1}, {x2}, {y2}) does not fit in the {img_w}x{img_h} "
            f"frames (w x h); resize the frames first or use a smaller crop"
        )


def _box_crop(box: np.ndarray, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    """Boxes ``(..., 4)`` in the coordinates of the crop, clipped to it (MMAction2's rule)."""
    out = box.copy()
    out[..., 0::2] = np.clip(box[..., 0::2] - x1, 0, x2 - x1 - 1)
    out[..., 1::2] = np.clip(box[..., 1::2] - y1, 0, y2 - y1 - 1)
    return out


def _boxes_apply(results: dict, fn) -> None:
    """Apply ``fn`` to ``gt_bboxes`` and (when present) ``proposals``."""
    if "gt_bboxes" in results:
        results["gt_bboxes"] = fn(results["gt_bboxes"])
        if results.get("proposals") is not None:
            if results["proposals"].shape[1] != 4:
                raise ValueError(f"proposals must be (N, 4), got {results['proposals'].shape}")
            results["proposals"] = fn(results["proposals"])


def boxes_to_pixels(results: dict, shape: tuple[int, int], resize=None) -> None:
    """Normalised ``gt_bboxes`` and ``proposals`` (AVA's) to float32 pixels of frames of
    ``shape`` (h, w), as MMAction2's ``RawFrameDecode`` and ``DecordDecode`` scale them; then
    times the ``resize`` factor (w, h) of a resize fused into the decoder, as ``Resize`` does."""
    h, w = shape
    scale = np.array([w, h, w, h])
    results["gt_bboxes"] = (results["gt_bboxes"] * scale).astype(np.float32)
    if results.get("proposals") is not None:
        results["proposals"] = (results["proposals"] * scale).astype(np.float32)
    if resize is not None:
        _boxes_apply(results, lambda b: b * np.concatenate([resize, resize]))
