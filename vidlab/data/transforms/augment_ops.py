"""The image ops of PyTorchVideo's ``RandAugment`` and ``AugMix``, on ``(T, C, H, W)`` tensors.

PyTorchVideo (``pytorchvideo/transforms/augmentations.py``) calls torchvision's tensor functions
for each op; these are the same definitions written against torch alone (vidlab does not depend
on torchvision), with the same operation order and dtypes, so a uint8 clip gives the same bytes:

* colour ops blend in float32 and truncate back to uint8 (``(r * a + (1 - r) * b).clamp().to()``,
  no rounding), as torchvision's ``_blend``; grey is ITU-R 601 luma truncated to uint8 first;
* geometric ops sample the inverse affine map at pixel centres relative to the image centre
  (``grid_sample``, bilinear, ``align_corners=False``) and blend the fill in through a mask
  channel, then round to uint8. PyTorchVideo's default fill is ``(0.5, 0.5, 0.5)`` in the pixel
  unit of the clip: on a uint8 clip a pixel wholly outside the frame becomes 0.5, which rounds
  (half to even) to 0, i.e. black, not grey.

Every op applies to all frames alike (the leading dimensions are a batch). A float clip is taken
to be in ``[0, 1]``, as torchvision does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "OPS",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_saturation",
    "adjust_sharpness",
    "affine",
    "autocontrast",
    "equalize",
    "invert",
    "posterize",
    "rgb_to_grayscale",
    "rotate",
    "shear_x",
    "shear_y",
    "solarize",
    "translate_x",
    "translate_y",
]


def _bound(img: Tensor) -> float:
    """The largest pixel value: 255 for uint8, 1.0 for float clips."""
    if img.dtype == torch.uint8:
        return 255
    if img.is_floating_point():
        return 1.0
    raise TypeError(f"expected a uint8 or float clip, got {img.dtype}")


def _blend(img1: Tensor, img2: Tensor | float, ratio: float) -> Tensor:
    ratio = float(ratio)
    return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, _bound(img1)).to(img1.dtype)


def rgb_to_grayscale(img: Tensor) -> Tensor:
    """ITU-R 601 luma ``(..., 1, H, W)`` in the clip's dtype (truncated for uint8)."""
    r, g, b = img.unbind(dim=-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(-3)


def adjust_brightness(img: Tensor, factor: float) -> Tensor:
    """Scale every pixel by ``factor`` (blend with black)."""
    return _blend(img, torch.zeros_like(img), factor)


def adjust_contrast(img: Tensor, factor: float) -> Tensor:
    """Blend each frame with its mean grey level (0: flat grey, 1: unchanged)."""
    dtype = img.dtype if img.is_floating_point() else torch.float32
    grey = rgb_to_grayscale(img) if img.shape[-3] == 3 else img
    mean = grey.to(dtype).mean(dim=(-3, -2, -1), keepdim=True)  # per frame
    return _blend(img, mean, factor)


def adjust_saturation(img: Tensor, factor: float) -> Tensor:
    """Blend with the grey image (0: black and white, 1: unchanged)."""
    if img.shape[-3] == 1:
        return img
    return _blend(img, rgb_to_grayscale(img), factor)


def adjust_sharpness(img: Tensor, factor: float) -> Tensor:
    """Blend with a smoothed copy (3x3 kernel, centre weight 5 of 13; the border kept)."""
    if img.shape[-1] <= 2 or img.shape[-2] <= 2:
        return img
    dtype = img.dtype if img.is_floating_point() else torch.float32
    c = img.shape[-3]
    kernel = torch.ones((3, 3), dtype=dtype, device=img.device)
    kernel[1, 1] = 5.0
    kernel /= kernel.sum()
    x = img.reshape(-1, *img.shape[-3:]).to(dtype)  # (N, C, H, W)
    smooth = F.conv2d(x, kernel.expand(c, 1, 3, 3), groups=c)  # (N, C, H-2, W-2)
    if not img.is_floating_point():
        smooth = smooth.round()
    blurred = img.clone()
    blurred[..., 1:-1, 1:-1] = smooth.to(img.dtype).reshape(*img.shape[:-2], *smooth.shape[-2:])
    return _blend(img, blurred, factor)


def autocontrast(img: Tensor) -> Tensor:
    """Stretch each channel of each frame to the full range (a flat channel is kept)."""
    bound = _bound(img)
    dtype = img.dtype if img.is_floating_point() else torch.float32
    lo = img.amin(dim=(-2, -1), keepdim=True).to(dtype)
    hi = img.amax(dim=(-2, -1), keepdim=True).to(dtype)
    scale = bound / (hi - lo)
    flat = ~torch.isfinite(scale)
    lo[flat] = 0
    scale[flat] = 1
    return ((img - lo) * scale).clamp(0, bound).to(img.dtype)


def _equalize_channel(ch: Tensor) -> Tensor:
    hist = torch.bincount(ch.reshape(-1), minlength=256)
    nonzero = hist[hist != 0]
    # the most frequent bin on top does not count: PIL's rule
    step = torch.div(nonzero[:-1].sum(), 255, rounding_mode="floor")
    if step == 0:
        return ch
    lut = torch.div(
        torch.cumsum(hist, 0) + torch.div(step, 2, rounding_mode="floor"),
        step,
        rounding_mode="floor",
    )
    lut = F.pad(lut, [1, 0])[:-1].clamp(0, 255)
    return lut[ch.to(torch.int64)].to(torch.uint8)


def equalize(img: Tensor) -> Tensor:
    """Histogram equalization per channel and frame (PIL's ``ImageOps.equalize`` rule).

    A float clip is scaled to uint8 (truncating) and back, as PyTorchVideo does.
    """
    if img.is_floating_point():
        return (equalize((img * 255).to(torch.uint8)) / 255).to(img.dtype)
    flat = img.reshape(-1, *img.shape[-2:])  # (N * C, H, W)
    return torch.stack([_equalize_channel(ch) for ch in flat]).reshape(img.shape)


def invert(img: Tensor) -> Tensor:
    """``max - x``."""
    return _bound(img) - img


def posterize(img: Tensor, bits: int) -> Tensor:
    """Keep the ``bits`` high bits of each uint8 value (8 or more: unchanged).

    A float clip is scaled to uint8 (truncating) and back, as PyTorchVideo does.
    """
    if bits >= 8:
        return img
    if not 0 <= bits:
        raise ValueError(f"posterize: bits must be in [0, 8], got {bits}")
    if img.is_floating_point():
        return (posterize((img * 255).to(torch.uint8), bits) / 255).to(img.dtype)
    return img & -int(2 ** (8 - int(bits)))


def solarize(img: Tensor, threshold: float) -> Tensor:
    """Invert the pixels ``>= threshold``; ``threshold`` is a fraction of the range in [0, 1]
    (on uint8 it becomes ``int(threshold * 255)``, truncated, as PyTorchVideo)."""
    if img.dtype == torch.uint8:
        threshold = int(threshold * 255.0)
    if threshold > _bound(img):
        raise ValueError(f"solarize: threshold {threshold} is above the range of the clip")
    return torch.where(img >= threshold, invert(img), img)


# --------------------------------------------------------------------------------------------
# Geometry: an inverse affine map sampled at pixel centres
# --------------------------------------------------------------------------------------------
def _affine_grid(matrix: Sequence[float], h: int, w: int, device) -> Tensor:
    """Sampling grid ``(1, H, W, 2)`` for ``grid_sample``: output pixel centres relative to the
    image centre, mapped by ``matrix`` (output -> input), normalized by half the size."""
    theta = torch.tensor(matrix, dtype=torch.float32, device=device).reshape(1, 2, 3)
    xs = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, steps=w, device=device)
    ys = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, steps=h, device=device)
    base = torch.stack(
        [xs.expand(h, w), ys.unsqueeze(-1).expand(h, w), torch.ones(h, w, device=device)], dim=-1
    )  # (H, W, 3): x, y, 1
    half = torch.tensor([0.5 * w, 0.5 * h], dtype=torch.float32, device=device)
    grid = base.reshape(1, h * w, 3).bmm(theta.transpose(1, 2) / half)  # (1, H*W, 2)
    return grid.reshape(1, h, w, 2)


def affine(
    img: Tensor,
    matrix: Sequence[float],
    fill: float | Sequence[float] | None = (0.5, 0.5, 0.5),
    interpolation: str = "bilinear",
) -> Tensor:
    """Warp every frame by the inverse affine ``matrix`` ``[a, b, c, d, e, f]``: the output pixel
    at centred coordinates ``(x, y)`` samples the input at ``(a x + b y + c, d x + e y + f)``.

    Args:
        img: clip ``(..., C, H, W)``, uint8 or float.
        matrix: six numbers, output -> input, in pixels, about the image centre.
        fill: value(s) for the area outside the input, in the clip's pixel unit; None: zeros.
        interpolation: ``'bilinear'`` or ``'nearest'``.
    """
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    if len(matrix) != 6:
        raise ValueError(f"an affine matrix has 6 numbers, got {len(matrix)}")
    h, w = img.shape[-2:]
    lead = img.shape[:-3]
    x = img.reshape(-1, *img.shape[-3:])  # (N, C, H, W)
    n, c = x.shape[:2]
    if isinstance(fill, (tuple, list)) and len(fill) not in (1, c):
        raise ValueError(f"fill has {len(fill)} values for a clip of {c} channels")
    grid = _affine_grid(matrix, h, w, img.device).expand(n, h, w, 2)
    x = x.float() if not x.is_floating_point() else x
    if fill is not None:  # a mask channel says how much of each output pixel is inside
        x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    x = F.grid_sample(
        x, grid.to(x.dtype), mode=interpolation, padding_mode="zeros", align_corners=False
    )
    if fill is not None:
        mask = x[:, -1:].expand(n, c, h, w)
        x = x[:, :-1]
        values = list(fill) if isinstance(fill, (tuple, list)) else [float(fill)]
        fill_img = torch.tensor(values, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        fill_img = fill_img.expand_as(x)
        if interpolation == "nearest":
            outside = mask < 0.5
            x = x.clone()
            x[outside] = fill_img[outside]
        else:
            x = x * mask + (1.0 - mask) * fill_img
    if not img.is_floating_point():
        x = x.round()
    return x.to(img.dtype).reshape(*lead, c, h, w)


def rotate(img: Tensor, angle: float, fill=(0.5, 0.5, 0.5)) -> Tensor:
    """Rotate by ``angle`` degrees counter-clockwise about the centre (bilinear, size kept)."""
    rot = math.radians(-angle)  # the inverse map turns the other way
    cos, sin = math.cos(rot), math.sin(rot)
    return affine(img, [cos, sin, 0.0, -sin, cos, 0.0], fill=fill)


def shear_x(img: Tensor, factor: float, fill=(0.5, 0.5, 0.5)) -> Tensor:
    """Shear along x: the input is sampled at ``x + factor * y + H * factor / 2``."""
    return affine(img, [1, factor, img.shape[-2] * factor / 2, 0, 1, 0], fill=fill)


def shear_y(img: Tensor, factor: float, fill=(0.5, 0.5, 0.5)) -> Tensor:
    """Shear along y: the input is sampled at ``y + factor * x + W * factor / 2``."""
    return affine(img, [1, 0, 0, factor, 1, img.shape[-1] * factor / 2], fill=fill)


def translate_x(img: Tensor, factor: float, fill=(0.5, 0.5, 0.5)) -> Tensor:
    """Sample the input ``factor * W`` pixels to the right (the content moves left for > 0)."""
    return affine(img, [1, 0, factor * img.shape[-1], 0, 1, 0], fill=fill)


def translate_y(img: Tensor, factor: float, fill=(0.5, 0.5, 0.5)) -> Tensor:
    """Sample the input ``factor * H`` pixels lower (the content moves up for > 0)."""
    return affine(img, [1, 0, 0, 0, 1, factor * img.shape[-2]], fill=fill)


def _no_arg(fn):
    def op(img: Tensor, fill=None) -> Tensor:
        return fn(img)

    return op


def _colour(fn):
    def op(img: Tensor, factor: float, fill=None) -> Tensor:
        return fn(img, factor)

    return op


# name -> op(img, *args, fill=...): PyTorchVideo's op names; the fill reaches the geometric ops
OPS = {
    "AdjustBrightness": _colour(adjust_brightness),
    "AdjustContrast": _colour(adjust_contrast),
    "AdjustSaturation": _colour(adjust_saturation),
    "AdjustSharpness": _colour(adjust_sharpness),
    "AutoContrast": _no_arg(autocontrast),
    "Equalize": _no_arg(equalize),
    "Invert": _no_arg(invert),
    "Rotate": rotate,
    "Posterize": _colour(posterize),
    "Solarize": _colour(solarize),
    "ShearX": shear_x,
    "ShearY": shear_y,
    "TranslateX": translate_x,
    "TranslateY": translate_y,
}
