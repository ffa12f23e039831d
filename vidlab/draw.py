"""Text on frames without OpenCV or Pillow: a built-in 5x7 bitmap font, drawn with NumPy.

Enough for labels and scores on demo videos (MMAction2's demo needed MoviePy and cv2 for this,
the FAQ's "MoviePy errors"). Lower-case letters are drawn as capitals; a character the font
lacks is drawn as ``?``.
"""

from __future__ import annotations

import numpy as np

# Each glyph: 7 rows of 5 bits (most significant bit = leftmost pixel).
_GLYPHS = {
    "0": "0E 11 13 15 19 11 0E", "1": "04 0C 04 04 04 04 0E", "2": "0E 11 01 02 04 08 1F",
    "3": "1F 02 04 02 01 11 0E", "4": "02 06 0A 12 1F 02 02", "5": "1F 10 1E 01 01 11 0E",
    "6": "06 08 10 1E 11 11 0E", "7": "1F 01 02 04 08 08 08", "8": "0E 11 11 0E 11 11 0E",
    "9": "0E 11 11 0F 01 02 0C", "A": "0E 11 11 11 1F 11 11", "B": "1E 11 11 1E 11 11 1E",
    "C": "0E 11 10 10 10 11 0E", "D": "1C 12 11 11 11 12 1C", "E": "1F 10 10 1E 10 10 1F",
    "F": "1F 10 10 1E 10 10 10", "G": "0E 11 10 17 11 11 0F", "H": "11 11 11 1F 11 11 11",
    "I": "0E 04 04 04 04 04 0E", "J": "07 02 02 02 02 12 0C", "K": "11 12 14 18 14 12 11",
    "L": "10 10 10 10 10 10 1F", "M": "11 1B 15 15 11 11 11", "N": "11 11 19 15 13 11 11",
    "O": "0E 11 11 11 11 11 0E", "P": "1E 11 11 1E 10 10 10", "Q": "0E 11 11 11 15 12 0D",
    "R": "1E 11 11 1E 14 12 11", "S": "0F 10 10 0E 01 01 1E", "T": "1F 04 04 04 04 04 04",
    "U": "11 11 11 11 11 11 0E", "V": "11 11 11 11 11 0A 04", "W": "11 11 11 15 15 15 0A",
    "X": "11 11 0A 04 0A 11 11", "Y": "11 11 11 0A 04 04 04", "Z": "1F 01 02 04 08 10 1F",
    " ": "00 00 00 00 00 00 00", ".": "00 00 00 00 00 0C 0C", "_": "00 00 00 00 00 00 1F",
    "-": "00 00 00 1F 00 00 00", ":": "00 0C 0C 00 0C 0C 00", "%": "18 19 02 04 08 13 03",
    "/": "00 01 02 04 08 10 00", "(": "02 04 08 08 08 04 02", ")": "08 04 02 02 02 04 08",
    "?": "0E 11 01 02 04 00 04", ",": "00 00 00 00 0C 04 08", "'": "04 04 08 00 00 00 00",
    "+": "00 04 04 1F 04 04 00", "=": "00 00 1F 00 1F 00 00", "#": "0A 0A 1F 0A 1F 0A 0A",
}  # fmt: skip
GLYPH_HEIGHT, GLYPH_WIDTH = 7, 5


def _glyph(char: str) -> np.ndarray:
    rows = _GLYPHS.get(char.upper(), _GLYPHS["?"]).split()
    return np.array([[(int(r, 16) >> (4 - b)) & 1 for b in range(5)] for r in rows], dtype=bool)


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """A boolean ``(7 * scale, 6 * len(text) * scale)`` mask of `text` (1 px between glyphs)."""
    if not text:
        return np.zeros((GLYPH_HEIGHT * scale, 0), dtype=bool)
    cells = [np.pad(_glyph(c), ((0, 0), (0, 1))) for c in text]
    mask = np.concatenate(cells, axis=1)  # (7, 6 * len)
    return mask.repeat(scale, axis=0).repeat(scale, axis=1)


def draw_text(
    frame: np.ndarray,
    text: str,
    xy: tuple[int, int] = (4, 4),
    scale: int | None = None,
    color: tuple[int, int, int] = (255, 255, 255),
    background: tuple[int, int, int] | None = (0, 0, 0),
) -> np.ndarray:
    """Draw `text` on an RGB ``(H, W, 3)`` uint8 `frame` in place (clipped at its edges).

    Args:
        frame: The image, changed in place and returned.
        text: What to write (one line).
        xy: Top-left corner (x, y) in pixels.
        scale: Pixels per font pixel; default: frame height / 120 (at least 1).
        color: Text colour.
        background: A box behind the text (None: none), for contrast on any video.
    """
    height, width = frame.shape[:2]
    scale = scale or max(1, height // 120)
    mask = text_mask(text, scale)
    pad = scale
    x, y = xy
    box_h, box_w = mask.shape[0] + 2 * pad, mask.shape[1] + 2 * pad
    y1, x1 = min(y + box_h, height), min(x + box_w, width)
    if y1 <= y or x1 <= x:
        return frame
    if background is not None:
        frame[y:y1, x:x1] = background
    region = mask[: max(0, y1 - y - pad), : max(0, x1 - x - pad)]
    frame[y + pad : y + pad + region.shape[0], x + pad : x + pad + region.shape[1]][region] = color
    return frame
