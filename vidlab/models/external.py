"""Backbones from timm and torchvision, named as MMAction2's configs name them.

``backbone=dict(type='timm.swin_base_patch4_window7_224', pretrained=True, feature_shape='NHWC')``
builds ``timm.create_model('swin_base_patch4_window7_224', num_classes=0)``;
``type='torchvision.densenet161'`` builds ``torchvision.models.densenet161()`` with its
classifier (``classifier`` and ``fc``) replaced by ``nn.Identity``. The model itself is the
backbone, so MMAction2's checkpoints (``backbone.<the library's keys>``) load unchanged; it is
marked ``backbone_from`` (``'timm'`` / ``'torchvision'``) and ``feature_shape``, which
``Recognizer2D`` reads to take and pool the features as MMAction2's ``extract_feat`` does.

Building never downloads: ``pretrained=True`` is kept in ``model.pretrained`` and the
library's ImageNet weights are fetched by ``init_weights`` (when training starts, or by
``create_model``). Neither library is a dependency of vidlab: when one is missing, the config
type is reported with the package to install (``vidlab.config.resolve``).
"""

from __future__ import annotations

import importlib

import torch.nn as nn

from vidlab.checkpoint import LoadReport

# config type prefix -> (package, builder in this module)
PREFIXES = {
    "timm.": ("timm", "timm_backbone"),
    "torchvision.": ("torchvision", "torchvision_backbone"),
}


def _mark(model: nn.Module, source: str, name: str, feature_shape, pretrained) -> nn.Module:
    """Give ``model`` vidlab's backbone hooks without changing its class's keys or forward."""

    def init_weights(self) -> LoadReport | None:
        if not self.pretrained:
            return None
        (_load_timm if source == "timm" else _load_torchvision)(self, name)
        return None

    # A subclass per instance: init_weights is vidlab's (timm models have their own
    # init_weights with another meaning), everything else stays the library's.
    cls = type(model)
    model.__class__ = type(cls.__name__, (cls,), {"init_weights": init_weights})
    model.backbone_from = source
    model.feature_shape = feature_shape
    model.pretrained = pretrained or None
    model.model_name = name
    return model


def timm_backbone(model_name: str, feature_shape: str | None = None, pretrained=False, **kwargs):
    """``timm.create_model(model_name, num_classes=0, **kwargs)``, marked for Recognizer2D.

    Args:
        model_name: timm's model name (the config type without ``timm.``).
        feature_shape: ``'NCHW'``, ``'NHWC'`` or ``'NLC'`` layout of ``forward_features``;
            None: read off its rank (3: NLC, 4: NCHW), as MMAction2 does.
        pretrained: Load timm's pretrained weights in ``init_weights``.
        **kwargs: Passed to ``timm.create_model``.
    """
    timm = importlib.import_module("timm")
    kwargs["num_classes"] = 0  # no classifier: the recognizer has its head
    model = timm.create_model(model_name, pretrained=False, **kwargs)
    return _mark(model, "timm", model_name, feature_shape, pretrained)


def torchvision_backbone(
    model_name: str, feature_shape: str | None = None, pretrained=False, **kwargs
):
    """``torchvision.models.<model_name>(**kwargs)`` without its classifier, marked.

    Args:
        model_name: The constructor's name in ``torchvision.models``.
        feature_shape: Layout of the features, as for :func:`timm_backbone`.
        pretrained: Load torchvision's default weights in ``init_weights``.
        **kwargs: Passed to the constructor.
    """
    models = importlib.import_module("torchvision.models")
    model = models.__dict__[model_name](**kwargs)
    model.classifier = nn.Identity()
    model.fc = nn.Identity()
    return _mark(model, "torchvision", model_name, feature_shape, pretrained)


def _load_timm(model: nn.Module, name: str) -> None:
    load_pretrained = importlib.import_module("timm.models").load_pretrained
    load_pretrained(model, num_classes=0, strict=False)


def _load_torchvision(model: nn.Module, name: str) -> None:
    models = importlib.import_module("torchvision.models")
    twin = models.get_model(name, weights="DEFAULT")  # handles old key layouts (DenseNet)
    twin.classifier = nn.Identity()
    twin.fc = nn.Identity()
    model.load_state_dict(twin.state_dict())
