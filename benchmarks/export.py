"""onnxruntime CPU latency against PyTorch eager, for each family's reference variant.

The reference variant of a family is its first variant by name (as in the contract test).
Each is exported with `vidlab.export.export_onnx` (checked with onnxruntime) at its test clip
with ``--size`` pixels, then both run the same clip, alternating, with the same number of
threads; printed: median latencies over ``--repeats`` runs after a warm-up, the ratio
onnxruntime / eager (goal <= 1.0), the parity, the TensorRT check (`check_onnx_ops`: "ok" or
the first op the parser would reject) and the machine's load average, which matters on a
shared machine:

    python benchmarks/export.py                          # every family, 112 px, 1 thread
    python benchmarks/export.py --families tsm x3d --size 224 --threads 4 --repeats 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from vidlab.models import create_model, list_models  # noqa: E402
from vidlab.models import variants as V  # noqa: E402


def reference_variants(families=None) -> list[str]:
    first: dict[str, str] = {}
    for name in sorted(list_models()):
        first.setdefault(name.split("_", 1)[0], name)
    return [first[f] for f in sorted(first) if not families or f in families]


def clip_shape(name: str, size: int) -> tuple[int, ...]:
    cfg = V.find_variant(name).default_cfg
    if len(cfg.clip_shape) == 3 or cfg.fixed_size or cfg.input_kind == "keypoints":
        return (1, *cfg.clip_shape)  # audio features; C3D's fixed 112 px; GCN keypoints
    c, t = cfg.clip_shape[:2]
    return (1, c, t, size, size)


def _ms(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1000


@torch.inference_mode()
def latencies(model, session, clips: torch.Tensor, repeats: int) -> tuple[float, float]:
    """Median ms of eager and of onnxruntime, run alternately (load changes hit both)."""
    feed = {"clips": clips.numpy()}
    model(clips), session.run(None, feed)  # warm-up
    eager, onnx = [], []
    for _ in range(repeats):
        eager.append(_ms(model, clips))
        onnx.append(_ms(session.run, None, feed))
    return statistics.median(eager), statistics.median(onnx)


def main() -> int:
    import onnxruntime as ort

    from vidlab.export import UnsupportedOpError, check_onnx_ops, export_onnx

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=None)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    print(
        f"{'variant':<36} {'clip':<22} {'eager ms':>9} {'ort ms':>8} {'ort/eager':>9} "
        f"{'rel diff':>9} {'TensorRT':<8} load"
    )
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in reference_variants(args.families):
            torch.manual_seed(0)
            model = create_model(name).eval()
            shape = clip_shape(name, args.size)
            path = os.path.join(tmp, f"{name}.onnx")
            result = export_onnx(model, path, clips_shape=shape, check_ops=False)
            try:  # a ViT off its own size resizes its position table bicubically: not parsable
                check_onnx_ops(path)
                trt = "ok"
            except UnsupportedOpError as err:
                trt = str(err).split(": ", 1)[1].split(" ")[0]  # the first op it names
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            clips = torch.randint(0, 256, shape).float()
            if V.find_variant(name).default_cfg.input_kind == "keypoints":
                clips = torch.randn(shape)  # (N, M, T, V, C) coordinates
            eager, onnx = latencies(model, session, clips, args.repeats)
            ratios.append(onnx / eager)
            print(
                f"{name:<36} {str(shape):<22} {eager:9.1f} {onnx:8.1f} {onnx / eager:9.2f} "
                f"{result['max_rel_diff']:9.1e} {trt:<8} {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    print(
        f"{len(ratios)} families; onnxruntime / eager: median {statistics.median(ratios):.2f}, "
        f"max {max(ratios):.2f}; {args.threads} thread(s), {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
