"""``GeneratePoseTarget``: PoseC3D's pseudo heatmaps of joints and limbs, equal to MMAction2's.

MMAction2 draws each Gaussian in a Python loop over frames, joints and persons. Here all the
Gaussians of one person are computed at once: every joint (or limb) gets a window of the
same size as MMAction2's (the box ``3 sigma`` around it, clipped to the frame), padded to the
largest window of its batch and masked, then written into the heatmaps with ``np.maximum``
by fancy indexing. The values are computed with the same operations in the same dtypes, so
the heatmaps are bit-identical (``tests/data/test_skeleton_parity.py``) and several times
faster (``benchmarks/pose_heatmaps.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidlab.data.skeleton.layouts import COCO, COCO_LEFT_LIMB, COCO_LIMBS, COCO_RIGHT_LIMB

__all__ = ["GeneratePoseTarget"]

_EPS = 1e-4
_CHUNK = 4096  # windows per batch: bounds the padded (N, h, w) work arrays


def _bounds(lo, hi, sigma3: np.float32, size: int):
    """MMAction2's window ``[max(int(lo - 3s), 0), min(int(hi + 3s) + 1, size))`` per entry,
    in float32 as its scalar arithmetic is under NumPy 2."""
    start = np.maximum(np.trunc(lo - sigma3).astype(np.int64), 0)
    end = np.minimum(np.trunc(hi + sigma3).astype(np.int64) + 1, size)
    return start, end


def _scalar_square(v: np.ndarray) -> np.ndarray:
    """``x ** 2`` of each float32 as NumPy computes it for a scalar (C's ``powf``), which is
    not always ``x * x`` rounded (1 value in about 2000 differs in the last bit): MMAction2
    squares a limb's length on scalars, and a different bit changes a heatmap value."""
    return np.fromiter((x**2 for x in v.astype(np.float32)), dtype=np.float32, count=len(v))


def _scatter_max(flat: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    """``flat[idx] = max(flat[idx], values)`` for unique ``idx``."""
    flat[idx] = np.maximum(flat[idx], values)


class GeneratePoseTarget:
    """Pseudo heatmaps ``(T, K, H, W)`` from ``keypoint`` ``(M, T, V, 2)`` (MMAction2's).

    A joint is a Gaussian of ``sigma`` pixels peaking at its score (``use_score``) or 1; a
    limb is a Gaussian of the distance to its segment peaking at the smaller score of its
    ends. Joints scoring under 1e-4 are not drawn. The heatmaps go to ``imgs`` (or to
    ``heatmap_imgs`` when ``imgs`` holds RGB frames).

    As in MMAction2 1.2.0, with both ``with_kp`` and ``with_limb`` the limbs are drawn into
    the first ``len(skeletons)`` channels, over the joints, and the last ``len(skeletons)``
    channels stay zero.

    Args:
        sigma: Gaussian sigma, in pixels of the (scaled) frame.
        use_score: scale each Gaussian by the keypoint score.
        with_kp, with_limb: draw joint and/or limb heatmaps.
        skeletons: limbs as joint pairs (COCO-17's by default).
        double: also the horizontally flipped heatmaps (left/right channels swapped),
            concatenated along the frames: ``(2T, K, H, W)`` (test-time flip).
        left_kp, right_kp: joint channels swapped by ``double``.
        left_limb, right_limb: limb channels swapped by ``double`` (without ``with_kp``).
        scaling: heatmap size relative to ``img_shape``.
    """

    def __init__(
        self,
        sigma: float = 0.6,
        use_score: bool = True,
        with_kp: bool = True,
        with_limb: bool = False,
        skeletons: Sequence[Sequence[int]] = COCO_LIMBS,
        double: bool = False,
        left_kp: Sequence[int] = COCO.left,
        right_kp: Sequence[int] = COCO.right,
        left_limb: Sequence[int] = COCO_LEFT_LIMB,
        right_limb: Sequence[int] = COCO_RIGHT_LIMB,
        scaling: float = 1.0,
    ) -> None:
        if not (with_kp or with_limb):
            raise ValueError('At least one of "with_limb" and "with_kp" should be set as True.')
        self.sigma = sigma
        self.use_score = use_score
        self.with_kp = with_kp
        self.with_limb = with_limb
        self.skeletons = skeletons
        self.double = double
        self.left_kp = left_kp
        self.right_kp = right_kp
        self.left_limb = left_limb
        self.right_limb = right_limb
        self.scaling = scaling
        self.eps = _EPS

    # -- joints -------------------------------------------------------------------------------
    def _draw_points(self, flat, shape, t, c, centers, values) -> None:
        """Gaussians at ``centers`` (N, 2) float32 peaking at ``values`` (N,) into heatmap
        channels ``(t, c)`` (each pair at most once)."""
        num_t, num_c, img_h, img_w = shape
        keep = values >= self.eps
        t, c, centers, values = t[keep], c[keep], centers[keep], values[keep]
        if not len(t):
            return
        sigma3 = np.float32(3 * self.sigma)
        mx, my = centers[:, 0], centers[:, 1]
        x0, x1 = _bounds(mx, mx, sigma3, img_w)
        y0, y1 = _bounds(my, my, sigma3, img_h)
        kw = max(int((x1 - x0).max()), 0)
        kh = max(int((y1 - y0).max()), 0)
        if kw == 0 or kh == 0:
            return
        denom = np.float32(self.sigma**2)
        for s in range(0, len(t), _CHUNK):
            sl = slice(s, s + _CHUNK)
            xs = x0[sl, None] + np.arange(kw)  # (n, kw) pixel columns of each window
            ys = y0[sl, None] + np.arange(kh)
            dx2 = (xs.astype(np.float32) - mx[sl, None]) ** 2
            dy2 = (ys.astype(np.float32) - my[sl, None]) ** 2
            patch = np.exp(-(dx2[:, None, :] + dy2[:, :, None]) / np.float32(2) / denom)
            patch = patch * values[sl, None, None]  # (n, kh, kw)
            ok = (xs < x1[sl, None])[:, None, :] & (ys < y1[sl, None])[:, :, None]
            base = (t[sl] * num_c + c[sl]) * img_h
            idx = ((base[:, None] + ys)[:, :, None] * img_w) + xs[:, None, :]
            _scatter_max(flat, idx[ok], patch[ok])

    # -- limbs --------------------------------------------------------------------------------
    def _draw_limbs(self, flat, shape, t, c, starts, ends, v_start, v_end) -> None:
        """Segment Gaussians from ``starts`` to ``ends`` (N, 2) into channels ``(t, c)``."""
        num_t, num_c, img_h, img_w = shape
        coeff_v = np.minimum(v_start, v_end)
        keep = coeff_v >= self.eps
        t, c, starts, ends = t[keep], c[keep], starts[keep], ends[keep]
        v_start, coeff_v = v_start[keep], coeff_v[keep]
        if not len(t):
            return
        d2_ab = _scalar_square(starts[:, 0] - ends[:, 0]) + _scalar_square(
            starts[:, 1] - ends[:, 1]
        )
        short = d2_ab < 1  # MMAction2 draws the start joint instead
        if short.any():
            self._draw_points(flat, shape, t[short], c[short], starts[short], v_start[short])
        long_ = ~short
        t, c, starts, ends = t[long_], c[long_], starts[long_], ends[long_]
        coeff_v, d2_ab = coeff_v[long_], d2_ab[long_]
        if not len(t):
            return
        sigma3 = np.float32(3 * self.sigma)
        x0, x1 = _bounds(
            np.minimum(starts[:, 0], ends[:, 0]),
            np.maximum(starts[:, 0], ends[:, 0]),
            sigma3,
            img_w,
        )
        y0, y1 = _bounds(
            np.minimum(starts[:, 1], ends[:, 1]),
            np.maximum(starts[:, 1], ends[:, 1]),
            sigma3,
            img_h,
        )
        w, h = x1 - x0, y1 - y0
        area = np.where((w > 0) & (h > 0), w * h, 0)
        order = np.argsort(area, kind="stable")
        order = order[area[order] > 0]
        if not len(order):
            return
        # batches of similar window sizes, so that padding to the batch's largest costs little
        pos = 0
        while pos < len(order):
            step = max(
                1, min(_CHUNK, (1 << 20) // int(area[order[min(pos + _CHUNK, len(order)) - 1]]))
            )
            sel = order[pos : pos + step]
            pos += step
            self._limb_batch(
                flat, shape, t[sel], c[sel], starts[sel], ends[sel], coeff_v[sel], d2_ab[sel],
                x0[sel], x1[sel], y0[sel], y1[sel],
            )  # fmt: skip

    def _limb_batch(self, flat, shape, t, c, starts, ends, coeff_v, d2_ab, x0, x1, y0, y1):
        num_t, num_c, img_h, img_w = shape
        kw, kh = int((x1 - x0).max()), int((y1 - y0).max())
        xs = x0[:, None] + np.arange(kw)  # (n, kw)
        ys = y0[:, None] + np.arange(kh)  # (n, kh)
        xf = xs.astype(np.float32)[:, None, :]  # (n, 1, kw)
        yf = ys.astype(np.float32)[:, :, None]  # (n, kh, 1)
        sx, sy = starts[:, 0, None, None], starts[:, 1, None, None]
        ex, ey = ends[:, 0, None, None], ends[:, 1, None, None]
        d2_start = (xf - sx) ** 2 + (yf - sy) ** 2  # (n, kh, kw)
        d2_end = (xf - ex) ** 2 + (yf - ey) ** 2
        ab = d2_ab[:, None, None]
        coeff = (d2_start - d2_end + ab) / np.float32(2) / ab
        px = sx + coeff * (ex - sx)  # the projection on the limb's line
        py = sy + coeff * (ey - sy)
        d2_line = (xf - px) ** 2 + (yf - py) ** 2
        d2 = np.where(coeff <= 0, d2_start, np.where(coeff >= 1, d2_end, d2_line))
        # MMAction2 mixes the cases with an int64 mask, which makes this float64
        patch = np.exp(-d2.astype(np.float64) / 2.0 / self.sigma**2)
        patch = (patch * coeff_v.astype(np.float64)[:, None, None]).astype(np.float32)
        ok = (xs < x1[:, None])[:, None, :] & (ys < y1[:, None])[:, :, None]
        base = (t * num_c + c) * img_h
        idx = ((base[:, None] + ys)[:, :, None] * img_w) + xs[:, None, :]
        _scatter_max(flat, idx[ok], patch[ok])

    # -- the transform ------------------------------------------------------------------------
    def gen_an_aug(self, results: dict) -> np.ndarray:
        """The heatmaps ``(T, K, H, W)`` of one sample (MMAction2's method name)."""
        kps = results["keypoint"].astype(np.float32)
        m, num_t, v = kps.shape[:3]
        scores = results.get("keypoint_score")
        if scores is None or not self.use_score:
            scores = np.ones(kps.shape[:-1], dtype=np.float32)
        scores = scores.astype(np.float32, copy=False)
        img_h, img_w = results["img_shape"]
        img_h = int(img_h * self.scaling + 0.5)
        img_w = int(img_w * self.scaling + 0.5)
        kps[..., :2] *= self.scaling
        limbs = np.asarray(self.skeletons, dtype=np.int64).reshape(-1, 2)
        num_c = (v if self.with_kp else 0) + (len(limbs) if self.with_limb else 0)
        ret = np.zeros((num_t, num_c, img_h, img_w), dtype=np.float32)
        shape = ret.shape
        flat = ret.reshape(-1)
        frames = np.arange(num_t)
        for p in range(m):
            xy, sc = kps[p, ..., :2], scores[p]  # (T, V, 2), (T, V)
            if self.with_kp:
                t = np.repeat(frames, v)
                c = np.tile(np.arange(v), num_t)
                self._draw_points(flat, shape, t, c, xy.reshape(-1, 2), sc.reshape(-1))
            if self.with_limb:
                nl = len(limbs)
                t = np.repeat(frames, nl)
                c = np.tile(np.arange(nl), num_t)  # channel = limb index, as in MMAction2
                starts = xy[:, limbs[:, 0]].reshape(-1, 2)
                ends = xy[:, limbs[:, 1]].reshape(-1, 2)
                vs = sc[:, limbs[:, 0]].reshape(-1)
                ve = sc[:, limbs[:, 1]].reshape(-1)
                self._draw_limbs(flat, shape, t, c, starts, ends, vs, ve)
        return ret

    def __call__(self, results: dict) -> dict:
        if "keypoint" not in results or "img_shape" not in results:
            raise KeyError(
                f"GeneratePoseTarget needs 'keypoint' and 'img_shape' (keys: {sorted(results)})"
            )
        heatmap = self.gen_an_aug(results)
        key = "heatmap_imgs" if "imgs" in results else "imgs"
        if self.double:
            order = np.arange(heatmap.shape[1], dtype=np.int64)
            left, right = (
                (self.left_kp, self.right_kp) if self.with_kp else (self.left_limb, self.right_limb)
            )
            for a, b in zip(left, right):
                order[a], order[b] = b, a
            flipped = heatmap[..., ::-1][:, order]
            heatmap = np.concatenate([heatmap, flipped])
        results[key] = heatmap
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(sigma={self.sigma}, use_score={self.use_score}, "
            f"with_kp={self.with_kp}, with_limb={self.with_limb}, skeletons={self.skeletons}, "
            f"double={self.double}, left_kp={self.left_kp}, right_kp={self.right_kp}, "
            f"left_limb={self.left_limb}, right_limb={self.right_limb}, "
            f"scaling={self.scaling})"
        )
