"""Skeleton graphs for the GCNs: adjacency matrices built from a keypoint layout.

``Graph(layout, mode, max_hop)`` takes MMAction2's ``graph_cfg``: ``layout`` is ``'coco'``
(17 joints), ``'nturgb+d'`` (25), ``'openpose'`` (18) or a dict with ``num_node``, ``inward``
(``(child, parent)`` edges pointing at the center) and ``center``; ``mode`` picks how the edges
become the stack of adjacency matrices ``A`` of shape ``(num_subsets, V, V)`` that the graph
convolutions mix joints with:

- ``'spatial'``: identity, inward and outward edges, each column-normalized (3 subsets);
- ``'stgcn_spatial'``: ST-GCN's partition by hop distance and by distance to the center
  (root, closer, further: 3 subsets for ``max_hop=1``);
- ``'binary_adj'``: the undirected 0/1 adjacency (1 subset).

The matrices are computed in float64 with numpy, as MMAction2 does, and cast to float32 by the
backbone, so a fresh model holds MMAction2's exact ``A``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# The layouts (joints, inward edges, center, left/right pairs) are defined once, in
# vidlab.data.skeleton.layouts, for the graphs here, the pipeline and the synthetic data alike.
from vidlab.data.skeleton.layouts import LAYOUTS, get_layout

MODES = ("spatial", "stgcn_spatial", "binary_adj")


def edge2mat(edges: Sequence[tuple[int, int]], num_node: int) -> np.ndarray:
    """``(V, V)`` 0/1 matrix with ``A[j, i] = 1`` for each edge ``(i, j)``."""
    adj = np.zeros((num_node, num_node))
    for i, j in edges:
        adj[j, i] = 1
    return adj


def normalize_digraph(adj: np.ndarray, dim: int = 0) -> np.ndarray:
    """``adj @ D^-1``, ``D`` the degrees summed over ``dim`` (zero degree: column left 0)."""
    degree = np.sum(adj, dim)
    inv = np.zeros((adj.shape[1], adj.shape[1]))
    for i in range(adj.shape[1]):
        if degree[i] > 0:
            inv[i, i] = degree[i] ** (-1)
    return np.dot(adj, inv)


def hop_distance(num_node: int, edges: Sequence[tuple[int, int]], max_hop: int = 1) -> np.ndarray:
    """``(V, V)`` hops between joints over undirected ``edges``; ``inf`` beyond ``max_hop``."""
    adj = np.eye(num_node)
    for i, j in edges:
        adj[i, j] = adj[j, i] = 1
    dist = np.zeros((num_node, num_node)) + np.inf
    reach = np.stack([np.linalg.matrix_power(adj, d) for d in range(max_hop + 1)]) > 0
    for d in range(max_hop, -1, -1):  # nearest hop count wins
        dist[reach[d]] = d
    return dist


class Graph:
    """A skeleton graph and its adjacency stack ``A`` (see the module docstring).

    Args:
        layout: ``'coco'``, ``'nturgb+d'``, ``'openpose'`` or a dict with ``num_node``,
            ``inward`` and ``center``.
        mode: ``'spatial'``, ``'stgcn_spatial'`` or ``'binary_adj'``.
        max_hop: Largest hop distance that links two joints.
    """

    def __init__(self, layout: str | Mapping = "coco", mode: str = "spatial", max_hop: int = 1):
        if isinstance(layout, str) and layout not in LAYOUTS:
            raise ValueError(f"graph_cfg.layout={layout!r}; use one of {sorted(LAYOUTS)} or a dict")
        if isinstance(layout, Mapping):
            missing = [k for k in ("num_node", "inward", "center") if k not in layout]
            if missing:
                raise ValueError(
                    f"graph_cfg.layout dict lacks {missing}; it needs num_node, "
                    "inward ((child, parent) edges) and center"
                )
            layout = dict(layout)
        spec = get_layout(layout)
        self.num_node, self.inward, self.center = spec.num_node, list(spec.inward), spec.center
        if mode not in MODES:
            raise ValueError(f"graph_cfg.mode={mode!r}; use one of {MODES}")
        self.layout = layout
        self.mode = mode
        self.max_hop = max_hop
        self.self_link = [(i, i) for i in range(self.num_node)]
        self.outward = [(j, i) for i, j in self.inward]
        self.neighbor = self.inward + self.outward
        self.hop_dis = hop_distance(self.num_node, self.inward, max_hop)
        self.A = getattr(self, mode)()

    def stgcn_spatial(self) -> np.ndarray:
        """ST-GCN's partition: per hop, edges that keep or shorten the distance to the center
        ("close", including the root at hop 0) and edges that lengthen it ("further")."""
        adj = np.zeros((self.num_node, self.num_node))
        adj[self.hop_dis <= self.max_hop] = 1
        norm = normalize_digraph(adj)
        dist, center = self.hop_dis, self.center
        stack = []
        for hop in range(self.max_hop + 1):
            close = np.zeros((self.num_node, self.num_node))
            further = np.zeros((self.num_node, self.num_node))
            for i in range(self.num_node):
                for j in range(self.num_node):
                    if dist[j, i] == hop:
                        if dist[j, center] >= dist[i, center]:
                            close[j, i] = norm[j, i]
                        else:
                            further[j, i] = norm[j, i]
            stack.append(close)
            if hop > 0:
                stack.append(further)
        return np.stack(stack)

    def spatial(self) -> np.ndarray:
        """Identity, normalized inward and normalized outward edges: ``(3, V, V)``."""
        eye = edge2mat(self.self_link, self.num_node)
        inward = normalize_digraph(edge2mat(self.inward, self.num_node))
        outward = normalize_digraph(edge2mat(self.outward, self.num_node))
        return np.stack((eye, inward, outward))

    def binary_adj(self) -> np.ndarray:
        """The undirected 0/1 adjacency: ``(1, V, V)``."""
        return edge2mat(self.neighbor, self.num_node)[None]
