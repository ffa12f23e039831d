"""MMAction2 0.x -> 1.x, training side: ``optimizer`` / ``optimizer_config`` / ``fp16`` ->
``optim_wrapper``, ``lr_config`` -> ``param_scheduler``, ``total_epochs`` / ``runner`` /
``evaluation`` -> loops and evaluators, and the runtime (hooks, logging, environment)."""

from __future__ import annotations

import copy
from typing import Any

from vidlab.compat.mmaction0x_base import ALIASES, _is_dict, _short, _UpgradeBase

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


class _TrainUpgrade(_UpgradeBase):
    """Conversions of the optimizer, schedules, loops and runtime."""

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
