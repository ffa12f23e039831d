"""The `vidlab` command: a thin argparse layer over the package's Python functions.

Every subcommand imports what it needs when it runs, so `vidlab --help` is instant. Errors that
are about the user's input (a config, a video, a checkpoint) are printed as one message, without
a traceback; `--debug` shows the traceback too.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings

from vidlab.cli.errors import CLIError


def _add_cfg_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cfg-options",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config keys, e.g. train_cfg.max_epochs=2 'model.cls_head.num_classes=10'",
    )


def _load(args):
    """The merged config, validated as a whole before anything runs."""
    from vidlab.config import load_config, validate

    cfg = load_config(args.config, args.cfg_options)
    validate(cfg)
    return cfg


# --------------------------------------------------------------------------- subcommands


def cmd_train(args) -> int:
    from vidlab.cli.testing import run_train_habits, test_after_training
    from vidlab.data.synthetic import prepare_synthetic_data
    from vidlab.engine.train import train

    code = run_train_habits(args)  # MMAction2 0.x flags; --gpus N: the run went to torchrun
    if code is not None:
        return code
    cfg = _load(args)
    if args.launcher == "none":
        _fetch_pretrained(cfg.get("model"))  # a URL that cannot be fetched: before any data
    prepare_synthetic_data(cfg)  # configs with a synthetic_data key: render it first
    resume = args.resume
    if resume == "auto":
        resume = True
    result = train(
        cfg,
        work_dir=args.work_dir,
        resume=resume,
        amp=args.amp,
        launcher=args.launcher,
        seed=args.seed,
        deterministic=args.deterministic,
        auto_scale_lr=args.auto_scale_lr,
    )
    if args.test_last or args.test_best:
        test_after_training(args, cfg, result)
    return 0


def _fetch_pretrained(node) -> None:
    """Fetch (or find) every ``pretrained=`` file of the model config now, so that a URL
    that cannot be fetched is reported before data is generated or read. (Under a launcher the
    engine fetches on the main process first.)"""
    from vidlab.models.pretrained import resolve_pretrained

    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pretrained" and isinstance(value, str):
                resolve_pretrained(value)
            else:
                _fetch_pretrained(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _fetch_pretrained(value)


def cmd_extract_features(args) -> int:
    from vidlab.batch_inference import expand_inputs
    from vidlab.features import extract_many
    from vidlab.inference import init_recognizer

    model = init_recognizer(_load(args), args.checkpoint, device=args.device)
    videos = expand_inputs(args.inputs)
    done = extract_many(
        model,
        videos,
        args.out,
        ann_out=args.ann_out,
        window=args.window,
        stride=args.stride,
        temporal_dim=args.temporal_dim,
    )
    print(f"features of {len(done)} video(s) written to {args.out}")
    if args.ann_out:
        print(f"annotation file (add each video's segments): {args.ann_out}")
    return 0


def cmd_print_config(args) -> int:
    print(_load(args).pretty_text())
    return 0


def cmd_quickstart(args) -> int:
    from vidlab.quickstart import quickstart

    quickstart(
        model=args.model,
        work_dir=args.work_dir,
        cfg_options=args.cfg_options,
        task=args.task,
    )
    return 0


def cmd_analyze_logs(args) -> int:
    from vidlab.engine.logs import analyze_logs

    analyze_logs(args.logs, keys=args.keys, out=args.out, title=args.title, mode=args.mode)
    return 0


def cmd_list_models(args) -> int:
    from vidlab.models import list_models
    from vidlab.models.variants import find_variant

    rows = []
    for name in list_models():
        cfg = find_variant(name).default_cfg
        if args.pretrained and cfg.url is None:
            continue
        rows.append((name, cfg))
    if not args.details:
        for name, _ in rows:
            print(name)
        return 0
    width = max(len(name) for name, _ in rows)
    print(f"{'variant':{width}s}  {'test clip':18s}  {'sampling':9s}  classes  weights")
    for name, cfg in rows:
        clip = "x".join(map(str, cfg.clip_shape))
        sampling = "x".join(map(str, cfg.sampling))
        weights = "MMAction2" if cfg.url else "-"
        print(f"{name:{width}s}  {clip:18s}  {sampling:9s}  {cfg.num_classes:7d}  {weights}")
    return 0


def cmd_localization_pgm(args) -> int:
    from vidlab.cli.pgm import run_pgm
    from vidlab.config import load_config

    run_pgm(load_config(args.config), args.mode, args.workers)
    return 0


def cmd_data_synth(args) -> int:
    from vidlab.data.synthetic import synth_main

    try:
        synth_main(
            args.out_dir,
            classes=args.classes,
            videos_per_class=args.videos_per_class,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    except (ValueError, FileExistsError) as err:  # a bad name; a folder holding other data
        print(f"vidlab data synth: error: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_data_check(args) -> int:
    from vidlab.data.tools import check_videos, format_check_summary

    report = check_videos(
        args.list,
        data_prefix=args.data_prefix,
        out=args.out,
        clean=args.clean,
        num_workers=args.workers,
    )
    print(format_check_summary(report, args.list))
    return 1 if report.get("bad") else 0


def cmd_data_build_list(args) -> int:
    from vidlab.data.tools import build_list

    out = build_list(
        args.root, out_dir=args.out_dir, val_fraction=args.val_fraction, seed=args.seed
    )
    print(
        f"wrote {out['train']} ({out['num_train']} videos), {out['val']} ({out['num_val']} "
        f"videos) and {out['labels']} ({len(out['classes'])} classes)"
    )
    return 0


def cmd_data_extract_frames(args) -> int:
    from vidlab.data.transcode import extract_frames

    out = extract_frames(
        args.src,
        args.out_root,
        short_side=args.short_side,
        tmpl=args.tmpl,
        start_index=args.start_index,
        data_prefix=args.data_prefix,
        num_workers=args.workers,
    )
    for failure in out.get("failed") or []:
        print(f"failed: {failure['path']}: {failure['reason']}", file=sys.stderr)
    print(
        f"wrote {out['num_frames']} frames of {out['num_videos']} videos under {args.out_root} "
        f"and the list {out['list']}"
        + (f"; {len(out['failed'])} video(s) failed" if out.get("failed") else "")
    )
    return 1 if out.get("failed") else 0


def cmd_data_resize(args) -> int:
    from vidlab.data.transcode import resize_videos

    resize_videos(
        args.src,
        args.dst,
        short_side=args.short_side,
        gop=args.gop,
        crf=args.crf,
        num_workers=args.workers,
    )
    return 0


def cmd_data_audio_features(args) -> int:
    from vidlab.data.audio_features import build_audio_features

    out = build_audio_features(args.src, args.out)
    for path, reason in out["failed"]:
        print(f"failed: {path}: {reason}", file=sys.stderr)
    frames = sum(n for _, n in out["written"])
    print(
        f"wrote {len(out['written'])} feature file(s) ({frames} frames of 80 mel bins) under "
        f"{args.out}" + (f"; {len(out['failed'])} file(s) failed" if out["failed"] else "")
    )
    return 1 if out["failed"] else 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from vidlab import __version__

    parser = argparse.ArgumentParser(
        prog="vidlab",
        description="Train, test, run and export video action-recognition models.",
    )
    parser.add_argument("--version", action="version", version=f"vidlab {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("train", help="train a model from a config file")
    p.add_argument("config")
    p.add_argument("--work-dir", help="where checkpoints and logs go (default: cfg.work_dir)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        default=None,
        metavar="CKPT",
        help="resume from CKPT, or alone: from the latest checkpoint in the work dir",
    )
    p.add_argument("--amp", action="store_true", help="mixed precision (bf16/fp16) on CUDA")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument(
        "--auto-scale-lr", action="store_true", help="scale lr by batch / base_batch_size"
    )
    _add_cfg_options(p)
    from vidlab.cli.testing import add_train_habits

    add_train_habits(p)  # MMAction2 0.x flags: --validate, --test-last, --gpus, ...
    p.set_defaults(func=cmd_train)

    from vidlab.cli.testing import add_test_parser

    add_test_parser(sub)
    from vidlab.cli import report_accuracy

    report_accuracy.add_parser(sub)
    from vidlab.cli import analyze

    analyze.add_parsers(sub, _add_cfg_options)

    from vidlab.cli import infer as _infer

    _infer.register(sub)

    p = sub.add_parser(
        "extract-features", help="snippet features of whole videos for temporal localization"
    )
    p.add_argument("config", help="a recognizer's config (its test pipeline is used)")
    p.add_argument("checkpoint")
    p.add_argument("inputs", nargs="+", help="videos, frame folders, folders or .txt lists")
    p.add_argument("--out", required=True, help="folder for one <name>.csv per video")
    p.add_argument("--window", type=int, default=16, help="frames per snippet")
    p.add_argument("--stride", type=int, default=16, help="frames between snippet starts")
    p.add_argument(
        "--temporal-dim", type=int, default=None, help="resample to this many rows (BMN: 100)"
    )
    p.add_argument("--ann-out", help="write an ActivityNet annotation file (segments empty)")
    p.add_argument("--device", default="cpu")
    _add_cfg_options(p)
    p.set_defaults(func=cmd_extract_features)

    p = sub.add_parser("print-config", help="print the merged config as Python")
    p.add_argument("config")
    _add_cfg_options(p)
    p.set_defaults(func=cmd_print_config)

    p = sub.add_parser(
        "quickstart",
        help="render a synthetic motion dataset, train a small model on the CPU (no downloads), test it",
    )
    from vidlab.quickstart import CONFIGS as quickstart_models  # a light module: paths only

    p.add_argument(
        "--task",
        choices=("recognition", "skeleton", "localization", "detection"),
        default="recognition",
        help="recognition: RGB clips (--model); skeleton: ST-GCN++ on synthetic stick figures; "
        "localization: BMN on features of synthetic untrimmed videos; detection: an AVA-style "
        "detector on synthetic actors",
    )
    p.add_argument("--model", choices=sorted(quickstart_models), default="tsm")
    p.add_argument("--work-dir", default=None, help="default: work_dirs/quickstart_<model>")
    _add_cfg_options(p)
    p.set_defaults(func=cmd_quickstart)

    from vidlab.cli import export as _export

    _export.register(sub)

    p = sub.add_parser("analyze-logs", help="plot and summarise scalars from log.jsonl files")
    p.add_argument("logs", nargs="+")
    p.add_argument("--keys", nargs="+", default=["loss"])
    p.add_argument("--out", default=None, help="figure file (.png, .pdf)")
    p.add_argument("--title", default=None)
    p.add_argument("--mode", default="train", choices=["train", "val"])
    p.set_defaults(func=cmd_analyze_logs)

    p = sub.add_parser("list-models", help="named model variants for create_model")
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="only variants with MMAction2's published weights (create_model(name, "
        "pretrained=True), vidlab infer --model NAME)",
    )
    p.add_argument(
        "--details", action="store_true", help="a table: test clip, sampling, classes, weights"
    )
    p.set_defaults(func=cmd_list_models)

    loc = sub.add_parser("localization", help="temporal localization tools")
    loc = loc.add_subparsers(dest="localization_command")
    loc.required = True
    p = loc.add_parser("pgm", help="BSN's proposal generation from TEM results (PGM config)")
    p.add_argument("config", help="the PGM config, e.g. MMAction2's bsn_pgm_400x100_...py")
    p.add_argument("--mode", choices=["train", "test"], default="test")
    p.add_argument("--workers", type=int, default=None, help="processes (default: config's)")
    p.set_defaults(func=cmd_localization_pgm)

    data = sub.add_parser("data", help="dataset tools").add_subparsers(dest="data_command")
    data.required = True
    p = data.add_parser("synth", help="write the synthetic motion dataset (H.264 MP4 + lists)")
    p.add_argument("out_dir", help="folder to write videos/, train.txt, val.txt, labels.txt")
    p.add_argument(
        "--classes", nargs="+", default=None, help="class names to render (default: all)"
    )
    p.add_argument("--videos-per-class", type=int, default=50, help="videos of each class")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a dataset made with other arguments (never done without this flag)",
    )
    p.set_defaults(func=cmd_data_synth)

    p = data.add_parser("check", help="open and decode every video of a list, report bad ones")
    p.add_argument("list", help="a `path label` list (MMAction2's video list)")
    p.add_argument("--data-prefix", default="", help="folder the list's paths are relative to")
    p.add_argument("--out", help="write the bad lines with reasons here")
    p.add_argument("--clean", help="write the good lines here")
    p.add_argument("--workers", type=int, default=2, help="decoding processes")
    p.set_defaults(func=cmd_data_check)

    p = data.add_parser("build-list", help="class-per-folder tree -> train/val lists + label map")
    p.add_argument("root", help="a folder with one subfolder of videos per class")
    p.add_argument(
        "--out-dir", default=None, help="where train.txt, val.txt, labels.txt go (default: ROOT)"
    )
    p.add_argument(
        "--val-fraction", type=float, default=0.2, help="share of each class put in val.txt"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the train/val split")
    p.set_defaults(func=cmd_data_build_list)

    p = data.add_parser("extract-frames", help="videos -> frame folders + a rawframe list")
    p.add_argument("src", help="a `path label` list or a folder of videos")
    p.add_argument("out_root", help="frame folders and the rawframe list go here")
    p.add_argument("--short-side", type=int, default=None, help="scale frames to this short side")
    p.add_argument("--tmpl", default="img_{:05d}.jpg", help="frame file names")
    p.add_argument("--start-index", type=int, default=1, help="number of the first frame file")
    p.add_argument("--data-prefix", default="", help="root of the paths in a list")
    p.add_argument("--workers", type=int, default=1, help="decoding processes")
    p.set_defaults(func=cmd_data_extract_frames)

    p = data.add_parser("resize", help="re-encode videos to a short side and keyframe interval")
    p.add_argument("src", help="a video, a folder of videos or a `path label` list")
    p.add_argument("dst", help="output folder (the same relative paths)")
    p.add_argument("--short-side", type=int, default=256, help="short side in pixels")
    p.add_argument("--gop", type=int, default=16, help="keyframe interval in frames")
    p.add_argument("--crf", type=int, default=23, help="x264 quality (lower is better)")
    p.add_argument("--workers", type=int, default=1, help="encoding processes")
    p.set_defaults(func=cmd_data_resize)

    p = data.add_parser(
        "audio-features",
        help="log-mel features (.npy) of audio/video files, as MMAction2's build_audio_features",
    )
    p.add_argument("src", help="a media file or a folder (searched recursively)")
    p.add_argument("out", help="output folder: <relative path>.npy per file")
    p.set_defaults(func=cmd_data_audio_features)

    from vidlab.data.person_boxes import add_parser as add_detect_persons_parser
    from vidlab.data.skeleton.cli import add_pose_parser, add_skeleton_parser

    add_detect_persons_parser(data)

    add_skeleton_parser(data)
    add_pose_parser(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors about the user's input: printed as one message, no traceback."""
    errors: list[type[BaseException]] = [FileNotFoundError, CLIError]
    for module, name in (
        ("vidlab.cli.main", "CLIError"),  # as raised by vidlab.cli.* under `python -m`
        ("vidlab.config", "ConfigError"),
        ("vidlab.data.annotations", "AnnotationError"),
        ("vidlab.models.pretrained", "PretrainedError"),
        ("vidlab.data.io", "DecodeError"),
        ("vidlab.checkpoint", "CheckpointError"),
        ("vidlab.engine.distributed", "LaunchError"),
        ("vidlab.engine.logs", "LogError"),
        ("vidlab.engine.loop", "TrainingError"),
        ("vidlab.export", "UnsupportedOpError"),  # says which op, module, and --no-check-ops
    ):
        mod = sys.modules.get(module)
        if mod is not None and hasattr(mod, name):
            errors.append(getattr(mod, name))
    return tuple(errors)


_WORKER_HEAD = re.compile(r"^Caught \w+ in DataLoader worker process \d+\.\n", re.M)


def _message(err: BaseException) -> str:
    """The error's own message: a DataLoader worker's re-raised error carries the worker's
    whole traceback in its text; only the original message is for the user."""
    text = str(err)
    if not _WORKER_HEAD.match(text):
        return text
    cls = type(err)
    for name in (f"{cls.__module__}.{cls.__qualname__}", cls.__qualname__):
        at = text.rfind(f"\n{name}: ")
        if at >= 0:
            first, *rest = text[at + len(name) + 3 :].strip().splitlines()
            return "\n".join([first, *("  " + line.strip() for line in rest)])
    return text.strip().splitlines()[-1]


def _show_warning(message, category, filename, lineno, file=None, line=None):
    from vidlab.config import ConfigWarning

    if issubclass(category, ConfigWarning):
        print(f"vidlab: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    from vidlab.threads import configure_wait_policy

    configure_wait_policy()  # before torch is imported: OpenMP reads it once (vidlab.threads)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # argparse leaves inputs typed after an option (`infer C K --top-k 3 a.mp4`)
        if not hasattr(args, "inputs") or any(e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.inputs = [*args.inputs, *extra]
    warnings.showwarning = _show_warning
    try:
        code = args.func(args) or 0
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `vidlab print-config ... | head`: the reader has gone; no traceback, and no flush of
        # the rest of the output at exit (which would raise again).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        print(f"vidlab {args.command}: output closed early (broken pipe)", file=sys.stderr)
        return 2
    except Exception as err:
        if args.debug or not isinstance(err, _user_errors()):
            raise
        print(f"vidlab {args.command}: error: {_message(err)}", file=sys.stderr)
        for note in getattr(err, "__notes__", []):
            print(f"  {note}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
