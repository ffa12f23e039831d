"""A tiny recognizer and an in-memory dataset for the engine tests (fast on 2 CPU cores), and a
small convnet for the optimizer and parameter-group tests.

Imported by the test files as ``engine_helpers`` (a name of its own: ``from conftest import``
would pick up whichever ``conftest`` module pytest imported last, e.g. ``tests/deploy``'s).
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn


class TinyPreprocessor(nn.Module):
    """Normalizes raw pixels on the device (buffers not saved, as MMAction2's)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([114.0, 114.0, 114.0]).view(3, 1, 1, 1), False)
        self.register_buffer("std", torch.tensor([58.0, 58.0, 58.0]).view(3, 1, 1, 1), False)
        self.blending = None

    def forward(self, clips):
        return (clips.float() - self.mean) / self.std


class TinyHead(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(in_channels, num_classes)
        self.loss_cls = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.fc_cls(self.dropout(x))


class TinyRecognizer(nn.Module):
    """Recognizer-like: data_preprocessor / backbone / cls_head, logits out."""

    def __init__(self, num_classes: int = 4, width: int = 8, bn: bool = True, dropout: float = 0.3):
        super().__init__()
        self.data_preprocessor = TinyPreprocessor()
        self.backbone = nn.Sequential(
            nn.Conv3d(3, width, 3, padding=1, bias=not bn),
            nn.BatchNorm3d(width) if bn else nn.Identity(),
            nn.ReLU(),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(1),
        )
        self.cls_head = TinyHead(width, num_classes, dropout)

    def forward(self, clips):  # (N, C, T, H, W) raw pixels -> (N, K)
        return self.cls_head(self.backbone(self.data_preprocessor(clips)))

    def average_views(self, logits, num_views: int):
        return logits.softmax(-1).view(-1, num_views, logits.shape[-1]).mean(1)  # (B, K)

    def loss(self, logits, labels):
        return self.cls_head.loss_cls(logits, labels)


class BNHeadRecognizer(TinyRecognizer):
    """A head with BatchNorm1d: a training batch of one clip would crash it."""

    def __init__(self, num_classes: int = 4):
        super().__init__(num_classes=num_classes)
        self.neck = nn.BatchNorm1d(8)

    def forward(self, clips):
        return self.cls_head(self.neck(self.backbone(self.data_preprocessor(clips))))


class InMemoryDataset(torch.utils.data.Dataset):
    """Learnable clips: class ``c`` brightens frame ``c``; random flips and noise as augmentation.

    The augmentation uses Python's ``random`` and NumPy's global generator, like real pipelines.
    """

    def __init__(
        self, num_samples=10, num_classes=4, num_views=1, size=8, clip_len=4, test_mode=False
    ):
        self.num_samples, self.num_classes = num_samples, num_classes
        self.num_views, self.size, self.clip_len = num_views, size, clip_len
        self.test_mode = test_mode
        self.labels = [i % num_classes for i in range(num_samples)]
        self.records = [
            {"filename": f"video_{i}.mp4", "label": lab} for i, lab in enumerate(self.labels)
        ]

    def __len__(self):
        return self.num_samples

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(index)
        label = self.labels[index]
        shape = (self.num_views, 3, self.clip_len, self.size, self.size)
        clips = torch.randint(0, 100, shape, generator=g, dtype=torch.uint8)
        clips[:, :, label % self.clip_len] += 120
        if not self.test_mode:
            if random.random() < 0.5:
                clips = clips.flip(-1)
            noise = np.random.randint(0, 20, size=shape).astype(np.uint8)
            clips = clips + torch.from_numpy(noise)
        return {"clips": clips, "label": torch.tensor(label), "index": index}


def make_cfg(work_dir, max_epochs=3, **overrides):
    """A complete MMAction2-style config dict for the tiny model."""
    cfg = dict(
        model=dict(type=TinyRecognizer, num_classes=4),
        train_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type="DefaultSampler", shuffle=True),
            dataset=dict(type=InMemoryDataset, num_samples=12),
        ),
        val_dataloader=dict(
            batch_size=3,
            sampler=dict(type="DefaultSampler", shuffle=False),
            dataset=dict(type=InMemoryDataset, num_samples=8, num_views=2, test_mode=True),
        ),
        test_dataloader=dict(
            batch_size=3,
            sampler=dict(type="DefaultSampler", shuffle=False),
            dataset=dict(type=InMemoryDataset, num_samples=8, num_views=2, test_mode=True),
        ),
        val_evaluator=dict(type="AccMetric", metric_options=dict(top_k_accuracy=dict(topk=(1, 2)))),
        test_evaluator=dict(type="AccMetric"),
        train_cfg=dict(
            type="EpochBasedTrainLoop", max_epochs=max_epochs, val_begin=1, val_interval=1
        ),
        val_cfg=dict(type="ValLoop"),
        test_cfg=dict(type="TestLoop"),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-4)),
        default_hooks=dict(
            checkpoint=dict(type="CheckpointHook", interval=1, save_best="auto"),
            logger=dict(type="LoggerHook", interval=1),
        ),
        randomness=dict(seed=0),
        work_dir=str(work_dir),
    )
    for key, value in overrides.items():
        cfg[key] = value
    return cfg


# --------------------------------------------------------------------------------------------
# optimizer / parameter groups
# --------------------------------------------------------------------------------------------


class Head(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.fc_cls = nn.Linear(c, k)


class Net(nn.Module):
    """backbone: conv (no bias) + BN + depth-wise conv (bias) + LayerNorm; cls_head.fc_cls."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential()
        self.backbone.add_module("conv1", nn.Conv2d(3, 4, 3, bias=False))
        self.backbone.add_module("bn1", nn.BatchNorm2d(4))
        self.backbone.add_module("dw", nn.Conv2d(4, 4, 3, groups=4))
        self.backbone.add_module("layer2", nn.Sequential(nn.Conv2d(4, 4, 1), nn.LayerNorm(4)))
        self.cls_head = Head(4, 3)


def by_param(setup, model: nn.Module) -> dict:
    """parameter name -> (lr, weight_decay, group index)."""
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for i, g in enumerate(setup.optimizer.param_groups):
        for p in g["params"]:
            out[names[id(p)]] = (g["lr"], g["weight_decay"], i)
    return out


SGD = dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=1e-4)
