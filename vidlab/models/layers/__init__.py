"""Building blocks shared by backbones."""

from vidlab.models.layers.conv_module import ConvModule
from vidlab.models.layers.temporal_shift import TemporalShift, temporal_shift

__all__ = ["ConvModule", "TemporalShift", "temporal_shift"]
