"""Graph and temporal convolution units of the skeleton GCNs (ST-GCN, ST-GCN++, 2s-AGCN).

Features are ``(N, C, T, V)``: N skeletons (persons of clips), C channels, T frames, V joints.
A graph unit mixes joints with the adjacency stack ``A`` ``(K, V, V)``; a temporal unit
convolves each joint's time series with a ``(kernel, 1)`` conv. Attribute names are MMAction2's
(``unit_gcn``, ``unit_tcn``, ``mstcn``, ``unit_aagcn`` in ``mmaction/models/utils/gcn_utils``),
so their state dicts load as they are; the einsum/matmul order is theirs too, so outputs match
to the bit on the same device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

# MMCV norm/activation names that the GCN configs use (``gcn_norm``, ``gcn_act``)
_NORMS = {"BN": nn.BatchNorm2d, "BN2d": nn.BatchNorm2d, "SyncBN": nn.SyncBatchNorm}
_ACTS = {"ReLU": nn.ReLU, "GELU": nn.GELU, "SiLU": nn.SiLU, "Swish": nn.SiLU, "Tanh": nn.Tanh}


def _norm(spec: str | Mapping, channels: int) -> nn.Module:
    spec = dict(spec) if isinstance(spec, Mapping) else dict(type=spec)
    kind = spec.pop("type")
    spec.pop("requires_grad", None)
    if kind not in _NORMS:
        raise ValueError(f"norm type {kind!r}; use one of {sorted(_NORMS)}")
    return _NORMS[kind](channels, **spec)


def _act(spec: str | Mapping) -> nn.Module:
    spec = dict(spec) if isinstance(spec, Mapping) else dict(type=spec)
    kind = spec.pop("type")
    if kind not in _ACTS:
        raise ValueError(f"activation type {kind!r}; use one of {sorted(_ACTS)}")
    spec.pop("inplace", None)  # never in place: autograd and compile stay simple
    return _ACTS[kind](**spec)


class UnitGCN(nn.Module):
    """Graph convolution: a 1x1 conv per subset, then joints mixed by ``A`` (MMAction2's
    ``unit_gcn``).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        A: Adjacency stack ``(K, V, V)``.
        adaptive: None (fixed ``A``), ``'init'`` (``A`` learned from its init: ST-GCN++),
            ``'offset'`` (``A + PA``) or ``'importance'`` (``A * PA``, ST-GCN's edge importance).
        conv_pos: ``'pre'``: conv then mixing; ``'post'``: mixing then conv.
        with_res: Residual (a 1x1 conv and norm where the width changes).
        norm: Norm layer name or spec.
        act: Activation name or spec.
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Tensor,
        adaptive: str | None = "importance",
        conv_pos: str = "pre",
        with_res: bool = False,
        norm: str | Mapping = "BN",
        act: str | Mapping = "ReLU",
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if adaptive not in (None, "init", "offset", "importance"):
            raise ValueError(f"gcn_adaptive={adaptive!r}; use None, 'init', 'offset', 'importance'")
        if conv_pos not in ("pre", "post"):
            raise ValueError(f"gcn_conv_pos={conv_pos!r}; use 'pre' or 'post'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_subsets = A.shape[0]
        self.adaptive = adaptive
        self.conv_pos = conv_pos
        self.with_res = with_res
        self.bn = _norm(norm, out_channels)
        self.act = _act(act)
        if adaptive == "init":
            self.A = nn.Parameter(A.clone())
        else:
            self.register_buffer("A", A)
        if adaptive == "offset":
            self.PA = nn.Parameter(A.clone())
            nn.init.uniform_(self.PA, -1e-6, 1e-6)
        elif adaptive == "importance":
            self.PA = nn.Parameter(torch.ones_like(A))
        if conv_pos == "pre":
            self.conv = nn.Conv2d(in_channels, out_channels * self.num_subsets, 1)
        else:
            self.conv = nn.Conv2d(self.num_subsets * in_channels, out_channels, 1)
        if with_res and in_channels != out_channels:
            self.down = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1), _norm(norm, out_channels)
            )
        else:
            self.down = None

    def _adjacency(self) -> Tensor:
        if self.adaptive == "offset":
            return self.A + self.PA
        if self.adaptive == "importance":
            return self.A * self.PA
        return self.A

    def forward(self, x: Tensor) -> Tensor:
        n, _, t, v = x.shape  # (N, C, T, V)
        if self.with_res:
            res = x if self.down is None else self.down(x)
        A = self._adjacency()
        if self.conv_pos == "pre":
            x = self.conv(x).view(n, self.num_subsets, -1, t, v)  # (N, K, C', T, V)
            x = torch.einsum("nkctv,kvw->nctw", (x, A)).contiguous()  # (N, C', T, V)
        else:
            x = torch.einsum("nctv,kvw->nkctw", (x, A)).contiguous()  # (N, K, C, T, V)
            x = self.conv(x.view(n, -1, t, v))  # (N, C', T, V)
        x = self.bn(x)
        if self.with_res:
            x = x + res
        return self.act(x)


class UnitTCN(nn.Module):
    """Temporal convolution ``(kernel_size, 1)``, norm, dropout (MMAction2's ``unit_tcn``).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Temporal kernel.
        stride: Temporal stride.
        dilation: Temporal dilation.
        norm: Norm layer name or spec; None: no norm.
        dropout: Dropout after the norm.
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 9,
        stride: int = 1,
        dilation: int = 1,
        norm: str | Mapping | None = "BN",
        dropout: float = 0.0,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        pad = (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2  # keeps T at stride 1
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size=(kernel_size, 1),
            padding=(pad, 0),
            stride=(stride, 1),
            dilation=(dilation, 1),
        )
        self.bn = _norm(norm, out_channels) if norm is not None else nn.Identity()
        self.drop = nn.Dropout(dropout)
        # MMAction2's init_cfg: Kaiming (fan_out) conv, BN weight 1
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.bn(self.conv(x)))


MSTCN_BRANCHES = ((3, 1), (3, 2), (3, 3), (3, 4), ("max", 3), "1x1")


class MSTCN(nn.Module):
    """Multi-scale temporal convolution of ST-GCN++ (MMAction2's ``mstcn``): parallel branches
    (dilated ``(3, 1)`` convs, a max pool, a strided 1x1 conv), concatenated, then norm, act and
    a 1x1 conv, a norm and dropout.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        mid_channels: Fraction of ``out_channels`` per branch; None: an equal split (the first
            branch takes the remainder).
        dropout: Dropout at the end.
        ms_cfg: The branches: ``(kernel, dilation)``, ``('max', kernel)`` or ``'1x1'``.
        stride: Temporal stride.
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: float | None = None,
        dropout: float = 0.0,
        ms_cfg: Sequence = MSTCN_BRANCHES,
        stride: int = 1,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.ms_cfg = [tuple(c) if isinstance(c, list) else c for c in ms_cfg]
        num_branches = len(self.ms_cfg)
        self.num_branches = num_branches
        self.in_channels = in_channels
        self.out_channels = out_channels
        if mid_channels is None:
            mid = out_channels // num_branches
            rem = out_channels - mid * (num_branches - 1)
        else:
            if not (isinstance(mid_channels, float) and mid_channels > 0):
                raise ValueError(f"tcn_mid_channels={mid_channels!r}: a positive float")
            mid = rem = int(out_channels * mid_channels)
        self.mid_channels = mid
        self.rem_mid_channels = rem
        branches = []
        for i, cfg in enumerate(self.ms_cfg):
            width = rem if i == 0 else mid
            if cfg == "1x1":
                branches.append(nn.Conv2d(in_channels, width, kernel_size=1, stride=(stride, 1)))
                continue
            head = [nn.Conv2d(in_channels, width, kernel_size=1), nn.BatchNorm2d(width), nn.ReLU()]
            if cfg[0] == "max":
                pool = nn.MaxPool2d(kernel_size=(cfg[1], 1), stride=(stride, 1), padding=(1, 0))
                branches.append(nn.Sequential(*head, pool))
            else:
                tcn = UnitTCN(width, width, cfg[0], stride=stride, dilation=cfg[1], norm=None)
                branches.append(nn.Sequential(*head, tcn))
        self.branches = nn.ModuleList(branches)
        cat_channels = mid * (num_branches - 1) + rem
        self.transform = nn.Sequential(
            nn.BatchNorm2d(cat_channels), nn.ReLU(), nn.Conv2d(cat_channels, out_channels, 1)
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        feat = torch.cat([branch(x) for branch in self.branches], dim=1)  # (N, C_cat, T', V)
        return self.drop(self.bn(self.transform(feat)))


class UnitAAGCN(nn.Module):
    """Adaptive graph convolution with attention (2s-AGCN / MS-AAGCN; MMAction2's
    ``unit_aagcn``): per subset, ``A`` plus a learned (``A``) and a data-dependent
    (``alpha * tanh(theta(x)^T phi(x))``) graph, then spatial, temporal and channel attention.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        A: Adjacency stack ``(K, V, V)``.
        coff_embedding: Embedding width divisor of the data-dependent graph.
        adaptive: Learn ``A`` and add the data-dependent graph.
        attention: The spatial/temporal/channel attention.
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        A: Tensor,
        coff_embedding: int = 4,
        adaptive: bool = True,
        attention: bool = True,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.inter_c = out_channels // coff_embedding
        self.out_c = out_channels
        self.in_c = in_channels
        self.num_subset = A.shape[0]
        self.adaptive = adaptive
        self.attention = attention
        num_joints = A.shape[-1]
        self.conv_d = nn.ModuleList(
            nn.Conv2d(in_channels, out_channels, 1) for _ in range(self.num_subset)
        )
        if adaptive:
            self.A = nn.Parameter(A)
            self.alpha = nn.Parameter(torch.zeros(1))
            self.conv_a = nn.ModuleList(
                nn.Conv2d(in_channels, self.inter_c, 1) for _ in range(self.num_subset)
            )
            self.conv_b = nn.ModuleList(
                nn.Conv2d(in_channels, self.inter_c, 1) for _ in range(self.num_subset)
            )
        else:
            self.register_buffer("A", A)
        if attention:
            self.conv_ta = nn.Conv1d(out_channels, 1, 9, padding=4)
            ker_joint = num_joints if num_joints % 2 else num_joints - 1  # odd: centered
            self.conv_sa = nn.Conv1d(out_channels, 1, ker_joint, padding=(ker_joint - 1) // 2)
            self.fc1c = nn.Linear(out_channels, out_channels // 2)
            self.fc2c = nn.Linear(out_channels // 2, out_channels)
        if in_channels != out_channels:
            self.down = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)
            )
        else:
            self.down = None
        self.bn = nn.BatchNorm2d(out_channels)
        self.tan = nn.Tanh()
        self.sigmoid = nn.Sigmoid()
        self.relu = nn.ReLU()
        self.init_weights()

    def init_weights(self) -> None:
        """MMAction2's init: Kaiming (fan_out) convs, BN weight 1 except ``bn`` (1e-6), each
        ``conv_d`` branch ``N(0, sqrt(2 / (out * in * K)))``; with attention, zero Conv1d
        except Xavier ``conv_sa``, Kaiming (fan_in) ``fc1c`` and zero ``fc2c``."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.bn.weight, 1e-6)
        for conv in self.conv_d:
            std = (2.0 / (conv.weight.shape[0] * conv.weight.shape[1] * self.num_subset)) ** 0.5
            nn.init.normal_(conv.weight, 0, std)
            nn.init.zeros_(conv.bias)
        if self.attention:
            nn.init.zeros_(self.conv_ta.weight)
            nn.init.zeros_(self.conv_ta.bias)
            nn.init.xavier_normal_(self.conv_sa.weight)
            nn.init.zeros_(self.conv_sa.bias)
            nn.init.kaiming_normal_(self.fc1c.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(self.fc1c.bias)
            nn.init.zeros_(self.fc2c.weight)
            nn.init.zeros_(self.fc2c.bias)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v = x.shape  # (N, C, T, V)
        y = None
        for i in range(self.num_subset):
            graph = self.A[i]
            if self.adaptive:
                # (N, V, C_e*T) @ (N, C_e*T, V) -> (N, V, V): which joints attend to which
                a1 = self.conv_a[i](x).permute(0, 3, 1, 2).contiguous().view(n, v, -1)
                a2 = self.conv_b[i](x).reshape(n, -1, v)  # a copy when channels-last
                a1 = self.tan(torch.matmul(a1, a2) / a1.size(-1))
                graph = self.A[i] + a1 * self.alpha
            z = torch.matmul(x.reshape(n, c * t, v), graph).view(n, c, t, v)  # joints mixed
            z = self.conv_d[i](z)  # (N, C', T, V)
            y = z if y is None else z + y
        res = x if self.down is None else self.down(x)
        y = self.relu(self.bn(y) + res)
        if self.attention:
            se = self.sigmoid(self.conv_sa(y.mean(-2)))  # (N, 1, V): over joints
            y = y * se.unsqueeze(-2) + y
            se = self.sigmoid(self.conv_ta(y.mean(-1)))  # (N, 1, T): over frames
            y = y * se.unsqueeze(-1) + y
            se = self.sigmoid(self.fc2c(self.relu(self.fc1c(y.mean(-1).mean(-1)))))  # (N, C)
            y = y * se.unsqueeze(-1).unsqueeze(-1) + y
        return y
