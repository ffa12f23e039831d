"""``validate``: every problem at once, each with file, key path and "did you mean"."""

from __future__ import annotations

import pytest

from vidlab.config import Config, ConfigError, find_problems, load_config, validate
from vidlab.config.names import NAMES

M = "vidlab_test_components"


@pytest.fixture
def good_cfg(components):
    return Config(
        default_scope="mmaction",
        model=dict(
            type=f"{M}:Model",
            backbone=dict(type=f"{M}:Backbone", depth=50, norm_cfg=dict(type="BN3d")),
            cls_head=dict(type=f"{M}:Head", num_classes=10, loss_cls=dict(type=f"{M}:Loss")),
        ),
        train_dataloader=dict(
            batch_size=2,
            sampler=dict(type=f"{M}:Sampler", shuffle=True),
            dataset=dict(
                type=f"{M}:Dataset",
                ann_file="a.txt",
                pipeline=[dict(type=f"{M}:Step", size=2), dict(type=f"{M}:Step", mode="b")],
            ),
        ),
        optim_wrapper=dict(
            type=f"{M}:Flexible",
            name="w",
            constructor="X",
            paramwise_cfg=dict(a=1),
            optimizer=dict(type=f"{M}:Optim", lr=0.1),
        ),
        param_scheduler=[dict(type=f"{M}:Sched", end=5, convert_to_iter_based=True)],
        train_cfg=dict(type=f"{M}:NeedsRunner", interval=2),
        env_cfg=dict(dist_cfg=dict(backend="nccl")),
        custom=dict(nested=[dict(plain=True)]),
    )


def test_valid_config_passes(good_cfg):
    assert find_problems(good_cfg) == []
    validate(good_cfg)


def test_several_problems_at_once(write, components):
    path = write(
        "bad.py",
        f"""
        model = dict(
            type='{M}:Model',
            backbone=dict(type='{M}:Backbone', dept=50),
            cls_head=dict(type='{M}:Head', num_clases=10, in_channels=512),
        )
        train_pipeline = [
            dict(type='{M}:Step', size=1),
            dict(type='{M}:Stepp'),
            dict(type='{M}:Step', mdoe='x'),
        ]
        train_dataloader = dict(dataset=dict(type='{M}:Dataset', pipeline=train_pipeline))
        positional = dict(type='{M}:PositionalOnly', a=1)
        """,
    )
    cfg = load_config(path)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    msg = str(info.value)
    lines = msg.splitlines()
    problems = info.value.problems
    assert len(problems) == 8
    assert lines[0] == f"8 problems in config {path}:"
    assert lines[1:] == ["  " + p for p in problems]
    text = "\n".join(problems)
    # unexpected keyword with did-you-mean, missing required argument
    assert (
        "model.backbone: Backbone got an unexpected keyword 'dept'; did you mean 'depth'?" in text
    )
    assert "model.backbone: Backbone is missing required argument 'depth'" in text
    assert (
        "model.cls_head: Head got an unexpected keyword 'num_clases'; did you mean 'num_classes'?"
        in text
    )
    assert "model.cls_head: Head is missing required argument 'num_classes'" in text
    # a 'module:Name' type whose module lacks the name (in a list: pipeline)
    assert f"train_pipeline[1]: type '{M}:Stepp': module {M} has no attribute 'Stepp'" in text
    assert "train_pipeline[2]: Step got an unexpected keyword 'mdoe'; did you mean 'mode'?" in text
    # the same pipeline reached through the dataset is reported once, with both paths
    assert "(same at train_dataloader.dataset.pipeline[2])" in text
    assert "train_dataloader.dataset: Dataset is missing required argument 'ann_file'" in text
    assert "positional: PositionalOnly: argument 'a' is positional-only" in text
    # every line: file: key.path: message
    for p in problems:
        assert p.startswith(f"{path}: ")


def test_unknown_short_name_did_you_mean():
    cfg = Config(
        model=dict(type="Recognizer2d"),
        pipe=[dict(type="SampleFrame"), dict(type="Nothing_like_it")],
    )
    problems = find_problems(cfg)
    assert "<config>: model: unknown type 'Recognizer2d'; did you mean 'Recognizer2D'?" in problems
    assert any(
        "pipe[0]: unknown type 'SampleFrame'; did you mean 'SampleFrames'" in p for p in problems
    )
    assert any(p.endswith("pipe[1]: unknown type 'Nothing_like_it'") for p in problems)


def test_injected_arguments(components):
    cfg = Config(
        optim_wrapper=dict(optimizer=dict(type=f"{M}:Optim", lr=0.1)),
        param_scheduler=[dict(type=f"{M}:Sched"), dict(type=f"{M}:Sched")],
        val_dataloader=dict(sampler=dict(type=f"{M}:Sampler")),
        hook=dict(type=f"{M}:NeedsRunner"),  # _injected_args on the class
        elsewhere=dict(type=f"{M}:Optim", lr=0.1),  # params is only injected at optim_wrapper
        custom=dict(type=f"{M}:Sampler"),
    )
    problems = find_problems(cfg)
    assert problems == [
        "<config>: elsewhere: Optim is missing required argument 'params'",
        "<config>: custom: Sampler is missing required argument 'dataset'",
    ]
    assert find_problems(cfg, injected={"elsewhere": ["params"], "custom": "dataset"}) == []


def test_repeat_pseudo_collate_is_vidlabs_collate():
    """MMAction2's MViT configs set ``collate_fn=dict(type='repeat_pseudo_collate')``: the
    loader supplies the batch, and vidlab's default collate flattens RepeatAugDataset items."""
    from vidlab.config.resolve import resolve
    from vidlab.data.skipped import collate_skip_none

    cfg = Config(train_dataloader=dict(collate_fn=dict(type="repeat_pseudo_collate")))
    assert find_problems(cfg) == []
    assert resolve("repeat_pseudo_collate") is collate_skip_none


def test_var_kwargs_accept_anything_and_lazy_keys_skipped(components):
    cfg = Config(
        a=dict(type=f"{M}:Flexible", name="x", anything=1, other=dict(type="NotAType")),
        b=dict(
            type=f"{M}:Backbone",
            depth=1,
            norm_cfg=dict(type="SyncBN"),
            init_cfg=dict(type="Pretrained"),
        ),
    )
    problems = find_problems(cfg)
    # Flexible takes **kwargs; the nested unknown type is still found; norm_cfg/init_cfg skipped
    assert problems == ["<config>: a.other: unknown type 'NotAType'"]


def test_import_failure_is_a_problem(monkeypatch, components):
    monkeypatch.setitem(NAMES, "Unwritten", "vidlab.models.unwritten_module_xyz:Unwritten")
    cfg = Config(model=dict(type="Unwritten", x=1), ok=dict(type=f"{M}:Loss"))
    problems = find_problems(cfg)
    assert len(problems) == 1
    assert (
        "model: type 'Unwritten' lives in module vidlab.models.unwritten_module_xyz" in problems[0]
    )
    assert "ModuleNotFoundError" in problems[0]


def test_problem_in_base_names_the_base_file(write, components):
    write("base.py", f"model = dict(type='{M}:Backbone', depht=50)\n")
    path = write("child.py", "_base_ = 'base.py'\nother = 1\n")
    cfg = load_config(path)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    msg = str(info.value)
    assert (
        msg.splitlines()[0].startswith("2 problems in config ")
        and "child.py" in msg.splitlines()[0]
    )
    assert all("base.py: model: Backbone" in p for p in info.value.problems)


def test_one_problem_header_is_singular(components):
    with pytest.raises(ConfigError, match=r"^1 problem in config <config>:\n  <config>: x: "):
        validate(Config(x=dict(type=f"{M}:Loss", wieght=2)))


def test_kwargs_forwarded_to_base_class_are_checked(components):
    cfg = Config(
        head=dict(
            type=f"{M}:ForwardingHead",
            num_classes=3,
            average_clips="prob",
            extra_flag=True,
            dropout_rato=0.1,
        ),
        loader=dict(type=f"{M}:SwallowingInit", io_backend="disk", num_threads=2),
    )
    assert find_problems(cfg) == [
        "<config>: head: ForwardingHead got an unexpected keyword 'dropout_rato'; "
        "did you mean 'dropout_ratio'?"
    ]


def test_undeclared_var_kwargs_go_to_the_parent(components):
    # By signature only: **kwargs of an __init__ are passed to the parent's __init__; a class
    # that keeps them without saying so (Undeclared: the parent is object) rejects extras, and a
    # keyword read out of **kwargs (PopsKeyword: kwargs.pop('extra')) is not a known keyword.
    cfg = Config(
        a=dict(type=f"{M}:Undeclared", size=2, colour="red"),
        b=dict(type=f"{M}:PopsKeyword", num_classes=3, average_clips="prob", extra=1),
    )
    assert find_problems(cfg) == [
        "<config>: a: Undeclared got an unexpected keyword 'colour' (it takes: size)",
        "<config>: b: PopsKeyword got an unexpected keyword 'extra' "
        "(it takes: num_classes, in_channels, average_clips, init_cfg)",
    ]


def test_accepts_any_kwargs_attribute(components):
    cfg = Config(
        # declared on the child, the chain's last **kwargs (ChainBase) keeps anything
        a=dict(type=f"{M}:DeclaredChild", child_arg=1, base_arg=2, whatever=3),
        # inherited from Flexible, but its own __init__ has no **kwargs: closed
        b=dict(type=f"{M}:ClosedChild", name="x", only=2, whatever=3),
        c=dict(type=f"{M}:SwallowingInit", anything=1),
    )
    assert find_problems(cfg) == [
        "<config>: b: ClosedChild got an unexpected keyword 'whatever' (it takes: name, only)"
    ]


def test_var_kwargs_chain_stops_at_nn_module(components):
    import torch

    class Block(torch.nn.Module):
        def __init__(self, channels=8, **kwargs):
            super().__init__(**kwargs)
            self.channels = channels

    problems = find_problems(Config(m=dict(type=Block, channels=4, chanels=4)))
    assert len(problems) == 1
    assert problems[0].startswith("<config>: m: ")
    assert problems[0].endswith(
        "Block got an unexpected keyword 'chanels'; did you mean 'channels'?"
    )


def test_functions_with_var_kwargs_accept_anything(components):
    def factory(depth=50, **kwargs):
        return depth, kwargs

    def closed(depth=50):
        return depth

    cfg = Config(a=dict(type=factory, anything=1), b=dict(type=closed, detph=1))
    problems = find_problems(cfg)
    assert len(problems) == 1
    assert problems[0].startswith("<config>: b: ")
    assert problems[0].endswith("closed got an unexpected keyword 'detph'; did you mean 'depth'?")


def test_mmengine_arguments_vidlab_ignores_validate():
    # Classes that keep MMEngine/MMAction2 arguments they do not use declare it
    # (_accepts_any_kwargs), so MMAction2's own runtime settings validate as written.
    cfg = Config(
        log_processor=dict(type="LogProcessor", window_size=20, by_epoch=True),
        visualizer=dict(type="ActionVisualizer", vis_backends=[dict(type="LocalVisBackend")]),
        val_cfg=dict(type="ValLoop", some_mmengine_arg=1),
        default_hooks=dict(
            runtime_info=dict(type="RuntimeInfoHook"),
            checkpoint=dict(type="CheckpointHook", interval=1, save_best="auto", out_dir=None),
            logger=dict(type="LoggerHook", interval=20, ignore_last=False, extra=1),
        ),
        custom_hooks=[dict(type="EMAHook", momentum=0.001, priority="ABOVE_NORMAL")],
        pipeline=[dict(type="DecordInit", io_backend="disk", file_client_args={})],
        val_evaluator=dict(type="AccMetric", collect_device="gpu", dist_backend=None),
    )
    assert find_problems(cfg) == []
