"""RGBPoseConv3D (Duan et al., 2022, PoseC3D's two-stream model): an RGB and a heatmap
pathway with lateral connections both ways.

MMAction2's ``configs/skeleton/posec3d/rgbpose_conv3d/rgbpose_conv3d.py`` builds
``MMRecognizer3D(backbone=RGBPoseConv3D, cls_head=RGBPoseHead,
data_preprocessor=MultiModalDataPreprocessor)``. The RGB pathway is a SlowOnly ResNet-50 on
8 frames, the pose pathway the slim PoseC3D ResNet on 32 heatmap frames; after the pose
pathway's first two stages and the RGB pathway's second and third, each receives the other's
features (RGB from pose: a strided conv; pose from RGB: a transposed conv that upsamples
time). The head classifies each pathway (``fc_rgb``, ``fc_pose``) and MMAction2 reports both
scores and their fusions.

Unlike the single-input recognizers, ``MMRecognizer3D.forward(imgs, heatmap_imgs)`` takes one
tensor per modality (``(N, 3, T_rgb, H, W)`` pixels and ``(N, K, T_pose, h, w)`` heatmaps) and
returns ``{'rgb': logits, 'pose': logits}``; the loss is the weighted sum of the two
cross-entropies (``loss_components``, ``loss_weights``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.models._checks import built, frozen
from vidlab.models.heads.base import BaseHead
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import _merge
from vidlab.models.slowfast import ResNet3dPathway

RGB_PATHWAY = frozen(
    num_stages=4,
    lateral=True,
    lateral_infl=1,
    lateral_activate=(0, 0, 1, 1),
    fusion_kernel=7,
    base_channels=64,
    conv1_kernel=(1, 7, 7),
    inflate=(0, 0, 1, 1),
    with_pool2=False,
)
POSE_PATHWAY = frozen(
    num_stages=3,
    stage_blocks=(4, 6, 3),
    lateral=True,
    lateral_inv=True,
    lateral_infl=16,
    lateral_activate=(0, 1, 1),
    fusion_kernel=7,
    in_channels=17,
    base_channels=32,
    out_indices=(2,),
    conv1_kernel=(1, 7, 7),
    conv1_stride_s=1,
    conv1_stride_t=1,
    pool1_stride_s=1,
    pool1_stride_t=1,
    inflate=(0, 1, 1),
    spatial_strides=(2, 2, 2),
    temporal_strides=(1, 1, 1),
    dilations=(1, 1, 1),
    with_pool2=False,
)


class RGBPoseConv3D(nn.Module):
    """Two pathways, RGB (``rgb_path``) and heatmaps (``pose_path``), exchanging features.

    Args:
        pretrained: A whole-backbone checkpoint loaded by ``init_weights``.
        speed_ratio: Pose frames per RGB frame.
        channel_ratio: RGB channels per pose channel.
        rgb_detach: Stop gradients of the pose features fed to the RGB pathway.
        pose_detach: Stop gradients of the RGB features fed to the pose pathway.
        rgb_drop_path: Training-time probability of zeroing the pose features fed to RGB.
        pose_drop_path: Training-time probability of zeroing the RGB features fed to pose.
        rgb_pathway: ``ResNet3dPathway`` arguments of the RGB pathway.
        pose_pathway: ``ResNet3dPathway`` arguments of the pose pathway.
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        pretrained: str | None = None,
        speed_ratio: int = 4,
        channel_ratio: int = 4,
        rgb_detach: bool = False,
        pose_detach: bool = False,
        rgb_drop_path: float = 0.0,
        pose_drop_path: float = 0.0,
        rgb_pathway: Mapping = RGB_PATHWAY,
        pose_pathway: Mapping = POSE_PATHWAY,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if not (0 <= rgb_drop_path <= 1 and 0 <= pose_drop_path <= 1):
            raise ValueError("rgb_drop_path and pose_drop_path are probabilities in [0, 1]")
        self.pretrained = pretrained
        self.speed_ratio = speed_ratio
        self.channel_ratio = channel_ratio
        rgb_pathway, pose_pathway = dict(rgb_pathway), dict(pose_pathway)
        for pathway in (rgb_pathway, pose_pathway):
            if pathway.get("lateral"):
                pathway.update(speed_ratio=speed_ratio, channel_ratio=channel_ratio)
        self.rgb_path = ResNet3dPathway(**rgb_pathway)
        self.pose_path = ResNet3dPathway(**pose_pathway)
        self.rgb_detach = rgb_detach
        self.pose_detach = pose_detach
        self.rgb_drop_path = rgb_drop_path
        self.pose_drop_path = pose_drop_path

    def init_weights(self) -> LoadReport | None:
        """Load ``pretrained`` (a whole RGBPoseConv3D backbone or recognizer), if set."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained)

    def _lateral(self, path: nn.Module, name: str, feat: Tensor, detach: bool, drop: Tensor):
        """``path``'s lateral conv ``name`` on the other pathway's ``feat``, or None."""
        if not hasattr(path, name):
            return None
        out = getattr(path, name)(feat.detach() if detach else feat)
        return out * (~drop).to(out.dtype)  # dropped: zeros (MMAction2's new_zeros)

    def forward(self, imgs: Tensor, heatmap_imgs: Tensor) -> tuple[Tensor, Tensor]:
        """``(N, 3, T, H, W)`` pixels and ``(N, K, T*speed_ratio, H', W')`` heatmaps ->
        ``(rgb, pose)`` maps."""
        if self.training:  # one draw per batch, as MMAction2
            rgb_drop = torch.rand(1) < self.rgb_drop_path
            pose_drop = torch.rand(1) < self.pose_drop_path
        else:
            rgb_drop = pose_drop = torch.zeros(1, dtype=torch.bool)
        rgb, pose = self.rgb_path, self.pose_path
        x_rgb = rgb.maxpool(rgb.conv1(imgs))
        x_pose = pose.maxpool(pose.conv1(heatmap_imgs))
        x_rgb = rgb.layer2(rgb.layer1(x_rgb))
        x_pose = pose.layer1(x_pose)
        # stage by stage: (rgb stage, pose stage) = (layer2, layer1), then (layer3, layer2)
        for rgb_i, pose_i in ((2, 1), (3, 2)):
            to_rgb = self._lateral(rgb, f"layer{rgb_i}_lateral", x_pose, self.rgb_detach, rgb_drop)
            to_pose = self._lateral(
                pose, f"layer{pose_i}_lateral", x_rgb, self.pose_detach, pose_drop
            )
            if to_rgb is not None:
                x_rgb = torch.cat((x_rgb, to_rgb), dim=1)
            if to_pose is not None:
                x_pose = torch.cat((x_pose, to_pose), dim=1)
            x_rgb = getattr(rgb, f"layer{rgb_i + 1}")(x_rgb)
            x_pose = getattr(pose, f"layer{pose_i + 1}")(x_pose)
        return x_rgb, x_pose


class RGBPoseHead(BaseHead):
    """Pool each pathway, dropout, one classifier each: ``{'rgb': (N, K), 'pose': (N, K)}``.

    Args:
        num_classes: Number of classes.
        in_channels: Channels of the RGB and of the pose maps.
        loss_cls: Loss module; None: cross-entropy.
        loss_components: The scores that enter the loss (and the predictions).
        loss_weights: Weight of each component's loss (one float: all).
        dropout: Dropout before each classifier (a float, or ``{'rgb': p, 'pose': p}``).
        init_std: Std of the classifiers' weight init.
        **kwargs: ``BaseHead`` arguments (``average_clips``, ...).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: Sequence[int],
        loss_cls: nn.Module | None = None,
        loss_components: Sequence[str] = ("rgb", "pose"),
        loss_weights: float | Sequence[float] = 1.0,
        dropout: float | Mapping[str, float] = 0.5,
        init_std: float = 0.01,
        **kwargs,
    ) -> None:
        in_channels = tuple(in_channels)
        super().__init__(num_classes, in_channels[0], loss_cls=loss_cls, dropout_ratio=0, **kwargs)
        del self.fc_cls  # one classifier per pathway instead
        self.in_channels = in_channels
        if isinstance(dropout, (int, float)):
            dropout = {"rgb": float(dropout), "pose": float(dropout)}
        self.loss_components = tuple(loss_components)
        if isinstance(loss_weights, (int, float)):
            loss_weights = [float(loss_weights)] * len(self.loss_components)
        if len(loss_weights) != len(self.loss_components):
            raise ValueError(f"{len(self.loss_components)} loss_components, weights {loss_weights}")
        self.loss_weights = tuple(loss_weights)
        self.dropout = dict(dropout)
        self.init_std = init_std
        self.dropout_rgb = nn.Dropout(p=self.dropout["rgb"])
        self.dropout_pose = nn.Dropout(p=self.dropout["pose"])
        self.fc_rgb = nn.Linear(in_channels[0], num_classes)
        self.fc_pose = nn.Linear(in_channels[1], num_classes)
        self.avg_pool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.init_weights()

    def init_weights(self) -> None:
        """Normal(0, init_std) classifier weights, zero biases."""
        for fc in (getattr(self, "fc_rgb", None), getattr(self, "fc_pose", None)):
            if fc is not None:
                nn.init.normal_(fc.weight, 0, self.init_std)
                nn.init.zeros_(fc.bias)

    def reset_classifier(self, num_classes: int) -> None:
        """New, freshly initialized ``fc_rgb`` and ``fc_pose`` for ``num_classes`` classes."""
        ref = self.fc_rgb.weight
        self.fc_rgb = nn.Linear(self.in_channels[0], num_classes).to(ref.device, ref.dtype)
        self.fc_pose = nn.Linear(self.in_channels[1], num_classes).to(ref.device, ref.dtype)
        self.num_classes = num_classes
        self.init_weights()

    def pre_logits(self, x: tuple[Tensor, Tensor], num_segs=None) -> tuple[Tensor, Tensor]:
        """Pooled ``(N, C_rgb)`` and ``(N, C_pose)`` features."""
        return self.avg_pool(x[0]).flatten(1), self.avg_pool(x[1]).flatten(1)

    def forward(self, x: tuple[Tensor, Tensor], num_segs=None) -> dict[str, Tensor]:
        x_rgb, x_pose = self.pre_logits(x)
        return {
            "rgb": self.fc_rgb(self.dropout_rgb(x_rgb)),
            "pose": self.fc_pose(self.dropout_pose(x_pose)),
        }

    def loss(self, logits: Mapping[str, Tensor], labels: Tensor) -> dict[str, Tensor]:
        """``{'<component>_loss_cls': weight * loss}`` per component, as MMAction2."""
        return {
            f"{name}_loss_cls": weight * super(RGBPoseHead, self).loss(logits[name], labels)
            for name, weight in zip(self.loss_components, self.loss_weights)
        }


class MultiModalDataPreprocessor(nn.Module):
    """One ``ActionDataPreprocessor`` per modality (``imgs``, ``heatmap_imgs``).

    Args:
        preprocessors: Modality name -> built preprocessor.
    """

    def __init__(self, preprocessors: Mapping[str, nn.Module]) -> None:
        super().__init__()
        for name, module in preprocessors.items():
            built(module, f"MultiModalDataPreprocessor(preprocessors={{{name!r}: ...}})")
        self.preprocessors = nn.ModuleDict(dict(preprocessors))

    def forward(self, **inputs: Tensor) -> dict[str, Tensor]:
        return {name: self.preprocessors[name](x) for name, x in inputs.items()}


class MMRecognizer3D(nn.Module):
    """Multi-modal 3D recognizer: ``forward(imgs, heatmap_imgs) -> {'rgb': .., 'pose': ..}``.

    Args:
        backbone: ``RGBPoseConv3D``.
        cls_head: ``RGBPoseHead``.
        neck: Not supported (MMAction2's configs have none); must be None.
        train_cfg: Kept for MMAction2 config compatibility.
        test_cfg: Kept for MMAction2 config compatibility.
        data_preprocessor: ``MultiModalDataPreprocessor``; None: float casts only.
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    def __init__(
        self,
        backbone: nn.Module,
        cls_head: nn.Module | None = None,
        neck: nn.Module | None = None,
        train_cfg: dict | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: nn.Module | None = None,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if neck is not None:
            raise ValueError("MMRecognizer3D takes no neck")
        self.backbone = built(backbone, "MMRecognizer3D(backbone=...)")
        self.cls_head = built(cls_head, "MMRecognizer3D(cls_head=...)")
        self.data_preprocessor = built(data_preprocessor, "MMRecognizer3D(data_preprocessor=...)")
        self.train_cfg, self.test_cfg, self.init_cfg = train_cfg, test_cfg, init_cfg

    def forward_features(self, imgs: Tensor, heatmap_imgs: Tensor) -> tuple[Tensor, Tensor]:
        if self.data_preprocessor is not None:
            x = self.data_preprocessor(imgs=imgs, heatmap_imgs=heatmap_imgs)
            imgs, heatmap_imgs = x["imgs"], x["heatmap_imgs"]
        return self.backbone(imgs.float(), heatmap_imgs.float())

    def forward_head(self, features, pre_logits: bool = False):
        if pre_logits:
            return self.cls_head.pre_logits(features)
        return self.cls_head(features)

    def forward(self, imgs: Tensor, heatmap_imgs: Tensor) -> dict[str, Tensor]:
        return self.forward_head(self.forward_features(imgs, heatmap_imgs))

    @property
    def num_classes(self) -> int:
        return self.cls_head.num_classes

    def reset_classifier(self, num_classes: int) -> None:
        self.cls_head.reset_classifier(num_classes)

    def loss(self, logits: Mapping[str, Tensor], labels: Tensor) -> dict[str, Tensor]:
        return self.cls_head.loss(logits, labels)

    def average_views(self, logits: Mapping[str, Tensor], num_views: int) -> dict[str, Tensor]:
        """Each component's ``(B*V, K)`` -> ``(B, K)`` per ``cls_head.average_clips``."""
        mode = self.cls_head.average_clips
        return {
            name: _merge(logits[name].reshape(-1, num_views, logits[name].shape[-1]), mode)
            for name in self.cls_head.loss_components
        }


__all__ = ["MMRecognizer3D", "MultiModalDataPreprocessor", "RGBPoseConv3D", "RGBPoseHead"]
