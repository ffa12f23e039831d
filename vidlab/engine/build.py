"""Building a run's parts from an MMAction2 1.x config.

Model, data loaders, optimizer, schedules, AMP, hooks and evaluators; each function reads its
config keys and reports a missing or bad one by name. :func:`vidlab.engine.train.train` calls
them in order.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vidlab.config.errors import ConfigError

__all__ = [
    "amp_setup",
    "build_evaluators",
    "build_hooks",
    "build_loader",
    "build_model",
    "build_optim",
    "build_schedulers",
    "cfg_get",
    "has_batchnorm",
    "set_memory_format",
]


def cfg_get(cfg, key: str, default=None):
    """``cfg[key]`` for dicts and Configs, ``cfg.key`` otherwise; None counts as missing."""
    value = cfg.get(key, default) if isinstance(cfg, dict) else getattr(cfg, key, default)
    return default if value is None else value


def build_node(node, key_path: str = "", **injected):
    """Build a config node with ``vidlab.config.build`` (built objects pass through)."""
    if not isinstance(node, dict):
        return node
    from vidlab.config import build

    return build(node, key_path=key_path, **injected)


# --------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------


def build_model(cfg, device) -> nn.Module:
    """The config's ``model``, on ``device``."""
    node = cfg_get(cfg, "model")
    if node is None:
        raise ConfigError("the config has no 'model'")
    model = build_node(node, key_path="model")
    return model.to(device)


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def set_memory_format(model: nn.Module) -> str | None:
    """channels_last for 2D convnets, channels_last_3d for 3D ones (their weights)."""
    has3d = any(isinstance(m, nn.Conv3d) for m in model.modules())
    has2d = any(isinstance(m, nn.Conv2d) for m in model.modules())
    for p in model.parameters():
        if p.dim() == 4 and has2d:
            p.data = p.data.contiguous(memory_format=torch.channels_last)
        elif p.dim() == 5 and has3d:
            p.data = p.data.contiguous(memory_format=torch.channels_last_3d)
    return "channels_last_3d" if has3d else ("channels_last" if has2d else None)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------


def build_loader(
    cfg,
    key: str,
    *,
    seed: int,
    train: bool,
    has_bn: bool,
    runner=None,
    num_classes: int | None = None,
    need_labels: bool = False,
):
    """The loader of ``cfg[key]`` (``train_dataloader``, ...), or None when it is not set.

    The dataset's labels are checked against the model's ``num_classes`` when it is given
    (and that every record has one, with ``need_labels``), with ``file:line`` of each bad line.

    A training loader of a model with BatchNorm drops an incomplete last batch unless the
    config says otherwise (``drop_last``), and says so in the log.
    """
    from vidlab.data.loader import build_dataloader

    loader_cfg = dict(cfg_get(cfg, key) or {})
    if not loader_cfg:
        return None
    if "dataset" not in loader_cfg:
        raise ConfigError(f"{key} has no 'dataset'")
    dataset = build_node(loader_cfg["dataset"], key_path=f"{key}.dataset")
    if hasattr(dataset, "check_labels_against"):
        dataset.check_labels_against(num_classes, key, need_labels)
    if getattr(dataset, "log_skips", False):
        dataset.log_skips = False  # the loop logs each skipped file once (record_skipped)
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


# --------------------------------------------------------------------------------------------
# optimizer, schedules, AMP
# --------------------------------------------------------------------------------------------


def build_optim(model, cfg, lr_scale: float):
    """:func:`vidlab.engine.optim.build_optimizer` on the config's ``optim_wrapper``."""
    from vidlab.engine.optim import build_optimizer

    optim_cfg = cfg_get(cfg, "optim_wrapper")
    if optim_cfg is None:
        raise ConfigError(
            "the config has no 'optim_wrapper' (e.g. dict(optimizer=dict(type='SGD', lr=0.01)))"
        )
    return build_optimizer(model, optim_cfg, lr_scale=lr_scale)


def build_schedulers(optimizer, cfg, max_epochs: int, iters_per_epoch: int, notes=None):
    """The config's ``param_scheduler`` bound to ``optimizer`` (notes: see the engine's
    :func:`vidlab.engine.schedules.build_schedulers`)."""
    from vidlab.engine.schedules import build_schedulers as bind

    return bind(
        optimizer,
        cfg_get(cfg, "param_scheduler"),
        max_epochs=max_epochs,
        iters_per_epoch=iters_per_epoch,
        notes=notes,
    )


def amp_setup(amp: bool, amp_dtype, device: torch.device, runner, loss_scale=None) -> tuple:
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
# hooks and evaluators
# --------------------------------------------------------------------------------------------


def build_hooks(cfg) -> tuple[list, dict | None]:
    """Hooks from ``default_hooks`` and ``custom_hooks``; returns (hooks, EMAHook config)."""
    from vidlab.compat.mmengine import DEFAULT_HOOK_TYPES
    from vidlab.engine.hooks import CheckpointHook, EMAHook, Hook, LoggerHook

    hooks: list = []
    ema_cfg = None
    default = dict(cfg_get(cfg, "default_hooks") or {})
    default.setdefault("checkpoint", dict(type="CheckpointHook", interval=1))
    default.setdefault("logger", dict(type="LoggerHook"))
    for name, node in default.items():
        if node is None:
            continue
        if isinstance(node, dict) and "type" not in node and name in DEFAULT_HOOK_TYPES:
            node = {"type": DEFAULT_HOOK_TYPES[name], **node}
        hook = build_node(node, key_path=f"default_hooks.{name}")
        if isinstance(hook, Hook):
            hooks.append(hook)
    for i, node in enumerate(cfg_get(cfg, "custom_hooks") or []):
        hook = build_node(node, key_path=f"custom_hooks[{i}]")
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


def build_evaluators(cfg, key: str, task, metrics=None) -> list:
    """The evaluators of ``cfg[key]`` (default: the task's), or of the metric names given."""
    if metrics:
        return task.metric_evaluators(list(metrics))
    node = cfg_get(cfg, key) or task.default_evaluator
    nodes = node if isinstance(node, list | tuple) else [node]
    return [build_node(n, key_path=key) for n in nodes]
