"""`vidlab infer` as a subprocess: many inputs as JSON lines, and the one-line errors."""

from __future__ import annotations

import json
import os

from deploy_helpers import QUICKSTART, vidlab_run


def test_many_inputs_as_json_lines(env, ckpt, labels, videos, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{videos / 'grow.mp4'} 4\n{broken} 0\n")
    out = tmp_path / "results.jsonl"
    proc = vidlab_run(
        "infer", QUICKSTART, ckpt, videos, listing, "--labels", labels, "--top-k", "2",
        "--batch-size", "2", "--workers", "2", "--out", out, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # one input could not be read: said, not skipped
    assert "1 input(s) could not be read" in proc.stderr and "Traceback" not in proc.stderr
    assert "infer: 100% |####################| 5/5 [" in proc.stderr  # the progress bar
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [os.path.basename(r["input"]) for r in rows] == [
        "grow.mp4", "move_left.mp4", "shrink.mp4", "grow.mp4", "broken.mp4",
    ]  # fmt: skip
    assert rows[0]["top_k"] == rows[3]["top_k"]  # the same video, in two batches
    names = set(labels.read_text().split())
    for row in rows[:4]:
        assert len(row["top_k"]) == 2 and {t["label"] for t in row["top_k"]} <= names
        assert all(0.0 <= t["score"] <= 1.0 for t in row["top_k"])
    assert "broken.mp4" in rows[4]["error"]


def test_bad_arguments_are_one_line_errors(env, ckpt, videos, long_video):
    for args, message in [
        (["--window", "2m"], "not a window length"),
        (["--timeline", "t.json"], "need --window"),
        (["--source", "0", "--window", "2s"], "--source reads one stream"),
    ]:
        proc = vidlab_run("infer", QUICKSTART, ckpt, long_video, *args, env=env, check=False)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    proc = vidlab_run("infer", QUICKSTART, ckpt, "--source", "ftp://x/a", env=env, check=False)
    assert proc.returncode == 2 and "'ftp' scheme is not a stream" in proc.stderr
