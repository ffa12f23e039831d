"""The training step and epoch, in plain sight.

One iteration of :func:`train_epoch`::

    schedulers.step_iter(state.iter)                       # lr/momentum of this iteration
    inputs, targets = task.prepare(batch, device, model)   # to device, blend, fold views
    with autocast:                                         # AMP: bf16, or fp16 + GradScaler
        loss = task.loss(model, model(inputs), targets)    # sum of task.loss_terms, each logged
        # (a dict of inputs, one per modality, is passed as model(**inputs))
        # other loaders (OmniSource): + the same for one batch of each, in the same step
    stop if the loss is not finite                         # before the update
    scaler.scale(loss / accumulated).backward()            # DDP syncs on the update step only
    if update step:                                        # every accumulative_counts iterations
        scaler.unscale_(optimizer); clip_gradients(optimizer, clip_grad)
        scaler.step(optimizer); scaler.update(); optimizer.zero_grad(set_to_none=True)
        ema.update(model, state.iter)
    state.iter += 1; hooks.after_train_iter(info)          # loss, lr, timings: logging only

What is particular to a task (the batch's layout, the loss) is the task's
(:mod:`vidlab.tasks`); everything else is here.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from vidlab.engine.optim import clip_gradients

__all__ = ["TrainingError", "train_epoch"]


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, out of memory); the message says what to try."""


def train_epoch(
    runner, loader, setup, device, amp_dtype, memory_format=None, other_loaders=()
) -> None:
    """One epoch over ``loader``: ``runner.state.iter`` advances by one per batch trained.

    With ``other_loaders`` (``MultiLoaderEpochBasedTrainLoop``, OmniSource) each step takes one
    batch of every loader, runs the model on each and backpropagates the sum of their losses
    (MMAction2's ``RecognizerOmni.loss`` + MMEngine's sum of loss terms); the epoch ends with
    the shortest loader, and every loader starts over the next epoch.

    Args:
        runner: the run (:class:`vidlab.engine.state.Runner`): its task, models, optimizer,
            schedulers, scaler, EMA, hooks and state.
        loader: the training loader.
        setup: the :class:`vidlab.engine.optim.OptimSetup` (clipping, accumulation).
        device: where the model is.
        amp_dtype: the autocast dtype, or None.
        memory_format: ``torch.channels_last_3d`` to convert the inputs, or None.
    """
    task = runner.task
    model, raw = runner.train_model, runner.model  # forward through wrappers; loss on the module
    optimizer, scaler, ema = runner.optimizer, runner.scaler, runner.ema
    acc = max(int(getattr(setup, "accumulative_counts", 1) or 1), 1)
    clip_grad = getattr(setup, "clip_grad", None)
    n = min(len(x) for x in (loader, *other_loaders))
    # Accumulation restarts each epoch: the last group of an epoch may be shorter
    # (its losses are divided by its own length), so no gradient crosses a checkpoint.
    remainder = n % acc
    is_ddp = isinstance(model, nn.parallel.DistributedDataParallel)
    warned_single = False

    model.train()
    t_end = time.perf_counter()
    for i, batches in enumerate(zip(loader, *other_loaders)):
        t_data = time.perf_counter() - t_end
        batch = batches[0]
        for b in batches:
            runner.num_skipped += record_skipped(runner.bad_samples, b, runner.log)
        if any(is_empty(b, task) for b in batches):  # all skipped (on_error='skip')
            continue
        if runner.schedulers is not None:
            runner.schedulers.step_iter(runner.state.iter)
        sources = [task.prepare(b, device, model=raw, memory_format=memory_format) for b in batches]
        num_samples = num_inputs(sources[0][0])
        if runner.has_bn and any(num_inputs(x) == 1 for x, _ in sources):
            if not warned_single:
                runner.log(
                    f"note: skipped a training batch of one clip at epoch "
                    f"{runner.state.epoch + 1}: BatchNorm cannot normalize a single value per "
                    "channel (set train_dataloader.drop_last=True to avoid it)"
                )
                warned_single = True
            continue
        group = acc if (remainder == 0 or i < n - remainder) else remainder
        update = (i + 1) % acc == 0 or i + 1 == n
        sync = contextlib.nullcontext() if (update or not is_ddp) else model.no_sync()
        try:
            with sync:
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    terms = [_loss_terms(task, raw, forward(model, x), y) for x, y in sources]
                    losses = [sum(t.values()) for t in terms]  # one per source
                    loss = losses[0] if len(losses) == 1 else sum(losses)
                loss_value = loss.detach().float().item()
                if not math.isfinite(loss_value):
                    raise nan_error(runner, loss_value, i, n)
                scaled = loss / group
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
            if update:
                if scaler is not None:
                    scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                clip_gradients(optimizer, clip_grad)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update(runner.static_loss_scale)  # None: dynamic scaling
                else:
                    optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if ema is not None:
                    ema.update(raw, runner.state.iter)
        except torch.cuda.OutOfMemoryError as e:
            where = f"training (epoch {runner.state.epoch + 1}, iter {i + 1})"
            raise oom_error(task.batch_size(batch), where) from e
        runner.state.iter += 1
        t_now = time.perf_counter()
        info = {
            "epoch": runner.state.epoch + 1,
            "iter": runner.state.iter,
            "epoch_iter": i + 1,
            "loss": loss_value,
            "lr": optimizer.param_groups[0]["lr"],
            "data_time": t_data,
            "time": t_now - t_end,
            "num_clips": num_samples,
        }
        if other_loaders or len(terms[0]) > 1:
            info["losses"] = _named_losses(terms, losses)
        runner.call("after_train_iter", info)
        t_end = t_now


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def oom_error(batch_size: int, where: str) -> TrainingError:
    """What to try after CUDA ran out of memory during ``where``."""
    return TrainingError(
        f"CUDA out of memory during {where} with batch_size={batch_size}. Try: a smaller "
        "batch size (train_dataloader.batch_size / test_dataloader.batch_size), --amp, "
        "gradient accumulation (optim_wrapper.accumulative_counts=2 with half the batch size), "
        "and for testing fewer views (fewer num_clips/crops) or "
        "model.test_cfg.max_testing_views=N to run the views in chunks"
    )


def forward(model, inputs):
    """``model(inputs)``; a dict of inputs (one per modality, e.g. RGBPoseConv3D's ``imgs`` and
    ``heatmap_imgs``) is passed as keyword arguments."""
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(inputs)


def num_inputs(inputs) -> int:
    """Samples in a prepared batch of inputs (a tensor, or a dict of tensors per modality)."""
    if isinstance(inputs, Mapping):
        return len(next(iter(inputs.values())))
    return len(inputs)


def _loss_terms(task, model, outputs, targets) -> dict:
    """``task.loss_terms``, or ``{"loss": task.loss(...)}`` for a task that only has ``loss``."""
    terms = getattr(task, "loss_terms", None)
    if terms is None:
        return {"loss": task.loss(model, outputs, targets)}
    return terms(model, outputs, targets)


def _named_losses(terms: list[dict], losses: list) -> dict[str, float]:
    """The logged parts of a step's loss: each source's loss with other loaders (``loss_cls_k``,
    as MMAction2 names them) and each term of a loss with several (``loss_aux``; ``_k`` added
    with other loaders)."""
    named = {}
    for k, (source_terms, total) in enumerate(zip(terms, losses)):
        suffix = f"_{k}" if len(terms) > 1 else ""
        if len(terms) > 1:
            named[f"loss_cls_{k}"] = total.item()
        if len(source_terms) > 1:
            named.update({f"{name}{suffix}": v.item() for name, v in source_terms.items()})
    return named


def nan_error(runner, value: float, i: int, n: int) -> TrainingError:
    """Where the loss stopped being finite, the last good checkpoint, and what to try."""
    last = runner.state.last_checkpoint or "none saved yet"
    return TrainingError(
        f"the loss is {value} at epoch {runner.state.epoch + 1}, iteration {i + 1}/{n} "
        f"(global iteration {runner.state.iter + 1}); training stopped before the update. "
        f"Last good checkpoint: {last}. Try a lower learning rate "
        "(optim_wrapper.optimizer.lr), gradient clipping "
        "(optim_wrapper.clip_grad=dict(max_norm=40, norm_type=2)), a longer warm-up "
        "(a LinearLR entry in param_scheduler), or check the data and labels"
    )


# --------------------------------------------------------------------------------------------
# skipped samples (datasets with on_error='skip' list them in batch["skipped"])
# --------------------------------------------------------------------------------------------


def record_skipped(bad: dict, batch, log) -> int:
    """Add the batch's skipped samples to ``bad`` (path -> reason), logging each new file once;
    returns how many samples of the batch were skipped."""
    skipped = batch.get("skipped") if isinstance(batch, dict) else None
    for item in skipped or ():
        if item.path not in bad:
            bad[item.path] = item.reason
            log(f"skipped {item.path} (listed at {item.where}): {item.reason}")
    return len(skipped or ())


def is_empty(batch, task) -> bool:
    """Whether every sample of ``batch`` was skipped."""
    return batch is None or task.batch_size(batch) == 0


def write_bad_samples(bad: dict, work_dir: Path) -> Path:
    """``path<TAB>reason`` per skipped file, written to ``work_dir/bad_samples.txt``."""
    path = Path(work_dir) / "bad_samples.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{p}\t{r}\n" for p, r in sorted(bad.items())), encoding="utf-8")
    return path
