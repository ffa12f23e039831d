"""Write the OmniSource training-step fixture: run inside MMAction2's reference environment.

    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/omni_train.py

``make_fixtures.py`` checks eval-mode logits; this checks one training step of MMAction2's
``RecognizerOmni`` on a video batch and an image batch together: its model (the omnisource
config's model dict, dropout set to 0 so the step is deterministic) with the weights of the
eval fixture ``omni_slowonly_r50_8x8x1_imagenet_k400``, in train mode, computes
``loss_cls_0`` (videos) and ``loss_cls_1`` (images); their sum is backpropagated. Saved: the
losses, the gradients of a few tensors and BatchNorm running statistics after the step
In float64 (see below). (MMAction2's image path normalizes with batch statistics and leaves the running ones alone,
except the head's ``fc2d`` BatchNorm1d). ``tests/models/test_omni.py`` repeats the step with
vidlab's engine functions.
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

EVAL_FIXTURE = OUT / "omni_slowonly_r50_8x8x1_imagenet_k400.pt"
TRAIN_FIXTURE = OUT.parent / "parity_train" / "omni_slowonly_r50_8x8x1_train_step.pt"
CHANGES = {"cls_head.image_dropout_ratio": 0.0, "cls_head.video_dropout_ratio": 0.0}
GRADS = (  # small tensors, to keep the file small; every stage and both heads
    "backbone.conv1.weight",
    "backbone.layer1.0.bn1.weight",
    "backbone.layer3.0.bn1.weight",
    "backbone.layer4.2.bn3.weight",
    "cls_head.fc2d.2.weight",
    "cls_head.fc2d.4.bias",
    "cls_head.fc3d.3.weight",
    "cls_head.fc3d.6.bias",
)
STATS = (
    "backbone.bn1.running_mean",
    "backbone.layer2.0.downsample.1.running_var",
    "backbone.layer4.2.bn3.running_mean",
    "cls_head.fc2d.2.running_mean",
    "cls_head.fc3d.3.running_var",
)


def main() -> None:
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    from mmaction.utils import register_all_modules

    register_all_modules()
    fixture = torch.load(EVAL_FIXTURE, weights_only=True)
    model_cfg = copy.deepcopy(fixture["model"])
    for key, value in CHANGES.items():
        _set(model_cfg, key, value)
    model = MODELS.build(model_cfg)
    state = seeded_state_dict(fixture["spec"], fixture["seed"], fixture["scale"])
    model.load_state_dict(state, strict=True)
    # float64: in float32 the gradients of this deep random net through training-mode
    # BatchNorm on a few values are ill-conditioned (MMAction2 and vidlab each differ from
    # their float64 result by up to 5%), so float32 could not tell a wrong step from rounding
    model.double().train()

    gen = torch.Generator().manual_seed(7)
    clips = torch.randint(0, 256, (3, 3, 8, 32, 32), generator=gen, dtype=torch.uint8)
    images = torch.randint(0, 256, (4, 3, 32, 32), generator=gen, dtype=torch.uint8)
    video_labels = torch.tensor([5, 399, 17])
    image_labels = torch.tensor([0, 999, 3, 3])

    def batch(x, labels):
        samples = [ActionDataSample().set_gt_label(int(y)) for y in labels]
        return dict(inputs=_mm_inputs(x, "MIX2d3d"), data_samples=samples)

    data = model.data_preprocessor((batch(clips, video_labels), batch(images, image_labels)), True)
    losses = model(*data, mode="loss")
    total = losses["loss_cls_0"] + losses["loss_cls_1"]
    total.backward()
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    TRAIN_FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        dict(
            mmaction2="1.2.0",
            eval_fixture=EVAL_FIXTURE.name,
            changes=CHANGES,
            clips=clips,
            images=images,
            video_labels=video_labels,
            image_labels=image_labels,
            losses={k: losses[k].detach() for k in ("loss_cls_0", "loss_cls_1")},
            grads={k: params[k].grad.detach().clone() for k in GRADS},
            stats={k: buffers[k].detach().clone() for k in STATS},
        ),
        TRAIN_FIXTURE,
    )
    print(f"{TRAIN_FIXTURE}: {TRAIN_FIXTURE.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
