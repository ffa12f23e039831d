"""Photometric transforms on uint8 frames: ``ColorJitter``, ``RandomErasing``, ``RandAugment``.

Each draws its random parameters once per sample and applies them to every frame of the clip
(``np.random`` as in MMAction2; ``RandAugment``, PyTorchVideo's, draws from torch). Inputs are ``(N, H, W, 3)`` arrays or lists of ``(H, W, 3)``
arrays; outputs are one uint8 ``(N, H, W, 3)`` array.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from vidlab.data.transforms.frames import frames_array

__all__ = ["ColorJitter", "RandomErasing", "RandAugment", "rgb_to_hsv_u8", "hsv_to_rgb_u8"]


def _stack(imgs) -> np.ndarray:
    return imgs if isinstance(imgs, np.ndarray) else frames_array(imgs)


def _gray(img: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of float frames ``(..., 3)`` (the weights MMAction2 and torchvision use)."""
    return 0.2989 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]


def rgb_to_hsv_u8(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> uint8 HSV as OpenCV's ``COLOR_RGB2HSV`` (H in [0, 180), S and V in [0, 255])."""
    x = rgb.astype(np.int32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(axis=-1)
    vmin = x.min(axis=-1)
    diff = v - vmin
    safe_v = np.where(v == 0, 1, v)
    s = np.where(v == 0, 0, np.floor(255.0 * diff / safe_v + 0.5))
    safe_d = np.where(diff == 0, 1, diff).astype(np.float64)
    h = np.where(
        v == r,
        30.0 * (g - b) / safe_d,
        np.where(v == g, 60.0 + 30.0 * (b - r) / safe_d, 120.0 + 30.0 * (r - g) / safe_d),
    )
    h = np.floor(h + 0.5)
    h = np.where(h < 0, h + 180, h)
    h = np.where(diff == 0, 0, h)
    h = np.where(h >= 180, h - 180, h)
    return np.stack([h, s, v], axis=-1).astype(np.uint8)


def hsv_to_rgb_u8(hsv: np.ndarray) -> np.ndarray:
    """uint8 HSV (H in [0, 180)) -> uint8 RGB as OpenCV's ``COLOR_HSV2RGB``."""
    h = hsv[..., 0].astype(np.float32) * (6.0 / 180.0)
    s = hsv[..., 1].astype(np.float32) / 255.0
    v = hsv[..., 2].astype(np.float32) / 255.0
    h = np.mod(h, 6.0)
    sector = np.floor(h).astype(np.int32)
    f = h - sector
    bad = (sector < 0) | (sector >= 6)
    sector = np.where(bad, 0, sector)
    f = np.where(bad, 0.0, f)
    tab = np.stack([v, v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))], axis=-1)
    # (b, g, r) taken from tab per sector, as OpenCV's sector_data
    sector_data = np.array([[1, 3, 0], [1, 0, 2], [3, 0, 1], [0, 2, 1], [0, 1, 3], [2, 1, 0]])
    idx = sector_data[sector]  # (..., 3): b, g, r
    bgr = np.take_along_axis(tab, idx, axis=-1)
    rgb = bgr[..., ::-1]
    rgb = np.where((s == 0)[..., None], v[..., None], rgb)
    return np.clip(np.floor(rgb * 255.0 + 0.5), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
class ColorJitter:
    """Random brightness, contrast, saturation and hue (MMAction2 1.x ``ColorJitter``).

    One draw of the four factors per sample, applied to every frame; the order of the four
    adjustments is drawn once when the transform is built (as MMAction2).

    Args:
        brightness, contrast, saturation: a float ``x`` for the range ``(1 - x, 1 + x)``, or a
            ``(min, max)`` tuple.
        hue: a float ``x`` for ``(-x, x)`` (at most 0.5), or a tuple.
    """

    @staticmethod
    def check_input(val, max_val, base):
        if isinstance(val, (tuple, list)):
            val = tuple(val)
            if not (base - max_val <= val[0] <= val[1] <= base + max_val):
                raise ValueError(
                    f"jitter range {val} must lie in [{base - max_val}, {base + max_val}]"
                )
            return val
        if not val <= max_val:
            raise ValueError(f"jitter value {val} must be <= {max_val}")
        return (base - val, base + val)

    def __init__(self, brightness=0.5, contrast=0.5, saturation=0.5, hue=0.1):
        self.brightness = self.check_input(brightness, 1, 1)
        self.contrast = self.check_input(contrast, 1, 1)
        self.saturation = self.check_input(saturation, 1, 1)
        self.hue = self.check_input(hue, 0.5, 0)
        self.fn_idx = np.random.permutation(4)

    @staticmethod
    def adjust_contrast(img: np.ndarray, factor: float) -> np.ndarray:
        val = _gray(img).mean(axis=(-2, -1), keepdims=True)[..., None]  # per frame
        return factor * img + (1 - factor) * val

    @staticmethod
    def adjust_saturation(img: np.ndarray, factor: float) -> np.ndarray:
        gray = _gray(img)[..., None]
        return factor * img + (1 - factor) * gray

    @staticmethod
    def adjust_hue(img: np.ndarray, factor: float) -> np.ndarray:
        hsv = rgb_to_hsv_u8(np.clip(img, 0, 255).astype(np.uint8))
        offset = int(factor * 255)
        h = (hsv[..., 0].astype(np.int32) + offset) % 180
        hsv[..., 0] = h.astype(np.uint8)
        return hsv_to_rgb_u8(hsv).astype(np.float32)

    def __call__(self, results: dict) -> dict:
        b = np.random.uniform(low=self.brightness[0], high=self.brightness[1])
        c = np.random.uniform(low=self.contrast[0], high=self.contrast[1])
        s = np.random.uniform(low=self.saturation[0], high=self.saturation[1])
        h = np.random.uniform(low=self.hue[0], high=self.hue[1])
        img = _stack(results["imgs"]).astype(np.float32)
        for fn_id in self.fn_idx:
            if fn_id == 0 and b != 1:
                img *= np.float32(b)
            if fn_id == 1 and c != 1:
                img = self.adjust_contrast(img, c).astype(np.float32)
            if fn_id == 2 and s != 1:
                img = self.adjust_saturation(img, s).astype(np.float32)
            if fn_id == 3 and h != 0:
                img = self.adjust_hue(img, h)
        results["imgs"] = np.clip(img, 0, 255).astype(np.uint8)
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})"
        )


# --------------------------------------------------------------------------------------------
class RandomErasing:
    """Erase one random rectangle, the same for every frame (MMAction2 ``RandomErasing``).

    Args:
        erase_prob: probability of erasing.
        min_area_ratio, max_area_ratio: area of the rectangle as a fraction of the frame.
        aspect_range: ``(min, max)`` aspect of the rectangle, or ``a`` for ``(a, 1/a)``.
        mode: ``'const'`` (fill with ``fill_color``) or ``'rand'`` (random pixels, drawn per frame:
            uniform in [0, 255], or normal around ``fill_color`` with ``fill_std``).
        fill_color: an RGB triple or one number.
        fill_std: std of the normal fill in ``'rand'`` mode, or None for uniform.
    """

    def __init__(
        self,
        erase_prob: float = 0.5,
        min_area_ratio: float = 0.02,
        max_area_ratio: float = 1 / 3,
        aspect_range=(3 / 10, 10 / 3),
        mode: str = "const",
        fill_color=(128, 128, 128),
        fill_std=None,
    ):
        if not 0.0 <= erase_prob <= 1.0:
            raise ValueError(f"erase_prob must be in [0, 1], got {erase_prob}")
        if not 0.0 <= min_area_ratio <= max_area_ratio <= 1.0:
            raise ValueError(
                f"need 0 <= min_area_ratio <= max_area_ratio <= 1, got {min_area_ratio}, {max_area_ratio}"
            )
        if isinstance(aspect_range, numbers.Number):
            a = min(aspect_range, 1 / aspect_range)
            aspect_range = (a, 1 / a)
        aspect_range = tuple(float(x) for x in aspect_range)
        if len(aspect_range) != 2 or not 0 < aspect_range[0] <= aspect_range[1]:
            raise ValueError(
                f"aspect_range must be (min, max) with 0 < min <= max, got {aspect_range}"
            )
        if mode not in ("const", "rand"):
            raise ValueError(f'mode={mode!r}; select mode from ["const", "rand"]')
        if isinstance(fill_color, numbers.Number):
            fill_color = [fill_color] * 3
        if not (isinstance(fill_color, Sequence) and len(fill_color) == 3):
            raise ValueError(f"fill_color must be a number or an RGB triple, got {fill_color!r}")
        if fill_std is not None and isinstance(fill_std, numbers.Number):
            fill_std = [fill_std] * 3
        self.erase_prob = erase_prob
        self.min_area_ratio = min_area_ratio
        self.max_area_ratio = max_area_ratio
        self.aspect_range = aspect_range
        self.mode = mode
        self.fill_color = list(fill_color)
        self.fill_std = fill_std

    def _patch(self, h: int, w: int) -> np.ndarray:
        if self.mode == "const":
            patch = np.empty((h, w, 3), dtype=np.uint8)
            patch[:, :] = np.array(self.fill_color, dtype=np.uint8)
            return patch
        if self.fill_std is None:
            return np.random.uniform(0, 256, (h, w, 3)).astype(np.uint8)
        patch = np.random.normal(self.fill_color, self.fill_std, (h, w, 3))
        return np.clip(patch.astype(np.int32), 0, 255).astype(np.uint8)

    def random_patch(self, img_h: int, img_w: int) -> tuple[int, int, int, int]:
        log_aspect_range = np.log(np.array(self.aspect_range, dtype=np.float32))
        aspect_ratio = np.exp(np.random.uniform(*log_aspect_range))
        area = img_h * img_w * np.random.uniform(self.min_area_ratio, self.max_area_ratio)
        h = min(int(round(np.sqrt(area * aspect_ratio))), img_h)
        w = min(int(round(np.sqrt(area / aspect_ratio))), img_w)
        top = np.random.randint(0, img_h - h) if img_h > h else 0
        left = np.random.randint(0, img_w - w) if img_w > w else 0
        return int(top), int(left), h, w

    def __call__(self, results: dict) -> dict:
        if np.random.rand() > self.erase_prob:
            return results
        # never write into the input: its frames may be views shared with other crops
        src = results["imgs"]
        imgs = frames_array(src)
        if any(np.may_share_memory(imgs, f) for f in (src if isinstance(src, list) else [src])):
            imgs = imgs.copy()
        img_h, img_w = imgs.shape[1:3]
        top, left, h, w = self.random_patch(img_h, img_w)
        if self.mode == "const":
            imgs[:, top : top + h, left : left + w] = self._patch(h, w)
        else:
            for img in imgs:
                img[top : top + h, left : left + w] = self._patch(h, w)
        results["imgs"] = imgs
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(erase_prob={self.erase_prob}, "
            f"min_area_ratio={self.min_area_ratio}, max_area_ratio={self.max_area_ratio}, "
            f"aspect_range={self.aspect_range}, mode={self.mode}, fill_color={self.fill_color}, "
            f"fill_std={self.fill_std})"
        )


# --------------------------------------------------------------------------------------------
class RandAugment:
    """PyTorchVideo's video RandAugment as a pipeline step of its own.

    The same as ``PytorchVideoWrapper(op='RandAugment', ...)`` (see
    :mod:`vidlab.data.transforms.pytorchvideo`): ``num_layers`` of 14 ops per clip, each with
    probability ``prob`` at a level around ``magnitude``, the same for every frame; torch's
    random generator, in PyTorchVideo's order.

    Args:
        magnitude: level in [0, 10].
        num_layers: ops per clip.
        prob: probability of applying each drawn op.
        transform_hparas: ``dict(fill=...)`` for the geometric ops (default 0.5 per channel).
        sampling_type: ``'gaussian'`` or ``'uniform'``.
        sampling_hparas: PyTorchVideo's magnitude-sampling settings.
    """

    def __init__(
        self,
        magnitude: int = 9,
        num_layers: int = 2,
        prob: float = 0.5,
        transform_hparas: dict | None = None,
        sampling_type: str = "gaussian",
        sampling_hparas: dict | None = None,
    ):
        from vidlab.data.transforms.pytorchvideo import PytorchVideoWrapper  # imports torch

        self._wrapper = PytorchVideoWrapper(
            "RandAugment",
            magnitude=magnitude,
            num_layers=num_layers,
            prob=prob,
            transform_hparas=transform_hparas,
            sampling_type=sampling_type,
            sampling_hparas=sampling_hparas,
        )

    def __call__(self, results: dict) -> dict:
        return self._wrapper(results)

    def __repr__(self) -> str:
        return repr(self._wrapper.trans)
