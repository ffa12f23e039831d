"""``test(cfg, checkpoint)``: multi-view testing of a checkpoint (or an ONNX file), its outputs.

The views of each test sample (``num_clips`` x ``ThreeCrop``/``TenCrop``, ``twice_sample``)
come from the config's test pipeline, as in MMAction2; the task's ``predict`` runs them through
the model in chunks (:class:`vidlab.engine.views.ViewRunner`: ``max_testing_views``, a memory
budget, out-of-memory back-off) and averages them by the head's ``average_clips``. What is
written:

- ``out``: per-video predictions and the metrics, ``.json``/``.pkl``/``.yaml``; ``.csv``: one
  row per video (index, filename, label, pred, top-5 labels and scores);
- ``dump``: MMAction2's ``--dump`` file (a pickled list of per-video dicts with ``pred_score``,
  ``pred_label``, ``gt_label`` tensors, which ``vidlab report-accuracy`` and MMAction2's
  ``report_accuracy.py`` read) plus ``logits``: the raw ``(V, K)`` logits of the views;
- ``report_dir``: ``confusion_matrix.csv`` and ``.png`` (counts; rows true, columns predicted)
  and ``per_class_accuracy.csv``.
"""

from __future__ import annotations

import csv
import os
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from vidlab.checkpoint import load_weights
from vidlab.config.errors import ConfigError
from vidlab.engine.build import build_evaluators, build_loader, build_model, cfg_get
from vidlab.engine.evaluate import (
    compute_metrics,
    evaluate,
    format_metric,
    max_views,
    write_results,
)
from vidlab.engine.loop import write_bad_samples
from vidlab.engine.views import ViewRunner
from vidlab.models.pretrained import resolve_checkpoint

__all__ = ["per_class_accuracy", "test", "write_dump"]

OUT_SUFFIXES = (".json", ".pkl", ".pickle", ".yaml", ".yml", ".csv")


def per_class_accuracy(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(classes, counts, accuracy)`` of the classes that occur in ``labels`` (top-1 hits of
    a class / its samples; their mean is MMAction2's ``mean_class_accuracy``)."""
    scores = np.asarray(scores)
    labels = np.asarray(labels).astype(np.int64)
    pred = scores.argmax(1)
    classes = np.unique(labels)
    counts = np.array([(labels == c).sum() for c in classes])
    hits = np.array([((labels == c) & (pred == c)).sum() for c in classes])
    return classes, counts, hits / np.maximum(counts, 1)


def _class_names(cfg, labels_file, num_classes: int | None) -> list[str] | None:
    path = labels_file or cfg_get(cfg, "label_file")
    if not path or not Path(path).is_file():
        return None
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if num_classes is not None and len(names) != num_classes:
        raise ConfigError(
            f"{path} has {len(names)} class names, but the model has {num_classes} classes"
        )
    return names


def write_report(report_dir: Path, scores, labels, names: list[str] | None) -> list[str]:
    """Confusion matrix (CSV, and PNG where matplotlib is installed) and per-class accuracy."""
    report_dir.mkdir(parents=True, exist_ok=True)
    k = scores.shape[1]
    names = names or [str(i) for i in range(k)]
    labels = np.asarray(labels).astype(np.int64)
    pred = scores.argmax(1)
    # rows: true class, columns: predicted; all K classes, so that the names line up
    # (MMAction2's confusion_matrix keeps only the classes that occur)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (labels, pred), 1)
    written = []
    path = report_dir / "confusion_matrix.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["true \\ predicted", *names])
        for name, row in zip(names, matrix):
            w.writerow([name, *row.tolist()])
    written.append(str(path))
    path = report_dir / "per_class_accuracy.csv"
    classes, counts, acc = per_class_accuracy(scores, labels)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class", "name", "videos", "accuracy"])
        for c, n, a in zip(classes, counts, acc):
            w.writerow([int(c), names[c], int(n), f"{a:.6f}"])
    written.append(str(path))
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print("confusion_matrix.png skipped: matplotlib is not installed (pip install matplotlib)")
        return written
    import matplotlib.pyplot as plt

    from vidlab.evaluation.metrics import ConfusionMatrix

    fig = ConfusionMatrix.plot(matrix, include_values=k <= 30, classes=names, show=False)
    path = report_dir / "confusion_matrix.png"
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    written.append(str(path))
    return written


def write_dump(path: Path, scores, labels, logits, predictions) -> None:
    """MMAction2's ``--dump`` list (``pred_score``, ``pred_label``, ``gt_label`` tensors), with
    vidlab's raw per-view ``logits`` ``(V, K)`` and the file name."""
    if path.suffix not in (".pkl", ".pickle"):
        raise ConfigError(f"--dump {str(path)!r}: use a .pkl file name (MMAction2's dump format)")
    samples = []
    for row, pred in enumerate(predictions):
        label = np.asarray(labels[row])
        gt = torch.as_tensor(label) if label.ndim else torch.tensor([int(label)])
        score = scores[row]
        if isinstance(score, Mapping):  # several streams (RGBPoseConv3D), as MMAction2 dumps them
            pred_score = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in score.items()}
            pred_label = torch.tensor([int(pred["pred"])])  # the task's (the 1:1 fusion)
        else:
            pred_score = torch.from_numpy(np.asarray(score, dtype=np.float32))
            pred_label = torch.tensor([int(np.argmax(score))])
        sample = {
            "pred_score": pred_score,
            "pred_label": pred_label,
            "gt_label": gt,
            "filename": pred.get("filename"),
            "index": pred.get("index"),
        }
        if logits is not None:
            sample["logits"] = logits[row]
        samples.append(sample)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(samples, f)


def _write_csv(path: Path, predictions: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "filename", "label", "pred", "top5_labels", "top5_scores"])
        for p in predictions:
            label = p["label"]
            w.writerow(
                [
                    p["index"],
                    p["filename"],
                    " ".join(map(str, label)) if isinstance(label, list) else label,
                    p["pred"],
                    " ".join(map(str, p["top5_labels"])),
                    " ".join(f"{s:.6g}" for s in p["top5_scores"]),
                ]
            )


def _check_out(out, dump) -> None:
    if out is not None and Path(out).suffix not in OUT_SUFFIXES:
        raise ConfigError(f"out={str(out)!r}: use a .json, .pkl, .csv or .yaml file name")
    if out is not None and Path(out).suffix in (".yaml", ".yml"):
        try:
            import yaml  # noqa: F401
        except ImportError:
            raise ImportError(
                f"writing {out} needs PyYAML: pip install pyyaml (or use a .json/.pkl file)"
            ) from None
    if dump is not None and Path(dump).suffix not in (".pkl", ".pickle"):
        raise ConfigError(f"--dump {str(dump)!r}: use a .pkl file name (MMAction2's dump format)")


def test(
    cfg,
    checkpoint: str | os.PathLike,
    out: str | os.PathLike | None = None,
    metrics: list[str] | None = None,
    launcher: str = "none",
    *,
    dump: str | os.PathLike | None = None,
    onnx: bool = False,
    progress: bool | None = None,
    view_memory=None,
    report_dir: str | os.PathLike | None = None,
    labels_file: str | None = None,
    metric_options: dict | None = None,
) -> dict:
    """Test a checkpoint on ``test_dataloader`` with the task's (multi-view) inference.

    Args:
        cfg: the config.
        checkpoint: weights to test (a file or an http(s) URL, fetched once into the cache),
            loaded strictly (a checkpoint of another model reports the grouped mismatches); with
            ``onnx=True``, an exported ``.onnx`` file.
        out: per-video predictions and the metrics (``.json``, ``.pkl``, ``.yaml``), or the
            predictions as ``.csv``.
        metrics: metric names overriding ``test_evaluator`` (``top_k_accuracy``,
            ``mean_class_accuracy``, ``mean_average_precision``, ``mmit_mean_average_precision``,
            ``confusion_matrix``, ``per_class_accuracy``).
        launcher: ``"none"``, ``"pytorch"`` or ``"slurm"``.
        dump: MMAction2's dump ``.pkl`` (scores, labels) with each video's raw view logits.
        onnx: run ``checkpoint`` (an ``.onnx`` file) with onnxruntime.
        progress: show a progress bar with ETA (default: when stderr is a terminal).
        view_memory: activation memory budget for the views run at once (bytes or ``'4G'``).
        report_dir: write the confusion matrix (CSV, PNG) and per-class accuracy here.
        labels_file: class names, one per line (default: the config's ``label_file``).
        metric_options: ``AccMetric`` options, e.g. ``{"top_k_accuracy": {"topk": (1, 3)}}``.

    Returns:
        ``{"metrics", "predictions", "out", "bad_samples", "dump", "report"}``.
    """
    from tqdm import tqdm

    from vidlab.engine import distributed as dist
    from vidlab.engine.train import _default_work_dir, _loop_fp16, _num_classes
    from vidlab.tasks import build_task

    _check_out(out, dump)
    task = build_task(cfg)
    info = dist.init_distributed(launcher, port=dist.config_port(cfg))
    device = torch.device(info.device)
    model = build_model(cfg, device)
    if onnx:
        if Path(checkpoint).suffix != ".onnx":
            raise ConfigError(f"--onnx expects an .onnx file, got {str(checkpoint)!r}")
        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"no such ONNX file: {checkpoint}")
        model.eval()
        from vidlab.onnx_runtime import OnnxRecognizer

        model = OnnxRecognizer(checkpoint, model, device=str(device))
        source = f"{checkpoint} (onnxruntime)"
    else:
        if info.rank != 0:
            dist.barrier()  # the main process fetches a checkpoint URL into the cache first
        path = resolve_checkpoint(checkpoint)
        if info.rank == 0:
            dist.barrier()
        load_weights(model, path, strict=True)
        source = str(checkpoint)
    loader = build_loader(
        cfg, "test_dataloader", seed=0, train=False, has_bn=False, num_classes=_num_classes(model)
    )
    if loader is None:
        raise ConfigError("the config has no 'test_dataloader'")
    names = [m for m in metrics or [] if m != "per_class_accuracy"]
    want_per_class = bool(metrics) and "per_class_accuracy" in metrics
    if metrics and not names:
        names = ["top_k_accuracy"]
    evaluators = build_evaluators(cfg, "test_evaluator", task, names)  # bad names: before running
    for ev in evaluators:
        if metric_options and isinstance(getattr(ev, "metric_options", None), dict):
            ev.metric_options.update(metric_options)
    if hasattr(task, "view_runner"):
        quiet = info.rank != 0
        task.view_runner = ViewRunner(
            max_views(cfg, model), view_memory, log=(lambda _: None) if quiet else print
        )
    fp16 = _loop_fp16(cfg_get(cfg, "test_cfg")) and not onnx
    if progress is None:
        progress = sys.stderr.isatty()
    sampler = getattr(loader, "sampler", None)
    try:  # this process's share of the videos (a distributed sampler splits them)
        total = len(sampler) if sampler is not None else len(loader.dataset)
    except TypeError:
        total = len(loader.dataset)
    bar = tqdm(
        total=total,
        desc="test",
        unit="video",
        disable=not progress or info.rank != 0,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    bad: dict[str, str] = {}
    raw: list | None = [] if dump is not None else None
    try:
        scores, labels, indices = evaluate(
            model,
            loader,
            device,
            amp_dtype=torch.float16 if fp16 and device.type == "cuda" else None,
            max_testing_views=max_views(cfg, model),
            bad_samples=bad,
            task=task,
            progress=bar,
            logits_out=raw,
        )
    finally:
        bar.close()
    bad_list = None
    if bad and info.rank == 0:
        work_dir = cfg_get(cfg, "work_dir") or (Path(out).parent if out else _default_work_dir(cfg))
        bad_list = str(write_bad_samples(bad, Path(work_dir)))
        print(f"{len(bad)} bad sample(s) skipped; listed in {bad_list}")
    results = compute_metrics(evaluators, scores, labels)
    # one integer label per video (recognition); lists are other tasks' per-video targets
    single = isinstance(labels, np.ndarray) and labels.ndim == 1
    streams = isinstance(scores, list) and bool(scores) and isinstance(scores[0], Mapping)
    # one (N, K) score array for per-class accuracy and the report: with several streams, the
    # task's combination of them (RGBPoseConv3D: the 1:1 sum, MMAction2's RGBPose_1:1)
    flat = task.class_scores(scores) if streams and hasattr(task, "class_scores") else scores
    if want_per_class and single:
        classes, _, acc = per_class_accuracy(flat, labels)
        results["acc/per_class"] = {int(c): float(a) for c, a in zip(classes, acc)}
    predictions = task.predictions(loader.dataset, scores, labels, indices)
    report = []
    if info.rank == 0:
        print(f"tested {source}: {len(predictions)} videos")
        for key, value in results.items():
            if isinstance(value, dict):
                value = "\n" + "\n".join(f"    class {c}: {a:.4f}" for c, a in value.items())
            else:
                value = format_metric(value)
            print(f"  {key}: {value}")
        if out is not None:
            if Path(out).suffix == ".csv":
                _write_csv(Path(out), predictions)
            else:
                write_results(Path(out), results, predictions)
            print(f"predictions written to {out}")
        if dump is not None and not (isinstance(scores, np.ndarray) or streams):
            print("--dump: class scores only (this task's per-video results are in --out)")
        elif dump is not None:
            write_dump(Path(dump), scores, labels, raw, predictions)
            print(f"scores and per-view logits dumped to {dump}")
        if report_dir is not None:
            if not single:
                print("report: the confusion matrix needs one label per video; skipped")
            else:
                names_k = _class_names(cfg, labels_file, flat.shape[1])
                report = write_report(Path(report_dir), flat, labels, names_k)
                print(f"report written: {', '.join(report)}")
    return {
        "metrics": results,
        "predictions": predictions,
        "out": str(out) if out else None,
        "bad_samples": bad_list,
        "dump": str(dump) if dump else None,
        "report": report,
    }
