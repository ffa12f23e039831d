"""RoIAlign speed (issue 13): vidlab's vectorised RoIAlign against a literal transcription of
mmcv's CPU kernel (the reference in tests/models/test_roi_align.py), on a typical AVA batch.

The batch is SlowFast's AVA input to ``SingleRoIExtractor3D`` after temporal pooling: 8 clips,
``--channels`` channels (2304 in MMAction2's SlowFast-R50; the slow reference runs on
``--ref-channels`` to finish, and its time is scaled by the channel ratio, which is what its
per-sample vector ops cost), 16 x 16 maps (256 px frames, stride 16), ``--boxes`` person boxes
per clip, output 8 x 8, adaptive sampling, aligned. Printed: boxes per second for each, the
ratio, and the largest difference on the shared channels.

    python benchmarks/roi_align.py                   # one thread, a few seconds
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vidlab.models.layers.roi_align import roi_align  # noqa: E402


def _reference():
    path = REPO / "tests" / "models" / "test_roi_align.py"
    spec = importlib.util.spec_from_file_location("roi_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.slow_roi_align


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--boxes", type=int, default=6, help="person boxes per clip")
    parser.add_argument("--channels", type=int, default=2304)
    parser.add_argument("--ref-channels", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(args.clips, args.channels, 16, 16, generator=gen)
    n = args.clips * args.boxes
    xy = torch.rand(n, 2, generator=gen) * 180
    wh = 40 + torch.rand(n, 2, generator=gen) * 120
    images = torch.arange(args.clips).repeat_interleave(args.boxes)[:, None].float()
    rois = torch.cat([images, xy, (xy + wh).clamp(max=255)], 1)
    settings = ((8, 8), 1 / 16, 0, "avg", True)

    times = []
    for _ in range(args.repeats + 1):
        start = time.perf_counter()
        out = roi_align(feats, rois, *settings)
        times.append(time.perf_counter() - start)
    fast = sorted(times[1:])[len(times[1:]) // 2]
    slow_fn = _reference()
    part = feats[:, : args.ref_channels].double()
    start = time.perf_counter()
    ref = slow_fn(part, rois.double(), *settings)
    slow = (time.perf_counter() - start) * args.channels / args.ref_channels
    diff = (out[:, : args.ref_channels].double() - ref).abs().max().item()
    print(f"{n} boxes, {args.channels} channels, 16x16 maps -> 8x8, {args.threads} thread(s)")
    print(f"vectorised:      {n / fast:10.0f} boxes/s  ({fast * 1e3:.1f} ms per batch)")
    print(f"mmcv-literal:    {n / slow:10.1f} boxes/s  (scaled from {args.ref_channels} channels)")
    print(f"speed-up {slow / fast:.0f}x; max |difference| {diff:.2e}")


if __name__ == "__main__":
    main()
