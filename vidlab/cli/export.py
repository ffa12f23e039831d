"""``vidlab export``: ONNX export checked with onnxruntime and against TensorRT's op list."""

from __future__ import annotations


def cmd_export(args) -> int:
    from vidlab.cli.errors import CLIError
    from vidlab.cli.main import _load
    from vidlab.export import clips_shape_of, export_onnx
    from vidlab.inference import init_recognizer

    missing = []
    for module in ("onnx", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise CLIError(
            f"export needs the {' and '.join(missing)} package{'s' if len(missing) > 1 else ''}: "
            "pip install 'vidlab[onnx]'"
        )
    cfg = _load(args)
    model = init_recognizer(cfg, args.checkpoint, device="cpu")
    if args.shape is not None:
        shape, origin = tuple(args.shape), "--shape"
    else:
        shape, origin = clips_shape_of(cfg), "the config's test pipeline"
    result = export_onnx(
        model,
        args.out,
        clips_shape=shape,
        opset=args.opset,
        dynamic_batch=not args.static_batch,
        check_ops=not args.no_check_ops,
    )
    ops = "" if args.no_check_ops else f"; {len(result['ops'])} op types, all TensorRT-parsable"
    print(
        f"wrote {result['path']} (input clips {shape}, from {origin}; opset {args.opset}, "
        f"{'static' if args.static_batch else 'dynamic'} batch); max |onnxruntime - torch| = "
        f"{result['max_abs_diff']:.2e} ({result['max_rel_diff']:.2e} of the largest logit)" + ops
    )
    return 0


def register(sub) -> None:
    """Add the ``export`` subcommand to the `vidlab` parser."""
    from vidlab.cli.main import _add_cfg_options

    p = sub.add_parser(
        "export", help="export a model to ONNX, check it with onnxruntime and TensorRT's op list"
    )
    p.add_argument("config")
    p.add_argument("checkpoint", nargs="?", default=None)
    p.add_argument("--out", default="model.onnx")
    p.add_argument(
        "--shape",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="example input N C T H W (audio: N C T F); default: one view as the config's "
        "test pipeline makes it",
    )
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    p.add_argument(
        "--static-batch", action="store_true", help="fix the batch axis (default: dynamic)"
    )
    p.add_argument(
        "--no-check-ops",
        action="store_true",
        help="skip the check that every op is one TensorRT's ONNX parser supports",
    )
    _add_cfg_options(p)
    p.set_defaults(func=cmd_export)
