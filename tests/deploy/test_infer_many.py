"""Many inputs: what `expand_inputs` finds, and `infer_many` (workers, batches) giving each
input the scores `inference_recognizer` gives it alone, with errors reported per input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from deploy_helpers import CLASSES

from vidlab.batch_inference import expand_inputs, infer_many
from vidlab.inference import inference_recognizer
from vidlab.progress import Progress


def test_expand_folders_lists_and_frame_folders(videos, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "img_00001.jpg").write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{videos / 'grow.mp4'} 4\n# a comment\n\nclip.mp4 1\n")
    (tmp_path / "clip.mp4").write_bytes(b"")
    found = expand_inputs([videos, frames, listing])
    assert found == [
        str(videos / "grow.mp4"),
        str(videos / "move_left.mp4"),
        str(videos / "sub" / "shrink.mp4"),  # searched recursively, sorted
        str(frames),  # a folder of images is one input
        str(videos / "grow.mp4"),
        str(tmp_path / "clip.mp4"),  # relative to the list's folder
    ]
    with pytest.raises(FileNotFoundError, match="no such video, frame folder or list"):
        expand_inputs([tmp_path / "missing.mp4"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no videos"):
        expand_inputs([tmp_path / "empty"])


@pytest.mark.parametrize("workers,batch", [(0, 1), (2, 2)])
def test_batched_results_equal_one_by_one(model, videos, tmp_path, workers, batch):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    inputs = [videos / "move_left.mp4", broken, videos / "grow.mp4", videos / "sub"]
    results = list(
        infer_many(
            model,
            inputs,
            labels=CLASSES,
            top_k=6,
            batch_size=batch,
            num_workers=workers,
            progress=False,
        )
    )
    assert [r["input"] for r in results] == [str(i) for i in inputs[:3]] + [
        str(videos / "sub" / "shrink.mp4")
    ]
    assert "error" in results[1] and "broken.mp4" in results[1]["error"]
    for result in (results[0], results[2], results[3]):
        alone = inference_recognizer(model, result["input"], labels=CLASSES, top_k=6)
        assert [t["label"] for t in result["top_k"]] == [name for name, _ in alone]
        np.testing.assert_allclose(
            [t["score"] for t in result["top_k"]], [s for _, s in alone], atol=2e-6
        )
        assert [CLASSES[t["label_id"]] for t in result["top_k"]] == [n for n, _ in alone]


def test_progress_bar_shows_rate_and_eta():
    out = io.StringIO()
    with Progress(4, "infer", unit="video", stream=out, interval=0.0) as bar:
        for _ in range(4):
            bar.update()
    lines = out.getvalue().splitlines()
    assert len(lines) == 5  # one per update (interval 0) and the last one
    assert lines[0].startswith("infer:  25% |#####") and "1/4 [00:00<00:00" in lines[0]
    assert "4/4" in lines[-1] and "video/s" in lines[-1]
    quiet = io.StringIO()
    with Progress(None, stream=quiet, enabled=False) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""
