"""CSN (Tran et al., 2019): channel-separated 3D ResNets, and their named variants.

MMAction2's ``ResNet3dCSN``: a ``ResNet3d`` whose bottlenecks factorize the 3x3x3 conv into a
depthwise one: ``'ir'`` (interaction-reduced) keeps only the depthwise 3x3x3 conv
(``conv2.0``), ``'ip'`` (interaction-preserved) puts a 1x1x1 conv before it (``conv2.0`` the
1x1x1, ``conv2.1`` the depthwise). BatchNorm ``eps=1e-3``, temporal strides in every stage
but the first, and no ``pool2`` in the zoo's configs. ``bn_frozen`` with ``norm_eval`` also
stops the BatchNorm affine parameters from training (the zoo fine-tunes IG-65M and Sports-1M
weights this way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn as nn

from vidlab.models._checks import frozen
from vidlab.models.i3d import recognizer3d
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.resnet3d import Bottleneck3d, ResNet3d
from vidlab.models.variants import variant

_BatchNorm = nn.modules.batchnorm._BatchNorm


class CSNBottleneck3d(Bottleneck3d):
    """``Bottleneck3d`` with a channel-separated ``conv2`` (an ``nn.Sequential``).

    Args:
        inplanes: Input channels.
        planes: Bottleneck channels.
        *args: ``Bottleneck3d`` arguments.
        bottleneck_mode: ``'ir'`` (depthwise conv only) or ``'ip'`` (1x1x1 conv, then
            depthwise).
        **kwargs: ``Bottleneck3d`` arguments.
    """

    def __init__(self, inplanes: int, planes: int, *args, bottleneck_mode: str = "ir", **kwargs):
        super().__init__(inplanes, planes, *args, **kwargs)
        if bottleneck_mode not in ("ir", "ip"):
            raise ValueError(f"bottleneck_mode must be 'ir' or 'ip', got {bottleneck_mode!r}")
        self.bottleneck_mode = bottleneck_mode
        dense = self.conv2.conv  # the 3x3x3 conv that Bottleneck3d built, replaced below
        layers = []
        if bottleneck_mode == "ip":
            layers.append(
                ConvModule(
                    planes,
                    planes,
                    1,
                    bias=False,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=None,
                )
            )
        layers.append(
            ConvModule(
                planes,
                planes,
                dense.kernel_size,
                stride=dense.stride,
                padding=dense.padding,
                dilation=dense.dilation,
                groups=planes,
                bias=dense.bias is not None,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg,
            )
        )
        self.conv2 = nn.Sequential(*layers)


class ResNet3dCSN(ResNet3d):
    """ResNet backbone for CSN (depth 50, 101 or 152).

    Args:
        depth: 50, 101 or 152.
        pretrained: Weights loaded by ``init_weights``.
        temporal_strides: Temporal stride of each stage's first block.
        conv1_kernel: Stem conv kernel.
        conv1_stride_t: Stem conv temporal stride.
        pool1_stride_t: Stem max-pool temporal stride.
        norm_cfg: Norm layer spec (``eps=1e-3`` as the Caffe2 originals).
        inflate_style: ``'3x3x3'``: the second conv of each block is 3x3x3.
        bottleneck_mode: ``'ir'`` or ``'ip'`` (see :class:`CSNBottleneck3d`).
        bn_frozen: With ``norm_eval``, also freeze BatchNorm weights and biases while training.
        **kwargs: ``ResNet3d`` arguments.
    """

    arch_settings = {
        50: (CSNBottleneck3d, (3, 4, 6, 3)),
        101: (CSNBottleneck3d, (3, 4, 23, 3)),
        152: (CSNBottleneck3d, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        depth: int,
        pretrained: str | None,
        temporal_strides: Sequence[int] = (1, 2, 2, 2),
        conv1_kernel: Sequence[int] = (3, 7, 7),
        conv1_stride_t: int = 1,
        pool1_stride_t: int = 1,
        norm_cfg: Mapping = frozen(type="BN3d", requires_grad=True, eps=1e-3),
        inflate_style: str = "3x3x3",
        bottleneck_mode: str = "ir",
        bn_frozen: bool = False,
        **kwargs,
    ) -> None:
        if bottleneck_mode not in ("ip", "ir"):
            raise ValueError(f"bottleneck_mode must be 'ip' or 'ir', got {bottleneck_mode!r}")
        self.bottleneck_mode = bottleneck_mode
        self.bn_frozen = bn_frozen
        super().__init__(
            depth,
            pretrained,
            temporal_strides=temporal_strides,
            conv1_kernel=conv1_kernel,
            conv1_stride_t=conv1_stride_t,
            pool1_stride_t=pool1_stride_t,
            norm_cfg=norm_cfg,
            inflate_style=inflate_style,
            **kwargs,
        )

    def _block_kwargs(self) -> dict:
        return {"bottleneck_mode": self.bottleneck_mode}

    def train(self, mode: bool = True):
        """As ``ResNet3d.train``; with ``norm_eval`` and ``bn_frozen`` BatchNorm parameters
        get no gradients either."""
        super().train(mode)
        if mode and self.norm_eval and self.bn_frozen:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    for p in m.parameters():
                        p.requires_grad = False
        return self


# --- variants -------------------------------------------------------------------------------

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/csn/"


def _csn(num_classes: int, depth: int, mode: str, pretrained: str | None = None, **kwargs):
    """CSN as ``configs/_base_/models/ircsn_r152.py`` with the zoo's fine-tuning settings
    (``norm_eval`` and ``bn_frozen``); ``kwargs`` go to the backbone."""
    cfg: dict = dict(
        pretrained2d=False,
        with_pool2=False,
        bottleneck_mode=mode,
        norm_eval=True,
        bn_frozen=True,
        zero_init_residual=False,
    )
    cfg.update(kwargs)
    return recognizer3d(ResNet3dCSN(depth, pretrained, **cfg), num_classes)


def _url(config: str, stamp: str) -> str:
    return f"{_ZOO}{config}/{config}_{stamp}.pth"


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url(
        "ircsn_ig65m-pretrained-r152-bnfrozen_8xb12-32x2x1-58e_kinetics400-rgb", "20220811-7d1dacde"
    ),
)
def csn_ir_r152_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """irCSN-152, 32 frames every 2nd, IG-65M pretrained, frozen BN (Kinetics-400: 82.8)."""
    return _csn(num_classes, 152, "ir", **kwargs)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url="https://download.openmmlab.com/mmaction/recognition/csn/vmz/"
    "vmz_ipcsn_ig65m_pretrained_r152_32x2x1_58e_kinetics400_rgb_20210617-c3be9793.pth",
)
def csn_ip_r152_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """ipCSN-152, 32 frames every 2nd, IG-65M pretrained, frozen BN (Kinetics-400: 82.7)."""
    return _csn(num_classes, 152, "ip", **kwargs)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url(
        "ircsn_ig65m-pretrained-r50-bnfrozen_8xb12-32x2x1-58e_kinetics400-rgb", "20220811-44395bae"
    ),
)
def csn_ir_r50_32x2x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """irCSN-50, 32 frames every 2nd, IG-65M pretrained, frozen BN (Kinetics-400: 79.4)."""
    return _csn(num_classes, 50, "ir", **kwargs)
