"""`vidlab export` and `vidlab infer --backend onnxruntime` as subprocesses, and `vidlab infer`
on a stream (``--source``) with its timeline and annotated video."""

from __future__ import annotations

import json
import os
import threading

import pytest
from deploy_helpers import QUICKSTART, frames_of, vidlab_run


def test_onnxruntime_backend_matches_pytorch(env, ckpt, videos, tmp_path):
    pytest.importorskip("onnxruntime")
    onnx = tmp_path / "tsm.onnx"
    proc = vidlab_run("export", QUICKSTART, ckpt, "--out", onnx, "--opset", "16", env=env)
    assert "opset 16, dynamic batch" in proc.stdout and "all TensorRT-parsable" in proc.stdout
    video = videos / "move_left.mp4"
    by_torch = vidlab_run("infer", QUICKSTART, ckpt, video, "--top-k", "6", env=env).stdout
    by_ort = vidlab_run(
        "infer", QUICKSTART, onnx, "--backend", "onnxruntime", video, "--top-k", "6", env=env
    ).stdout  # the input after the options: kept
    parse = [line.split()[1:] for line in by_torch.splitlines()[1:]]
    parse_ort = [line.split()[1:] for line in by_ort.splitlines()[1:]]
    assert [p[0] for p in parse] == [p[0] for p in parse_ort] and len(parse) == 6
    for (_, a), (_, b) in zip(parse, parse_ort):
        assert abs(float(a) - float(b)) <= 2e-4  # printed with 4 decimals
    proc = vidlab_run("infer", QUICKSTART, ckpt, video, "--backend", "onnxruntime", env=env,
                      check=False)  # fmt: skip
    assert proc.returncode == 2 and "is not an .onnx file" in proc.stderr


def test_sliding_window_on_a_stream(env, ckpt, labels, long_video, tmp_path):
    """``--source`` on a named pipe fed with MPEG-TS while vidlab reads it."""
    from vidlab.data.synthetic import write_video

    ts = tmp_path / "live.ts"
    write_video(ts, frames_of("grow", 1, num_frames=48), fps=12)
    fifo = tmp_path / "live"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(ts.read_bytes()), daemon=True)
    feeder.start()
    timeline, video = tmp_path / "t.json", tmp_path / "a.mp4"
    proc = vidlab_run(
        "infer", QUICKSTART, ckpt, "--source", fifo, "--window", "2s", "--stride", "12",
        "--labels", labels, "--timeline", timeline, "--out-video", video, env=env,
    )  # fmt: skip
    feeder.join(timeout=10)
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and lines[1].split()[0] == "1.00-3.00"  # windows end at 23, 35, 47
    assert "48 frames at 12.00 fps, 3 windows of 24 frames every 12" in proc.stderr
    data = json.loads(timeline.read_text())
    assert [w["start_frame"] for w in data["windows"]] == [0, 12, 24]
    assert video.stat().st_size > 1000
