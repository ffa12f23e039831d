"""TPN: training-mode losses against MMAction2, the auxiliary loss in a training step, mixup
and label smoothing with it, and how test views of ``k * 8`` frames are merged.

Eval-mode logits against MMAction2 are in ``test_parity.py`` (fixtures ``tpn_*``); the
training-mode losses recorded in the same fixtures are checked here.
"""

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from vidlab.checkpoint import load_weights
from vidlab.config import build
from vidlab.models.blending import MixupBlending
from vidlab.models.heads.tpn import TPNHead
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer2D, RecognizerOutput
from vidlab.models.tpn import TPN
from vidlab.models.tsm import ResNetTSM
from vidlab.tasks.recognition import RecognitionTask

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "parity").glob("tpn_*.pt"))


def _seeded():
    spec = importlib.util.spec_from_file_location("seeded", ROOT / "tools/parity/seeded.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _small_tpn(num_classes: int = 4, aux: bool = True, flow_type: str = "cascade") -> Recognizer2D:
    """TPN on a ResNet-18 TSM: the configs' structure at a quarter of the widths."""
    torch.manual_seed(0)
    neck = TPN(
        in_channels=(256, 512),
        out_channels=256,
        spatial_modulation_cfg=dict(in_channels=(256, 512), out_channels=512),
        temporal_modulation_cfg=dict(downsample_scales=(8, 8)),
        upsample_cfg=dict(scale_factor=(1, 1, 1)),
        downsample_cfg=dict(downsample_scale=(1, 1, 1)),
        level_fusion_cfg=dict(
            in_channels=(256, 256),
            mid_channels=(256, 256),
            out_channels=512,
            downsample_scales=((1, 1, 1), (1, 1, 1)),
        ),
        aux_head_cfg=dict(out_channels=num_classes, loss_weight=0.5) if aux else None,
        flow_type=flow_type,
    )
    return Recognizer2D(
        backbone=ResNetTSM(depth=18, out_indices=(2, 3), num_segments=8),
        neck=neck,
        cls_head=TPNHead(num_classes, 2048, dropout_ratio=0.5, average_clips="prob"),
        data_preprocessor=ActionDataPreprocessor(
            mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), format_shape="NCHW"
        ),
        test_cfg=dict(fcn_test=True),
    )


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_training_losses_match_mmaction2(path):
    """``loss_cls`` and ``loss_aux`` in training mode (BN on batch statistics, dropout off),
    with hard labels and with soft labels plus label smoothing of the head."""
    fixture = torch.load(path, weights_only=True)
    assert fixture["train"], "the fixture has no training-mode record"
    seeded = _seeded()
    state = seeded.seeded_state_dict(fixture["spec"], fixture["seed"], fixture["scale"])
    model = build(fixture["model"], key_path="model")
    assert load_weights(model, {"state_dict": state}, strict=True).ok
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    model.train()
    for record in fixture["train"]:
        model.cls_head.label_smooth_eps = record["label_smooth_eps"]
        with torch.no_grad():
            outputs = model(record["clips"])
            losses = model.loss(outputs, record["labels"])
        assert isinstance(outputs, RecognizerOutput)
        assert set(losses) == set(record["losses"]) == {"loss_cls", "loss_aux"}
        for name, expected in record["losses"].items():
            assert abs(losses[name] - expected) <= 1e-5 * abs(expected), (name, losses[name])


def test_training_steps_lower_both_losses():
    """The engine's step (task.prepare, model(inputs), task.loss, backward, SGD) on a fixed
    random batch: both terms are there, summed, and go down."""
    model = _small_tpn()
    task = RecognitionTask()
    torch.manual_seed(1)
    batch = {
        "clips": torch.randint(0, 256, (4, 1, 3, 8, 32, 32), dtype=torch.uint8),
        "label": torch.tensor([0, 1, 2, 3]),
    }
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    for m in model.modules():  # a fixed objective: no dropout noise between steps
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    history = []
    for _ in range(4):
        inputs, targets = task.prepare(batch, torch.device("cpu"), model=model)
        outputs = model(inputs)
        parts = model.loss(outputs, targets)
        loss = task.loss(model, outputs, targets)
        assert set(parts) == {"loss_cls", "loss_aux"}
        assert torch.allclose(loss, parts["loss_cls"] + parts["loss_aux"])
        optimizer.zero_grad()
        loss.backward()
        assert model.neck.aux_head.fc.weight.grad.abs().sum() > 0
        optimizer.step()
        history.append({k: v.item() for k, v in parts.items()})
    assert history[-1]["loss_cls"] < history[0]["loss_cls"]
    assert history[-1]["loss_aux"] < history[0]["loss_aux"]


def test_aux_loss_with_mixup_and_label_smoothing():
    """Mixup's soft labels reach both terms; label smoothing is the head's only (MMAction2's
    ``AuxHead.loss`` takes the labels as given), and ``loss_weight`` scales the aux term."""
    model = _small_tpn()
    model.data_preprocessor.blending = MixupBlending(num_classes=4, alpha=0.2)
    model.cls_head.label_smooth_eps = 0.2
    task = RecognitionTask()
    torch.manual_seed(2)
    batch = {
        "clips": torch.randint(0, 256, (2, 1, 3, 8, 32, 32), dtype=torch.uint8),
        "label": torch.tensor([0, 3]),
    }
    inputs, targets = task.prepare(batch, torch.device("cpu"), model=model)
    assert targets.shape == (2, 4) and targets.is_floating_point()  # soft labels
    model.train()
    outputs = model(inputs)
    parts = model.loss(outputs, targets)
    log_probs = outputs.aux_logits.log_softmax(1)
    expected_aux = 0.5 * -(targets * log_probs).sum(1).mean()
    assert torch.allclose(parts["loss_aux"], expected_aux)
    smoothed = 0.8 * targets + 0.2 / 4
    expected_cls = -(smoothed * outputs.logits.log_softmax(1)).sum(1).mean()
    assert torch.allclose(parts["loss_cls"], expected_cls)
    # one soft label for a batch of one
    one = model.neck.aux_loss(outputs.aux_logits[:1], targets[0])
    assert torch.allclose(one, 0.5 * -(targets[0] * log_probs[0]).sum())


def test_eval_is_logits_and_views_of_twice_the_frames_are_merged():
    """Eval mode returns plain logits; a view of 16 frames (``twice_sample``) is two pyramids
    of 8 whose probabilities are averaged, as MMAction2's ``fcn_test`` rows."""
    model = _small_tpn().eval()
    torch.manual_seed(3)
    clips = torch.randint(0, 256, (2, 3, 16, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        logits = model(clips)
        halves = [model(clips[:, :, i : i + 8]) for i in (0, 8)]
        assert model.forward_features(clips).shape[:2] == (2, 2)  # (N, k, D, t, h, w)
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, 4)
    merged = torch.stack([h.softmax(1) for h in halves]).mean(0)
    assert torch.allclose(logits.softmax(1), merged, atol=1e-6)
    model.train()  # training: every frame of a clip is one sequence; t = 16 / 8 = 2 steps
    model.neck.aux_head = None
    assert model(clips).shape == (2, 4)


def test_parallel_flow_no_aux_head_and_reset_classifier():
    cascade, parallel = _small_tpn(aux=False), _small_tpn(aux=False, flow_type="parallel")
    parallel.load_state_dict(cascade.state_dict())  # the same weights, another flow
    clips = torch.randint(0, 256, (2, 3, 8, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert not torch.allclose(cascade.eval()(clips), parallel.eval()(clips))
    cascade.train()
    assert isinstance(cascade(clips), torch.Tensor)  # no auxiliary head: logits, also training
    with pytest.raises(ValueError, match="flow_type"):
        _small_tpn(flow_type="diagonal")

    model = _small_tpn()
    model.reset_classifier(7)
    assert model.cls_head.fc_cls.out_features == model.neck.aux_head.fc.out_features == 7
