"""Write MMAction2's skeleton graphs (``mmaction.models.utils.Graph(...).A``) to a fixture.

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_graph_fixtures.py

For every layout (COCO-17, NTU RGB+D 25, OpenPose-18) and mode (``spatial``,
``stgcn_spatial``, ``binary_adj``; ``max_hop`` 1 and 2) the float64 adjacency stack is saved
in ``tests/fixtures/skeleton_graphs.pt``; ``tests/models/test_gcn.py`` compares vidlab's
``Graph`` with it, bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "skeleton_graphs.pt"


def main() -> None:
    from mmaction.models.utils import Graph

    graphs = {}
    for layout in ("coco", "nturgb+d", "openpose"):
        for mode in ("spatial", "stgcn_spatial", "binary_adj"):
            for max_hop in (1, 2):
                graphs[f"{layout}/{mode}/{max_hop}"] = torch.from_numpy(
                    Graph(layout=layout, mode=mode, max_hop=max_hop).A.copy()
                )
    custom = dict(num_node=4, inward=[(1, 0), (2, 1), (3, 1)], center=0)
    graphs["custom/spatial/1"] = torch.from_numpy(Graph(layout=custom, mode="spatial").A.copy())
    torch.save(dict(mmaction2="1.2.0", custom=custom, graphs=graphs), OUT)
    print(f"{len(graphs)} graphs, {OUT.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
