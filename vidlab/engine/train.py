"""Training and testing: the loop in plain sight.

``train(cfg)`` runs an MMAction2 1.x config: it builds the model, loaders, optimizer, schedules
and hooks, then runs the epoch loop of :func:`_train_epoch` whose step is ordinary PyTorch
code (to device, blend, autocast, loss, backward with accumulation, unscale and clip, step).
``TrainState`` is the only mutable state; a checkpoint holds it with the model, optimizer,
schedules, scaler, EMA and RNG states, so a resumed run ends with the same weights as one that
never stopped. ``test(cfg, checkpoint)`` runs multi-view inference and the metrics.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import pickle
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidlab.config.errors import ConfigError
from vidlab.checkpoint import (
    CheckpointError,
    find_last_checkpoint,
    load_checkpoint,
    load_weights,
    model_state_dict,
    save_checkpoint,
    unwrap_model,
)

__all__ = [
    "TrainState",
    "TrainingError",
    "evaluate",
    "test",
    "train",
]

log = logging.getLogger("vidlab.train")


class TrainingError(RuntimeError):
    """Training cannot go on (non-finite loss, out of memory); the message says what to try."""


# --------------------------------------------------------------------------------------------
# the state
# --------------------------------------------------------------------------------------------


@dataclass
class TrainState:
    """The loop's mutable state.

    Attributes:
        epoch: epochs completed.
        iter: iterations completed (over all epochs).
        seed: the run's seed.
        best: best validation score per ``save_best`` key.
        last_checkpoint: the newest checkpoint written.
    """

    epoch: int = 0
    iter: int = 0
    seed: int | None = None
    best: dict = field(default_factory=dict)
    last_checkpoint: str | None = None

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            if hasattr(self, key):
                setattr(self, key, value)


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _get(cfg, key: str, default=None):
    value = cfg.get(key, default) if isinstance(cfg, dict) else getattr(cfg, key, default)
    return default if value is None else value


def _build(node, key_path: str = "", **injected):
    """Build a config node with ``vidlab.config.build`` (built objects pass through)."""
    if not isinstance(node, dict):
        return node
    from vidlab.config import build

    return build(node, key_path=key_path, **injected)


def _cfg_text(cfg) -> str:
    if hasattr(cfg, "pretty_text"):
        try:
            return cfg.pretty_text()
        except Exception as e:  # a config holding objects may not print as source
            return f"# config could not be printed as source: {e}\n{cfg!r}"
    return repr(cfg)


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (np_state[0], np_state[1].tolist(), *np_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def _set_memory_format(model: nn.Module) -> str | None:
    """channels_last for 2D convnets, channels_last_3d for 3D ones (their weights)."""
    has3d = any(isinstance(m, nn.Conv3d) for m in model.modules())
    has2d = any(isinstance(m, nn.Conv2d) for m in model.modules())
    for p in model.parameters():
        if p.dim() == 4 and has2d:
            p.data = p.data.contiguous(memory_format=torch.channels_last)
        elif p.dim() == 5 and has3d:
            p.data = p.data.contiguous(memory_format=torch.channels_last_3d)
    return "channels_last_3d" if has3d else ("channels_last" if has2d else None)


def _oom_error(e: Exception, batch_size: int, where: str) -> TrainingError:
    return TrainingError(
        f"CUDA out of memory during {where} with batch_size={batch_size}. Try: a smaller "
        "batch size (train_dataloader.batch_size / test_dataloader.batch_size), --amp, "
        "gradient accumulation (optim_wrapper.accumulative_counts=2 with half the batch size), "
        "and for testing fewer views (fewer num_clips/crops) or "
        "model.test_cfg.max_testing_views=N to run the views in chunks"
    )


# --------------------------------------------------------------------------------------------
# the run context handed to hooks
# --------------------------------------------------------------------------------------------


class _Runner:
    """Everything a run holds; hooks read it and call ``log``/``save_checkpoint``."""

    def __init__(self, cfg, work_dir: Path, is_main: bool):
        self.cfg = cfg
        self.work_dir = work_dir
        self.is_main = is_main
        self.state = TrainState()
        self.hooks: list = []
        self.model = self.train_model = None
        self.optimizer = self.schedulers = self.scaler = self.ema = None
        self.group_names: list = []
        self.max_epochs = 1
        self.iters_per_epoch = 1
        self._t0 = time.perf_counter()
        self._iter0 = 0
        self._log_file = work_dir / "train.log" if is_main else None
        self.has_bn = False
        self.static_loss_scale: float | None = None
        self.bad_samples: dict[str, str] = {}  # path -> reason, skipped by on_error='skip'
        self.num_skipped = 0  # samples skipped in the current epoch

    def log(self, message: str, echo: bool = True) -> None:
        if not self.is_main:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self._log_file, "a") as f:
            f.write(f"{stamp} {message}\n")
        if echo:
            print(message, flush=True)

    def eta_seconds(self) -> float | None:
        done = self.state.iter - self._iter0
        if done <= 0:
            return None
        per_iter = (time.perf_counter() - self._t0) / done
        return per_iter * (self.max_epochs * self.iters_per_epoch - self.state.iter)

    def checkpoint_state(self) -> dict:
        import vidlab

        weights = model_state_dict(self.ema.module if self.ema is not None else self.model)
        state = {
            "meta": {
                "epoch": self.state.epoch,
                "iter": self.state.iter,
                "vidlab_version": vidlab.__version__,
                "config": _cfg_text(self.cfg),
                "seed": self.state.seed,
                "group_names": list(self.group_names),
                "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            },
            # The weights to test/deploy: the moving average when EMA is on, as in MMEngine.
            "state_dict": weights,
            "optimizer": self.optimizer.state_dict(),
            "schedulers": self.schedulers.state_dict() if self.schedulers is not None else {},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": _rng_state(),
            "train_state": self.state.state_dict(),
            "hooks": {type(h).__name__: h.state_dict() for h in self.hooks},
        }
        if self.ema is not None:  # the raw training weights, needed to resume
            state["model_state_dict"] = model_state_dict(self.model)
        return state

    def save_checkpoint(self, path: Path, record: bool = True) -> None:
        """Write the full state to ``path``; ``record``: it becomes ``state.last_checkpoint``."""
        if record:
            self.state.last_checkpoint = str(path)
        save_checkpoint(path, self.checkpoint_state())

    def call(self, event: str, *args) -> None:
        for hook in self.hooks:
            getattr(hook, event)(self, *args)


# --------------------------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------------------------


def _build_model(cfg, device) -> nn.Module:
    node = _get(cfg, "model")
    if node is None:
        raise ConfigError("the config has no 'model'")
    model = _build(node, key_path="model")
    return model.to(device)


def _build_loader(cfg, key: str, *, seed: int, train: bool, has_bn: bool, runner=None):
    from vidlab.data.loader import build_dataloader

    loader_cfg = dict(_get(cfg, key) or {})
    if not loader_cfg:
        return None
    if "dataset" not in loader_cfg:
        raise ConfigError(f"{key} has no 'dataset'")
    dataset = _build(loader_cfg["dataset"], key_path=f"{key}.dataset")
    batch_size = int(loader_cfg.get("batch_size", 1))
    sampler = loader_cfg.get("sampler") or dict(type="DefaultSampler", shuffle=train)
    drop_last = loader_cfg.get("drop_last")
    if drop_last is None:
        drop_last = False
        if train and has_bn:
            from vidlab.engine.distributed import get_world_size

            per_rank = math.ceil(len(dataset) / get_world_size())
            if per_rank % batch_size:
                drop_last = True
                if runner is not None:
                    runner.log(
                        f"note: the model has BatchNorm, so the incomplete last batch of each "
                        f"epoch ({per_rank % batch_size} of {per_rank} samples) is dropped; set "
                        f"{key}.drop_last=False to keep it"
                    )
    num_workers = int(loader_cfg.get("num_workers", 0))
    return build_dataloader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        sampler=sampler,
        shuffle=train,
        seed=seed,
        drop_last=bool(drop_last),
        persistent_workers=bool(loader_cfg.get("persistent_workers", False)) and num_workers > 0,
        pin_memory=bool(loader_cfg.get("pin_memory", False)) and torch.cuda.is_available(),
    )


def _build_optim(model, cfg, lr_scale: float):
    from vidlab.engine.optim import build_optimizer

    optim_cfg = _get(cfg, "optim_wrapper")
    if optim_cfg is None:
        raise ConfigError(
            "the config has no 'optim_wrapper' (e.g. dict(optimizer=dict(type='SGD', lr=0.01)))"
        )
    return build_optimizer(model, optim_cfg, lr_scale=lr_scale)


def _build_schedulers(optimizer, cfg, max_epochs: int, iters_per_epoch: int):
    from vidlab.engine.schedules import build_schedulers

    return build_schedulers(
        optimizer,
        _get(cfg, "param_scheduler"),
        max_epochs=max_epochs,
        iters_per_epoch=iters_per_epoch,
    )


def _build_hooks(cfg) -> tuple[list, dict | None]:
    """Hooks from ``default_hooks`` and ``custom_hooks``; returns (hooks, EMAHook config)."""
    from vidlab.compat.mmengine import DEFAULT_HOOK_TYPES
    from vidlab.engine.hooks import CheckpointHook, EMAHook, Hook, LoggerHook

    hooks: list = []
    ema_cfg = None
    default = dict(_get(cfg, "default_hooks") or {})
    default.setdefault("checkpoint", dict(type="CheckpointHook", interval=1))
    default.setdefault("logger", dict(type="LoggerHook"))
    for name, node in default.items():
        if node is None:
            continue
        if isinstance(node, dict) and "type" not in node and name in DEFAULT_HOOK_TYPES:
            node = {"type": DEFAULT_HOOK_TYPES[name], **node}
        hook = _build(node, key_path=f"default_hooks.{name}")
        if isinstance(hook, Hook):
            hooks.append(hook)
    for i, node in enumerate(_get(cfg, "custom_hooks") or []):
        hook = _build(node, key_path=f"custom_hooks[{i}]")
        if isinstance(hook, EMAHook):
            ema_cfg = hook.cfg
        elif isinstance(hook, Hook):
            hooks.append(hook)
        else:
            raise TypeError(
                f"custom_hooks[{i}] built a {type(hook).__name__}, which is not a vidlab Hook "
                "(subclass vidlab.engine.hooks.Hook)"
            )
    if not any(isinstance(h, CheckpointHook) for h in hooks):
        hooks.append(CheckpointHook(interval=1))
    if not any(isinstance(h, LoggerHook) for h in hooks):
        hooks.append(LoggerHook())
    hooks.sort(key=lambda h: h.priority)
    return hooks, ema_cfg


def _build_evaluator(cfg, key: str, metrics=None):
    from vidlab.evaluation.metrics import AccMetric

    if metrics:
        return [AccMetric(metric_list=tuple(metrics))]
    node = _get(cfg, key) or dict(type="AccMetric")
    nodes = node if isinstance(node, list | tuple) else [node]
    return [_build(n, key_path=key) for n in nodes]


def _amp_setup(amp: bool, amp_dtype, device: torch.device, runner, loss_scale=None) -> tuple:
    """(autocast dtype or None, GradScaler or None).

    ``loss_scale`` is the AmpOptimWrapper's: ``'dynamic'``/None, a number (a static scale, kept
    in ``runner.static_loss_scale``) or a dict of ``GradScaler`` arguments, as in MMEngine.
    """
    if isinstance(amp_dtype, str):
        amp_dtype = getattr(torch, amp_dtype)
    if not amp and amp_dtype is None:
        return None, None
    if device.type == "cuda":
        if amp_dtype is None:
            amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = None
        if amp_dtype == torch.float16:
            scaler_args = dict(loss_scale) if isinstance(loss_scale, dict) else {}
            if isinstance(loss_scale, int | float):
                scaler_args["init_scale"] = float(loss_scale)
                runner.static_loss_scale = float(loss_scale)
            scaler = torch.amp.GradScaler("cuda", **scaler_args)
        runner.log(
            f"AMP: autocast to {str(amp_dtype).replace('torch.', '')}"
            + (" with a GradScaler" if scaler else "")
        )
        return amp_dtype, scaler
    if amp_dtype == torch.bfloat16:
        runner.log("AMP on the CPU: autocast to bfloat16 (asked for by optim_wrapper.dtype)")
        return torch.bfloat16, None
    runner.log("note: --amp has no effect on the CPU; training in float32")
    return None, None


# --------------------------------------------------------------------------------------------
# resume
# --------------------------------------------------------------------------------------------


def _resolve_resume(resume, cfg, work_dir: Path) -> Path | None:
    if resume is None:
        resume = bool(_get(cfg, "resume", False))
        if resume and _get(cfg, "load_from"):
            return Path(_get(cfg, "load_from"))  # MMEngine: resume=True + load_from = that file
    if resume is False or resume is None:
        return None
    if resume is True or resume == "auto":
        found = find_last_checkpoint(work_dir)
        if found is None:
            raise CheckpointError(
                f"no checkpoint found in {work_dir} to resume from (looked for "
                "'last_checkpoint' and epoch_*.pth). To start fresh, run without --resume "
                "(resume=False); to resume from a file, pass its path: --resume PATH"
            )
        return found
    return Path(resume)


def _resume(runner: _Runner, path: Path) -> dict:
    ckpt = load_checkpoint(path)
    for key in ("optimizer", "train_state"):
        if key not in ckpt:
            raise CheckpointError(
                f"{path} has no '{key}' entry, so training cannot resume from it (it holds "
                "weights only). To fine-tune from its weights, use load_from instead of resume"
            )
    weights = ckpt.get("model_state_dict") or ckpt["state_dict"]
    load_weights(runner.model, weights, strict=True)
    saved_groups = ckpt.get("meta", {}).get("group_names")
    if saved_groups is not None:
        from vidlab.engine.param_groups import compare_group_layout

        # Only the structure must agree: a changed lr (another auto_scale_lr factor) is fine,
        # the checkpoint's values come back with the optimizer state.
        diffs = compare_group_layout(saved_groups, runner.group_names, structure_only=True)
        if diffs:
            raise CheckpointError(
                f"{path}: the optimizer's parameter groups differ from the checkpoint's, so "
                "its state cannot be restored:\n  " + "\n  ".join(diffs) + "\nUse the same "
                "optim_wrapper (paramwise_cfg, constructor) as the run that wrote it, or start "
                "from its weights with load_from"
            )
    try:
        runner.optimizer.load_state_dict(ckpt["optimizer"])
    except ValueError as e:
        raise CheckpointError(
            f"{path}: the optimizer state does not fit the current parameter groups ({e})"
        ) from e
    if runner.schedulers is not None and ckpt.get("schedulers"):
        runner.schedulers.load_state_dict(ckpt["schedulers"])
    if runner.scaler is not None and ckpt.get("scaler"):
        runner.scaler.load_state_dict(ckpt["scaler"])
    if runner.ema is not None and ckpt.get("ema"):
        runner.ema.load_state_dict(ckpt["ema"])
    runner.state.load_state_dict(ckpt["train_state"])
    hook_states = ckpt.get("hooks", {})
    for hook in runner.hooks:
        if type(hook).__name__ in hook_states:
            hook.load_state_dict(hook_states[type(hook).__name__])
    return ckpt


# --------------------------------------------------------------------------------------------
# the step and the epoch
# --------------------------------------------------------------------------------------------


def _to_device(batch: dict, device: torch.device, channels_last_3d: bool):
    # uint8 crosses the bus; normalization happens on the device inside the model.
    clips = batch["clips"].to(device, non_blocking=True)  # (B, V, C, T, H, W)
    labels = batch["label"].to(device, non_blocking=True)  # (B,) or (B, K)
    if channels_last_3d:
        b, v = clips.shape[:2]
        clips = clips.flatten(0, 1).contiguous(memory_format=torch.channels_last_3d)
        clips = clips.unflatten(0, (b, v))
    return clips, labels


def _loss_value(loss) -> torch.Tensor:
    if isinstance(loss, dict):  # a model returning several terms: their sum
        return sum(v for k, v in loss.items() if "loss" in k)
    return loss


def _train_epoch(runner: _Runner, loader, setup, device, amp_dtype, channels_last_3d) -> None:
    model, raw = runner.train_model, runner.model  # forward through wrappers; loss on the module
    optimizer, scaler, ema = runner.optimizer, runner.scaler, runner.ema
    blending = getattr(getattr(raw, "data_preprocessor", None), "blending", None)
    acc = max(int(getattr(setup, "accumulative_counts", 1) or 1), 1)
    clip_grad = getattr(setup, "clip_grad", None)
    params = [p for g in optimizer.param_groups for p in g["params"]]  # clipped together
    n = len(loader)
    # Accumulation restarts each epoch: the last group of an epoch may be shorter
    # (its losses are divided by its own length), so no gradient crosses a checkpoint.
    remainder = n % acc
    is_ddp = isinstance(model, nn.parallel.DistributedDataParallel)
    warned_single = False

    model.train()
    t_end = time.perf_counter()
    for i, batch in enumerate(loader):
        t_data = time.perf_counter() - t_end
        runner.num_skipped += _record_skipped(runner.bad_samples, batch, runner.log)
        if _is_empty(batch):  # every sample of the batch was skipped (on_error='skip')
            continue
        if runner.schedulers is not None:
            runner.schedulers.step_iter(runner.state.iter)
        clips, labels = _to_device(batch, device, channels_last_3d)
        b, v = clips.shape[:2]
        if b * v == 1 and runner.has_bn:
            if not warned_single:
                runner.log(
                    f"note: skipped a training batch of one clip at epoch "
                    f"{runner.state.epoch + 1}: BatchNorm cannot normalize a single value per "
                    "channel (set train_dataloader.drop_last=True to avoid it)"
                )
                warned_single = True
            continue
        if blending is not None:
            clips, labels = blending(clips.float(), labels)
        clips = clips.flatten(0, 1)  # (B*V, C, T, H, W): every view is a sample
        if v > 1:
            labels = labels.repeat_interleave(v, dim=0)
        group = acc if (remainder == 0 or i < n - remainder) else remainder
        update = (i + 1) % acc == 0 or i + 1 == n
        sync = contextlib.nullcontext() if (update or not is_ddp) else model.no_sync()
        try:
            with sync:
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    logits = model(clips)
                    loss = _loss_value(raw.loss(logits, labels))
                loss_value = loss.detach().float().item()
                if not math.isfinite(loss_value):
                    raise _nan_error(runner, loss_value, i, n)
                scaled = loss / group
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
            if update:
                if scaler is not None:
                    scaler.unscale_(optimizer)
                if clip_grad:  # MMEngine's clip_grad: norm (default) or type='value'
                    if clip_grad.get("type", "norm") == "value":
                        torch.nn.utils.clip_grad_value_(params, clip_grad["clip_value"])
                    else:
                        norm_args = {k: v for k, v in clip_grad.items() if k != "type"}
                        torch.nn.utils.clip_grad_norm_(params, **norm_args)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update(runner.static_loss_scale)  # None: dynamic scaling
                else:
                    optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if ema is not None:
                    ema.update(raw, runner.state.iter)
        except torch.cuda.OutOfMemoryError as e:
            raise _oom_error(
                e, b, f"training (epoch {runner.state.epoch + 1}, iter {i + 1})"
            ) from e
        runner.state.iter += 1
        t_now = time.perf_counter()
        runner.call(
            "after_train_iter",
            {
                "epoch": runner.state.epoch + 1,
                "iter": runner.state.iter,
                "epoch_iter": i + 1,
                "loss": loss_value,
                "lr": optimizer.param_groups[0]["lr"],
                "data_time": t_data,
                "time": t_now - t_end,
                "num_clips": b * v,
            },
        )
        t_end = t_now


# --------------------------------------------------------------------------------------------
# skipped samples (datasets with on_error='skip' list them in batch["skipped"])
# --------------------------------------------------------------------------------------------


def _record_skipped(bad: dict, batch, log) -> int:
    """Add the batch's skipped samples to ``bad`` (path -> reason), logging each new file once;
    returns how many samples of the batch were skipped."""
    skipped = batch.get("skipped") if isinstance(batch, dict) else None
    for item in skipped or ():
        if item.path not in bad:
            bad[item.path] = item.reason
            log(f"skipped {item.path} (listed at {item.where}): {item.reason}")
    return len(skipped or ())


def _is_empty(batch) -> bool:
    return batch is None or len(batch["clips"]) == 0


def _write_bad_samples(bad: dict, work_dir: Path) -> Path:
    """``path<TAB>reason`` per skipped file, written to ``work_dir/bad_samples.txt``."""
    path = Path(work_dir) / "bad_samples.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{p}\t{r}\n" for p, r in sorted(bad.items())), encoding="utf-8")
    return path


def _nan_error(runner: _Runner, value: float, i: int, n: int) -> TrainingError:
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
# evaluation
# --------------------------------------------------------------------------------------------


def _max_views(cfg, model) -> int | None:
    for holder in (getattr(unwrap_model(model), "test_cfg", None), _get(cfg, "test_cfg")):
        if isinstance(holder, dict) and holder.get("max_testing_views"):
            return int(holder["max_testing_views"])
        value = getattr(holder, "max_testing_views", None)
        if value:
            return int(value)
    return None


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    device,
    *,
    amp_dtype=None,
    max_testing_views: int | None = None,
    bad_samples: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Multi-view inference over a loader, gathered over processes in dataset order.

    Each batch's clips ``(B, V, C, T, H, W)`` run as ``(B*V, ...)`` (in chunks of
    ``max_testing_views`` when given); ``model.average_views`` turns the logits into ``(B, K)``
    scores. Samples skipped by the dataset (``on_error='skip'``) are added to ``bad_samples``
    (path -> reason) when it is given.

    Returns:
        ``(scores (N, K), labels (N,) or (N, K), dataset indices (N,))``.
    """
    from vidlab.engine.distributed import gather_ordered

    device = torch.device(device)
    model = unwrap_model(model)
    was_training = model.training
    model.eval()
    local = []
    try:
        for batch in loader:
            if bad_samples is not None:
                _record_skipped(bad_samples, batch, print)
            if _is_empty(batch):
                continue
            clips = batch["clips"].to(device, non_blocking=True)  # (B, V, C, T, H, W)
            b, v = clips.shape[:2]
            flat = clips.flatten(0, 1)  # (B*V, C, T, H, W)
            chunk = max_testing_views or flat.shape[0]
            try:
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    logits = torch.cat([model(x) for x in flat.split(chunk)])  # (B*V, K)
            except torch.cuda.OutOfMemoryError as e:
                raise _oom_error(e, b, f"evaluation ({v} views per video)") from e
            scores = model.average_views(logits.float(), v)  # (B, K)
            indices = batch.get("index", torch.full((b,), -1))
            for j in range(b):
                local.append((int(indices[j]), scores[j].cpu(), batch["label"][j].cpu()))
    finally:
        model.train(was_training)
    dataset_len = len(loader.dataset)
    results = gather_ordered(local, dataset_len)
    if results and results[0][0] >= 0:  # dataset order, each index once (padding removed)
        results = sorted({r[0]: r for r in results}.values(), key=lambda r: r[0])
    if not results:
        raise RuntimeError("evaluation produced no results: the loader yielded no samples")
    scores = torch.stack([r[1] for r in results]).numpy()
    labels = torch.stack([r[2] for r in results]).numpy()
    return scores, labels, [r[0] for r in results]


def _compute_metrics(evaluators, scores, labels) -> dict:
    metrics: dict = {}
    for ev in evaluators:
        metrics.update(ev.compute(scores, labels))
    return metrics


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def train(
    cfg,
    work_dir: str | os.PathLike | None = None,
    resume: bool | str | os.PathLike | None = None,
    amp: bool = False,
    launcher: str = "none",
    seed: int | None = None,
    deterministic: bool = False,
    auto_scale_lr: bool = False,
) -> dict:
    """Train a model from an MMAction2 1.x-style config.

    Args:
        cfg: the config (``vidlab.config.Config`` or a dict with the same keys).
        work_dir: output directory (default ``cfg.work_dir``, else ``work_dirs/<config name>``).
        resume: ``True`` to resume from the newest checkpoint of ``work_dir``, a checkpoint
            path, or ``None`` to follow ``cfg.resume``.
        amp: mixed precision (bf16 where supported, else fp16 with a GradScaler; CUDA only).
        launcher: ``"none"``, ``"pytorch"`` or ``"slurm"``.
        seed: overrides ``cfg.randomness.seed``.
        deterministic: deterministic algorithms (also ``cfg.randomness.deterministic``).
        auto_scale_lr: scale the lr by ``total batch / auto_scale_lr.base_batch_size``.

    Returns:
        ``{"work_dir", "epoch", "iter", "metrics" (last validation), "best" (key -> score),
        "best_checkpoints", "last_checkpoint"}``.
    """
    from vidlab.engine import distributed as dist

    info = dist.init_distributed(launcher)
    device = torch.device(info.device)
    is_main = info.rank == 0

    work_dir = Path(work_dir or _get(cfg, "work_dir") or _default_work_dir(cfg))
    work_dir.mkdir(parents=True, exist_ok=True)
    runner = _Runner(cfg, work_dir, is_main)

    randomness = dict(_get(cfg, "randomness") or {})
    seed = seed if seed is not None else randomness.get("seed")
    seed = dist.sync_random_seed(None if seed is None else int(seed))
    deterministic = deterministic or bool(randomness.get("deterministic", False))
    _seed_everything(seed, deterministic)
    env_cfg = dict(_get(cfg, "env_cfg") or {})
    if device.type == "cuda" and not deterministic:
        torch.backends.cudnn.benchmark = bool(env_cfg.get("cudnn_benchmark", False))
    runner.state.seed = seed

    if is_main and hasattr(cfg, "dump"):
        cfg.dump(work_dir / "config.py")
    runner.log(f"work dir {work_dir}; seed {seed}; device {device}; world size {info.world_size}")

    # model ------------------------------------------------------------------------------
    model = _build_model(cfg, device)
    runner.has_bn = _has_batchnorm(model)
    load_from = _get(cfg, "load_from")
    resume_path = _resolve_resume(resume, cfg, work_dir)
    if load_from and resume_path is None:
        report = load_weights(model, load_from, strict=False)
        runner.log(f"load_from: {report}")
    channels_last_3d = False
    if _get(cfg, "channels_last", False):
        fmt = _set_memory_format(model)
        channels_last_3d = fmt == "channels_last_3d"
        runner.log(f"memory format: {fmt or 'unchanged (no convolutions)'}")
    runner.model = model

    # data -------------------------------------------------------------------------------
    train_loader = _build_loader(
        cfg, "train_dataloader", seed=seed, train=True, has_bn=runner.has_bn, runner=runner
    )
    if train_loader is None:
        raise ConfigError("the config has no 'train_dataloader'")
    val_loader = _build_loader(cfg, "val_dataloader", seed=seed, train=False, has_bn=False)
    if len(train_loader) == 0:
        raise ConfigError(
            f"train_dataloader yields no batches: {len(train_loader.dataset)} samples with "
            f"batch_size={train_loader.batch_size} and drop_last={train_loader.drop_last}"
        )

    # loop config, optimizer, schedules -----------------------------------------------------
    loop = _build(_get(cfg, "train_cfg") or {}, key_path="train_cfg")
    if isinstance(loop, dict):
        from vidlab.compat.mmengine import EpochBasedTrainLoop

        loop = EpochBasedTrainLoop(**{k: v for k, v in loop.items() if k != "type"})
    runner.max_epochs = loop.max_epochs
    runner.iters_per_epoch = len(train_loader)

    lr_scale = 1.0
    scale_cfg = dict(_get(cfg, "auto_scale_lr") or {})
    if auto_scale_lr or scale_cfg.get("enable", False):
        if "base_batch_size" not in scale_cfg:
            raise ConfigError(
                "auto_scale_lr needs auto_scale_lr.base_batch_size in the config (the total batch "
                "size the lr was tuned for)"
            )
        total = train_loader.batch_size * info.world_size
        lr_scale = total / float(scale_cfg["base_batch_size"])
        runner.log(
            f"auto_scale_lr: lr x {lr_scale:g} (batch {total} vs {scale_cfg['base_batch_size']})"
        )
    setup = _build_optim(model, cfg, lr_scale)
    runner.optimizer = setup.optimizer
    runner.group_names = list(getattr(setup, "group_names", []) or [])
    runner.schedulers = _build_schedulers(
        setup.optimizer, cfg, runner.max_epochs, runner.iters_per_epoch
    )
    amp_dtype, runner.scaler = _amp_setup(
        amp or _get(cfg, "amp", False),
        getattr(setup, "amp_dtype", None),
        device,
        runner,
        loss_scale=getattr(setup, "loss_scale", None),
    )

    runner.hooks, ema_cfg = _build_hooks(cfg)
    if ema_cfg is not None:
        from vidlab.engine.ema import build_ema

        runner.ema = build_ema(model, ema_cfg, iters_per_epoch=runner.iters_per_epoch)
    evaluators = _build_evaluator(cfg, "val_evaluator") if val_loader is not None else []

    # wrappers ---------------------------------------------------------------------------
    train_model = dist.wrap_model(
        model,
        device,
        find_unused_parameters=bool(_get(cfg, "find_unused_parameters", False)),
        sync_bn=bool(_get(cfg, "sync_bn", False)),
    )
    if _get(cfg, "compile", False):
        compile_cfg = _get(cfg, "compile")
        kwargs = dict(compile_cfg) if isinstance(compile_cfg, dict) else {}
        train_model = torch.compile(train_model, **kwargs)
        runner.log("torch.compile: on")
    runner.train_model = train_model

    # resume -----------------------------------------------------------------------------
    ckpt = None
    if resume_path is not None:
        ckpt = _resume(runner, resume_path)
        runner.log(
            f"resumed from {resume_path} at epoch {runner.state.epoch}, "
            f"iteration {runner.state.iter}"
        )
    runner._iter0 = runner.state.iter
    runner.call("before_train")
    if ckpt is not None and "rng" in ckpt:
        _set_rng_state(ckpt["rng"])  # last, so that nothing built above shifts the streams

    # the loop ---------------------------------------------------------------------------
    sampler = train_loader.vidlab_sampler
    sync_buffers = info.world_size > 1 and "sync_buffers" in dict(_get(cfg, "default_hooks") or {})
    metrics: dict = {}
    while runner.state.epoch < runner.max_epochs:
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(runner.state.epoch)
        runner.call("before_train_epoch")
        runner.num_skipped = 0
        _train_epoch(runner, train_loader, setup, device, amp_dtype, channels_last_3d)
        runner.state.epoch += 1
        if runner.bad_samples and is_main:
            listed = _write_bad_samples(runner.bad_samples, work_dir)
            runner.log(
                f"epoch {runner.state.epoch}: {runner.num_skipped} sample(s) skipped; "
                f"{len(runner.bad_samples)} bad file(s) listed in {listed}"
            )
        if sync_buffers:
            for buf in model.buffers():
                if buf.is_floating_point():
                    buf.copy_(dist.all_reduce_mean(buf))
        if val_loader is not None and loop.val_due(runner.state.epoch):
            eval_model = runner.ema.module if runner.ema is not None else model
            val_cfg = _get(cfg, "val_cfg") or {}
            fp16 = bool(val_cfg.get("fp16", False)) if isinstance(val_cfg, dict) else False
            scores, labels, _ = evaluate(
                eval_model,
                val_loader,
                device,
                amp_dtype=amp_dtype or (torch.float16 if fp16 and device.type == "cuda" else None),
                max_testing_views=_max_views(cfg, model),
                bad_samples=runner.bad_samples,
            )
            metrics = _compute_metrics(evaluators, scores, labels)
            runner.call("after_val_epoch", metrics)
        runner.call("after_train_epoch")
        dist.barrier()
    runner.call("after_train")

    from vidlab.engine.hooks import CheckpointHook

    best = {}
    for hook in runner.hooks:
        if isinstance(hook, CheckpointHook):
            out_dir = Path(hook.out_dir) if hook.out_dir else work_dir
            best = {k: str(out_dir / v["path"]) for k, v in hook.best.items()}
    return {
        "work_dir": str(work_dir),
        "epoch": runner.state.epoch,
        "iter": runner.state.iter,
        "metrics": metrics,
        "best": dict(runner.state.best),
        "best_checkpoints": best,
        "last_checkpoint": runner.state.last_checkpoint,
        "model": model,
    }


def _default_work_dir(cfg) -> Path:
    filename = getattr(cfg, "filename", None)
    stem = Path(filename).stem if filename else "run"
    return Path("work_dirs") / stem


# --------------------------------------------------------------------------------------------
# test
# --------------------------------------------------------------------------------------------


def test(
    cfg,
    checkpoint: str | os.PathLike,
    out: str | os.PathLike | None = None,
    metrics: list[str] | None = None,
    launcher: str = "none",
) -> dict:
    """Test a checkpoint on ``test_dataloader`` with multi-view inference.

    Args:
        cfg: the config.
        checkpoint: weights to test, loaded strictly (a checkpoint of another model reports the
            grouped mismatches).
        out: write per-video predictions and the metrics to ``.json``, ``.pkl`` or ``.yaml``.
        metrics: metric names overriding ``test_evaluator`` (``top_k_accuracy``,
            ``mean_class_accuracy``, ``mean_average_precision``).
        launcher: ``"none"``, ``"pytorch"`` or ``"slurm"``.

    Returns:
        ``{"metrics": {...}, "predictions": [...], "out": path or None, "bad_samples": path of
        the list of skipped files, or None}``.
    """
    from vidlab.engine import distributed as dist

    if out is not None and Path(out).suffix not in (".json", ".pkl", ".pickle", ".yaml", ".yml"):
        raise ConfigError(f"out={str(out)!r}: use a .json, .pkl or .yaml file name")
    if out is not None and Path(out).suffix in (".yaml", ".yml"):
        try:
            import yaml  # noqa: F401
        except ImportError:
            raise ImportError(
                f"writing {out} needs PyYAML: pip install pyyaml (or use a .json/.pkl file)"
            ) from None
    info = dist.init_distributed(launcher)
    device = torch.device(info.device)
    model = _build_model(cfg, device)
    report = load_weights(model, checkpoint, strict=True)
    loader = _build_loader(cfg, "test_dataloader", seed=0, train=False, has_bn=False)
    if loader is None:
        raise ConfigError("the config has no 'test_dataloader'")
    test_cfg = _get(cfg, "test_cfg") or {}
    fp16 = bool(test_cfg.get("fp16", False)) if isinstance(test_cfg, dict) else False
    bad: dict[str, str] = {}
    scores, labels, indices = evaluate(
        model,
        loader,
        device,
        amp_dtype=torch.float16 if fp16 and device.type == "cuda" else None,
        max_testing_views=_max_views(cfg, model),
        bad_samples=bad,
    )
    bad_list = None
    if bad and info.rank == 0:
        work_dir = _get(cfg, "work_dir") or (Path(out).parent if out else _default_work_dir(cfg))
        bad_list = str(_write_bad_samples(bad, Path(work_dir)))
        print(f"{len(bad)} bad sample(s) skipped; listed in {bad_list}")
    evaluators = _build_evaluator(cfg, "test_evaluator", metrics)
    results = _compute_metrics(evaluators, scores, labels)
    predictions = _predictions(loader.dataset, scores, labels, indices)
    if info.rank == 0:
        print(f"tested {report.source}: {len(predictions)} videos")
        for key, value in results.items():
            print(f"  {key}: {value:.4f}")
        if out is not None:
            _write_results(Path(out), results, predictions)
            print(f"predictions written to {out}")
    return {
        "metrics": results,
        "predictions": predictions,
        "out": str(out) if out else None,
        "bad_samples": bad_list,
    }


def _predictions(dataset, scores: np.ndarray, labels: np.ndarray, indices: list[int]) -> list:
    records = getattr(dataset, "records", None)
    preds = []
    top = np.argsort(-scores, axis=1, kind="stable")[:, :5]
    for row, index in enumerate(indices):
        record = records[index] if records is not None and index >= 0 else {}
        label = labels[row]
        preds.append(
            {
                "index": index,
                "filename": record.get("filename", record.get("frame_dir")),
                "label": label.tolist() if label.ndim else int(label),
                "pred": int(top[row, 0]),
                "top5_labels": top[row].tolist(),
                "top5_scores": [float(scores[row, k]) for k in top[row]],
            }
        )
    return preds


def _write_results(path: Path, metrics: dict, predictions: list) -> None:
    payload = {"metrics": metrics, "predictions": predictions}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(payload, indent=1))
    elif path.suffix in (".pkl", ".pickle"):
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    else:
        import yaml

        path.write_text(yaml.safe_dump(payload, sort_keys=False))
