"""MobileOne (Vasu et al., 2023): MMPretrain's ``MobileOne`` and MMAction2's ``MobileOneTSM``.

A MobileOne block trains as a sum of branches (k x k conv-BN branches, a 1x1 conv-BN "scale"
branch, a BN-only identity branch) and deploys as one k x k conv with bias: see
:meth:`~vidlab.models.layers.mobileone_block.MobileOneBlock.switch_to_deploy`. Keys (MMPretrain's): ``stage0.branch_conv_list.0.conv
.weight`` / ``.norm.*``, ``.branch_scale.conv.weight`` / ``.norm.*``, ``.branch_norm.*``,
``.se.conv1.conv.*``; deployed, ``.branch_reparam.weight`` / ``.bias``. Stages are
``stage1``..``stage4``, each a sequence of (depthwise 3x3, pointwise 1x1) block pairs.
``MobileOneTSM`` wraps every block in a ``TemporalShift`` (``stage1.0.net.branch_...``), so the
shift stays outside the branches and the block can still be fused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.models._checks import frozen
from vidlab.models.heads.tsm import TSMHead
from vidlab.models.heads.tsn import TSNHead
from vidlab.models.layers.freeze import FreezableBackbone, freeze
from vidlab.models.layers.mobileone_block import MobileOneBlock
from vidlab.models.layers.temporal_shift import TemporalShift
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer2D
from vidlab.models.resnet import _unwrapped
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant


class MobileOne(FreezableBackbone):
    """MobileOne backbone: ``(N, 3, H, W)`` -> a tuple of the ``out_indices`` stage outputs.

    As MMPretrain's, the output is always a tuple (``Recognizer2D`` unwraps a single one).

    Args:
        arch: ``'s0'``..``'s4'`` or a dict with ``num_blocks``, ``width_factor``,
            ``num_conv_branches`` and ``num_se_blocks`` (four entries each).
        in_channels: Input channels.
        out_indices: Stages (0-3) whose outputs are returned; negative counts from the end.
        frozen_stages: Freeze ``stage0`` and the first ``frozen_stages`` stages (-1: nothing);
            applied by ``train()``.
        conv_cfg: Conv layer config.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.
        se_cfg: ``SELayer`` arguments of the blocks that have one.
        deploy: Build the fused (deployed) blocks.
        norm_eval: Keep BatchNorm layers in eval mode while training.
        init_cfg: ``dict(type='Pretrained', checkpoint=..., prefix='backbone')`` names the
            weights ``init_weights`` loads; other init specs are accepted and ignored.
    """

    arch_zoo = {
        name: dict(
            num_blocks=[2, 8, 10, 1],
            width_factor=width,
            num_conv_branches=[branches] * 4,
            num_se_blocks=se,
        )
        for name, width, branches, se in (
            ("s0", [0.75, 1.0, 1.0, 2.0], 4, [0, 0, 0, 0]),
            ("s1", [1.5, 1.5, 2.0, 2.5], 1, [0, 0, 0, 0]),
            ("s2", [1.5, 2.0, 2.5, 4.0], 1, [0, 0, 0, 0]),
            ("s3", [2.0, 2.5, 3.0, 4.0], 1, [0, 0, 0, 0]),
            ("s4", [3.0, 3.5, 3.5, 4.0], 1, [0, 0, 5, 1]),
        )
    }

    def __init__(
        self,
        arch: str | Mapping,
        in_channels: int = 3,
        out_indices: int | Sequence[int] = (3,),
        frozen_stages: int = -1,
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = frozen(type="BN"),
        act_cfg: Mapping | None = frozen(type="ReLU"),
        se_cfg: Mapping | None = frozen(ratio=16),
        deploy: bool = False,
        norm_eval: bool = False,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        if isinstance(arch, str):
            if arch not in self.arch_zoo:
                raise ValueError(f"MobileOne: arch {arch!r} is not one of {list(self.arch_zoo)}")
            arch = self.arch_zoo[arch]
        elif not isinstance(arch, Mapping):
            raise TypeError(f"MobileOne: arch must be a name or a dict, got {type(arch)}")
        for key, value in arch.items():
            if len(value) != 4:
                raise ValueError(f"MobileOne: arch[{key!r}] needs 4 entries, got {value}")
        self.arch = dict(arch)
        self.in_channels = in_channels
        self.deploy = deploy
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.se_cfg = dict(se_cfg) if se_cfg is not None else None
        self.act_cfg = act_cfg
        self.init_cfg = init_cfg
        self.pretrained = None
        if isinstance(init_cfg, Mapping) and init_cfg.get("type") == "Pretrained":
            self.pretrained = init_cfg.get("checkpoint")

        base_channels = [64, 128, 256, 512]
        channels = min(64, int(base_channels[0] * self.arch["width_factor"][0]))
        self.stage0 = self._block(in_channels, channels, 3, 1, stride=2, padding=1)
        self.in_planes = channels
        self.stages: list[str] = []
        for i, num_blocks in enumerate(self.arch["num_blocks"]):
            planes = int(base_channels[i] * self.arch["width_factor"][i])
            stage = self._make_stage(
                planes, num_blocks, self.arch["num_se_blocks"][i], self.arch["num_conv_branches"][i]
            )
            self.add_module(f"stage{i + 1}", stage)
            self.stages.append(f"stage{i + 1}")

        out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        for i, index in enumerate(out_indices):
            if index < 0:
                out_indices[i] = len(self.stages) + index
            if not 0 <= out_indices[i] <= len(self.stages):
                raise ValueError(f"MobileOne: invalid out_indices entry {index}")
        self.out_indices = out_indices

    def _block(self, in_ch, out_ch, kernel_size, num_convs, stride, padding, groups=1, se=False):
        return MobileOneBlock(
            in_ch,
            out_ch,
            kernel_size,
            num_convs,
            stride=stride,
            padding=padding,
            groups=groups,
            se_cfg=self.se_cfg if se else None,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
            deploy=self.deploy,
        )

    def _make_stage(self, planes: int, num_blocks: int, num_se: int, num_convs: int):
        if num_se > num_blocks:
            raise ValueError("MobileOne: number of SE blocks cannot exceed number of blocks")
        blocks = []
        for i in range(num_blocks):
            se = i >= num_blocks - num_se
            stride = 2 if i == 0 else 1
            depthwise = self._block(
                self.in_planes, self.in_planes, 3, num_convs, stride, 1, self.in_planes, se
            )
            pointwise = self._block(self.in_planes, planes, 1, num_convs, 1, 0, 1, se)
            blocks += [depthwise, pointwise]
            self.in_planes = planes
        return nn.Sequential(*blocks)

    def init_weights(self) -> LoadReport | None:
        """Load the ``init_cfg`` checkpoint (an MMPretrain classifier or a MobileOne backbone);
        TSM's ``.net`` wrappers are looked through."""
        if self.pretrained is None:
            return None
        return load_pretrained(
            self, self.pretrained, convert=fuse_training_weights, look_through=_unwrapped
        )

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        x = self.stage0(x)  # (N, C0, H/2, W/2)
        outs = []
        for i, name in enumerate(self.stages):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def switch_to_deploy(self) -> None:
        """Fuse every block's branches into one conv (see ``MobileOneBlock.switch_to_deploy``);
        outputs in eval mode stay the same up to float rounding."""
        for m in self.modules():
            if isinstance(m, MobileOneBlock):
                m.switch_to_deploy()
        self.deploy = True

    def _apply_freezing(self) -> None:
        modules = [self.stage0] if self.frozen_stages >= 0 else []
        modules += [getattr(self, f"stage{i + 1}") for i in range(self.frozen_stages)]
        freeze(modules)


class MobileOneTSM(MobileOne):
    """MobileOne for TSM: every block (``stage0`` included) sees time-shifted input.

    Input ``(N*T, 3, H, W)`` with ``T = num_segments``; the output is the single
    ``out_indices`` map (a tensor, as MMAction2's).

    Args:
        arch: As ``MobileOne``.
        num_segments: Frames per clip in the folded batch.
        is_shift: Insert the temporal shifts.
        shift_div: ``1 / shift_div`` of the channels shift each way.
        pretrained2d: Accepted for MMAction2 compatibility; a 2D file loads through the
            ``.net`` wrappers either way.
        **kwargs: ``MobileOne`` arguments.
    """

    def __init__(
        self,
        arch: str | Mapping,
        num_segments: int = 8,
        is_shift: bool = True,
        shift_div: int = 8,
        pretrained2d: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(arch, **kwargs)
        self.num_segments = num_segments
        self.is_shift = is_shift
        self.shift_div = shift_div
        self.pretrained2d = pretrained2d
        if is_shift:
            self.make_temporal_shift()

    def make_temporal_shift(self) -> None:
        """Wrap ``stage0`` and every block of every stage in a ``TemporalShift``."""
        self.stage0 = TemporalShift(self.stage0, self.num_segments, self.shift_div)
        for name in self.stages:
            stage = getattr(self, name)
            for j, block in enumerate(stage):
                stage[j] = TemporalShift(block, self.num_segments, self.shift_div)

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, ...]:
        outs = super().forward(x)
        return outs[0] if len(outs) == 1 else outs


def fuse_training_weights(
    state: Mapping[str, Tensor], model: nn.Module
) -> dict[str, Tensor] | None:
    """Branch weights (training form) -> ``branch_reparam`` weights of a deployed ``model``.

    For each deployed block of ``model``, a training-form twin loads that block's branch
    tensors from ``state`` and is fused (:meth:`MobileOneBlock.reparameterize`); other tensors
    are kept, with ``model``'s names where only wrappers (``.net``) differ. None when ``model``
    has no deployed block or ``state`` has no branch weights (nothing to convert).
    """
    if not any(".branch_conv_list." in k or k.startswith("branch_") for k in state):
        return None
    deployed = [(n, m) for n, m in model.named_modules() if isinstance(m, MobileOneBlock)]
    deployed = [(n, m) for n, m in deployed if m.deploy]
    if not deployed:
        return None
    out = dict(state)
    for name, block in deployed:
        prefix = _unwrapped(name + ".") if name else ""
        twin = MobileOneBlock(
            block.in_channels,
            block.out_channels,
            block.kernel_size,
            block.num_conv_branches,
            stride=block.stride,
            padding=block.padding,
            dilation=block.dilation,
            groups=block.groups,
            se_cfg=block.se_cfg,
            conv_cfg=block.conv_cfg,
            norm_cfg=block.norm_cfg,
            act_cfg=block.act_cfg,
        )
        wanted = [k for k in twin.state_dict() if k.startswith("branch_")]
        if not all(prefix + k in state for k in wanted):
            continue  # leave this block to the load report
        twin.load_state_dict({k: state[prefix + k] for k in wanted}, strict=False)
        weight, bias = twin.eval().reparameterize()
        for k in wanted:
            del out[prefix + k]
        out[f"{name}.branch_reparam.weight" if name else "branch_reparam.weight"] = weight
        out[f"{name}.branch_reparam.bias" if name else "branch_reparam.bias"] = bias
    ours = {_unwrapped(k): k for k in model.state_dict()}
    return {ours.get(k, k): v for k, v in out.items()}


# --- variants -------------------------------------------------------------------------------

_MMA = "https://download.openmmlab.com/mmaction/v1.0/recognition/"
_PRE = ActionDataPreprocessor  # short alias for the variants below


def _init_cfg(pretrained: str | None) -> dict | None:
    """``pretrained`` as MMAction2's configs give it (their ImageNet file is
    ``mmclassification/v0/mobileone/mobileone-s4_8xb32_in1k_20221110-28d888cb.pth``)."""
    if pretrained is None:
        return None
    return dict(type="Pretrained", checkpoint=pretrained, prefix="backbone")


def _tsn(deploy: bool, num_classes: int, pretrained: str | None = None, **kwargs):
    backbone = MobileOne(
        "s4", out_indices=(3,), deploy=deploy, init_cfg=_init_cfg(pretrained), **kwargs
    )
    head = TSNHead(
        num_classes=num_classes,
        in_channels=2048,
        dropout_ratio=0.4,
        init_std=0.01,
        average_clips="prob",
    )
    pre = _PRE(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)


def _tsm(deploy: bool, num_classes: int, pretrained: str | None = None, **kwargs):
    # As MMAction2's 1x1x16 config: the backbone keeps the base config's 8 segments (shifts
    # within each half of the 16 frames) while the head averages all 16.
    backbone = MobileOneTSM(
        "s4",
        num_segments=8,
        shift_div=8,
        is_shift=True,
        deploy=deploy,
        init_cfg=_init_cfg(pretrained),
        **kwargs,
    )
    head = TSMHead(
        num_classes=num_classes,
        in_channels=2048,
        num_segments=16,
        dropout_ratio=0.5,
        init_std=0.001,
        is_shift=True,
        average_clips="prob",
    )
    pre = _PRE(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=pre)


@variant(
    clip_shape=(3, 25, 224, 224),
    sampling=(1, 1, 25),
    url=_MMA + "tsn/tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e_kinetics400-rgb/"
    "tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e_kinetics400-rgb_20230825-2da3c1f7.pth",
)
def mobileone_s4_tsn_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSN with MobileOne-S4 (trained on 8 segments, tested on 25)."""
    return _tsn(False, num_classes, **kwargs)


@variant(clip_shape=(3, 25, 224, 224), sampling=(1, 1, 25))
def mobileone_s4_tsn_deploy_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSN with MobileOne-S4 in its fused (deployed) form; fuse trained weights with
    ``model.backbone.switch_to_deploy()``."""
    return _tsn(True, num_classes, **kwargs)


@variant(
    clip_shape=(3, 16, 256, 256),
    sampling=(1, 1, 16),
    url=_MMA + "tsm/tsm_imagenet-pretrained-mobileone-s4_8xb16-1x1x16-50e_kinetics400-rgb/"
    "tsm_imagenet-pretrained-mobileone-s4_8xb16-1x1x16-50e_kinetics400-rgb_20230825-a7f8876b.pth",
)
def mobileone_s4_tsm_1x1x16(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with MobileOne-S4, 16 frames (shifts within groups of 8, as MMAction2's config)."""
    return _tsm(False, num_classes, **kwargs)


@variant(clip_shape=(3, 16, 256, 256), sampling=(1, 1, 16))
def mobileone_s4_tsm_deploy_1x1x16(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with MobileOne-S4 in its fused (deployed) form."""
    return _tsm(True, num_classes, **kwargs)
