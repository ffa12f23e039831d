"""``vidlab infer``: one input, many inputs (JSON lines), or a sliding window over a long video
or a stream, through PyTorch or onnxruntime."""

from __future__ import annotations

import argparse
import json
import sys


def _cli_error(message: str):
    from vidlab.cli.errors import CLIError

    return CLIError(message)


def cmd_infer(args) -> int:
    from vidlab.cli.main import _load
    from vidlab.data.io import source_kind
    from vidlab.inference import inference_recognizer, init_recognizer, is_skeleton_source

    if args.model is not None:
        _zoo_inputs(args)
    elif args.model_checkpoint is not None:
        raise _cli_error("--checkpoint goes with --model NAME; otherwise give CONFIG CKPT")
    elif args.config is None or args.checkpoint is None:
        raise _cli_error(
            "give CONFIG CKPT INPUTS... (a config, its checkpoint file or URL, the inputs), or "
            "--model NAME INPUTS... for a model zoo variant (vidlab list-models)"
        )
    if args.task == "detection":
        from vidlab.cli.infer_detection import cmd_infer_detection

        return cmd_infer_detection(args)
    if args.json or args.proposals or args.detector:
        raise _cli_error("--json, --proposals and --detector are options of --task detection")
    if not args.inputs and args.source is None:
        raise _cli_error("give a video, frame folder, folder of videos, list or URL, or --source")
    if args.inputs and args.source is not None:
        raise _cli_error("--source reads one stream; give it without other inputs")
    skeleton = any(is_skeleton_source(item) for item in args.inputs)
    if skeleton and (len(args.inputs) != 1 or args.source is not None or args.window):
        raise _cli_error(
            "a skeleton pickle is classified on its own: give one file.pkl (its first sample) "
            "or file.pkl:frame_dir, without --source or --window"
        )
    for item in [] if skeleton else args.inputs:
        try:
            source_kind(item)  # a scheme vidlab cannot read: say so before loading a model
        except (ValueError, TypeError) as err:
            raise _cli_error(str(err)) from None
    sliding = args.source is not None or args.window is not None
    if sliding:
        from vidlab.long_video import check_source, parse_span

        try:  # bad lengths before loading a model
            parse_span(args.window or "2s"), parse_span(args.stride or "1s")
        except ValueError as err:
            raise _cli_error(str(err)) from None
        if args.source is not None:
            check_source(args.source)
        if args.inputs and len(args.inputs) != 1:
            raise _cli_error("--window runs on one video at a time; give one input")
    elif args.timeline or args.out_video:
        raise _cli_error("--timeline and --out-video need --window (or --source)")
    if args.backend == "onnxruntime" and not str(args.checkpoint).endswith(".onnx"):
        raise _cli_error(
            f"--backend onnxruntime runs an exported model; {args.checkpoint} is not an .onnx "
            "file (vidlab export CONFIG CKPT --out model.onnx)"
        )
    if args.model is not None:
        model = _zoo_model(args)
    else:
        cfg = _load(args)
        from vidlab.data.synthetic.cli import point_at_synthetic_data

        point_at_synthetic_data(cfg)  # a quickstart config: its label_file is in the written set
        model = init_recognizer(cfg, args.checkpoint, args.device, backend=args.backend)
    if sliding:
        return _sliding(model, args)
    from vidlab.batch_inference import expand_inputs

    sources = list(args.inputs) if skeleton else expand_inputs(args.inputs)
    if len(sources) == 1 and args.out is None and sources[0] == str(args.inputs[0]):
        results = inference_recognizer(model, sources[0], labels=args.labels, top_k=args.top_k)
        print(f"{sources[0]}:")
        for rank, (label, score) in enumerate(results, 1):
            print(f"  {rank}. {label:<24} {score:.4f}")
        return 0
    return _many(model, args)


def _zoo_inputs(args) -> None:
    """``--model NAME``: what argparse took for CONFIG and CKPT are the first inputs; options
    that only have a meaning with a config are refused."""
    args.inputs = [x for x in (args.config, args.checkpoint) if x is not None] + args.inputs
    args.config = args.checkpoint = None
    for given, what in (
        (args.task != "recognition", "--task detection"),
        (args.backend != "pytorch", "--backend onnxruntime"),
        (bool(args.cfg_options), "--cfg-options"),
    ):
        if given:
            raise _cli_error(
                f"{what} needs a config: vidlab infer CONFIG CKPT INPUTS... (--model NAME runs "
                "a zoo variant's published PyTorch weights with its own test pipeline)"
            )


def _zoo_model(args):
    """The variant of ``--model`` with its published (or ``--checkpoint``) weights; a note
    that the labels are class indices when no ``--labels`` names them."""
    from vidlab.inference import init_variant, variant_test_pipeline
    from vidlab.models.variants import find_variant

    if find_variant(args.model) is None:
        import difflib

        from vidlab.models.variants import variant_names

        close = difflib.get_close_matches(args.model, variant_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise _cli_error(f"--model {args.model}: no such model{hint} (vidlab list-models)")
    try:
        variant_test_pipeline(args.model)  # a skeleton or audio variant: before downloading
    except ValueError as err:
        raise _cli_error(str(err)) from None
    model = init_variant(args.model, args.model_checkpoint, args.device)
    if args.labels is None:
        print(
            f"vidlab infer: labels are {args.model}'s class indices; --labels FILE (one class "
            "name per line, e.g. MMAction2's label_map_k400.txt) names them",
            file=sys.stderr,
        )
    return model


def _many(model, args) -> int:
    from vidlab.batch_inference import infer_many

    out = open(args.out, "w") if args.out else sys.stdout  # noqa: SIM115
    failed = 0
    try:
        for result in infer_many(
            model,
            args.inputs,
            labels=args.labels,
            top_k=args.top_k,
            batch_size=args.batch_size,
            num_workers=args.workers,
            progress=not args.no_progress,
        ):
            failed += "error" in result
            out.write(json.dumps(result) + "\n")
            out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    if failed:
        print(f"vidlab infer: {failed} input(s) could not be read (see 'error')", file=sys.stderr)
    elif args.out:
        print(f"wrote {args.out}", file=sys.stderr)
    return 1 if failed else 0


def _sliding(model, args) -> int:
    from vidlab.long_video import sliding_window

    def show(entry):
        best = entry["top_k"][0]
        print(
            f"{entry['start_s']:9.2f}-{entry['end_s']:<9.2f}s  {best['label']:<24} "
            f"{best['score']:.4f}",
            flush=True,
        )

    source = args.source if args.source is not None else args.inputs[0]
    info = sliding_window(
        model,
        source,
        window=args.window or "2s",
        stride=args.stride or "1s",
        top_k=args.top_k,
        labels=args.labels,
        timeline=args.timeline,
        out_video=args.out_video,
        short_side=args.short_side,
        max_frames=args.max_frames,
        on_window=show,
    )
    print(
        f"{info['num_frames']} frames at {info['fps']:.2f} fps, {info['num_windows']} windows "
        f"of {info['window']} frames every {info['stride']}"
        + (f"; timeline {args.timeline}" if args.timeline else "")
        + (f"; video {args.out_video}" if args.out_video else ""),
        file=sys.stderr,
    )
    return 0


def register(sub) -> None:
    """Add the ``infer`` subcommand to the `vidlab` parser."""
    from vidlab.cli.main import _add_cfg_options

    p = sub.add_parser(
        "infer",
        help="top-k labels for videos, frame folders, lists or URLs; sliding window; streams",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "vidlab infer CONFIG CKPT INPUTS... or vidlab infer --model NAME INPUTS... (a zoo "
            "variant with its published weights; CKPT may be an http(s) URL, cached in "
            "$VIDLAB_HOME/checkpoints).\none input: prints its top-k. Several inputs, a folder or a .txt list (or --out): "
            "one JSON line per input.\n--window/--source: top-k per window over a long video or "
            "stream (--timeline JSON, --out-video MP4).\n--task detection CONFIG CKPT VIDEO "
            "--proposals P.pkl|--detector D.onnx --out annotated.mp4 [--json [FILE]]: person "
            "boxes and their actions per keyframe."
        ),
    )
    # CONFIG and CKPT are optional to argparse so that `--model NAME INPUTS...` parses; without
    # --model they are required (checked in cmd_infer), with it they are the first inputs.
    p.add_argument("config", nargs="?", help="a config file (not with --model)")
    p.add_argument(
        "checkpoint",
        nargs="?",
        help="a checkpoint file or http(s) URL, or with --backend onnxruntime an .onnx file",
    )
    p.add_argument("inputs", nargs="*", help="videos, frame folders, folders, .txt lists, URLs")
    p.add_argument(
        "--model",
        metavar="NAME",
        help="a model zoo variant (vidlab list-models) with MMAction2's published weights, "
        "instead of CONFIG CKPT: vidlab infer --model tsm_r50_1x1x8 video.mp4",
    )
    p.add_argument(
        "--checkpoint",
        dest="model_checkpoint",
        metavar="FILE|URL",
        help="with --model: these weights instead of the published ones",
    )
    p.add_argument(
        "--task",
        choices=("recognition", "detection"),
        default="recognition",
        help="detection: person boxes and their actions over one video (--out annotated.mp4)",
    )
    p.add_argument("--labels", help="label map: one class name per line (line i = label i)")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--device", default="cpu")
    p.add_argument("--backend", choices=["pytorch", "onnxruntime"], default="pytorch")
    g = p.add_argument_group("many inputs")
    g.add_argument(
        "--out", help="write JSON lines here (default: stdout); --task detection: the MP4"
    )
    g.add_argument("--batch-size", type=int, default=4, help="inputs per forward pass")
    g.add_argument("--workers", type=int, default=2, help="DataLoader decoding processes")
    g.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    g = p.add_argument_group("long videos and streams")
    g.add_argument("--source", help="a stream: webcam number (0), rtsp://..., a pipe or file")
    g.add_argument("--window", help="window length: frames (64) or seconds (2s); default 2s")
    g.add_argument("--stride", help="step between windows: frames or seconds; default 1s")
    g.add_argument("--timeline", help="write the top-k of every window here (JSON)")
    g.add_argument("--out-video", help="write an MP4 with the label and score drawn")
    g.add_argument("--short-side", type=int, help="frames kept at this short side")
    g.add_argument("--max-frames", type=int, help="stop after this many frames (a webcam)")
    from vidlab.cli.infer_detection import add_arguments

    add_arguments(p)
    _add_cfg_options(p)
    p.set_defaults(func=cmd_infer)
