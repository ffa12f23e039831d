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

The shared heads load the same way: ``ACRNHead`` and ``FBOHead`` (with its ``LFB``) need only
mmcv's ``ConvModule`` (pure Python, present) and MMEngine; they are loaded from their folder as
a package of their own (``FBOHead`` imports ``.lfb``), so ``mmaction.models`` (which imports
MMDetection) is never imported. ``FBOHead`` reads a small seeded bank written here to a
temporary folder; the bank itself is saved in the fixture. Saved to ``shared_heads.pt``.

``MaxIoUAssignerAVA`` subclasses MMDetection's ``MaxIoUAssigner``: a stand-in gives it the
parent's constructor (MMDetection 3's arguments and defaults), its ``AssignResult`` record and
the IoU of MMDetection's ``bbox_overlaps`` (a literal transcription); MMAction2's own
``assign_wrt_overlaps`` then runs on seeded boxes. Saved to ``assigner_ava.pt``.

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_detection_fixtures.py --only shared

The state-dict layout of every detection config (``--only keys``): MMAction2 cannot build its
``FastRCNN`` here, but its detector's weights are exactly those of the parts it can build (the
RoI extractor and the data preprocessor hold none): ``backbone.*`` (MMAction2's backbone),
``roi_head.bbox_head.*`` and ``roi_head.shared_head.*``. Their names and shapes, with each
config's model dict, are saved to ``ava_state_dict_keys.pt`` (one entry per distinct layout).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import tempfile
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


def _shared_heads_package():
    """MMAction2's shared_heads folder as a package of its own (its __init__ not run)."""
    import mmaction

    folder = Path(mmaction.__file__).parent / "models/roi_heads/shared_heads"
    package = types.ModuleType("mm_shared_heads")
    package.__path__ = [str(folder)]
    sys.modules["mm_shared_heads"] = package
    acrn = importlib.import_module("mm_shared_heads.acrn_head")
    fbo = importlib.import_module("mm_shared_heads.fbo_head")
    return acrn.ACRNHead, fbo.FBOHead


def _seed_module(module, seed: int) -> dict:
    spec = {
        k: (tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in module.state_dict().items()
    }
    weights = seeded_state_dict(spec, seed)
    module.load_state_dict(weights)
    return dict(spec=spec, seed=seed, digest=digest(weights))


def acrn_case(cls, kwargs: dict, seed: int) -> dict:
    head = cls(**kwargs).eval()
    case = dict(kwargs=kwargs, **_seed_module(head, seed))
    gen = torch.Generator().manual_seed(seed)
    c = kwargs["in_channels"] // 2
    x = torch.randn(5, c, 1, 4, 4, generator=gen)  # RoI features
    feat = torch.randn(2, c, 1, 6, 7, generator=gen)  # the clips' pooled maps
    rois = torch.tensor(
        [
            [0.0, 1, 1, 20, 20],
            [1, 2, 2, 30, 40],
            [0, 5, 5, 9, 9],
            [1, 0, 0, 3, 3],
            [1, 8, 8, 60, 60],
        ]
    )
    with torch.no_grad():
        out = head(x, feat, rois)
    return dict(case, x=x, feat=feat, rois=rois, out=out)


def _bank(channels: int, seed: int) -> dict:
    """A small feature bank: two videos, some seconds with 1..4 features (lists, as written)."""
    gen = torch.Generator().manual_seed(seed)
    bank = {}
    for video in ("vidA", "vidB"):
        bank[video] = {}
        for sec in range(900, 912):
            n = int(torch.randint(0, 5, (1,), generator=gen))
            if n:
                feats = torch.randn(n, channels, generator=gen).half()
                bank[video][sec] = list(feats)
    return bank


def fbo_case(cls, fbo_cfg: dict, seed: int, folder: Path) -> dict:
    channels = fbo_cfg["lt_feat_channels"]
    bank = _bank(channels, seed)
    torch.save(bank, folder / "lfb_train.pkl")
    lfb_cfg = dict(
        lfb_prefix_path=str(folder),
        max_num_sampled_feat=2,
        window_size=4,
        lfb_channels=channels,
        dataset_modes=("train",),
        device="cpu",
    )
    head = cls(lfb_cfg=dict(lfb_cfg), fbo_cfg=dict(fbo_cfg)).eval()
    case = dict(lfb_cfg=lfb_cfg, fbo_cfg=fbo_cfg, **_seed_module(head, seed))
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4, fbo_cfg["st_feat_channels"], 2, 3, 3, generator=gen)
    rois = torch.tensor([[0.0, 1, 1, 20, 20], [1, 2, 2, 30, 40], [0, 5, 5, 9, 9], [1, 0, 0, 3, 3]])
    metas = [dict(img_key="vidA,0903"), dict(img_key="vidB,0910")]
    torch.manual_seed(seed)  # the bank samples with torch.randperm
    with torch.no_grad():
        out = head(x, rois, metas)
    bank = {v: {s: torch.stack(f) for s, f in secs.items()} for v, secs in bank.items()}
    return dict(case, bank=bank, x=x, rois=rois, metas=metas, out=out)


def shared_head_cases() -> dict:
    acrn, fbo = _shared_heads_package()
    nl = dict(
        type="non_local",
        st_feat_channels=16,
        lt_feat_channels=16,
        latent_channels=8,
        num_st_feat=1,
        num_lt_feat=8,
        num_non_local_layers=2,
        st_feat_dropout_ratio=0.2,
        lt_feat_dropout_ratio=0.2,
        pre_activate=True,
    )
    cases = {
        "acrn": acrn_case(acrn, dict(in_channels=16, out_channels=12), 10),
        "acrn_stride2_3convs": acrn_case(
            acrn, dict(in_channels=16, out_channels=8, stride=2, num_convs=3), 11
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        cases["fbo_non_local"] = fbo_case(fbo, nl, 12, Path(tmp))
        cases["fbo_non_local_post_act"] = fbo_case(
            fbo, dict(nl, pre_activate=False, num_non_local_layers=1), 13, Path(tmp)
        )
        cases["fbo_max"] = fbo_case(fbo, dict(nl, type="max"), 14, Path(tmp))
        cases["fbo_avg"] = fbo_case(fbo, dict(nl, type="avg"), 15, Path(tmp))
    return cases


class _AssignResult:  # MMDetection's record, as far as MMAction2's assigner fills it
    def __init__(self, num_gts, gt_inds, max_overlaps, labels):
        self.num_gts, self.gt_inds, self.max_overlaps, self.labels = (
            num_gts,
            gt_inds,
            max_overlaps,
            labels,
        )


class _MaxIoUAssigner:  # MMDetection 3's constructor and defaults
    def __init__(
        self,
        pos_iou_thr,
        neg_iou_thr,
        min_pos_iou=0.0,
        gt_max_assign_all=True,
        ignore_iof_thr=-1,
        ignore_wrt_candidates=True,
        match_low_quality=True,
        gpu_assign_thr=-1,
        iou_calculator=None,
    ):
        self.pos_iou_thr, self.neg_iou_thr, self.min_pos_iou = pos_iou_thr, neg_iou_thr, min_pos_iou
        self.gt_max_assign_all, self.match_low_quality = gt_max_assign_all, match_low_quality


def _iou(b1, b2, eps=1e-6):  # MMDetection 3's bbox_overlaps(mode='iou', is_aligned=False)
    area1 = (b1[..., 2] - b1[..., 0]) * (b1[..., 3] - b1[..., 1])
    area2 = (b2[..., 2] - b2[..., 0]) * (b2[..., 3] - b2[..., 1])
    lt = torch.max(b1[..., :, None, :2], b2[..., None, :, :2])
    rb = torch.min(b1[..., :, None, 2:], b2[..., None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    overlap = wh[..., 0] * wh[..., 1]
    union = area1[..., None] + area2[..., None, :] - overlap
    return overlap / torch.max(union, union.new_tensor([eps]))


def assigner_cases() -> dict:
    for name in ("mmdet", "mmdet.models", "mmdet.models.task_modules"):
        sys.modules.setdefault(name, types.ModuleType(name))
    stub = sys.modules["mmdet.models.task_modules"]
    stub.AssignResult, stub.MaxIoUAssigner = _AssignResult, _MaxIoUAssigner
    import mmaction

    path = Path(mmaction.__file__).parent / "models/task_modules/assigners/max_iou_assigner_ava.py"
    spec = importlib.util.spec_from_file_location("mm_assigner_ava", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    settings = {
        "ava": dict(pos_iou_thr=0.9, neg_iou_thr=0.9, min_pos_iou=0.9),
        "loose": dict(pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0.3),
        "range_no_low_quality": dict(
            pos_iou_thr=0.6, neg_iou_thr=(0.1, 0.5), min_pos_iou=0.2, match_low_quality=False
        ),
        "low_quality_first_only": dict(
            pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.1, gt_max_assign_all=False
        ),
    }
    cases = {}
    for seed, (name, kwargs) in enumerate(settings.items()):
        gen = torch.Generator().manual_seed(100 + seed)
        gt = torch.rand(3, 2, generator=gen) * 60
        gt = torch.cat([gt, gt + 20 + torch.rand(3, 2, generator=gen) * 40], 1)
        jitter = (torch.rand(12, 4, generator=gen) - 0.5) * 16
        priors = gt[torch.arange(12) % 3] + jitter
        priors[:, 2:] = torch.max(priors[:, 2:], priors[:, :2] + 1)
        priors[-1] = gt[0]  # an exact tie for ground truth 0
        labels = (torch.rand(3, 8, generator=gen) < 0.4).float()
        labels[:, 0] = 1.0
        assigner = module.MaxIoUAssignerAVA(**kwargs)
        overlaps = _iou(gt, priors)
        result = assigner.assign_wrt_overlaps(overlaps, labels)
        cases[name] = dict(
            kwargs=kwargs,
            gt_bboxes=gt,
            priors=priors,
            gt_labels=labels,
            overlaps=overlaps,
            gt_inds=result.gt_inds,
            max_overlaps=result.max_overlaps,
            labels=result.labels,
        )
    return cases


def _strip_scope(node):
    if isinstance(node, dict):
        out = {k: _strip_scope(v) for k, v in node.items() if k != "_scope_"}
        if isinstance(out.get("type"), str):
            out["type"] = out["type"].split(".")[-1]
        return out
    if isinstance(node, (list, tuple)):
        return type(node)(_strip_scope(v) for v in node)
    return node


def _plain(node):
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return (
            [_plain(v) for v in node] if isinstance(node, list) else tuple(_plain(v) for v in node)
        )
    return node


def state_dict_layouts() -> dict:
    """{layout id: {"keys": {name: shape}, "configs": {relative path: model dict}}}."""
    import mmaction
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.config import Config

    register_all_modules()
    bbox_head_cls = _bbox_head_module()
    acrn, fbo = _shared_heads_package()
    root = Path(mmaction.__file__).parent / ".mim/configs/detection"
    layouts: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        torch.save({}, Path(tmp) / "lfb_train.pkl")
        torch.save({}, Path(tmp) / "lfb_val.pkl")
        for path in sorted(root.glob("*/*.py")):
            model = _plain(Config.fromfile(str(path)).model.to_dict())
            node = _strip_scope(model)
            shapes = {}
            try:
                with torch.device("meta"):  # no memory, no init
                    backbone = MODELS.build(node["backbone"])
            except RuntimeError:  # ViT reads drop-path rates with .item(): on the CPU
                backbone = MODELS.build(node["backbone"])
            parts = [("backbone.", backbone)]
            head = dict(node["roi_head"]["bbox_head"])
            head.pop("type")
            parts.append(("roi_head.bbox_head.", bbox_head_cls(**head)))
            shared = node["roi_head"].get("shared_head")
            if shared is not None:
                shared = dict(shared)
                kind = shared.pop("type")
                if kind == "ACRNHead":
                    parts.append(("roi_head.shared_head.", acrn(**shared)))
                elif kind == "FBOHead":
                    shared["lfb_cfg"] = dict(shared["lfb_cfg"], lfb_prefix_path=tmp, device="cpu")
                    parts.append(("roi_head.shared_head.", fbo(**shared)))
            for prefix, module in parts:
                for k, v in module.state_dict().items():
                    shapes[prefix + k] = tuple(v.shape)
            key = digest({k: torch.zeros(0) for k in shapes}) + str(sorted(shapes.items()))
            entry = layouts.setdefault(key, {"keys": shapes, "configs": {}})
            entry["configs"][str(path.relative_to(root))] = model
            print(path.name, len(shapes))
    return {f"layout_{i}": v for i, v in enumerate(layouts.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=("bbox_head", "shared", "assigner", "keys"))
    only = set(parser.parse_args().only or ("bbox_head", "shared", "assigner", "keys"))
    OUT.mkdir(parents=True, exist_ok=True)
    outputs = {}
    if "bbox_head" in only:
        cls = _bbox_head_module()
        outputs["bbox_head_ava"] = {
            name: head_case(cls, kwargs, seed) for seed, (name, kwargs) in enumerate(HEADS.items())
        }
    if "shared" in only:
        outputs["shared_heads"] = shared_head_cases()
    if "assigner" in only:
        outputs["assigner_ava"] = assigner_cases()
    if "keys" in only:
        outputs["ava_state_dict_keys"] = state_dict_layouts()
    for name, cases in outputs.items():
        torch.save(cases, OUT / f"{name}.pt")
        print(f"{name}: {(OUT / f'{name}.pt').stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
