"""Write the RGBPoseConv3D training-step fixture: run inside MMAction2's reference environment.

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/rgbpose_train.py

``make_fixtures.py`` checks eval-mode logits; this checks one training step of MMAction2's
``MMRecognizer3D`` (the rgbpose_conv3d config's model, head dropout set to 0 so that the step is
deterministic; the laterals' drop paths are 0 in the config) with the weights of the eval
fixture ``rgbpose_conv3d_ntu60``, in train mode, on a batch of two samples (RGB 8 x 64 x 64,
heatmaps 32 x 16 x 16 in [0, 1]): its loss dict (``rgb_loss_cls``, ``pose_loss_cls``, each
weighted by ``loss_weights``; MMEngine sums the keys holding ``loss``) is backpropagated.
Saved: the two losses, the gradients of a few tensors of both pathways, their laterals and
both classifiers, and BatchNorm running statistics after the step. The losses and statistics
in float32, as training runs; the gradients in float64 (in float32 those of the first layers,
through training-mode BatchNorm of a deep random net, differ by ~1% from their float64 values in
MMAction2 and vidlab alike, so float32 could not tell a wrong step from rounding).
``tests/tasks/test_multimodal.py`` repeats the step through vidlab's task
(``MultiModalRecognitionTask.prepare`` / ``loss_terms``) and engine (``loop.forward``).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_fixtures import OUT, _mm_inputs, _set  # noqa: E402
from seeded import seeded_state_dict  # noqa: E402

EVAL_FIXTURE = OUT / "rgbpose_conv3d_ntu60.pt"
TRAIN_FIXTURE = OUT.parent / "parity_train" / "rgbpose_conv3d_train_step.pt"
CHANGES = {"cls_head.dropout": 0.0}
# The eval fixture scales the classifiers for eval-mode features (BatchNorm with its seeded
# running statistics); with batch statistics the features are smaller and its logits ~0 (every
# loss ln 60): these scales give logits of O(1) in train mode.
CLS_SCALE = {f"cls_head.fc_{s}.{p}": 0.5 for s in ("rgb", "pose") for p in ("weight", "bias")}
GRADS = (  # small tensors, to keep the file small
    "backbone.rgb_path.conv1.bn.weight",
    "backbone.rgb_path.layer2.0.conv1.bn.weight",
    "backbone.rgb_path.layer4.2.conv3.bn.bias",
    "backbone.pose_path.conv1.bn.weight",
    "backbone.pose_path.layer3.2.conv3.bn.weight",
    "backbone.pose_path.layer1_lateral.bn.weight",
    "cls_head.fc_rgb.bias",
    "cls_head.fc_pose.bias",
)
# large tensors: only their first two output channels are saved
SLICED = ("backbone.rgb_path.layer2_lateral.conv.weight", "cls_head.fc_pose.weight")
STATS = (
    "backbone.rgb_path.conv1.bn.running_mean",
    "backbone.rgb_path.layer3.0.conv2.bn.running_var",
    "backbone.pose_path.layer2.0.conv1.bn.running_mean",
    "backbone.pose_path.layer3.2.conv3.bn.running_var",
    "backbone.pose_path.layer1_lateral.bn.running_mean",
)


def _step(fixture, inputs, labels, dtype):
    """One step of a fresh model in ``dtype``: (loss terms, parameters, buffers)."""
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample

    model_cfg = copy.deepcopy(fixture["model"])
    for key, value in CHANGES.items():
        _set(model_cfg, key, value)
    model = MODELS.build(model_cfg)
    state = seeded_state_dict(fixture["spec"], fixture["seed"], {**fixture["scale"], **CLS_SCALE})
    model.load_state_dict(state, strict=True)
    model.to(dtype).train()
    samples = [ActionDataSample().set_gt_label(int(y)) for y in labels]
    floats = {"imgs": inputs["imgs"], "heatmap_imgs": inputs["heatmap_imgs"].float() / 255}
    data = model.data_preprocessor(
        dict(inputs=_mm_inputs(floats, "MM"), data_samples=samples), True
    )
    # its preprocessor casts inputs without mean/std (the heatmaps) to float32: exact in float64
    batch = {k: v.to(dtype) for k, v in data["inputs"].items()}
    losses = model(batch, data["data_samples"], mode="loss")
    terms = {k: v for k, v in losses.items() if "loss" in k}  # MMEngine's parse_losses
    sum(terms.values()).backward()
    return terms, dict(model.named_parameters()), dict(model.named_buffers())


def main() -> None:
    from mmaction.utils import register_all_modules

    register_all_modules()
    fixture = torch.load(EVAL_FIXTURE, weights_only=True)
    gen = torch.Generator().manual_seed(7)
    inputs = {
        "imgs": torch.randint(0, 256, (2, 3, 8, 64, 64), generator=gen, dtype=torch.uint8),
        "heatmap_imgs": torch.randint(
            0, 256, (2, 17, 32, 16, 16), generator=gen, dtype=torch.uint8
        ),
    }  # heatmaps saved as uint8 (a quarter of the bytes); the model gets them / 255 in [0, 1]
    labels = torch.tensor([5, 42])
    terms, _, buffers = _step(fixture, inputs, labels, torch.float32)
    terms64, params, _ = _step(fixture, inputs, labels, torch.float64)
    TRAIN_FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        dict(
            mmaction2="1.2.0",
            eval_fixture=EVAL_FIXTURE.name,
            changes=CHANGES,
            cls_scale=CLS_SCALE,
            inputs=inputs,
            labels=labels,
            losses={k: v.detach() for k, v in terms.items()},  # float32
            stats={k: buffers[k].detach().clone() for k in STATS},  # float32
            losses64={k: v.detach() for k, v in terms64.items()},
            grads={k: params[k].grad.detach().clone() for k in GRADS},  # float64
            sliced={k: params[k].grad[:2].detach().clone() for k in SLICED},  # float64
        ),
        TRAIN_FIXTURE,
    )
    print(f"{TRAIN_FIXTURE}: {TRAIN_FIXTURE.stat().st_size / 1024:.0f} KiB; losses {terms}")


if __name__ == "__main__":
    main()
