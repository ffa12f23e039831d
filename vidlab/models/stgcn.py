"""ST-GCN (Yan et al., 2018) and its variants: graph convolutions over skeleton sequences.

``STGCN`` takes keypoints ``(N, M, T, V, C)`` (N samples, M persons, T frames, V joints, C
coordinates: x, y, score for 2D keypoints, x, y, z for 3D) and returns per-person maps
``(N, M, C', T', V)``. It is MMAction2's ``STGCN`` with its arguments: ``graph_cfg`` builds the
graph (``vidlab.models.layers.graph``), and keywords starting with ``gcn_`` / ``tcn_`` go to every
block's graph / temporal unit (a tuple or list with one value per stage is split over stages).
ST-GCN++ (Duan et al., 2022) is this backbone with ``gcn_adaptive='init'``, ``gcn_with_res=True``
and ``tcn_type='mstcn'`` (its variants are in ``vidlab.models.stgcnpp``).

The variants are MMAction2's ``configs/skeleton/stgcn``: joint (``j``), bone (``b``),
joint-motion (``jm``) and bone-motion (``bm``) streams of 2D (COCO-17 from HRNet) and 3D (NTU
RGB+D 25) keypoints of NTU-60 and NTU-120 (cross-subject); the streams share the architecture
and differ in their published weights.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.models.heads.gcn import GCNHead
from vidlab.models.layers.gcn import MSTCN, UnitGCN, UnitTCN
from vidlab.models.layers.graph import LAYOUTS, Graph
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import RecognizerGCN
from vidlab.models.variants import variant

EPS = 1e-4  # int(64 * 2 ** k + EPS): channel widths as MMAction2 rounds them


def split_unit_kwargs(kwargs: Mapping, block: str) -> tuple[dict, dict]:
    """``gcn_*`` and ``tcn_*`` keywords -> (graph unit kwargs, temporal unit kwargs), prefixes
    removed; any other keyword is an error naming ``block``."""
    gcn = {k[4:]: v for k, v in kwargs.items() if k.startswith("gcn_")}
    tcn = {k[4:]: v for k, v in kwargs.items() if k.startswith("tcn_")}
    other = sorted(k for k in kwargs if not k.startswith(("gcn_", "tcn_")))
    if other:
        raise TypeError(
            f"{block} got unexpected keywords {other}; block keywords start with 'gcn_' (graph "
            "unit) or 'tcn_' (temporal unit)"
        )
    return gcn, tcn


def stage_kwargs(kwargs: Mapping, num_stages: int, per_stage: tuple = (tuple, list)) -> list[dict]:
    """One copy of ``kwargs`` per stage; a value of type ``per_stage`` with ``num_stages``
    entries gives each stage its own. The first stage never has temporal dropout."""
    stages = [copy.deepcopy(dict(kwargs)) for _ in range(num_stages)]
    for key, value in kwargs.items():
        if isinstance(value, per_stage) and len(value) == num_stages:
            for i in range(num_stages):
                stages[i][key] = value[i]
    stages[0].pop("tcn_dropout", None)
    return stages


class _Zero(nn.Module):
    """No residual: adds 0 (MMAction2's ``lambda x: 0``)."""

    def forward(self, x: Tensor) -> int:
        return 0


class GCNBlock(nn.Module):
    """Graph unit, temporal unit, residual, ReLU: the block of ST-GCN and AAGCN, which differ
    in the graph and temporal units they allow (the class attributes of the subclasses).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        A: Adjacency stack ``(K, V, V)``.
        stride: Temporal stride.
        residual: Add the input (a strided 1x1 ``UnitTCN`` where the shape changes).
        init_cfg: Accepted for MMAction2 config compatibility.
        **kwargs: ``gcn_*`` (graph unit) and ``tcn_*`` (temporal unit: ``type``, ``dropout``,
            ...) keywords.
    """

    _accepts_any_kwargs = True
    _backbone_name = "GCN"  # in error messages ("STGCN blocks use ...")
    #: ``gcn_type`` -> graph unit class (the first is the default).
    gcn_units: dict[str, type[nn.Module]] = {}
    #: the ``tcn_type`` values this block builds (the first is the default).
    tcn_types: tuple[str, ...] = ("unit_tcn",)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Tensor,
        stride: int = 1,
        residual: bool = True,
        init_cfg: dict | list | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        gcn_kwargs, tcn_kwargs = split_unit_kwargs(kwargs, type(self).__name__)
        tcn_type = tcn_kwargs.pop("type", self.tcn_types[0])
        gcn_type = gcn_kwargs.pop("type", next(iter(self.gcn_units)))
        if tcn_type not in self.tcn_types:
            raise ValueError(f"tcn_type={tcn_type!r}; {self._choices(self.tcn_types)}")
        if gcn_type not in self.gcn_units:
            raise ValueError(f"gcn_type={gcn_type!r}; {self._choices(tuple(self.gcn_units))}")
        self.gcn = self.gcn_units[gcn_type](in_channels, out_channels, A, **gcn_kwargs)
        if tcn_type == "unit_tcn":
            self.tcn = UnitTCN(out_channels, out_channels, 9, stride=stride, **tcn_kwargs)
        else:
            self.tcn = MSTCN(out_channels, out_channels, stride=stride, **tcn_kwargs)
        self.relu = nn.ReLU()
        if not residual:
            self.residual = _Zero()
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = UnitTCN(in_channels, out_channels, kernel_size=1, stride=stride)

    def _choices(self, names: tuple[str, ...]) -> str:
        if len(names) == 1:
            return f"{self._backbone_name} blocks use {names[0]!r}"
        return "use " + " or ".join(repr(n) for n in names)

    def forward(self, x: Tensor) -> Tensor:
        res = self.residual(x)
        return self.relu(self.tcn(self.gcn(x)) + res)


class STGCNBlock(GCNBlock):
    """ST-GCN's block: ``UnitGCN`` (``gcn_adaptive``, ``gcn_with_res``, ...) and a ``UnitTCN``
    or, with ``tcn_type='mstcn'``, an ``MSTCN`` (arguments as :class:`GCNBlock`)."""

    _backbone_name = "STGCN"
    gcn_units = {"unit_gcn": UnitGCN}
    tcn_types = ("unit_tcn", "mstcn")


def data_bn(kind: str | None, num_person: int, in_channels: int, num_joints: int) -> nn.Module:
    """The input BatchNorm over (person,) joint and coordinate: ``'MVC'``, ``'VC'`` or none."""
    if kind == "MVC":
        return nn.BatchNorm1d(num_person * in_channels * num_joints)
    if kind == "VC":
        return nn.BatchNorm1d(in_channels * num_joints)
    return nn.Identity()


def normalize_input(x: Tensor, bn: nn.Module, kind: str | None) -> Tensor:
    """Keypoints ``(N, M, T, V, C)`` -> ``(N*M, C, T, V)`` after the data BatchNorm."""
    n, m, t, v, c = x.shape
    x = x.permute(0, 1, 3, 4, 2).contiguous()  # (N, M, V, C, T)
    if kind == "MVC":
        x = bn(x.view(n, m * v * c, t))
    else:
        x = bn(x.view(n * m, v * c, t))
    return x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)


class GCNBackbone(nn.Module):
    """What ST-GCN and AAGCN share: ``data_bn`` on the input, the ``gcn`` blocks, and
    ``pretrained`` read in ``init_weights``. Keypoints ``(N, M, T, V, C)`` in, ``(N, M, C', T',
    V)`` out."""

    def init_weights(self) -> LoadReport | None:
        """Load ``pretrained`` (a backbone or whole-recognizer checkpoint), if set."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained)

    def _make_blocks(self, block: type[GCNBlock], A: Tensor, stages: list, ch_ratio) -> None:
        """``self.gcn``: a first block from ``in_channels`` to ``base_channels`` where they
        differ, then stages 2..``len(stages)``; an inflating stage widens to ``base_channels *
        ch_ratio ** (inflations so far)``, a down stage has temporal stride 2."""
        blocks = []
        if self.in_channels != self.base_channels:  # a first block widens the coordinates
            blocks.append(
                block(
                    self.in_channels, self.base_channels, A.clone(), 1, residual=False, **stages[0]
                )
            )
        inflate_times = 0
        width = self.base_channels
        for i in range(2, len(stages) + 1):
            inflate_times += i in self.inflate_stages
            out_channels = int(self.base_channels * ch_ratio**inflate_times + EPS)
            stride = 1 + (i in self.down_stages)
            blocks.append(block(width, out_channels, A.clone(), stride, **stages[i - 1]))
            width = out_channels
        self.num_stages = len(blocks)
        self.out_channels = width
        self.gcn = nn.ModuleList(blocks)

    def forward(self, x: Tensor) -> Tensor:
        n, m = x.shape[:2]  # (N, M, T, V, C)
        x = normalize_input(x, self.data_bn, self.data_bn_type)  # (N*M, C, T, V)
        for block in self.gcn:
            x = block(x)
        return x.reshape((n, m) + x.shape[1:])  # (N, M, C', T', V)


class STGCN(GCNBackbone):
    """ST-GCN backbone: ``(N, M, T, V, C)`` keypoints -> ``(N, M, C', T', V)`` maps.

    Args:
        graph_cfg: ``Graph`` arguments (``layout``, ``mode``, ``max_hop``).
        in_channels: Coordinates per joint.
        base_channels: Width of the first stages.
        data_bn_type: ``'VC'`` (per joint and coordinate), ``'MVC'`` (also per person) or
            anything else for none.
        ch_ratio: Width factor at each inflating stage.
        num_person: Persons per sample (``'MVC'`` only).
        num_stages: Blocks.
        inflate_stages: Stages (1-based) that multiply the width by ``ch_ratio``.
        down_stages: Stages (1-based) that halve time.
        pretrained: Checkpoint of the backbone, loaded by ``init_weights``.
        init_cfg: Accepted for MMAction2 config compatibility.
        **kwargs: ``gcn_*`` / ``tcn_*`` block keywords (see the module docstring).
    """

    _accepts_any_kwargs = True

    def __init__(
        self,
        graph_cfg: Mapping,
        in_channels: int = 3,
        base_channels: int = 64,
        data_bn_type: str = "VC",
        ch_ratio: int = 2,
        num_person: int = 2,
        num_stages: int = 10,
        inflate_stages: Sequence[int] = (5, 8),
        down_stages: Sequence[int] = (5, 8),
        pretrained: str | None = None,
        init_cfg: dict | list | None = None,
        **kwargs,
    ) -> None:
        super().__init__()
        self.graph = Graph(**graph_cfg)
        A = torch.tensor(self.graph.A, dtype=torch.float32)
        self.data_bn_type = data_bn_type
        self.data_bn = data_bn(data_bn_type, num_person, in_channels, A.shape[1])
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.ch_ratio = ch_ratio
        self.inflate_stages = tuple(inflate_stages)
        self.down_stages = tuple(down_stages)
        self.pretrained = pretrained
        self._make_blocks(STGCNBlock, A, stage_kwargs(kwargs, num_stages), ch_ratio)


# --- variants -------------------------------------------------------------------------------

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/skeleton/"
STREAMS = {"j": "joint", "b": "bone", "jm": "joint-motion", "bm": "bone-motion"}
# 2D: HRNet's COCO-17 keypoints (x, y, score); 3D: NTU RGB+D's 25 joints (x, y, z)
LAYOUT = {"2d": "coco", "3d": "nturgb+d"}


def gcn_recognizer(backbone: nn.Module, num_classes: int) -> RecognizerGCN:
    """``RecognizerGCN`` with MMAction2's ``GCNHead`` on ``backbone``'s width."""
    head = GCNHead(num_classes=num_classes, in_channels=backbone.out_channels)
    return RecognizerGCN(backbone=backbone, cls_head=head)


def gcn_variants(
    family: str, config: str, builder, stamps: Mapping, namespace: dict, about: str
) -> None:
    """Define one variant per published checkpoint in ``namespace`` (a module's globals).

    ``stamps`` maps ``(stream, dim, dataset)`` to the date-hash suffix of the checkpoint file;
    ``builder(layout, num_classes, **kwargs)`` builds the model. Names are
    ``<family>_<stream>_<dim>_<dataset>``, e.g. ``stgcn_j_2d_ntu60``.
    """
    for (stream, dim, dataset), stamp in stamps.items():
        layout = LAYOUT[dim]
        num_classes = int(dataset[3:])
        stem = f"{config}_8xb16-{STREAMS[stream]}-u100-80e_{dataset}-xsub-keypoint-{dim}"

        def fn(num_classes: int = num_classes, _layout: str = layout, **kwargs) -> RecognizerGCN:
            return builder(_layout, num_classes, **kwargs)

        name = f"{family}_{stream}_{dim}_{dataset}"
        fn.__name__ = fn.__qualname__ = name
        fn.__doc__ = (
            f"{about}, {STREAMS[stream]} stream of {dim.upper()} keypoints ({layout}), "
            f"{dataset.upper()} cross-subject (MMAction2's ``{stem}``)."
        )
        namespace[name] = variant(
            clip_shape=(2, 100, LAYOUTS[layout].num_node, 3),  # (M, T, V, C)
            sampling=(100, 1, 10),
            num_classes=num_classes,
            mean=(0.0,),
            std=(1.0,),
            classifier="cls_head.fc",
            url=f"{_ZOO}{config}/{stem}/{stem}_{stamp}.pth",
            input_kind="keypoints",
        )(fn)


def _stgcn(layout: str, num_classes: int, **kwargs) -> RecognizerGCN:
    """ST-GCN as MMAction2's configs build it: ST-GCN's partition of the graph."""
    backbone = STGCN(graph_cfg=dict(layout=layout, mode="stgcn_spatial"), **kwargs)
    return gcn_recognizer(backbone, num_classes)


_STAMPS = {
    ("j", "2d", "ntu60"): "20221129-484a394a",
    ("b", "2d", "ntu60"): "20221129-c4b44488",
    ("jm", "2d", "ntu60"): "20221129-f18eb408",
    ("bm", "2d", "ntu60"): "20221129-99c60e2d",
    ("j", "3d", "ntu60"): "20221129-850308e1",
    ("b", "3d", "ntu60"): "20221129-9c8d2970",
    ("jm", "3d", "ntu60"): "20221129-927648ea",
    ("bm", "3d", "ntu60"): "20221129-593162ca",
    ("j", "2d", "ntu120"): "20221129-612416c6",
    ("b", "2d", "ntu120"): "20221129-131e63c3",
    ("jm", "2d", "ntu120"): "20221129-7cb38ec2",
    ("bm", "2d", "ntu120"): "20221129-f5b19892",
    ("j", "3d", "ntu120"): "20221129-0484f579",
    ("b", "3d", "ntu120"): "20221129-bc007510",
    ("jm", "3d", "ntu120"): "20221129-5d54f525",
    ("bm", "3d", "ntu120"): "20221129-3cb0e4e1",
}

gcn_variants("stgcn", "stgcn", _stgcn, _STAMPS, globals(), "ST-GCN")
