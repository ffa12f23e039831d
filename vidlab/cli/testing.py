"""``vidlab test`` and the MMAction2 0.x command-line habits of ``train`` and ``test``.

The 0.x flags of the getting-started guide keep working; each prints one note with the 1.x
(vidlab) equivalent:

- test: ``--eval NAMES`` (= ``--metrics``), ``--average-clips score|prob|None`` (sets the
  head's ``average_clips``), ``--options``/``--eval-options topk=1,5``, ``--onnx``,
  ``--gpus``/``--gpu-ids``, ``--local_rank``, ``--gpu-collect``/``--tmpdir`` (a note: results
  are gathered in dataset order anyway); ``--tensorrt`` is an error that says what to run;
- train: ``--validate`` (validation follows ``val_cfg``/``val_dataloader`` as in 1.x),
  ``--test-last``/``--test-best`` (test after training: ``last_pred.pkl``/``best_pred.pkl`` in
  the work dir), ``--resume-from CKPT`` (= ``--resume CKPT``), ``--options`` (= ``--cfg-options``),
  ``--gpus N``/``--gpu-ids``.

``--gpus N`` with N > 1 starts N processes with torchrun (what ``tools/dist_train.sh`` does);
``--gpu-ids`` picks the visible GPUs (``CUDA_VISIBLE_DEVICES``). Nothing here imports torch
until a command runs, so ``vidlab --help`` stays instant.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

__all__ = ["add_test_parser", "add_train_habits", "cmd_test", "run_train_habits"]


def _note(old: str, new: str) -> None:
    print(f"vidlab: note: {old} is MMAction2 0.x's; {new}", file=sys.stderr)


def _add_gpu_habits(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gpus", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--gpu-ids", type=int, nargs="+", default=None, help=argparse.SUPPRESS)
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)


def torchrun_argv(argv: list[str], nproc: int) -> list[str]:
    """``vidlab`` arguments (without ``--gpus N``) -> the torchrun command that runs them in
    ``nproc`` processes with ``--launcher pytorch``."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "-m",
        "vidlab.cli.main",
        *argv,
        "--launcher",
        "pytorch",
    ]


def _strip_gpus(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--gpus":
            skip = True
        elif not a.startswith("--gpus="):
            out.append(a)
    return out


def gpus_argv(command: str, argv: list[str], nproc: int) -> list[str]:
    """The torchrun command for ``vidlab COMMAND ... --gpus N`` (``argv`` without the program;
    from tools/train.py or tools/test.py it has no command name)."""
    argv = _strip_gpus(argv)
    if command not in argv:
        argv = [command, *argv]
    return torchrun_argv(argv, nproc)


def _apply_gpu_habits(args, command: str) -> int | None:
    """Map ``--gpus``/``--gpu-ids``; returns an exit code when the command ran under torchrun."""
    if args.gpu_ids:
        ids = ",".join(map(str, args.gpu_ids))
        os.environ["CUDA_VISIBLE_DEVICES"] = ids  # before torch touches CUDA
        _note("--gpu-ids", f"vidlab sets CUDA_VISIBLE_DEVICES={ids} (1.x: set it yourself)")
    if args.gpus and args.gpus > 1 and args.launcher == "none":
        _note(
            f"--gpus {args.gpus}",
            f"running it as: bash tools/dist_{command}.sh CONFIG ... {args.gpus} "
            "(torchrun, one process per GPU)",
        )
        return subprocess.call(gpus_argv(command, sys.argv[1:], args.gpus))
    if args.gpus == 1:
        _note("--gpus 1", "one process uses one GPU; nothing to set")
    return None


# --------------------------------------------------------------------------- test


def add_test_parser(sub) -> argparse.ArgumentParser:
    """Register ``vidlab test`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "test",
        help="test a checkpoint or an ONNX file (multi-view), print and save metrics",
    )
    p.add_argument("config")
    p.add_argument("checkpoint", help="a checkpoint, or with --onnx an exported .onnx file")
    p.add_argument(
        "--out", help="per-video predictions and metrics (.json, .pkl, .yaml) or predictions .csv"
    )
    p.add_argument(
        "--dump", help="MMAction2's dump .pkl: scores and labels per video, with raw view logits"
    )
    p.add_argument(
        "--metrics",
        "--eval",
        dest="metrics",
        nargs="+",
        default=None,
        help="e.g. top_k_accuracy mean_class_accuracy mean_average_precision "
        "mmit_mean_average_precision per_class_accuracy confusion_matrix "
        "(default: the config's evaluator)",
    )
    p.add_argument(
        "--report-dir",
        help="write confusion_matrix.csv/.png and per_class_accuracy.csv to this folder",
    )
    p.add_argument("--labels", help="class names, one per line (default: cfg.label_file)")
    p.add_argument(
        "--average-clips",
        choices=["score", "prob", "None"],
        default=None,
        help="how views are averaged (sets the head's average_clips)",
    )
    p.add_argument("--onnx", action="store_true", help="CHECKPOINT is an .onnx file: onnxruntime")
    p.add_argument(
        "--view-memory",
        default=None,
        metavar="SIZE",
        help="activation memory for the views run at once, e.g. 4G (see also "
        "test_cfg.max_testing_views); on CUDA an out-of-memory halves the chunk anyway",
    )
    progress = p.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="progress bar with ETA on stderr (default: when stderr is a terminal)",
    )
    progress.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--work-dir", default=None, help="where a list of skipped files goes")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"], default="none")
    p.add_argument(
        "--options",
        "--eval-options",
        dest="eval_options",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="metric options (0.x): topk=1,5",
    )
    _add_gpu_habits(p)
    # 0.x's result collection across GPUs and its TensorRT test (getting-started guide)
    p.add_argument("--gpu-collect", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--tmpdir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--tensorrt", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--cfg-options",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override config keys, e.g. test_cfg.max_testing_views=4",
    )
    p.set_defaults(func=cmd_test)
    return p


def _average_clips_option(cfg, mode: str) -> str:
    value = "None" if mode == "None" else repr(mode)
    model = cfg.get("model") or {}
    if isinstance(model.get("cls_head"), dict):
        return f"model.cls_head.average_clips={value}"
    return f"model.test_cfg.average_clips={value}"


def _eval_options(pairs: list[str]) -> dict:
    """0.x ``--eval-options``: only ``topk`` has a meaning for recognition metrics."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key != "topk":
            from vidlab.cli.errors import CLIError

            raise CLIError(
                f"--options {pair!r}: the metric option known here is topk=1,5 "
                "(config keys go to --cfg-options)"
            )
        options["top_k_accuracy"] = {
            "topk": tuple(int(k) for k in value.strip("()[]").split(",") if k)
        }
    return options


def cmd_test(args) -> int:
    from vidlab.cli.main import _load
    from vidlab.data.synthetic import prepare_synthetic_data

    if args.tensorrt:
        from vidlab.cli.errors import CLIError

        raise CLIError(
            "--tensorrt (MMAction2 0.x) is not supported: test the ONNX file instead "
            "(vidlab export CONFIG CKPT --out model.onnx, then vidlab test CONFIG model.onnx "
            "--onnx); the export checks every op against TensorRT's ONNX parser"
        )
    if args.gpu_collect or args.tmpdir:
        _note(
            "--gpu-collect/--tmpdir",
            "vidlab gathers every process's results in dataset order itself; nothing to set",
        )
    code = _apply_gpu_habits(args, "test")
    if code is not None:
        return code
    if args.work_dir:
        args.cfg_options = [*args.cfg_options, f"work_dir={args.work_dir!r}"]
    if args.average_clips is not None:
        from vidlab.config import load_config

        raw = load_config(args.config, args.cfg_options)
        args.cfg_options = [*args.cfg_options, _average_clips_option(raw, args.average_clips)]
    cfg = _load(args)
    options = None
    if args.eval_options:
        options = _eval_options(args.eval_options)
        _note("--options/--eval-options", "1.x sets test_evaluator.metric_options in the config")
    prepare_synthetic_data(cfg)  # configs with a synthetic_data key: render it first
    from vidlab.engine.testing import test

    test(
        cfg,
        args.checkpoint,
        out=args.out,
        metrics=args.metrics,
        launcher=args.launcher,
        dump=args.dump,
        onnx=args.onnx,
        progress=args.progress,
        view_memory=args.view_memory,
        report_dir=args.report_dir,
        labels_file=args.labels,
        metric_options=options,
    )
    return 0


# --------------------------------------------------------------------------- train


def add_train_habits(p: argparse.ArgumentParser) -> None:
    """The 0.x flags of ``tools/train.py`` on the ``vidlab train`` parser."""
    p.add_argument("--validate", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--test-last",
        action="store_true",
        help="test the last checkpoint after training (work_dir/last_pred.pkl)",
    )
    p.add_argument(
        "--test-best",
        action="store_true",
        help="test the best checkpoint after training (work_dir/best_pred.pkl)",
    )
    p.add_argument("--resume-from", default=None, help=argparse.SUPPRESS)
    p.add_argument("--options", nargs="+", default=[], help=argparse.SUPPRESS)
    _add_gpu_habits(p)


def run_train_habits(args) -> int | None:
    """Map the 0.x train flags onto ``args`` before training; an exit code when the run went
    to torchrun instead."""
    if args.validate:
        _note("--validate", "validation runs when the config has val_dataloader and val_cfg")
    if args.resume_from:
        _note("--resume-from CKPT", "1.x and vidlab: --resume CKPT")
        args.resume = args.resume_from
    if args.options:
        _note("--options", "1.x and vidlab: --cfg-options")
        args.cfg_options = [*args.cfg_options, *args.options]
    return _apply_gpu_habits(args, "train")


def test_after_training(args, cfg, result: dict) -> None:
    """``--test-last`` / ``--test-best``: test those checkpoints on test_dataloader, as 0.x,
    writing ``last_pred.pkl`` / ``best_pred.pkl`` in the work dir."""
    from pathlib import Path

    from vidlab.engine.testing import test

    work_dir = Path(result["work_dir"])
    todo = []
    if args.test_last:
        todo.append(("last", result.get("last_checkpoint")))
    if args.test_best:
        best = result.get("best_checkpoints") or {}
        if not best:
            print(
                "--test-best: no best checkpoint was saved (set default_hooks.checkpoint.save_best)"
            )
        todo.extend(("best", path) for path in best.values())
    for name, ckpt in todo:
        if not ckpt:
            print(f"--test-{name}: no checkpoint to test")
            continue
        print(f"testing the {name} checkpoint {ckpt}")
        test(cfg, ckpt, out=work_dir / f"{name}_pred.pkl", launcher=args.launcher)
