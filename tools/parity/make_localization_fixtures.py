"""Write MMAction2 1.2.0's temporal-localization outputs as fixtures for vidlab's tests.

Run in the reference environment (``bash ../shared/tools/mmaction2_reference.sh``), from the
repository root::

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_localization_fixtures.py

For BMN, from MMAction2's own config file with a smaller temporal scale and widths (recorded
in the fixture, so the test builds the same model): the sampling mask MMAction2 builds, the
forward outputs on seeded weights, the training targets and loss terms (RNG seeded) for
ground-truth boxes, and the post-processed proposals of ``predict``. Also the soft-NMS of a
set of random proposals with many overlaps. Saved to ``tests/fixtures/localization/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from seeded import digest, seeded_state_dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "localization"

BMN_CONFIG = "localization/bmn/bmn_2xb8-400x100-9e_activitynet-feature.py"
BMN_CHANGES = dict(
    temporal_dim=24,
    feat_dim=32,
    num_samples=8,
    hidden_dim_1d=16,
    hidden_dim_2d=8,
    hidden_dim_3d=16,
    post_process_top_k=20,
)
VIDEO_INFO = dict(
    video_name="v_fixture",
    duration_second=61.3,
    duration_frame=1838,
    feature_frame=1824,
    annotations=[],
)
GT_BOXES = [[[0.1, 0.42], [0.55, 0.93]], [[0.0, 1.0]], [[0.3, 0.36]]]


def _configs_root() -> Path:
    import mmaction

    return Path(mmaction.__file__).parent / ".mim" / "configs"


def bmn_fixture() -> dict:
    from mmaction.models.losses.bmn_loss import BMNLoss  # noqa: F401 (registers it)
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    from mmaction.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.structures import InstanceData

    register_all_modules()
    cfg = Config.fromfile(str(_configs_root() / BMN_CONFIG))
    model_cfg = cfg.model.to_dict()
    model_cfg.update(BMN_CHANGES)
    model = MODELS.build(model_cfg).eval()
    sample_mask = model.sample_mask.detach().clone()
    spec = {
        k: (tuple(v.shape), str(v.dtype).split(".")[-1])
        for k, v in model.state_dict().items()
        if k not in ("sample_mask", "bm_mask")
    }
    weights = seeded_state_dict(spec, seed=11)
    model.load_state_dict({**model.state_dict(), **weights})

    gen = torch.Generator().manual_seed(3)
    n, t, c = len(GT_BOXES), model_cfg["temporal_dim"], model_cfg["feat_dim"]
    features = torch.randn(n, c, t, generator=gen)
    with torch.no_grad():
        conf, start, end = model._forward(features)
    gt = [torch.tensor(b, dtype=torch.float64) for b in GT_BOXES]
    iou_map, gt_start, gt_end = model.generate_labels(gt)
    torch.manual_seed(5)
    with torch.no_grad():
        loss = model.loss_cls(conf, start, end, iou_map, gt_start, gt_end, model.bm_mask)
    samples = []
    for b in GT_BOXES[:1]:
        s = ActionDataSample()
        s.gt_instances = InstanceData(gt_bbox=torch.tensor(b))
        s.set_metainfo(VIDEO_INFO)
        samples.append(s)
    with torch.no_grad():
        proposals = model.predict(features[:1], samples)[0]["proposal_list"]
    return dict(
        config=BMN_CONFIG,
        model=model_cfg,
        spec=spec,
        seed=11,
        digest=digest(weights),
        sample_mask=sample_mask,
        bm_mask=model.bm_mask.clone(),
        features=features,
        outputs=(conf, start, end),
        gt_boxes=GT_BOXES,
        labels=(iou_map, gt_start, gt_end),
        loss_seed=5,
        loss=tuple(x.detach() for x in loss),
        video_info=VIDEO_INFO,
        proposals=_plain(proposals),
    )


def _plain(proposals) -> list:
    """Python floats (the fixture loads with ``weights_only=True``)."""
    return [
        {"score": float(p["score"]), "segment": [float(x) for x in p["segment"]]} for p in proposals
    ]


def soft_nms_fixture() -> dict:
    from mmaction.models.localizers.utils import post_processing, soft_nms

    rng = np.random.default_rng(0)
    start = rng.uniform(0, 0.8, 300)
    props = np.stack([start, start + rng.uniform(0.02, 0.5, 300), rng.uniform(0, 1, 300)], 1)
    props[10:20, 2] = props[9, 2]  # ties
    kept = soft_nms(props.copy(), 0.4, 0.5, 0.9, 100)
    info = dict(duration_frame=1838, duration_second=61.3)
    listed = post_processing(props.copy(), info, 0.4, 0.5, 0.9, 100, 16)
    return dict(
        proposals=torch.from_numpy(props),
        soft_nms=torch.from_numpy(kept),
        post_processing=_plain(listed),
        video_info=info,
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in (("bmn", bmn_fixture), ("soft_nms", soft_nms_fixture)):
        torch.save(make(), OUT / f"{name}.pt")
        print(f"{name}: {(OUT / f'{name}.pt').stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
