"""``vidlab analyze-model`` (parameters and FLOPs per top-level module) and ``vidlab benchmark``
(model throughput in clips/s and data pipeline throughput in videos/s)."""

from __future__ import annotations

import sys
import time

__all__ = ["add_parsers"]


def _shape(cfg, given: list[int] | None) -> tuple[tuple[int, ...], str]:
    """The input shape: ``--shape`` in MMAction2's get_flops.py forms, else one test view."""
    from vidlab.export import clips_shape_of

    if not given:
        return clips_shape_of(cfg), "one view of the config's test pipeline"
    view = clips_shape_of(cfg)
    if len(given) == 1:  # H = W, as get_flops.py; frames from the pipeline
        return (*view[:3], given[0], given[0]), "--shape"
    if len(given) == 2:
        return (*view[:3], *given), "--shape"
    if len(given) == 3:  # T H W
        return (view[0], view[1], *given), "--shape"
    if len(given) in (4, 5):
        return tuple(given), "--shape"
    from vidlab.cli.errors import CLIError

    raise CLIError(f"--shape {' '.join(map(str, given))}: give H W, T H W or N C T H W")


def cmd_analyze_model(args) -> int:
    from vidlab.analysis import analyze_model, format_analysis
    from vidlab.cli.main import _load
    from vidlab.config import build

    cfg = _load(args)
    shape, origin = _shape(cfg, args.shape)
    model = build(cfg["model"])
    result = analyze_model(model, shape)
    print(f"{args.config} (input from {origin}; counted on {result['device']})")
    print(format_analysis(result))
    return 0


def _model_throughput(model, shape, device, amp: bool, iters: int) -> float:
    import torch

    from vidlab.analysis import throughput

    clips = torch.randint(0, 256, tuple(shape), dtype=torch.uint8, device=device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    dtype = torch.bfloat16 if device.type == "cuda" else None

    def step():
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=amp):
            model(clips)

    return throughput(step, warmup=2, iters=iters, sync=sync) * shape[0]


def _data_throughput(cfg, batches: int) -> tuple[float, float, int] | None:
    """(videos/s, views/s, videos) of the test loader over its first ``batches`` batches
    (worker start-up included), or None without a test loader."""
    from vidlab.data.synthetic import prepare_synthetic_data
    from vidlab.engine.build import build_loader

    prepare_synthetic_data(cfg)
    loader = build_loader(cfg, "test_dataloader", seed=0, train=False, has_bn=False)
    if loader is None:
        return None
    videos = views = 0
    start = time.perf_counter()
    for i, batch in enumerate(loader):
        if i == batches:
            break
        clips = batch["clips"]  # (B, V, C, T, H, W)
        videos += clips.shape[0]
        views += clips.shape[0] * clips.shape[1]
    elapsed = time.perf_counter() - start
    if not videos:
        return None
    return videos / elapsed, views / elapsed, videos


def cmd_benchmark(args) -> int:
    import torch

    from vidlab.cli.main import _load
    from vidlab.engine.build import build_model

    cfg = _load(args)
    device = torch.device(args.device)
    view, origin = _shape(cfg, args.shape)
    shape = (args.batch_size, *view[1:])
    model = build_model(cfg, device).eval()
    rate = _model_throughput(model, shape, device, args.amp, args.iters)
    print(
        f"model: {rate:.2f} clips/s on {device} (batch {shape[0]} of {tuple(shape[1:])} from "
        f"{origin}{', AMP' if args.amp else ''}; {torch.get_num_threads()} threads)"
    )
    if args.data_batches > 0:
        try:
            data = _data_throughput(cfg, args.data_batches)
        except (FileNotFoundError, OSError) as e:
            print(f"data: skipped ({e})")
            data = None
        if data is not None:
            videos_s, views_s, n = data
            print(f"data: {videos_s:.2f} videos/s, {views_s:.2f} views/s (test loader, {n} videos)")
    sys.stdout.flush()
    return 0


def add_parsers(sub, add_cfg_options) -> None:
    """Register ``analyze-model`` and ``benchmark`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "analyze-model",
        help="parameters and FLOPs per top-level module (MMAction2's get_flops.py numbers)",
    )
    p.add_argument("config")
    p.add_argument(
        "--shape",
        type=int,
        nargs="+",
        default=None,
        help="input: H W, T H W or N C T H W (default: one view of the test pipeline)",
    )
    add_cfg_options(p)
    p.set_defaults(func=cmd_analyze_model)

    p = sub.add_parser(
        "benchmark", help="model throughput (clips/s) and test data pipeline throughput"
    )
    p.add_argument("config")
    p.add_argument("--shape", type=int, nargs="+", default=None, help="as analyze-model")
    p.add_argument("--batch-size", type=int, default=1, help="clips per model call")
    p.add_argument("--iters", type=int, default=10, help="timed model calls (after 2 warm-up)")
    p.add_argument("--device", default="cuda" if _cuda() else "cpu")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    p.add_argument(
        "--data-batches", type=int, default=10, help="test loader batches to time (0: skip)"
    )
    add_cfg_options(p)
    p.set_defaults(func=cmd_benchmark)


def _cuda() -> bool:
    # `vidlab --help` must not import torch: look for a driver file instead of asking torch.
    import os

    return os.path.exists("/proc/driver/nvidia/version")
