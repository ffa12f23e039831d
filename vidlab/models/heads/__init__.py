"""Classification heads with MMAction2's arguments and keys (``cls_head.fc_cls.*``)."""

from vidlab.models.heads.base import AvgConsensus, BaseHead, PooledHead
from vidlab.models.heads.i3d import I3DHead
from vidlab.models.heads.slowfast import SlowFastHead
from vidlab.models.heads.trn import TRNHead
from vidlab.models.heads.tsm import TSMHead
from vidlab.models.heads.tsn import TSNHead
from vidlab.models.heads.x3d import X3DHead

__all__ = [
    "AvgConsensus",
    "BaseHead",
    "I3DHead",
    "PooledHead",
    "SlowFastHead",
    "TRNHead",
    "TSMHead",
    "TSNHead",
    "X3DHead",
]
