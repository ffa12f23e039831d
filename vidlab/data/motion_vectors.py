"""``PyAVDecodeMotionVector``: the codec's motion vectors of the sampled frames (MMAction2's).

FFmpeg exports the motion vectors of each decoded frame as side data when the decoder is
given ``flags2=+export_mvs``. Every vector moves a ``w x h`` block; its displacement
``(dst - src)`` is written over the block around ``dst`` in an ``(H, W, 2)`` int8 map, as
MMAction2 does it: blocks reaching the right or bottom edge are left out, later vectors
overwrite earlier ones, displacements wrap to int8. Key frames have no vectors (all zeros).
"""

from __future__ import annotations

import numpy as np

from vidlab.data.loading import PyAVDecode
from vidlab.data.sources import _Source

__all__ = ["PyAVDecodeMotionVector"]


def _paint(mv: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Write each vector's displacement over its block of ``mv`` ((H, W, 2) int8), in order."""
    height, width = mv.shape[:2]
    w, h = vectors["w"].astype(np.int64), vectors["h"].astype(np.int64)
    dst_x, dst_y = vectors["dst_x"].astype(np.int64), vectors["dst_y"].astype(np.int64)
    val_x = (dst_x - vectors["src_x"]).astype(np.int8)  # wraps, as numpy's int8 assignment
    val_y = (dst_y - vectors["src_y"]).astype(np.int8)
    sx, sy = dst_x - w // 2, dst_y - h // 2
    ex, ey = sx + w, sy + h
    inside = (sx >= 0) & (ex < width) & (sy >= 0) & (ey < height)
    for k in np.flatnonzero(inside):
        mv[sy[k] : ey[k], sx[k] : ex[k]] = (val_x[k], val_y[k])
    return mv


class PyAVDecodeMotionVector(PyAVDecode):
    """Decode the motion vectors of the frames ``frame_inds`` into ``motion_vectors``.

    Sets ``motion_vectors``: int8 ``(T, H, W, 2)`` (x, y displacement per pixel), one map per
    index of ``frame_inds`` (2-D ``frame_inds`` are flattened). Reads the video named by the
    ``video_reader`` of an Init step (or ``filename``) with PyAV from its start up to the last
    index needed, and closes the reader.
    """

    def __call__(self, results: dict) -> dict:
        import av

        source = results.get("video_reader")
        path = source.path if isinstance(source, _Source) else results["filename"]
        if isinstance(source, _Source):
            source.close()
        results["video_reader"] = None
        frame_inds = np.asarray(results["frame_inds"]).reshape(-1)
        results["frame_inds"] = frame_inds
        start = int(results.get("start_index") or 0)
        positions = frame_inds.astype(np.int64) - start
        last = int(positions.max())
        maps: list[np.ndarray] = []
        with av.open(path) as container:
            stream = container.streams.video[0]
            if self.multi_thread:
                stream.thread_type = "AUTO"
            stream.codec_context.options = {"flags2": "+export_mvs"}
            for frame in container.decode(stream):
                mv = np.zeros((frame.height, frame.width, 2), dtype=np.int8)
                vectors = frame.side_data.get("MOTION_VECTORS")
                if vectors is not None and len(vectors) > 0:
                    _paint(mv, vectors.to_ndarray())
                maps.append(mv)
                if len(maps) > last:
                    break
        if not maps or last >= len(maps) or positions.min() < 0:
            raise IndexError(
                f"{path}: frame indices {frame_inds.min()}..{frame_inds.max()} (start_index "
                f"{start}) are outside the {len(maps)} decoded frames"
            )
        results["motion_vectors"] = np.stack([maps[p] for p in positions])
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(multi_thread={self.multi_thread})"
