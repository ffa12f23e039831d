"""ST-GCN++ (Duan et al., 2022, "PYSKL"): ``STGCN`` with a learned graph, residual graph units
and multi-scale temporal convolutions.

MMAction2 has no class for it: its configs build ``STGCN(gcn_adaptive='init',
gcn_with_res=True, tcn_type='mstcn', graph_cfg=dict(layout=..., mode='spatial'))``, and so do
these variants (``configs/skeleton/stgcnpp``: joint, bone, joint-motion and bone-motion streams
of 2D COCO-17 and 3D NTU RGB+D keypoints, NTU-60 cross-subject). It is the model of ``vidlab
quickstart --task skeleton``.
"""

from __future__ import annotations

from vidlab.models.recognizer import RecognizerGCN
from vidlab.models.stgcn import STGCN, gcn_recognizer, gcn_variants

# what turns ST-GCN into ST-GCN++
STGCNPP_KWARGS = dict(gcn_adaptive="init", gcn_with_res=True, tcn_type="mstcn")


def _stgcnpp(layout: str, num_classes: int, **kwargs) -> RecognizerGCN:
    kwargs = {**STGCNPP_KWARGS, **kwargs}
    backbone = STGCN(graph_cfg=dict(layout=layout, mode="spatial"), **kwargs)
    return gcn_recognizer(backbone, num_classes)


_STAMPS = {
    ("j", "2d", "ntu60"): "20221228-86e1e77a",
    ("b", "2d", "ntu60"): "20221228-cd11a691",
    ("jm", "2d", "ntu60"): "20221228-19a34aba",
    ("bm", "2d", "ntu60"): "20221228-c02a0749",
    ("j", "3d", "ntu60"): "20221230-4e455ce3",
    ("b", "3d", "ntu60"): "20221230-7f356072",
    ("jm", "3d", "ntu60"): "20221230-650de5cc",
    ("bm", "3d", "ntu60"): "20221230-b00440d2",
}

gcn_variants("stgcnpp", "stgcnpp", _stgcnpp, _STAMPS, globals(), "ST-GCN++")
