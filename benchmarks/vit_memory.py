"""Peak training memory of a ViT video model with and without activation checkpointing.

    python benchmarks/vit_memory.py                              # ViT-B, 16x224, batch 1, CPU
    python benchmarks/vit_memory.py --model timesformer_divst_8x32x1 --frames 8
    python benchmarks/vit_memory.py --device cuda --batch 4

One training step (``loss = model(clips).logsumexp(1).mean(); loss.backward()``) of a named
variant, ``with_cp=False`` then ``with_cp=True`` (every block recomputed in the backward pass),
each in a fresh process. On CUDA the number is ``torch.cuda.max_memory_allocated`` during the
step; on the CPU it is the process's peak resident size (``ru_maxrss``) minus its resident size
just before the step: the activations kept for backward, the gradients and the allocator's
slack. Also printed: the step time (one step after a warm-up step on CUDA; the first step on
the CPU, where a step of ViT-B at 16x224 takes tens of seconds).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _one(args) -> dict:
    """Run one step in this process and return its numbers."""
    sys.path.insert(0, str(REPO))
    import torch

    from vidlab.models import create_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model(args.model, num_classes=400, with_cp=args.with_cp).to(args.device)
    model.train()
    clips = torch.randint(
        0, 256, (args.batch, 3, args.frames, args.size, args.size), dtype=torch.uint8
    ).to(args.device)

    def step():
        model.zero_grad(set_to_none=False)
        loss = model(clips).logsumexp(1).mean()
        loss.backward()

    if args.device == "cuda":
        step()  # warm-up: cuDNN / allocator
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20
        t = time.perf_counter()
        step()
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t
        peak = torch.cuda.max_memory_allocated() / 2**20 - before
    else:
        before = _rss_mib()
        t = time.perf_counter()
        step()
        seconds = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    params = sum(p.numel() for p in model.parameters())
    return dict(
        with_cp=args.with_cp, step_mib=round(peak), seconds=round(seconds, 2), params=params
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="videomae_vit_b_16x4x1")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--with-cp", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one(args)))
        return
    shape = f"{args.batch}x3x{args.frames}x{args.size}x{args.size}"
    print(f"{args.model}, clips {shape}, {args.device}, one training step")
    rows = []
    for with_cp in (False, True):
        cmd = [sys.executable, __file__, "--child", *sys.argv[1:]]
        if with_cp:
            cmd.append("--with-cp")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"  with_cp={str(with_cp):5}  peak step memory {row['step_mib']:7d} MiB"
            f"  step {row['seconds']:.2f} s"
        )
    print(f"  with_cp saves {1 - rows[1]['step_mib'] / rows[0]['step_mib']:.0%} of the step memory")


if __name__ == "__main__":
    main()
