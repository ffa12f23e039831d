"""TCANet, the Temporal Context Aggregation Network (Qing et al., CVPR 2021): refines given
proposals with local-global temporal encoders and three boundary regressors; MMAction2's
``TCANet`` (same arguments and state-dict keys, incl. the mmcv attention/FFN layouts).

Input: features ``(N, C, T)``; each video's targets carry ``proposals`` ``(p, 3)`` ``[tmin,
tmax, score]`` (relative to the featured part, e.g. BMN's output; MMAction2 reads them from the
annotation file's ``proposals`` field) and, for training, ``gt_bbox``. :meth:`TCANet.forward`
gives the encoded features ``(N, 512, T)``; three ``TBR`` stages (IoU thresholds 0.5, 0.6, 0.7)
each regress the proposals' start/end and centre/width from features sampled over the
proposal and its boundary regions, and predict their IoU.

One difference from MMAction2 1.2.0, on purpose: its ``predict`` reads the proposal scores
through a view of the tensor whose score column it then overwrites with the batch index, so
every final score there is ``0 * iou`` (= 0) and soft-NMS ranks arbitrarily. vidlab multiplies
the refined IoU with the proposals' own scores, as the original TCANet does. Segments and IoU
predictions are MMAction2's (fixture).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.models.proposals import post_processing, proposal_array

__all__ = ["TCANet"]

HIDDEN = 512


class _Attention(nn.Module):
    """mmcv's ``MultiheadAttention`` layout: ``attn`` (torch's), projection dropout, residual."""

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float, proj_drop: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor, attn_mask: Tensor) -> Tensor:  # x: (L, N, C)
        out = self.attn(x, x, x, attn_mask=attn_mask, need_weights=False)[0]
        return x + self.proj_drop(out)


class _FFN(nn.Module):
    """mmcv's ``FFN`` layout: ``layers.0.0`` Linear, ReLU, Dropout; ``layers.1`` Linear;
    residual."""

    def __init__(self, embed_dims: int, hidden: int, drop: float):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, hidden), nn.ReLU(inplace=True), nn.Dropout(drop)),
            nn.Linear(hidden, embed_dims),
            nn.Dropout(drop),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


class LGTE(nn.Module):
    """Local-global temporal encoder: self-attention where the first half of the heads see
    only a window of ``window_size`` snippets around each position, then an FFN."""

    def __init__(
        self,
        input_dim: int,
        dropout: float,
        temporal_dim: int = 100,
        window_size: int = 9,
        num_heads: int = 8,
    ):
        super().__init__()
        self.num_heads = num_heads
        self.atten = _Attention(input_dim, num_heads, attn_drop=0.1, proj_drop=dropout)
        self.ffn = _FFN(input_dim, 256, dropout)
        self.norm1 = nn.LayerNorm(input_dim, eps=1e-6)
        self.norm2 = nn.LayerNorm(input_dim, eps=1e-6)
        t = torch.arange(temporal_dim)
        local = (t[None, :] - t[:, None]).abs() > window_size / 2  # True: not attended
        mask = torch.zeros(num_heads, temporal_dim, temporal_dim, dtype=torch.bool)
        mask[: num_heads // 2] = local
        self.register_buffer("mask", mask.unsqueeze(0))  # (1, heads, T, T)

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(2, 0, 1)  # (T, N, C)
        length = x.shape[0]
        mask = self.mask.expand(x.shape[1], -1, -1, -1).reshape(-1, length, length)
        x = self.norm1(self.atten(x, mask))
        x = self.norm2(self.ffn(x))
        return x.permute(1, 2, 0)  # (N, C, T)


def _start_end_regressor(sample_num: int, feat_dim: int) -> nn.Sequential:
    h = 128 * 2
    return nn.Sequential(
        nn.Conv1d(feat_dim * 2, h, kernel_size=3, padding=1, groups=8, stride=2),
        nn.ReLU(inplace=True),
        nn.Conv1d(h, h, kernel_size=3, padding=1, groups=8, stride=2),
        nn.ReLU(inplace=True),
        nn.Conv1d(h, 2, kernel_size=sample_num // 4, groups=2),
        nn.Flatten(),
    )


def _centre_width_regressor(temporal_len: int, feat_dim: int) -> nn.Sequential:
    h = 512
    return nn.Sequential(
        nn.Conv1d(feat_dim, h, kernel_size=3, padding=1, groups=4, stride=2),
        nn.ReLU(inplace=True),
        nn.Conv1d(h, h, kernel_size=3, padding=1, groups=4, stride=2),
        nn.ReLU(inplace=True),
        nn.Conv1d(h, h, kernel_size=temporal_len // 4, groups=4),
        nn.ReLU(inplace=True),
        nn.Conv1d(h, 3, kernel_size=1),
    )


def _sample(segments: Tensor, out_len: int, features: Tensor) -> Tensor:
    """``out_len`` linearly interpolated feature columns over each segment (0..1, clamped)."""
    seg = segments.clamp(0, 1) * 2 - 1
    theta = seg.new_zeros((features.shape[0], 2, 3))
    theta[:, 1, 1] = 1.0
    theta[:, 0, 0] = (seg[:, 1] - seg[:, 0]) / 2.0
    theta[:, 0, 2] = (seg[:, 1] + seg[:, 0]) / 2.0
    grid = F.affine_grid(theta, [*features.shape[:2], 1, out_len], align_corners=False)
    out = F.grid_sample(features.unsqueeze(2), grid, align_corners=False)
    return out.view(*features.shape[:2], out_len)


def _iou(proposals: Tensor, gt: Tensor) -> Tensor:
    length = proposals[:, 1] - proposals[:, 0]
    inter = torch.clamp(
        torch.min(proposals[:, 1], gt[:, 1]) - torch.max(proposals[:, 0], gt[:, 0]), min=0.0
    )
    return inter / (length - inter + gt[:, 1] - gt[:, 0] + 0.00001)


def _xw_inverse(boxes: Tensor, deltas: Tensor, dx_w: float, dw_w: float) -> Tensor:
    widths = boxes[:, 1] - boxes[:, 0]
    centre = boxes[:, 0] + 0.5 * widths
    pred_centre = deltas[:, 0] * dx_w * widths + centre
    pred_width = torch.exp(deltas[:, 1] * dw_w) * widths
    return torch.stack([pred_centre - 0.5 * pred_width, pred_centre + 0.5 * pred_width], dim=1)


def _xw_targets(rois: Tensor, gt: Tensor) -> Tensor:
    widths = torch.clamp(rois[:, 1] - rois[:, 0], min=0.00001)
    centre = rois[:, 0] + 0.5 * widths
    gt_widths = torch.clamp(gt[:, 1] - gt[:, 0], min=0.00001)
    gt_centre = gt[:, 0] + 0.5 * gt_widths
    return torch.stack(((gt_centre - centre) / widths, torch.log(gt_widths / widths)), dim=1)


def _se_targets(rois: Tensor, gt: Tensor) -> Tensor:
    widths = torch.clamp(rois[:, 1] - rois[:, 0], min=0.00001)
    return torch.stack(((gt[:, 0] - rois[:, 0]) / widths, (gt[:, 1] - rois[:, 1]) / widths), 1)


def _se_inverse(boxes: Tensor, deltas: Tensor, dse_w: float) -> Tensor:
    widths = boxes[:, 1] - boxes[:, 0]
    start = boxes[:, 0] + deltas[:, 0] * widths * dse_w
    end = boxes[:, 1] + deltas[:, 1] * widths * dse_w
    return torch.stack([start, end], dim=1)


class TBR(nn.Module):
    """One boundary-regression stage: start/end and centre/width deltas and an IoU estimate."""

    def __init__(
        self,
        se_sample_num: int,
        action_sample_num: int,
        temporal_dim: int,
        prop_boundary_ratio: float = 0.5,
    ):
        super().__init__()
        self.se_sample_num, self.action_sample_num = se_sample_num, action_sample_num
        self.prop_boundary_ratio = prop_boundary_ratio
        self.reg1se = _start_end_regressor(se_sample_num, HIDDEN)
        self.reg1xw = _centre_width_regressor(se_sample_num * 2 + action_sample_num, HIDDEN)

    def forward(
        self,
        proposals: Tensor,
        features: Tensor,
        gt_boxes: Tensor | None,
        iou_thres: float,
        training: bool,
    ):
        boxes = proposals[:, :2]
        length = boxes[:, 1] - boxes[:, 0]
        r = self.prop_boundary_ratio
        starts = torch.stack([boxes[:, 0] - r * length, boxes[:, 0]], dim=1)
        ends = torch.stack([boxes[:, 1], boxes[:, 1] + r * length], dim=1)
        start_feat = _sample(starts, self.se_sample_num, features)
        end_feat = _sample(ends, self.se_sample_num, features)
        action_feat = _sample(boxes, self.action_sample_num, features)
        reg_se = self.reg1se(torch.cat([start_feat, end_feat], dim=1))  # (P, 2)
        reg_xw = self.reg1xw(torch.cat([start_feat, action_feat, end_feat], dim=2)).squeeze(2)
        pred_iou = reg_xw[:, 2].sigmoid()
        reg_xw = reg_xw[:, :2]
        refined_xw = _xw_inverse(boxes, reg_xw, 0.1, 0.2)
        refined_se = _se_inverse(boxes, reg_se, 1.0 if training else 0.2)
        refined = torch.clamp((refined_se + refined_xw) / 2.0, min=0.0)
        if not training:
            return pred_iou, refined, 0, 0
        iou = _iou(boxes, gt_boxes)
        reg_loss = self.regress_loss(reg_se, _se_targets(boxes, gt_boxes), iou, iou_thres)
        reg_loss = reg_loss + self.regress_loss(
            reg_xw, _xw_targets(boxes, gt_boxes), iou, iou_thres
        )
        return pred_iou, refined, reg_loss, self.iou_loss(pred_iou, iou, iou_thres)

    @staticmethod
    def regress_loss(regression, targets, iou, iou_thres):
        weight = (iou >= iou_thres).float().unsqueeze(1)
        loss = (weight * F.smooth_l1_loss(regression, targets, reduction="none")).sum()
        return loss / weight.sum() if weight.sum() > 0 else loss

    @staticmethod
    def iou_loss(pred_iou, match_iou, iou_thres):
        """Smooth-L1 on the IoU over all high-IoU proposals and random medium/low ones
        (``torch.rand``, twice, MMAction2's order)."""
        pred_iou = pred_iou.view(-1)
        u_h = (match_iou > iou_thres).float()
        u_m = ((match_iou <= iou_thres) & (match_iou > 0.3)).float()
        u_l = (match_iou <= 0.3).float()
        n = len(u_h)
        keep_m = torch.rand(n, device=u_h.device) * u_m > 1.0 - (u_h.sum() / u_m.sum()).clamp(max=1)
        keep_l = torch.rand(n, device=u_h.device) * u_l > 1.0 - (u_h.sum() / u_l.sum()).clamp(max=1)
        weights = u_h + keep_m.float() + keep_l.float()
        loss = (F.smooth_l1_loss(pred_iou, match_iou, reduction="none") * weights).sum()
        return loss / weights.sum() if weights.sum() > 0 else loss


class TCANet(nn.Module):
    """MMAction2's ``TCANet``.

    Args:
        feat_dim: ``C`` of the input features.
        se_sample_num: Samples of each boundary region.
        action_sample_num: Samples of the proposal itself.
        temporal_dim: ``T``.
        window_size: Window of the local attention heads.
        lgte_num: Number of local-global encoders.
        soft_nms_alpha, soft_nms_low_threshold, soft_nms_high_threshold: Soft-NMS settings.
        post_process_top_k: Proposals kept per video.
        feature_extraction_interval: Frames per feature snippet (to convert to seconds).
        init_cfg: MMEngine's, accepted (PyTorch's default initialisation, as MMAction2).
    """

    def __init__(
        self,
        feat_dim: int = 2304,
        se_sample_num: int = 32,
        action_sample_num: int = 64,
        temporal_dim: int = 100,
        window_size: int = 9,
        lgte_num: int = 2,
        soft_nms_alpha: float = 0.4,
        soft_nms_low_threshold: float = 0.0,
        soft_nms_high_threshold: float = 0.0,
        post_process_top_k: int = 100,
        feature_extraction_interval: int = 16,
        init_cfg: Mapping | None = None,
    ):
        super().__init__()
        self.feat_dim, self.temporal_dim = feat_dim, temporal_dim
        self.soft_nms_alpha = soft_nms_alpha
        self.soft_nms_low_threshold = soft_nms_low_threshold
        self.soft_nms_high_threshold = soft_nms_high_threshold
        self.post_process_top_k = post_process_top_k
        self.feature_extraction_interval = feature_extraction_interval
        self.x_1d_b_f = nn.Sequential(
            nn.Conv1d(feat_dim, HIDDEN, kernel_size=3, padding=1, groups=4),
            nn.ReLU(inplace=True),
            nn.Conv1d(HIDDEN, HIDDEN, kernel_size=3, padding=1, groups=4),
            nn.ReLU(inplace=True),
        )
        for i in (1, 2, 3):
            setattr(self, f"tbr{i}", TBR(se_sample_num, action_sample_num, temporal_dim))
        self.lgtes = nn.ModuleList(
            LGTE(HIDDEN, 0.1, temporal_dim, window_size) for _ in range(lgte_num)
        )

    def init_weights(self) -> None:
        """PyTorch's default initialisation, as MMAction2."""

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, T)`` features -> ``(N, 512, T)`` encoded features."""
        if x.dim() != 3 or x.shape[1] != self.feat_dim or x.shape[2] != self.temporal_dim:
            raise ValueError(
                f"TCANet expects features (N, {self.feat_dim}, {self.temporal_dim}) (feat_dim, "
                f"temporal_dim), got {tuple(x.shape)}"
            )
        x = self.x_1d_b_f(x)
        for layer in self.lgtes:
            x = layer(x)
        return x

    @staticmethod
    def _flatten(features: Tensor, proposals: Sequence[Tensor]):
        """All videos' proposals as rows ``[tmin, tmax, video]`` (all-zero padding rows dropped,
        as MMAction2), their scores and each row's video features."""
        n, count = len(proposals), max(p.shape[0] for p in proposals)
        padded = features.new_zeros((n, count, 3))
        for i, p in enumerate(proposals):
            padded[i, : p.shape[0]] = p.to(padded)
        scores = padded[:, :, 2].clone()
        padded[:, :, 2] = torch.arange(n, device=padded.device, dtype=padded.dtype)[:, None]
        rows = padded.view(n * count, 3)
        keep = rows[:, :2].sum(dim=1) > 0
        rows = rows[keep]
        return rows, scores.view(-1)[keep], features[rows[:, 2].long()], keep, count

    def loss(self, features: Tensor, gt_instances) -> dict[str, Tensor]:
        """MMAction2's ``rloss1..3`` and ``iloss1..3`` (boundary regression, IoU) terms."""
        proposals = [g["proposals"] for g in gt_instances]
        rows, _, feats, keep, count = self._flatten(features, proposals)
        gt = features.new_zeros((len(proposals), count, 2))
        for i, g in enumerate(gt_instances):
            boxes = g["gt_bbox"].to(gt)
            if len(boxes) <= count:
                gt[i, : len(boxes)] = boxes
            else:  # more segments than proposals: a random subset, as MMAction2
                gt[i] = boxes[torch.randperm(len(boxes))[:count]]
        gt = gt.view(-1, 2)[keep]
        _, p1, r1, i1 = self.tbr1(rows, feats, gt, 0.5, True)
        _, p2, r2, i2 = self.tbr2(p1, feats, gt, 0.6, True)
        _, _, r3, i3 = self.tbr3(p2, feats, gt, 0.7, True)
        return dict(rloss1=r1, rloss2=r2, rloss3=r3, iloss1=i1, iloss2=i2, iloss3=i3)

    def refine(self, features: Tensor, gt_instances) -> Tensor:
        """The three stages' refined proposals ``(3 P, 3)`` ``[tmin, tmax, score x IoU]``."""
        rows, scores, feats, _, _ = self._flatten(features, [g["proposals"] for g in gt_instances])
        iou1, p1 = self.tbr1(rows, feats, None, 0.5, False)[:2]
        iou2, p2 = self.tbr2(p1, feats, None, 0.6, False)[:2]
        iou3, p3 = self.tbr3(p2, feats, None, 0.7, False)[:2]
        return torch.cat(
            [
                torch.cat([p, (scores * iou).view(-1, 1)], dim=1)
                for p, iou in ((p1, iou1), (p2, iou2), (p3, iou3))
            ]
        )

    def results(self, features: Tensor, gt_instances, metas: Sequence[dict]) -> list[dict]:
        """``[{'video_name', 'proposals': (p, 3)}]`` for the one video of ``features``."""
        refined = self.refine(features, gt_instances).detach().cpu().numpy()
        listed = post_processing(
            refined,
            metas[0],
            self.soft_nms_alpha,
            self.soft_nms_low_threshold,
            self.soft_nms_high_threshold,
            self.post_process_top_k,
            self.feature_extraction_interval,
        )
        return [{"video_name": metas[0].get("video_name"), "proposals": proposal_array(listed)}]
