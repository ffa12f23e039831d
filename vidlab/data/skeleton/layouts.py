"""Keypoint layouts: COCO-17, NTU RGB+D 25 and OpenPose-18, in one place.

Each :class:`Layout` holds what the skeleton code needs about a keypoint set: joint names, the
graph's ``inward`` edges (child -> parent, towards ``center``) that MMAction2's GCN ``Graph``
builds its adjacency from, the left/right joint pairs a horizontal flip swaps, and the
``bone_pairs`` of MMAction2's ``JointToBone`` (joint ``v1`` minus joint ``v2``). The GCN graph
code (``graph_cfg=dict(layout='coco', ...)``), the pipeline (``Flip``, ``JointToBone``,
``GenSkeFeat``, ``GeneratePoseTarget``) and the synthetic generator all read them from here.

Names as MMAction2 spells them: ``'coco'``, ``'nturgb+d'``, ``'openpose'`` (see
:func:`get_layout`). Joint indices are 0-based.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COCO",
    "COCO_LIMBS",
    "COCO_LEFT_LIMB",
    "COCO_RIGHT_LIMB",
    "LAYOUTS",
    "Layout",
    "NTU_RGBD",
    "OPENPOSE",
    "get_layout",
]


@dataclass(frozen=True)
class Layout:
    """A keypoint set and its skeleton graph.

    Attributes:
        name: MMAction2's name of the layout (``'coco'``, ``'nturgb+d'``, ``'openpose'``).
        joints: joint names, in keypoint order.
        inward: graph edges ``(child, parent)``, each pointing towards ``center``.
        center: the graph's centre joint.
        left, right: joints swapped by a horizontal flip (``left[i]`` <-> ``right[i]``).
        bone_pairs: ``(v1, v2)``: bone ``v1`` is joint ``v1`` minus joint ``v2`` (MMAction2's
            ``JointToBone``; the root's bone pairs it with itself and is zero).
    """

    name: str
    joints: tuple[str, ...]
    inward: tuple[tuple[int, int], ...]
    center: int
    left: tuple[int, ...]
    right: tuple[int, ...]
    bone_pairs: tuple[tuple[int, int], ...]

    @property
    def num_node(self) -> int:
        """Number of joints (MMAction2's ``Graph.num_node``)."""
        return len(self.joints)

    @property
    def outward(self) -> tuple[tuple[int, int], ...]:
        """The inward edges reversed (parent -> child)."""
        return tuple((j, i) for i, j in self.inward)

    @property
    def neighbor(self) -> tuple[tuple[int, int], ...]:
        """Inward then outward edges (MMAction2's ``Graph.neighbor``)."""
        return self.inward + self.outward

    @property
    def flip_index(self) -> tuple[int, ...]:
        """Joint order after a horizontal flip: ``kp[..., flip_index, :]``."""
        order = list(range(self.num_node))
        for a, b in zip(self.left, self.right):
            order[a], order[b] = b, a
        return tuple(order)

    def as_graph_dict(self) -> dict:
        """``dict(num_node=..., inward=..., center=...)``: MMAction2's custom-layout form."""
        return {"num_node": self.num_node, "inward": list(self.inward), "center": self.center}


COCO = Layout(
    name="coco",
    joints=(
        "nose",
        "left_eye",
        "right_eye",
        "left_ear",
        "right_ear",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
    ),
    inward=(
        (15, 13),
        (13, 11),
        (16, 14),
        (14, 12),
        (11, 5),
        (12, 6),
        (9, 7),
        (7, 5),
        (10, 8),
        (8, 6),
        (5, 0),
        (6, 0),
        (1, 0),
        (3, 1),
        (2, 0),
        (4, 2),
    ),  # fmt: skip
    center=0,
    left=(1, 3, 5, 7, 9, 11, 13, 15),
    right=(2, 4, 6, 8, 10, 12, 14, 16),
    bone_pairs=(
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 1),
        (4, 2),
        (5, 0),
        (6, 0),
        (7, 5),
        (8, 6),
        (9, 7),
        (10, 8),
        (11, 0),
        (12, 0),
        (13, 11),
        (14, 12),
        (15, 13),
        (16, 14),
    ),  # fmt: skip
)

# NTU RGB+D's 25 Kinect joints (the dataset numbers them from 1; here from 0).
NTU_RGBD = Layout(
    name="nturgb+d",
    joints=(
        "spine_base",
        "spine_mid",
        "neck",
        "head",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "left_hand",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "right_hand",
        "left_hip",
        "left_knee",
        "left_ankle",
        "left_foot",
        "right_hip",
        "right_knee",
        "right_ankle",
        "right_foot",
        "spine_shoulder",
        "left_hand_tip",
        "left_thumb",
        "right_hand_tip",
        "right_thumb",
    ),
    inward=tuple(
        (i - 1, j - 1)
        for i, j in (
            (1, 2),
            (2, 21),
            (3, 21),
            (4, 3),
            (5, 21),
            (6, 5),
            (7, 6),
            (8, 7),
            (9, 21),
            (10, 9),
            (11, 10),
            (12, 11),
            (13, 1),
            (14, 13),
            (15, 14),
            (16, 15),
            (17, 1),
            (18, 17),
            (19, 18),
            (20, 19),
            (22, 8),
            (23, 8),
            (24, 12),
            (25, 12),
        )  # fmt: skip
    ),
    center=20,
    left=(4, 5, 6, 7, 12, 13, 14, 15, 21, 22),
    right=(8, 9, 10, 11, 16, 17, 18, 19, 23, 24),
    bone_pairs=(
        (0, 1),
        (1, 20),
        (2, 20),
        (3, 2),
        (4, 20),
        (5, 4),
        (6, 5),
        (7, 6),
        (8, 20),
        (9, 8),
        (10, 9),
        (11, 10),
        (12, 0),
        (13, 12),
        (14, 13),
        (15, 14),
        (16, 0),
        (17, 16),
        (18, 17),
        (19, 18),
        (21, 22),
        (20, 20),
        (22, 7),
        (23, 24),
        (24, 11),
    ),  # fmt: skip
)

OPENPOSE = Layout(
    name="openpose",
    joints=(
        "nose",
        "neck",
        "right_shoulder",
        "right_elbow",
        "right_wrist",
        "left_shoulder",
        "left_elbow",
        "left_wrist",
        "right_hip",
        "right_knee",
        "right_ankle",
        "left_hip",
        "left_knee",
        "left_ankle",
        "right_eye",
        "left_eye",
        "right_ear",
        "left_ear",
    ),
    inward=(
        (4, 3),
        (3, 2),
        (7, 6),
        (6, 5),
        (13, 12),
        (12, 11),
        (10, 9),
        (9, 8),
        (11, 5),
        (8, 2),
        (5, 1),
        (2, 1),
        (0, 1),
        (15, 0),
        (14, 0),
        (17, 15),
        (16, 14),
    ),  # fmt: skip
    center=1,
    left=(5, 6, 7, 11, 12, 13, 15, 17),
    right=(2, 3, 4, 8, 9, 10, 14, 16),
    bone_pairs=(
        (0, 0),
        (1, 0),
        (2, 1),
        (3, 2),
        (4, 3),
        (5, 1),
        (6, 5),
        (7, 6),
        (8, 2),
        (9, 8),
        (10, 9),
        (11, 5),
        (12, 11),
        (13, 12),
        (14, 0),
        (15, 0),
        (16, 14),
        (17, 15),
    ),  # fmt: skip
)

LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (COCO, NTU_RGBD, OPENPOSE)}

# The limbs of ``GeneratePoseTarget``'s default (COCO-17) and the limbs a flip swaps.
COCO_LIMBS = (
    (0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10),
    (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12),
)  # fmt: skip
COCO_LEFT_LIMB = (0, 2, 4, 5, 6, 10, 11, 12)
COCO_RIGHT_LIMB = (1, 3, 7, 8, 9, 13, 14, 15)


def get_layout(layout: str | dict | Layout) -> Layout:
    """The :class:`Layout` named ``layout`` (``'coco'``, ``'nturgb+d'``, ``'openpose'``).

    A dict with ``num_node``, ``inward`` and ``center`` (MMAction2's custom graph layout)
    becomes a Layout with numbered joints and no left/right pairs.

    Raises:
        ValueError: an unknown name, or a dict without those keys.
    """
    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, dict):
        missing = [k for k in ("num_node", "inward", "center") if k not in layout]
        if missing:
            raise ValueError(f"a custom layout dict needs {missing}; got keys {sorted(layout)}")
        n = int(layout["num_node"])
        return Layout(
            name="custom",
            joints=tuple(f"joint_{i}" for i in range(n)),
            inward=tuple((int(i), int(j)) for i, j in layout["inward"]),
            center=int(layout["center"]),
            left=(),
            right=(),
            bone_pairs=(),
        )
    if layout not in LAYOUTS:
        raise ValueError(f"unknown keypoint layout {layout!r}; expected one of {sorted(LAYOUTS)}")
    return LAYOUTS[layout]
