"""Data-pipeline benchmark: vidlab's decode per clip against a lower bound, decord, and the
full training pipeline.

Writes its own test videos (340x256, 30 fps, 10 s, H.264 with GOP 250 and GOP 12, x264's
default B-frames) into a temporary folder, then measures in one run:

1. **lower bound** per clip: the time PyAV with one thread spends decoding the packets that must
   be decoded to reach the sampled frames (from the keyframe before each, in decode order; the
   packets replayed from memory, the decoder flushed between runs and drained at their end),
   plus converting only the returned frames to RGB. No open, demux or seek is counted.
2. **vidlab** per clip: ``open_video(path).read(indices)`` with the frame index cached (warm;
   what every epoch after a worker's first visit of a file sees) and rebuilt for every clip
   (cold: one demux pass more), as a ratio to the bound. The reader's open (which decodes the
   first frame while probing the stream) is included; the bound has no open at all.
3. **decord** per clip (``VideoReader(path, num_threads=1).get_batch``), where installed.

Samplings as MMAction2's ``SampleFrames`` in train mode: TSN 1x1x8 (eight segments, a random
offset in each) and dense 32x2x1 (32 frames, every 2nd, random start). Each clip is timed
``--repeats`` times, methods interleaved, and the minimum taken. Times are CPU time of the
process (every decoder here runs on one thread), so a shared machine does not skew them;
ratios are sums over clips.

4. The TSN train pipeline per clip on a 640x360 video with ``Compose``'s decode + short-side
   ``Resize(-1, 256)`` fusion on and off (CPU time, same samplings; ``--fuse-clips``).
5. Where ``vidlab.data.datasets.VideoDataset`` exists: the full TSN train pipeline per clip in
   one process (CPU time), and a 2-worker DataLoader's clips/s (wall clock), its workers' CPU
   time per clip, and each worker's resident memory after 100 and after 2000 clips.

    python benchmarks/data_pipeline.py                       # a few minutes on 2 cores
    python benchmarks/data_pipeline.py --clips 10 --loader-clips 300 --repeats 2   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import av
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vidlab.data.io import open_video  # noqa: E402
from vidlab.data.io.convert import RGBConverter  # noqa: E402
from vidlab.data.io.pyav import clear_index_cache, get_index  # noqa: E402

WIDTH, HEIGHT, FPS, SECONDS = 340, 256, 30, 10


# -- test videos -----------------------------------------------------------------------------


def render(i: int, rng_texture: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A frame with camera motion over a textured background and two moving objects."""
    x0 = int(40 + 30 * np.sin(i / 25))
    y0 = int(30 + 20 * np.cos(i / 31))
    img = rng_texture[y0 : y0 + height, x0 : x0 + width].copy()
    for k, (color, speed) in enumerate((((230, 60, 40), 3), ((40, 90, 220), -2))):
        cx = (60 + speed * i + 120 * k) % (width - 60)
        cy = 60 + 70 * k + int(20 * np.sin(i / (9 + k)))
        img[cy : cy + 50, cx : cx + 60] = color
    return img


def make_video(
    path: str, gop: int, width: int = WIDTH, height: int = HEIGHT, seconds: int = SECONDS
) -> str:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0 : height + 80, 0 : width + 120]
    base = np.stack([xx * 0.5, yy * 0.7, (xx + yy) * 0.3], -1) % 256
    noise = rng.normal(0, 18, base.shape[:2])[..., None]
    blur = (
        noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1) + np.roll(noise, (1, 1), (0, 1))
    ) / 4
    texture = np.clip(base + blur, 0, 255).astype(np.uint8)
    with av.open(path, "w") as c:
        s = c.add_stream(
            "libx264",
            rate=FPS,
            options={"crf": "23", "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"},
        )
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for i in range(FPS * seconds):
            frame = render(i, texture, width, height)
            c.mux(s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        c.mux(s.encode(None))
    return path


# -- the lower bound -------------------------------------------------------------------------


class LowerBound:
    """Replays the ideal decode of a clip: for each run of packets that must be decoded (from
    the keyframe before a target to the target's packet, in decode order), flush the decoder,
    feed exactly those packets from memory, drain; then convert the targets to RGB. Only the
    decode, drain and conversion calls are timed (CPU time): no open, demux or seek."""

    def __init__(self, path: str):
        self.index = index = get_index(path)
        self.container = av.open(path)
        stream = self.container.streams.video[0]
        stream.codec_context.thread_count = 1
        self.codec = stream.codec_context
        self.packets = [p for p in self.container.demux(stream) if p.size]
        self.position = np.empty(len(self.packets), np.int64)  # decode position of each frame
        self.position[[index.locate(p.pts) for p in self.packets]] = np.arange(len(self.packets))
        self.convert = RGBConverter()

    def runs(self, indices) -> list[tuple[int, int]]:
        """Decode-position ranges [start, end] to decode, merged where they overlap."""
        spans = []
        for t in np.unique(indices):
            keyframe = self.index.keyframes[self.index.keyframe_slot(int(t))]
            spans.append((int(self.position[keyframe]), int(self.position[t])))
        merged = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return merged

    def __call__(self, indices) -> float:
        targets = {int(self.index.pts[t]) for t in np.unique(indices)}
        out = np.empty((self.codec.height, self.codec.width, 3), np.uint8)
        clock = time.thread_time
        spent = 0.0
        for start, end in self.runs(indices):
            self.codec.flush_buffers()
            frames = []
            for packet in self.packets[start : end + 1]:
                t0 = clock()
                frames += self.codec.decode(packet)
                spent += clock() - t0
            t0 = clock()
            frames += self.codec.decode(None)
            for frame in frames:
                if frame.pts in targets:
                    self.convert.convert(frame, out)
            spent += clock() - t0
            self.codec.flush_buffers()
        return spent


# -- sampling (MMAction2 SampleFrames, train mode) -------------------------------------------


def sample_train(num_frames: int, clip_len: int, interval: int, num_clips: int, rng) -> np.ndarray:
    ori = clip_len * interval
    avg = (num_frames - ori + 1) // num_clips
    if avg > 0:
        offsets = np.arange(num_clips) * avg + rng.integers(0, avg, num_clips)
    else:
        offsets = np.zeros(num_clips, np.int64)
    inds = (offsets[:, None] + np.arange(clip_len)[None] * interval).reshape(-1)
    return np.mod(inds, num_frames)


SAMPLINGS = {"TSN 1x1x8": (1, 1, 8), "dense 32x2x1": (32, 2, 1)}


# -- decoders under test ---------------------------------------------------------------------


def read_vidlab(path, indices):
    with open_video(path) as reader:
        return reader.read(indices)


def read_vidlab_cold(path, indices):
    clear_index_cache()
    return read_vidlab(path, indices)


def read_decord(path, indices):
    import decord

    return decord.VideoReader(path, num_threads=1).get_batch(list(indices)).asnumpy()


def time_clips(methods: dict, path: str, clips: list, repeats: int) -> dict:
    """CPU seconds per clip and method, the minimum over `repeats` (methods interleaved).

    CPU time rather than wall time: every decoder here runs on one thread, and the machine may
    be shared. A `LowerBound` times itself."""
    best = {name: [float("inf")] * len(clips) for name in methods}
    for _ in range(repeats):
        for k, indices in enumerate(clips):
            for name, fn in methods.items():
                if isinstance(fn, LowerBound):
                    spent = fn(indices)
                else:
                    t0 = time.process_time()
                    fn(path, indices)
                    spent = time.process_time() - t0
                best[name][k] = min(best[name][k], spent)
    return best


# -- the full pipeline -----------------------------------------------------------------------


def tsn_train_pipeline():
    return [
        dict(type="VideoInit"),
        dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=8),
        dict(type="VideoDecode"),
        dict(type="Resize", scale=(-1, 256)),
        dict(type="RandomResizedCrop"),
        dict(type="Resize", scale=(224, 224), keep_ratio=False),
        dict(type="Flip", flip_ratio=0.5),
        dict(type="FormatShape", input_format="NCHW"),
        dict(type="PackActionInputs"),
    ]


def bench_fused_resize(
    tmp: str, clips: int, repeats: int, width: int = 640, height: int = 360
) -> dict | None:
    """The TSN train pipeline per clip on a `width` x `height` video, with the decode +
    Resize(-1, 256) pair fused (``Compose``'s default) and not; CPU time, min over `repeats`,
    the two interleaved on the same samplings."""
    try:
        from vidlab.data.pipeline import Compose
    except ImportError as e:
        print(f"\nfused resize: skipped ({e})")
        return None
    name = os.path.join(tmp, f"wide{width}x{height}.mp4")
    video = make_video(name, 12, width=width, height=height, seconds=2)
    fused = Compose(tsn_train_pipeline())
    plain = Compose(tsn_train_pipeline(), fuse_resize=False)
    assert len(fused.fused) == 1 and not plain.fused
    best = {"fused": [float("inf")] * clips, "unfused": [float("inf")] * clips}
    for _ in range(repeats):
        for k in range(clips):
            for name, pipe in (("fused", fused), ("unfused", plain)):
                np.random.seed(k)  # the same frames and crop for both
                t0 = time.process_time()
                out = pipe(dict(filename=video, label=0, start_index=0, modality="RGB"))
                best[name][k] = min(best[name][k], time.process_time() - t0)
    return {
        "source": f"{width}x{height} H.264 GOP 12",
        "clip_shape": tuple(out["clips"].shape),
        "fused_ms_per_clip": statistics.median(best["fused"]) * 1e3,
        "unfused_ms_per_clip": statistics.median(best["unfused"]) * 1e3,
        "unfused_over_fused": sum(best["unfused"]) / sum(best["fused"]),
    }


def worker_memory(pid: int) -> tuple[float, float]:
    """(resident MiB, peak resident MiB) of a process, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_init(_):
    import torch

    torch.set_num_threads(1)


def bench_pipeline(tmp: str, video: str, loader_clips: int, workers: int) -> dict | None:
    try:
        import torch
        from torch.utils.data import DataLoader

        from vidlab.data.datasets import VideoDataset
    except ImportError as e:
        print(f"\nfull pipeline: skipped ({e})")
        return None
    ann = os.path.join(tmp, "train.txt")
    with open(ann, "w") as f:
        f.writelines(f"{os.path.basename(video)} {k % 5}\n" for k in range(loader_clips + 64))
    dataset = VideoDataset(ann, tsn_train_pipeline(), data_prefix=tmp)
    np.random.seed(0)
    dataset[0]
    times = []
    for i in range(1, 101):
        t0 = time.process_time()
        sample = dataset[i]
        times.append(time.process_time() - t0)
    shape = tuple(sample["clips"].shape)
    per_clip = statistics.median(times)

    torch.set_num_threads(1)
    loader = DataLoader(
        dataset, batch_size=8, num_workers=workers, shuffle=False, worker_init_fn=_worker_init
    )
    iterator = iter(loader)
    pids = [w.pid for w in getattr(iterator, "_workers", [])]
    seen, mem100, start, start_seen, cpu0 = 0, None, None, 0, 0.0
    for batch in iterator:
        seen += len(batch["clips"])
        if start is None:  # the first batch includes worker start-up
            start, start_seen = time.perf_counter(), seen
            cpu0 = sum(cpu_seconds(p) for p in pids)
        if mem100 is None and seen >= 100:
            mem100 = [worker_memory(p) for p in pids]
        if seen >= loader_clips:
            break
    elapsed = time.perf_counter() - start
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    mem_end = [worker_memory(p) for p in pids]
    del iterator
    return {
        "clip_shape": shape,
        "pipeline_ms_per_clip": per_clip * 1e3,
        "loader_clips_per_s": (seen - start_seen) / elapsed,
        "loader_worker_cpu_ms_per_clip": cpu / (seen - start_seen) * 1e3,
        "clips": seen,
        "workers_rss_mib_at_100": [round(m[0], 1) for m in mem100 or []],
        "workers_rss_mib_at_end": [round(m[0], 1) for m in mem_end],
        "workers_peak_rss_mib_at_100": [round(m[1], 1) for m in mem100 or []],
        "workers_peak_rss_mib_at_end": [round(m[1], 1) for m in mem_end],
    }


# -- main ------------------------------------------------------------------------------------


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=30, help="clips per sampling and video")
    parser.add_argument("--repeats", type=int, default=3, help="timings per clip (min taken)")
    parser.add_argument("--loader-clips", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-pipeline", action="store_true", help="decode benchmark only")
    parser.add_argument(
        "--fuse-clips", type=int, default=30, help="clips for the fused-resize comparison"
    )
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)

    methods = {"vidlab": read_vidlab, "vidlab cold": read_vidlab_cold}
    try:
        import decord  # noqa: F401

        methods["decord"] = read_decord
    except ImportError:
        print("decord is not installed: its column is left out")

    results = {"decode": [], "pipeline": None, "fused_resize": None}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"PyAV {av.__version__}, FFmpeg {av.ffmpeg_version_info}; {os.cpu_count()} CPUs")
        header = f"{'GOP':>4} {'sampling':<13} {'bound ms':>9}"
        for name in methods:
            header += f" {name + ' ms':>15} {'x bound':>7}"
        print("\nDecode per clip (median ms; 'x bound' = sum of times / sum of lower bounds)")
        print(header)
        for gop in (250, 12):
            path = make_video(os.path.join(tmp, f"gop{gop}.mp4"), gop)
            clear_index_cache()
            index = get_index(path)
            bound = LowerBound(path)
            for sampling, (clip_len, interval, num_clips) in SAMPLINGS.items():
                rng = np.random.default_rng(gop)
                clips = [
                    sample_train(index.num_frames, clip_len, interval, num_clips, rng)
                    for _ in range(args.clips)
                ]
                get_index(path)
                timings = time_clips({"bound": bound, **methods}, path, clips, args.repeats)
                bounds = timings.pop("bound")
                row = {
                    "gop": gop,
                    "sampling": sampling,
                    "bound_ms": statistics.median(bounds) * 1e3,
                }
                line = f"{gop:>4} {sampling:<13} {row['bound_ms']:>9.2f}"
                for name, times in timings.items():
                    ratio = sum(times) / sum(bounds)
                    row[f"{name}_ms"] = statistics.median(times) * 1e3
                    row[f"{name}_ratio"] = ratio
                    line += f" {row[f'{name}_ms']:>15.2f} {ratio:>7.2f}"
                results["decode"].append(row)
                print(line)
        if not args.no_pipeline:
            results["fused_resize"] = []
            for size in ((640, 360), (1280, 720)):
                fuse = bench_fused_resize(tmp, args.fuse_clips, args.repeats, *size)
                if not fuse:
                    break
                results["fused_resize"].append(fuse)
                print(
                    f"TSN train pipeline on {fuse['source']} (Resize(-1, 256) after decode): "
                    f"fused {fuse['fused_ms_per_clip']:.1f} ms, unfused "
                    f"{fuse['unfused_ms_per_clip']:.1f} ms CPU per clip (median); "
                    f"unfused / fused = {fuse['unfused_over_fused']:.2f}"
                )
            video = os.path.join(tmp, "gop12.mp4")
            pipe = bench_pipeline(tmp, video, args.loader_clips, args.workers)
            results["pipeline"] = pipe
            if pipe:
                print(
                    f"\nFull TSN train pipeline (GOP 12 video, clips {pipe['clip_shape']}): "
                    f"{pipe['pipeline_ms_per_clip']:.1f} ms CPU per clip in one process"
                )
                print(
                    f"DataLoader, {args.workers} workers, batch 8: "
                    f"{pipe['loader_clips_per_s']:.1f} clips/s over {pipe['clips']} clips "
                    f"(wall clock); workers' CPU {pipe['loader_worker_cpu_ms_per_clip']:.1f} "
                    "ms per clip"
                )
                print(
                    "worker RSS MiB after 100 clips: "
                    f"{pipe['workers_rss_mib_at_100']} (peak {pipe['workers_peak_rss_mib_at_100']}); "
                    f"after {pipe['clips']}: {pipe['workers_rss_mib_at_end']} "
                    f"(peak {pipe['workers_peak_rss_mib_at_end']})"
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
