"""Backbones, one family per file."""

from vidlab.models.backbones.resnet import ResNet, load_torchvision_resnet
from vidlab.models.backbones.resnet_tsm import ResNetTSM

__all__ = ["ResNet", "ResNetTSM", "load_torchvision_resnet"]
