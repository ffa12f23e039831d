"""MMAction2's ``PytorchVideoWrapper`` and the PyTorchVideo transforms it allows, natively.

MMAction2's MViT and UniFormerV2 configs train with
``dict(type='PytorchVideoWrapper', op='RandAugment', magnitude=7, num_layers=4)``. MMAction2
builds ``pytorchvideo.transforms.<op>(**kwargs)``, which needs PyTorchVideo and torchvision;
vidlab has the five ops MMAction2 allows written against torch, with PyTorchVideo's semantics:

* ``RandAugment`` / ``AugMix`` on the clip as uint8 ``(T, C, H, W)``, one draw per clip (every
  frame gets the same ops and magnitudes); the ops are in :mod:`.augment_ops`.
* ``RandomResizedCrop``, ``ShortSideScale``, ``RandomShortSideScale`` on the clip as float
  ``(C, T, H, W)`` in ``[0, 1]`` (MMAction2 divides by 255 and multiplies back, truncating).

Randomness is torch's global generator, drawn in PyTorchVideo's order with its calls
(``torch.multinomial`` for the ops, ``torch.rand`` for ``prob`` and the sign, ``torch.normal`` or
``torch.randint`` for the magnitude, ``Dirichlet``/``Beta`` for AugMix), so under the same
``torch.manual_seed`` a clip gets the same augmentation as with PyTorchVideo. (vidlab's other
transforms draw from ``np.random`` as MMAction2's do; both are seeded per data-loader worker.)
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vidlab.data.transforms.augment_ops import OPS
from vidlab.data.transforms.frames import frames_array

__all__ = [
    "AugMix",
    "PytorchVideoWrapper",
    "RandAugment",
    "RandomResizedCrop",
    "RandomShortSideScale",
    "ShortSideScale",
]

_MAX_LEVEL = 10
_DEFAULT_FILL = {"fill": (0.5, 0.5, 0.5)}

# op -> (level-0 value, change at level 10); None: the op takes no argument
_RANDAUG_PARAMS = {
    "AdjustBrightness": (1, 0.9),
    "AdjustContrast": (1, 0.9),
    "AdjustSaturation": (1, 0.9),
    "AdjustSharpness": (1, 0.9),
    "AutoContrast": None,
    "Equalize": None,
    "Invert": None,
    "Rotate": (0, 30),
    "Posterize": (4, 4),
    "Solarize": (1, 1),
    "ShearX": (0, 0.3),
    "ShearY": (0, 0.3),
    "TranslateX": (0, 0.45),
    "TranslateY": (0, 0.45),
}
# AugMix: no Invert; colour ops grow from 0.1 and are never negated; smaller translations
_AUGMIX_PARAMS = {
    "AutoContrast": None,
    "Equalize": None,
    "Rotate": (0, 30),
    "Posterize": (4, 4),
    "Solarize": (1, 1),
    "ShearX": (0, 0.3),
    "ShearY": (0, 0.3),
    "TranslateX": (0, 1.0 / 3.0),
    "TranslateY": (0, 1.0 / 3.0),
    "AdjustSaturation": (0.1, 1.8),
    "AdjustContrast": (0.1, 1.8),
    "AdjustBrightness": (0.1, 1.8),
    "AdjustSharpness": (0.1, 1.8),
}
_SIGNED = ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY")
_DECREASING = ("Posterize", "Solarize")


def _level_to_arg(name: str, level: float, params, negate_colour: bool) -> tuple:
    """PyTorchVideo's magnitude mapping: level in [0, 10] -> the op's arguments."""
    if params is None:
        return ()
    base, span = params
    magnitude = level / _MAX_LEVEL * span
    if name == "Posterize":
        return (base - int(magnitude),)  # bits, an int
    if name in _DECREASING:
        return (base - magnitude,)
    if name in _SIGNED or negate_colour:
        # the sign is drawn after the magnitude, for every signed op
        return (base + (magnitude if torch.rand(1).item() > 0.5 else -magnitude),)
    return (base + magnitude,)


class _Augment:
    """One op with its magnitude sampling (PyTorchVideo's ``AugmentTransform``)."""

    def __init__(self, name, magnitude, prob, params, fill, sampling_type, hparas, negate):
        self.name, self.magnitude, self.prob, self.params = name, magnitude, prob, params
        self.fill, self.sampling_type, self.hparas = fill, sampling_type, hparas
        self.negate = negate  # colour factors take a random sign too (RandAugment)

    def _level(self) -> float:
        hp = self.hparas
        if self.sampling_type == "gaussian":
            x = torch.normal(self.magnitude, hp["sampling_std"], size=(1,)).item()
            return max(0, min(_MAX_LEVEL, x))
        if hp["sampling_data_type"] == "int":
            return torch.randint(hp["sampling_min"], self.magnitude + 1, size=(1,)).item()
        lo = hp["sampling_min"]
        return torch.rand(size=(1,)).item() * (self.magnitude - lo) + lo

    def __call__(self, video: Tensor) -> Tensor:
        if torch.rand(1).item() > self.prob:  # drawn even when prob is 1
            return video
        args = _level_to_arg(self.name, self._level(), self.params, self.negate)
        return OPS[self.name](video, *args, fill=self.fill)


def _check_hparas(sampling_type: str, hparas: dict) -> None:
    if sampling_type not in ("gaussian", "uniform"):
        raise ValueError(f"sampling_type={sampling_type!r}; expected 'gaussian' or 'uniform'")
    need = (
        ("sampling_std",) if sampling_type == "gaussian" else ("sampling_data_type", "sampling_min")
    )
    missing = [k for k in need if k not in hparas]
    if missing:
        raise ValueError(f"sampling_hparas for {sampling_type!r} sampling needs {missing}")
    if sampling_type == "uniform" and hparas["sampling_data_type"] not in ("int", "float"):
        raise ValueError("sampling_hparas['sampling_data_type'] must be 'int' or 'float'")


def _fill(transform_hparas: dict | None):
    hp = transform_hparas or _DEFAULT_FILL
    if "fill" not in hp:
        raise ValueError("transform_hparas needs the key 'fill', e.g. dict(fill=(0.5, 0.5, 0.5))")
    return hp["fill"]


class RandAugment:
    """RandAugment for video (Cubuk et al., 2020), PyTorchVideo's definition.

    ``num_layers`` of the 14 ops are drawn without replacement; each is applied with probability
    ``prob`` at a level drawn around ``magnitude`` (normal, std ``sampling_std``, clipped to
    [0, 10]; or uniform integers in [``sampling_min``, ``magnitude``]); brightness, contrast,
    saturation, sharpness, rotation, shear and translation take a random sign.

    Args:
        magnitude: level in [0, 10] (rotation 30 degrees, shear 0.3, translation 0.45 of the
            size, colour factors 1 +- 0.9, posterize 4 bits, solarize threshold 0 at level 10).
        num_layers: ops per clip.
        prob: probability of applying each drawn op.
        transform_hparas: ``dict(fill=...)``, the fill of the geometric ops in the clip's pixel
            unit (default ``(0.5, 0.5, 0.5)``: black on a uint8 clip, as PyTorchVideo).
        sampling_type: ``'gaussian'`` or ``'uniform'``.
        sampling_hparas: default
            ``dict(sampling_data_type='int', sampling_min=0, sampling_std=0.5)``.
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
        hparas = sampling_hparas or dict(sampling_data_type="int", sampling_min=0, sampling_std=0.5)
        _check_hparas(sampling_type, hparas)
        if not 1 <= num_layers <= len(_RANDAUG_PARAMS):
            raise ValueError(f"num_layers must be in [1, {len(_RANDAUG_PARAMS)}], got {num_layers}")
        fill = _fill(transform_hparas)
        self.magnitude, self.num_layers, self.prob = magnitude, num_layers, prob
        self.sampling_type = sampling_type
        self.ops = [
            _Augment(n, magnitude, prob, p, fill, sampling_type, hparas, negate=True)
            for n, p in _RANDAUG_PARAMS.items()
        ]
        self._weights = torch.ones(len(self.ops))

    def __call__(self, video: Tensor) -> Tensor:
        """Augment ``video`` ``(T, C, H, W)`` (uint8, or float in [0, 1])."""
        for i in torch.multinomial(self._weights, self.num_layers, replacement=False):
            video = self.ops[i](video)
        return video

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(magnitude={self.magnitude}, num_layers={self.num_layers}, "
            f"prob={self.prob}, sampling_type={self.sampling_type!r})"
        )


class AugMix:
    """AugMix for video (Hendrycks et al., 2020), PyTorchVideo's definition.

    ``width`` chains of 1-3 ops (or ``depth`` ops; drawn with replacement from 13 ops, levels
    uniform in [0.1, ``magnitude``]) are mixed with Dirichlet(``alpha``) weights, and the mix is
    blended with the clip by a Beta(``alpha``, ``alpha``) weight (uint8: truncated).

    Args:
        magnitude: an int in [1, 10].
        alpha: concentration of the Dirichlet and Beta distributions.
        width: number of chains.
        depth: ops per chain, or -1 for a random depth in [1, 3] per chain.
        transform_hparas: ``dict(fill=...)`` as :class:`RandAugment`.
        sampling_hparas: default ``dict(sampling_data_type='float', sampling_min=0.1)``.
    """

    def __init__(
        self,
        magnitude: int = 3,
        alpha: float = 1.0,
        width: int = 3,
        depth: int = -1,
        transform_hparas: dict | None = None,
        sampling_hparas: dict | None = None,
    ):
        if not (isinstance(magnitude, int) and 1 <= magnitude <= _MAX_LEVEL):
            raise ValueError(f"AugMix magnitude must be an int in [1, 10], got {magnitude!r}")
        if not alpha > 0 or not width > 0:
            raise ValueError(f"AugMix needs alpha > 0 and width > 0, got {alpha}, {width}")
        if depth > len(_AUGMIX_PARAMS):
            raise ValueError(f"AugMix depth must be at most {len(_AUGMIX_PARAMS)}, got {depth}")
        hparas = sampling_hparas or dict(sampling_data_type="float", sampling_min=0.1)
        _check_hparas("uniform", hparas)
        fill = _fill(transform_hparas)
        self.magnitude, self.alpha, self.width, self.depth = magnitude, alpha, width, depth
        self.ops = [
            _Augment(n, magnitude, 1.0, p, fill, "uniform", hparas, negate=False)
            for n, p in _AUGMIX_PARAMS.items()
        ]
        self._weights = torch.ones(len(self.ops))
        self._dirichlet = torch.distributions.Dirichlet(torch.tensor([float(alpha)] * width))
        self._beta = torch.distributions.Beta(alpha, alpha)

    def _chain(self, video: Tensor) -> Tensor:
        depth = self.depth if self.depth > 0 else torch.randint(1, 4, (1,)).item()
        for i in torch.multinomial(self._weights, depth, replacement=True):
            video = self.ops[i](video)
        return video

    def __call__(self, video: Tensor) -> Tensor:
        """Augment ``video`` ``(T, C, H, W)`` (uint8, or float in [0, 1])."""
        weights = self._dirichlet.sample()
        m = self._beta.sample().item()
        mixed = torch.zeros(video.shape, dtype=torch.float32)
        for w in weights:
            mixed += w * self._chain(video)
        out = m * video + (1 - m) * mixed
        return out.to(torch.uint8) if video.dtype == torch.uint8 else out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(magnitude={self.magnitude}, alpha={self.alpha}, "
            f"width={self.width}, depth={self.depth})"
        )


# --------------------------------------------------------------------------------------------
# Spatial ops on float (C, T, H, W) clips
# --------------------------------------------------------------------------------------------
def _resize(x: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    # align_corners exists only for the linear modes (PyTorchVideo passes False to all of them,
    # which torch rejects for 'nearest' and 'area')
    linear = mode in ("linear", "bilinear", "bicubic", "trilinear")
    return F.interpolate(x, size=size, mode=mode, align_corners=False if linear else None)


def _check_backend(backend: str) -> None:
    if backend != "pytorch":
        raise ValueError(f"backend={backend!r}: vidlab implements the 'pytorch' backend only")


def _short_side(x: Tensor, size: int, interpolation: str) -> Tensor:
    c, t, h, w = x.shape
    if w < h:
        new_h, new_w = int(math.floor(float(h) / w * size)), size
    else:
        new_h, new_w = size, int(math.floor(float(w) / h * size))
    return _resize(x, (new_h, new_w), interpolation)  # (C, T, new_h, new_w): T as channels


class ShortSideScale:
    """Scale the short side to ``size`` keeping the aspect ratio (the long side floored)."""

    def __init__(self, size: int, interpolation: str = "bilinear", backend: str = "pytorch"):
        _check_backend(backend)
        self.size, self.interpolation = size, interpolation

    def __call__(self, x: Tensor) -> Tensor:
        """``x``: float ``(C, T, H, W)``."""
        return _short_side(x, self.size, self.interpolation)


class RandomShortSideScale:
    """``ShortSideScale`` to a size drawn uniformly from [``min_size``, ``max_size``]."""

    def __init__(
        self, min_size: int, max_size: int, interpolation: str = "bilinear", backend="pytorch"
    ):
        _check_backend(backend)
        self.min_size, self.max_size, self.interpolation = min_size, max_size, interpolation

    def __call__(self, x: Tensor) -> Tensor:
        """``x``: float ``(C, T, H, W)``."""
        size = torch.randint(self.min_size, self.max_size + 1, (1,)).item()
        return _short_side(x, size, self.interpolation)


def _crop_params(scale, ratio, height, width, log_uniform_ratio, num_tries):
    """Inception-style box ``(top, left, h, w)``; the centre crop after ``num_tries`` misses."""
    scale, ratio = tuple(sorted(scale)), tuple(sorted(ratio))
    for _ in range(num_tries):
        target_area = height * width * (scale[0] + torch.rand(1).item() * (scale[1] - scale[0]))
        if log_uniform_ratio:
            lo, hi = math.log(ratio[0]), math.log(ratio[1])
            aspect = math.exp(lo + torch.rand(1).item() * (hi - lo))
        else:
            aspect = ratio[0] + torch.rand(1).item() * (ratio[1] - ratio[0])
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = torch.randint(0, height - h + 1, (1,)).item()
            left = torch.randint(0, width - w + 1, (1,)).item()
            return top, left, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        h, w = height, int(round(height * ratio[1]))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


class RandomResizedCrop:
    """PyTorchVideo's ``RandomResizedCrop``: an Inception-style box, resized to the target.

    With ``shift=True`` a second box is drawn and the box moves linearly (int-truncated) from
    the first to the last frame. Unlike vidlab's/MMAction2's ``RandomResizedCrop`` every
    argument but ``shift``/``log_uniform_ratio``/``interpolation``/``num_tries`` is required.
    """

    def __init__(
        self,
        target_height: int,
        target_width: int,
        scale: tuple[float, float],
        aspect_ratio: tuple[float, float],
        shift: bool = False,
        log_uniform_ratio: bool = True,
        interpolation: str = "bilinear",
        num_tries: int = 10,
    ):
        if not (min(scale) > 0 and min(aspect_ratio) > 0 and num_tries >= 1):
            raise ValueError("scale and aspect_ratio must be > 0 and num_tries >= 1")
        self.size = (target_height, target_width)
        self.scale, self.aspect_ratio = tuple(scale), tuple(aspect_ratio)
        self.shift, self.log_uniform_ratio = shift, log_uniform_ratio
        self.interpolation, self.num_tries = interpolation, num_tries

    def __call__(self, x: Tensor) -> Tensor:
        """``x``: float ``(C, T, H, W)``."""
        c, t, height, width = x.shape
        args = (self.scale, self.aspect_ratio, height, width, self.log_uniform_ratio)
        i, j, h, w = _crop_params(*args, self.num_tries)
        if not self.shift:
            return _resize(x[:, :, i : i + h, j : j + w], self.size, self.interpolation)
        i2, j2, h2, w2 = _crop_params(*args, self.num_tries)
        boxes = [
            [int(v) for v in torch.linspace(a, b, steps=t).tolist()]
            for a, b in ((i, i2), (j, j2), (h, h2), (w, w2))
        ]
        out = torch.zeros((c, t) + self.size)
        for k, (ti, tj, th, tw) in enumerate(zip(*boxes)):
            out[:, k : k + 1] = _resize(
                x[:, k : k + 1, ti : ti + th, tj : tj + tw], self.size, self.interpolation
            )
        return out


# --------------------------------------------------------------------------------------------
# The pipeline transform
# --------------------------------------------------------------------------------------------
_WRAPPED = {
    "AugMix": AugMix,
    "RandAugment": RandAugment,
    "RandomResizedCrop": RandomResizedCrop,
    "ShortSideScale": ShortSideScale,
    "RandomShortSideScale": RandomShortSideScale,
}
_ON_UINT8 = ("AugMix", "RandAugment")


class PytorchVideoWrapper:
    """MMAction2's ``PytorchVideoWrapper(op=..., **kwargs)``, without PyTorchVideo.

    ``op`` is one of MMAction2's allowed PyTorchVideo transforms: ``AugMix``, ``RandAugment``,
    ``RandomResizedCrop``, ``ShortSideScale``, ``RandomShortSideScale``; ``kwargs`` are its
    arguments (checked here against its signature). The frames (``(N, H, W, 3)`` uint8) go to
    ``AugMix``/``RandAugment`` as uint8 ``(T, C, H, W)``, to the others as float
    ``(C, T, H, W) / 255``, multiplied back and truncated, as MMAction2. One difference: after a
    resizing op ``img_shape`` is updated (MMAction2 leaves it stale).
    """

    _accepts_any_kwargs = True  # the op's keywords, checked against its signature below

    def __init__(self, op: str, **kwargs):
        if op not in _WRAPPED:
            raise ValueError(
                f"PytorchVideoWrapper: op={op!r} is not one vidlab has; it has "
                f"{', '.join(_WRAPPED)} (the PyTorchVideo transforms MMAction2 allows)"
            )
        cls = _WRAPPED[op]
        try:
            inspect.signature(cls).bind(**kwargs)
        except TypeError as e:
            params = ", ".join(inspect.signature(cls).parameters)
            raise TypeError(f"PytorchVideoWrapper(op={op!r}): {e}; its arguments: {params}") from e
        self.op = op
        self.kwargs = dict(kwargs)
        self.trans = cls(**kwargs)

    def __call__(self, results: dict) -> dict:
        for key in ("gt_bboxes", "proposals"):
            if key in results:
                raise ValueError(f"PytorchVideoWrapper({self.op}) does not support {key!r} yet")
        imgs = frames_array(results["imgs"])  # (N, H, W, 3)
        if self.op in _ON_UINT8:
            video = torch.from_numpy(np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))
            out = self.trans(video).numpy()  # (T, C, H, W)
            if out.dtype != np.uint8:  # frames that were not uint8
                out = np.clip(out, 0, 255).astype(np.uint8)
            out = out.transpose(0, 2, 3, 1)
        else:
            video = torch.from_numpy((imgs.transpose(3, 0, 1, 2) / 255.0).astype(np.float32))
            out = self.trans(video).numpy() * 255  # (C, T, H, W)
            out = np.clip(out, 0, 255).astype(np.uint8).transpose(1, 2, 3, 0)
            results["img_shape"] = out.shape[1:3]
        results["imgs"] = np.ascontiguousarray(out)
        return results

    def __repr__(self) -> str:
        args = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"{type(self).__name__}(op={self.op!r}{args})"
