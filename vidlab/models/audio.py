"""Audio recognition (Xiao et al., 2020, "Audiovisual SlowFast Networks"): a 2D CNN on log-mel
spectrograms; MMAction2's ``RecognizerAudio``, ``ResNetAudio`` and ``ConvAudio``; named variants.

The input is MMAction2's ``'NCTF'`` layout of one audio view: ``(N, 1, T, F)``, ``T`` feature
frames (MMAction2's ``AudioFeatureSelector`` gives 128) by ``F`` mel bins (80 from its
``build_audio_features.py``; see ``vidlab.data.audio``). Views of a sample are flattened into
the batch by the task, as for clips. The variants build the modules of MMAction2's
``configs/recognition_audio/`` configs, so their checkpoints load without key maps: the TSN
one is the 2D ``vidlab.models.resnet.ResNet`` with ``in_channels=1``, the audio-only one is
``ResNetAudio`` below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules.utils import _pair

from vidlab.checkpoint import LoadReport
from vidlab.models._checks import frozen
from vidlab.models.heads.audio import TSNAudioHead
from vidlab.models.layers.checkpointing import checkpointed
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.layers.freeze import FreezableBackbone, freeze
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import BaseRecognizer
from vidlab.models.resnet import ResNet
from vidlab.models.variants import variant


class RecognizerAudio(BaseRecognizer):
    """Recognizer of audio features: ``(N, C, T, F)`` -> logits ``(N, K)``.

    The 2D backbone sees each view's spectrogram as one image (time as height, mel bins as
    width). ``data_preprocessor`` (MMAction2's default: none given, no normalization) only
    casts to float unless it has ``mean``/``std``; then it normalizes per channel.
    """

    def forward_features(self, clips: Tensor) -> Tensor:
        if clips.dim() != 4:
            raise ValueError(
                f"RecognizerAudio expects audio features (N, C, T, F), got {tuple(clips.shape)}; "
                "fold views into the batch first: features.flatten(0, 1)"
            )
        x = self.data_preprocessor(clips.unsqueeze(-1)).squeeze(-1)  # (N, C, T, F) float
        feats = self.backbone(x)  # (N, D, t, f)
        if isinstance(feats, tuple) and len(feats) == 1:
            feats = feats[0]
        if self.neck is not None:
            feats = self.neck(feats)
        return feats

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        if pre_logits:
            return self.cls_head.pre_logits(features)  # (N, D)
        return self.cls_head(features)  # (N, K)


class ConvAudio(nn.Module):
    """A ``k_t x 1`` and a ``1 x k_f`` conv-BN-ReLU on the same input, concatenated or summed.

    MMAction2's ``ConvAudio`` (``conv_cfg=dict(type='ConvAudio')``). As there, ``padding``,
    ``dilation`` and ``groups`` are accepted and unused: each branch pads half its kernel and
    has no dilation, whatever the block asks for.

    Args:
        in_channels: Input channels.
        out_channels: Channels of each branch (the output has twice as many with
            ``op='concat'``).
        kernel_size: ``(k_t, k_f)`` or one int for both.
        op: ``'concat'`` or ``'sum'`` of the two branches.
        stride: Stride of both branches.
        padding: Unused (MMAction2's signature).
        dilation: Unused (MMAction2's signature).
        groups: Unused (MMAction2's signature).
        bias: Conv bias of both branches.
        padding_mode: Unused; ``ConvModule`` passes it.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        op: str = "concat",
        stride: int | Sequence[int] = 1,
        padding: int | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool | str = False,
        padding_mode: str = "zeros",
    ) -> None:
        super().__init__()
        if op not in ("concat", "sum"):
            raise ValueError(f"ConvAudio op must be 'concat' or 'sum', got {op!r}")
        kernel_size = _pair(kernel_size)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.op = op
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = dilation
        self.groups = groups
        self.bias = bias
        branch = dict(
            stride=stride,
            bias=bias,
            conv_cfg=frozen(type="Conv"),
            norm_cfg=frozen(type="BN"),
            act_cfg=frozen(type="ReLU"),
        )
        k_t, k_f = kernel_size
        self.conv_1 = ConvModule(
            in_channels, out_channels, (k_t, 1), padding=(k_t // 2, 0), **branch
        )  # along time
        self.conv_2 = ConvModule(
            in_channels, out_channels, (1, k_f), padding=(0, k_f // 2), **branch
        )  # along frequency

    def init_weights(self) -> None:
        """Each branch as ``ConvModule`` inits it (kaiming conv, unit BN)."""
        self.conv_1.init_weights()
        self.conv_2.init_weights()

    def forward(self, x: Tensor) -> Tensor:
        x_1 = self.conv_1(x)  # (N, C', T', F')
        x_2 = self.conv_2(x)
        if self.op == "concat":
            return torch.cat([x_1, x_2], 1)  # (N, 2C', T', F')
        return x_1 + x_2


class Bottleneck2dAudio(nn.Module):
    """1x1 conv-BN-ReLU, a (factorized) 3x3 conv without norm, 1x1 conv-BN; residual, ReLU.

    With ``factorize`` the 3x3 conv is a ``ConvAudio`` concatenating a 3x1 and a 1x3 branch
    (``2 * planes`` channels into ``conv3``). The stride sits on the 3x3 conv.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 2,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        factorize: bool = True,
        norm_cfg: Mapping | None = None,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        self.inplanes = inplanes
        self.planes = planes
        self.stride = stride
        self.dilation = dilation
        self.factorize = factorize
        self.norm_cfg = norm_cfg
        self.with_cp = with_cp
        self.conv1 = ConvModule(
            inplanes, planes, 1, dilation=dilation, bias=False, norm_cfg=norm_cfg
        )
        self.conv2 = ConvModule(
            planes,
            planes,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=False,
            conv_cfg=frozen(type="ConvAudio") if factorize else frozen(type="Conv"),
            norm_cfg=None,
            act_cfg=None,
        )
        self.conv3 = ConvModule(
            2 * planes if factorize else planes,
            planes * self.expansion,
            1,
            bias=False,
            norm_cfg=norm_cfg,
            act_cfg=None,
        )
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def _residual(self, x: Tensor) -> Tensor:
        out = self.conv3(self.conv2(self.conv1(x)))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(checkpointed(self._residual, x, enabled=self.with_cp))


class ResNetAudio(FreezableBackbone):
    """MMAction2's ``ResNetAudio``: a ``ConvAudio`` stem (9x1 + 1x9, summed), then bottleneck
    stages whose 3x3 convs are factorized where ``factorize`` says; no pooling.

    ``(N, in_channels, T, F)`` -> ``(N, feat_dim, T/8, F/8)`` (``feat_dim = 4 * base_channels *
    8`` = 1024 for four stages of 32 base channels).

    Args:
        depth: 50, 101 or 152.
        pretrained: Weights loaded by ``init_weights`` when training starts (a file or URL).
        in_channels: Channels of the input features.
        num_stages: Residual stages (1-4).
        base_channels: Channels of the stem (and of the first stage's blocks).
        strides: Stride of the first block of each stage.
        dilations: Dilation of each stage.
        conv1_kernel: Kernel of the stem's two branches.
        conv1_stride: Stride of the stem.
        frozen_stages: Stages to freeze (-1: none; 0: the stem).
        factorize: Per stage, 1 to factorize its blocks' 3x3 convs (an int or one per block).
        norm_eval: Keep every BatchNorm in eval mode while training.
        with_cp: Gradient checkpointing in the blocks.
        conv_cfg: Accepted for MMAction2 compatibility; unused there too.
        norm_cfg: Norm of the stem and of the blocks' 1x1 convs.
        act_cfg: Activation of the stem.
        zero_init_residual: Zero the last BN of each block, so blocks start as identities.
    """

    arch_settings = {
        50: (Bottleneck2dAudio, (3, 4, 6, 3)),
        101: (Bottleneck2dAudio, (3, 4, 23, 3)),
        152: (Bottleneck2dAudio, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        depth: int,
        pretrained: str | None = None,
        in_channels: int = 1,
        num_stages: int = 4,
        base_channels: int = 32,
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 1, 1, 1),
        conv1_kernel: int = 9,
        conv1_stride: int = 1,
        frozen_stages: int = -1,
        factorize: int | Sequence = (1, 1, 0, 0),
        norm_eval: bool = False,
        with_cp: bool = False,
        conv_cfg: Mapping | None = frozen(type="Conv"),
        norm_cfg: Mapping | None = frozen(type="BN2d", requires_grad=True),
        act_cfg: Mapping | None = frozen(type="ReLU", inplace=True),
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(
                f"invalid depth {depth} for ResNetAudio; choose from {sorted(self.arch_settings)}"
            )
        if not 1 <= num_stages <= 4:
            raise ValueError(f"num_stages must be in 1..4, got {num_stages}")
        if isinstance(factorize, int):
            factorize = (factorize,) * num_stages
        if len(factorize) != num_stages:
            raise ValueError(f"factorize {tuple(factorize)} needs num_stages={num_stages} entries")
        self.depth = depth
        self.pretrained = pretrained
        self.in_channels = in_channels
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.dilations = tuple(dilations)
        self.conv1_kernel = conv1_kernel
        self.conv1_stride = conv1_stride
        self.frozen_stages = frozen_stages
        self.stage_factorization = tuple(factorize)
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.zero_init_residual = zero_init_residual

        self.block, stage_blocks = self.arch_settings[depth]
        self.stage_blocks = stage_blocks[:num_stages]
        self.conv1 = ConvModule(
            in_channels,
            base_channels,
            conv1_kernel,
            stride=conv1_stride,
            bias=False,
            conv_cfg=frozen(type="ConvAudio", op="sum"),
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )
        self.res_layers: list[str] = []
        inplanes = base_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            layer = self._make_res_layer(
                inplanes, planes, num_blocks, strides[i], dilations[i], factorize[i]
            )
            inplanes = planes * self.block.expansion
            self.add_module(f"layer{i + 1}", layer)
            self.res_layers.append(f"layer{i + 1}")
        self.feat_dim = self.block.expansion * base_channels * 2 ** (len(self.stage_blocks) - 1)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck2dAudio):
                    nn.init.zeros_(m.conv3.bn.weight)
        self._apply_freezing()

    def _make_res_layer(
        self, inplanes: int, planes: int, blocks: int, stride: int, dilation: int, factorize
    ) -> nn.Sequential:
        factorize = (factorize,) * blocks if isinstance(factorize, int) else tuple(factorize)
        if len(factorize) != blocks:
            raise ValueError(f"factorize {factorize} of a stage needs {blocks} entries")
        block, expansion = self.block, self.block.expansion
        downsample = None
        if stride != 1 or inplanes != planes * expansion:
            downsample = ConvModule(
                inplanes,
                planes * expansion,
                1,
                stride=stride,
                bias=False,
                norm_cfg=self.norm_cfg,
                act_cfg=None,
            )
        common = dict(norm_cfg=self.norm_cfg, with_cp=self.with_cp)
        layers = [
            block(inplanes, planes, stride, dilation, downsample, factorize[0] == 1, **common)
        ]
        inplanes = planes * expansion
        for i in range(1, blocks):
            layers.append(block(inplanes, planes, 1, dilation, None, factorize[i] == 1, **common))
        return nn.Sequential(*layers)

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained`` (called when training starts, never while building)."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)  # (N, base_channels, T, F)
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return x  # (N, feat_dim, T/8, F/8)

    def _apply_freezing(self) -> None:
        # As MMAction2: the stem's parameters are frozen but only its outer BN is put in eval
        # mode (the BNs inside ConvAudio keep updating their statistics).
        if self.frozen_stages >= 0:
            self.conv1.bn.eval()
            for p in self.conv1.parameters():
                p.requires_grad = False
        freeze(getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1))


# --- variants ---------------------------------------------------------------------------------

# No normalization: MMAction2's audio configs give no data_preprocessor (features are 0..1).
_AUDIO = dict(mean=(0.0,), std=(1.0,), num_classes=400)


def _recognizer(backbone: nn.Module, in_channels: int, num_classes: int) -> RecognizerAudio:
    head = TSNAudioHead(
        num_classes=num_classes,
        in_channels=in_channels,
        dropout_ratio=0.5,
        init_std=0.01,
        average_clips="prob",
    )
    return RecognizerAudio(
        backbone=backbone, cls_head=head, data_preprocessor=ActionDataPreprocessor()
    )


@variant(
    clip_shape=(1, 128, 80),
    sampling=(64, 1, 1),
    url="https://download.openmmlab.com/mmaction/v1.0/recognition_audio/resnet/"
    "tsn_r18_8xb320-64x1x1-100e_kinetics400-audio-feature/"
    "tsn_r18_8xb320-64x1x1-100e_kinetics400-audio-feature_20230702-e4642fb0.pth",
    **_AUDIO,
)
def audio_tsn_r18_64x1x1(num_classes: int = 400, **kwargs) -> RecognizerAudio:
    """TSN with a ResNet-18 on log-mel features (1 channel), 64 frames' worth of audio."""
    backbone = ResNet(depth=18, in_channels=1, norm_eval=False, **kwargs)
    return _recognizer(backbone, 512, num_classes)


@variant(clip_shape=(1, 128, 80), sampling=(64, 1, 10), **_AUDIO)
def audio_only_r50_64x1x1(num_classes: int = 400, **kwargs) -> RecognizerAudio:
    """MMAction2's audio-only ResNet-50 (``ResNetAudio``, Xiao et al., 2020) on log-mel
    features; tested on 10 clips of 64 frames' worth of audio."""
    backbone = ResNetAudio(depth=50, in_channels=1, norm_eval=False, **kwargs)
    return _recognizer(backbone, 1024, num_classes)
