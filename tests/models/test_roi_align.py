"""RoIAlign / RoIPool against literal transcriptions of mmcv's kernels, and by hand.

The references below are line-by-line Python versions of mmcv's CPU ``roi_align_forward``
(bilinear_interpolate, adaptive grid, avg/max) and of the Caffe RoIPool kernel mmcv uses: slow
loops over RoIs, bins and samples. vidlab's vectorised versions must agree with them.
"""

import math

import pytest
import torch

from vidlab.models.layers.roi_align import RoIAlign, RoIPool, roi_align, roi_pool


def _bilinear(fmap, y, x):
    h, w = fmap.shape[-2:]
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return torch.zeros(fmap.shape[0], dtype=fmap.dtype)
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= h - 1:
        y_high = y_low = h - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= w - 1:
        x_high = x_low = w - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (
        hy * hx * fmap[:, y_low, x_low]
        + hy * lx * fmap[:, y_low, x_high]
        + ly * hx * fmap[:, y_high, x_low]
        + ly * lx * fmap[:, y_high, x_high]
    )


def slow_roi_align(feats, rois, out, scale, ratio, mode, aligned):
    ph_n, pw_n = out
    result = torch.zeros(len(rois), feats.shape[1], ph_n, pw_n, dtype=feats.dtype)
    offset = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        sw, sh = x1 * scale - offset, y1 * scale - offset
        rw, rh = x2 * scale - offset - sw, y2 * scale - offset - sh
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph_n, rw / pw_n
        gh = ratio if ratio > 0 else math.ceil(rh / ph_n)
        gw = ratio if ratio > 0 else math.ceil(rw / pw_n)
        count = max(gh * gw, 1)
        for ph in range(ph_n):
            for pw in range(pw_n):
                acc = torch.zeros(feats.shape[1], dtype=feats.dtype)
                best = torch.full((feats.shape[1],), -10000.0, dtype=feats.dtype)
                for iy in range(gh):
                    y = sh + ph * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        x = sw + pw * bw + (ix + 0.5) * bw / gw
                        v = _bilinear(feats[int(b)], y, x)
                        acc += v
                        best = torch.maximum(best, v)
                if mode == "avg":
                    result[k, :, ph, pw] = acc / count
                else:
                    result[k, :, ph, pw] = best if gh * gw > 0 else 0.0
    return result


def slow_roi_pool(feats, rois, out, scale):
    ph_n, pw_n = out
    h, w = feats.shape[-2:]
    result = torch.zeros(len(rois), feats.shape[1], ph_n, pw_n, dtype=feats.dtype)

    def c_round(v):
        return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)

    for k, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        sw, sh, ew, eh = (c_round(v * scale) for v in (x1, y1, x2, y2))
        rw, rh = max(ew - sw + 1, 1), max(eh - sh + 1, 1)
        bh, bw = rh / ph_n, rw / pw_n
        for ph in range(ph_n):
            for pw in range(pw_n):
                hs = min(max(math.floor(ph * bh) + sh, 0), h)
                he = min(max(math.ceil((ph + 1) * bh) + sh, 0), h)
                ws = min(max(math.floor(pw * bw) + sw, 0), w)
                we = min(max(math.ceil((pw + 1) * bw) + sw, 0), w)
                if he <= hs or we <= ws:
                    continue
                result[k, :, ph, pw] = feats[int(b), :, hs:he, ws:we].amax(dim=(-2, -1))
    return result


def _random_rois(gen, n, images, size):
    xy = torch.rand(n, 2, generator=gen) * size * 1.2 - size * 0.1
    wh = torch.rand(n, 2, generator=gen) * size * 0.8
    rois = torch.cat([torch.randint(0, images, (n, 1), generator=gen).float(), xy, xy + wh], 1)
    rois[0, 3:] = rois[0, 1:3]  # a zero-size RoI
    rois[1, 1:] = torch.tensor([-30.0, -30.0, -20.0, -20.0])  # wholly outside
    return rois


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("ratio", [0, 2])
@pytest.mark.parametrize("mode", ["avg", "max"])
def test_roi_align_equals_mmcv_kernel(aligned, ratio, mode):
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 3, 12, 10, generator=gen, dtype=torch.float64)
    rois = _random_rois(gen, 12, 2, 80)
    ours = roi_align(feats, rois, (3, 4), 1 / 8, ratio, mode, aligned)
    ref = slow_roi_align(feats, rois, (3, 4), 1 / 8, ratio, mode, aligned)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_roi_align_by_hand():
    ramp = torch.arange(6.0).repeat(6, 1)[None, None]  # value = x
    # aligned: box x in [0, 4] -> pixel centres -0.5 + 0.5, 1.5, ... : samples at 0, 1, 2, 3
    out = roi_align(ramp, torch.tensor([[0.0, 0, 0, 4, 4]]), 1, 1.0, 0, "avg", True)
    assert out.item() == pytest.approx(1.5)
    # two bins along x: samples (0, 1) and (2, 3)
    out = roi_align(ramp, torch.tensor([[0.0, 0, 0, 4, 4]]), (1, 2), 1.0, 0, "avg", True)
    assert out.flatten().tolist() == pytest.approx([0.5, 2.5])
    # not aligned: no half-pixel shift, samples at 0.5, 1.5, 2.5, 3.5
    out = roi_align(ramp, torch.tensor([[0.0, 0, 0, 4, 4]]), 1, 1.0, 0, "avg", False)
    assert out.item() == pytest.approx(2.0)
    out = roi_align(ramp, torch.tensor([[0.0, 0, 0, 4, 4]]), 1, 1.0, 0, "max", False)
    assert out.item() == pytest.approx(3.5)
    # spatial_scale 1/2: the box [0, 8] is [0, 4] on the map
    out = roi_align(ramp, torch.tensor([[0.0, 0, 0, 8, 8]]), 1, 0.5, 0, "avg", True)
    assert out.item() == pytest.approx(1.5)


def test_roi_pool_equals_the_kernel_and_by_hand():
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(2, 3, 9, 11, generator=gen, dtype=torch.float64)
    rois = _random_rois(gen, 10, 2, 40)
    torch.testing.assert_close(
        roi_pool(feats, rois, 3, 1 / 4), slow_roi_pool(feats, rois, (3, 3), 1 / 4)
    )
    ramp = torch.arange(6.0).repeat(6, 1)[None, None]
    out = roi_pool(ramp, torch.tensor([[0.0, 0, 0, 3, 3]]), (1, 2), 1.0)  # columns 0-1, 2-3
    assert out.flatten().tolist() == [1.0, 3.0]


def test_modules_and_bad_rois():
    feats = torch.randn(1, 2, 8, 8)
    rois = torch.tensor([[0.0, 1, 1, 30, 30]])
    assert RoIAlign(4, 1 / 4)(feats, rois).shape == (1, 2, 4, 4)
    assert RoIPool(2, 1 / 4)(feats, rois).shape == (1, 2, 2, 2)
    assert roi_align(feats, torch.zeros(0, 5), 4).shape == (0, 2, 4, 4)
    with pytest.raises(ValueError, match=r"rois must be \(K, 5\)"):
        roi_align(feats, torch.zeros(3, 4), 4)
    with pytest.raises(ValueError, match="pool_mode"):
        roi_align(feats, rois, 4, pool_mode="sum")


def test_gradients_flow_to_the_features():
    feats = torch.randn(2, 3, 8, 8, requires_grad=True)
    rois = torch.tensor([[1.0, 2, 2, 20, 24], [0.0, 0, 0, 31, 31]])
    roi_align(feats, rois, 4, 1 / 4).sum().backward()
    assert feats.grad[0].abs().sum() > 0 and feats.grad[1].abs().sum() > 0
