"""``train(cfg)`` and ``test(cfg, checkpoint)``: a run from an MMAction2 1.x config.

``train`` builds the parts (:mod:`vidlab.engine.build`), resumes when asked
(:mod:`vidlab.engine.state`), then runs epochs of :func:`vidlab.engine.loop.train_epoch`,
validating with :func:`vidlab.engine.evaluate.evaluate` and calling the hooks. ``test`` runs the
task's predictions over ``test_dataloader`` and the metrics. What is particular to a task
(recognition, ...) comes from the config's task (:func:`vidlab.tasks.build_task`).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from vidlab.checkpoint import load_weights
from vidlab.config.errors import ConfigError
from vidlab.engine.build import (
    amp_setup,
    build_evaluators,
    build_hooks,
    build_loader,
    build_model,
    build_node,
    build_optim,
    build_schedulers,
    cfg_get,
    has_batchnorm,
    set_memory_format,
)
from vidlab.engine.evaluate import (
    compute_metrics,
    evaluate,
    max_views,
)
from vidlab.engine.loop import TrainingError, train_epoch, write_bad_samples
from vidlab.engine.state import (
    Runner,
    TrainState,
    resolve_resume,
    seed_everything,
    set_rng_state,
)
from vidlab.engine.state import resume as resume_from
from vidlab.models.pretrained import init_pretrained, resolve_checkpoint
from vidlab.threads import configure_num_threads

__all__ = ["TrainState", "TrainingError", "evaluate", "test", "train"]


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
        "best_checkpoints", "last_checkpoint", "model"}``.
    """
    from vidlab.engine import distributed as dist
    from vidlab.tasks import build_task

    configure_num_threads()  # the CPUs of this process's affinity, unless the user chose
    info = dist.init_distributed(launcher, port=dist.config_port(cfg))
    device = torch.device(info.device)
    is_main = info.rank == 0

    work_dir = Path(work_dir or cfg_get(cfg, "work_dir") or _default_work_dir(cfg))
    work_dir.mkdir(parents=True, exist_ok=True)
    runner = Runner(cfg, work_dir, is_main)
    runner.task = build_task(cfg)

    randomness = dict(cfg_get(cfg, "randomness") or {})
    seed = seed if seed is not None else randomness.get("seed")
    seed = dist.sync_random_seed(None if seed is None else int(seed))
    deterministic = deterministic or bool(randomness.get("deterministic", False))
    seed_everything(seed, deterministic)
    env_cfg = dict(cfg_get(cfg, "env_cfg") or {})
    if device.type == "cuda" and not deterministic:
        torch.backends.cudnn.benchmark = bool(env_cfg.get("cudnn_benchmark", False))
    runner.state.seed = seed

    if is_main and hasattr(cfg, "dump"):
        cfg.dump(work_dir / "config.py")
    runner.log(f"work dir {work_dir}; seed {seed}; device {device}; world size {info.world_size}")

    # model ------------------------------------------------------------------------------
    model = build_model(cfg, device)
    runner.has_bn = has_batchnorm(model)
    load_from = cfg_get(cfg, "load_from")
    resume_path = resolve_resume(resume, cfg, work_dir)
    if resume_path is None:  # pretrained= weights (a resumed checkpoint has them all)
        if not is_main:
            dist.barrier()  # the main process fetches any URL first
        for name, report in init_pretrained(model):
            runner.log(f"pretrained weights for {name}: {report}")
        if load_from:  # a URL (MMAction2's fine-tuning configs): fetched into the cache
            load_from = resolve_checkpoint(load_from)
        if is_main:
            dist.barrier()
    if load_from and resume_path is None:
        strict = cfg_get(cfg, "load_from_strict", "backbone")
        report = load_weights(model, load_from, strict=strict is True)
        check_load_from(report, model, strict)
        runner.log(f"load_from: {report}")
    memory_format = None
    if cfg_get(cfg, "channels_last", False):
        fmt = set_memory_format(model)
        if fmt == "channels_last_3d":
            memory_format = torch.channels_last_3d
        runner.log(f"memory format: {fmt or 'unchanged (no convolutions)'}")
    runner.model = model

    # data -------------------------------------------------------------------------------
    num_classes = _num_classes(model)
    train_loader = build_loader(
        cfg,
        "train_dataloader",
        seed=seed,
        train=True,
        has_bn=runner.has_bn,
        runner=runner,
        num_classes=num_classes,
        need_labels=True,
    )
    if train_loader is None:
        raise ConfigError("the config has no 'train_dataloader'")
    val_loader = build_loader(
        cfg,
        "val_dataloader",
        seed=seed,
        train=False,
        has_bn=False,
        num_classes=num_classes,
        need_labels=True,
    )
    if len(train_loader) == 0:
        raise ConfigError(
            f"train_dataloader yields no batches: {len(train_loader.dataset)} samples with "
            f"batch_size={train_loader.batch_size} and drop_last={train_loader.drop_last}"
        )

    # loop config, optimizer, schedules -----------------------------------------------------
    loop = build_node(cfg_get(cfg, "train_cfg") or {}, key_path="train_cfg")
    if isinstance(loop, dict):
        from vidlab.compat.mmengine import EpochBasedTrainLoop

        loop = dict(loop)
        if loop.pop("by_epoch", True) is not True:  # MMEngine's typeless form says by_epoch=True
            raise ConfigError(
                "train_cfg.by_epoch=False (an iteration-based loop) is not supported; train by "
                "epochs (train_cfg=dict(by_epoch=True, max_epochs=...))"
            )
        loop = EpochBasedTrainLoop(**{k: v for k, v in loop.items() if k != "type"})
    runner.max_epochs = loop.max_epochs
    other_loaders = _other_loaders(loop, seed, runner, model, info.world_size, len(train_loader))
    runner.iters_per_epoch = min(len(x) for x in (train_loader, *other_loaders))

    setup = build_optim(model, cfg, _lr_scale(cfg, auto_scale_lr, train_loader, info, runner))
    runner.optimizer = setup.optimizer
    runner.group_names = list(getattr(setup, "group_names", []) or [])
    notes: list[str] = []
    runner.schedulers = build_schedulers(
        setup.optimizer, cfg, runner.max_epochs, runner.iters_per_epoch, notes
    )
    for note in notes:
        runner.log(note)
    amp_dtype, runner.scaler = amp_setup(
        amp or cfg_get(cfg, "amp", False),
        getattr(setup, "amp_dtype", None),
        device,
        runner,
        loss_scale=getattr(setup, "loss_scale", None),
    )

    runner.hooks, ema_cfg = build_hooks(cfg)
    if ema_cfg is not None:
        from vidlab.engine.ema import build_ema

        runner.ema = build_ema(model, ema_cfg, iters_per_epoch=runner.iters_per_epoch)
    evaluators = (
        build_evaluators(cfg, "val_evaluator", runner.task) if val_loader is not None else []
    )

    # wrappers ---------------------------------------------------------------------------
    train_model = dist.wrap_model(
        model,
        device,
        find_unused_parameters=bool(cfg_get(cfg, "find_unused_parameters", False)),
        sync_bn=bool(cfg_get(cfg, "sync_bn", False)),
    )
    if cfg_get(cfg, "compile", False):
        compile_cfg = cfg_get(cfg, "compile")
        kwargs = dict(compile_cfg) if isinstance(compile_cfg, dict) else {}
        train_model = torch.compile(train_model, **kwargs)
        runner.log("torch.compile: on")
    runner.train_model = train_model

    # resume -----------------------------------------------------------------------------
    ckpt = None
    if resume_path is not None:
        ckpt = resume_from(runner, resume_path)
        runner.log(
            f"resumed from {resume_path} at epoch {runner.state.epoch}, "
            f"iteration {runner.state.iter}"
        )
        if runner.state.epoch >= runner.max_epochs:
            runner.log(
                f"already finished at epoch {runner.state.epoch} (train_cfg.max_epochs="
                f"{runner.max_epochs}); nothing to train. To train longer, raise "
                "train_cfg.max_epochs (and the schedules' end) and resume again"
            )
            return _result(runner, work_dir, {}, model)
    runner.start_timer()
    runner.call("before_train")
    if ckpt is not None and "rng" in ckpt:
        set_rng_state(ckpt["rng"])  # last, so that nothing built above shifts the streams

    # the epochs -------------------------------------------------------------------------
    sampler = train_loader.vidlab_sampler
    default_hooks = dict(cfg_get(cfg, "default_hooks") or {})
    sync_buffers = info.world_size > 1 and "sync_buffers" in default_hooks
    metrics: dict = {}
    while runner.state.epoch < runner.max_epochs:
        for s in (sampler, *(x.vidlab_sampler for x in other_loaders)):
            if hasattr(s, "set_epoch"):
                s.set_epoch(runner.state.epoch)
        runner.call("before_train_epoch")
        runner.num_skipped = 0
        train_epoch(runner, train_loader, setup, device, amp_dtype, memory_format, other_loaders)
        runner.state.epoch += 1
        if runner.bad_samples and is_main:
            listed = write_bad_samples(runner.bad_samples, work_dir)
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
            fp16 = _loop_fp16(cfg_get(cfg, "val_cfg"))
            scores, labels, _ = evaluate(
                eval_model,
                val_loader,
                device,
                amp_dtype=amp_dtype or (torch.float16 if fp16 and device.type == "cuda" else None),
                max_testing_views=max_views(cfg, model),
                bad_samples=runner.bad_samples,
                task=runner.task,
            )
            metrics = compute_metrics(evaluators, scores, labels)
            runner.call("after_val_epoch", metrics)
        runner.call("after_train_epoch")
        dist.barrier()
    runner.call("after_train")
    return _result(runner, work_dir, metrics, model)


def _other_loaders(loop, seed: int, runner, model, world_size: int, train_len: int) -> list:
    """The loaders of ``train_cfg.other_loaders`` (``MultiLoaderEpochBasedTrainLoop``).

    Each is built like ``train_dataloader`` with seed ``seed + k + 1`` (its shuffling and
    augmentation are its own, not a copy of the video loader's draws). Its labels are checked
    against the head's ``image_classes`` when it has them (OmniHead). Their state is the run's
    seed and epoch: every loader starts over each epoch, so resuming after an epoch (the only
    place vidlab checkpoints) continues them exactly.
    """
    nodes = list(getattr(loop, "other_loaders", None) or [])
    if not nodes:
        return []
    if world_size > 1:
        raise ConfigError(
            "train_cfg.other_loaders (MultiLoaderEpochBasedTrainLoop) with several processes is "
            "not implemented in vidlab yet; train it in one process"
        )
    head = getattr(model, "cls_head", None)
    num_classes = getattr(head, "image_classes", None)
    loaders = []
    for k, node in enumerate(nodes):
        key = f"train_cfg.other_loaders[{k}]"
        loader = build_loader(
            {key: node},
            key,
            seed=seed + k + 1,
            train=True,
            has_bn=runner.has_bn,
            runner=runner,
            num_classes=num_classes if isinstance(num_classes, int) else None,
            need_labels=True,
        )
        if len(loader) == 0:
            raise ConfigError(f"{key} yields no batches ({len(loader.dataset)} samples)")
        loaders.append(loader)
    lengths = [train_len, *(len(x) for x in loaders)]
    runner.log(
        f"MultiLoaderEpochBasedTrainLoop: batches per loader {lengths}; an epoch is "
        f"{min(lengths)} steps (the shortest loader), each taking one batch of every loader"
    )
    return loaders


def _result(runner, work_dir: Path, metrics: dict, model) -> dict:
    return {
        "work_dir": str(work_dir),
        "epoch": runner.state.epoch,
        "iter": runner.state.iter,
        "metrics": metrics,
        "best": dict(runner.state.best),
        "best_checkpoints": _best_checkpoints(runner.hooks, work_dir),
        "last_checkpoint": runner.state.last_checkpoint,
        "model": model,
    }


def _num_classes(model) -> int | None:
    """The classes of the model's classifier, when it says (labels are checked against it)."""
    try:
        value = getattr(model, "num_classes", None)
    except AttributeError:
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def check_load_from(report, model, strict) -> None:
    """``load_from`` must have loaded something: by default (``load_from_strict='backbone'``)
    at least one tensor of the model's backbone (of the model, if it has none), so that a file
    of another model does not train from scratch with exit code 0.

    ``load_from_strict=True``: every key must match (checked by ``load_weights``);
    ``load_from_strict=False``: load what fits, whatever that is (the explicit opt-out).
    """
    if strict not in (True, False, "backbone"):
        raise ConfigError(
            f"load_from_strict={strict!r} is not valid; use 'backbone' (default: the file must "
            "fill some of the backbone), True (every key must match) or False (load what fits)"
        )
    if strict is not True and strict:
        keys = list(model.state_dict())
        part = [k for k in keys if k.startswith("backbone.")]
        what = "backbone" if part else "model"
        part = part or keys
        loaded = set(report.loaded)
        if part and not any(k in loaded for k in part):
            from vidlab.checkpoint import CheckpointError

            summary = "\n".join(str(report).splitlines()[:12])
            raise CheckpointError(
                f"load_from={report.source}: none of the {len(part)} {what} tensors of the "
                f"model is in the file (a checkpoint of another model?), so training would "
                f"start from scratch:\n{summary}\nUse a checkpoint of this model, or set "
                "load_from_strict=False to train with whatever fits"
            )


def _lr_scale(cfg, auto_scale_lr: bool, train_loader, info, runner) -> float:
    """``auto_scale_lr``: total batch size / the one the lr was tuned for, else 1."""
    scale_cfg = dict(cfg_get(cfg, "auto_scale_lr") or {})
    if not (auto_scale_lr or scale_cfg.get("enable", False)):
        return 1.0
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
    return lr_scale


def _loop_fp16(loop_cfg) -> bool:
    return bool(loop_cfg.get("fp16", False)) if isinstance(loop_cfg, dict) else False


def _best_checkpoints(hooks, work_dir: Path) -> dict:
    from vidlab.engine.hooks import CheckpointHook

    best = {}
    for hook in hooks:
        if isinstance(hook, CheckpointHook):
            out_dir = Path(hook.out_dir) if hook.out_dir else work_dir
            best = {k: str(out_dir / v["path"]) for k, v in hook.best.items()}
    return best


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
    **options,
) -> dict:
    """Test a checkpoint on ``test_dataloader``: :func:`vidlab.engine.testing.test` (its
    keyword options: ``dump``, ``onnx``, ``progress``, ``view_memory``, ``report_dir``,
    ``labels_file``)."""
    from vidlab.engine.testing import test as run_test

    return run_test(cfg, checkpoint, out=out, metrics=metrics, launcher=launcher, **options)
