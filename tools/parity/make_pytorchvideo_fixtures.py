"""Record PyTorchVideo's outputs (through MMAction2's ``PytorchVideoWrapper``) for vidlab's port.

Run from the repository root with the MMAction2 1.2.0 reference python, with ``pytorchvideo``
and ``torchvision`` importable (neither is in the reference environment, and PyTorchVideo's last
release 0.1.5 does not import with torchvision >= 0.17): put a torchvision wheel that matches the
reference torch and PyTorchVideo's source (its repository's ``pytorchvideo/`` folder, commit
f3142bb or later) on PYTHONPATH, e.g.

    pip download --no-deps -d /tmp/tv "torchvision==0.28.*"
    python -m zipfile -e /tmp/tv/torchvision-*.whl /tmp/site   # + the pytorchvideo/ folder
    PYTHONPATH=/tmp/site ~/.cache/mmaction2-ref/venv/bin/python \
        tools/parity/make_pytorchvideo_fixtures.py

(if torchvision's compiled ops do not load against that torch, drop ``_meta_registrations``
and ``_autograd_registrations`` from the scratch copy's ``__init__``: the transforms used here
are pure torch). Writes ``tests/fixtures/pytorchvideo/transforms.pt``: a small uint8
clip, each op of ``pytorchvideo.transforms.augmentations`` at a few arguments, and MMAction2's
``PytorchVideoWrapper`` outputs for the five ops it allows under fixed ``torch.manual_seed``
values; ``tests/data/test_pytorchvideo.py`` checks vidlab's port against it byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

OUT = Path("tests/fixtures/pytorchvideo/transforms.pt")

# op -> arguments (None: the op takes none)
OP_ARGS = {
    "AdjustBrightness": [0.1, 1.37, 1.9],
    "AdjustContrast": [0.3, 1.6],
    "AdjustSaturation": [0.2, 1.8],
    "AdjustSharpness": [0.1, 1.9],
    "AutoContrast": [None],
    "Equalize": [None],
    "Invert": [None],
    "Rotate": [-27.3, 13.0, 90.0],
    "Posterize": [0, 1, 3, 4],
    "Solarize": [0.0, 0.31, 1.0],
    "ShearX": [-0.28, 0.17],
    "ShearY": [0.3, -0.05],
    "TranslateX": [0.41, -0.2],
    "TranslateY": [-0.37, 0.1],
}
# (op, kwargs) of MMAction2's PytorchVideoWrapper; each run under seeds 0..SEEDS-1
WRAPPED = [
    ("RandAugment", dict(magnitude=7, num_layers=4)),  # the MViT / UniFormerV2 configs
    ("RandAugment", dict(magnitude=9, num_layers=2, prob=1.0, sampling_type="uniform")),
    ("AugMix", dict()),
    ("AugMix", dict(magnitude=9, alpha=0.5, width=4, depth=2)),
    (
        "RandomResizedCrop",
        dict(target_height=9, target_width=11, scale=(0.08, 1.0), aspect_ratio=(0.75, 1.33)),
    ),  # fmt: skip
    (
        "RandomResizedCrop",
        dict(
            target_height=12, target_width=12, scale=(0.3, 1.0), aspect_ratio=(0.5, 2.0), shift=True
        ),
    ),  # fmt: skip
    ("ShortSideScale", dict(size=10)),
    ("RandomShortSideScale", dict(min_size=8, max_size=20)),
]
SEEDS = 6


def clip() -> torch.Tensor:
    """(T, C, H, W) uint8: random pixels, frame 1 of low contrast (for AutoContrast/Equalize)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (3, 3, 13, 17), dtype=torch.uint8, generator=g)
    x[1] = x[1] // 3 + 40
    return x


def main() -> None:
    from mmaction.registry import TRANSFORMS
    from mmaction.utils import register_all_modules
    from pytorchvideo.transforms import augmentations

    register_all_modules()
    x = clip()
    fill = dict(fill=(0.5, 0.5, 0.5))
    ops = []
    for name, values in OP_ARGS.items():
        for k, v in enumerate(values):
            args = () if v is None else (v,)
            fn = augmentations._NAME_TO_TRANSFORM_FUNC[name]
            # a float clip in [0, 1] at the first argument only (the fixture stays small)
            as_float = fn(x.float() / 255, *args, **fill) if k == 0 else None
            ops.append((name, v, fn(x, *args, **fill), as_float))
    wrapped = []
    frames = [f for f in x.permute(0, 2, 3, 1).numpy()]  # MMAction2's list of (H, W, 3)
    for op, kwargs in WRAPPED:
        t = TRANSFORMS.build(dict(type="PytorchVideoWrapper", op=op, **kwargs))
        outs = []
        for seed in range(SEEDS):
            torch.manual_seed(seed)
            outs.append(torch.from_numpy(np.stack(t(dict(imgs=list(frames)))["imgs"])))
        wrapped.append((op, kwargs, outs))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(clip=x, ops=ops, wrapped=wrapped, seeds=SEEDS), OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {len(ops)} ops, {len(wrapped)} wrapped")


if __name__ == "__main__":
    main()
