"""MMAction2 0.x configs -> the 1.x layout vidlab reads.

The mapping follows MMAction2's "Migration from MMAction2 0.x" guide:

- ``data=dict(videos_per_gpu, workers_per_gpu, train, val, test, [train|val|test]_dataloader)``
  -> ``train_dataloader`` / ``val_dataloader`` / ``test_dataloader`` (``batch_size``,
  ``num_workers``, ``sampler=dict(type='DefaultSampler', shuffle=...)``, ``dataset``; a string
  ``data_prefix`` becomes ``dict(video=...)`` / ``dict(img=...)``; val/test datasets get
  ``test_mode=True``).
- pipelines: ``Collect`` / ``ToTensor`` / ``ImageToTensor`` / ``ToDataContainer`` are dropped and
  ``PackActionInputs`` ends the pipeline; ``Normalize`` moves to ``model.data_preprocessor``.
- ``optimizer`` (+ ``constructor``, ``paramwise_cfg``) and ``optimizer_config`` (``grad_clip``)
  and ``fp16`` -> ``optim_wrapper``.
- ``lr_config`` -> a ``param_scheduler`` list (warm-up scheduler + main scheduler).
- ``total_epochs`` / ``runner`` + ``evaluation`` -> ``train_cfg`` (``max_epochs``,
  ``val_interval``), ``val_cfg``, ``test_cfg``, ``val_evaluator``, ``test_evaluator``;
  ``evaluation.save_best`` -> ``default_hooks.checkpoint.save_best``.
- ``checkpoint_config`` -> ``default_hooks.checkpoint``; ``log_config`` ->
  ``default_hooks.logger`` + ``visualizer`` backends.
- top-level ``train_cfg=None`` / ``test_cfg=dict(average_clips=...)`` (0.x model settings) ->
  ``model.cls_head.average_clips`` / ``model.test_cfg``; ``train_cfg.blending`` ->
  ``model.data_preprocessor.blending``.
- ``dist_params``, ``cudnn_benchmark``, ``mp_start_method``, ``opencv_num_threads`` ->
  ``env_cfg``; ``resume_from`` -> ``load_from`` + ``resume=True``; ``workflow`` is dropped.
"""

from __future__ import annotations

import copy
from typing import Any

# 0.x type names -> 1.x names (keys of vidlab.config.names.NAMES) or 'module:Name' targets.
ALIASES: dict[str, str] = {
    "TSMOptimizerConstructor": "TSMOptimWrapperConstructor",
    "DefaultOptimizerConstructor": "DefaultOptimWrapperConstructor",
    "TensorboardLoggerHook": "TensorboardVisBackend",
    "TextLoggerHook": "LoggerHook",
    "EpochBasedRunner": "EpochBasedTrainLoop",
    "LabelSmoothLoss": "CrossEntropyLoss",
    "BCELossWithLogitsLoss": "BCELossWithLogits",
}

# 0.x keyword names -> 1.x names, per 0.x section.
KWARG_RENAMES: dict[str, dict[str, str]] = {
    "data": {"videos_per_gpu": "batch_size", "workers_per_gpu": "num_workers"},
    "optimizer_config": {"grad_clip": "clip_grad", "cumulative_iters": "accumulative_counts"},
    "evaluation": {"metrics": "metric_list", "start": "val_begin"},
    "lr_config": {"min_lr": "eta_min", "min_lr_ratio": "eta_min_ratio"},
}

# Top-level keys that only 0.x configs have (options on them apply before the upgrade).
OLD_KEYS = frozenset(
    {
        "data",
        "optimizer",
        "optimizer_config",
        "lr_config",
        "momentum_config",
        "total_epochs",
        "runner",
        "evaluation",
        "checkpoint_config",
        "log_config",
        "dist_params",
        "resume_from",
        "workflow",
        "fp16",
        "cudnn_benchmark",
        "mp_start_method",
        "opencv_num_threads",
    }
)

_FORMAT_STEPS = frozenset({"Collect", "ToTensor", "ImageToTensor", "ToDataContainer"})
_OLD_STEPS = _FORMAT_STEPS | {"Normalize"}
# 0.x model settings that lived in top-level train_cfg / test_cfg.
_MODEL_TEST_KEYS = frozenset(
    {"average_clips", "max_testing_views", "fcn_test", "feature_extraction"}
)
_LOOP_KEYS = frozenset(
    {"max_epochs", "max_iters", "val_begin", "val_interval", "by_epoch", "dynamic_intervals"}
)
_ACC_METRICS = (
    "top_k_accuracy",
    "mean_class_accuracy",
    "mean_average_precision",
    "mmit_mean_average_precision",
)
_SAVE_BEST = {
    "auto": "auto",
    "top1_acc": "acc/top1",
    "top5_acc": "acc/top5",
    "mean_class_accuracy": "acc/mean1",
    "mean_average_precision": "acc/mean_average_precision",
    "mmit_mean_average_precision": "acc/mmit_mean_average_precision",
}
_CHECKPOINT_KEYS = (
    "interval",
    "by_epoch",
    "save_optimizer",
    "out_dir",
    "max_keep_ckpts",
    "save_last",
    "save_param_scheduler",
    "filename_tmpl",
)


def _is_dict(v: Any) -> bool:
    return isinstance(v, dict)


def _has_old_pipeline(value: Any) -> bool:
    if isinstance(value, list) and any(_is_dict(s) and s.get("type") in _OLD_STEPS for s in value):
        return True
    if _is_dict(value):
        return any(_has_old_pipeline(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_old_pipeline(v) for v in value)
    return False


def is_old_style(cfg: dict) -> bool:
    """True if ``cfg`` uses MMAction2 0.x keys whose 1.x counterparts are absent, or 0.x
    pipeline steps (``Collect``, ``ToTensor``, ``Normalize``, ...)."""
    data = cfg.get("data")
    if (
        _is_dict(data)
        and "train_dataloader" not in cfg
        and ({"train", "val", "test", "videos_per_gpu", "workers_per_gpu"} & set(data))
    ):
        return True
    if _is_dict(cfg.get("optimizer")) and "optim_wrapper" not in cfg:
        return True
    if "lr_config" in cfg and "param_scheduler" not in cfg:
        return True
    if "total_epochs" in cfg or "optimizer_config" in cfg or "checkpoint_config" in cfg:
        return True
    if "log_config" in cfg or "resume_from" in cfg or "workflow" in cfg:
        return True
    if _is_dict(cfg.get("evaluation")) and "val_evaluator" not in cfg:
        return True
    runner = cfg.get("runner")
    if _is_dict(runner) and str(runner.get("type", "")).endswith("Runner"):
        return True
    return _has_old_pipeline(cfg)


def _short(v: Any) -> str:
    r = repr(v.to_dict() if hasattr(v, "to_dict") else v)
    return r if len(r) <= 70 else r[:67] + "..."


class _Upgrader:
    def __init__(self, cfg):
        self.cfg = cfg
        self.notes: list[str] = []
        self.norm: dict | None = None
        self.format_shape: str | None = None

    def note(self, msg: str) -> None:
        self.notes.append(msg)

    # --- model -------------------------------------------------------------------------
    def model_settings(self) -> None:
        cfg = self.cfg
        model = cfg.get("model")
        # 0.x top-level test_cfg / train_cfg were model settings.
        test_cfg = cfg.get("test_cfg")
        if test_cfg is None and "test_cfg" in cfg:
            del cfg["test_cfg"]
        elif _is_dict(test_cfg) and test_cfg and set(test_cfg) <= _MODEL_TEST_KEYS:
            del cfg["test_cfg"]
            if _is_dict(model):
                merged = dict(model.get("test_cfg") or {})
                merged.update(test_cfg)
                model["test_cfg"] = merged
            self.note(f"test_cfg={_short(test_cfg)} (0.x model setting) -> model.test_cfg")
        train_cfg = cfg.get("train_cfg")
        if train_cfg is None and "train_cfg" in cfg:
            del cfg["train_cfg"]
        elif (
            _is_dict(train_cfg)
            and train_cfg
            and "type" not in train_cfg
            and not (set(train_cfg) & _LOOP_KEYS)
        ):
            del cfg["train_cfg"]
            if _is_dict(model):
                merged = dict(model.get("train_cfg") or {})
                merged.update(train_cfg)
                model["train_cfg"] = merged
            self.note(f"train_cfg={_short(train_cfg)} (0.x model setting) -> model.train_cfg")
        if not _is_dict(model):
            return
        mtest = model.get("test_cfg")
        if _is_dict(mtest) and "average_clips" in mtest:
            avg = mtest.pop("average_clips")
            head = model.get("cls_head")
            if _is_dict(head):
                head.setdefault("average_clips", avg)
                self.note(f"model.test_cfg.average_clips={avg!r} -> model.cls_head.average_clips")
            if not mtest:
                model["test_cfg"] = None
        mtrain = model.get("train_cfg")
        if _is_dict(mtrain) and "blending" in mtrain:
            blending = mtrain.pop("blending")
            pre = model.get("data_preprocessor")
            if not _is_dict(pre):
                pre = {"type": "ActionDataPreprocessor"}
            pre.setdefault("blending", blending)
            model["data_preprocessor"] = pre
            self.note("model.train_cfg.blending -> model.data_preprocessor.blending")
            if not mtrain:
                model["train_cfg"] = None

    # --- pipelines ---------------------------------------------------------------------
    def _is_old_pipeline(self, value: Any) -> bool:
        return isinstance(value, list) and any(
            _is_dict(s) and s.get("type") in _OLD_STEPS for s in value
        )

    def _upgrade_pipeline(self, steps: list) -> list:
        out = []
        for step in steps:
            t = step.get("type") if _is_dict(step) else None
            if t == "Normalize":
                norm = {k: v for k, v in step.items() if k != "type"}
                if self.norm is None:
                    self.norm = norm
                elif norm != self.norm:
                    self.note(
                        f"pipelines use different Normalize settings; model.data_preprocessor "
                        f"uses the first ({_short(self.norm)}), not {_short(norm)}"
                    )
                continue
            if t in _FORMAT_STEPS:
                continue
            if t == "FormatShape" and self.format_shape is None:
                self.format_shape = step.get("input_format")
            out.append(step)
        if not any(_is_dict(s) and s.get("type") == "PackActionInputs" for s in out):
            out.append({"type": "PackActionInputs"})
        return out

    def pipelines(self) -> None:
        changed: list[str] = []

        def walk(value: Any, path: str) -> Any:
            if self._is_old_pipeline(value):
                changed.append(path)
                return self._upgrade_pipeline(value)
            if _is_dict(value):
                for k in list(value):
                    new = walk(value[k], f"{path}.{k}" if path else str(k))
                    if new is not value[k]:
                        value[k] = new
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    new = walk(item, f"{path}[{i}]")
                    if new is not item:
                        value[i] = new
            return value

        walk(self.cfg, "")
        if changed:
            self.note(
                "pipelines: Collect/ToTensor dropped, PackActionInputs appended, Normalize moved "
                f"to model.data_preprocessor ({', '.join(changed)})"
            )

    def data_preprocessor(self) -> None:
        model = self.cfg.get("model")
        if not _is_dict(model):
            return
        if self.format_shape is None:
            mtype = str(model.get("type", ""))
            self.format_shape = "NCTHW" if mtype.endswith("3D") else "NCHW"
        if self.norm is None:
            return
        pre = model.get("data_preprocessor")
        if _is_dict(pre) and ("mean" in pre or "std" in pre):
            return
        pre = dict(pre) if _is_dict(pre) else {"type": "ActionDataPreprocessor"}
        pre.setdefault("type", "ActionDataPreprocessor")
        for k in ("mean", "std"):
            if k in self.norm:
                pre[k] = self.norm[k]
        if self.norm.get("to_bgr"):
            pre["to_rgb"] = True  # both reverse the channel order
            self.note("Normalize(to_bgr=True) -> data_preprocessor.to_rgb=True (channel flip)")
        pre.setdefault("format_shape", self.format_shape)
        model["data_preprocessor"] = pre
        self.note(f"Normalize(mean, std) -> model.data_preprocessor ({_short(pre)})")

    # --- data --------------------------------------------------------------------------
    def _dataset(self, ds: Any, test_mode: bool, where: str) -> Any:
        if isinstance(ds, list):
            self.note(f"{where} is a list of datasets (0.x concatenation): not converted")
            return ds
        if not _is_dict(ds):
            return ds
        ds = dict(ds)
        if ds.get("type") == "RepeatDataset":
            self.note(
                f"{where}: RepeatDataset is not available in vidlab: use the inner dataset "
                "and more epochs"
            )
        prefix = ds.get("data_prefix")
        if isinstance(prefix, str):
            key = "img" if "Rawframe" in str(ds.get("type", "")) else "video"
            ds["data_prefix"] = {key: prefix}
        if test_mode:
            ds.setdefault("test_mode", True)
        return ds

    def data(self) -> None:
        cfg = self.cfg
        data = cfg.get("data")
        if not _is_dict(data) or "train_dataloader" in cfg:
            return
        if not ({"train", "val", "test", "videos_per_gpu", "workers_per_gpu"} & set(data)):
            return
        del cfg["data"]
        renames = KWARG_RENAMES["data"]
        common: dict[str, Any] = {
            "batch_size": data.get("videos_per_gpu", 1),
            "num_workers": data.get("workers_per_gpu", 0),
        }
        for k in ("persistent_workers", "pin_memory"):
            if k in data:
                common[k] = data[k]
        made = []
        for split, shuffle in (("train", True), ("val", False), ("test", False)):
            key = f"{split}_dataloader"
            if split not in data or key in cfg:
                continue
            loader = dict(common)
            override = data.get(key) or {}
            for k, v in override.items():
                if k == "shuffle":
                    shuffle = bool(v)
                else:
                    loader[renames.get(k, k)] = v
            loader["sampler"] = {"type": "DefaultSampler", "shuffle": shuffle}
            loader["dataset"] = self._dataset(data[split], split != "train", f"data.{split}")
            cfg[key] = loader
            made.append(key)
        dropped = set(data) - {
            "train",
            "val",
            "test",
            "videos_per_gpu",
            "workers_per_gpu",
            "persistent_workers",
            "pin_memory",
            "train_dataloader",
            "val_dataloader",
            "test_dataloader",
        }
        msg = (
            f"data -> {', '.join(made) or 'nothing'} (videos_per_gpu -> batch_size="
            f"{common['batch_size']}, workers_per_gpu -> num_workers={common['num_workers']})"
        )
        if dropped:
            msg += f"; dropped data.{', data.'.join(sorted(dropped))}"
        self.note(msg)

    # --- optimizer ---------------------------------------------------------------------
    def optimizer(self) -> None:
        cfg = self.cfg
        opt = cfg.get("optimizer")
        if not _is_dict(opt) or "optim_wrapper" in cfg:
            return
        del cfg["optimizer"]
        opt = dict(opt)
        wrapper: dict[str, Any] = {}
        if "constructor" in opt:
            c = opt.pop("constructor")
            wrapper["constructor"] = ALIASES.get(c, c)
        if "paramwise_cfg" in opt:
            wrapper["paramwise_cfg"] = opt.pop("paramwise_cfg")
        wrapper["optimizer"] = opt
        parts = ["optimizer"]
        oc = cfg.pop("optimizer_config", None)
        if _is_dict(oc):
            parts.append("optimizer_config")
            oc = dict(oc)
            hook_type = oc.pop("type", None)
            clip = oc.pop("grad_clip", None)
            if clip is not None:
                wrapper["clip_grad"] = clip
            for k in ("cumulative_iters", "update_interval"):
                if k in oc and oc[k] not in (None, 1):
                    wrapper["accumulative_counts"] = oc.pop(k)
                oc.pop(k, None)
            if "loss_scale" in oc or (hook_type and "Fp16" in hook_type):
                wrapper["type"] = "AmpOptimWrapper"
                wrapper["loss_scale"] = oc.pop("loss_scale", "dynamic")
            oc.pop("detect_anomalous_params", None)
            if oc:
                self.note(f"optimizer_config keys not converted: {', '.join(map(str, oc))}")
        fp16 = cfg.pop("fp16", None)
        if _is_dict(fp16):
            parts.append("fp16")
            wrapper["type"] = "AmpOptimWrapper"
            wrapper["loss_scale"] = fp16.get("loss_scale", "dynamic")
        if "type" in wrapper:  # put type first, for readability
            wrapper = {"type": wrapper.pop("type"), **wrapper}
        cfg["optim_wrapper"] = wrapper
        self.note(f"{' + '.join(parts)} -> optim_wrapper ({_short(wrapper)})")

    # --- schedules ---------------------------------------------------------------------
    def max_epochs(self) -> int | None:
        cfg = self.cfg
        epochs = None
        if "total_epochs" in cfg:
            epochs = cfg.pop("total_epochs")
        runner = cfg.get("runner")
        if _is_dict(runner):
            del cfg["runner"]
            if "max_epochs" in runner:
                epochs = runner["max_epochs"]
            if "max_iters" in runner:
                self.note(
                    "runner with max_iters (IterBasedRunner) is not supported: vidlab "
                    "trains by epochs; set train_cfg.max_epochs"
                )
        return epochs

    def lr_config(self, max_epochs: int | None) -> None:
        cfg = self.cfg
        lc = cfg.get("lr_config")
        if "lr_config" not in cfg:
            return
        del cfg["lr_config"]
        if "param_scheduler" in cfg or lc is None:
            return
        lc = dict(lc)
        policy = str(lc.get("policy", "fixed"))
        key = policy.lower().replace("_", "")
        by_epoch = bool(lc.get("by_epoch", True))
        scheds: list[dict[str, Any]] = []
        warmup = lc.get("warmup")
        if warmup:
            iters = lc.get("warmup_iters", 0)
            ratio = lc.get("warmup_ratio", 0.1)
            if warmup == "constant":
                ws: dict[str, Any] = {"type": "ConstantLR", "factor": ratio}
            else:
                if warmup != "linear":
                    self.note(f"lr_config.warmup={warmup!r} approximated by a linear warm-up")
                ws = {"type": "LinearLR", "start_factor": ratio}
            if lc.get("warmup_by_epoch"):
                ws.update(by_epoch=True, begin=0, end=iters, convert_to_iter_based=True)
            else:
                ws.update(by_epoch=False, begin=0, end=iters)
            scheds.append(ws)
        span: dict[str, Any] = {"by_epoch": by_epoch, "begin": 0}
        if by_epoch and max_epochs is not None:
            span["end"] = max_epochs
        # Smooth schedules stepped per iteration in 0.x (by_epoch=False) are epoch-based
        # schedules converted to iterations in 1.x.
        smooth: dict[str, Any] = dict(span)
        if not by_epoch:
            smooth = {"by_epoch": True, "begin": 0, "convert_to_iter_based": True}
            if max_epochs is not None:
                smooth["end"] = max_epochs
        main: dict[str, Any] | None = None
        if key == "step":
            step = lc.get("step")
            gamma = lc.get("gamma", 0.1)
            if isinstance(step, int):
                main = {"type": "StepLR", "step_size": step, "gamma": gamma, **span}
            else:
                main = {
                    "type": "MultiStepLR",
                    "milestones": list(step or []),
                    "gamma": gamma,
                    **span,
                }
            if lc.get("min_lr") is not None:
                self.note("lr_config.min_lr of the step policy has no 1.x equivalent: dropped")
        elif key == "cosineannealing":
            main = {"type": "CosineAnnealingLR", **smooth}
            if max_epochs is not None:
                main["T_max"] = max_epochs
            if lc.get("min_lr_ratio") is not None:
                main["eta_min_ratio"] = lc["min_lr_ratio"]
            else:
                main["eta_min"] = lc.get("min_lr", 0)
        elif key == "poly":
            main = {
                "type": "PolyLR",
                "power": lc.get("power", 1.0),
                "eta_min": lc.get("min_lr", 0.0),
                **smooth,
            }
        elif key == "exp":
            main = {"type": "ExponentialLR", "gamma": lc.get("gamma", 0.1), **span}
        elif key != "fixed":
            self.note(
                f"lr_config policy {policy!r} is not converted: write param_scheduler by hand"
            )
        if main is not None:
            scheds.append(main)
        cfg["param_scheduler"] = scheds
        self.note(
            f"lr_config (policy={policy!r}) -> param_scheduler "
            f"[{', '.join(s['type'] for s in scheds)}]"
        )
        if "momentum_config" in cfg:
            del cfg["momentum_config"]
            self.note(
                "momentum_config is not converted (dropped): add a momentum scheduler "
                "to param_scheduler by hand"
            )

    def loops(self, max_epochs: int | None) -> None:
        cfg = self.cfg
        ev = cfg.get("evaluation")
        if "evaluation" in cfg:
            del cfg["evaluation"]
        ev = dict(ev) if _is_dict(ev) else {}
        if not _is_dict(cfg.get("train_cfg")) and "train_dataloader" in cfg:
            train_cfg: dict[str, Any] = {"type": "EpochBasedTrainLoop"}
            if max_epochs is not None:
                train_cfg["max_epochs"] = max_epochs
            else:
                self.note("no total_epochs in the 0.x config: set train_cfg.max_epochs")
            train_cfg["val_begin"] = ev.get("start", 1) or 1
            train_cfg["val_interval"] = ev.get("interval", 1)
            cfg["train_cfg"] = train_cfg
            self.note(f"total_epochs / evaluation.interval -> train_cfg ({_short(train_cfg)})")
        evaluator: dict[str, Any] = {"type": "AccMetric"}
        metrics = ev.get("metrics")
        if isinstance(metrics, str):
            metrics = [metrics]
        if metrics:
            kept = [m for m in metrics if m in _ACC_METRICS]
            if kept:
                evaluator["metric_list"] = tuple(kept)
            others = [m for m in metrics if m not in _ACC_METRICS]
            if others:
                self.note(f"evaluation metrics not available in AccMetric, dropped: {others}")
        if ev.get("metric_options"):
            evaluator["metric_options"] = ev["metric_options"]
        if "val_dataloader" in cfg:
            cfg.setdefault("val_cfg", {"type": "ValLoop"})
            if "val_evaluator" not in cfg:
                cfg["val_evaluator"] = copy.deepcopy(evaluator)
                self.note(f"evaluation -> val_evaluator ({_short(evaluator)})")
        if "test_dataloader" in cfg:
            if not _is_dict(cfg.get("test_cfg")):
                cfg["test_cfg"] = {"type": "TestLoop"}
            cfg.setdefault("test_evaluator", copy.deepcopy(evaluator))
        save_best = ev.get("save_best")
        if save_best:
            ckpt = self._hook("checkpoint", "CheckpointHook")
            ckpt["save_best"] = _SAVE_BEST.get(save_best, save_best)
            if ev.get("rule"):
                ckpt["rule"] = ev["rule"]
            self.note(
                f"evaluation.save_best={save_best!r} -> default_hooks.checkpoint.save_best="
                f"{ckpt['save_best']!r}"
            )

    # --- runtime -----------------------------------------------------------------------
    def _hook(self, name: str, type_: str) -> dict:
        hooks = self.cfg.get("default_hooks")
        if not _is_dict(hooks):
            hooks = {}
        hook = hooks.get(name)
        hook = dict(hook) if _is_dict(hook) else {}
        hook.setdefault("type", type_)
        hooks[name] = hook
        self.cfg["default_hooks"] = hooks
        return self.cfg["default_hooks"][name]

    def runtime(self) -> None:
        cfg = self.cfg
        cc = cfg.get("checkpoint_config")
        if "checkpoint_config" in cfg:
            del cfg["checkpoint_config"]
        if _is_dict(cc):
            hook = self._hook("checkpoint", "CheckpointHook")
            for k in _CHECKPOINT_KEYS:
                if k in cc:
                    hook[k] = cc[k]
            rest = [k for k in cc if k not in _CHECKPOINT_KEYS]
            self.note(
                f"checkpoint_config -> default_hooks.checkpoint ({_short(hook)})"
                + (f"; dropped {rest}" if rest else "")
            )
        lc = cfg.get("log_config")
        if "log_config" in cfg:
            del cfg["log_config"]
        if _is_dict(lc):
            hook = self._hook("logger", "LoggerHook")
            if "interval" in lc:
                hook["interval"] = lc["interval"]
            backends = [{"type": "LocalVisBackend"}]
            for h in lc.get("hooks") or []:
                t = h.get("type") if _is_dict(h) else None
                if t == "TensorboardLoggerHook":
                    backends.append({"type": "TensorboardVisBackend"})
                elif t not in (None, "TextLoggerHook"):
                    self.note(f"log_config hook {t!r} is not available: dropped")
            if "visualizer" not in cfg:
                cfg["visualizer"] = {"type": "ActionVisualizer", "vis_backends": backends}
            self.note(
                "log_config -> default_hooks.logger"
                + (" + visualizer (TensorboardVisBackend)" if len(backends) > 1 else "")
            )
        env: dict[str, Any] = {}
        if _is_dict(cfg.get("dist_params")):
            env["dist_cfg"] = cfg.pop("dist_params")
        if "cudnn_benchmark" in cfg:
            env["cudnn_benchmark"] = cfg.pop("cudnn_benchmark")
        mp = {k: cfg.pop(k) for k in ("mp_start_method", "opencv_num_threads") if k in cfg}
        if mp:
            env["mp_cfg"] = mp
        if env:
            merged = dict(cfg.get("env_cfg") or {})
            for k, v in env.items():
                merged.setdefault(k, v)
            cfg["env_cfg"] = merged
            self.note(f"{', '.join(env)} -> env_cfg")
        if "resume_from" in cfg:
            resume_from = cfg.pop("resume_from")
            if resume_from:
                cfg["load_from"] = resume_from
                cfg["resume"] = True
                self.note(f"resume_from={resume_from!r} -> load_from + resume=True")
        if "workflow" in cfg:
            wf = cfg.pop("workflow")
            if list(map(tuple, wf or [])) not in ([("train", 1)], []):
                self.note(f"workflow={wf!r} dropped: validation runs per train_cfg.val_interval")
        for key, why in (
            ("gpu_ids", "devices come from the launcher"),
            ("omnisource", "OmniSource training is not available"),
            ("precise_bn", "PreciseBN is not available"),
            ("module_hooks", "module hooks are not available"),
            ("output_config", "use `vidlab test --out`"),
            ("eval_config", "use `vidlab test --metrics`"),
        ):
            if key in cfg:
                del cfg[key]
                self.note(f"{key} dropped ({why})")

    def run(self) -> None:
        self.model_settings()
        self.pipelines()
        self.data_preprocessor()
        self.data()
        self.optimizer()
        max_epochs = self.max_epochs()
        self.lr_config(max_epochs)
        self.loops(max_epochs)
        self.runtime()


def upgrade_config(cfg: dict) -> tuple[dict, list[str]]:
    """Convert an MMAction2 0.x config to the 1.x layout.

    The new config is a deep copy of ``cfg`` and so of its type: a
    :class:`vidlab.config.Config` stays a Config (the loader passes one in), and the dicts this
    function adds become Config nodes as they are stored into it. This module imports nothing of
    ``vidlab.config``: the config package calls it, never the other way round.

    Args:
        cfg: The config; it is not changed.

    Returns:
        ``(new_cfg, notes)``: the upgraded config (``cfg`` itself for a 1.x config) and
        human-readable notes of every conversion, in order.
    """
    if not is_old_style(cfg):
        return cfg, []
    new = copy.deepcopy(cfg)
    up = _Upgrader(new)
    up.run()
    return new, up.notes
