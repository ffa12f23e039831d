"""Write MMAction2-parity fixtures: run inside MMAction2's reference environment.

    bash ../shared/tools/mmaction2_reference.sh
    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_fixtures.py [--only NAME ...]

For each case below the model is built by MMAction2 1.2.0 from its own config file (only
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
from seeded import digest, seeded_state_dict, spec_of  # noqa: E402

OUT = HERE.parent.parent / "tests" / "fixtures" / "parity"

# name -> (MMAction2 config under configs/, clip shapes (N, C, T, H, W) to run[, damping])
CASES = {
    "tsn_r50_1x1x8_k400": (
        "recognition/tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64)],
    ),
    "tsm_r50_1x1x8_k400": (
        "recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64), (2, 3, 16, 64, 64)],  # 16 frames: two rows per clip, merged
    ),
    "tsm_r101_1x1x8_sthv2": (  # deep: shifts every other block of layer3
        "recognition/tsm/tsm_imagenet-pretrained-r101_8xb16-1x1x8-50e_sthv2-rgb.py",
        [(1, 3, 8, 64, 64)],
    ),
    "i3d_r50_32x2x1_k400": (
        "recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(2, 3, 32, 32, 32)],
    ),
    "i3d_r50_heavy_32x2x1_k400": (  # every block inflated, no temporal stride in the stem
        "recognition/i3d/i3d_imagenet-pretrained-r50-heavy_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(1, 3, 32, 32, 32)],
    ),
    "i3d_r50_nl_dot_product_32x2x1_k400": (
        "recognition/i3d/i3d_imagenet-pretrained-r50-nl-dot-product_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(1, 3, 32, 64, 64)],
        {
            "non_local_block.theta.conv.weight": 1e-3,
            "non_local_block.phi.0.conv.weight": 1e-3,
            "non_local_block.conv_out.bn.weight": 1e-2,
        },
    ),
    "i3d_r50_nl_embedded_gaussian_32x2x1_k400": (
        "recognition/i3d/i3d_imagenet-pretrained-r50-nl-embedded-gaussian_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(1, 3, 32, 64, 64)],
    ),
    "i3d_r50_nl_gaussian_32x2x1_k400": (
        "recognition/i3d/i3d_imagenet-pretrained-r50-nl-gaussian_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(1, 3, 32, 64, 64)],
    ),
    "slowonly_r50_8x8x1_k400": (
        "recognition/slowonly/slowonly_imagenet-pretrained-r50_8xb16-8x8x1-steplr-150e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64)],
    ),
    "slowonly_r50_nl_embedded_gaussian_4x16x1_k400": (
        "recognition/slowonly/slowonly_r50-in1k-pre-nl-embedded-gaussian_8xb16-4x16x1-steplr-150e_kinetics400-rgb.py",
        [(1, 3, 4, 64, 64)],
    ),
    "slowonly_r50_flow_16x4x1_k400": (  # 2-channel optical flow input
        "recognition/slowonly/slowonly_r50_8xb16-16x4x1-256e_kinetics400-flow.py",
        [(1, 2, 16, 32, 32)],
    ),
    "c2d_r50_8x8x1_k400": (
        "recognition/c2d/c2d_r50-in1k-pre_8xb32-8x8x1-100e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64)],
    ),
    "c2d_r50_nopool_8x8x1_k400": (  # per-frame ResNet + TSN head, as Recognizer2D
        "recognition/c2d/c2d_r50-in1k-pre-nopool_8xb32-8x8x1-100e_kinetics400-rgb.py",
        [(1, 3, 8, 64, 64)],
    ),
    "csn_ir_r50_32x2x1_k400": (
        "recognition/csn/ircsn_ig65m-pretrained-r50-bnfrozen_8xb12-32x2x1-58e_kinetics400-rgb.py",
        [(1, 3, 32, 32, 32)],
    ),
    "csn_ip_r152_32x2x1_k400": (
        "recognition/csn/ipcsn_r152_32x2x1-180e_kinetics400-rgb.py",
        [(1, 3, 32, 32, 32)],
    ),
    "r2plus1d_r34_8x8x1_k400": (  # SyncBN: nn.SyncBatchNorm in both, not distributed
        "recognition/r2plus1d/r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb.py",
        [(2, 3, 8, 32, 32)],
    ),
}


def _no_downloads(node):
    if isinstance(node, dict):
        return {k: (None if k == "pretrained" else _no_downloads(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_no_downloads(v) for v in node]
    return node


def _mm_inputs(clips: torch.Tensor, format_shape: str = "NCHW") -> list[torch.Tensor]:
    """vidlab's (N, C, T, H, W) -> MMAction2's per-sample inputs for its format_shape."""
    if format_shape == "NCTHW":
        return [c.unsqueeze(0).contiguous() for c in clips]  # (1 view, C, T, H, W)
    if format_shape != "NCHW":
        raise NotImplementedError(f"format_shape={format_shape!r}")
    return [c.transpose(0, 1).contiguous() for c in clips]  # (T, C, H, W)


def make(name: str, config: str, shapes: list, root: Path, damp: dict | None = None) -> dict:
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    from mmengine.config import Config

    cfg = Config.fromfile(str(root / config))
    model_cfg = _no_downloads(cfg.model.to_dict())
    model = MODELS.build(copy.deepcopy(model_cfg))
    fmt = model_cfg.get("data_preprocessor", {}).get("format_shape", "NCHW")
    spec = spec_of(model.state_dict())
    seed = sum(map(ord, name))
    # Damping: tensors whose key ends with one of ``damp``'s suffixes are multiplied by its
    # factor, where seeded weights would overflow (unnormalized dot-product non-local blocks).
    damped = {k: f for k in spec for sfx, f in (damp or {}).items() if k.endswith(sfx)}
    state = seeded_state_dict(spec, seed, damped)
    model.load_state_dict(state, strict=True)
    model.eval()
    # Residual sums grow with depth under random weights: scale the classifier so that the
    # logits are O(1) and softmax scores (what 'prob' averaging sees) are not one-hot.
    gen = torch.Generator().manual_seed(seed)
    probe = torch.randint(0, 256, shapes[0], generator=gen, dtype=torch.uint8)
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=_mm_inputs(probe, fmt), data_samples=None), False
        )
        peak = model(data["inputs"], mode="tensor", stage="head").abs().max().item()
    fc = [k for k in spec if k.startswith("cls_head.") and k.endswith(("weight", "bias"))]
    scale = {**damped, **{k: 4.0 / peak for k in fc}}
    state = seeded_state_dict(spec, seed, scale)
    model.load_state_dict(state, strict=True)

    runs = []
    for i, shape in enumerate(shapes):
        gen = torch.Generator().manual_seed(seed + 1 + i)
        clips = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
        samples = [ActionDataSample() for _ in range(shape[0])]
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=_mm_inputs(clips, fmt), data_samples=samples), training=False
            )
            logits = model(data["inputs"], mode="tensor", stage="head")
            preds = model(data["inputs"], data["data_samples"], mode="predict")
        scores = torch.stack([p.pred_score for p in preds])
        runs.append(dict(clips=clips, logits=logits.float().clone(), scores=scores.float().clone()))
    return dict(
        mmaction2="1.2.0",
        torch=str(torch.__version__),
        config=config,
        model=model_cfg,
        spec=spec,
        seed=seed,
        scale=scale,
        digest=digest(state),
        runs=runs,
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
    for name, (config, shapes, *damp) in CASES.items():
        if args.only and name not in args.only:
            continue
        fixture = make(name, config, shapes, root, *damp)
        torch.save(fixture, OUT / f"{name}.pt")
        size = (OUT / f"{name}.pt").stat().st_size
        print(f"{name}: {len(fixture['spec'])} tensors, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
