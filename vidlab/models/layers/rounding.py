"""Channel widths rounded to a multiple of a divisor (MMCV's ``make_divisible``, X3D's
``_round_width``: the same rounding, which the EfficientNet and MobileNet papers share)."""

from __future__ import annotations


def make_divisible(
    value: float, divisor: int = 8, min_value: int | None = None, min_ratio: float = 0.9
) -> int:
    """``value`` rounded to the nearest multiple of ``divisor``, at least ``min_value``.

    When rounding down loses more than ``1 - min_ratio`` of ``value`` (e.g. 11 -> 8 with
    divisor 8), one more ``divisor`` is added (11 -> 16).

    Args:
        value: The exact width (e.g. ``channels * multiplier``).
        divisor: The width is a multiple of this.
        min_value: Smallest result; None: ``divisor``.
        min_ratio: The result is never below ``min_ratio * value``.
    """
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < min_ratio * value:
        rounded += divisor
    return int(rounded)
