"""SlowOnly (Feichtenhofer et al., 2019): SlowFast's slow pathway alone, and its variants.

MMAction2's ``ResNet3dSlowOnly`` is a ``ResNet3dPathway`` without lateral connections, which
is a ``ResNet3d`` with other defaults: a 1x7x7 stem, no temporal striding, only the last two
stages inflated (3x1x1) and no ``pool2``. The pathway arguments of MMAction2 are accepted;
``lateral`` must stay False. The variants are the configs of MMAction2's SlowOnly zoo
(``configs/recognition/slowonly``): ResNet-50/101, 4x16 and 8x8 sampling, embedded-Gaussian
non-local blocks, optical flow input, and the Kinetics-700/710 heads.
"""

from __future__ import annotations

from collections.abc import Sequence

from vidlab.models.i3d import recognizer3d
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.resnet3d import ResNet3d
from vidlab.models.variants import variant


class ResNet3dSlowOnly(ResNet3d):
    """SlowOnly backbone: ``ResNet3d`` with SlowOnly's defaults.

    Args:
        conv1_kernel: Stem conv kernel.
        conv1_stride_t: Stem conv temporal stride.
        pool1_stride_t: Stem max-pool temporal stride.
        inflate: Inflation per stage (only ``res4`` and ``res5`` by default).
        with_pool2: Halve time after the first stage.
        lateral: Lateral connections from a fast pathway; must be False here.
        lateral_inv: SlowFast pathway argument, unused without ``lateral``.
        lateral_norm: SlowFast pathway argument, unused without ``lateral``.
        speed_ratio: SlowFast pathway argument, unused without ``lateral``.
        channel_ratio: SlowFast pathway argument, unused without ``lateral``.
        fusion_kernel: SlowFast pathway argument, unused without ``lateral``.
        lateral_infl: SlowFast pathway argument, unused without ``lateral``.
        lateral_activate: SlowFast pathway argument, unused without ``lateral``.
        **kwargs: ``ResNet3d`` arguments (``depth``, ``pretrained``, ``non_local``, ...).
    """

    def __init__(
        self,
        conv1_kernel: Sequence[int] = (1, 7, 7),
        conv1_stride_t: int = 1,
        pool1_stride_t: int = 1,
        inflate: Sequence = (0, 0, 1, 1),
        with_pool2: bool = False,
        lateral: bool = False,
        lateral_inv: bool = False,
        lateral_norm: bool = False,
        speed_ratio: int = 8,
        channel_ratio: int = 8,
        fusion_kernel: int = 5,
        lateral_infl: int = 2,
        lateral_activate: Sequence[int] = (1, 1, 1, 1),
        **kwargs,
    ) -> None:
        if lateral:
            raise ValueError("ResNet3dSlowOnly has no lateral connections; use lateral=False")
        self.lateral = lateral
        self.lateral_inv = lateral_inv
        self.lateral_norm = lateral_norm
        self.speed_ratio = speed_ratio
        self.channel_ratio = channel_ratio
        self.fusion_kernel = fusion_kernel
        self.lateral_infl = lateral_infl
        self.lateral_activate = tuple(lateral_activate)
        super().__init__(
            conv1_kernel=conv1_kernel,
            conv1_stride_t=conv1_stride_t,
            pool1_stride_t=pool1_stride_t,
            inflate=inflate,
            with_pool2=with_pool2,
            **kwargs,
        )


# --- variants -------------------------------------------------------------------------------

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/slowonly/"

# configs/recognition/slowonly/*nl-embedded-gaussian*: non-local blocks in res3 and res4
SLOWONLY_NON_LOCAL = ((0, 0, 0), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 0, 0))
SLOWONLY_NON_LOCAL_CFG = dict(
    sub_sample=True,
    use_scale=True,
    norm_cfg=dict(type="BN3d", requires_grad=True),
    mode="embedded_gaussian",
)


def _slowonly(
    num_classes: int, depth: int = 50, pretrained: str | None = None, **kwargs
) -> Recognizer3D:
    """SlowOnly as ``configs/_base_/models/slowonly_r50.py`` builds it; ``kwargs`` go to the
    backbone. The head keeps MMAction2's I3DHead default ``init_std=0.01``."""
    backbone = ResNet3dSlowOnly(depth=depth, pretrained=pretrained, norm_eval=False, **kwargs)
    return recognizer3d(backbone, num_classes)


def _url(folder: str, name: str) -> str:
    return f"{_ZOO}{folder}/{name}.pth"


@variant(
    clip_shape=(3, 4, 256, 256),
    sampling=(4, 16, 10),
    url=_url(
        "slowonly_imagenet-pretrained-r50_8xb16-4x16x1-steplr-150e_kinetics400-rgb",
        "slowonly_imagenet-pretrained-r50_8xb16-4x16x1-steplr-150e_kinetics400-rgb_20220901-e7b65fad",
    ),
)
def slowonly_r50_4x16x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowOnly ResNet-50, 4 frames every 16th (ImageNet-initialized: 74.8 top-1 on K400;
    the from-scratch 256e weights of the same model are ``slowonly_r50_8xb16-4x16x1-256e``)."""
    return _slowonly(num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(8, 8, 10),
    url=_url(
        "slowonly_imagenet-pretrained-r50_8xb16-8x8x1-steplr-150e_kinetics400-rgb",
        "slowonly_imagenet-pretrained-r50_8xb16-8x8x1-steplr-150e_kinetics400-rgb_20220901-df42dc84",
    ),
)
def slowonly_r50_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowOnly ResNet-50, 8 frames every 8th (ImageNet-initialized: 76.0 top-1 on K400)."""
    return _slowonly(num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(8, 8, 10),
    url=_url(
        "slowonly_r101_8xb16-8x8x1-196e_kinetics400-rgb",
        "slowonly_r101_8xb16-8x8x1-196e_kinetics400-rgb_20220901-e6281431",
    ),
)
def slowonly_r101_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowOnly ResNet-101, 8 frames every 8th, from scratch (76.3 top-1 on K400)."""
    return _slowonly(num_classes, depth=101, **kwargs)


@variant(
    clip_shape=(3, 4, 256, 256),
    sampling=(4, 16, 10),
    url=_url(
        "slowonly_r50-in1k-pre-nl-embedded-gaussian_8xb16-4x16x1-steplr-150e_kinetics400-rgb",
        "slowonly_r50-in1k-pre-nl-embedded-gaussian_8xb16-4x16x1-steplr-150e_kinetics400-rgb_20220901-cf739c75",
    ),
)
def slowonly_r50_nl_embedded_gaussian_4x16x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowOnly ResNet-50 with 5 embedded-Gaussian non-local blocks, 4x16 (74.8 top-1)."""
    kwargs.setdefault("non_local", SLOWONLY_NON_LOCAL)
    kwargs.setdefault("non_local_cfg", SLOWONLY_NON_LOCAL_CFG)
    return _slowonly(num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(8, 8, 10),
    url=_url(
        "slowonly_r50-in1k-pre-nl-embedded-gaussian_8xb16-8x8x1-steplr-150e_kinetics400-rgb",
        "slowonly_r50-in1k-pre-nl-embedded-gaussian_8xb16-8x8x1-steplr-150e_kinetics400-rgb_20220901-df42dc84",
    ),
)
def slowonly_r50_nl_embedded_gaussian_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowOnly ResNet-50 with 5 embedded-Gaussian non-local blocks, 8x8 (76.4 top-1)."""
    kwargs.setdefault("non_local", SLOWONLY_NON_LOCAL)
    kwargs.setdefault("non_local_cfg", SLOWONLY_NON_LOCAL_CFG)
    return _slowonly(num_classes, **kwargs)


@variant(clip_shape=(2, 16, 256, 256), sampling=(16, 4, 10), mean=(128, 128), std=(128, 128))
def slowonly_r50_flow_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowOnly ResNet-50 on optical flow (2 channels, x and y), 16 frames every 4th (no
    published weights in MMAction2 1.x's metafile)."""
    kwargs.setdefault("in_channels", 2)
    backbone = ResNet3dSlowOnly(depth=50, norm_eval=False, **kwargs)
    return recognizer3d(backbone, num_classes, mean=(128, 128), std=(128, 128))


@variant(
    clip_shape=(3, 4, 256, 256),
    sampling=(4, 16, 10),
    num_classes=700,
    url=_url(
        "slowonly_imagenet-pretrained-r50_8xb16-4x16x1-steplr-150e_kinetics700-rgb",
        "slowonly_imagenet-pretrained-r50_16xb16-4x16x1-steplr-150e_kinetics700-rgb_20220901-f73b3e89",
    ),
)
def slowonly_r50_4x16x1_k700(num_classes: int = 700, **kwargs) -> Recognizer3D:
    """SlowOnly ResNet-50, 4x16, Kinetics-700 head (65.2 top-1)."""
    return _slowonly(num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(8, 8, 10),
    num_classes=700,
    url=_url(
        "slowonly_imagenet-pretrained-r50_8xb16-8x8x1-steplr-150e_kinetics700-rgb",
        "slowonly_imagenet-pretrained-r50_16xb16-8x8x1-steplr-150e_kinetics700-rgb_20220901-4098e1eb",
    ),
)
def slowonly_r50_8x8x1_k700(num_classes: int = 700, **kwargs) -> Recognizer3D:
    """SlowOnly ResNet-50, 8x8, Kinetics-700 head (66.9 top-1)."""
    return _slowonly(num_classes, **kwargs)


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(8, 8, 10),
    num_classes=710,
    url=_url(
        "slowonly_imagenet-pretrained-r50_32xb8-8x8x1-steplr-150e_kinetics710-rgb",
        "slowonly_imagenet-pretrained-r50_32xb8-8x8x1-steplr-150e_kinetics710-rgb_20230612-12ce977c",
    ),
)
def slowonly_r50_8x8x1_k710(num_classes: int = 710, **kwargs) -> Recognizer3D:
    """SlowOnly ResNet-50, 8x8, Kinetics-710 head (72.4 top-1)."""
    return _slowonly(num_classes, **kwargs)
