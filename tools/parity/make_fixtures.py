"""Write MMAction2-parity fixtures: run inside MMAction2's reference environment.

    bash ../shared/tools/mmaction2_reference.sh
    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_fixtures.py [--only NAME ...]

For each case of ``cases.py`` the model is built by MMAction2 1.2.0 from its own config file (only
``pretrained`` is set to None so nothing downloads), given seeded weights (``seeded.py``,
BatchNorm statistics included) and run in eval mode on a seeded uint8 clip. The fixture
``tests/fixtures/parity/<name>.pt`` keeps the config's model dict, the state-dict keys and
shapes, the seed and hash of the weights, the clip, and MMAction2's outputs;
``tests/models/test_parity.py`` checks vidlab against it without MMAction2. vidlab itself
never imports MMAction2.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cases import CASES  # noqa: E402
from seeded import digest, seeded_state_dict, spec_of  # noqa: E402

OUT = HERE.parent.parent / "tests" / "fixtures" / "parity"


def _set(model_cfg: dict, dotted: str, value) -> None:
    node = model_cfg
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value


def tin_shift_loop(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """mmcv's ``tin_shift`` written out as its CUDA kernel reads: ``x`` (N, T, C, HW), ``shift``
    (N, G) ints; ``out[n, i + s, c] = x[n, i, c]`` for ``s = shift[n, c // (C // G)]`` where
    ``0 <= i + s < T``; the rest of ``out`` stays zero."""
    n, t, c, _ = x.shape
    group_channel = c // shift.shape[1]
    out = torch.zeros_like(x)
    for b in range(n):
        for j in range(c):
            s = int(shift[b, j // group_channel])
            for i in range(t):
                if 0 <= i + s < t:
                    out[b, i + s, j] = x[b, i, j]
    return out


def _provide_tin_shift() -> None:
    import types

    try:
        import mmcv.ops as ops
    except Exception:  # noqa: BLE001 - mmcv-lite: no compiled ops at all
        ops = types.ModuleType("mmcv.ops")
        sys.modules["mmcv.ops"] = ops
    ops.tin_shift = tin_shift_loop


def _import_mmpretrain() -> None:
    """mmpretrain 1.2.0 (pure Python) needs ``modelindex`` and ``torchvision.ops.boxes`` only
    for parts these cases never use: empty stand-ins are put in ``sys.modules`` if missing."""
    import types

    for name in (
        "modelindex",
        "modelindex.load_model_index",
        "modelindex.models",
        "modelindex.models.Model",
        "torchvision",
        "torchvision.ops",
        "torchvision.ops.boxes",
    ):
        try:
            __import__(name)
        except ImportError:
            module = types.ModuleType(name)
            module.load = module.Model = lambda *a, **k: None
            sys.modules[name] = module
    # mmaction registers MobileOneTSM only if mmpretrain imported when mmaction did
    import mmaction.models.backbones.mobileone_tsm  # noqa: F401
    import mmpretrain.models  # noqa: F401


def _is_download(key: str, value) -> bool:
    """``pretrained=...`` or ``init_cfg=dict(type='Pretrained', ...)`` (MMPretrain backbones)."""
    if key == "pretrained":
        return True
    return key == "init_cfg" and isinstance(value, dict) and value.get("type") == "Pretrained"


def _no_downloads(node):
    if isinstance(node, dict):
        return {k: (None if _is_download(k, v) else _no_downloads(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_no_downloads(v) for v in node]
    return node


def _mm_inputs(clips: torch.Tensor, format_shape: str = "NCHW") -> list[torch.Tensor]:
    """vidlab's (N, C, T, H, W) (audio: (N, C, T, F)) -> MMAction2's per-sample inputs for its
    format_shape."""
    if format_shape == "MM":  # {modality: (N, C, T, H, W)} -> {modality: per-sample views}
        return {k: [c.unsqueeze(0).contiguous() for c in v] for k, v in clips.items()}
    if format_shape == "GCN":  # (N, M, T, V, C) -> per sample (1 clip, M, T, V, C)
        return [c.unsqueeze(0).contiguous() for c in clips]
    if format_shape == "MIX2d3d" and clips.dim() == 4:  # OmniSource's images
        return [c.contiguous() for c in clips]  # (C, H, W)
    if format_shape in ("NCTHW", "MIX2d3d", "NCTF"):
        return [c.unsqueeze(0).contiguous() for c in clips]  # (1 view, C, T, H, W)
    if format_shape != "NCHW":
        raise NotImplementedError(f"format_shape={format_shape!r}")
    return [c.transpose(0, 1).contiguous() for c in clips]  # (T, C, H, W) for NCHW


def _peak(logits) -> float:
    if isinstance(logits, dict):  # RGBPoseHead: one logit tensor per pathway
        return max(v.abs().max().item() for v in logits.values())
    return logits.abs().max().item()


def _float(logits):
    if isinstance(logits, dict):
        return {k: v.float().clone() for k, v in logits.items()}
    return logits.float().clone()


def _stack_scores(scores: list):
    if isinstance(scores[0], dict):  # RGBPoseHead's pred_score: {'rgb': (K,), 'pose': (K,)}
        return {k: torch.stack([s[k] for s in scores]).float().clone() for k in scores[0]}
    return torch.stack(scores).float().clone()


def _draw(shape, gen: torch.Generator, kind: str | None):
    """A seeded model input: N(0, 1) keypoints, or uint8 pixels (heatmaps too); a dict of
    shapes (one per modality) gives a dict of inputs."""
    if isinstance(shape, dict):
        return {k: _draw(v, gen, kind) for k, v in shape.items()}
    if kind == "keypoints":
        return torch.randn(shape, generator=gen)
    return torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)


def _head_logits(model, inputs: torch.Tensor) -> torch.Tensor:
    """MMAction2's logits (eval): ``mode='tensor'`` of RecognizerOmni unpacks its features as a
    tuple (it works for batches of 2 only), so its backbone and head are called directly."""
    if type(model).__name__ == "RecognizerOmni":
        return model.cls_head(model.extract_feat(inputs, test_mode=True))
    if isinstance(inputs, dict):  # MMRecognizer3D reshapes its dict of inputs in place
        inputs = dict(inputs)
    return model(inputs, mode="tensor", stage="head")


def _predict(model, data: dict) -> list:
    if type(model).__name__ == "RecognizerOmni":  # takes a tuple of batches, one per source
        return model(data, mode="predict")
    inputs = data["inputs"]
    if isinstance(inputs, dict):  # MMRecognizer3D reshapes its dict of inputs in place
        inputs = dict(inputs)
    return model(inputs, data["data_samples"], mode="predict")


def _relation_draws(model, seed: int) -> list[list[int]] | None:
    """TRN's multi-scale head draws relations with numpy's global generator in every call:
    seed it (before each call) and return the draws such a call makes, or None for others."""
    import numpy as np

    consensus = getattr(model.cls_head, "consensus", None)
    if not hasattr(consensus, "subsample_scales"):
        return None
    np.random.seed(seed)
    sizes = zip(consensus.relations_scales[1:], consensus.subsample_scales[1:])
    draws = [np.random.choice(len(r), k, replace=False).tolist() for r, k in sizes]
    np.random.seed(seed)
    return draws


def _train_losses(model, shape: tuple, seed: int, fmt: str) -> list[dict]:
    """MMAction2's training-mode losses (``mode='loss'``: BN on batch statistics, TPN's
    auxiliary loss from the labels), dropout off, on a seeded clip: hard labels, then soft
    labels (as mixup makes them) with the head's ``label_smooth_eps=0.1``. Run last: BN
    running statistics change."""
    from mmaction.structures import ActionDataSample

    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    gen = torch.Generator().manual_seed(seed + 100)
    clips = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
    k = model.cls_head.num_classes
    hard = torch.randint(0, k, (shape[0],), generator=gen)
    soft = torch.rand(shape[0], k, generator=gen).softmax(1)
    model.train()
    records = []
    for labels, eps in ((hard, 0.0), (soft, 0.1)):
        model.cls_head.label_smooth_eps = eps
        samples = [ActionDataSample().set_gt_label(y) for y in labels]
        data = model.data_preprocessor(
            dict(inputs=_mm_inputs(clips, fmt), data_samples=samples), training=True
        )
        with torch.no_grad():
            losses = model(data["inputs"], data["data_samples"], mode="loss")
        losses = {n: v.float().clone() for n, v in losses.items() if "loss" in n}
        records.append(dict(clips=clips, labels=labels, label_smooth_eps=eps, losses=losses))
    model.cls_head.label_smooth_eps = 0.0
    model.eval()
    return records


def make(name: str, config: str, shapes: list, root: Path, options: dict | None = None) -> dict:
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    from mmengine.config import Config

    options = options or {}
    if options.get("needs") == "tin_shift":
        _provide_tin_shift()
    elif options.get("needs") == "mmpretrain":
        _import_mmpretrain()
    cfg = Config.fromfile(str(root / config))
    model_cfg = _no_downloads(cfg.model.to_dict())
    for key, value in options.get("changes", {}).items():
        _set(model_cfg, key, value)
    mm_cfg = copy.deepcopy(model_cfg)
    for key, value in options.get("reference", {}).items():
        _set(mm_cfg, key, value)
    fmt = model_cfg.get("data_preprocessor", {}).get("format_shape", "NCHW")
    if model_cfg["type"] == "RecognizerAudio":  # FormatAudioShape's layout, one view each
        fmt = "NCTF"
    if model_cfg["type"] == "RecognizerGCN":  # FormatGCNInput's layout, one clip each
        fmt = "GCN"
    if model_cfg["type"] == "MMRecognizer3D":  # RGB + heatmaps, one dict of inputs
        fmt = "MM"
    if options.get("input") == "heatmap":  # no data_preprocessor: default 'NCHW' only stacks
        fmt = "NCTHW"
    model = MODELS.build(mm_cfg)
    spec = spec_of(model.state_dict())
    own_parts = options.get("own_buffers", [])
    own = {k: v.clone() for k, v in model.state_dict().items() if any(p in k for p in own_parts)}
    seed = sum(map(ord, name))
    # "scale": {key substring: factor} tames weights whose random draw overflows (the
    # unnormalized dot-product non-local blocks).
    extra = {k: f for k in spec for part, f in options.get("scale", {}).items() if part in k}
    state = seeded_state_dict(spec, seed, extra)
    model.load_state_dict({**state, **own}, strict=True)
    model.eval()
    # Residual sums grow with depth under random weights: scale the classifier so that the
    # logits are O(1) and softmax scores (what 'prob' averaging sees) are not one-hot.
    # OmniHead: fc2d scaled by the image probe (a 4D shape), fc3d by the video probe.
    scale = dict(extra)
    parts = {"cls_head.fc2d.": 4, "cls_head.fc3d.": 5} if fmt == "MIX2d3d" else {"cls_head.": 0}
    for part, rank in parts.items():
        shape = next(s for s in shapes if rank in (0, len(s)))
        gen = torch.Generator().manual_seed(seed)
        probe = _draw(shape, gen, options.get("input"))
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=_mm_inputs(probe, fmt), data_samples=None), False
            )
            peak = _peak(_head_logits(model, data["inputs"]))
        fc = [k for k in spec if k.startswith(part) and k.endswith(("weight", "bias"))]
        scale.update({k: 4.0 / peak for k in fc})
    state = seeded_state_dict(spec, seed, scale)
    model.load_state_dict({**state, **own}, strict=True)

    runs = []
    for i, shape in enumerate(shapes):
        gen = torch.Generator().manual_seed(seed + 1 + i)
        clips = _draw(shape, gen, options.get("input"))
        batch = len(next(iter(clips.values()))) if isinstance(clips, dict) else shape[0]
        samples = [ActionDataSample() for _ in range(batch)]
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=_mm_inputs(clips, fmt), data_samples=samples), training=False
            )
            draws = _relation_draws(model, seed + i)
            logits = _head_logits(model, data["inputs"])
            _relation_draws(model, seed + i)  # the same draws again
            preds = _predict(model, data)
        scores = _stack_scores([p.pred_score for p in preds])
        run = dict(clips=clips, logits=_float(logits), scores=scores)
        if draws is not None:
            run["relation_picks"] = draws
        runs.append(run)
    extra_records = {}
    if options.get("train"):
        extra_records["train"] = _train_losses(model, shapes[0], seed, fmt)
    return dict(
        mmaction2="1.2.0",
        torch=str(torch.__version__),
        config=config,
        changes=options.get("changes", {}),
        own_buffers=own_parts,
        reference_changes=options.get("reference", {}),
        model=model_cfg,
        spec=spec,
        seed=seed,
        scale=scale,
        digest=digest(state),
        runs=runs,
        **extra_records,
    )


def main() -> None:
    import mmaction
    from mmaction.utils import register_all_modules

    register_all_modules()
    root = Path(mmaction.__file__).parent / ".mim" / "configs"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="case names to write")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (config, shapes, *options) in CASES.items():
        if args.only and name not in args.only:
            continue
        fixture = make(name, config, shapes, root, *options)
        torch.save(fixture, OUT / f"{name}.pt")
        size = (OUT / f"{name}.pt").stat().st_size
        print(f"{name}: {len(fixture['spec'])} tensors, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
