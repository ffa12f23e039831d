"""BSN, the Boundary-Sensitive Network (Lin et al., ECCV 2018): MMAction2's ``TEM`` and ``PEM``
and the proposal generation (PGM) between them.

BSN runs in three stages, each a config of MMAction2's ``configs/localization/bsn``:

1. ``TEM`` (temporal evaluation): features ``(N, C, T)`` -> actionness, start and end
   probabilities per snippet ``(N, 3, T)``. Testing writes one CSV per video (``ANetMetric``
   with ``metric_type='TEM'``): ``action,start,end,tmin,tmax`` rows.
2. PGM (``vidlab localization pgm CONFIG --mode train|test``): from those CSVs, candidate
   proposals (every start peak x later end peak) with their IoU against the ground truth, and
   their boundary-sensitive features (actionness sampled over the proposal and its two
   boundary regions: ``16 + 8 + 8 = 32`` values).
3. ``PEM`` (proposal evaluation): an MLP scoring each proposal's feature; testing combines
   it with the boundary scores and applies soft-NMS.

The PGM functions compute what MMAction2's ``generate_candidate_proposals`` and
``generate_bsp_feature`` compute, as array code (fixtures check equality).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models._checks import built
from vidlab.models.losses import BinaryLogisticRegressionLoss
from vidlab.models.proposals import post_processing, proposal_array, temporal_iop, temporal_iou

__all__ = ["PEM", "TEM", "bsp_features", "candidate_proposals"]

TEM_HEADER = "action,start,end,tmin,tmax"
PROPOSAL_HEADER = "tmin,tmax,tmin_score,tmax_score,score,match_iou,match_ioa"


class TEM(nn.Module):
    """MMAction2's ``TEM``: three 1D convs, sigmoid outputs (actionness, start, end).

    Args:
        temporal_dim: ``T``, snippets per video.
        boundary_ratio: Width of the start / end target zones, in segment lengths.
        tem_feat_dim: ``C`` of the features.
        tem_hidden_dim: Width of the hidden convs.
        tem_match_threshold: Targets above it are positives of the loss.
        loss_cls: A built loss (default: ``BinaryLogisticRegressionLoss``).
        loss_weight: Weight of the actionness term.
        output_dim: Output channels (3).
        conv1_ratio, conv2_ratio, conv3_ratio: Scales of the three convs' outputs.
    """

    def __init__(
        self,
        temporal_dim: int,
        boundary_ratio: float,
        tem_feat_dim: int,
        tem_hidden_dim: int,
        tem_match_threshold: float,
        loss_cls: nn.Module | Mapping | None = None,
        loss_weight: float = 2,
        output_dim: int = 3,
        conv1_ratio: float = 1,
        conv2_ratio: float = 1,
        conv3_ratio: float = 0.01,
    ) -> None:
        super().__init__()
        self.temporal_dim = temporal_dim
        self.boundary_ratio = boundary_ratio
        self.feat_dim = tem_feat_dim
        self.c_hidden = tem_hidden_dim
        self.match_threshold = tem_match_threshold
        self.output_dim = output_dim
        if isinstance(loss_cls, Mapping) and dict(loss_cls) == {
            "type": "BinaryLogisticRegressionLoss"
        }:
            loss_cls = None  # MMAction2's default spelled out
        self.loss_cls = (
            BinaryLogisticRegressionLoss() if loss_cls is None else built(loss_cls, "loss_cls")
        )
        self.loss_weight = loss_weight
        self.conv1_ratio, self.conv2_ratio, self.conv3_ratio = conv1_ratio, conv2_ratio, conv3_ratio
        self.conv1 = nn.Conv1d(tem_feat_dim, tem_hidden_dim, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(tem_hidden_dim, tem_hidden_dim, kernel_size=3, padding=1)
        self.conv3 = nn.Conv1d(tem_hidden_dim, output_dim, kernel_size=1)
        gap = 1.0 / temporal_dim
        self.anchors_tmins = [gap * i for i in range(temporal_dim)]
        self.anchors_tmaxs = [gap * (i + 1.0) for i in range(temporal_dim)]

    def init_weights(self) -> None:
        """PyTorch's default initialisation (MMAction2's only touches 2D convs and BN)."""

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, T)`` features -> ``(N, 3, T)`` actionness, start and end probabilities."""
        if x.dim() != 3 or x.shape[1] != self.feat_dim:
            raise ValueError(
                f"TEM expects features (N, {self.feat_dim}, T) (tem_feat_dim), got {tuple(x.shape)}"
            )
        x = F.relu(self.conv1_ratio * self.conv1(x))
        x = F.relu(self.conv2_ratio * self.conv2(x))
        return torch.sigmoid(self.conv3_ratio * self.conv3(x))

    def generate_labels(self, gt_bbox: Sequence[Tensor | np.ndarray]):
        """Targets ``(action, start, end)``, each ``(N, T)``: how much of each snippet lies in a
        segment, in a start zone and in an end zone (zones ``max(1/T, boundary_ratio * length)``
        wide, centred on the boundaries)."""
        tmin = np.array(self.anchors_tmins)[:, None]
        tmax = np.array(self.anchors_tmaxs)[:, None]
        action, start, end = [], [], []
        for boxes in gt_bbox:
            boxes = np.asarray(torch.as_tensor(boxes).detach().cpu(), dtype=np.float64)
            boxes = boxes.reshape(-1, 2)
            gt_min, gt_max = boxes[:, 0], boxes[:, 1]
            pad = np.maximum(1.0 / self.temporal_dim, self.boundary_ratio * (gt_max - gt_min))
            action.append(temporal_iop(tmin, tmax, gt_min, gt_max).max(1))
            start.append(temporal_iop(tmin, tmax, gt_min - pad / 2, gt_min + pad / 2).max(1))
            end.append(temporal_iop(tmin, tmax, gt_max - pad / 2, gt_max + pad / 2).max(1))
        return tuple(torch.from_numpy(np.array(x)).float() for x in (action, start, end))

    def loss(self, outputs: Tensor, gt_instances) -> dict[str, Tensor]:
        """MMAction2's loss dict: ``loss_action`` (weighted), ``loss_start``, ``loss_end``."""
        gt_bbox = [g["gt_bbox"] if isinstance(g, Mapping) else g for g in gt_instances]
        labels = [x.to(outputs.device) for x in self.generate_labels(gt_bbox)]
        action, start, end = (
            self.loss_cls(outputs[:, k, :], labels[k], self.match_threshold) for k in range(3)
        )
        return {"loss_action": action * self.loss_weight, "loss_start": start, "loss_end": end}

    def results(self, outputs: Tensor, gt_instances, metas: Sequence[dict]) -> list[dict]:
        """Per video: ``{'video_name', 'tem': (T, 5) [action, start, end, tmin, tmax]}``."""
        scores = outputs.detach().float().cpu().numpy()  # (N, 3, T)
        anchors = np.stack([self.anchors_tmins, self.anchors_tmaxs], axis=1)
        return [
            {
                "video_name": meta.get("video_name"),
                "tem": np.concatenate([scores[i].T.astype(np.float64), anchors], axis=1),
            }
            for i, meta in enumerate(metas)
        ]


class PEM(nn.Module):
    """MMAction2's ``PEM``: a two-layer MLP scoring proposals from their BSP features.

    Args:
        pem_feat_dim: Feature size (32).
        pem_hidden_dim: Hidden width.
        pem_u_ratio_m, pem_u_ratio_l: How many medium / low IoU proposals the loss samples per
            high one.
        pem_high_temporal_iou_threshold, pem_low_temporal_iou_threshold: The IoU bands.
        soft_nms_alpha, soft_nms_low_threshold, soft_nms_high_threshold: Soft-NMS settings.
        post_process_top_k: Proposals kept per video.
        feature_extraction_interval: Frames per feature snippet (to convert to seconds).
        fc1_ratio, fc2_ratio: Scales of the two layers' outputs.
        output_dim: Output size (1).
    """

    input_key = "bsp_feature"  # the task feeds the model this target instead of `inputs`

    def __init__(
        self,
        pem_feat_dim: int,
        pem_hidden_dim: int,
        pem_u_ratio_m: float,
        pem_u_ratio_l: float,
        pem_high_temporal_iou_threshold: float,
        pem_low_temporal_iou_threshold: float,
        soft_nms_alpha: float,
        soft_nms_low_threshold: float,
        soft_nms_high_threshold: float,
        post_process_top_k: int,
        feature_extraction_interval: int = 16,
        fc1_ratio: float = 0.1,
        fc2_ratio: float = 0.1,
        output_dim: int = 1,
    ) -> None:
        super().__init__()
        self.feat_dim, self.hidden_dim, self.output_dim = pem_feat_dim, pem_hidden_dim, output_dim
        self.u_ratio_m, self.u_ratio_l = pem_u_ratio_m, pem_u_ratio_l
        self.pem_high_temporal_iou_threshold = pem_high_temporal_iou_threshold
        self.pem_low_temporal_iou_threshold = pem_low_temporal_iou_threshold
        self.soft_nms_alpha = soft_nms_alpha
        self.soft_nms_low_threshold = soft_nms_low_threshold
        self.soft_nms_high_threshold = soft_nms_high_threshold
        self.post_process_top_k = post_process_top_k
        self.feature_extraction_interval = feature_extraction_interval
        self.fc1_ratio, self.fc2_ratio = fc1_ratio, fc2_ratio
        self.fc1 = nn.Linear(pem_feat_dim, pem_hidden_dim)
        self.fc2 = nn.Linear(pem_hidden_dim, output_dim)

    def init_weights(self) -> None:
        """PyTorch's default initialisation, as MMAction2."""

    def forward(self, x: Tensor) -> Tensor:
        """``(P, 32)`` proposal features -> ``(P, 1)`` IoU estimates."""
        if x.dim() != 2 or x.shape[1] != self.feat_dim:
            raise ValueError(
                f"PEM expects proposal features (P, {self.feat_dim}) (pem_feat_dim), "
                f"got {tuple(x.shape)}"
            )
        x = F.relu(self.fc1_ratio * self.fc1(x))
        return torch.sigmoid(self.fc2_ratio * self.fc2(x))

    def loss(self, outputs: Tensor, gt_instances) -> dict[str, Tensor]:
        """MMAction2's ``temporal_iou_loss``: smooth-L1 against each proposal's IoU, over all
        high-IoU proposals and random medium / low ones (``torch.rand``, MMAction2's order)."""
        iou = torch.cat([g["reference_temporal_iou"] for g in gt_instances]).to(outputs.device)
        pred = outputs.reshape(-1)
        high, low = self.pem_high_temporal_iou_threshold, self.pem_low_temporal_iou_threshold
        u_h = (iou > high).float()
        u_m = ((iou <= high) & (iou > low)).float()
        u_l = (iou <= low).float()
        r_m = (self.u_ratio_m * u_h.sum() / u_m.sum()).clamp(max=1.0)
        keep_m = (torch.rand(len(iou), device=iou.device) * u_m > 1.0 - r_m).float()
        r_l = (self.u_ratio_l * u_h.sum() / u_l.sum()).clamp(max=1.0)
        keep_l = (torch.rand(len(iou), device=iou.device) * u_l > 1.0 - r_l).float()
        weights = u_h + keep_m + keep_l
        # MMAction2's: the *mean* smooth-L1 times each weight, summed, over the weight sum
        loss = F.smooth_l1_loss(pred, iou.to(pred.dtype))
        return {"temporal_iou_loss": torch.sum(loss * weights) / torch.sum(weights)}

    def proposals(self, outputs: Tensor, gt_instances, metas: Sequence[dict]) -> list[list[dict]]:
        """One video's proposals (MMAction2's ``predict`` sees one): PEM score x boundary
        scores, soft-NMS, seconds."""
        (g,), (meta,) = gt_instances, metas
        pem = outputs.detach().reshape(-1).cpu().numpy().reshape(-1, 1)

        def column(key):
            return g[key].reshape(-1).cpu().numpy().reshape(-1, 1)

        tmin, tmax = column("tmin"), column("tmax")
        tmin_score, tmax_score = column("tmin_score"), column("tmax_score")
        score = np.array(pem * tmin_score * tmax_score).reshape(-1, 1)
        result = np.concatenate((tmin, tmax, tmin_score, tmax_score, pem, score), axis=1)
        return [
            post_processing(
                result.reshape(-1, 6),
                meta,
                self.soft_nms_alpha,
                self.soft_nms_low_threshold,
                self.soft_nms_high_threshold,
                self.post_process_top_k,
                self.feature_extraction_interval,
            )
        ]

    def results(self, outputs: Tensor, gt_instances, metas: Sequence[dict]) -> list[dict]:
        """``[{'video_name', 'proposals': (p, 3)}]`` for the one video of ``outputs``."""
        listed = self.proposals(outputs, gt_instances, metas)[0]
        return [{"video_name": metas[0].get("video_name"), "proposals": proposal_array(listed)}]


# -- PGM: proposals and their features from TEM's outputs --------------------------------------
def _peaks(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Local maxima and scores above ``threshold`` x the best; both ends always."""
    bins = np.zeros(len(scores), dtype=bool)
    mid = scores[1:-1]
    bins[1:-1] = ((mid > scores[2:]) & (mid > scores[:-2])) | (mid > threshold * scores.max())
    bins[[0, -1]] = True
    return bins


def candidate_proposals(
    tem: np.ndarray, video_info: Mapping, temporal_scale: int, peak_threshold: float
) -> np.ndarray:
    """BSN's candidates of one video from its TEM rows ``(T, >=3)`` (float32, as read).

    Returns:
        ``(n, 7)`` ``[tmin, tmax, tmin_score, tmax_score, score, match_iou, match_ioa]``, best
        score first: every start peak before every end peak, with the best IoU and IoA against
        the video's segments (fractions of the featured part).
    """
    start_scores, end_scores = tem[:, 1], tem[:, 2]
    gap = 1.0 / temporal_scale
    centres = np.array([gap / 2 + gap * i for i in range(temporal_scale)])
    starts = np.flatnonzero(_peaks(start_scores, peak_threshold))
    ends = np.flatnonzero(_peaks(end_scores, peak_threshold))
    rows = []
    for e in ends:  # MMAction2's order: ends outer, starts inner, up to the end
        for s in starts:
            if centres[s] >= centres[e]:
                break
            rows.append([centres[s], centres[e], start_scores[s], end_scores[e]])
    if not rows:
        return np.zeros((0, 7))
    props = np.array(rows, dtype=np.float64)
    props = np.concatenate([props, (props[:, 2] * props[:, 3]).reshape(-1, 1)], axis=1)
    props = props[props[:, -1].argsort()[::-1]]
    seconds = float(video_info["feature_frame"]) / video_info["duration_frame"]
    seconds = seconds * video_info["duration_second"]
    gt_min = np.array([a["segment"][0] / seconds for a in video_info["annotations"]])
    gt_max = np.array([a["segment"][1] / seconds for a in video_info["annotations"]])
    if len(gt_min):
        iou = temporal_iou(props[:, :1], props[:, 1:2], gt_min, gt_max).max(1)
        ioa = temporal_iop(props[:, :1], props[:, 1:2], gt_min, gt_max).max(1)
    else:  # a video without segments (a test set without labels): no overlap to measure
        iou = ioa = np.zeros(len(props))
    return np.concatenate([props, iou[:, None], ioa[:, None]], axis=1)


def _region(t0: float, t1: float, n: int, interp: int, t_points, score) -> np.ndarray:
    """``n`` means of ``interp + 1`` interpolated actionness samples each, over ``[t0, t1]``
    widened by half a step on each side (MMAction2's BSP sampling)."""
    step = (t1 - t0) / (n - 1)
    sub = step / interp
    t_new = [t0 - step / 2 + sub * i for i in range(n * interp + 1)]
    y = np.interp(t_new, t_points, score)
    return np.array([np.mean(y[i * interp : (i + 1) * interp + 1]) for i in range(n)])


def bsp_features(
    tem: np.ndarray,
    proposals: np.ndarray,
    top_k: int = 1000,
    bsp_boundary_ratio: float = 0.2,
    num_sample_start: int = 8,
    num_sample_end: int = 8,
    num_sample_action: int = 16,
    num_sample_interp: int = 3,
) -> np.ndarray:
    """Boundary-sensitive features ``(min(n, top_k), action + start + end samples)`` of one
    video's proposals (rows ``[tmin, tmax, ...]``, float32 as read) from its TEM rows."""
    score = tem[:, 0]
    tmins, tmaxs = tem[:, 3], tem[:, 4]
    scale = len(tem)
    gap = tmaxs[0] - tmins[0]
    extend = int(scale / 4 + 10)
    score = np.concatenate((np.zeros(extend), score, np.zeros(extend)))
    begin = [-gap / 2 - (extend - 1 - i) * gap for i in range(extend)]
    end = [gap / 2 + tmaxs[-1] + i * gap for i in range(extend)]
    middle = [gap / 2 + i * gap for i in range(scale)]
    t_points = begin + middle + end
    features = []
    for tmin, tmax in proposals[:top_k, :2]:
        length = tmax - tmin
        r = bsp_boundary_ratio
        args = (num_sample_interp, t_points, score)
        start = _region(tmin - length * r, tmin + length * r, num_sample_start, *args)
        stop = _region(tmax - length * r, tmax + length * r, num_sample_end, *args)
        action = _region(tmin, tmax, num_sample_action, *args)
        features.append(np.concatenate([action, start, stop]))
    return np.array(features)
