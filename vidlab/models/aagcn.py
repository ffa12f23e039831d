"""2s-AGCN and MS-AAGCN (Shi et al., 2019, 2020): GCNs whose graphs adapt to the data.

``AAGCN`` is MMAction2's backbone of that name: blocks of an adaptive graph unit
(``UnitAAGCN``: the fixed graph, a learned one and a data-dependent one, then spatial, temporal
and channel attention) and ST-GCN's temporal unit. With ``gcn_attention=False`` it is 2s-AGCN,
which is what MMAction2's ``configs/skeleton/2s-agcn`` build (the "two streams" are the joint
and bone models, fused at test time: ``vidlab.models.fusion``). Input ``(N, M, T, V, C)``
keypoints, output ``(N, M, C', T', V)`` maps, as ``STGCN``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from vidlab.models.layers.gcn import UnitAAGCN
from vidlab.models.layers.graph import Graph
from vidlab.models.recognizer import RecognizerGCN
from vidlab.models.stgcn import (
    GCNBackbone,
    GCNBlock,
    data_bn,
    gcn_recognizer,
    gcn_variants,
    stage_kwargs,
)


class AAGCNBlock(GCNBlock):
    """AAGCN's block: ``UnitAAGCN`` (``gcn_adaptive``, ``gcn_attention``,
    ``gcn_coff_embedding``) and a ``UnitTCN`` (arguments as ``GCNBlock``). MMAction2 accepts
    ``tcn_type='mstcn'`` here but then builds no temporal unit at all: an error here."""

    _backbone_name = "AAGCN"
    gcn_units = {"unit_aagcn": UnitAAGCN}
    tcn_types = ("unit_tcn",)


class AAGCN(GCNBackbone):
    """AAGCN backbone: ``(N, M, T, V, C)`` keypoints -> ``(N, M, C', T', V)`` maps.

    Args:
        graph_cfg: ``Graph`` arguments (``layout``, ``mode``, ``max_hop``).
        in_channels: Coordinates per joint.
        base_channels: Width of the first stages.
        data_bn_type: ``'MVC'`` (per person, joint and coordinate), ``'VC'`` or None.
        num_person: Persons per sample (``'MVC'`` only).
        num_stages: Blocks.
        inflate_stages: Stages (1-based) that double the width.
        down_stages: Stages (1-based) that halve time.
        pretrained: Checkpoint of the backbone, loaded by ``init_weights``.
        init_cfg: Accepted for MMAction2 config compatibility.
        **kwargs: ``gcn_*`` / ``tcn_*`` block keywords; a tuple with one value per stage is
            split over stages (a list is not, as in MMAction2).
    """

    _accepts_any_kwargs = True

    def __init__(
        self,
        graph_cfg: Mapping,
        in_channels: int = 3,
        base_channels: int = 64,
        data_bn_type: str | None = "MVC",
        num_person: int = 2,
        num_stages: int = 10,
        inflate_stages: Sequence[int] = (5, 8),
        down_stages: Sequence[int] = (5, 8),
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        if data_bn_type not in ("MVC", "VC", None):
            raise ValueError(f"data_bn_type={data_bn_type!r}; use 'MVC', 'VC' or None")
        self.graph = Graph(**graph_cfg)
        A = torch.tensor(self.graph.A, dtype=torch.float32)
        self.register_buffer("A", A)
        self.data_bn_type = data_bn_type
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_person = num_person
        self.inflate_stages = tuple(inflate_stages)
        self.down_stages = tuple(down_stages)
        self.pretrained = pretrained
        self.data_bn = data_bn(data_bn_type, num_person, in_channels, A.shape[1])
        stages = stage_kwargs(kwargs, num_stages, per_stage=(tuple,))
        self._make_blocks(AAGCNBlock, A, stages, ch_ratio=2)  # each inflation doubles


# --- variants -------------------------------------------------------------------------------


def _agcn(layout: str, num_classes: int, **kwargs) -> RecognizerGCN:
    """2s-AGCN as MMAction2's configs build it: AAGCN without attention, spatial graph."""
    kwargs = {"gcn_attention": False, **kwargs}
    backbone = AAGCN(graph_cfg=dict(layout=layout, mode="spatial"), **kwargs)
    return gcn_recognizer(backbone, num_classes)


_STAMPS = {
    ("j", "2d", "ntu60"): "20221222-4c0ed77e",
    ("b", "2d", "ntu60"): "20221222-293878b5",
    ("jm", "2d", "ntu60"): "20221222-0c86e3a1",
    ("bm", "2d", "ntu60"): "20221222-87996f0d",
    ("j", "3d", "ntu60"): "20221222-24dabf78",
    ("b", "3d", "ntu60"): "20221222-abe70a7f",
    ("jm", "3d", "ntu60"): "20221222-923cd3c3",
    ("bm", "3d", "ntu60"): "20221222-3d8f6f43",
}

gcn_variants("agcn", "2s-agcn", _agcn, _STAMPS, globals(), "2s-AGCN")
