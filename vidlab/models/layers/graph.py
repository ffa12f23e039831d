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

# The edges of each layout, (child, parent) towards the center joint, in MMAction2's order.
# vidlab.data.skeleton.layouts holds the layouts with names and left/right pairs; its edges are
# the same lists (checked in tests/models/test_gcn.py).
_COCO_INWARD = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5),
    (10, 8), (8, 6), (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2),
)  # fmt: skip
_OPENPOSE_INWARD = (
    (4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5),
    (8, 2), (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14),
)  # fmt: skip
# NTU RGB+D's 1-based joint numbers, as the dataset's documentation gives them
_NTU_INWARD_1BASED = (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 8), (23, 8), (24, 12), (25, 12),
)  # fmt: skip

# layout name -> (num_node, inward edges, center)
LAYOUTS: dict[str, tuple[int, tuple[tuple[int, int], ...], int]] = {
    "coco": (17, _COCO_INWARD, 0),
    "openpose": (18, _OPENPOSE_INWARD, 1),
    "nturgb+d": (25, tuple((i - 1, j - 1) for i, j in _NTU_INWARD_1BASED), 20),
}

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
        if isinstance(layout, Mapping):
            missing = [k for k in ("num_node", "inward", "center") if k not in layout]
            if missing:
                raise ValueError(
                    f"graph_cfg.layout dict lacks {missing}; it needs num_node, "
                    "inward ((child, parent) edges) and center"
                )
            self.num_node = int(layout["num_node"])
            self.inward = [tuple(e) for e in layout["inward"]]
            self.center = int(layout["center"])
        elif layout in LAYOUTS:
            num_node, inward, center = LAYOUTS[layout]
            self.num_node, self.inward, self.center = num_node, list(inward), center
        else:
            raise ValueError(f"graph_cfg.layout={layout!r}; use one of {sorted(LAYOUTS)} or a dict")
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
