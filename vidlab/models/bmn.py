"""BMN, the Boundary-Matching Network (Lin et al., ICCV 2019): temporal action proposals from
snippet features; MMAction2's ``BMN`` and ``BMNLoss``.

Input: ``(N, C, T)`` features of ``T = temporal_dim`` snippets (MMAction2's ActivityNet
features: C = 400, T = 100). Output of :meth:`BMN.forward`: ``(confidence_map (N, 2, D, S),
start (N, T), end (N, T))``; ``confidence_map[:, :, d, s]`` scores the proposal that starts at
snippet ``s`` and lasts ``d + 1`` snippets (channel 0 regressed IoU, channel 1 its
classification). The boundary-matching layer is one matmul of the features with a fixed
sampling mask ``(T, num_samples * D * S)``: each proposal is read at ``num_samples`` points
spread over it extended by ``boundary_ratio`` of its length on both sides, each point the
mean of ``num_samples_per_bin`` linearly interpolated samples.

MMAction2 stores that mask as a (frozen) parameter, so its checkpoints carry it under
``sample_mask`` (128 MB at T = 100) and the boundary-matching mask under ``bm_mask``; vidlab
keeps both names so those checkpoints load as they are. The mask is built here with array
code in the same float order as MMAction2's loops (bit-identical, in milliseconds instead of
seconds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models._checks import built
from vidlab.models.losses import binary_logistic_regression_loss
from vidlab.models.proposals import post_processing, proposal_array, temporal_iop, temporal_iou

__all__ = ["BMN", "BMNLoss"]


class BMNLoss(nn.Module):
    """BMN's loss: boundary (TEM) + 10 x IoU regression + IoU classification (MMAction2's).

    ``forward`` returns ``(loss, tem_loss, pem_reg_loss, pem_cls_loss)``. The regression term
    samples medium and low IoU entries at random to balance them against the high ones
    (``torch.rand_like``, twice, in MMAction2's order: same seed, same samples).
    """

    @staticmethod
    def tem_loss(pred_start, pred_end, gt_start, gt_end) -> Tensor:
        return binary_logistic_regression_loss(
            pred_start, gt_start
        ) + binary_logistic_regression_loss(pred_end, gt_end)

    @staticmethod
    def pem_reg_loss(pred_score, gt_iou_map, mask, high_iou=0.7, low_iou=0.3) -> Tensor:
        u_hmask = (gt_iou_map > high_iou).float()
        u_mmask = ((gt_iou_map <= high_iou) & (gt_iou_map > low_iou)).float()
        u_lmask = ((gt_iou_map <= low_iou) & (gt_iou_map > 0.0)).float() * mask
        num_h, num_m, num_l = u_hmask.sum(), u_mmask.sum(), u_lmask.sum()
        keep_m = (u_mmask * torch.rand_like(gt_iou_map) > 1.0 - num_h / num_m).float()
        keep_l = (u_lmask * torch.rand_like(gt_iou_map) > 1.0 - num_h / num_l).float()
        weights = u_hmask + keep_m + keep_l
        mse = F.mse_loss(pred_score * weights, gt_iou_map * weights)
        # MMAction2's: the *mean* squared error times the number of entries, over the weight
        return 0.5 * torch.sum(mse * torch.ones_like(weights)) / torch.sum(weights)

    @staticmethod
    def pem_cls_loss(
        pred_score, gt_iou_map, mask, threshold=0.9, ratio_range=(1.05, 21), eps=1e-5
    ) -> Tensor:
        pmask = (gt_iou_map > threshold).float()
        nmask = (gt_iou_map <= threshold).float() * mask
        num_positive = pmask.sum().clamp(min=1)
        num_entries = num_positive + nmask.sum()
        ratio = (num_entries / num_positive).clamp(ratio_range[0], ratio_range[1])
        coef_0 = 0.5 * ratio / (ratio - 1)
        coef_1 = 0.5 * ratio
        loss_pos = coef_1 * torch.log(pred_score + eps) * pmask
        loss_neg = coef_0 * torch.log(1.0 - pred_score + eps) * nmask
        return -1 * torch.sum(loss_pos + loss_neg) / num_entries

    def forward(
        self,
        pred_bm,
        pred_start,
        pred_end,
        gt_iou_map,
        gt_start,
        gt_end,
        bm_mask,
        weight_tem=1.0,
        weight_pem_reg=10.0,
        weight_pem_cls=1.0,
    ):
        gt_iou_map = gt_iou_map * bm_mask
        pem_reg = self.pem_reg_loss(pred_bm[:, 0].contiguous(), gt_iou_map, bm_mask)
        pem_cls = self.pem_cls_loss(pred_bm[:, 1].contiguous(), gt_iou_map, bm_mask)
        tem = self.tem_loss(pred_start, pred_end, gt_start, gt_end)
        loss = weight_tem * tem + weight_pem_reg * pem_reg + weight_pem_cls * pem_cls
        return loss, tem, pem_reg, pem_cls


def _conv1d_relu(cin, cout, groups=1) -> list[nn.Module]:
    return [nn.Conv1d(cin, cout, kernel_size=3, padding=1, groups=groups), nn.ReLU(inplace=True)]


def interp1d_sample_mask(tscale: int, num_samples: int, per_bin: int, boundary_ratio: float):
    """BMN's sampling mask ``(T, num_samples, D, S)`` (float32), MMAction2's definition.

    Proposal ``(s, d)`` spans snippets ``s .. s + d`` (zero when it runs past the end); it is
    read over ``[s - r L, s + d + r L]`` with ``L = d + 1`` and ``r = boundary_ratio`` at
    ``num_samples * per_bin`` evenly spaced points, each split linearly between its floor and
    ceiling snippet, ``per_bin`` consecutive points averaged into one sample.
    """
    start = np.arange(tscale, dtype=np.float64)[None, :]  # S
    dur = np.arange(tscale, dtype=np.float64)[:, None]  # D
    center_len = dur + 1.0  # proposal length in snippets
    seg_min = start - center_len * boundary_ratio  # (D, S)
    seg_max = (start + dur) + center_len * boundary_ratio
    n = num_samples * per_bin
    step = (seg_max - seg_min) / (n - 1.0)
    points = seg_min[..., None] + step[..., None] * np.arange(n)  # (D, S, n)
    upper = np.ceil(points).astype(np.int64)
    frac, down = np.modf(points)
    down = down.astype(np.int64)
    out = np.zeros((tscale, tscale, num_samples, tscale))  # (D, S, samples, T), float64
    d_idx, s_idx = np.meshgrid(np.arange(tscale), np.arange(tscale), indexing="ij")
    for k in range(n):  # MMAction2's accumulation order: down then up, point after point
        b = k // per_bin
        for idx, value in ((down[..., k], 1 - frac[..., k]), (upper[..., k], frac[..., k])):
            ok = (idx >= 0) & (idx <= tscale - 1)
            out[d_idx[ok], s_idx[ok], b, idx[ok]] += value[ok]
    out = 1.0 / per_bin * out
    out[d_idx + s_idx >= tscale] = 0.0  # proposals that run past the end read nothing
    return out.transpose(3, 2, 0, 1).astype(np.float32)  # (T, samples, D, S)


class BMN(nn.Module):
    """MMAction2's ``BMN`` (same arguments and state-dict keys).

    Args:
        temporal_dim: ``T``, snippets per video.
        boundary_ratio: How far (in proposal lengths) the sampling extends past each end.
        num_samples: Sample points per proposal.
        num_samples_per_bin: Interpolated samples averaged into each point.
        feat_dim: ``C`` of the input features.
        soft_nms_alpha, soft_nms_low_threshold, soft_nms_high_threshold: Soft-NMS settings.
        post_process_top_k: Proposals kept per video.
        feature_extraction_interval: Frames per feature snippet (to convert to seconds).
        loss_cls: A built :class:`BMNLoss` (default: a new one).
        hidden_dim_1d, hidden_dim_2d, hidden_dim_3d: Widths of the three parts.
    """

    def __init__(
        self,
        temporal_dim: int,
        boundary_ratio: float,
        num_samples: int,
        num_samples_per_bin: int,
        feat_dim: int,
        soft_nms_alpha: float,
        soft_nms_low_threshold: float,
        soft_nms_high_threshold: float,
        post_process_top_k: int,
        feature_extraction_interval: int = 16,
        loss_cls: nn.Module | Mapping | None = None,
        hidden_dim_1d: int = 256,
        hidden_dim_2d: int = 128,
        hidden_dim_3d: int = 512,
    ) -> None:
        super().__init__()
        self.tscale = temporal_dim
        self.boundary_ratio = boundary_ratio
        self.num_samples = num_samples
        self.num_samples_per_bin = num_samples_per_bin
        self.feat_dim = feat_dim
        self.soft_nms_alpha = soft_nms_alpha
        self.soft_nms_low_threshold = soft_nms_low_threshold
        self.soft_nms_high_threshold = soft_nms_high_threshold
        self.post_process_top_k = post_process_top_k
        self.feature_extraction_interval = feature_extraction_interval
        if isinstance(loss_cls, Mapping) and dict(loss_cls) == {"type": "BMNLoss"}:
            loss_cls = None  # MMAction2's default spelled out
        self.loss_cls = BMNLoss() if loss_cls is None else built(loss_cls, "loss_cls")
        h1, h2, h3 = hidden_dim_1d, hidden_dim_2d, hidden_dim_3d
        self.hidden_dim_1d, self.hidden_dim_2d, self.hidden_dim_3d = h1, h2, h3

        mask = interp1d_sample_mask(temporal_dim, num_samples, num_samples_per_bin, boundary_ratio)
        # a frozen Parameter, as in MMAction2, so that its checkpoints' `sample_mask` loads
        self.sample_mask = nn.Parameter(
            torch.from_numpy(mask).reshape(temporal_dim, -1), requires_grad=False
        )
        # base, start / end (temporal evaluation), proposal evaluation
        self.x_1d_b = nn.Sequential(*_conv1d_relu(feat_dim, h1, 4), *_conv1d_relu(h1, h1, 4))
        self.x_1d_s = nn.Sequential(*_conv1d_relu(h1, h1, 4), nn.Conv1d(h1, 1, 1), nn.Sigmoid())
        self.x_1d_e = nn.Sequential(*_conv1d_relu(h1, h1, 4), nn.Conv1d(h1, 1, 1), nn.Sigmoid())
        self.x_1d_p = nn.Sequential(*_conv1d_relu(h1, h1))
        self.x_3d_p = nn.Sequential(
            nn.Conv3d(h1, h3, kernel_size=(num_samples, 1, 1)), nn.ReLU(inplace=True)
        )
        self.x_2d_p = nn.Sequential(
            nn.Conv2d(h3, h2, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(h2, h2, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(h2, h2, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(h2, 2, kernel_size=1),
            nn.Sigmoid(),
        )
        t = torch.arange(temporal_dim)
        # bm_mask[d, s] = 1 where the proposal (start s, d + 1 snippets) ends inside the video
        self.register_buffer("bm_mask", (t[:, None] + t[None, :] < temporal_dim).float())

    def init_weights(self) -> None:
        """From scratch (PyTorch's default initialisation), as MMAction2."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(N, C, T)`` features -> ``(confidence_map (N, 2, D, S), start (N, T), end (N, T))``."""
        if x.dim() != 3 or x.shape[1] != self.feat_dim or x.shape[2] != self.tscale:
            raise ValueError(
                f"BMN expects features (N, {self.feat_dim}, {self.tscale}) (feat_dim, "
                f"temporal_dim), got {tuple(x.shape)}"
            )
        base = self.x_1d_b(x)  # (N, h1, T)
        start = self.x_1d_s(base).squeeze(1)  # (N, T)
        end = self.x_1d_e(base).squeeze(1)  # (N, T)
        p = self.x_1d_p(base)  # (N, h1, T)
        p = torch.matmul(p, self.sample_mask)  # (N, h1, samples * D * S)
        p = p.reshape(p.shape[0], p.shape[1], self.num_samples, self.tscale, self.tscale)
        p = self.x_3d_p(p).squeeze(2)  # (N, h3, D, S)
        return self.x_2d_p(p), start, end  # (N, 2, D, S), (N, T), (N, T)

    # -- training -----------------------------------------------------------------------------
    def generate_labels(self, gt_bbox: Sequence[Tensor | np.ndarray]):
        """Targets of each video's ground-truth segments ``(g, 2)`` (0..1 of the featured part).

        Returns:
            ``(iou_map (N, D, S), start (N, T), end (N, T))`` float32: the best IoU of each
            proposal with a segment, and how much of each snippet's window (one snippet, centred)
            lies inside a 3-snippet zone around a segment's start / end.
        """
        t = self.tscale
        gap = 1.0 / t
        tmin = gap * np.arange(t, dtype=np.float64)
        # match map: proposal (d, s) = [s gap, s gap + (d + 1) gap] (MMAction2's float order)
        p_min = np.broadcast_to(tmin[None, :], (t, t))
        p_max = tmin[None, :] + gap * np.arange(1, t + 1, dtype=np.float64)[:, None]
        anchor_min = gap * (np.arange(t) - 0.5)
        anchor_max = gap * (np.arange(t) + 1.5)
        pad = 3 * gap
        iou_maps, starts, ends = [], [], []
        for boxes in gt_bbox:
            boxes = np.asarray(torch.as_tensor(boxes).detach().cpu(), dtype=np.float64)
            boxes = boxes.reshape(-1, 2)
            ious = temporal_iou(p_min[None], p_max[None], boxes[:, :1, None], boxes[:, 1:, None])
            iou_maps.append(ious.astype(np.float32).max(axis=0))
            zones = []
            for edge in (boxes[:, 0], boxes[:, 1]):
                lo, hi = edge - pad / 2, edge + pad / 2
                zones.append(temporal_iop(anchor_min[:, None], anchor_max[:, None], lo, hi).max(1))
            starts.append(zones[0])
            ends.append(zones[1])

        def stack(x):
            return torch.from_numpy(np.array(x)).float()

        return stack(iou_maps), stack(starts), stack(ends)

    def loss(self, outputs, gt_instances) -> dict[str, Tensor]:
        """MMAction2's loss dict ``{'loss': ...}`` of :meth:`forward`'s outputs.

        Args:
            outputs: What :meth:`forward` returned.
            gt_instances: Per video, its ``(g, 2)`` segments, or a dict with ``'gt_bbox'``.
        """
        confidence_map, start, end = outputs
        gt_bbox = [g["gt_bbox"] if isinstance(g, Mapping) else g for g in gt_instances]
        iou_map, gt_start, gt_end = (x.to(start.device) for x in self.generate_labels(gt_bbox))
        loss = self.loss_cls(confidence_map, start, end, iou_map, gt_start, gt_end, self.bm_mask)
        return {"loss": loss[0]}

    # -- testing ------------------------------------------------------------------------------
    def candidates(self, outputs, i: int = 0) -> np.ndarray:
        """Candidate proposals of video ``i``: ``(n, 7)`` ``[tmin, tmax, start score, end score,
        cls, reg, score]`` for each start peak x end peak pair, in MMAction2's order."""
        confidence_map, start, end = (o[i].detach().float().cpu().numpy() for o in outputs)
        t = self.tscale

        def peaks(s, always):
            # local maxima and scores above half the best; the first start / last end always
            bins = np.zeros(t, dtype=bool)
            mid = s[1:-1]
            bins[1:-1] = ((mid > s[2:]) & (mid > s[:-2])) | (mid > 0.5 * s.max())
            bins[always] = True
            return bins

        start_bins, end_bins = peaks(start, 0), peaks(end, -1)
        d, s = np.meshgrid(np.arange(t), np.arange(t), indexing="ij")  # MMAction2: d outer
        e = s + d + 1
        ok = (e < t) & start_bins[s] & end_bins[np.minimum(e, t - 1)]
        d, s, e = d[ok], s[ok], e[ok]
        tmin_score, tmax_score = start[s], end[e]
        cls, reg = confidence_map[1][d, s], confidence_map[0][d, s]
        rows = [s / t, e / t, tmin_score, tmax_score, cls, reg, tmin_score * tmax_score * cls * reg]
        return np.stack([np.asarray(r, dtype=np.float64) for r in rows], axis=1)

    def proposals(self, outputs, video_infos: Sequence[dict]) -> list[list[dict]]:
        """Each video's proposals after soft-NMS: ``[{'score', 'segment': [s, e]}]`` (seconds)."""
        return [
            post_processing(
                self.candidates(outputs, i),
                info,
                self.soft_nms_alpha,
                self.soft_nms_low_threshold,
                self.soft_nms_high_threshold,
                self.post_process_top_k,
                self.feature_extraction_interval,
            )
            for i, info in enumerate(video_infos)
        ]

    def results(self, outputs, gt_instances, metas: Sequence[dict]) -> list[dict]:
        """Per video: ``{'video_name', 'proposals': (p, 3) [start_s, end_s, score]}``, best
        first (the localization task's protocol)."""
        return [
            {"video_name": meta.get("video_name"), "proposals": proposal_array(listed)}
            for meta, listed in zip(metas, self.proposals(outputs, metas))
        ]
