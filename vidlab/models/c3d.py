"""C3D (Tran et al., 2015): MMAction2's ``C3D`` backbone and its named variant.

Eight 3x3x3 convs (with bias, no norm) and five max-pools, then two fully connected layers
``fc6`` and ``fc7``; MMAction2's configs put an ``I3DHead`` without pooling on the 4096
features. Keys: ``conv{1a,2a,3a,3b,4a,4b,5a,5b}.conv.{weight,bias}``, ``fc6.*``, ``fc7.*``.

``fc6`` sees the flattened last map, so the input size is fixed: 16 frames (anything in 16..31
gives the same map) at 112 px (96..127 px) give the 512 x 1 x 4 x 4 = 8192 values of
``out_dim``; other sizes need another ``out_dim`` and then cannot use the published weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport
from vidlab.models._checks import frozen
from vidlab.models.heads.i3d import I3DHead
from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.variants import variant

# conv name -> (in, out) channels, in forward order; a pool follows the last conv of each stage
_CONVS = {
    "conv1a": (3, 64),
    "conv2a": (64, 128),
    "conv3a": (128, 256),
    "conv3b": (256, 256),
    "conv4a": (256, 512),
    "conv4b": (512, 512),
    "conv5a": (512, 512),
    "conv5b": (512, 512),
}


class C3D(nn.Module):
    """C3D backbone: ``(N, 3, 16, 112, 112)`` -> ``(N, 4096)`` (``fc7`` features, after ReLU).

    Args:
        pretrained: Weights to start from, loaded by ``init_weights`` (a file, a URL, or a
            recognizer checkpoint whose ``backbone.*`` are taken), e.g. MMAction2's Sports-1M
            C3D.
        style: Accepted for MMAction2 compatibility; C3D has no strided convs, so it changes
            nothing (as in MMAction2).
        conv_cfg: Conv layer config; None: ``Conv3d``.
        norm_cfg: Norm layer config; None: no norm (the convs then have a bias).
        act_cfg: Activation config of the convs; None: ReLU.
        out_dim: Length of the flattened last map, the input of ``fc6`` (8192 at 16 x 112 x 112).
        dropout_ratio: Dropout between ``fc6`` and ``fc7``.
        init_std: Std of the ``fc6``/``fc7`` weight init.
    """

    def __init__(
        self,
        pretrained: str | None = None,
        style: str = "pytorch",
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = None,
        act_cfg: Mapping | None = None,
        out_dim: int = 8192,
        dropout_ratio: float = 0.5,
        init_std: float = 0.005,
    ) -> None:
        super().__init__()
        self.pretrained = pretrained
        self.style = style
        self.conv_cfg = frozen(type="Conv3d") if conv_cfg is None else conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = frozen(type="ReLU") if act_cfg is None else act_cfg
        self.out_dim = out_dim
        self.dropout_ratio = dropout_ratio
        self.init_std = init_std

        for name, (cin, cout) in _CONVS.items():
            conv = ConvModule(
                cin,
                cout,
                kernel_size=(3, 3, 3),
                padding=(1, 1, 1),
                conv_cfg=self.conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=self.act_cfg,
            )
            self.add_module(name, conv)
        # The first pool keeps time; the last pads space so 7x7 maps give 4x4.
        self.pool1 = nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.pool2 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2))
        self.pool3 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2))
        self.pool4 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2))
        self.pool5 = nn.MaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 1, 1))

        self.fc6 = nn.Linear(out_dim, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(p=dropout_ratio)
        for fc in (self.fc6, self.fc7):
            nn.init.normal_(fc.weight, 0, init_std)
            nn.init.zeros_(fc.bias)

    def init_weights(self) -> LoadReport | None:
        """Load ``self.pretrained`` (called when training starts, never while building)."""
        if self.pretrained is None:
            return None
        return load_pretrained(self, self.pretrained)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.conv1a(x))  # (N, 64, T, H/2, W/2)
        x = self.pool2(self.conv2a(x))  # (N, 128, T/2, H/4, W/4)
        x = self.pool3(self.conv3b(self.conv3a(x)))  # (N, 256, T/4, H/8, W/8)
        x = self.pool4(self.conv4b(self.conv4a(x)))  # (N, 512, T/8, H/16, W/16)
        x = self.pool5(self.conv5b(self.conv5a(x)))  # (N, 512, 1, 4, 4) at 16 x 112 x 112
        if x[0].numel() != self.out_dim:
            raise ValueError(
                f"C3D(out_dim={self.out_dim}) got a last map of {tuple(x.shape[1:])} = "
                f"{x[0].numel()} values: give clips of 16 frames at 112x112 (the published "
                "weights' size), or build C3D with out_dim for your size"
            )
        x = x.flatten(1)  # (N, out_dim)
        x = self.dropout(self.relu(self.fc6(x)))
        return self.relu(self.fc7(x))  # (N, 4096)


# --- variants -------------------------------------------------------------------------------


@variant(
    clip_shape=(3, 16, 112, 112),
    sampling=(16, 1, 10),
    num_classes=101,
    fixed_size=True,
    mean=(104.0, 117.0, 128.0),
    std=(1.0, 1.0, 1.0),
    url="https://download.openmmlab.com/mmaction/v1.0/recognition/c3d/"
    "c3d_sports1m-pretrained_8xb30-16x1x1-45e_ucf101-rgb/"
    "c3d_sports1m-pretrained_8xb30-16x1x1-45e_ucf101-rgb_20220811-31723200.pth",
)
def c3d_sports1m_16x1x1(num_classes: int = 101, pretrained: str | None = None) -> Recognizer3D:
    """C3D fine-tuned on UCF-101 from Sports-1M, 16 consecutive frames at 112 px.

    As MMAction2's ``configs/_base_/models/c3d_sports1m_pretrained.py``; pass
    ``pretrained=C3D_SPORTS1M`` to start from the Sports-1M backbone instead.
    """
    backbone = C3D(pretrained=pretrained, dropout_ratio=0.5, init_std=0.005)
    head = I3DHead(
        num_classes=num_classes,
        in_channels=4096,
        spatial_type=None,
        dropout_ratio=0.5,
        init_std=0.01,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=(104, 117, 128), std=(1, 1, 1), format_shape="NCTHW")
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


# MMAction2's Sports-1M C3D backbone (what its UCF-101 config starts from).
C3D_SPORTS1M = (
    "https://download.openmmlab.com/mmaction/recognition/c3d/"
    "c3d_sports1m_pretrain_20201016-dcc47ddc.pth"
)
