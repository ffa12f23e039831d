"""The flip transform (MMAction2 ``Flip``), for RGB, flow and keypoint data."""

from __future__ import annotations

import numpy as np

from vidlab.data.transforms.frames import _boxes_apply, _img_shape
from vidlab.data.transforms.lazy import init_lazy, lazy_flip

__all__ = ["Flip"]


class Flip:
    """Flip all frames of the sample with probability ``flip_ratio`` (one draw per sample).

    Args:
        flip_ratio: probability of flipping.
        direction: ``'horizontal'`` or ``'vertical'``.
        flip_label_map: ``{label: label_after_flip}`` for direction-sensitive classes.
        left_kp, right_kp: keypoint indices swapped by a flip (skeleton data).
        lazy: only record the flip; a later ``Fuse`` applies it (MMAction2's lazy mode).

    For ``modality='Flow'`` the x component changes sign under a horizontal flip: for frames
    holding (x, y) in two channels the x channel is inverted (``255 - v``); for the 0.x layout
    of alternating single-channel x and y frames, every other frame (the x ones) is inverted.
    """

    _directions = ("horizontal", "vertical")

    def __init__(
        self,
        flip_ratio: float = 0.5,
        direction: str = "horizontal",
        flip_label_map: dict | None = None,
        left_kp=None,
        right_kp=None,
        lazy: bool = False,
    ):
        if direction not in self._directions:
            raise ValueError(
                f"Direction {direction} is not supported. Currently support ones are "
                f"{list(self._directions)}"
            )
        self.flip_ratio = flip_ratio
        self.direction = direction
        self.flip_label_map = flip_label_map
        self.left_kp = left_kp
        self.right_kp = right_kp
        self.lazy = lazy

    def _flip_imgs(self, imgs, modality: str):
        if isinstance(imgs, np.ndarray):
            out = imgs[:, :, ::-1] if self.direction == "horizontal" else imgs[:, ::-1]
        else:
            out = [img[:, ::-1] if self.direction == "horizontal" else img[::-1] for img in imgs]
        if modality == "Flow":
            out = [np.asarray(img) for img in out]
            if out and out[0].ndim == 3 and out[0].shape[-1] == 2:
                out = [np.stack([255 - img[..., 0], img[..., 1]], axis=-1) for img in out]
            else:
                out = [255 - img if i % 2 == 0 else img for i, img in enumerate(out)]
        return out

    def _flip_kps(self, kps, kpscores, img_width):
        kps = kps.copy()
        kp_x = kps[..., 0]
        kp_x[kp_x != 0] = img_width - kp_x[kp_x != 0]
        new_order = list(range(kps.shape[2]))
        if self.left_kp is not None and self.right_kp is not None:
            for left, right in zip(self.left_kp, self.right_kp):
                new_order[left] = right
                new_order[right] = left
        kps = kps[:, :, new_order]
        if kpscores is not None:
            kpscores = kpscores[:, :, new_order]
        return kps, kpscores

    def __call__(self, results: dict) -> dict:
        modality = results.get("modality", "RGB")
        if modality == "Flow" and self.direction != "horizontal":
            raise ValueError("Flip of optical flow supports direction='horizontal' only")
        if "imgs" in results:
            _img_shape(results)
        init_lazy(results, self.lazy)
        flip = np.random.rand() < self.flip_ratio
        results["flip"] = flip
        results["flip_direction"] = self.direction
        if self.flip_label_map is not None and flip:
            results["label"] = self.flip_label_map.get(results["label"], results["label"])
        if self.lazy:
            lazy_flip(results, flip, self.direction)
        elif flip:
            if "imgs" in results:
                results["imgs"] = self._flip_imgs(results["imgs"], modality)
            if "keypoint" in results:
                if self.direction != "horizontal":
                    raise ValueError("only horizontal flips are supported for keypoints")
                kp, kpscore = self._flip_kps(
                    results["keypoint"], results.get("keypoint_score"), results["img_shape"][1]
                )
                results["keypoint"] = kp
                if "keypoint_score" in results:
                    results["keypoint_score"] = kpscore
            if "gt_bboxes" in results:
                if self.direction != "horizontal":
                    raise ValueError("only horizontal flips are supported for boxes")
                _boxes_apply(results, lambda b: _flip_boxes(b, results["img_shape"][1]))
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(flip_ratio={self.flip_ratio}, direction={self.direction}, "
            f"flip_label_map={self.flip_label_map}, lazy={self.lazy})"
        )


def _flip_boxes(box: np.ndarray, img_w: int) -> np.ndarray:
    """Boxes ``(..., 4k)`` mirrored left-right in a frame ``img_w`` wide (MMAction2's rule)."""
    out = box.copy()
    out[..., 0::4] = img_w - box[..., 2::4]
    out[..., 2::4] = img_w - box[..., 0::4]
    return out
