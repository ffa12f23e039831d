"""Named model variants: ``create_model('tsm_r50_1x1x8', num_classes=174)``.

Each variant is one small function with its sizes named, building the same modules as the
matching MMAction2 config (``configs/_base_/models/tsn_r50.py``, ``tsm_r50.py``), so the
config's checkpoints load into it. Backbones start from random weights unless
``pretrained='/path/to/torchvision_resnet.pth'`` is given.
"""

from __future__ import annotations

from collections.abc import Callable

from vidlab.models.backbones.resnet import ResNet
from vidlab.models.backbones.resnet_tsm import ResNetTSM
from vidlab.models.heads import TSMHead, TSNHead
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer2D

# ImageNet mean/std in 0..255 pixel units, as MMAction2's configs use.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)

_FEAT_DIM = {18: 512, 34: 512, 50: 2048, 101: 2048, 152: 2048}


def _preprocessor() -> ActionDataPreprocessor:
    return ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCHW")


def _tsn(
    depth: int, num_classes: int, pretrained: str | None = None, **backbone_kwargs
) -> Recognizer2D:
    backbone = ResNet(depth=depth, pretrained=pretrained, norm_eval=False, **backbone_kwargs)
    head = TSNHead(
        num_classes=num_classes,
        in_channels=_FEAT_DIM[depth],
        dropout_ratio=0.4,
        init_std=0.01,
        average_clips="prob",
    )
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=_preprocessor())


def _tsm(
    depth: int,
    num_segments: int,
    num_classes: int,
    pretrained: str | None = None,
    **backbone_kwargs,
) -> Recognizer2D:
    backbone = ResNetTSM(
        depth=depth,
        num_segments=num_segments,
        shift_div=8,
        pretrained=pretrained,
        norm_eval=False,
        **backbone_kwargs,
    )
    head = TSMHead(
        num_classes=num_classes,
        in_channels=_FEAT_DIM[depth],
        num_segments=num_segments,
        dropout_ratio=0.5,
        init_std=0.001,
        is_shift=True,
        average_clips="prob",
    )
    return Recognizer2D(backbone=backbone, cls_head=head, data_preprocessor=_preprocessor())


def tsn_r18_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSN with ResNet-18, 8 segments of 1 frame (Wang et al., 2016)."""
    return _tsn(depth=18, num_classes=num_classes, **kwargs)


def tsn_r50_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSN with ResNet-50, 8 segments of 1 frame (Wang et al., 2016)."""
    return _tsn(depth=50, num_classes=num_classes, **kwargs)


def tsm_r18_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with ResNet-18, 8 segments, shift 1/8 of the channels each way (Lin et al., 2019)."""
    return _tsm(depth=18, num_segments=8, num_classes=num_classes, **kwargs)


def tsm_r50_1x1x8(num_classes: int = 400, **kwargs) -> Recognizer2D:
    """TSM with ResNet-50, 8 segments, shift 1/8 of the channels each way (Lin et al., 2019)."""
    return _tsm(depth=50, num_segments=8, num_classes=num_classes, **kwargs)


_MODELS: dict[str, Callable[..., Recognizer2D]] = {
    f.__name__: f for f in (tsn_r18_1x1x8, tsn_r50_1x1x8, tsm_r18_1x1x8, tsm_r50_1x1x8)
}


def list_models() -> list[str]:
    """Names accepted by ``create_model``, sorted."""
    return sorted(_MODELS)


def create_model(name: str, num_classes: int = 400, **kwargs) -> Recognizer2D:
    """Build a named variant.

    Args:
        name: One of ``list_models()``.
        num_classes: Classes of the head.
        **kwargs: ``pretrained`` (a local torchvision ResNet file) and other backbone arguments
            (``frozen_stages``, ``partial_bn``, ``with_cp``, ...).
    """
    if name not in _MODELS:
        import difflib

        close = difflib.get_close_matches(name, _MODELS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Known: {', '.join(list_models())}")
    return _MODELS[name](num_classes=num_classes, **kwargs)
