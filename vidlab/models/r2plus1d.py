"""R(2+1)D (Tran et al., 2018): 3D ResNets with factorized (2+1)D convs, and their variants.

MMAction2's ``ResNet2Plus1d`` is a ``ResNet3d`` built with ``conv_cfg=dict(type='Conv2plus1d')``
(``vidlab.models.layers.conv2plus1d``: keys ``conv1.conv.conv_s.weight``,
``conv1.conv.bn_s.*``, ``conv1.conv.conv_t.weight``, then the block's ``conv1.bn.*``). Its
forward always runs the stem max-pool, never ``pool2``, and returns the last stage only. The
zoo's configs use ``SyncBN`` (eps 1e-3), which ``vidlab.compat.layers`` maps to
``nn.SyncBatchNorm`` (plain BatchNorm when not distributed); the named variants use
``BatchNorm3d`` with the same eps, which holds the same state dict.
"""

from __future__ import annotations

from torch import Tensor

from vidlab.models.i3d import recognizer3d
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.resnet3d import ResNet3d
from vidlab.models.variants import variant


class ResNet2Plus1d(ResNet3d):
    """ResNet (2+1)D backbone: ``ResNet3d`` arguments; ``conv_cfg`` must be
    ``dict(type='Conv2plus1d')`` and ``pretrained2d`` False (2D kernels cannot be inflated
    into factorized convs).

    Args:
        *args: ``ResNet3d`` arguments.
        **kwargs: ``ResNet3d`` arguments.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.pretrained2d:
            raise ValueError("ResNet2Plus1d cannot inflate 2D weights; set pretrained2d=False")
        if self.conv_cfg is None or self.conv_cfg.get("type") != "Conv2plus1d":
            raise ValueError(
                f"ResNet2Plus1d needs conv_cfg=dict(type='Conv2plus1d'), got {self.conv_cfg!r}"
            )

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))  # (N, 64, T, H/4, W/4)
        for name in self.res_layers:  # no pool2 in R(2+1)D
            x = getattr(self, name)(x)
        return x  # (N, 512, T/8, H/32, W/32)


# --- variants -------------------------------------------------------------------------------

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/r2plus1d/"


def _r2plus1d(num_classes: int, pretrained: str | None = None, **kwargs) -> Recognizer3D:
    """R(2+1)D-34 as ``configs/_base_/models/r2plus1d_r34.py``, with BatchNorm3d for SyncBN;
    ``kwargs`` go to the backbone."""
    cfg: dict = dict(
        depth=34,
        pretrained=pretrained,
        pretrained2d=False,
        norm_eval=False,
        conv_cfg=dict(type="Conv2plus1d"),
        norm_cfg=dict(type="BN3d", requires_grad=True, eps=1e-3),
        conv1_kernel=(3, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        inflate=(1, 1, 1, 1),
        spatial_strides=(1, 2, 2, 2),
        temporal_strides=(1, 2, 2, 2),
        zero_init_residual=False,
    )
    cfg.update(kwargs)
    return recognizer3d(ResNet2Plus1d(**cfg), num_classes, in_channels=512)


def _url(config: str, stamp: str) -> str:
    return f"{_ZOO}{config}/{config}_{stamp}.pth"


@variant(
    clip_shape=(3, 8, 256, 256),
    sampling=(8, 8, 10),
    url=_url("r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb", "20220812-47cfe041"),
)
def r2plus1d_r34_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """R(2+1)D-34, 8 frames every 8th, from scratch (Kinetics-400: 69.8 top-1)."""
    return _r2plus1d(num_classes, **kwargs)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url("r2plus1d_r34_8xb8-32x2x1-180e_kinetics400-rgb", "20220812-4270588c"),
)
def r2plus1d_r34_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """R(2+1)D-34, 32 frames every 2nd, from scratch (Kinetics-400: 75.5 top-1)."""
    return _r2plus1d(num_classes, **kwargs)
