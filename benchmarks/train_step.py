"""Train-step benchmark: milliseconds per iteration and clips/s, and the engine's own overhead.

Two measurements on the same model and the same in-memory batch:

1. **bare step**: ``logits = model(clips); loss = model.loss(logits, labels); loss.backward();
   optimizer.step(); optimizer.zero_grad(set_to_none=True)`` in a Python loop. On a GPU also
   with AMP (bf16 where supported, else fp16 + GradScaler), AMP + channels-last, and
   AMP + ``torch.compile``.
2. **engine step**: ``vidlab.engine.train.train`` over an in-memory dataset of the same clips
   (sampler, loader, collate, scheduler ``step_iter``, the training step, the NaN check, hooks
   writing log.jsonl every iteration). A timing hook measures every engine iteration and then,
   outside the timed window, runs one bare eager step of a second model: each engine iteration
   is paired with a bare step that saw the same machine load. The engine overhead is the median
   over pairs of ``(engine iteration - batch fetch) / bare step - 1``, the batch fetch being the
   median time to draw a batch from the same loader alone.

Warm-up iterations are excluded; each number is a median over the timed iterations of
``--repeats`` runs.

    python benchmarks/train_step.py                          # TSM-R50, 8x224x224, batch 2
    python benchmarks/train_step.py --size 112 --iters 4     # quicker
    python benchmarks/train_step.py --device cuda --modes eager amp amp_cl amp_compile
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

from vidlab.engine.hooks import Hook  # noqa: E402
from vidlab.models import create_model  # noqa: E402

GPU_MODES = ("eager", "amp", "amp_cl", "amp_compile")


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------


class RepeatedClip(torch.utils.data.Dataset):
    """The same uint8 clip ``(1, 3, T, H, W)`` for every index: data already in memory."""

    def __init__(self, clip: torch.Tensor, label: int, length: int):
        self.clip, self.label, self.length = clip, torch.tensor(label), length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        return {"clips": self.clip, "label": self.label, "index": index}


def make_batch(batch: int, frames: int, size: int, num_classes: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    clips = torch.randint(0, 256, (batch, 3, frames, size, size), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, num_classes, (batch,), generator=g)
    return clips, labels  # (B, C, T, H, W) raw pixels, (B,)


def build_model(args) -> nn.Module:
    torch.manual_seed(0)
    return create_model(args.model, num_classes=args.num_classes)


def sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ------------------------------------------------------------------------------------------------
# Bare step
# ------------------------------------------------------------------------------------------------


def amp_dtype_for(device: torch.device) -> torch.dtype:
    """bf16 where supported (no GradScaler needed), else fp16; bf16 on the CPU."""
    if device.type != "cuda" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def bare_step_fn(args, mode: str, device: torch.device, clips, labels):
    """A closure running one plain training step of a fresh model in ``mode``."""
    model = build_model(args).to(device).train()
    clips, labels = clips.to(device), labels.to(device)
    amp = mode.startswith("amp")
    dtype = amp_dtype_for(device) if amp else None
    scaler = torch.amp.GradScaler("cuda") if amp and dtype == torch.float16 else None
    if mode in ("amp_cl", "amp_compile"):
        from vidlab.engine.build import set_memory_format  # what channels_last=True does

        set_memory_format(model)  # conv weights only: the normalizer's 5-D buffers stay
    raw = model
    if mode == "amp_compile":
        model = torch.compile(model)
    optimizer = sgd(raw)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=amp):
            logits = model(clips)  # (B, K)
            loss = raw.loss(logits, labels)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)

    return step


def bare_run(args, mode: str, device: torch.device, clips, labels) -> dict:
    """Per-iteration times (s) of the plain step, after warm-up."""
    step = bare_step_fn(args, mode, device, clips, labels)
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    warmup_s = time.perf_counter() - t0
    times = []
    for _ in range(args.iters):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return {"times": times, "warmup_s": warmup_s}


# ------------------------------------------------------------------------------------------------
# Engine step
# ------------------------------------------------------------------------------------------------


class IterClock(Hook):
    """Times every engine iteration, and runs one bare step right after each (paired).

    The engine's iteration ``i`` is the time from this hook's return at ``i - 1`` (or the
    start of the epoch) to its entry at ``i``: data fetch, schedule, the step and every other
    hook. The bare step runs inside this hook, outside that window, so that each engine
    iteration has a bare step beside it that saw the same machine load.
    """

    priority = 1000  # after every other hook, so that their time counts for the engine

    def __init__(self, bare_step=None):
        self.bare_step = bare_step
        self.engine: list[float] = []
        self.bare: list[float] = []
        self._resume = 0.0

    def before_train_epoch(self, runner) -> None:
        self._resume = time.perf_counter()

    def after_train_iter(self, runner, info: dict) -> None:
        self.engine.append(time.perf_counter() - self._resume)
        if self.bare_step is not None:
            t = time.perf_counter()
            self.bare_step()
            self.bare.append(time.perf_counter() - t)
        self._resume = time.perf_counter()


def engine_cfg(args, clips, labels, work_dir: str, clock: IterClock) -> dict:
    n = args.batch * (args.warmup + args.iters)
    dataset = RepeatedClip(clips[:1], int(labels[0]), n)
    return dict(
        model=dict(type=create_model, name=args.model, num_classes=args.num_classes),
        train_dataloader=dict(
            batch_size=args.batch,
            num_workers=0,
            sampler=dict(type="DefaultSampler", shuffle=True),
            dataset=dataset,  # a built object passes through the config builder
        ),
        train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=1, val_interval=1),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=1e-4)),
        # A warm-up schedule as in MMAction2's configs: step_iter runs every iteration.
        param_scheduler=[
            dict(
                type="LinearLR",
                start_factor=0.1,
                by_epoch=True,
                begin=0,
                end=1,
                convert_to_iter_based=True,
            )
        ],
        default_hooks=dict(
            checkpoint=dict(type="CheckpointHook", interval=-1, save_last=False),
            logger=dict(type="LoggerHook", interval=1, progress=False),  # a log line every iter
        ),
        custom_hooks=[clock],
        randomness=dict(seed=0),
        work_dir=work_dir,
    )


def engine_run(args, device: torch.device, clips, labels) -> dict:
    """Engine iteration times paired with bare eager step times, and the batch fetch time."""
    from vidlab.data.loader import build_dataloader
    from vidlab.engine.train import train

    clock = IterClock(bare_step_fn(args, "eager", device, clips, labels))
    with tempfile.TemporaryDirectory() as work_dir:
        cfg = engine_cfg(args, clips, labels, work_dir, clock)
        with contextlib.redirect_stdout(io.StringIO()):  # the loop prints a line per iteration
            train(cfg)

    # The data part of an iteration, alone: fetching batches from the same kind of loader.
    dataset = cfg["train_dataloader"]["dataset"]
    loader = build_dataloader(
        dataset,
        batch_size=args.batch,
        num_workers=0,
        sampler=dict(type="DefaultSampler", shuffle=True),
        seed=0,
    )
    fetch, it = [], iter(loader)
    for _ in range(len(loader)):
        t = time.perf_counter()
        next(it)
        fetch.append(time.perf_counter() - t)
    w = args.warmup
    return {"engine": clock.engine[w:], "bare": clock.bare[w:], "fetch": fetch[1:] or fetch}


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def median_ms(xs: list[float]) -> float:
    return 1000.0 * statistics.median(xs)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="tsm_r50_1x1x8", help="a name of vidlab.models.list_models()")
    p.add_argument("--num-classes", type=int, default=400)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--iters", type=int, default=6, help="timed iterations per run")
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations per run")
    p.add_argument("--repeats", type=int, default=1, help="runs (fresh models) per measurement")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, or auto")
    p.add_argument(
        "--modes",
        nargs="+",
        default=None,
        choices=GPU_MODES,
        help=f"bare-step variants (default: eager on the CPU, {' '.join(GPU_MODES)} on a GPU)",
    )
    p.add_argument("--no-engine", action="store_true", help="skip the engine-overhead part")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--json", default=None, help="also write the results here")
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    # Training on one fixed batch drives the loss to ~0 within a few steps and the gradients
    # into denormal floats, which the CPU computes up to ~50x slower (measured: one 2.8 s step
    # became 125 s). Real data never gets there; flush them to zero so that both sides time the
    # normal path.
    torch.set_flush_denormal(True)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    modes = args.modes or (list(GPU_MODES) if device.type == "cuda" else ["eager"])

    clips, labels = make_batch(args.batch, args.frames, args.size, args.num_classes)
    print(
        f"{args.model}: batch {args.batch} x {args.frames} frames x {args.size}x{args.size}, "
        f"device {device}"
        + (
            f" ({torch.cuda.get_device_name(device)})"
            if device.type == "cuda"
            else f" ({torch.get_num_threads()} threads)"
        )
        + f", torch {torch.__version__}; {args.warmup} warm-up + {args.iters} timed iterations "
        f"x {args.repeats} run(s)",
        flush=True,
    )

    results: dict = {"config": vars(args), "device": str(device), "bare": {}}
    run_engine = not args.no_engine
    per_mode: dict[str, list[float]] = {}
    notes: dict[str, float] = {}
    for mode in modes:
        if mode == "eager" and run_engine:
            continue  # measured below, paired with the engine's iterations
        times, warmups = [], []
        for _ in range(args.repeats):
            out = bare_run(args, mode, device, clips, labels)
            times.append(median_ms(out["times"]))
            warmups.append(out["warmup_s"])
        per_mode[mode] = times
        print(f"  bare {mode}: " + ", ".join(f"{t:.1f}" for t in times) + " ms", flush=True)
        if mode == "amp_compile":
            notes["compile_warmup_s"] = warmups[0]

    pairs: list[tuple[float, float]] = []  # (engine iteration, bare step) in seconds
    fetch: list[float] = []
    if run_engine:
        for r in range(args.repeats):
            out = engine_run(args, device, clips, labels)
            pairs += list(zip(out["engine"], out["bare"]))
            fetch += out["fetch"]
            print(
                f"  engine run {r + 1}/{args.repeats}: engine "
                + ", ".join(f"{1000 * e:.1f}" for e in out["engine"])
                + " ms; bare "
                + ", ".join(f"{1000 * b:.1f}" for b in out["bare"])
                + " ms",
                flush=True,
            )
        per_mode = {"eager": [1000 * b for _, b in pairs], **per_mode}

    print(f"\n{'step':<28}{'ms/iter':>10}{'clips/s':>10}")
    for mode, values in per_mode.items():
        ms = statistics.median(values)
        results["bare"][mode] = {"ms_per_iter": ms, "clips_per_s": args.batch * 1000.0 / ms}
        print(f"{'bare ' + mode:<28}{ms:>10.1f}{args.batch * 1000.0 / ms:>10.2f}")
    if notes:
        print(
            f"(amp_compile: the {args.warmup} warm-up iterations, compilation included, took "
            f"{notes['compile_warmup_s']:.1f} s)"
        )
        results["notes"] = notes
    if pairs:
        eng = median_ms([e for e, _ in pairs])
        fetch_ms = median_ms(fetch)
        step = eng - fetch_ms
        # Each engine iteration (less the fetch) against the bare step run right after it.
        ratios = [(e - fetch_ms / 1000) / b - 1 for e, b in pairs]
        overhead = statistics.median(ratios)
        print(f"{'engine iteration':<28}{eng:>10.1f}{args.batch * 1000.0 / eng:>10.2f}")
        print(f"{'  of which batch fetch':<28}{fetch_ms:>10.2f}")
        print(f"{'engine step (minus fetch)':<28}{step:>10.1f}{args.batch * 1000.0 / step:>10.2f}")
        spread = (min(ratios), max(ratios))
        print(
            f"\nengine overhead vs the bare eager step: {100 * overhead:+.2f}% (median of "
            f"{len(ratios)} paired iterations, range {100 * spread[0]:+.1f}% .. "
            f"{100 * spread[1]:+.1f}%; goal < 3% on the CPU)"
        )
        results["engine"] = {
            "iteration_ms": eng,
            "fetch_ms": fetch_ms,
            "step_ms": step,
            "overhead": overhead,
            "overhead_per_iteration": ratios,
        }
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
