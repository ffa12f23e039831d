"""Temporal sampling: which frame indices a clip is made of.

Each sampler is a transform that reads ``total_frames`` and ``start_index`` from the results dict
and writes ``frame_inds`` (int32, already offset by ``start_index``), ``clip_len``,
``frame_interval`` and ``num_clips``, with the same numbers as MMAction2 1.x for the same random
state. Randomness comes from NumPy's global generator (``np.random``), as in MMAction2, so a
worker seeded with ``np.random.seed`` is reproducible.

Two things differ from MMAction2 on purpose:

- if ``total_frames`` is missing (a pipeline without an ``*Init`` step), the source named by
  ``filename``/``frame_dir`` is probed here instead of failing with ``KeyError: 'total_frames'``;
- every result is checked to lie in ``[start_index, start_index + total_frames)``; a video with
  no frames raises a ``ValueError`` naming the file instead of dividing by zero.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "SampleFrames",
    "UniformSample",
    "UniformSampleFrames",
    "DenseSampleFrames",
    "UntrimmedSampleFrames",
]


def _total_frames(results: dict) -> int:
    """``results['total_frames']``, probing the source when a pipeline has no Init step."""
    if results.get("total_frames") is None:
        from vidlab.data.loading import ensure_source_info

        ensure_source_info(results)
    total = int(results["total_frames"])
    if total <= 0:
        src = results.get("filename", results.get("frame_dir", "<unknown source>"))
        raise ValueError(
            f"{src}: total_frames is {total}; cannot sample frames from an empty video"
        )
    return total


def _start_index(results: dict) -> int:
    if results.get("start_index") is None:
        from vidlab.data.loading import ensure_source_info

        ensure_source_info(results)
    return int(results.get("start_index") or 0)


def _finish(
    results: dict,
    frame_inds: np.ndarray,
    total: int,
    start: int,
    clip_len: int,
    frame_interval: int | None,
    num_clips: int,
) -> dict:
    """Check the indices stay inside the source, then store them and the sampling keys."""
    frame_inds = np.asarray(frame_inds).astype(np.int32).reshape(-1)
    if frame_inds.size and (frame_inds.min() < start or frame_inds.max() >= start + total):
        src = results.get("filename", results.get("frame_dir", "<unknown source>"))
        raise AssertionError(
            f"{src}: sampled frame indices {frame_inds.min()}..{frame_inds.max()} fall outside "
            f"[{start}, {start + total}) (total_frames={total}, start_index={start})"
        )
    results["frame_inds"] = frame_inds
    results["clip_len"] = clip_len
    results["frame_interval"] = frame_interval
    results["num_clips"] = num_clips
    return results


class SampleFrames:
    """Sample ``num_clips`` clips of ``clip_len`` frames, ``frame_interval`` apart (MMAction2).

    Args:
        clip_len: frames per clip.
        frame_interval: temporal stride between sampled frames of a clip.
        num_clips: number of clips (TSN segments, or test views).
        temporal_jitter: add a random offset in ``[0, frame_interval)`` to every index.
        twice_sample: in test mode, also sample the clips without the half-segment shift
            (TSM testing); doubles the clips.
        out_of_bound_opt: ``'loop'`` (indices wrap around) or ``'repeat_last'`` (indices past the
            end repeat the last valid one of their clip).
        test_mode: deterministic, evenly spread clips.
        keep_tail_frames: train-mode variant that lets clips reach the last frames.
        target_fps: resample a video of ``avg_fps`` to this rate before sampling (PySlowFast).
        start_index: deprecated in MMAction2 (the dataset sets it); accepted and ignored.
    """

    def __init__(
        self,
        clip_len: int,
        frame_interval: int = 1,
        num_clips: int = 1,
        temporal_jitter: bool = False,
        twice_sample: bool = False,
        out_of_bound_opt: str = "loop",
        test_mode: bool = False,
        keep_tail_frames: bool = False,
        target_fps: float | None = None,
        start_index: int | None = None,
    ) -> None:
        if out_of_bound_opt not in ("loop", "repeat_last"):
            raise ValueError(
                f"out_of_bound_opt={out_of_bound_opt!r}; expected 'loop' or 'repeat_last'"
            )
        if clip_len < 1 or frame_interval < 1 or num_clips < 1:
            raise ValueError(
                f"clip_len={clip_len}, frame_interval={frame_interval}, num_clips={num_clips}: "
                "each must be >= 1"
            )
        if start_index is not None:
            warnings.warn(
                "SampleFrames(start_index=...) is deprecated (as in MMAction2): the dataset sets "
                "start_index; the argument is ignored",
                stacklevel=2,
            )
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_clips = num_clips
        self.temporal_jitter = temporal_jitter
        self.twice_sample = twice_sample
        self.out_of_bound_opt = out_of_bound_opt
        self.test_mode = test_mode
        self.keep_tail_frames = keep_tail_frames
        self.target_fps = target_fps

    # -- clip offsets ----------------------------------------------------------------------------
    def _get_train_clips(self, num_frames: int, ori_clip_len: float) -> np.ndarray:
        if self.keep_tail_frames:
            avg_interval = (num_frames - ori_clip_len + 1) / float(self.num_clips)
            if num_frames > ori_clip_len - 1:
                base_offsets = np.arange(self.num_clips) * avg_interval
                clip_offsets = (
                    base_offsets + np.random.uniform(0, avg_interval, self.num_clips)
                ).astype(np.int32)
            else:
                clip_offsets = np.zeros((self.num_clips,), dtype=np.int32)
            return clip_offsets

        avg_interval = (num_frames - ori_clip_len + 1) // self.num_clips
        if avg_interval > 0:
            base_offsets = np.arange(self.num_clips) * avg_interval
            clip_offsets = base_offsets + np.random.randint(avg_interval, size=self.num_clips)
        elif num_frames > max(self.num_clips, ori_clip_len):
            clip_offsets = np.sort(
                np.random.randint(num_frames - ori_clip_len + 1, size=self.num_clips)
            )
        elif avg_interval == 0:
            ratio = (num_frames - ori_clip_len + 1.0) / self.num_clips
            clip_offsets = np.around(np.arange(self.num_clips) * ratio)
        else:
            clip_offsets = np.zeros((self.num_clips,), dtype=np.int32)
        return clip_offsets

    def _get_test_clips(self, num_frames: int, ori_clip_len: float) -> np.ndarray:
        if self.clip_len == 1:  # 2D recognizer: the middle frame of each segment
            avg_interval = num_frames / float(self.num_clips)
            base_offsets = np.arange(self.num_clips) * avg_interval
            clip_offsets = base_offsets + avg_interval / 2.0
            if self.twice_sample:
                clip_offsets = np.concatenate([clip_offsets, base_offsets])
            return clip_offsets
        # 3D recognizer: clips spread evenly over the video
        max_offset = max(num_frames - ori_clip_len, 0)
        num_clips = self.num_clips * 2 if self.twice_sample else self.num_clips
        if num_clips > 1:
            # MMAction2 divides by (self.num_clips - 1) even with twice_sample; kept as is.
            num_segments = self.num_clips - 1
            if num_segments == 0:
                raise ValueError(
                    "SampleFrames(twice_sample=True, num_clips=1, clip_len>1) in test mode divides "
                    "by zero in MMAction2; use num_clips >= 2 or twice_sample=False"
                )
            if self.target_fps is not None:
                offset_between = np.floor(max_offset / float(num_segments))
                clip_offsets = np.arange(num_clips) * offset_between
            else:
                offset_between = max_offset / float(num_segments)
                clip_offsets = np.round(np.arange(num_clips) * offset_between)
        else:
            clip_offsets = np.array([max_offset // 2])
        return clip_offsets

    def _sample_clips(self, num_frames: int, ori_clip_len: float) -> np.ndarray:
        if self.test_mode:
            return self._get_test_clips(num_frames, ori_clip_len)
        return self._get_train_clips(num_frames, ori_clip_len)

    def _get_ori_clip_len(self, fps_scale_ratio: float) -> float:
        if self.target_fps is not None:
            ori_clip_len = self.clip_len * self.frame_interval
            return np.maximum(1, ori_clip_len * fps_scale_ratio)
        if self.test_mode:
            return (self.clip_len - 1) * self.frame_interval + 1
        return self.clip_len * self.frame_interval

    # -- index arithmetic ------------------------------------------------------------------------
    def _frame_inds(self, clip_offsets: np.ndarray, ori_clip_len: float) -> np.ndarray:
        if self.target_fps:
            frame_inds = clip_offsets[:, None] + np.linspace(
                0, ori_clip_len - 1, self.clip_len
            ).astype(np.int32)
        else:
            frame_inds = (
                clip_offsets[:, None] + np.arange(self.clip_len)[None, :] * self.frame_interval
            )
        frame_inds = np.concatenate(frame_inds)
        if self.temporal_jitter:
            # MMAction2 draws one offset per index (its target_fps branch broadcasts wrongly).
            frame_inds = frame_inds + np.random.randint(self.frame_interval, size=len(frame_inds))
        return frame_inds.reshape((-1, self.clip_len))

    def _bound(self, frame_inds: np.ndarray, total_frames: int) -> np.ndarray:
        if self.out_of_bound_opt == "loop":
            return np.mod(frame_inds, total_frames)
        # 'repeat_last': indices past the end take the largest valid index of their clip
        safe = frame_inds < total_frames
        last = np.max(safe * frame_inds, axis=1)
        return np.where(safe, frame_inds, last[:, None])

    def __call__(self, results: dict) -> dict:
        total_frames = _total_frames(results)
        start_index = _start_index(results)
        fps = results.get("avg_fps")
        if self.target_fps is None or not fps:
            fps_scale_ratio = 1.0
        else:
            fps_scale_ratio = fps / self.target_fps
        ori_clip_len = self._get_ori_clip_len(fps_scale_ratio)
        clip_offsets = self._sample_clips(total_frames, ori_clip_len)
        frame_inds = self._frame_inds(np.asarray(clip_offsets), ori_clip_len)
        frame_inds = self._bound(frame_inds, total_frames)
        frame_inds = np.concatenate(frame_inds) + start_index
        return _finish(
            results,
            frame_inds,
            total_frames,
            start_index,
            self.clip_len,
            self.frame_interval,
            self.num_clips,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clip_len={self.clip_len}, frame_interval={self.frame_interval}, "
            f"num_clips={self.num_clips}, temporal_jitter={self.temporal_jitter}, "
            f"twice_sample={self.twice_sample}, out_of_bound_opt={self.out_of_bound_opt!r}, "
            f"test_mode={self.test_mode})"
        )


class DenseSampleFrames(SampleFrames):
    """Dense sampling (I3D/non-local style): clips start within a window of ``sample_range``.

    Args:
        sample_range: the span (frames) the clips of one sample are spread over.
        num_sample_positions: test mode: number of evenly spaced window starts (so
            ``num_sample_positions * num_clips`` clips per video).
        Other arguments as :class:`SampleFrames`.
    """

    def __init__(
        self, *args, sample_range: int = 64, num_sample_positions: int = 10, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sample_range = sample_range
        self.num_sample_positions = num_sample_positions

    def _get_train_clips(self, num_frames: int, ori_clip_len: float = 0) -> np.ndarray:
        sample_position = max(1, 1 + num_frames - self.sample_range)
        interval = self.sample_range // self.num_clips
        start_idx = 0 if sample_position == 1 else np.random.randint(0, sample_position - 1)
        base_offsets = np.arange(self.num_clips) * interval
        return (base_offsets + start_idx) % num_frames

    def _get_test_clips(self, num_frames: int, ori_clip_len: float = 0) -> np.ndarray:
        sample_position = max(1, 1 + num_frames - self.sample_range)
        interval = self.sample_range // self.num_clips
        start_list = np.linspace(0, sample_position - 1, num=self.num_sample_positions, dtype=int)
        base_offsets = np.arange(self.num_clips) * interval
        clip_offsets = []
        for start_idx in start_list:
            clip_offsets.extend((base_offsets + start_idx) % num_frames)
        return np.array(clip_offsets)

    def __call__(self, results: dict) -> dict:
        total_frames = _total_frames(results)
        start_index = _start_index(results)
        clip_offsets = self._sample_clips(total_frames, 0)
        frame_inds = clip_offsets[:, None] + np.arange(self.clip_len)[None, :] * self.frame_interval
        frame_inds = np.concatenate(frame_inds)
        if self.temporal_jitter:
            frame_inds = frame_inds + np.random.randint(self.frame_interval, size=len(frame_inds))
        frame_inds = self._bound(frame_inds.reshape((-1, self.clip_len)), total_frames)
        frame_inds = np.concatenate(frame_inds) + start_index
        return _finish(
            results,
            frame_inds,
            total_frames,
            start_index,
            self.clip_len,
            self.frame_interval,
            self.num_clips,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clip_len={self.clip_len}, frame_interval={self.frame_interval}, "
            f"num_clips={self.num_clips}, sample_range={self.sample_range}, "
            f"num_sample_positions={self.num_sample_positions}, "
            f"temporal_jitter={self.temporal_jitter}, out_of_bound_opt={self.out_of_bound_opt!r}, "
            f"test_mode={self.test_mode})"
        )


class UniformSample:
    """Uniform sampling of MMAction2's ``UniformSample`` (SSv2 recipe, from PySlowFast).

    The video is cut into ``clip_len`` equal segments; training draws one random frame per
    segment, testing takes ``num_clips`` evenly shifted positions per segment. Videos shorter
    than ``clip_len`` repeat frames (never loop).

    Args:
        clip_len: frames per clip (= segments).
        num_clips: test mode: number of clips (shifted positions within the segments).
        test_mode: deterministic positions.
        out_of_bound_opt: accepted for configs written for ``UniformSampleFrames``; only
            ``'repeat_frame'`` (this sampler's behaviour) or ``None``. Use
            :class:`UniformSampleFrames` for the PoseC3D sampler with ``'loop'``.
    """

    def __init__(
        self,
        clip_len: int,
        num_clips: int = 1,
        test_mode: bool = False,
        out_of_bound_opt: str | None = None,
    ) -> None:
        if out_of_bound_opt not in (None, "repeat_frame"):
            raise ValueError(
                f"UniformSample(out_of_bound_opt={out_of_bound_opt!r}): this is the SSv2 sampler, "
                "which repeats frames of short videos ('repeat_frame'); for the PoseC3D sampler "
                "with 'loop' use UniformSampleFrames"
            )
        self.clip_len = clip_len
        self.num_clips = num_clips
        self.test_mode = test_mode
        self.out_of_bound_opt = out_of_bound_opt

    def _get_sample_clips(self, num_frames: int) -> np.ndarray:
        seg_size = float(num_frames - 1) / self.clip_len
        inds = []
        if not self.test_mode:
            for i in range(self.clip_len):
                start = int(np.round(seg_size * i))
                end = int(np.round(seg_size * (i + 1)))
                inds.append(np.random.randint(start, end + 1))
        else:
            duration = seg_size / (self.num_clips + 1)
            for k in range(self.num_clips):
                for i in range(self.clip_len):
                    start = int(np.round(seg_size * i))
                    inds.append(start + int(duration * (k + 1)))
        return np.array(inds)

    def __call__(self, results: dict) -> dict:
        total_frames = _total_frames(results)
        start_index = _start_index(results)
        inds = self._get_sample_clips(total_frames) + start_index
        return _finish(
            results,
            inds,
            total_frames,
            start_index,
            self.clip_len,
            None,
            self.num_clips,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clip_len={self.clip_len}, num_clips={self.num_clips}, "
            f"test_mode={self.test_mode})"
        )


class UniformSampleFrames:
    """MMAction2's ``UniformSampleFrames`` (PoseC3D): one frame per segment, seeded in test mode.

    Test mode draws from ``np.random.RandomState(seed)`` (the same numbers MMAction2 gets by
    re-seeding the global generator, without disturbing it).

    Args:
        clip_len: frames per clip.
        num_clips: number of clips.
        test_mode: deterministic (seeded) sampling.
        seed: seed used in test mode.
        out_of_bound_opt: ``'loop'`` or ``'repeat_frame'``.
    """

    def __init__(
        self,
        clip_len: int,
        num_clips: int = 1,
        test_mode: bool = False,
        seed: int = 255,
        out_of_bound_opt: str = "loop",
    ) -> None:
        if out_of_bound_opt not in ("loop", "repeat_frame"):
            raise ValueError(
                f"out_of_bound_opt={out_of_bound_opt!r}; expected 'loop' or 'repeat_frame'"
            )
        self.clip_len = clip_len
        self.num_clips = num_clips
        self.test_mode = test_mode
        self.seed = seed
        self.out_of_bound_opt = out_of_bound_opt

    def _get_train_clips(self, num_frames: int, rng) -> np.ndarray:
        # MMAction2 1.x draws num_clips clips one after the other (0.x allowed one)
        return np.concatenate([self._one_clip(num_frames, rng) for _ in range(self.num_clips)])

    def _one_clip(self, num_frames: int, rng) -> np.ndarray:
        n = self.clip_len
        if num_frames < n:
            start = rng.randint(0, num_frames)
            return np.arange(start, start + n)
        if n <= num_frames < 2 * n:
            basic = np.arange(n)
            inds = rng.choice(n + 1, num_frames - n, replace=False)
            offset = np.zeros(n + 1, dtype=np.int32)
            offset[inds] = 1
            return basic + np.cumsum(offset)[:-1]
        bids = np.array([i * num_frames // n for i in range(n + 1)])
        bsize = np.diff(bids)
        return bids[:n] + rng.randint(bsize)

    def _get_test_clips(self, num_frames: int, rng) -> np.ndarray:
        n = self.clip_len
        if num_frames < n:
            if num_frames < self.num_clips:
                start_inds = list(range(self.num_clips))
            else:
                start_inds = [i * num_frames // self.num_clips for i in range(self.num_clips)]
            return np.concatenate([np.arange(i, i + n) for i in start_inds])
        if n <= num_frames < 2 * n:
            return np.concatenate([self._one_clip(num_frames, rng) for _ in range(self.num_clips)])
        bids = np.array([i * num_frames // n for i in range(n + 1)])
        bsize = np.diff(bids)
        bst = bids[:n]
        return np.concatenate([bst + rng.randint(bsize) for _ in range(self.num_clips)])

    def _get_repeat_sample_clips(self, num_frames: int) -> np.ndarray:
        if self.num_clips != 1:
            raise ValueError(
                "UniformSampleFrames(out_of_bound_opt='repeat_frame') needs num_clips=1"
            )
        seg_size = float(num_frames - 1) / self.clip_len
        inds = []
        for i in range(self.clip_len):
            start = int(np.round(seg_size * i))
            end = int(np.round(seg_size * (i + 1)))
            if not self.test_mode:
                inds.append(np.random.randint(start, end + 1))
            else:
                inds.append((start + end) // 2)
        return np.array(inds)

    def __call__(self, results: dict) -> dict:
        total_frames = _total_frames(results)
        if "keypoint" in results and results.get("start_index") is None:
            start_index = 0  # a keypoint sequence, not a source to probe: MMAction2's default
        else:
            start_index = _start_index(results)
        if self.out_of_bound_opt == "loop":
            if self.test_mode:
                inds = self._get_test_clips(total_frames, np.random.RandomState(self.seed))
            else:
                inds = self._get_train_clips(total_frames, np.random)
            inds = np.mod(inds, total_frames)
        else:
            inds = self._get_repeat_sample_clips(total_frames)
        return _finish(
            results,
            inds + start_index,
            total_frames,
            start_index,
            self.clip_len,
            None,
            self.num_clips,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clip_len={self.clip_len}, num_clips={self.num_clips}, "
            f"test_mode={self.test_mode}, seed={self.seed})"
        )


class UntrimmedSampleFrames:
    """Clips centred every ``clip_interval`` frames along a whole (untrimmed) video (MMAction2).

    Centres are ``clip_interval // 2, clip_interval // 2 + clip_interval, ...`` below
    ``total_frames``; each clip takes ``clip_len`` frames ``frame_interval`` apart around its
    centre, indices clipped to the video. Sets ``frame_inds``, ``clip_len``, ``clip_interval``,
    ``frame_interval`` and ``num_clips`` (one clip per centre).

    Args:
        clip_len: frames per clip.
        clip_interval: frames between adjacent clip centres.
        frame_interval: frames between adjacent sampled frames of a clip.
    """

    def __init__(self, clip_len: int = 1, clip_interval: int = 16, frame_interval: int = 1):
        if clip_len < 1 or clip_interval < 1 or frame_interval < 1:
            raise ValueError(
                f"clip_len={clip_len}, clip_interval={clip_interval} and "
                f"frame_interval={frame_interval} must all be >= 1"
            )
        self.clip_len = clip_len
        self.clip_interval = clip_interval
        self.frame_interval = frame_interval

    def __call__(self, results: dict) -> dict:
        total = _total_frames(results)
        start = _start_index(results)
        centres = np.arange(self.clip_interval // 2, total, self.clip_interval)
        if not len(centres):
            src = results.get("filename", results.get("frame_dir", "<unknown source>"))
            raise ValueError(
                f"{src}: {total} frames hold no clip centre (the first is frame "
                f"{self.clip_interval // 2}); use a smaller clip_interval"
            )
        half = self.clip_len // 2
        offsets = np.arange(-half, self.clip_len - half) * self.frame_interval
        frame_inds = np.clip(centres[:, None] + offsets[None, :], 0, total - 1)  # (clips, len)
        _finish(
            results,
            frame_inds.reshape(-1) + start,
            total,
            start,
            self.clip_len,
            self.frame_interval,
            len(centres),
        )
        results["clip_interval"] = self.clip_interval
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clip_len={self.clip_len}, "
            f"clip_interval={self.clip_interval}, frame_interval={self.frame_interval})"
        )
