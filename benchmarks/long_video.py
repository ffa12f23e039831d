"""Peak memory of `vidlab infer --window` on a 10-minute video against a 10-second one.

A long video must not cost more memory than a short one: frames are decoded one at a time into
a ring buffer of one window, the timeline is written window by window, the annotated MP4 frame
by frame. This script writes two videos of the same frames (small, low rate, so it runs in
minutes on a laptop), runs the sliding window over each in a fresh process (the quickstart
TSM-R18, random weights; timeline and annotated MP4 on), and prints each process's peak RSS
(``ru_maxrss``) and their ratio (goal: the long one within 10% of the short one):

    python benchmarks/long_video.py                      # 10 s vs 10 min, 64 px, 10 fps
    python benchmarks/long_video.py --size 128 --fps 25 --long-seconds 300
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO))

CONFIG = REPO / "vidlab" / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"


def write_long_video(path: Path, seconds: float, fps: int, size: int) -> None:
    """`seconds` of synthetic motion clips, encoded frame by frame (constant memory here too)."""
    import av
    import numpy as np

    from vidlab.data.synthetic import render_clip

    classes = ["move_left", "move_right", "move_up", "move_down", "grow", "shrink"]
    clips = [render_clip(c, i, num_frames=2 * fps, size=size) for i, c in enumerate(classes)]
    total = int(round(seconds * fps))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        for i in range(total):
            clip = clips[(i // (2 * fps)) % len(clips)]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(clip[i % (2 * fps)]), "rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def child(video: str, out_dir: str, window: str, stride: str) -> None:
    """Run the sliding window once; print one JSON line with the peak RSS."""
    import torch

    from vidlab.inference import init_recognizer
    from vidlab.long_video import sliding_window

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = init_recognizer(CONFIG)
    rss_model = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    info = sliding_window(
        model,
        video,
        window=window,
        stride=stride,
        timeline=os.path.join(out_dir, "timeline.json"),
        out_video=os.path.join(out_dir, "annotated.mp4"),
    )
    info.update(
        seconds=round(time.perf_counter() - start, 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        rss_after_model_mb=round(rss_model / 1024, 1),
    )
    print(json.dumps(info))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short-seconds", type=float, default=10)
    parser.add_argument("--long-seconds", type=float, default=600)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--window", default="2s")
    parser.add_argument("--stride", default="1s")
    parser.add_argument("--child", nargs=2, metavar=("VIDEO", "OUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.window, args.stride)
        return 0
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    )
    env.setdefault("VIDLAB_CACHE", tempfile.mkdtemp(prefix="vidlab_cache_"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, seconds in (("short", args.short_seconds), ("long", args.long_seconds)):
            video = Path(tmp) / f"{name}.mp4"
            start = time.perf_counter()
            write_long_video(video, seconds, args.fps, args.size)
            made = time.perf_counter() - start
            out_dir = Path(tmp) / name
            out_dir.mkdir()
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(video), str(out_dir),
                 "--window", args.window, "--stride", args.stride],
                capture_output=True, text=True, env=env, check=True,
            )  # fmt: skip
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = results[name]
            print(
                f"{name:>5}: {seconds:g} s video ({r['num_frames']} frames, {args.size} px, "
                f"{args.fps} fps, written in {made:.1f} s): {r['num_windows']} windows in "
                f"{r['seconds']} s; peak RSS {r['peak_rss_mb']} MB "
                f"(after loading the model: {r['rss_after_model_mb']} MB)"
            )
    ratio = results["long"]["peak_rss_mb"] / results["short"]["peak_rss_mb"]
    print(f"peak RSS long / short = {ratio:.3f} (goal <= 1.10); load {os.getloadavg()[0]:.1f}")
    return 0 if ratio <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
