"""SlowFast (Feichtenhofer et al., 2019): two 3D ResNets on one clip, and its named variants.

MMAction2's ``ResNet3dSlowFast`` reads a clip ``(N, C, T, H, W)`` twice: the slow pathway every
``resample_rate``-th frame (tau), the fast pathway ``speed_ratio`` (alpha) times as many frames
with ``channel_ratio`` (1/beta) as many channels. After the stem and after each stage but the
last, a lateral connection (a ``fusion_kernel`` x1x1 conv, temporal stride ``speed_ratio``)
maps the fast features onto the slow frame rate, and they are concatenated to the slow ones:
the slow pathway's stages take ``lateral_inplanes`` more input channels. The backbone returns
``(slow, fast)`` feature maps; :class:`~vidlab.models.heads.slowfast.SlowFastHead` pools and
concatenates them.

Each pathway is a :class:`ResNet3dPathway`, vidlab's ``ResNet3d`` plus the lateral convs
(``conv1_lateral``, ``layer{i}_lateral``), keys as MMAction2's (``backbone.slow_path.*``,
``backbone.fast_path.*``). A 2D ImageNet ResNet inflates into a pathway as MMAction2 does it
(:func:`inflate_2d_pathway`): the extra input channels of a stage fed by a lateral connection
get zero weights, and the lateral convs keep their init. The variants are the configs of
MMAction2's SlowFast zoo (``configs/recognition/slowfast``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.models._checks import frozen
from vidlab.models.heads.slowfast import SlowFastHead
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.resnet import _torchvision_name
from vidlab.models.resnet3d import ResNet3d, inflate_2d
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant


class DeConvModule(nn.Module):
    """Transposed conv, BatchNorm, ReLU: the upsampling lateral of ``lateral_inv`` pathways.

    The output is exactly ``stride`` times the input in each dimension (``output_size`` is
    passed to the transposed conv). Keys ``conv.weight``, ``bn.*`` as MMAction2's.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Kernel ``(t, h, w)``.
        stride: Upsampling factor ``(t, h, w)``.
        padding: Padding ``(t, h, w)``.
        bias: A bias in the transposed conv.
        with_bn: Apply ``bn`` (it exists either way, as in MMAction2).
        with_relu: Apply the ReLU.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        stride: Sequence[int] = (1, 1, 1),
        padding: int | Sequence[int] = 0,
        bias: bool = False,
        with_bn: bool = True,
        with_relu: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, tuple(stride), padding
        self.with_bn, self.with_relu = with_bn, with_relu
        self.conv = nn.ConvTranspose3d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias
        )
        self.bn = nn.BatchNorm3d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        n, _, t, h, w = x.shape
        s = self.stride
        x = self.conv(x, output_size=(n, self.out_channels, s[0] * t, s[1] * h, s[2] * w))
        if self.with_bn:
            x = self.bn(x)
        if self.with_relu:
            x = self.relu(x)
        return x


class ResNet3dPathway(ResNet3d):
    """One pathway of SlowFast: a ``ResNet3d`` that can take lateral connections.

    With ``lateral``, stage ``i`` (and the stem, for stage 0) receives a lateral connection
    where ``lateral_activate[i]`` is set: ``conv1_lateral`` after the stem and
    ``layer{i}_lateral`` after stage ``i`` (none after the last). Each is a
    ``fusion_kernel``x1x1 conv of temporal stride ``speed_ratio`` from the other pathway's
    ``C / channel_ratio`` channels to ``C * lateral_infl / channel_ratio`` (``C``: this
    pathway's channels there), with norm and activation if ``lateral_norm``; with
    ``lateral_inv`` a transposed conv (:class:`DeConvModule`) from ``C * channel_ratio`` to
    ``C * channel_ratio / lateral_infl`` channels, upsampling time by ``speed_ratio``. The
    stages' first blocks take the extra channels (``lateral_inplanes``).

    Args:
        lateral: Receive lateral connections.
        lateral_inv: Upsampling (transposed conv) laterals instead of strided convs.
        lateral_norm: Norm and activation after a strided lateral conv.
        speed_ratio: alpha: frames of the other pathway per frame of this one.
        channel_ratio: 1/beta: channels of this pathway per channel of the other.
        fusion_kernel: Temporal kernel of the lateral convs.
        lateral_infl: Channel inflation of the lateral convs.
        lateral_activate: Per stage, 1 where the stage receives a lateral connection.
        **kwargs: ``ResNet3d`` arguments (``depth``, ``base_channels``, ``conv1_kernel``, ...).
    """

    def __init__(
        self,
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
        # read by _lateral_inplanes, which ResNet3d.__init__ calls
        self.lateral = lateral
        self.lateral_inv = lateral_inv
        self.lateral_norm = lateral_norm
        self.speed_ratio = speed_ratio
        self.channel_ratio = channel_ratio
        self.fusion_kernel = fusion_kernel
        self.lateral_infl = lateral_infl
        self.lateral_activate = tuple(lateral_activate)
        num_stages = kwargs.get("num_stages", 4)
        if lateral and len(self.lateral_activate) < num_stages:
            raise ValueError(
                f"lateral_activate {self.lateral_activate} needs num_stages={num_stages} entries"
            )
        super().__init__(**kwargs)
        self.lateral_connections: list[str] = []
        if lateral and self.lateral_activate[0]:
            self.conv1_lateral = self._make_lateral(self.base_channels)
        for i in range(self.num_stages - 1):  # none after the last stage
            if lateral and self.lateral_activate[i + 1]:
                channels = self.base_channels * 2**i * self.block.expansion
                name = f"layer{i + 1}_lateral"
                setattr(self, name, self._make_lateral(channels))
                self.lateral_connections.append(name)
        self._apply_freezing()  # now with the laterals of frozen stages

    def _lateral_inplanes(self) -> list[int]:
        """Channels the lateral connection adds to each stage's input (0 where none)."""
        inplanes = []
        for i in range(self.num_stages):
            # this pathway's channels entering stage i: the stem's, or stage i-1's output
            planes = self.base_channels * (2 ** (i - 1) * self.block.expansion if i else 1)
            if not (self.lateral and self.lateral_activate[i]):
                inplanes.append(0)
            elif self.lateral_inv:
                inplanes.append(planes * self.channel_ratio // self.lateral_infl)
            else:
                inplanes.append(planes * self.lateral_infl // self.channel_ratio)
        self.lateral_inplanes = inplanes
        return inplanes

    def _make_lateral(self, channels: int) -> nn.Module:
        """The lateral connection into a point where this pathway has ``channels`` channels."""
        k = self.fusion_kernel
        if self.lateral_inv:
            return DeConvModule(
                channels * self.channel_ratio,
                channels * self.channel_ratio // self.lateral_infl,
                kernel_size=(k, 1, 1),
                stride=(self.speed_ratio, 1, 1),
                padding=((k - 1) // 2, 0, 0),
            )
        return ConvModule(
            channels // self.channel_ratio,
            channels * self.lateral_infl // self.channel_ratio,
            kernel_size=(k, 1, 1),
            stride=(self.speed_ratio, 1, 1),
            padding=((k - 1) // 2, 0, 0),
            bias=False,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg if self.lateral_norm else None,
            act_cfg=self.act_cfg if self.lateral_norm else None,
        )

    def _frozen_modules(self) -> list[nn.Module]:
        """Frozen stages and the lateral convs after them (MMAction2 leaves ``conv1_lateral``
        trainable even when the stem is frozen)."""
        modules = super()._frozen_modules()
        laterals = getattr(self, "lateral_connections", [])  # unset while ResNet3d builds
        for i in range(1, self.frozen_stages + 1):
            if i != len(self.res_layers) and i - 1 < len(laterals):
                modules.append(getattr(self, laterals[i - 1]))
        return modules

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained``: a 3D pathway or backbone as it is, a 2D ResNet inflated by
        :func:`inflate_2d_pathway`."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained, inflate_2d_pathway)


def inflate_2d_pathway(
    state_dict: Mapping[str, Tensor], model: nn.Module
) -> dict[str, Tensor] | None:
    """A 2D ResNet's weights inflated into a pathway, or None when ``state_dict`` is not 2D.

    As :func:`~vidlab.models.resnet3d.inflate_2d`, and as MMAction2's pathway inflation: a 2D
    kernel with fewer input channels than the 3D conv (the first convs of a stage fed by a
    lateral connection: ``layer{i}.0.conv1`` and ``.downsample``) is padded with zeros for the
    extra, lateral channels (they come last in the concatenation) before it is inflated. The
    lateral convs take nothing from the 2D file.
    """
    stem = state_dict.get("conv1.weight", state_dict.get("conv1.conv.weight"))
    if stem is None or stem.dim() != 4:
        return None
    padded = dict(state_dict)
    for key, target in model.state_dict().items():
        if "lateral" in key or target.dim() != 5:
            continue
        name = key if key in padded else _torchvision_name(key)
        source = padded.get(name)
        if source is None or source.dim() != 4:
            continue
        extra = target.shape[1] - source.shape[1]
        if (
            extra > 0
            and source.shape[0] == target.shape[0]
            and source.shape[2:] == target.shape[3:]
        ):
            zeros = source.new_zeros((source.shape[0], extra) + tuple(source.shape[2:]))
            padded[name] = torch.cat((source, zeros), dim=1)  # (O, I + lateral, h, w)
    inflated = inflate_2d(padded, model)
    return {k: v for k, v in inflated.items() if "lateral" not in k}


# MMAction2's pathway table (``build_pathway``): ``slow_pathway=dict(type='resnet3d', ...)``
PATHWAYS = {"resnet3d": ResNet3dPathway}

_SLOW_PATHWAY = frozen(
    type="resnet3d",
    depth=50,
    pretrained=None,
    lateral=True,
    conv1_kernel=(1, 7, 7),
    conv1_stride_t=1,
    pool1_stride_t=1,
    inflate=(0, 0, 1, 1),
)
_FAST_PATHWAY = frozen(
    type="resnet3d",
    depth=50,
    pretrained=None,
    lateral=False,
    base_channels=8,
    conv1_kernel=(5, 7, 7),
    conv1_stride_t=1,
    pool1_stride_t=1,
)


def _every(x: Tensor, rate) -> Tensor:
    """Frames ``0, rate, 2*rate, ...`` of ``x`` (N, C, T, H, W): what MMAction2's
    ``interpolate(x, mode='nearest', scale_factor=(1 / rate, 1, 1))`` picks, as a strided
    view (``floor(T / rate)`` frames; nearest takes source frame ``floor(i * rate)``)."""
    if rate != int(rate):
        return F.interpolate(x, mode="nearest", scale_factor=(1.0 / rate, 1.0, 1.0))
    rate = int(rate)
    t = x.shape[2]
    n = math.floor(t * (1.0 / rate))  # the output length interpolate computes
    if n < 1:
        raise ValueError(
            f"ResNet3dSlowFast: a clip of {t} frames has no frame at the rate 1/{rate}; "
            f"give at least {rate} frames (the configs' clips have 32)"
        )
    return x[:, :, : (n - 1) * rate + 1 : rate]  # (N, C, n, H, W)


def _fuse(x_slow: Tensor, lateral: Tensor) -> Tensor:
    """Slow features and the lateral connection's, concatenated along channels."""
    if x_slow.shape[2:] != lateral.shape[2:]:
        raise ValueError(
            f"ResNet3dSlowFast: the slow pathway's features {tuple(x_slow.shape[2:])} (T, H, W) "
            f"and the lateral connection's from the fast pathway {tuple(lateral.shape[2:])} "
            "differ; use clips whose frame count is a multiple of resample_rate"
        )
    return torch.cat((x_slow, lateral), dim=1)  # (N, C_slow + C_lateral, t, h, w)


class ResNet3dSlowFast(nn.Module):
    """SlowFast backbone: ``(N, C, T, H, W)`` -> ``(slow, fast)`` feature maps.

    Args:
        pretrained: A whole SlowFast backbone (or recognizer) checkpoint loaded by
            ``init_weights``; the pathways' own ``pretrained`` are then ignored, as in
            MMAction2. None: each pathway loads its own (a 2D ResNet is inflated).
        resample_rate: tau: the slow pathway sees every ``resample_rate``-th frame of the clip.
        speed_ratio: alpha: the fast pathway sees ``speed_ratio`` times as many frames.
        channel_ratio: 1/beta: slow channels per fast channel of the lateral convs.
        slow_pathway: ``ResNet3dPathway`` arguments with ``type='resnet3d'`` (a dict, built
            here; ``speed_ratio`` and ``channel_ratio`` are set from this module's when it has
            ``lateral``), or a built pathway.
        fast_pathway: The same for the fast pathway.
        init_cfg: Accepted for MMAction2 config compatibility.
    """

    # the pathway dicts are built here (with speed_ratio/channel_ratio), not by the config
    _lazy_args = ("slow_pathway", "fast_pathway")

    def __init__(
        self,
        pretrained: str | None = None,
        resample_rate: int = 8,
        speed_ratio: int = 8,
        channel_ratio: int = 8,
        slow_pathway: Mapping | ResNet3dPathway = _SLOW_PATHWAY,
        fast_pathway: Mapping | ResNet3dPathway = _FAST_PATHWAY,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.pretrained = pretrained
        self.resample_rate = resample_rate
        self.speed_ratio = speed_ratio
        self.channel_ratio = channel_ratio
        self.init_cfg = init_cfg
        if isinstance(slow_pathway, Mapping) and slow_pathway.get("lateral", False):
            slow_pathway = dict(slow_pathway, speed_ratio=speed_ratio, channel_ratio=channel_ratio)
        self.slow_path = self._pathway(slow_pathway, "slow_pathway")
        self.fast_path = self._pathway(fast_pathway, "fast_pathway")
        # MMAction2 builds these too, but its forward cannot run them: say so now
        if self.slow_path.lateral and self.slow_path.lateral_inv:
            raise ValueError(
                "ResNet3dSlowFast fuses strided lateral convs into the slow pathway; "
                "slow_pathway lateral_inv=True (upsampling laterals) has no place in it"
            )
        if self.fast_path.lateral and any(self.fast_path.lateral_inplanes):
            raise ValueError(
                "ResNet3dSlowFast fuses laterals into the slow pathway only; the fast pathway "
                "must have lateral=False"
            )

    @staticmethod
    def _pathway(cfg: Mapping | ResNet3dPathway, what: str) -> ResNet3dPathway:
        if isinstance(cfg, ResNet3dPathway):
            return cfg
        if not isinstance(cfg, Mapping) or "type" not in cfg:
            raise TypeError(f"{what} must be a dict with a 'type' key or a ResNet3dPathway")
        kwargs = dict(cfg)
        kind = kwargs.pop("type")
        if kind not in PATHWAYS:
            raise KeyError(f"{what}: unknown pathway type {kind!r}; known: {', '.join(PATHWAYS)}")
        return PATHWAYS[kind](**kwargs)

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained`` (a whole SlowFast backbone) when training starts; the
        pathways then keep these weights instead of loading their own files."""
        if self.pretrained is None:
            return None  # each pathway's own init_weights loads its file
        report = load_pretrained(self, self.pretrained)
        self.slow_path.pretrained = self.fast_path.pretrained = None
        return report

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        slow, fast = self.slow_path, self.fast_path
        x_slow = _every(x, self.resample_rate)  # (N, C, T/tau, H, W)
        x_slow = slow.maxpool(slow.conv1(x_slow))  # (N, 64, T/tau, H/4, W/4)
        x_fast = _every(x, self.resample_rate // self.speed_ratio)  # (N, C, T*alpha/tau, H, W)
        x_fast = fast.maxpool(fast.conv1(x_fast))  # (N, 64/beta, T*alpha/tau, H/4, W/4)
        lateral = slow.lateral
        if lateral and hasattr(slow, "conv1_lateral"):
            x_slow = _fuse(x_slow, slow.conv1_lateral(x_fast))
        last = len(slow.res_layers) - 1
        for i, name in enumerate(slow.res_layers):
            x_slow = getattr(slow, name)(x_slow)
            x_fast = getattr(fast, name)(x_fast)
            if lateral and i != last and f"{name}_lateral" in slow.lateral_connections:
                x_slow = _fuse(x_slow, getattr(slow, f"{name}_lateral")(x_fast))
        return x_slow, x_fast  # (N, 2048, t, h, w), (N, 256, alpha*t, h, w) for ResNet-50


# --- variants -------------------------------------------------------------------------------

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/slowfast/"


def _slowfast(
    num_classes: int,
    slow_depth: int = 50,
    fast_depth: int = 50,
    tau: int = 8,
    alpha: int = 8,
    fusion_kernel: int = 5,
    lateral_norm: bool = False,
    pretrained: str | None = None,
    **kwargs,
) -> Recognizer3D:
    """SlowFast as ``configs/_base_/models/slowfast_r50.py`` builds it, with the zoo configs'
    changes. ``kwargs`` (``frozen_stages``, ``norm_eval``, ``with_cp``, ...) go to both
    pathways."""
    slow = dict(_SLOW_PATHWAY, depth=slow_depth, fusion_kernel=fusion_kernel, **kwargs)
    if lateral_norm:
        slow["lateral_norm"] = True
    backbone = ResNet3dSlowFast(
        pretrained=pretrained,
        resample_rate=tau,
        speed_ratio=alpha,
        channel_ratio=8,
        slow_pathway=slow,
        fast_pathway=dict(_FAST_PATHWAY, depth=fast_depth, **kwargs),
    )
    head = SlowFastHead(
        num_classes=num_classes,
        in_channels=2304,  # 2048 slow + 256 fast
        spatial_type="avg",
        dropout_ratio=0.5,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCTHW")
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


def _url(config: str, stamp: str) -> str:
    return f"{_ZOO}{config}/{config}_{stamp}.pth"


# Every zoo config tests 10 clips of 32 frames, every 2nd, three 256 px crops; tau and alpha
# decide what each pathway sees of them ("4x16": 4 slow frames every 16th).


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url("slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb", "20220901-701b0f6f"),
)
def slowfast_r50_4x16x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowFast ResNet-50, tau=8, alpha=8: 4 slow and 32 fast frames (75.6 top-1 on K400)."""
    return _slowfast(num_classes, **kwargs)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url("slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb", "20220818-1cb6dfc8"),
)
def slowfast_r50_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowFast ResNet-50, tau=4, alpha=4, 7x1x1 laterals: 8 slow and 32 fast frames (76.8)."""
    return _slowfast(num_classes, tau=4, alpha=4, fusion_kernel=7, **kwargs)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url("slowfast_r50_8xb8-8x8x1-steplr-256e_kinetics400-rgb", "20220818-b62a501f"),
)
def slowfast_r50_steplr_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowFast ResNet-50 8x8 of MMAction2's step-LR config, whose laterals have BatchNorm and
    ReLU (``lateral_norm=True``; 76.7 top-1)."""
    return _slowfast(num_classes, tau=4, alpha=4, fusion_kernel=7, lateral_norm=True, **kwargs)


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url("slowfast_r101_8xb8-8x8x1-256e_kinetics400-rgb", "20220901-9c0e09bd"),
)
def slowfast_r101_8x8x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowFast ResNet-101 (both pathways), 8x8 (78.7 top-1 on K400)."""
    return _slowfast(
        num_classes, slow_depth=101, fast_depth=101, tau=4, alpha=4, fusion_kernel=7, **kwargs
    )


@variant(
    clip_shape=(3, 32, 256, 256),
    sampling=(32, 2, 10),
    url=_url("slowfast_r101-r50_32xb8-4x16x1-256e_kinetics400-rgb", "20220901-a77ac3ee"),
)
def slowfast_r101_r50_4x16x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """SlowFast with a ResNet-101 slow and a ResNet-50 fast pathway, 4x16 (77.0 top-1)."""
    return _slowfast(num_classes, slow_depth=101, **kwargs)
