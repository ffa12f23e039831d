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


TEM_CONFIG = "localization/bsn/bsn_tem_1xb16-400x100-20e_activitynet-feature.py"
TEM_CHANGES = dict(temporal_dim=32, tem_feat_dim=24, tem_hidden_dim=16)
PEM_CONFIG = "localization/bsn/bsn_pem_1xb16-400x100-20e_activitynet-feature.py"
PEM_CHANGES = dict(pem_hidden_dim=16, post_process_top_k=30)
PGM_CONFIG = "localization/bsn/bsn_pgm_400x100_activitynet-feature.py"


def _build(config: str, changes: dict):
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.config import Config

    register_all_modules()
    cfg = Config.fromfile(str(_configs_root() / config))
    model_cfg = cfg.model.to_dict()
    model_cfg.update(changes)
    model = MODELS.build(model_cfg).eval()
    spec = {k: (tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in model.state_dict().items()}
    weights = seeded_state_dict(spec, seed=13)
    model.load_state_dict(weights)
    return cfg, model_cfg, model, spec, weights


def bsn_fixture() -> dict:
    """TEM outputs, targets and loss; PGM proposals and features from TEM's rows (through
    MMAction2's own files); PEM outputs, loss and proposals on those features."""
    import tempfile

    from mmaction.models.localizers.utils import generate_bsp_feature, generate_candidate_proposals
    from mmaction.structures import ActionDataSample
    from mmengine.structures import InstanceData

    _, tem_cfg, tem, tem_spec, tem_weights = _build(TEM_CONFIG, TEM_CHANGES)
    gen = torch.Generator().manual_seed(4)
    t = tem_cfg["temporal_dim"]
    features = torch.randn(len(GT_BOXES), tem_cfg["tem_feat_dim"], t, generator=gen)
    with torch.no_grad():
        tem_out = tem._forward(features)
    samples = []
    for b in GT_BOXES:
        s = ActionDataSample()
        s.gt_instances = InstanceData(gt_bbox=torch.tensor(b, dtype=torch.float64))
        s.set_metainfo(dict(video_name="v_fixture"))
        samples.append(s)
    tem_labels = tem.generate_labels([s.gt_instances["gt_bbox"] for s in samples])
    with torch.no_grad():
        tem_loss = tem.loss(features, samples)
        tem_rows = tem.predict(features[:1], samples[:1])[0][1]  # (T, 5)

    pgm = Config_fromfile(PGM_CONFIG)
    info = dict(
        VIDEO_INFO,
        annotations=[dict(segment=[6.0, 25.5], label="a"), dict(segment=[40.2, 58.0], label="b")],
    )
    with tempfile.TemporaryDirectory() as tmp:  # MMAction2's PGM reads and writes files
        tem_dir, props_dir = Path(tmp) / "tem", Path(tmp) / "props"
        tem_dir.mkdir()
        props_dir.mkdir()
        np.savetxt(
            tem_dir / "v_fixture.csv",
            tem_rows,
            header="action,start,end,tmin,tmax",
            delimiter=",",
            comments="",
        )
        threshold = pgm.pgm_proposals_cfg["peak_threshold"]
        proposals = generate_candidate_proposals([0], [dict(info)], str(tem_dir), t, threshold)[
            "v_fixture"
        ]
        np.savetxt(
            props_dir / "v_fixture.csv",
            proposals,
            header="tmin,tmax,tmin_score,tmax_score,score,match_iou,match_ioa",
            delimiter=",",
            comments="",
        )
        opts = {k: v for k, v in pgm.pgm_features_test_cfg.items() if k != "pgm_features_thread"}
        bsp = generate_bsp_feature([0], [dict(info)], str(tem_dir), str(props_dir), **opts)[
            "v_fixture"
        ]
        read_props = np.loadtxt(
            props_dir / "v_fixture.csv", dtype=np.float32, delimiter=",", skiprows=1
        )

    _, pem_cfg, pem, pem_spec, pem_weights = _build(PEM_CONFIG, PEM_CHANGES)
    top = read_props[:1000]
    pem_sample = ActionDataSample()
    pem_sample.gt_instances = InstanceData(
        bsp_feature=torch.from_numpy(bsp.astype(np.float32)),
        reference_temporal_iou=torch.from_numpy(top[:, 5]),
        tmin=torch.from_numpy(top[:, 0]),
        tmax=torch.from_numpy(top[:, 1]),
        tmin_score=torch.from_numpy(top[:, 2]),
        tmax_score=torch.from_numpy(top[:, 3]),
    )
    pem_sample.set_metainfo(info)
    with torch.no_grad():
        pem_out = pem._forward(pem_sample.gt_instances["bsp_feature"])
        torch.manual_seed(9)
        pem_loss = pem.loss(None, [pem_sample])["temporal_iou_loss"]
        pem_props = pem.predict(None, [pem_sample])[0]["proposal_list"]
    return dict(
        tem_model=tem_cfg,
        tem_spec=tem_spec,
        tem_digest=digest(tem_weights),
        pem_model=pem_cfg,
        pem_spec=pem_spec,
        pem_digest=digest(pem_weights),
        seed=13,
        features=features,
        gt_boxes=GT_BOXES,
        tem_outputs=tem_out,
        tem_labels=tuple(tem_labels),
        tem_loss={k: v.detach() for k, v in tem_loss.items()},
        tem_rows=torch.from_numpy(tem_rows),
        video_info=info,
        pgm_proposals_cfg=dict(pgm.pgm_proposals_cfg),
        pgm_features_cfg=opts,
        proposals=torch.from_numpy(proposals),
        read_proposals=torch.from_numpy(read_props),
        bsp_feature=torch.from_numpy(bsp),
        pem_outputs=pem_out,
        pem_loss_seed=9,
        pem_loss=pem_loss.detach(),
        pem_proposals=_plain(pem_props),
    )


def Config_fromfile(config: str):  # noqa: N802 (mmengine's spelling)
    from mmengine.config import Config

    return Config.fromfile(str(_configs_root() / config))


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


TCANET_CONFIG = "localization/tcanet/tcanet_2xb8-700x100-9e_hacs-feature.py"
TCANET_CHANGES = dict(feat_dim=32, se_sample_num=8, action_sample_num=16, temporal_dim=24)


def tcanet_fixture() -> dict:
    """Encoded features, the three stages' refined proposals and IoU estimates (eval), and the
    loss terms (RNG seeded, eval mode: no dropout) for proposals and segments of 2 videos."""
    from mmaction.structures import ActionDataSample
    from mmengine.structures import InstanceData

    _, model_cfg, model, spec, weights = _build(TCANET_CONFIG, TCANET_CHANGES)
    gen = torch.Generator().manual_seed(6)
    features = torch.randn(2, model_cfg["feat_dim"], model_cfg["temporal_dim"], generator=gen)
    proposals = []
    for n in (7, 4):
        start = torch.rand(n, generator=gen) * 0.7
        proposals.append(
            torch.stack(
                [
                    start,
                    start + 0.05 + torch.rand(n, generator=gen) * 0.3,
                    torch.rand(n, generator=gen),
                ],
                1,
            )
        )
    boxes = [
        torch.tensor([[0.1, 0.4], [0.5, 0.8]], dtype=torch.float64),
        torch.tensor(
            [[0.2, 0.3], [0.35, 0.5], [0.6, 0.9], [0.0, 0.1], [0.15, 0.95]], dtype=torch.float64
        ),
    ]
    samples = []
    for p, b in zip(proposals, boxes):
        s = ActionDataSample()
        s.proposals = InstanceData(proposals=p)
        s.gt_instances = InstanceData(gt_bbox=b)
        samples.append(s)
    with torch.no_grad():
        encoded = model._forward(features)
        rows = torch.cat(
            [
                torch.cat([p[:, :2], torch.full((len(p), 1), float(i))], 1)
                for i, p in enumerate(proposals)
            ]
        )
        feats = encoded[rows[:, 2].long()]
        iou1, p1 = model.tbr1(rows, feats, None, 0.5, False)[:2]
        iou2, p2 = model.tbr2(p1, feats, None, 0.6, False)[:2]
        iou3, p3 = model.tbr3(p2, feats, None, 0.7, False)[:2]
        torch.manual_seed(8)
        loss = model.loss(features, samples)
    return dict(
        model=model_cfg,
        spec=spec,
        seed=13,
        digest=digest(weights),
        features=features,
        proposals=proposals,
        gt_boxes=boxes,
        encoded=encoded,
        refined=[p1, p2, p3],
        iou=[iou1, iou2, iou3],
        loss_seed=8,
        loss={k: v.detach() for k, v in loss.items()},
    )


def temporal_ap_fixture() -> dict:
    """MMAction2's average_precision_at_temporal_iou on random detections (ties included)."""
    from mmaction.evaluation.functional import average_precision_at_temporal_iou

    rng = np.random.default_rng(1)
    cases = []
    for n in (0, 5, 60, 200):
        gt = {}
        for v in range(4):
            seg = np.sort(rng.uniform(0, 100, (int(rng.integers(1, 5)), 2)), axis=1)
            gt[f"vid{v}"] = seg.tolist()
        rows = []
        for _ in range(n):
            v = f"vid{int(rng.integers(0, 5))}"  # vid4 has no ground truth
            s, e = np.sort(rng.uniform(0, 100, 2))
            rows.append([v, 0, float(s), float(e), float(np.round(rng.uniform(), 2))])
        ap = average_precision_at_temporal_iou({k: np.array(v) for k, v in gt.items()}, rows)
        cases.append(dict(ground_truth=gt, prediction=rows, ap=torch.from_numpy(ap)))
    return dict(cases=cases)


def main() -> None:
    only = sys.argv[1:]  # fixture names, default: all
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in (
        ("bmn", bmn_fixture),
        ("soft_nms", soft_nms_fixture),
        ("bsn", bsn_fixture),
        ("temporal_ap", temporal_ap_fixture),
        ("tcanet", tcanet_fixture),
    ):
        if only and name not in only:
            continue
        torch.save(make(), OUT / f"{name}.pt")
        print(f"{name}: {(OUT / f'{name}.pt').stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
