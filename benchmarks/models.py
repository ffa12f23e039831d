"""Forward + backward time of each family's reference model, vidlab against MMAction2.

The models are the parity cases (``tools/parity/make_fixtures.py``: one MMAction2 config per
family, stored in ``tests/fixtures/parity``). vidlab builds each from the config's model dict;
with ``--vs-mmaction2``, run in MMAction2's reference environment, MMAction2 builds the same dict
and both run on the same normalized input with the same weights, alternating, one thread:

    python benchmarks/models.py                       # vidlab only (any environment)
    PYTHONPATH=. ~/.cache/mmaction2-ref/venv/bin/python benchmarks/models.py --vs-mmaction2
    python benchmarks/models.py --cases tsm_r50_1x1x8_k400 --size 112 --repeats 5

One step is ``logits = model(x); logits.sum().backward()`` in train mode on a batch of
``--batch`` clips of the case's clip shape at ``--size`` pixels (default: the variant's test
crop, 224); skeleton GCNs (``RecognizerGCN``) take ``--batch`` N(0, 1) keypoint sequences of the
case's shape ``(M, T, V, C)`` instead (``--size`` does not apply), PoseC3D heatmap volumes
``(17, T, size, size)``; the two-input RGBPose case is left out. Printed: the median over ``--repeats`` steps after one warm-up, and
``vidlab / MMAction2`` (goal <= 1.0: the same ops, no extra copies). Normalization runs outside
the timed step for both (vidlab's ``data_preprocessor`` is called first, MMAction2's is not
timed either).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from vidlab.checkpoint import load_weights  # noqa: E402
from vidlab.config import build  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "parity"


def _seeded():
    spec = importlib.util.spec_from_file_location("seeded", REPO / "tools/parity/seeded.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _features(model, x: torch.Tensor) -> torch.Tensor:
    """``forward_features`` without the normalization (``x`` is already normalized)."""
    pre = model.data_preprocessor
    model.data_preprocessor = torch.nn.Identity()
    try:
        return model.forward_features(x)
    finally:
        model.data_preprocessor = pre


def _vidlab_step(model, x):
    def step():
        model.zero_grad(set_to_none=True)
        model.forward_head(_features(model, x)).sum().backward()

    return step


def _mm_step(model, x):
    def step():
        model.zero_grad(set_to_none=True)
        logits = model(x, mode="tensor", stage="head")
        logits.sum().backward()

    return step


def _mm_input(x: torch.Tensor, format_shape: str) -> torch.Tensor:
    """vidlab's normalized ``(N, C, T, H, W)`` (GCNs: ``(N, M, T, V, C)``) -> MMAction2's model
    input for ``format_shape``."""
    if format_shape == "NCHW":
        return x.transpose(1, 2).contiguous()  # (N, T, C, H, W): segments of one view
    return x.unsqueeze(1)  # (N, 1, C, T, H, W): one view


def _time(steps: dict, repeats: int) -> dict:
    """Median seconds per step; the order alternates (ABBA) because whichever step runs first
    after the other was measured 15-20% slower here, whatever the model."""
    for step in steps.values():  # warm-up
        step()
    times = {name: [] for name in steps}
    names = list(steps)
    for i in range(repeats):
        for name in names if i % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", help="parity case names (default: all)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=224, help="crop size in pixels")
    parser.add_argument("--repeats", type=int, default=4, help="an even number")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--vs-mmaction2", action="store_true", help="needs MMAction2 importable")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.vs_mmaction2:
        from mmaction.registry import MODELS
        from mmaction.utils import register_all_modules

        register_all_modules()
    seeded = _seeded()
    print(f"{'case':34s} {'input':>22s} {'vidlab s':>9s} {'mmaction2 s':>11s} {'ratio':>6s}")
    for path in sorted(FIXTURES.glob("*.pt")):
        if args.cases and path.stem not in args.cases:
            continue
        fixture = torch.load(path, weights_only=True)
        state = seeded.seeded_state_dict(fixture["spec"], fixture["seed"], fixture["scale"])
        model = build(fixture["model"], key_path="model")
        load_weights(model, {"state_dict": state}, strict=True)
        model.train()
        sample = fixture["runs"][0]["clips"]
        if isinstance(sample, dict):  # RGBPose: imgs and heatmap_imgs, not one input
            continue
        gen = torch.Generator().manual_seed(0)
        if fixture["model"]["type"] == "RecognizerGCN":  # keypoints (N, M, T, V, C)
            x = torch.randn((args.batch, *sample.shape[1:]), generator=gen)
            fmt = "GCN"
        else:
            n, c, t = sample.shape[:3]
            clips = torch.randint(0, 256, (args.batch, c, t, args.size, args.size), generator=gen)
            with torch.no_grad():
                x = model.data_preprocessor(clips.to(torch.uint8))  # (N, C, T, H, W) normalized
            fmt = fixture["model"].get("data_preprocessor", {}).get("format_shape", "NCHW")
            if fixture["model"]["type"] == "Recognizer3D":  # PoseC3D sets no data_preprocessor
                fmt = "NCTHW"
        steps = {"vidlab": _vidlab_step(model, x)}
        if args.vs_mmaction2:
            try:
                mm = MODELS.build(fixture["model"])
            except ImportError as err:  # e.g. MobileOne lives in mmpretrain, not installed
                print(f"{path.stem:34s} MMAction2 cannot build it here: {err}", flush=True)
                continue
            mm.load_state_dict(state, strict=True)
            mm.train()
            steps["mmaction2"] = _mm_step(mm, _mm_input(x, fmt))
        result = _time(steps, args.repeats)
        mm_s = result.get("mmaction2")
        ratio = f"{result['vidlab'] / mm_s:6.3f}" if mm_s else "     -"
        shape = "x".join(map(str, x.shape))
        mm_txt = f"{mm_s:11.3f}" if mm_s else "          -"
        print(f"{path.stem:34s} {shape:>22s} {result['vidlab']:9.3f} {mm_txt} {ratio}", flush=True)


if __name__ == "__main__":
    main()
