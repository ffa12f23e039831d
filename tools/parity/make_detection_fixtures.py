"""Write MMAction2 1.2.0's spatio-temporal detection outputs as fixtures for vidlab's tests.

Run in the reference environment (``bash ../shared/tools/mmaction2_reference.sh``), from the
repository root::

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_detection_fixtures.py

The reference environment has neither MMDetection nor mmcv's compiled ops, so MMAction2's
detector cannot be built there. ``BBoxHeadAVA`` only imports MMDetection's ``SamplingResult``
for a type hint: with a stand-in module for that name, its file loads on its own, and its
forward pass, loss and logs (``loss_and_target``) and box post-processing
(``predict_by_feat``, with flip and crop undone) are recorded here, for several head settings.
Saved to ``tests/fixtures/detection/bbox_head_ava.pt``.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from seeded import digest, seeded_state_dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "detection"

HEADS = {  # name -> BBoxHeadAVA arguments (the AVA configs' and their variations)
    "ava_default": dict(background_class=True, in_channels=32, num_classes=81, multilabel=True),
    "focal_mlp_avgpool": dict(
        background_class=True,
        in_channels=32,
        num_classes=81,
        multilabel=True,
        focal_gamma=1.0,
        focal_alpha=0.5,
        mlp_head=True,
        spatial_pool_type="avg",
        temporal_pool_type="max",
    ),
    "single_label_no_background": dict(
        background_class=False,
        in_channels=32,
        num_classes=12,
        multilabel=False,
        topk=(2, 4),
    ),
}


def _bbox_head_module():
    for name in (
        "mmdet",
        "mmdet.models",
        "mmdet.models.task_modules",
        "mmdet.models.task_modules.samplers",
    ):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["mmdet.models.task_modules.samplers"].SamplingResult = object  # a type hint only
    import mmaction

    path = Path(mmaction.__file__).parent / "models/roi_heads/bbox_heads/bbox_head.py"
    spec = importlib.util.spec_from_file_location("mm_bbox_head", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BBoxHeadAVA


def head_case(cls, kwargs: dict, seed: int) -> dict:
    from mmengine.config import ConfigDict

    head = cls(**kwargs).eval()
    spec = {k: (tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in head.state_dict().items()}
    weights = seeded_state_dict(spec, seed)
    head.load_state_dict(weights)
    gen = torch.Generator().manual_seed(seed)
    k, c = 10, kwargs["in_channels"]
    feats = torch.randn(k, c, 2, 4, 4, generator=gen)
    with torch.no_grad():
        logits = head(feats)
    n = kwargs["num_classes"]
    pos_labels = (torch.rand(6, n, generator=gen) < 0.15).float()
    pos_labels[:, 0] = 1.0 if kwargs["background_class"] else pos_labels[:, 0]
    pos_labels[5] = 0.0  # a positive box without any action
    if not kwargs["multilabel"]:
        pos_labels[:5] = torch.nn.functional.one_hot(torch.arange(5) % n, n).float()
        pos_labels[5] = 0.0
    sampling = types.SimpleNamespace(
        pos_priors=torch.zeros(6, 4), neg_priors=torch.zeros(4, 4), pos_gt_labels=pos_labels
    )
    out = head.loss_and_target(logits, None, [sampling], ConfigDict(pos_weight=1.0))
    rois = torch.cat(
        [
            torch.zeros(k, 1),
            torch.rand(k, 2, generator=gen) * 100,
            100 + torch.rand(k, 2, generator=gen) * 100,
        ],
        1,
    )
    metas = [
        dict(img_shape=(256, 340)),
        dict(img_shape=(256, 340), flip=True, crop_quadruple=[0.1, 0.05, 0.8, 0.9]),
    ]
    predicted = []
    for meta in metas:
        result = head.predict_by_feat((rois.clone(),), (logits,), [meta])[0]
        predicted.append((result.bboxes, result.scores))
    return dict(
        kwargs=kwargs,
        spec=spec,
        seed=seed,
        digest=digest(weights),
        feats=feats,
        logits=logits,
        labels=out["bbox_targets"][0],
        losses={k: v.detach() for k, v in out["loss_bbox"].items()},
        rois=rois,
        metas=metas,
        predicted=predicted,
    )


def main() -> None:
    cls = _bbox_head_module()
    cases = {
        name: head_case(cls, kwargs, seed) for seed, (name, kwargs) in enumerate(HEADS.items())
    }
    OUT.mkdir(parents=True, exist_ok=True)
    torch.save(cases, OUT / "bbox_head_ava.pt")
    print(f"bbox_head_ava: {(OUT / 'bbox_head_ava.pt').stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
