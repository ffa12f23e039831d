"""``timm.``/``torchvision.`` backbone types of MMAction2's TSN custom-backbone configs.

Neither library is installed here (torchvision has no CPU wheel on this platform and timm needs
it): the missing-package error is tested as it is, the build paths with stand-in modules.
"""

import sys
import types

import pytest
import torch
import torch.nn as nn

from vidlab.config import ConfigError, build
from vidlab.models.pretrained import init_pretrained


class _TinyTimm(nn.Module):
    """Stands in for a timm model: ``forward_features`` gives NHWC (Swin) or NLC tokens."""

    def __init__(self, layout: str) -> None:
        super().__init__()
        self.layout = layout
        self.patch = nn.Conv2d(3, 6, 4, stride=4)
        self.head = nn.Identity()

    def forward_features(self, x):
        x = self.patch(x)  # (N, 6, h, w)
        if self.layout == "NHWC":
            return x.permute(0, 2, 3, 1)
        return x.flatten(2).transpose(1, 2)  # (N, L, 6)

    def init_weights(self, mode=""):  # timm's own, with another meaning: must not be called
        raise AssertionError("timm's init_weights was called")


@pytest.fixture
def fake_timm(monkeypatch):
    calls = []
    timm = types.ModuleType("timm")
    timm_models = types.ModuleType("timm.models")

    def create_model(name, pretrained=False, num_classes=1000, layout="NHWC"):
        calls.append(("create", name, pretrained, num_classes))
        return _TinyTimm(layout)

    def load_pretrained(model, num_classes=1000, strict=True):
        calls.append(("load", model.model_name, num_classes))

    timm.create_model = create_model
    timm.models = timm_models
    timm_models.load_pretrained = load_pretrained
    monkeypatch.setitem(sys.modules, "timm", timm)
    monkeypatch.setitem(sys.modules, "timm.models", timm_models)
    return calls


def _recognizer(backbone: dict, in_channels: int) -> dict:
    head = dict(type="TSNHead", num_classes=5, in_channels=in_channels, average_clips="prob")
    return dict(type="Recognizer2D", backbone=backbone, cls_head=head)


@pytest.mark.parametrize("layout, shape", [("NHWC", "NHWC"), ("NLC", None)])
def test_timm_backbone_features_are_pooled_as_mmaction2(fake_timm, layout, shape):
    backbone = dict(type="timm.swin_base_patch4_window7_224", pretrained=True, layout=layout)
    if shape:
        backbone["feature_shape"] = shape
    model = build(_recognizer(backbone, 6)).eval()
    assert fake_timm == [("create", "swin_base_patch4_window7_224", False, 0)]  # no download
    clips = torch.randint(0, 256, (2, 3, 4, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        logits = model(clips)
        x = model.data_preprocessor(clips).transpose(1, 2).reshape(8, 3, 32, 32)
        pooled = model.backbone.patch(x).mean(dim=(2, 3))  # (N*T, 6)
        expected = model.cls_head.fc_cls(pooled.reshape(2, 4, 6).mean(1))
    assert logits.shape == (2, 5)
    torch.testing.assert_close(logits, expected)
    assert "backbone.patch.weight" in model.state_dict()  # timm's own keys, as MMAction2's
    init_pretrained(model)  # pretrained=True is loaded here, by timm
    assert fake_timm[-1] == ("load", "swin_base_patch4_window7_224", 0)


def test_torchvision_backbone_uses_features_and_drops_the_classifier(monkeypatch):
    tv = types.ModuleType("torchvision")
    tv_models = types.ModuleType("torchvision.models")

    class TinyDense(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Conv2d(3, 7, 3, padding=1)
            self.classifier = nn.Linear(7, 1000)

    loaded = []
    tv_models.densenet161 = TinyDense

    def get_model(name, weights=None):
        loaded.append((name, weights))
        return TinyDense()

    tv_models.get_model = get_model
    tv.models = tv_models
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.models", tv_models)
    model = build(_recognizer(dict(type="torchvision.densenet161", pretrained=True), 7)).eval()
    assert isinstance(model.backbone.classifier, nn.Identity)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 2, 16, 16) * 255).shape == (1, 5)
    init_pretrained(model)
    assert loaded == [("densenet161", "DEFAULT")]


@pytest.mark.parametrize(
    "name, package", [("torchvision.densenet161", "torchvision"), ("timm.swin_tiny", "timm")]
)
def test_missing_library_is_one_clear_config_error(monkeypatch, name, package):
    monkeypatch.setitem(sys.modules, package, None)  # importing it now fails
    with pytest.raises(ConfigError) as info:
        build(_recognizer(dict(type=name, pretrained=True), 8), key_path="model")
    message = str(info.value)
    assert f"pip install {package}" in message and "\n" not in message
    assert "model.backbone" in message and name in message
