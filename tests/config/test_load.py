"""Loading config files: keys, _base_ merging, _delete_, base references, load-time errors."""

from __future__ import annotations

import copy
import pickle

import pytest

from vidlab.config import Config, ConfigError, load_config, merge_configs


def _no_traceback_chain(err: BaseException) -> bool:
    """The CLI prints str(err); a load error carries no chained exception to show."""
    return err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)


def test_top_level_names_become_keys(write):
    path = write(
        "cfg.py",
        """
        import os
        from collections import OrderedDict

        def helper(x):
            return x * 2

        class Thing:
            pass

        _private = 3
        lr = helper(0.01)
        name = os.path.basename('a/b.txt')
        flags = (True, False, None)
        nested = dict(a=[1, dict(b=2)], c={'x y': 1})
        thing = Thing()
        """,
    )
    cfg = load_config(path)
    assert set(cfg) == {"lr", "name", "flags", "nested"}
    assert cfg.lr == 0.02
    assert cfg.name == "b.txt"
    assert cfg.flags == (True, False, None)
    assert isinstance(cfg.nested, Config)
    assert isinstance(cfg.nested.a[1], Config)
    assert cfg.nested.a[1].b == 2
    assert cfg.nested.c["x y"] == 1
    assert cfg.filename == str(path)
    assert cfg._upgrade_notes == []


def test_config_attribute_access_and_conversion():
    cfg = Config(dict(model=dict(backbone=dict(depth=50)), items=[1]))
    assert cfg.model.backbone.depth == 50
    cfg.model.backbone.depth = 101
    assert cfg["model"]["backbone"]["depth"] == 101
    cfg.new = dict(x=[dict(y=1)])
    assert isinstance(cfg.new, Config) and isinstance(cfg.new.x[0], Config)
    cfg.update(other=dict(z=1))
    assert isinstance(cfg.other, Config)
    assert isinstance(cfg.setdefault("more", dict(w=2)), Config)
    assert cfg["items"] == [1]  # a dict method name is read by subscription
    assert cfg.filename is None
    with pytest.raises(AttributeError, match="did you mean 'model'"):
        _ = cfg.modle
    del cfg.new
    assert "new" not in cfg


def test_config_deepcopy_and_pickle_keep_attributes(write):
    cfg = load_config(write("c.py", "model = dict(a=[dict(b=1)], t=(1, 2))\n"))
    for clone in (copy.deepcopy(cfg), pickle.loads(pickle.dumps(cfg)), cfg.copy()):
        assert clone == cfg
        assert isinstance(clone, Config) and isinstance(clone.model.a[0], Config)
        assert clone.filename == cfg.filename
        assert clone._upgrade_notes == []
    deep = copy.deepcopy(cfg)
    deep.model.a[0].b = 5
    assert cfg.model.a[0].b == 1


def test_base_single_and_list_merge_in_order(write):
    write(
        "base/model.py",
        """
        model = dict(type='Recognizer2D', backbone=dict(type='ResNet', depth=50, norm_eval=False),
                     cls_head=dict(type='TSNHead', num_classes=400))
        """,
    )
    write(
        "base/runtime.py",
        """
        default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1))
        pipeline = [dict(type='A'), dict(type='B')]
        """,
    )
    single = write(
        "single.py", "_base_ = 'base/model.py'\nmodel = dict(backbone=dict(depth=101))\n"
    )
    cfg = load_config(single)
    assert cfg.model.backbone == dict(type="ResNet", depth=101, norm_eval=False)
    assert cfg.model.cls_head.num_classes == 400

    path = write(
        "child.py",
        """
        _base_ = ['base/model.py', 'base/runtime.py']
        model = dict(cls_head=dict(num_classes=10))
        pipeline = [dict(type='C')]
        default_hooks = dict(checkpoint=dict(interval=5), logger=dict(type='LoggerHook'))
        """,
    )
    cfg = load_config(path)
    assert cfg.model.cls_head == dict(type="TSNHead", num_classes=10)
    assert cfg.model.backbone.depth == 50
    assert cfg.pipeline == [dict(type="C")]  # lists replace
    assert cfg.default_hooks.checkpoint == dict(type="CheckpointHook", interval=5)
    assert cfg.default_hooks.logger == dict(type="LoggerHook")
    assert list(cfg) == ["model", "default_hooks", "pipeline"]


def test_two_bases_setting_one_key_is_an_error(write):
    # MMEngine refuses it too ("Duplicate key is not allowed among bases"): which base should
    # win is not defined, so vidlab says which two files set the key.
    write("base/a.py", "model = dict(type='Recognizer2D')\nshared = 1\n")
    write("base/b.py", "model = dict(type='Recognizer3D')\n")
    path = write("child.py", "_base_ = ['base/a.py', 'base/b.py']\n")
    with pytest.raises(
        ConfigError, match=r"'model' is set by two of its _base_ files.*a\.py.*b\.py"
    ):
        load_config(path)


def test_nested_delete_replaces_base_dict(write):
    write(
        "base.py",
        """
        model = dict(backbone=dict(type='ResNet', depth=50, norm_cfg=dict(type='BN')),
                     cls_head=dict(type='TSNHead', num_classes=400, dropout_ratio=0.4))
        optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
        """,
    )
    path = write(
        "child.py",
        """
        _base_ = './base.py'
        model = dict(backbone=dict(_delete_=True, type='MobileNet', width=1.0))
        optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=1e-3), other=dict(_delete_=True, a=1))
        """,
    )
    cfg = load_config(path)
    assert cfg.model.backbone == dict(type="MobileNet", width=1.0)
    assert cfg.model.cls_head.num_classes == 400
    assert cfg.optim_wrapper.optimizer == dict(type="AdamW", lr=1e-3)
    assert cfg.optim_wrapper.other == dict(a=1)


def test_delete_inside_list_is_an_error(write):
    write("base.py", "pipeline = [dict(type='A', x=1)]\n")
    path = write("child.py", "_base_ = 'base.py'\npipeline = [dict(_delete_=True, type='B')]\n")
    with pytest.raises(ConfigError, match=r"pipeline\[0\]: _delete_ inside a list has no effect"):
        load_config(path)


def test_delete_must_be_bool_and_not_top_level(write):
    write("base.py", "model = dict(a=1)\n")
    with pytest.raises(ConfigError, match="_delete_ must be True or False"):
        load_config(write("c1.py", "_base_ = 'base.py'\nmodel = dict(_delete_='yes', b=2)\n"))
    with pytest.raises(ConfigError, match=r"c2.py:2: a top-level _delete_ is not supported"):
        load_config(write("c2.py", "_base_ = 'base.py'\n_delete_ = True\n"))


def test_base_references_text_and_attribute(write):
    write(
        "base.py",
        """
        data_root = 'data/k400'
        model = dict(backbone=dict(depth=50))
        scales = [(1, 2), (3, 4)]
        lr = 0.01
        """,
    )
    path = write(
        "child.py",
        """
        _base_ = ['base.py']
        root_copy = {{_base_.data_root}}
        depth = {{ _base_.model.backbone.depth }} * 2
        first_scale = {{_base_.scales.1}}
        model = dict(backbone=dict(depth=_base_.model.backbone.depth + 51))
        lr = _base_.lr * 10
        """,
    )
    cfg = load_config(path)
    assert cfg.root_copy == "data/k400"
    assert cfg.depth == 100
    assert cfg.first_scale == (3, 4)
    assert cfg.model.backbone.depth == 101
    assert cfg.lr == pytest.approx(0.1)
    assert cfg.data_root == "data/k400"


def test_child_may_edit_base_in_place(write):
    write("base.py", "train_pipeline = [dict(type='A'), dict(type='B', size=1)]\n")
    path = write("child.py", "_base_ = 'base.py'\n_base_.train_pipeline[1].size = 7\n")
    assert load_config(path).train_pipeline[1] == dict(type="B", size=7)


def test_name_from_base_without_prefix_gives_hint(write):
    write("base.py", "train_pipeline = []\n")
    path = write("child.py", "_base_ = 'base.py'\n\nx = dict(pipeline=train_pipeline)\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "child.py:3:" in msg
    assert "NameError" in msg
    assert "_base_.train_pipeline" in msg


def test_predefined_and_env_variables(write, monkeypatch):
    monkeypatch.setenv("VIDLAB_TEST_ROOT", "/data/videos")
    monkeypatch.delenv("VIDLAB_TEST_UNSET", raising=False)
    path = write(
        "runs/my_exp.py",
        """
        work_dir = './work_dirs/{{ fileBasenameNoExtension }}'
        here = '{{fileDirname}}'
        root = '{{$VIDLAB_TEST_ROOT:data}}'
        other = '{{$VIDLAB_TEST_UNSET:fallback}}'
        """,
    )
    cfg = load_config(path)
    assert cfg.work_dir == "./work_dirs/my_exp"
    assert cfg.here == str(path.parent).replace("\\", "/")
    assert cfg.root == "/data/videos"
    assert cfg.other == "fallback"


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found") as info:
        load_config(tmp_path / "nope.py")
    assert str(tmp_path / "nope.py") in str(info.value)
    (tmp_path / "tsm_r50.py").write_text("a = 1\n")
    with pytest.raises(ConfigError, match="did you mean 'tsm_r50.py'"):
        load_config(tmp_path / "tsm_r5.py")
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_missing_base_file_names_includer_entry_and_path(write, tmp_path):
    path = write("configs/child.py", "_base_ = ['../_base_/models/tsm_r50.py']\nx = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "child.py" in msg
    assert "'../_base_/models/tsm_r50.py'" in msg
    assert str(tmp_path / "_base_" / "models" / "tsm_r50.py") in msg
    assert _no_traceback_chain(info.value)


def test_syntax_error_names_line_and_shows_it(write):
    path = write(
        "bad.py",
        """
        model = dict(
            type='Recognizer2D',
            backbone=dict(type='ResNet' depth=50),
        )
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "bad.py:3: syntax error" in msg
    assert "backbone=dict(type='ResNet' depth=50)," in msg
    assert "^" in msg
    assert _no_traceback_chain(info.value)


def test_syntax_error_in_base_names_the_base(write):
    write("base.py", "a = [1, 2\n")
    path = write("child.py", "_base_ = 'base.py'\n")
    with pytest.raises(ConfigError, match=r"base.py:1: syntax error"):
        load_config(path)


def test_exception_while_running_names_file_and_line(write):
    path = write(
        "boom.py",
        """
        a = 1
        b = dict(x=1)
        c = b['y']
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "boom.py:3:" in msg
    assert "KeyError" in msg
    assert "c = b['y']" in msg
    # The original error is chained (visible in a traceback); the CLI prints str(err) only.
    assert isinstance(info.value.__cause__, KeyError)


def test_exception_in_config_is_chained_and_its_traceback_points_into_the_file(write):
    path = write(
        "div.py",
        """
        def scale(x):
            return x / 0

        lr = scale(0.1)
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    # the innermost line of the file is the one named
    assert str(err).startswith(f"{path}:2: error while running the config file: ")
    assert "ZeroDivisionError" in str(err)
    assert "return x / 0" in str(err)
    cause = err.__cause__
    assert type(cause) is ZeroDivisionError
    # compiled with its own filename: the cause's traceback names the file and both lines
    frames = [(tb.tb_frame.f_code.co_filename, tb.tb_lineno) for tb in _walk_tb(cause)]
    assert (str(path), 4) in frames
    assert (str(path), 2) in frames


def _walk_tb(err: BaseException):
    tb = err.__traceback__
    while tb is not None:
        yield tb
        tb = tb.tb_next


def test_computed_base_error_is_chained(write):
    path = write("comp.py", "_base_ = [1 / 0]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"comp.py:1: cannot evaluate _base_") as info:
        load_config(path)
    assert type(info.value.__cause__) is ZeroDivisionError


def test_base_cycle(write):
    write("a.py", "_base_ = 'b.py'\nx = 1\n")
    write("b.py", "_base_ = 'c.py'\n")
    path = write("c.py", "_base_ = 'a.py'\n")
    with pytest.raises(ConfigError, match=r"_base_ cycle: .*c.py -> .*a.py -> .*b.py -> .*c.py"):
        load_config(path)


def test_read_base_style_is_refused_clearly(write):
    path = write(
        "pure.py",
        """
        from mmengine.config import read_base

        with read_base():
            from .base import *
        """,
    )
    with pytest.raises(ConfigError, match="read_base"):
        load_config(path)


def test_json_and_yaml_configs_with_base(write):
    write("base.py", "model = dict(depth=50, head=dict(n=400))\nroot = 'data'\n")
    path = write(
        "child.json",
        '{"_base_": "base.py", "model": {"head": {"n": 10}}, "copy": "{{_base_.root}}"}',
    )
    cfg = load_config(path)
    assert cfg.model == dict(depth=50, head=dict(n=10))
    assert cfg["copy"] == "data"
    pytest.importorskip("yaml")
    path = write("child.yaml", "_base_: base.py\nmodel:\n  depth: 18\n")
    assert load_config(path).model == dict(depth=18, head=dict(n=400))


def test_load_from_dict_and_merge_configs():
    cfg = load_config(dict(model=dict(a=1), lr=0.1), ["model.b=2"])
    assert cfg == dict(model=dict(a=1, b=2), lr=0.1)
    merged = merge_configs(dict(a=dict(_delete_=True, y=1), b=[1]), dict(a=dict(x=0), b=[0], c=3))
    assert merged == dict(a=dict(y=1), b=[1], c=3)


def test_source_file_is_recorded_per_node(write):
    write("base.py", "model = dict(backbone=dict(depth=50), head=dict(n=1))\n")
    path = write("child.py", "_base_ = 'base.py'\nmodel = dict(head=dict(n=2))\n")
    cfg = load_config(path)
    assert cfg.model.backbone._source.endswith("base.py")
    assert cfg.model.head._source.endswith("child.py")


def test_openmmlab_import_in_config_gets_a_hint(write):
    path = write("mm.py", "from mmengine.config import Config\nx = 1\n")
    with pytest.raises(
        ConfigError, match=r"mm.py:1: .*ModuleNotFoundError.*\n.*\n.*without OpenMMLab"
    ):
        load_config(path)
