"""RGBPoseConv3D's head and recognizer: two logit sets, MMAction2's loss names and weights.

The whole two-stream model is checked against MMAction2 in ``test_parity.py``
(``rgbpose_conv3d_ntu60``: RGB 8 frames + 32 heatmap frames, bit for bit).
"""

import pytest
import torch
import torch.nn.functional as F

from vidlab.models.rgbpose import MMRecognizer3D, RGBPoseHead


class _TwoMaps(torch.nn.Module):
    """A stand-in backbone: the RGB and pose inputs, pooled into 8 and 4 channels."""

    def __init__(self):
        super().__init__()
        self.rgb = torch.nn.Conv3d(3, 8, 1)
        self.pose = torch.nn.Conv3d(17, 4, 1)

    def forward(self, imgs, heatmap_imgs):
        return self.rgb(imgs), self.pose(heatmap_imgs)


def _model(**head):
    torch.manual_seed(0)
    head = RGBPoseHead(num_classes=5, in_channels=(8, 4), average_clips="prob", **head)
    return MMRecognizer3D(backbone=_TwoMaps(), cls_head=head)


def _inputs(n=2):
    torch.manual_seed(1)
    imgs = torch.randint(0, 256, (n, 3, 2, 8, 8), dtype=torch.uint8)
    return imgs, torch.rand(n, 17, 8, 4, 4)


def test_two_logit_sets_and_keys():
    model = _model().eval()
    keys = set(model.state_dict())
    assert {"cls_head.fc_rgb.weight", "cls_head.fc_pose.weight"} <= keys
    assert not any("fc_cls" in k for k in keys)
    with torch.no_grad():
        logits = model(*_inputs())
        pooled = model.forward_head(model.forward_features(*_inputs()), pre_logits=True)
    assert set(logits) == {"rgb", "pose"} and logits["rgb"].shape == (2, 5)
    assert torch.allclose(model.cls_head.fc_pose(pooled[1]), logits["pose"], atol=1e-6)


def test_loss_is_mmaction2s_weighted_components():
    model = _model(loss_weights=[1.0, 0.5], dropout=0.0).train()
    logits = model(*_inputs())
    labels = torch.tensor([1, 3])
    losses = model.loss(logits, labels)
    assert set(losses) == {"rgb_loss_cls", "pose_loss_cls"}
    assert torch.allclose(losses["rgb_loss_cls"], F.cross_entropy(logits["rgb"], labels))
    assert torch.allclose(losses["pose_loss_cls"], 0.5 * F.cross_entropy(logits["pose"], labels))
    with pytest.raises(ValueError, match="2 loss_components"):
        RGBPoseHead(num_classes=5, in_channels=(8, 4), loss_weights=[1.0])


def test_views_averaged_per_component_and_reset():
    model = _model().eval()
    logits = {"rgb": torch.randn(6, 5), "pose": torch.randn(6, 5)}
    scores = model.average_views(logits, 3)
    assert torch.allclose(scores["rgb"], logits["rgb"].reshape(2, 3, 5).softmax(-1).mean(1))
    model.reset_classifier(7)
    with torch.no_grad():
        out = model(*_inputs())
    assert out["rgb"].shape == out["pose"].shape == (2, 7) and model.num_classes == 7
