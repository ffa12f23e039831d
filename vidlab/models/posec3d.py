"""PoseC3D (Duan et al., 2022): a 3D CNN on stacks of keypoint heatmaps.

The pipeline turns keypoints into one Gaussian heatmap per joint (``keypoint``) or per limb
(``limb``) and frame (``GeneratePoseTarget``), packed as ``(K, T, H, W)``
(``FormatShape('NCTHW_Heatmap')``); the model is a plain ``Recognizer3D``: a slim
``ResNet3dSlowOnly`` (17 input channels, 32 base channels, three stages, no stem striding,
time halved only in the last stage) and an ``I3DHead``. MMAction2's configs set no
``data_preprocessor``: heatmaps go in as they are (float, no normalization). The variants are
``configs/skeleton/posec3d``: NTU-60 cross-subject and FineGYM (ResNet stages 4-6-3) and
Kinetics-400, HMDB-51 and UCF-101 (3-4-6), each with the published weights.
"""

from __future__ import annotations

from collections.abc import Sequence

from vidlab.models.heads.i3d import I3DHead
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.slowonly import ResNet3dSlowOnly
from vidlab.models.variants import variant

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/skeleton/posec3d/"


def posec3d_backbone(stage_blocks: Sequence[int] = (4, 6, 3), **kwargs) -> ResNet3dSlowOnly:
    """The heatmap SlowOnly of MMAction2's PoseC3D configs; ``kwargs`` override it."""
    cfg: dict = dict(
        depth=50,
        in_channels=17,
        base_channels=32,
        num_stages=3,
        out_indices=(2,),
        stage_blocks=tuple(stage_blocks),
        conv1_stride_s=1,
        pool1_stride_s=1,
        inflate=(0, 1, 1),
        spatial_strides=(2, 2, 2),
        temporal_strides=(1, 1, 2),
        dilations=(1, 1, 1),
    )
    cfg.update(kwargs)
    return ResNet3dSlowOnly(**cfg)


def _posec3d(num_classes: int, stage_blocks: Sequence[int], **kwargs) -> Recognizer3D:
    backbone = posec3d_backbone(stage_blocks, **kwargs)
    head = I3DHead(
        num_classes=num_classes,
        in_channels=512,
        spatial_type="avg",
        dropout_ratio=0.5,
        average_clips="prob",
    )
    return Recognizer3D(backbone=backbone, cls_head=head)


def _cfg(stem: str, num_classes: int) -> dict:
    return dict(
        clip_shape=(17, 48, 64, 64),  # 17 heatmaps, 48 frames, 64x64 (test: 10 clips)
        sampling=(48, 1, 10),
        num_classes=num_classes,
        mean=(0.0,),
        std=(1.0,),
        url=f"{_ZOO}{stem}/{stem}_{_STAMPS[stem]}.pth",
    )


_STAMPS = {
    "slowonly_r50_8xb16-u48-240e_ntu60-xsub-keypoint": "20220815-38db104b",
    "slowonly_r50_8xb16-u48-240e_ntu60-xsub-limb": "20220815-af2f119a",
    "slowonly_r50_8xb16-u48-240e_gym-keypoint": "20220815-da338c58",
    "slowonly_r50_8xb16-u48-240e_gym-limb": "20220815-2e6e3c5c",
    "slowonly_r50_8xb32-u48-240e_k400-keypoint": "20230731-7f498b55",
    "slowonly_kinetics400-pretrained-r50_8xb16-u48-120e_hmdb51-split1-keypoint": (
        "20220815-17eaa484"
    ),
    "slowonly_kinetics400-pretrained-r50_8xb16-u48-120e_ucf101-split1-keypoint": (
        "20220815-9972260d"
    ),
}


@variant(**_cfg("slowonly_r50_8xb16-u48-240e_ntu60-xsub-keypoint", 60))
def posec3d_r50_u48_ntu60_keypoint(num_classes: int = 60, **kwargs) -> Recognizer3D:
    """PoseC3D on joint heatmaps, NTU-60 cross-subject (93.6 top-1)."""
    return _posec3d(num_classes, (4, 6, 3), **kwargs)


@variant(**_cfg("slowonly_r50_8xb16-u48-240e_ntu60-xsub-limb", 60))
def posec3d_r50_u48_ntu60_limb(num_classes: int = 60, **kwargs) -> Recognizer3D:
    """PoseC3D on limb heatmaps, NTU-60 cross-subject."""
    return _posec3d(num_classes, (4, 6, 3), **kwargs)


@variant(**_cfg("slowonly_r50_8xb16-u48-240e_gym-keypoint", 99))
def posec3d_r50_u48_gym_keypoint(num_classes: int = 99, **kwargs) -> Recognizer3D:
    """PoseC3D on joint heatmaps, FineGYM (99 classes)."""
    return _posec3d(num_classes, (4, 6, 3), **kwargs)


@variant(**_cfg("slowonly_r50_8xb16-u48-240e_gym-limb", 99))
def posec3d_r50_u48_gym_limb(num_classes: int = 99, **kwargs) -> Recognizer3D:
    """PoseC3D on limb heatmaps, FineGYM (99 classes)."""
    return _posec3d(num_classes, (4, 6, 3), **kwargs)


@variant(**_cfg("slowonly_r50_8xb32-u48-240e_k400-keypoint", 400))
def posec3d_r50_u48_k400_keypoint(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """PoseC3D on joint heatmaps, Kinetics-400 (ResNet stages 3-4-6)."""
    return _posec3d(num_classes, (3, 4, 6), **kwargs)


@variant(**_cfg("slowonly_kinetics400-pretrained-r50_8xb16-u48-120e_hmdb51-split1-keypoint", 51))
def posec3d_r50_u48_hmdb51_keypoint(num_classes: int = 51, **kwargs) -> Recognizer3D:
    """PoseC3D on joint heatmaps, HMDB-51 split 1, fine-tuned from Kinetics-400."""
    return _posec3d(num_classes, (3, 4, 6), **kwargs)


@variant(**_cfg("slowonly_kinetics400-pretrained-r50_8xb16-u48-120e_ucf101-split1-keypoint", 101))
def posec3d_r50_u48_ucf101_keypoint(num_classes: int = 101, **kwargs) -> Recognizer3D:
    """PoseC3D on joint heatmaps, UCF-101 split 1, fine-tuned from Kinetics-400."""
    return _posec3d(num_classes, (3, 4, 6), **kwargs)
