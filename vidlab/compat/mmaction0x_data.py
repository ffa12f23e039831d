"""MMAction2 0.x -> 1.x, data side: model settings of the top-level ``train_cfg`` /
``test_cfg``, pipelines (0.x formatting steps dropped, ``Normalize`` moved to the data
preprocessor) and ``data=dict(...)`` -> ``train/val/test_dataloader``."""

from __future__ import annotations

from typing import Any

from vidlab.compat.mmaction0x_base import (
    _FORMAT_STEPS,
    _OLD_STEPS,
    KWARG_RENAMES,
    _is_dict,
    _short,
    _UpgradeBase,
)

# 0.x model settings that lived in top-level train_cfg / test_cfg.
_MODEL_TEST_KEYS = frozenset(
    {"average_clips", "max_testing_views", "fcn_test", "feature_extraction"}
)
_LOOP_KEYS = frozenset(
    {"max_epochs", "max_iters", "val_begin", "val_interval", "by_epoch", "dynamic_intervals"}
)


class _DataUpgrade(_UpgradeBase):
    """Conversions of the model settings, pipelines and data loaders."""

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
        if ds.get("type") == "RepeatDataset" and _is_dict(ds.get("dataset")):
            ds["dataset"] = self._dataset(ds["dataset"], test_mode, f"{where}.dataset")
            return ds
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
