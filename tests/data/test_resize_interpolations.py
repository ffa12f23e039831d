"""docs/pixels.md: in the `mmaction2` pixel mode, `Resize` with each interpolation mmcv names
(bilinear, bicubic, nearest, area) is `mmcv.imresize`: `cv2.resize` with the flag of mmcv's
`cv2_interp_codes` table. (The bilinear and bicubic hashes recorded with MMAction2 itself are
checked in test_mmaction2_pixels.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidlab.data.loading import RawFrameDecode
from vidlab.data.pipeline import Compose
from vidlab.data.transforms.resize import Resize

FRAMES = Path(__file__).parents[1] / "fixtures" / "mmaction2" / "frames"
MMCV_FLAGS = {
    "nearest": "INTER_NEAREST",
    "bilinear": "INTER_LINEAR",
    "bicubic": "INTER_CUBIC",
    "area": "INTER_AREA",
}
INDICES = [1, 3, 6, 3]


@pytest.mark.parametrize("interpolation", sorted(MMCV_FLAGS))
@pytest.mark.parametrize("size", [(57, 33), (150, 114)], ids=["shrink", "enlarge"])
def test_resize_is_mmcv_imresize(monkeypatch, interpolation, size):
    cv2 = pytest.importorskip("cv2")
    monkeypatch.setenv("VIDLAB_PIXELS", "mmaction2")
    results = dict(
        frame_dir=str(FRAMES),
        total_frames=6,
        filename_tmpl="img_{:05d}.jpg",
        start_index=1,
        modality="RGB",
        frame_inds=np.array(INDICES),
    )
    resize = Resize(scale=size, keep_ratio=False, interpolation=interpolation)
    got = np.asarray(Compose([RawFrameDecode(), resize])(results)["imgs"])
    flag = getattr(cv2, MMCV_FLAGS[interpolation])
    expected = [
        cv2.resize(
            cv2.cvtColor(cv2.imread(str(FRAMES / f"img_{i:05d}.jpg")), cv2.COLOR_BGR2RGB),
            size,
            interpolation=flag,
        )
        for i in INDICES
    ]
    assert got.shape == (4, size[1], size[0], 3)
    assert np.array_equal(got, np.asarray(expected))
