"""Small local component classes for the config tests.

``conftest.py`` loads this file as the module ``vidlab_test_components`` so that configs can
name these classes as ``"vidlab_test_components:Backbone"`` without depending on the real vidlab
modules that teammates are still writing.
"""

from __future__ import annotations

CALLS: list[str] = []


class Backbone:
    def __init__(self, depth, width=64, norm_cfg=None, init_cfg=None):
        CALLS.append(f"Backbone({depth})")
        self.depth = depth
        self.width = width
        self.norm_cfg = norm_cfg
        self.init_cfg = init_cfg


class Loss:
    def __init__(self, weight=1.0):
        CALLS.append("Loss")
        self.weight = weight


class Head:
    def __init__(self, num_classes, in_channels=2048, loss_cls=None, dropout_ratio=0.5):
        CALLS.append("Head")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.loss_cls = loss_cls
        self.dropout_ratio = dropout_ratio


class Model:
    def __init__(self, backbone, cls_head=None, neck=None, train_cfg=None, test_cfg=None):
        CALLS.append("Model")
        self.backbone = backbone
        self.cls_head = cls_head
        self.neck = neck
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg


class Dataset:
    """Builds its pipeline itself: ``pipeline`` is a lazy argument."""

    _lazy_args = ("pipeline",)

    def __init__(self, ann_file, pipeline, data_prefix="", test_mode=False):
        self.ann_file = ann_file
        self.pipeline = pipeline
        self.data_prefix = data_prefix
        self.test_mode = test_mode


class Step:
    def __init__(self, size=1, *, mode="a"):
        self.size = size
        self.mode = mode


class Flexible:
    def __init__(self, name, **kwargs):
        self.name = name
        self.kwargs = kwargs


class Sampler:
    def __init__(self, dataset, shuffle=True, seed=None):
        self.dataset = dataset
        self.shuffle = shuffle


class Optim:
    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        self.params = params
        self.lr = lr


class Sched:
    def __init__(self, optimizer, begin=0, end=10, by_epoch=True):
        self.optimizer = optimizer


class NeedsRunner:
    _injected_args = ("runner",)

    def __init__(self, runner, interval=1):
        self.runner = runner
        self.interval = interval


class Exploding:
    def __init__(self, value=0):
        raise ValueError(f"bad value {value}")


class PositionalOnly:
    def __init__(self, a, /, b=1):
        self.a = a


def make_thing(x, y=2):
    return ("thing", x, y)


class BaseHead:
    def __init__(self, num_classes, in_channels, average_clips=None, init_cfg=None):
        self.num_classes = num_classes


class ForwardingHead(BaseHead):
    """Forwards unknown keywords to the base class, reads one itself."""

    def __init__(self, num_classes, in_channels=8, dropout_ratio=0.5, **kwargs):
        self.extra = kwargs.pop("extra_flag", False)
        super().__init__(
            num_classes,
            in_channels,
            **kwargs,
        )


class SwallowingInit:
    """Accepts and ignores any MMAction2 keyword."""

    def __init__(self, backend="auto", **ignored):
        self.ignored = ignored
