"""Audio features: MMAction2's ``AudioDataset`` and its transforms ``LoadAudioFeature``,
``AudioFeatureSelector`` and ``FormatAudioShape``.

A feature file is a ``.npy`` array ``(L, F)``: ``L`` spectrogram frames of ``F`` mel bins
(``vidlab data audio-features`` writes MMAction2's: 80 bins, 62.5 frames a second). The
annotation list names the file, the number of *video* frames and the label; ``SampleFrames``
samples video frame indices as for a video, and ``AudioFeatureSelector`` maps each clip's span
onto the feature frames (proportionally: ``L / total_frames``) and cuts or zero-pads it to
``fixed_length`` frames. ``FormatAudioShape('NCTF')`` gives ``(num_clips, 1, T, F)``, which
``PackActionInputs`` packs as the sample's ``clips`` (float32): views flattened into the batch
by the task, as for video, then ``(N, 1, T, F)`` into ``vidlab.models.audio.RecognizerAudio``.

Missing files: MMAction2's ``LoadAudioFeature`` silently substitutes a dummy 10 s feature
(zeros, or uniform noise with ``pad_method='random'``) for a file that does not exist (videos
without an audio track). vidlab never replaces data: the sample raises ``FileNotFoundError``
naming the file and its annotation line, or, with the dataset's ``on_error='skip'``, is skipped
and reported (``vidlab.data.skipped``).
"""

from __future__ import annotations

import os

import numpy as np

from vidlab.data.datasets import BaseActionDataset, _join

__all__ = ["AudioDataset", "LoadAudioFeature", "AudioFeatureSelector", "FormatAudioShape"]


class AudioDataset(BaseActionDataset):
    """Audio feature files listed as ``path total_frames label`` lines (MMAction2's format;
    ``path total_frames l1 l2 ...`` with ``multi_class``).

    ``total_frames`` is the number of frames of the *video* the audio came from: sampling
    works in video frames, and ``AudioFeatureSelector`` maps them onto the feature frames.

    Args:
        ann_file: The list.
        pipeline: Transforms.
        data_prefix: ``''``, a folder, or ``dict(audio=folder)``.
        multi_class: Several labels per line.
        num_classes: Number of classes (default: largest label + 1).
        suffix: MMAction2 0.x's: appended to a listed path that does not end with it (the
            ``audioonly`` config passes ``suffix='.npy'``, which MMAction2 1.2.0 itself
            rejects); None: paths are taken as listed.
        start_index: First frame number, 0 as in MMAction2.
        test_mode, delimiter: see ``BaseActionDataset``.
        modality: ``'Audio'``.
        **kwargs: ``on_error``, ``data_root``, ``indices`` and MMEngine's arguments, passed
            on to ``BaseActionDataset``.
    """

    _prefix_keys = ("audio", "video", "prefix")

    def __init__(
        self,
        ann_file: str,
        pipeline,
        data_prefix: str | dict | None = "",
        multi_class: bool = False,
        num_classes: int | None = None,
        suffix: str | None = None,
        start_index: int = 0,
        modality: str = "Audio",
        test_mode: bool = False,
        delimiter: str = " ",
        **kwargs,
    ):
        self.suffix = suffix
        super().__init__(
            ann_file,
            pipeline,
            data_prefix=data_prefix,
            test_mode=test_mode,
            multi_class=multi_class,
            num_classes=num_classes,
            start_index=start_index,
            modality=modality,
            delimiter=delimiter,
            **kwargs,
        )

    def _path(self, name: str) -> str:
        if self.suffix and not name.endswith(self.suffix):
            name += self.suffix
        return _join(self._prefix, name)

    def parse_line(self, cols: list[str]) -> dict:
        if len(cols) < 2:
            raise ValueError("expected 'path total_frames label' (3 columns)")
        try:
            total = int(cols[1])
        except ValueError:
            raise ValueError(f"bad total_frames {cols[1]!r} (not an integer)") from None
        if total <= 0:
            raise ValueError(f"bad total_frames {total} (must be positive)")
        label = self._labels_from(cols[2:], "'path total_frames label' (3 columns)")
        return {"audio_path": self._path(cols[0]), "total_frames": total, "label": label}

    def parse_record(self, item: dict) -> dict:
        path = item.pop("audio_path", None) or item.pop("filename")
        label = item.pop("label", -1)
        if isinstance(label, list) and not self.multi_class:
            raise ValueError("a list of labels needs multi_class=True")
        return {"audio_path": self._path(path), "label": label, **item}

    def _source_path(self, rec: dict) -> str | None:
        return rec.get("audio_path")

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info.pop("explicit_start_index", None)  # frame numbers of a feature file: nothing to check
        return info

    def _check_exists(self, rec: dict) -> None:
        path = rec["audio_path"]
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path}: audio feature file does not exist (listed at {rec['ann_line']}); "
                "vidlab does not substitute a dummy feature as MMAction2 does: make the "
                "features (vidlab data audio-features), drop the line, or skip such samples "
                "with the dataset's on_error='skip'"
            )


class LoadAudioFeature:
    """Load ``results['audio_path']`` (a ``.npy`` array ``(L, F)``) as ``audios``; ``length``
    is ``L``.

    Args:
        pad_method: MMAction2's ``'zero'`` or ``'random'`` dummy for a missing file; checked
            and kept for configs, never used: a missing file raises ``FileNotFoundError`` (see
            the module docstring).
    """

    def __init__(self, pad_method: str = "zero") -> None:
        if pad_method not in ("zero", "random"):
            raise ValueError(f"pad_method={pad_method!r}; expected 'zero' or 'random'")
        self.pad_method = pad_method

    def __call__(self, results: dict) -> dict:
        path = results["audio_path"]
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path}: audio feature file does not exist; vidlab does not substitute a "
                f"dummy ({self.pad_method!r} padding) as MMAction2 does"
            )
        feature_map = np.load(path)
        if feature_map.ndim != 2:
            raise ValueError(
                f"{path}: expected audio features (frames, mel bins), got an array of shape "
                f"{feature_map.shape}"
            )
        results["length"] = feature_map.shape[0]
        results["audios"] = feature_map
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pad_method={self.pad_method})"


class AudioFeatureSelector:
    """Cut each sampled clip's span out of the features, ``fixed_length`` frames long.

    A clip of video frames ``i0..i1`` (of ``total_frames``) covers feature frames
    ``round((i0 + 1) / total_frames * length)`` up to ``round((i1 + 1) / total_frames *
    length)`` (MMAction2's mapping, Python's rounding), clamped to the features; the span is
    cut to ``fixed_length`` frames or zero-padded at the end. ``audios`` becomes
    ``(num_clips, fixed_length, F)``.

    Args:
        fixed_length: Feature frames per clip.
    """

    def __init__(self, fixed_length: int = 128) -> None:
        self.fixed_length = fixed_length

    def __call__(self, results: dict) -> dict:
        audio = results["audios"]
        num_clips = int(results["num_clips"])
        total, length = results["total_frames"], results["length"]
        clips = []
        for inds in np.asarray(results["frame_inds"]).reshape(num_clips, -1):
            start = max(0, int(round((inds[0] + 1) / total * length)))
            end = min(length, int(round((inds[-1] + 1) / total * length)))
            cropped = audio[start:end, :]
            if cropped.shape[0] >= self.fixed_length:
                clip = cropped[: self.fixed_length, :]
            else:
                pad = ((0, self.fixed_length - cropped.shape[0]), (0, 0))
                clip = np.pad(cropped, pad, mode="constant")
            clips.append(clip)
        results["audios"] = np.array(clips)
        results["audios_shape"] = results["audios"].shape
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fix_length={self.fixed_length})"


class FormatAudioShape:
    """``audios`` ``(clips, T, F)`` -> ``(clips, 1, T, F)`` (``input_format='NCTF'``, the one
    MMAction2 has); ``input_shape`` records it."""

    def __init__(self, input_format: str) -> None:
        if input_format != "NCTF":
            raise ValueError(f"The input format {input_format} is invalid; expected 'NCTF'")
        self.input_format = input_format

    def __call__(self, results: dict) -> dict:
        audios = results["audios"]
        clip, sample, freq = audios.shape
        results["audios"] = audios.reshape(clip, 1, sample, freq)
        results["input_shape"] = results["audios"].shape
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_format='{self.input_format}')"
