"""AVA frame decoding (issue 13): a 32-frame clip from an AVA movie's 27000-frame JPEG folder
against the recognition path (a 300-frame folder), CPU time of the process per clip.

Writes a 340x256 JPEG and links it 300 and 27030 times into two folders (``img_00001.jpg``...),
then times ``SampleFrames(32, 2) + RawFrameDecode`` on the small folder and
``SampleAVAFrames(32, 2) + RawFrameDecode`` (with AVA's normalised boxes and proposals) on the
large one, interleaved, the minimum of ``--repeats`` runs of ``--clips`` clips; and the AVA
path once more with the folder-scan cache off (every clip lists the 27030 files, as before
the cache).

    OMP_NUM_THREADS=2 python benchmarks/ava_frames.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def _folders(root: str) -> tuple[str, str]:
    from vidlab.data.io.frames import ImageEncoder

    yy, xx = np.mgrid[0:256, 0:340]
    img = np.stack([(xx + yy) % 256, (xx * 2) % 256, (yy * 3) % 256], -1).astype(np.uint8)
    one = os.path.join(root, "one.jpg")
    with open(one, "wb") as f:
        f.write(ImageEncoder(".jpg").encode(img))
    out = []
    for name, n in (("short", 300), ("ava", 27030)):
        folder = os.path.join(root, name)
        os.makedirs(folder)
        for i in range(1, n + 1):
            os.link(one, os.path.join(folder, f"img_{i:05d}.jpg"))
        os.utime(folder, (time.time() - 10, time.time() - 10))  # settled, as extracted frames
        out.append(folder)
    return out[0], out[1]


def _pipelines(short: str, ava: str):
    from vidlab.data.ava import SampleAVAFrames
    from vidlab.data.loading import RawFrameDecode
    from vidlab.data.pipeline import Compose
    from vidlab.data.sampling import SampleFrames

    def recognition(i):
        return dict(frame_dir=short, total_frames=300, filename_tmpl="img_{:05}.jpg",
                    start_index=None, modality="RGB")  # fmt: skip

    def keyframe(i):
        box = np.array([[0.1, 0.2, 0.5, 0.9]])
        return dict(frame_dir=ava, filename_tmpl="img_{:05}.jpg", start_index=1,
                    explicit_start_index=True, modality="RGB", fps=30, timestamp=902 + i % 890,
                    timestamp_start=900, shot_info=(0, 27000), gt_bboxes=box, proposals=box)  # fmt: skip

    return {
        "recognition (300 frames)": (Compose([SampleFrames(32, 2, 1, True), RawFrameDecode()]), recognition),
        "AVA (27030 frames)": (Compose([SampleAVAFrames(32, 2, True), RawFrameDecode()]), keyframe),
    }  # fmt: skip


def _time(pipe, info, clips: int) -> float:
    start = time.process_time()
    for i in range(clips):
        pipe(info(i))
    return (time.process_time() - start) / clips * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from vidlab.data.io import frames

    with tempfile.TemporaryDirectory() as root:
        pipes = _pipelines(*_folders(root))
        best = {name: float("inf") for name in pipes}
        for _ in range(args.repeats):
            for name, (pipe, info) in pipes.items():
                pipe(info(0))  # warm
                best[name] = min(best[name], _time(pipe, info, args.clips))
        kept, frames._SCANS_KEPT = frames._SCANS_KEPT, 0
        frames._SCANS.clear()
        pipe, info = pipes["AVA (27030 frames)"]
        best["AVA, no scan cache"] = _time(pipe, info, max(args.clips // 4, 1))
        frames._SCANS_KEPT = kept
    for name, ms in best.items():
        print(f"{name:28s} {ms:6.1f} ms CPU per 32-frame clip")


if __name__ == "__main__":
    main()
