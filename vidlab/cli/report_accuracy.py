"""``vidlab report-accuracy``: score fusion of several models' test outputs, as MMAction2's
``tools/analysis_tools/report_accuracy.py`` (RGB + flow, joint + bone).

Reads dump files (``vidlab test --dump x.pkl`` or MMAction2's ``tools/test.py --dump``): a
pickled list of per-video dicts with ``pred_score`` and ``gt_label``. The fused score of a video
is ``sum_i coefficient_i * scores_i`` (optionally of softmaxed scores), and the printed metrics
are MMAction2's: mean class accuracy, top-1 and top-5 accuracy, or with ``--multi-label`` the
mmit mean average precision, in its format (4 decimals).

The files are read by a restricted unpickler: tensors, arrays and plain containers only; any
other global is refused by name (unpickling can run code).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

__all__ = ["add_parser", "fuse", "load_dump"]


def load_dump(path: str | Path) -> list[dict]:
    """A dump file -> its list of per-video dicts (``pred_score``, ``gt_label``, ...)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such dump file: {path}")
    from vidlab.checkpoint import load_pickle

    try:
        data = load_pickle(path, "a score dump", tensors=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path}: not a score dump ({e})") from e
    if isinstance(data, dict) and "predictions" in data:
        raise ValueError(
            f"{path} is a `vidlab test --out` file (top-5 per video only); fusion needs every "
            "class's score: write the file with `vidlab test --dump x.pkl`"
        )
    if not isinstance(data, list) or not data or not all("pred_score" in s for s in data):
        raise ValueError(f"{path}: not a score dump (a list of dicts with 'pred_score')")
    return data


def _numpy(x):
    import numpy as np

    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _softmax(x):
    """``scipy.special.softmax`` of one score vector, in its order of operations."""
    import numpy as np

    x_max = np.amax(x, axis=None, keepdims=True)
    exp_x = np.exp(x - x_max)
    return exp_x / np.sum(exp_x, axis=None, keepdims=True)


def fuse(
    paths: list[str], coefficients: list[float], apply_softmax: bool = False, multi_label=False
) -> dict:
    """The fused scores of several dumps and MMAction2's metrics of them."""
    import numpy as np

    from vidlab.evaluation.metrics import (
        get_weighted_score,
        mean_class_accuracy,
        mmit_mean_average_precision,
        top_k_accuracy,
    )

    if len(paths) != len(coefficients):
        raise ValueError(
            f"{len(paths)} prediction files but {len(coefficients)} coefficients: give one each"
        )
    dumps = [load_dump(p) for p in paths]
    sizes = {len(d) for d in dumps}
    if len(sizes) > 1:
        shown = ", ".join(f"{p}: {len(d)}" for p, d in zip(paths, dumps))
        raise ValueError(f"the files hold different numbers of videos ({shown})")
    score_list = [[_numpy(s["pred_score"]) for s in d] for d in dumps]
    if apply_softmax:
        score_list = [[_softmax(s) for s in scores] for scores in score_list]
    first = dumps[0]
    if multi_label:
        labels = np.stack([_numpy(s["gt_label"]) for s in first])
    else:
        labels = [int(_numpy(s["gt_label"]).reshape(-1)[0]) for s in first]
    for d, p in zip(dumps[1:], paths[1:]):
        other = [_numpy(s["gt_label"]).tolist() for s in d]
        if other != [_numpy(s["gt_label"]).tolist() for s in first]:
            raise ValueError(f"{p} has other labels than {paths[0]}: not the same test set/order")
    fused = get_weighted_score(score_list, coefficients)
    if multi_label:
        return {"mmit_mean_average_precision": mmit_mean_average_precision(np.array(fused), labels)}
    top1, top5 = top_k_accuracy(fused, labels, (1, 5))
    return {
        "mean_class_accuracy": mean_class_accuracy(fused, labels),
        "top1": top1,
        "top5": top5,
    }


def cmd_report_accuracy(args) -> int:
    from vidlab.cli.errors import CLIError

    try:
        result = fuse(args.preds, args.coefficients, args.apply_softmax, args.multi_label)
    except ValueError as e:
        raise CLIError(str(e)) from None
    if args.multi_label:
        print(f"MMit Average Precision: {result['mmit_mean_average_precision']:.04f}")
    else:
        print(f"Mean Class Accuracy: {result['mean_class_accuracy']:.04f}")
        print(f"Top 1 Accuracy: {result['top1']:.04f}")
        print(f"Top 5 Accuracy: {result['top5']:.04f}")
    sys.stdout.flush()
    return 0


def add_parser(sub) -> None:
    """Register ``vidlab report-accuracy`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "report-accuracy",
        help="fuse the scores of several test dumps (RGB + flow, joint + bone) and report accuracy",
    )
    p.add_argument("--preds", nargs="+", required=True, help="dump files (vidlab test --dump)")
    p.add_argument(
        "--coefficients",
        nargs="+",
        type=float,
        default=None,
        help="one weight per file (default: 1 each)",
    )
    p.add_argument("--apply-softmax", action="store_true", help="softmax each file's scores first")
    p.add_argument("--multi-label", action="store_true", help="report mmit mAP (multi-label)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    if args.coefficients is None:
        args.coefficients = [1.0] * len(args.preds)
    return cmd_report_accuracy(args)
