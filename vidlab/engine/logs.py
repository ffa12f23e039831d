"""Training logs: ``analyze_logs`` (summary table and curves) and a TensorBoard writer.

The loop writes ``<work_dir>/log.jsonl``, one JSON object per line::

    {"mode": "train", "epoch": 1, "iter": 10, "lr": 0.01, "loss": 2.3, "time": 0.41, ...}
    {"mode": "val", "epoch": 1, "acc/top1": 0.25, "acc/top5": 0.8, "acc/mean1": 0.24}

``analyze_logs`` also reads MMEngine's ``vis_data/scalars.json`` (no ``mode``; a global
``step``) and MMAction2 0.x ``*.log.json`` files (``mode``, per-epoch ``iter``), so that old runs
can be compared with new ones.

MMAction2's ways of asking for TensorBoard map onto :class:`TensorboardWriter` through
:func:`writers_from_config`: 1.x ``visualizer=dict(type='ActionVisualizer',
vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])`` and 0.x
``log_config=dict(hooks=[dict(type='TensorboardLoggerHook')])``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

LOG_NAME = "log.jsonl"
TENSORBOARD_DIR = "tf_logs"  # MMCV's TensorboardLoggerHook default, under the work dir
# Bookkeeping fields of a record: positions on the x axis, not curves.
_INDEX_KEYS = ("mode", "epoch", "iter", "step")
_LESS_IS_BETTER = ("loss", "time", "err", "memory")
_GREATER_IS_BETTER = ("acc", "top", "map", "mean", "precision", "recall", "clips_per_s")


class LogError(ValueError):
    """A problem with the logs or keys a user asked to analyze; the message says what to do."""


# ------------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------------


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def resolve_log_path(path: str | os.PathLike) -> Path:
    """A log file, or a work dir holding ``log.jsonl``."""
    p = Path(path)
    if p.is_dir():
        candidate = p / LOG_NAME
        if not candidate.is_file():
            raise FileNotFoundError(f"{p} is a directory without {LOG_NAME}; pass the log file")
        return candidate
    if not p.is_file():
        raise FileNotFoundError(f"no such log file: {p}")
    return p


def load_log(path: str | os.PathLike) -> list[dict]:
    """The records of a JSON-lines log, each with ``mode`` and ``epoch`` filled in.

    Lines that are not JSON objects are skipped with a warning (a run killed mid-write leaves a
    half line at the end). Records without a ``mode`` (MMEngine's scalars.json) are train
    records when they have ``lr`` or ``loss``, else val records (whose ``step`` is the epoch).
    Records with no numeric field, and MMAction2 0.x's header line (``env_info``, ``config``),
    are dropped.
    """
    path = resolve_log_path(path)
    records, bad = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                bad.append(lineno)
                continue
            if not isinstance(rec, dict):
                bad.append(lineno)
                continue
            if "env_info" in rec or "config" in rec:  # MMAction2 0.x's header line
                continue
            if not any(_is_number(v) for k, v in rec.items() if k not in _INDEX_KEYS):
                continue
            if "mode" not in rec:
                rec["mode"] = "train" if ("lr" in rec or "loss" in rec) else "val"
            if "epoch" not in rec and rec["mode"] != "train" and _is_number(rec.get("step")):
                rec["epoch"] = rec["step"]  # MMEngine writes a val record's epoch as its step
            records.append(rec)
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
        logger.warning(
            "%s: skipped %d line(s) that are not JSON objects (line %s)", path, len(bad), shown
        )
    return records


def _train_x(records: list[dict]) -> tuple[list[float], str]:
    """An iteration axis for train records: global ``step``, or ``iter`` made global."""
    if records and all(_is_number(r.get("step")) for r in records):
        return [float(r["step"]) for r in records], "iteration"
    if not records or not all(_is_number(r.get("iter")) for r in records):
        return [float(i) for i in range(len(records))], "logged record"
    iters = [float(r["iter"]) for r in records]
    if all(b >= a for a, b in zip(iters, iters[1:])):
        return iters, "iteration"  # already global
    # `iter` restarts every epoch: offset each epoch by the length of the ones before, taken as
    # the largest per-epoch iter logged (exact up to the logging interval).
    per_epoch = max(iters)
    return [(float(r.get("epoch", 1)) - 1) * per_epoch + it for r, it in zip(records, iters)], (
        "iteration"
    )


def _rule(key: str) -> str | None:
    k = key.lower()
    if any(s in k for s in _LESS_IS_BETTER):
        return "less"
    if any(s in k for s in _GREATER_IS_BETTER):
        return "greater"
    return None


def _keys_by_mode(records: list[dict]) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for r in records:
        seen = keys.setdefault(r["mode"], [])
        for k, v in r.items():
            if k not in _INDEX_KEYS and _is_number(v) and k not in seen:
                seen.append(k)
    return keys


def _series(records: list[dict], key: str, mode: str) -> dict:
    """x, y, epochs of one key in one mode."""
    recs = [r for r in records if r["mode"] == mode and _is_number(r.get(key))]
    if mode == "train":
        xs, xlabel = _train_x(recs)
    else:
        xs = [float(r.get("epoch", i + 1)) for i, r in enumerate(recs)]
        xlabel = "epoch"
    return dict(
        x=xs,
        y=[float(r[key]) for r in recs],
        epochs=[r.get("epoch") for r in recs],
        xlabel=xlabel,
    )


def _stats(series: dict, key: str, mode: str) -> dict:
    y = series["y"]
    finite = [v for v in y if math.isfinite(v)]
    out: dict[str, Any] = dict(
        mode=mode,
        count=len(y),
        first=y[0],
        last=y[-1],
        min=min(finite) if finite else float("nan"),
        max=max(finite) if finite else float("nan"),
        rule=_rule(key),
        best=None,
        best_epoch=None,
    )
    if out["rule"] and finite:
        pick = min if out["rule"] == "less" else max
        # The first occurrence of the best value: the epoch a checkpoint would have saved.
        i = y.index(pick(finite))
        out["best"], out["best_epoch"] = y[i], series["epochs"][i]
    return out


# ------------------------------------------------------------------------------------------------
# analyze_logs
# ------------------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.4e}"
        return f"{v:.4f}"
    return str(v)


def format_summary(summary: dict[str, dict[str, dict]]) -> str:
    """The per-log tables of :func:`analyze_logs` as text."""
    header = ("key", "mode", "count", "first", "last", "min", "max", "best", "best epoch")
    blocks = []
    for path, per_key in summary.items():
        rows = [header]
        for key, s in per_key.items():
            rows.append(
                (
                    key,
                    s["mode"],
                    str(s["count"]),
                    _fmt(s["first"]),
                    _fmt(s["last"]),
                    _fmt(s["min"]),
                    _fmt(s["max"]),
                    _fmt(s["best"]),
                    _fmt(s["best_epoch"]),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [str(path)] + [
            "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _pick_mode(key: str, mode: str, keys_by_mode: dict[str, list[str]]) -> str | None:
    if key in keys_by_mode.get(mode, ()):
        return mode
    # A key logged only by another mode (acc/top1 asked with mode='train') is taken from there,
    # so that `--keys loss acc/top1` plots both.
    for other, keys in keys_by_mode.items():
        if key in keys:
            return other
    return None


def analyze_logs(
    log_paths: str | os.PathLike | Sequence[str | os.PathLike],
    keys: Iterable[str] = ("loss",),
    out: str | os.PathLike | None = None,
    title: str | None = None,
    mode: str = "train",
    legend: Sequence[str] | None = None,
) -> dict:
    """Summarize (and with ``out``, plot) scalars of one or more training logs.

    Args:
        log_paths: ``log.jsonl`` files (or work dirs holding one), compared side by side.
        keys: scalars to show, e.g. ``("loss", "lr", "acc/top1")``.
        out: figure file (``.png``, ``.pdf``, ``.svg``); needs matplotlib (``pip install
            'vidlab[plot]'``). Without it only the table is printed.
        title: figure title.
        mode: ``"train"`` or ``"val"``: the records a key is read from first. A key found only
            in the other mode's records is read from there.
        legend: one label per log (default: the file paths).

    Returns:
        ``{"summary": {log path: {key: {mode, count, first, last, min, max, rule, best,
        best_epoch}}}, "out": figure path or None}``; the table is printed to stdout.

    Raises:
        FileNotFoundError: a log does not exist.
        LogError: a key is in none of a log's records (the message lists the keys present), a
            log holds no records, or matplotlib is missing when ``out`` is given.
    """
    if isinstance(log_paths, str | os.PathLike):
        log_paths = [log_paths]
    keys = [keys] if isinstance(keys, str) else list(keys)
    if not keys:
        raise LogError("no keys given; pass e.g. keys=('loss',) or --keys loss acc/top1")
    if mode not in ("train", "val", "test"):
        raise LogError(f"mode={mode!r}: use 'train' or 'val'")
    if legend is not None and len(legend) != len(log_paths):
        raise LogError(f"{len(legend)} legend labels for {len(log_paths)} logs")

    summary: dict[str, dict[str, dict]] = {}
    curves: list[tuple[str, str, dict]] = []  # (label, key, series)
    for i, raw in enumerate(log_paths):
        path = resolve_log_path(raw)
        records = load_log(path)
        if not records:
            raise LogError(f"{path} holds no scalar records (is it a log.jsonl of a run?)")
        keys_by_mode = _keys_by_mode(records)
        per_key: dict[str, dict] = {}
        for key in keys:
            key_mode = _pick_mode(key, mode, keys_by_mode)
            if key_mode is None:
                present = "; ".join(f"{m}: {', '.join(ks)}" for m, ks in keys_by_mode.items())
                raise LogError(f"key {key!r} is not in {path}; keys present: {present}")
            series = _series(records, key, key_mode)
            per_key[key] = _stats(series, key, key_mode)
            curves.append((legend[i] if legend else str(raw), key, series))
        summary[str(path)] = per_key

    print(format_summary(summary))
    figure = None
    if out is not None:
        figure = str(_plot(curves, keys, out, title))
        print(f"saved the figure to {figure}")
    return dict(summary=summary, out=figure)


def _plot(curves: list[tuple[str, str, dict]], keys: list[str], out, title: str | None) -> Path:
    try:
        import matplotlib
    except ImportError:
        raise LogError(
            "plotting needs matplotlib, which is not installed: pip install 'vidlab[plot]' "
            "(or pip install matplotlib); the summary table above needs nothing more"
        ) from None
    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out = Path(out)
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    # One panel per key: train keys are over iterations, val keys over epochs.
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 3.2 * len(keys)), squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        for label, k, s in curves:
            if k != key:
                continue
            marker = "o" if s["xlabel"] == "epoch" else None
            ax.plot(s["x"], s["y"], label=label, marker=marker, linewidth=1.2)
            ax.set_xlabel(s["xlabel"])
            if s["xlabel"] in ("epoch", "iteration"):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if len({c[0] for c in curves}) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


# ------------------------------------------------------------------------------------------------
# TensorBoard
# ------------------------------------------------------------------------------------------------

_tensorboard_warned = False


def _summary_writer_class():
    """``torch.utils.tensorboard.SummaryWriter``, or None with a one-time message."""
    global _tensorboard_warned
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        if not _tensorboard_warned:
            _tensorboard_warned = True
            logger.warning(
                "TensorBoard logging is off: the tensorboard package is not installed (%s). "
                "Install it with: pip install 'vidlab[tensorboard]' (or pip install tensorboard); "
                "the scalars are still in log.jsonl.",
                err,
            )
        return None
    return SummaryWriter


class TensorboardWriter:
    """Scalars to TensorBoard event files, when the ``tensorboard`` package is installed.

    Without it, every call is a no-op and one message says how to install it. Keys are written
    as given (``loss``, ``lr``, ``acc/top1``, as MMEngine's TensorboardVisBackend does); the
    bookkeeping fields ``mode``, ``epoch``, ``iter``, ``step`` and non-numeric values are
    skipped; records whose ``mode`` is not ``train`` get that mode as a prefix on keys without a
    ``/`` (``val/time``), so that they do not mix with the train curves of the same name.
    """

    def __init__(self, log_dir: str | os.PathLike):
        self.log_dir = Path(log_dir)
        cls = _summary_writer_class()
        self._writer = None
        if cls is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._writer = cls(log_dir=str(self.log_dir))

    @property
    def enabled(self) -> bool:
        return self._writer is not None

    def add_scalars(self, scalars: dict, step: int) -> None:
        """Write every numeric entry of ``scalars`` at ``step``."""
        if self._writer is None:
            return
        mode = scalars.get("mode", "train")
        for key, value in scalars.items():
            if key in _INDEX_KEYS:
                continue
            if hasattr(value, "item") and getattr(value, "numel", lambda: 1)() == 1:
                value = value.item()  # 0-d tensors and NumPy scalars
            if not _is_number(value):
                continue
            tag = key if (mode == "train" or "/" in key) else f"{mode}/{key}"
            self._writer.add_scalar(tag, float(value), int(step))

    def add_scalar(self, key: str, value: float, step: int) -> None:
        self.add_scalars({key: value}, step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> TensorboardWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _type_name(t: Any) -> str:
    if isinstance(t, str):
        return t.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    return getattr(t, "__name__", str(t))


def _get(node: Any, key: str, default: Any = None) -> Any:
    if isinstance(node, dict):
        return node.get(key, default)
    return getattr(node, key, default)


def writers_from_config(cfg: Any, work_dir: str | os.PathLike) -> list[TensorboardWriter]:
    """The scalar writers a config asks for, besides the loop's own log.jsonl.

    Reads MMAction2 1.x ``visualizer.vis_backends`` (``TensorboardVisBackend``; its
    ``save_dir`` if given) and 0.x ``log_config.hooks`` (``TensorboardLoggerHook``; its
    ``log_dir`` if given). ``LocalVisBackend`` / ``TextLoggerHook`` are what log.jsonl and
    train.log already are; other backends (W&B, MLflow, ...) are not supported and are named in
    a warning. The event files go to ``<work_dir>/tf_logs`` unless the config names a directory
    (relative ones are taken under the work dir). Only the main process gets writers.
    """
    from vidlab.engine.distributed import is_main_process

    work_dir = Path(work_dir)
    wanted: list[Path] = []
    ignored: list[str] = []

    def add(dir_value: Any) -> None:
        d = Path(dir_value) if dir_value else Path(TENSORBOARD_DIR)
        d = d if d.is_absolute() else work_dir / d
        if d not in wanted:
            wanted.append(d)

    visualizer = _get(cfg, "visualizer")
    for backend in _get(visualizer, "vis_backends", None) or ():
        name = _type_name(_get(backend, "type", ""))
        if name == "TensorboardVisBackend":
            add(_get(backend, "save_dir"))
        elif name != "LocalVisBackend":
            ignored.append(f"visualizer.vis_backends: {name}")
    log_config = _get(cfg, "log_config")
    for hook in _get(log_config, "hooks", None) or ():
        name = _type_name(_get(hook, "type", ""))
        if name == "TensorboardLoggerHook":
            add(_get(hook, "log_dir"))
        elif name not in ("TextLoggerHook", "JsonLoggerHook"):
            ignored.append(f"log_config.hooks: {name}")
    if ignored and is_main_process():
        logger.warning(
            "not supported, ignored (scalars are in log.jsonl and, if configured, TensorBoard): %s",
            "; ".join(ignored),
        )
    if not is_main_process():
        return []
    return [TensorboardWriter(d) for d in wanted]


__all__ = [
    "LogError",
    "TensorboardWriter",
    "analyze_logs",
    "format_summary",
    "load_log",
    "resolve_log_path",
    "writers_from_config",
]
