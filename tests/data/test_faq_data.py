"""docs/faq.md's data entries that had no test of their own."""

from __future__ import annotations

import os

from vidlab.data.datasets import VideoDataset


def test_pyslowfast_csv_list_reads_with_a_delimiter(tmp_path):
    """PySlowFast's `PATH_TO_DATA_DIR/train.csv` with `PATH_LABEL_SEPARATOR=','` and
    `PATH_PREFIX`: `delimiter=','` and `data_prefix` read it as it is (a quoted path may hold
    the separator)."""
    ann = tmp_path / "train.csv"
    ann.write_text('a/x.mp4,2\nb/y z.mp4 , 0\n"c/1,2.mp4",1\n')
    ds = VideoDataset(str(ann), [], data_prefix="/data/k400", delimiter=",")
    assert [r["filename"] for r in ds.records] == [
        os.path.join("/data/k400", p) for p in ("a/x.mp4", "b/y z.mp4", "c/1,2.mp4")
    ]
    assert ds.labels == [2, 0, 1]
