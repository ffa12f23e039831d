"""AVA-Kinetics (MMAction2's ``AVAKineticsDataset``): AVA's files, with Kinetics clips beside
AVA's movies.

Id scheme: an AVA movie's id has 11 characters and spans ``timestamp_start..timestamp_end``;
a Kinetics clip is ``<youtube id>_<start>_<end>`` (e.g. ``abcdefghijk_000010_000020``), its
timestamps in seconds of the original video, its frames numbered from 1 over ``end - start``
seconds. Its proposals are keyed by ``<youtube id>,<timestamp:04d>``.

Differences to ``AVADataset`` (MMAction2's): ``start_index`` defaults to 0, ``exclude_file``
and ``label_file`` are required, no ``use_frames``/``multilabel``, ``shot_info`` is
``(1, (end - start) * fps + 1)`` and proposals are not checked to lie in [0, 1].

One deliberate difference to MMAction2 1.2.0: its ``load_data_list`` gives every record the
``shot_info`` of the *last* annotation row's video (a variable left over from a loop), so the
frames of all AVA movies are clipped to a Kinetics clip's 300 when the csv ends with one (or
the other way round). vidlab gives each record its own video's ``shot_info``.
"""

from __future__ import annotations

from collections.abc import Sequence

from vidlab.data.annotations import AnnotationError
from vidlab.data.ava import AVADataset

__all__ = ["AVAKineticsDataset"]


class AVAKineticsDataset(AVADataset):
    """AVA-Kinetics keyframes (see the module docstring; arguments as :class:`AVADataset`)."""

    def __init__(
        self,
        ann_file: str,
        exclude_file: str,
        pipeline,
        label_file: str,
        filename_tmpl: str = "img_{:05}.jpg",
        start_index: int = 0,
        proposal_file: str | None = None,
        person_det_score_thr: float = 0.9,
        num_classes: int = 81,
        custom_classes: Sequence[int] | None = None,
        data_prefix: str | dict | None = None,
        modality: str = "RGB",
        test_mode: bool = False,
        num_max_proposals: int = 1000,
        timestamp_start: int = 900,
        timestamp_end: int = 1800,
        fps: int = 30,
        **kwargs,
    ):
        super().__init__(
            ann_file,
            pipeline,
            exclude_file=exclude_file,
            label_file=label_file,
            filename_tmpl=filename_tmpl,
            start_index=start_index,
            proposal_file=proposal_file,
            person_det_score_thr=person_det_score_thr,
            num_classes=num_classes,
            custom_classes=custom_classes,
            data_prefix=data_prefix,
            modality=modality,
            test_mode=test_mode,
            num_max_proposals=num_max_proposals,
            timestamp_start=timestamp_start,
            timestamp_end=timestamp_end,
            fps=fps,
            **kwargs,
        )

    def get_timestamp(self, video_id: str) -> tuple[int, int]:
        """``(start, end)`` seconds of a video: the dataset's for an AVA movie, the id's own
        for a Kinetics clip ``<id>_<start>_<end>``."""
        if len(video_id) == 11:
            return self.timestamp_start, self.timestamp_end
        parts = video_id.split("_")
        if len(parts) >= 3:
            try:
                return int(parts[-2]), int(parts[-1])
            except ValueError:
                raise ValueError(
                    f"video id {video_id!r}: a Kinetics clip's id ends in _<start>_<end> seconds"
                ) from None
        return self.timestamp_start, self.timestamp_end

    def _shot_info(self, video_id: str) -> tuple[int, int]:
        start, end = self.get_timestamp(video_id)
        return (1, (end - start) * self._FPS + 1)

    def _video_record(self, video_id: str, where: str) -> dict:
        try:
            start, end = self.get_timestamp(video_id)
        except ValueError as e:
            raise AnnotationError(f"{where}: {e}") from None
        rec = super()._video_record(video_id, where)
        rec["timestamp_start"] = start
        rec["timestamp_end"] = end
        return rec

    def _proposal_key(self, info: dict) -> str:
        img_key = info["img_key"]
        if len(img_key) == 16:  # an AVA movie: 11-character id, comma, 4 digits
            return img_key
        video_id, timestamp = img_key.split(",")
        youtube_id = "_".join(video_id.split("_")[:-2])
        return f"{youtube_id},{int(timestamp):04d}"

    def _check_proposal_range(self, proposals, key: str) -> None:
        pass  # MMAction2 does not check AVA-Kinetics' proposals
