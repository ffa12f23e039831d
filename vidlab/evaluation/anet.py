"""MMAction2's ``ANetMetric``: proposal recall (AR@AN) of temporal localization results.

The engine passes, per video in dataset order, the prediction of
``vidlab.tasks.localization.LocalizationTask.predict`` (``video_name`` and ``(p, 3)``
proposals ``[start_s, end_s, score]``) and the ``(g, 2)`` ground-truth segments in seconds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence

import numpy as np

from vidlab.evaluation.temporal import (
    average_precision_at_temporal_iou,
    average_recall_at_avg_proposals,
)

__all__ = ["ANetMetric", "proposals_to_json"]


def proposals_to_json(results: Sequence[Mapping]) -> dict:
    """ActivityNet's result file: video id (the name without MMAction2's ``v_``) ->
    ``[{'segment': [s, e], 'score': p}]``."""
    out = {}
    for r in results:
        name = str(r["video_name"])
        out[name[2:]] = [
            {"segment": [float(s), float(e)], "score": float(p)} for s, e, p in r["proposals"]
        ]
    return {"version": "VERSION 1.3", "results": out, "external_data": {}}


class ANetMetric:
    """AR@AN (MMAction2's ``ANetMetric``): average recall over tIoU thresholds 0.5:0.05:0.95
    at 1, 5, 10 and 100 proposals per video, and the area under the AR-AN curve (``auc``).

    Args:
        metric_type: ``'AR@AN'``; ``'TEM'`` (only write the results, no metric); or vidlab's
            ``'mAP'``: the proposals as class-agnostic detections, mean AP over the tIoU
            thresholds (``mAP``) and at each (``mAP@0.50``, ...).
        metric_options: ``{'AR@AN': {'temporal_iou_thresholds': [...], 'max_avg_proposals':
            100}}`` (the thresholds serve ``'mAP'`` too).
        dump_config: ``dict(out=path, output_format='json')`` writes ActivityNet's result JSON;
            ``'csv'``: one ``<video>.csv`` per video in folder ``out`` (TEM's
            ``action,start,end,tmin,tmax`` rows, or ``start,end,score``); ``out=''``: nothing
            written.
        prefix, collect_device: MMEngine's, accepted (the keys are unprefixed, as MMAction2's).
    """

    def __init__(
        self,
        metric_type: str = "TEM",
        collect_device: str = "cpu",
        prefix: str | None = None,
        metric_options: dict | None = None,
        dump_config: dict | None = None,
    ):
        if metric_type not in ("AR@AN", "TEM", "mAP"):
            raise ValueError(
                f"ANetMetric.metric_type={metric_type!r}; expected 'AR@AN', 'mAP' or 'TEM'"
            )
        dump_config = dict(dump_config or {"out": ""})
        if "out" not in dump_config:
            raise ValueError("ANetMetric.dump_config needs 'out' (a path, or '' for none)")
        self.output_format = dump_config.pop("output_format", "csv")
        if self.output_format not in ("json", "csv"):
            raise ValueError(
                f"ANetMetric.dump_config.output_format={self.output_format!r}; "
                "expected 'json' or 'csv'"
            )
        self.out = dump_config["out"]
        self.metric_type = metric_type
        options = dict((metric_options or {}).get("AR@AN", {}))
        self.thresholds = np.asarray(
            options.get("temporal_iou_thresholds", np.linspace(0.5, 0.95, 10)), dtype=np.float64
        )
        self.max_avg_proposals = options.get("max_avg_proposals", 100)
        self.prefix = prefix

    def compute(self, results: Sequence[Mapping], ground_truth: Sequence[np.ndarray]) -> dict:
        """The metrics of the whole set (and the dump, when ``dump_config.out`` is set)."""
        if self.out:
            self.dump(results)
        if self.metric_type == "TEM":
            return {}
        if self.metric_type == "mAP":
            return self._map(results, ground_truth)
        truth, proposals, total = {}, {}, 0
        for i, (r, gt) in enumerate(zip(results, ground_truth)):
            truth[i] = np.asarray(gt, dtype=np.float64).reshape(-1, 2)
            proposals[i] = np.asarray(r["proposals"], dtype=np.float64).reshape(-1, 3)
            total += len(proposals[i])
        if total == 0:
            raise ValueError("ANetMetric: no proposals at all; nothing to evaluate")
        recall, _, _, auc = average_recall_at_avg_proposals(
            truth,
            proposals,
            total,
            max_avg_proposals=self.max_avg_proposals,
            temporal_iou_thresholds=self.thresholds,
        )
        return {
            "auc": float(auc),
            "AR@1": float(np.mean(recall[:, 0])),
            "AR@5": float(np.mean(recall[:, 4])),
            "AR@10": float(np.mean(recall[:, 9])),
            "AR@100": float(np.mean(recall[:, 99])),
        }

    def _map(self, results, ground_truth) -> dict:
        """Class-agnostic detection mAP of the proposals (each a detection of 'an action')."""
        truth = {str(i): np.asarray(gt, float).reshape(-1, 2) for i, gt in enumerate(ground_truth)}
        rows = [
            [str(i), 0, s, e, p]
            for i, r in enumerate(results)
            for s, e, p in np.asarray(r["proposals"]).reshape(-1, 3)
        ]
        ap = average_precision_at_temporal_iou(truth, rows, self.thresholds)
        out = {"mAP": float(ap.mean())}
        out.update({f"mAP@{t:.2f}": float(a) for t, a in zip(self.thresholds, ap)})
        return out

    def dump(self, results: Sequence[Mapping]) -> None:
        """Write the results as ``dump_config`` asks."""
        if self.output_format == "json":
            os.makedirs(os.path.dirname(os.path.abspath(self.out)), exist_ok=True)
            with open(self.out, "w") as f:
                json.dump(proposals_to_json(results), f)
            return
        os.makedirs(self.out, exist_ok=True)
        for r in results:
            if "tem" in r:  # BSN's TEM: the rows its proposal generation reads
                rows, header = np.asarray(r["tem"]), "action,start,end,tmin,tmax"
            else:
                rows, header = np.asarray(r["proposals"]).reshape(-1, 3), "start,end,score"
            np.savetxt(
                os.path.join(self.out, f"{r['video_name']}.csv"),
                rows,
                header=header,
                delimiter=",",
                comments="",
            )

    def __repr__(self) -> str:
        return f"ANetMetric(metric_type={self.metric_type!r}, out={self.out!r})"
