"""OmniSource's model and image transforms: what the parity fixture (eval mode) does not show."""

import numpy as np
import pytest
import torch

from vidlab.data.images import ClsRandomResizedCrop, PackClsInputs, RandomFlip
from vidlab.models import create_model
from vidlab.models.heads.omni import OmniHead
from vidlab.models.omni import OmniResNet, RecognizerOmni
from vidlab.models.preprocess import ActionDataPreprocessor


def _small() -> RecognizerOmni:
    torch.manual_seed(0)
    return RecognizerOmni(
        OmniResNet(layers=(1, 1, 1, 1)),
        OmniHead(image_classes=5, video_classes=3, in_channels=2048),
        ActionDataPreprocessor(mean=[120.0] * 3, std=[60.0] * 3, format_shape="MIX2d3d"),
    )


def test_images_use_batch_statistics_without_updating_the_running_ones():
    model = _small().train()
    bns = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    assert bns and all(bn.momentum == 0.01 for bn in bns)
    before = [bn.running_mean.clone() for bn in bns]
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    assert model(images).shape == (4, 5)
    assert all(torch.equal(bn.running_mean, b) for bn, b in zip(bns, before))
    model(torch.randint(0, 256, (4, 3, 4, 32, 32), dtype=torch.uint8))  # videos update them
    assert not any(torch.equal(bn.running_mean, b) for bn, b in zip(bns, before))


def test_2d_path_sums_the_temporal_kernel():
    # a 1-frame clip through the 3D path sees only the centre tap of 3x1x1 kernels; the 2D path
    # sees their sum: with the outer taps zeroed, both agree
    model = _small().eval()
    with torch.no_grad():
        for m in model.backbone.modules():
            if isinstance(m, torch.nn.Conv3d) and m.weight.shape[2] == 3:
                m.weight[:, :, [0, 2]] = 0
        clips = torch.randint(0, 256, (2, 3, 1, 32, 32), dtype=torch.uint8)
        video = model.forward_features(clips)  # (2, 2048, 1, 1, 1)
        image = model.forward_features(clips[:, :, 0])  # (2, 2048, 1, 1)
    assert torch.allclose(video[:, :, 0], image, rtol=1e-5, atol=1e-5)


def test_inputs_of_other_ranks_and_formats_are_refused():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        _small()(torch.zeros(2, 3, 32))
    with pytest.raises(ValueError, match="expected clips of shape"):
        ActionDataPreprocessor(format_shape="NCTHW")(torch.zeros(2, 3, 8, 8))
    x = torch.full((1, 3, 2, 2), 180.0)
    out = ActionDataPreprocessor([120.0] * 3, [60.0] * 3, format_shape="MIX2d3d")(x)
    assert out.shape == x.shape and torch.allclose(out, torch.ones_like(x))


def test_pretrain_2d_is_inflated_when_training_starts(tmp_path):
    from vidlab.models.pretrained import init_pretrained

    source = OmniResNet(layers=(1, 1, 1, 1))
    state2d = {
        k: (v.sum(2) if v.dim() == 5 else v) for k, v in source.state_dict().items()
    }  # a 2D ResNet with torchvision's names
    torch.save(state2d, tmp_path / "r50_2d.pth")
    backbone = OmniResNet(layers=(1, 1, 1, 1), pretrain_2d=str(tmp_path / "r50_2d.pth"))
    w2d = state2d["layer3.0.conv1.weight"]
    assert not torch.allclose(backbone.layer3[0].conv1.weight.sum(2), w2d)  # nothing read yet
    (name, report), *_ = init_pretrained(backbone)
    assert report.ok
    w3d = backbone.layer3[0].conv1.weight  # (O, I, 3, 1, 1): the 2D kernel / 3 per tap
    assert torch.allclose(w3d, w2d.unsqueeze(2).expand_as(w3d) / 3)


def test_variant_and_reset_classifier():
    model = create_model("omni_slowonly_r50_8x8x1", num_classes=7)
    assert model.num_classes == 7 and model.cls_head.image_classes == 1000
    assert model.num_features == 14  # the video head's hidden layer, 2 x classes
    model.reset_classifier(4)
    assert model.cls_head.fc3d[-1].out_features == 4 and model.num_features == 14
    assert model.default_cfg.url.endswith("_20230208-61c4be0d.pth")


def test_label_smoothing_uses_each_kind_of_logits():
    head = OmniHead(image_classes=5, video_classes=3, in_channels=8, label_smooth_eps=0.1)
    labels = torch.tensor([1, 2])
    for k in (3, 5):
        loss = head.loss(torch.zeros(2, k), labels)
        assert torch.allclose(loss, torch.tensor(np.log(k), dtype=torch.float32))


def test_mmpretrain_random_resized_crop():
    img = np.arange(40 * 60 * 3, dtype=np.uint8).reshape(40, 60, 3)
    crop = ClsRandomResizedCrop(scale=(16, 24))
    np.random.seed(0)
    out = crop({"img": img})
    assert out["img"].shape == (16, 24, 3) and out["img_shape"] == (16, 24)
    # no draw fits (max_attempts=0): the centre, clamped to the aspect ratio range
    assert ClsRandomResizedCrop(8, max_attempts=0).crop_params(40, 60) == (0, 3, 40, 53)
    assert ClsRandomResizedCrop(8, max_attempts=0).crop_params(60, 30) == (10, 0, 40, 30)
    with pytest.raises(ValueError, match=r"\(min, max\)"):
        ClsRandomResizedCrop(8, crop_ratio_range=(1.0, 0.5))


def test_random_flip_and_pack():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = RandomFlip(prob=1.0, direction="horizontal")({"img": img, "gt_label": 4})
    assert out["flip"] and np.array_equal(out["img"], img[:, ::-1])
    out = RandomFlip(prob=0.0)({"img": img})
    assert not out["flip"] and out["flip_direction"] is None
    with pytest.raises(ValueError, match="direction"):
        RandomFlip(prob=0.5, direction="sideways")
    sample = PackClsInputs()({"img": img[:, ::-1], "gt_label": 4, "sample_idx": 7})
    assert sample["clips"].shape == (3, 2, 3) and int(sample["label"]) == 4
    assert sample["index"] == 7 and torch.equal(sample["clips"][:, 0, 0], torch.tensor([6, 7, 8]))


def test_training_step_matches_mmaction2():
    """One step on a video batch and an image batch, as MMAction2's RecognizerOmni.loss
    (fixture by tools/parity/omni_train.py): the losses, gradients of the summed loss and the
    BatchNorm running statistics after it."""
    import importlib.util
    from pathlib import Path

    from vidlab.checkpoint import load_weights
    from vidlab.config import build
    from vidlab.tasks.recognition import RecognitionTask

    root = Path(__file__).resolve().parents[2]
    fixture = torch.load(
        root / "tests/fixtures/parity_train/omni_slowonly_r50_8x8x1_train_step.pt",
        weights_only=True,
    )
    spec = importlib.util.spec_from_file_location("seeded", root / "tools/parity/seeded.py")
    seeded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seeded)
    weights = torch.load(
        root / "tests/fixtures/parity" / fixture["eval_fixture"], weights_only=True
    )
    model_cfg = dict(weights["model"])
    model_cfg["cls_head"] = {**model_cfg["cls_head"], "image_dropout_ratio": 0.0}
    model_cfg["cls_head"]["video_dropout_ratio"] = 0.0
    model = build(model_cfg)
    state = seeded.seeded_state_dict(weights["spec"], weights["seed"], weights["scale"])
    assert load_weights(model, {"state_dict": state}, strict=True).ok
    model.double().train()  # as the fixture: float32 gradients here are ill-conditioned
    task = RecognitionTask()
    batches = [
        {"clips": fixture["clips"][:, None], "label": fixture["video_labels"]},  # (B, V=1, ...)
        {"clips": fixture["images"], "label": fixture["image_labels"]},  # (B, C, H, W)
    ]
    losses = []
    for batch in batches:  # what the engine's step does with other_loaders
        x, y = task.prepare(batch, torch.device("cpu"), model=model)
        losses.append(task.loss(model, model(x), y))
    sum(losses).backward()

    def rel(a, b):
        return ((a - b).abs().max() / b.abs().max()).item()

    for got, key in zip(losses, ("loss_cls_0", "loss_cls_1")):
        assert rel(got.detach(), fixture["losses"][key]) <= 1e-12, key
    params, buffers = dict(model.named_parameters()), dict(model.named_buffers())
    for key, grad in fixture["grads"].items():
        assert rel(params[key].grad, grad) <= 1e-9, key  # float64 rounding: ~3e-13
    for key, value in fixture["stats"].items():
        assert rel(buffers[key], value) <= 1e-12, key
