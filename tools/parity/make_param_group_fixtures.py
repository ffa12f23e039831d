"""Record MMAction2's parameter groups for configs with special optimizer settings.

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_param_group_fixtures.py

For each config below, MMAction2 1.2.0 builds the model (``pretrained`` set to None) and its
``optim_wrapper`` (with the config's ``constructor`` and ``paramwise_cfg``); the learning rate
and weight decay it gives every parameter are written, by parameter name, to
``tests/fixtures/parity/param_groups_<name>.json``. ``tests/models/test_mvit.py`` checks
vidlab's groups against them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_fixtures import _no_downloads  # noqa: E402

OUT = HERE.parent.parent / "tests" / "fixtures" / "parity"

CONFIGS = {
    # layer-wise decay (LearningRateDecayOptimizerConstructor), 16 layers, rate 0.75
    "mvit_small_maskfeat": "recognition/mvit/"
    "mvit-small-p244_k400-maskfeat-pre_8xb32-16x4x1-100e_kinetics400-rgb.py",
    # norm_decay_mult=0, bias_decay_mult=0
    "mvit_small_k400": "recognition/mvit/mvit-small-p244_32xb16-16x4x1-200e_kinetics400-rgb.py",
}


def main() -> None:
    import mmaction
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper

    register_all_modules()
    root = Path(mmaction.__file__).parent / ".mim" / "configs"
    for name, config in CONFIGS.items():
        cfg = Config.fromfile(str(root / config))
        model = MODELS.build(_no_downloads(cfg.model.to_dict()))
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        names = {id(p): n for n, p in model.named_parameters()}
        params = {}
        for group in wrapper.optimizer.param_groups:
            for p in group["params"]:
                params[names[id(p)]] = [group["lr"], group["weight_decay"]]
        out = OUT / f"param_groups_{name}.json"
        record = dict(config=config, optim_wrapper=cfg.optim_wrapper.to_dict(), params=params)
        out.write_text(json.dumps(record, indent=0, sort_keys=True) + "\n")
        print(f"{name}: {len(params)} parameters, {out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
