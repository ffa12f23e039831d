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
    """Keeps any keyword: declared with ``_accepts_any_kwargs``."""

    _accepts_any_kwargs = True

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
    """Forwards unknown keywords to the base class; the keyword it reads itself is named."""

    def __init__(self, num_classes, in_channels=8, dropout_ratio=0.5, extra_flag=False, **kwargs):
        self.extra = extra_flag
        super().__init__(
            num_classes,
            in_channels,
            **kwargs,
        )


class SwallowingInit:
    """Accepts and ignores any MMAction2 keyword: declared with ``_accepts_any_kwargs``."""

    _accepts_any_kwargs = True

    def __init__(self, backend="auto", **ignored):
        self.ignored = ignored


class Undeclared:
    """Takes ``**kwargs`` without forwarding them and without ``_accepts_any_kwargs``: by the
    signature rule they go to ``object.__init__``, so unknown keywords are reported."""

    def __init__(self, size=1, **kwargs):
        self.size = size
        self.kwargs = kwargs


class PopsKeyword(BaseHead):
    """Reads ``extra`` out of ``**kwargs`` instead of naming it: ``extra`` is reported."""

    def __init__(self, num_classes, **kwargs):
        self.extra = kwargs.pop("extra", None)
        super().__init__(num_classes, 8, **kwargs)


class ChainBase:
    def __init__(self, base_arg=0, **kwargs):
        self.base_arg = base_arg


class DeclaredChild(ChainBase):
    """Inherits the attribute's meaning: the chain of ``**kwargs`` ends in ChainBase, which
    keeps them; the child says so for the whole chain."""

    _accepts_any_kwargs = True

    def __init__(self, child_arg=0, **kwargs):
        super().__init__(**kwargs)


class ClosedChild(Flexible):
    """Its own ``__init__`` has no ``**kwargs``: the inherited ``_accepts_any_kwargs`` does not
    open it."""

    def __init__(self, name, only=1):
        super().__init__(name)


def variant_fn(num_classes=400, **kwargs):
    return ("variant", num_classes, kwargs)


def closed_variant_fn(num_classes=400):
    return ("closed", num_classes)
