"""Hooks: observers of the training loop (logging, checkpoints, timing).

A hook never changes the math. The loop (:func:`vidlab.engine.train.train` and
:func:`vidlab.engine.loop.train_epoch`) is::

    hooks.before_train(runner)
    for epoch in range(state.epoch, max_epochs):
        sampler.set_epoch(epoch)
        hooks.before_train_epoch(runner)
        for batch in train_loader:
            schedulers.step_iter(state.iter)             # lr/momentum of this iteration
            inputs, targets = task.prepare(batch, ...)   # to device, blending, views folded
            with autocast:                               # AMP: bf16, or fp16 + GradScaler
                loss = task.loss(model, model(inputs), targets) / accumulative_counts
            scaler.scale(loss).backward()
            if update_step:                              # every accumulative_counts iterations
                scaler.unscale_(optimizer); clip_gradients(optimizer, clip_grad)
                scaler.step(optimizer); scaler.update(); optimizer.zero_grad(set_to_none=True)
                ema.update(model, state.iter)
            state.iter += 1
            hooks.after_train_iter(runner, info)         # loss, lr, timings: logging only
        state.epoch += 1
        if validation due: metrics = evaluate(); hooks.after_val_epoch(runner, metrics)
        hooks.after_train_epoch(runner)                  # checkpoints: after validation, so the
                                                         # saved RNG state is where epoch+1 starts
    hooks.after_train(runner)

``runner`` is the loop's context (``runner.state``, ``runner.cfg``, ``runner.work_dir``,
``runner.max_epochs``, ``runner.is_main``, ``runner.log(msg)``,
``runner.save_checkpoint(path)``). The hooks that only carry MMEngine config names
(``ParamSchedulerHook``, ``DistSamplerSeedHook``, ...) live in :mod:`vidlab.compat.mmengine`;
their work is done in plain sight by the loop.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from pathlib import Path

from vidlab.config.errors import ConfigError

__all__ = ["CheckpointHook", "EMAHook", "Hook", "LoggerHook"]

# MMEngine's defaults for inferring ``rule`` from a metric name.
GREATER_KEYS = ("acc", "top", "AR@", "auc", "precision", "mAP", "mDice", "mIoU", "mAcc", "aAcc")
LESS_KEYS = ("loss",)


class Hook:
    """Base class: every event is a no-op. ``priority`` orders hooks (lower runs first)."""

    priority = 50

    def before_train(self, runner) -> None:
        """Called once, after the model, optimizer and loaders exist (and a resume loaded)."""

    def before_train_epoch(self, runner) -> None:
        """Called before the first iteration of each epoch."""

    def after_train_iter(self, runner, info: dict) -> None:
        """Called after each iteration with ``loss``, ``lr``, ``data_time``, ``time``,
        ``num_clips``."""

    def after_val_epoch(self, runner, metrics: dict) -> None:
        """Called with the validation metrics of the epoch just trained."""

    def after_train_epoch(self, runner) -> None:
        """Called at the end of each epoch, after its validation."""

    def after_train(self, runner) -> None:
        """Called once when training ends normally."""

    def state_dict(self) -> dict:
        """Hook state saved in checkpoints (e.g. the best score so far)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`."""


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------


class CheckpointHook(Hook):
    """Saves ``epoch_N.pth`` and ``best_<metric>_epoch_N.pth`` (MMEngine names and options).

    Args:
        interval: save every ``interval`` epochs (-1: never, except the last with ``save_last``).
        max_keep_ckpts: keep only the newest ``max_keep_ckpts`` epoch files (-1: all).
        save_last: always save the last epoch.
        save_best: ``'auto'`` (the first validation metric), a metric key such as
            ``'acc/top1'``, a list of keys, or ``None``.
        rule: ``'greater'`` or ``'less'`` (or a list matching ``save_best``); ``None`` infers it
            from the key (``acc``/``top``/``mAP``... greater, ``loss`` less).
        save_begin: first epoch that may be saved by ``interval``.
        out_dir: directory of the files (default: the work dir).
        by_epoch, save_optimizer, save_param_scheduler, filename_tmpl, greater_keys,
        less_keys, published_keys, **kwargs: accepted for MMEngine configs.
    """

    priority = 70

    _accepts_any_kwargs = True  # further MMEngine arguments (config validation)

    def __init__(
        self,
        interval: int = -1,
        by_epoch: bool = True,
        save_optimizer: bool = True,
        save_param_scheduler: bool = True,
        out_dir: str | None = None,
        max_keep_ckpts: int = -1,
        save_last: bool = True,
        save_best: str | list | None = None,
        rule: str | list | None = None,
        greater_keys: list | None = None,
        less_keys: list | None = None,
        filename_tmpl: str | None = None,
        published_keys: list | None = None,
        save_begin: int = 0,
        **kwargs,
    ):
        if not by_epoch:
            raise ConfigError(
                "default_hooks.checkpoint.by_epoch=False (iteration-based saving) is not "
                "supported by vidlab's epoch-based loop; use by_epoch=True with interval in epochs"
            )
        self.interval = int(interval)
        self.out_dir = out_dir
        self.max_keep_ckpts = int(max_keep_ckpts)
        self.save_last = save_last
        self.save_begin = int(save_begin)
        self.filename_tmpl = filename_tmpl or "epoch_{}.pth"
        self.greater_keys = tuple(greater_keys or GREATER_KEYS)
        self.less_keys = tuple(less_keys or LESS_KEYS)
        if isinstance(save_best, str) or save_best is None:
            self.save_best = [] if save_best is None else [save_best]
        else:
            self.save_best = list(save_best)
        rules = rule if isinstance(rule, list | tuple) else [rule] * len(self.save_best)
        if len(rules) != len(self.save_best):
            raise ValueError(
                f"default_hooks.checkpoint.rule has {len(rules)} entries for "
                f"{len(self.save_best)} save_best keys; give one rule per key"
            )
        for r in rules:
            if r not in (None, "greater", "less"):
                raise ValueError(
                    f"default_hooks.checkpoint.rule={r!r} is not valid; use 'greater' or 'less'"
                )
        self.rules = list(rules)
        self.best: dict[str, dict] = {}  # key -> {"score", "path", "rule", "epoch"}
        self.saved: list[str] = []
        self._pending_metrics: dict | None = None

    # -- state --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"best": self.best, "saved": self.saved}

    def load_state_dict(self, state: dict) -> None:
        self.best = dict(state.get("best", {}))
        self.saved = list(state.get("saved", []))

    # -- helpers ------------------------------------------------------------------------
    def _dir(self, runner) -> Path:
        return Path(self.out_dir) if self.out_dir else Path(runner.work_dir)

    def _rule_for(self, key: str, rule: str | None) -> str:
        if rule is not None:
            return rule
        if any(k.lower() in key.lower() for k in self.greater_keys):
            return "greater"
        if any(k.lower() in key.lower() for k in self.less_keys):
            return "less"
        raise ValueError(
            f"cannot infer whether a larger {key!r} is better; set "
            "default_hooks.checkpoint.rule='greater' or 'less'"
        )

    def _save(self, runner, path: Path) -> None:
        runner.save_checkpoint(path)
        write_last_checkpoint(self._dir(runner), path)

    # -- events -------------------------------------------------------------------------
    def before_train(self, runner) -> None:
        if runner.is_main:
            self._clean(runner)

    def _clean(self, runner) -> None:
        """Remove what a run killed at the end of an epoch may have left: temp files of
        unfinished writes, and best checkpoints that the resumed state does not know (written
        before the epoch's checkpoint; the resumed run redoes that epoch and writes them
        again)."""
        out = self._dir(runner)
        if not out.is_dir():
            return
        for tmp in out.glob("*.tmp"):
            if tmp.name.endswith(".pth.tmp") or tmp.name == "last_checkpoint.tmp":
                tmp.unlink(missing_ok=True)
                runner.log(f"removed {tmp.name}, left by an interrupted write")
        known = {v["path"] for v in self.best.values()}
        prefix, _, suffix = self.filename_tmpl.partition("{}")
        for key in self.save_best:
            if key == "auto" and not self.best:
                continue
            keys = list(self.best) if key == "auto" else [key]
            for k in keys:
                pattern = f"best_{k.replace('/', '_')}_{prefix}*{suffix}"
                for stale in out.glob(pattern):
                    if stale.name not in known:
                        stale.unlink(missing_ok=True)
                        runner.log(f"removed {stale.name}: written by an interrupted epoch end")

    def after_val_epoch(self, runner, metrics: dict) -> None:
        if not self.save_best or not metrics:
            return
        self._pending_metrics = dict(metrics)

    def after_train_epoch(self, runner) -> None:
        """The epoch's end in an order that a kill at any point leaves resumable: the best
        checkpoints first, then ``epoch_N.pth`` (whose hook state knows them), then
        ``last_checkpoint``, then the deletion of the files they replace. Killed before
        ``last_checkpoint`` changes, a resumed run redoes the epoch from the previous one and
        writes the same files; ``before_train`` removes the leftovers."""
        epoch = runner.state.epoch  # 1-based: epochs completed
        out = self._dir(runner)
        due = self.interval > 0 and epoch >= self.save_begin and epoch % self.interval == 0
        last = self.save_last and epoch == runner.max_epochs
        metrics, self._pending_metrics = self._pending_metrics, None
        if not runner.is_main:
            return
        path = out / self.filename_tmpl.format(epoch) if due or last else None
        if path is not None:
            runner.state.last_checkpoint = str(path)  # also in the state the best files hold
        replaced = self._save_best(runner, metrics, epoch, out) if metrics else []
        if path is not None:
            self._save(runner, path)
            # File names only: a run resumed in another directory never deletes the old files.
            if path.name not in self.saved:
                self.saved.append(path.name)
            while self.max_keep_ckpts > 0 and len(self.saved) > self.max_keep_ckpts:
                (out / self.saved.pop(0)).unlink(missing_ok=True)
        for old in replaced:
            old.unlink(missing_ok=True)

    def _save_best(self, runner, metrics: dict, epoch: int, out: Path) -> list[Path]:
        """Write the best checkpoints this epoch improves; returns the files they replace."""
        replaced = []
        for key, rule in zip(self.save_best, self.rules):
            if key == "auto":
                key = next(iter(metrics))
            if key not in metrics:
                raise KeyError(
                    f"default_hooks.checkpoint.save_best={key!r} is not among the validation "
                    f"metrics {sorted(metrics)}"
                )
            rule = self._rule_for(key, rule)
            score = float(metrics[key])
            previous = self.best.get(key)
            better = previous is None or (
                score > previous["score"] if rule == "greater" else score < previous["score"]
            )
            if not better or math.isnan(score):
                continue
            path = out / f"best_{key.replace('/', '_')}_{self.filename_tmpl.format(epoch)}"
            self.best[key] = {"score": score, "path": path.name, "rule": rule, "epoch": epoch}
            runner.state.best[key] = score
            runner.save_checkpoint(path, record=False)
            if previous and previous["path"] != path.name:
                replaced.append(out / Path(previous["path"]).name)
            runner.log(f"best {key} = {score:.4f} at epoch {epoch}: saved {path.name}")
        return replaced


# --------------------------------------------------------------------------------------------
# logging
# --------------------------------------------------------------------------------------------


class LoggerHook(Hook):
    """Progress bar, ``log.jsonl`` and ``train.log`` in the work dir (rank 0 only).

    Every ``interval`` iterations one JSON object ``{"mode": "train", "epoch", "iter", "lr",
    "loss", "data_time", "time", "clips_per_s"}`` is written, averaged over the window;
    validation adds ``{"mode": "val", "epoch", "acc/top1", ...}``.

    Args:
        interval: iterations per logged line.
        ignore_last: do not log the last, shorter window of an epoch (an epoch of at most
            ``interval`` iterations is logged at its end all the same, as MMEngine does).
        progress: show a tqdm bar (default: when stderr is a terminal).
        interval_exp_name, out_dir, out_suffix, keep_local, file_client_args,
        log_metric_by_epoch, backend_args, **kwargs: accepted for MMEngine configs.
    """

    priority = 90

    _accepts_any_kwargs = True  # further MMEngine arguments (config validation)

    def __init__(
        self,
        interval: int = 10,
        ignore_last: bool = True,
        interval_exp_name: int = 1000,
        out_dir: str | None = None,
        out_suffix=(".json", ".log", ".py", "yaml"),
        keep_local: bool = True,
        file_client_args=None,
        log_metric_by_epoch: bool = True,
        backend_args=None,
        progress: bool | None = None,
        **kwargs,
    ):
        self.interval = max(int(interval), 1)
        self.ignore_last = ignore_last
        self.progress = progress
        self._window: list[dict] = []
        self._bar = None
        self._writers: list = []

    def before_train(self, runner) -> None:
        if not runner.is_main:
            return
        self._jsonl = Path(runner.work_dir) / "log.jsonl"
        from vidlab.engine.logs import writers_from_config

        # TensorBoard from `visualizer` / `log_config`: without the package its writers are
        # no-ops, and a run the config asked to log there must say so, once, in its own log.
        writers = list(writers_from_config(runner.cfg, runner.work_dir))
        if any(not w.enabled for w in writers):
            message = (
                "TensorBoard logging is off: the config asks for it, but the tensorboard "
                "package is not installed (pip install tensorboard); the scalars are still "
                "in log.jsonl"
            )
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            runner.log(f"warning: {message}")
        self._writers = [w for w in writers if w.enabled]

    def _write(self, record: dict, step: int) -> None:
        with open(self._jsonl, "a") as f:
            f.write(json.dumps(record) + "\n")
        scalars = {
            f"{record['mode']}/{k}": v
            for k, v in record.items()
            if isinstance(v, int | float) and k not in ("epoch", "iter")
        }
        for w in self._writers:
            w.add_scalars(scalars, step)

    def before_train_epoch(self, runner) -> None:
        self._window = []
        if not runner.is_main:
            return
        show = self.progress if self.progress is not None else os.isatty(2)
        if show:
            from tqdm import tqdm

            self._bar = tqdm(
                total=runner.iters_per_epoch,
                desc=f"epoch {runner.state.epoch + 1}/{runner.max_epochs}",
                dynamic_ncols=True,
                leave=False,
            )
        self._epoch_start = time.perf_counter()

    def after_train_iter(self, runner, info: dict) -> None:
        if not runner.is_main:
            return
        self._window.append(info)
        if self._bar is not None:
            self._bar.update(1)
            step = info["time"] or 1e-9
            self._bar.set_postfix_str(
                f"loss {info['loss']:.4f} lr {info['lr']:.3g} "
                f"{info['num_clips'] / step:.1f} clips/s data {info['data_time'] * 1e3:.0f}ms "
                f"step {info['time'] * 1e3:.0f}ms eta {_fmt_eta(runner.eta_seconds())}",
                refresh=False,
            )
        end_of_epoch = info["epoch_iter"] == runner.iters_per_epoch
        # MMEngine's rule: an epoch no longer than the interval still logs its last iteration,
        # else a small dataset would train without one loss in the log (MMPose's FAQ).
        short_epoch = runner.iters_per_epoch <= self.interval
        if len(self._window) >= self.interval or (
            end_of_epoch and (not self.ignore_last or short_epoch)
        ):
            self._flush(runner, info)

    def _flush(self, runner, last: dict) -> None:
        w = self._window
        self._window = []
        if not w:
            return
        n = len(w)
        total_time = sum(x["time"] for x in w)
        record = {
            "mode": "train",
            "epoch": last["epoch"],
            "iter": last["iter"],
            "lr": last["lr"],
            "loss": sum(x["loss"] for x in w) / n,
            "data_time": sum(x["data_time"] for x in w) / n,
            "time": total_time / n,
            "clips_per_s": sum(x["num_clips"] for x in w) / max(total_time, 1e-9),
        }
        # each source's loss with other loaders (MultiLoaderEpochBasedTrainLoop)
        terms = {k: sum(x["losses"][k] for x in w) / n for k in last.get("losses", {})}
        record.update(terms)
        self._write(record, last["iter"])
        parts = "".join(f" {k} {v:.4f}" for k, v in terms.items())
        runner.log(
            f"epoch {record['epoch']} iter {last['epoch_iter']}/{runner.iters_per_epoch} "
            f"lr {record['lr']:.4g} loss {record['loss']:.4f}{parts} time {record['time']:.3f}s "
            f"data {record['data_time']:.3f}s {record['clips_per_s']:.1f} clips/s "
            f"eta {_fmt_eta(runner.eta_seconds())}",
            echo=self._bar is None,
        )

    def after_val_epoch(self, runner, metrics: dict) -> None:
        self._close_bar()  # before printing: the bar of the finished epoch is done
        if not runner.is_main:
            return
        record = {"mode": "val", "epoch": runner.state.epoch, **metrics}
        self._write(record, runner.state.iter)
        from vidlab.engine.evaluate import format_metric

        text = "  ".join(f"{k} {format_metric(v)}" for k, v in metrics.items())
        runner.log(f"epoch {runner.state.epoch} val: {text}")

    def after_train_epoch(self, runner) -> None:
        self._close_bar()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def after_train(self, runner) -> None:
        for w in self._writers:
            w.close()


def write_last_checkpoint(directory: Path, path: Path) -> None:
    """Record ``path`` in ``directory/last_checkpoint``, relative to ``directory`` (so that a
    copied or moved work dir resumes from its own files), atomically."""
    directory = Path(directory)
    try:
        recorded = os.path.relpath(Path(path).resolve(), directory.resolve())
    except ValueError:  # another drive (Windows)
        recorded = str(Path(path).resolve())
    marker = directory / "last_checkpoint"
    tmp = marker.with_name("last_checkpoint.tmp")
    tmp.write_text(recorded)
    os.replace(tmp, marker)


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"


# --------------------------------------------------------------------------------------------
# EMA
# --------------------------------------------------------------------------------------------


class EMAHook(Hook):
    """MMEngine's ``EMAHook`` config: the loop keeps an exponential moving average of the model,
    validates and checkpoints it (``state_dict`` holds the averaged weights, as MMEngine).

    Args:
        ema_type: ``'ExponentialMovingAverage'`` (or another type ``vidlab.engine.ema`` knows).
        strict_load: accepted for configs.
        begin_iter: first iteration that updates the average.
        begin_epoch: first epoch that updates the average.
        **kwargs: passed to the average (``momentum``, ``interval``, ``update_buffers``).
    """

    _accepts_any_kwargs = True  # further MMEngine arguments (config validation)

    def __init__(
        self,
        ema_type: str = "ExponentialMovingAverage",
        strict_load: bool = False,
        begin_iter: int = 0,
        begin_epoch: int = 0,
        **kwargs,
    ):
        self.cfg = dict(ema_type=ema_type, begin_iter=begin_iter, begin_epoch=begin_epoch, **kwargs)
