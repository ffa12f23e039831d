"""Skeleton GCNs: graphs equal MMAction2's, block keywords, the keypoint contract, fusion.

Parity of whole models with MMAction2 is in ``test_parity.py`` (``stgcn_*``, ``stgcnpp_*``,
``agcn_*``, ``aagcn_*`` fixtures); the contract of every variant in ``test_model_contract.py``.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.config import build
from vidlab.models import create_model
from vidlab.models.aagcn import AAGCN
from vidlab.models.fusion import StreamFusion, fuse_scores
from vidlab.models.layers.graph import LAYOUTS, Graph
from vidlab.models.stgcn import STGCN

GRAPHS = Path(__file__).resolve().parents[1] / "fixtures" / "skeleton_graphs.pt"


def test_graphs_equal_mmaction2():
    fixture = torch.load(GRAPHS, weights_only=True)
    for key, expected in fixture["graphs"].items():
        layout, mode, max_hop = key.split("/")
        layout = fixture["custom"] if layout == "custom" else layout
        got = Graph(layout=layout, mode=mode, max_hop=int(max_hop)).A
        assert got.dtype == np.float64
        assert torch.equal(torch.from_numpy(got), expected), key
    assert len(fixture["graphs"]) == 19


def test_graph_facts():
    for name, layout in LAYOUTS.items():  # skeldata's layouts: one definition of each
        a = Graph(name, "spatial").A
        n = layout.num_node
        assert a.shape == (3, n, n) and np.array_equal(a[0], np.eye(n))
        # a tree: one inward edge per joint but the center
        assert len(layout.inward) == n - 1 and layout.center not in [i for i, _ in layout.inward]
    with pytest.raises(ValueError, match="graph_cfg.layout='body25'"):
        Graph("body25")
    with pytest.raises(ValueError, match="graph_cfg.mode='distance'"):
        Graph("coco", "distance")
    with pytest.raises(ValueError, match=r"lacks \['center'\]"):
        Graph(dict(num_node=2, inward=[(1, 0)]))


def _coco_keypoints(n=2, m=2, t=12):
    torch.manual_seed(0)
    return torch.randn(n, m, t, 17, 3)


def test_stgcn_shapes_and_per_stage_keywords():
    net = STGCN(
        graph_cfg=dict(layout="coco", mode="spatial"),
        tcn_dropout=[0.0] + [0.1] * 9,  # one per stage (the first never has dropout)
        gcn_adaptive=("init",) * 10,
    ).eval()
    out = net(_coco_keypoints())
    assert out.shape == (2, 2, 256, 3, 17)  # time 12 -> 6 -> 3 at stages 5 and 8
    assert net.gcn[0].tcn.drop.p == 0.0 and net.gcn[4].tcn.drop.p == 0.1
    assert isinstance(net.gcn[3].gcn.A, torch.nn.Parameter)  # 'init': A is learned
    assert "gcn.0.gcn.PA" not in net.state_dict()
    with pytest.raises(TypeError, match=r"unexpected keywords \['dropout'\]"):
        STGCN(graph_cfg=dict(layout="coco"), dropout=0.5)
    with pytest.raises(ValueError, match="tcn_type='tcn3'"):
        STGCN(graph_cfg=dict(layout="coco"), tcn_type="tcn3")


def test_stgcn_importance_and_aagcn_keys():
    keys = STGCN(graph_cfg=dict(layout="nturgb+d", mode="stgcn_spatial")).state_dict()
    assert keys["gcn.0.gcn.PA"].shape == (3, 25, 25)  # edge importance, ones at init
    assert torch.equal(keys["gcn.0.gcn.PA"], torch.ones(3, 25, 25))
    assert keys["data_bn.weight"].shape == (75,)  # 'VC': joints x coordinates
    agcn = AAGCN(graph_cfg=dict(layout="coco", mode="spatial"), gcn_attention=False)
    keys = agcn.state_dict()
    assert keys["data_bn.weight"].shape == (2 * 3 * 17,)  # 'MVC': per person too
    assert "A" in keys and "gcn.0.gcn.alpha" in keys and "gcn.0.gcn.conv_ta.weight" not in keys
    assert agcn.gcn[-1].gcn.out_c == 256


def test_recognizer_gcn_from_config_and_keypoint_contract():
    model = build(
        dict(
            type="RecognizerGCN",
            backbone=dict(type="STGCN", graph_cfg=dict(layout="coco", mode="stgcn_spatial")),
            cls_head=dict(type="GCNHead", num_classes=7, in_channels=256),
        )
    ).eval()
    assert "cls_head.fc.weight" in model.state_dict()  # MMAction2's key, not fc_cls
    assert not any("fc_cls" in k for k in model.state_dict())
    assert model.average_clips == "prob"
    x = _coco_keypoints()
    with torch.no_grad():
        logits = model(x)
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    assert logits.shape == (2, 7) and pooled.shape == (2, 256)
    assert torch.allclose(model.cls_head.fc(pooled), logits, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, M, T, V, C\)"):
        model(x[0])
    # 10 clips per sample are 10 views: averaged as probabilities
    views = torch.randn(20, 7)
    expected = views.reshape(2, 10, 7).softmax(-1).mean(1)
    assert torch.allclose(model.average_views(views, 10), expected)


def test_fuse_scores_is_mmaction2s_weighted_sum():
    torch.manual_seed(0)
    j, b = torch.randn(4, 5), torch.randn(4, 5)
    fused = fuse_scores([j, b], [0.6, 0.4])
    # MMAction2's get_weighted_score: np.dot(scores.T, coeff).T
    expected = np.dot(np.array([j.numpy(), b.numpy()]).T, np.array([0.6, 0.4])).T
    assert np.allclose(fused.numpy(), expected, atol=1e-6)
    soft = fuse_scores([j, b], apply_softmax=True)
    assert torch.allclose(soft, j.softmax(-1) + b.softmax(-1))
    with pytest.raises(ValueError, match="2 score tensors but 1 coefficients"):
        fuse_scores([j, b], [1.0])


def test_stream_fusion_runs_each_stream_model():
    torch.manual_seed(0)
    models = {s: create_model(f"stgcnpp_{s}_2d_ntu60", num_classes=4).eval() for s in ("j", "b")}
    fusion = StreamFusion(models, coefficients={"j": 2.0})
    streams = {"j": _coco_keypoints(n=4, m=1), "b": _coco_keypoints(n=4, m=1)}
    with torch.no_grad():
        fused = fusion(streams, num_views=2)
        j = models["j"].average_views(models["j"](streams["j"]), 2)
        b = models["b"].average_views(models["b"](streams["b"]), 2)
    assert fused.shape == (2, 4)
    assert torch.allclose(fused, 2 * j + b)
    with pytest.raises(ValueError, match=r"no input for streams \['b'\]"):
        fusion({"j": streams["j"]})
