"""Malformed configs, table-driven: each one must fail in ``load_config`` + ``validate`` (before
any data is generated or read) with a message that names the key path, the bad value and what
would work. Run as a script to print how many of them give such an error:

    python tests/config/test_malformed.py
"""

from __future__ import annotations

import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import vidlab
from vidlab.config import ConfigError, ConfigWarning, load_config, validate

QUICKSTART = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"

# (name, config text written below `_base_ = [QUICKSTART]`, --cfg-options, expected pieces)
CASES = [
    (
        "top-level typo",
        "train_dataloder = dict(batch_size=4)",
        [],
        ["train_dataloder", "did you mean 'train_dataloader'"],
    ),
    (
        "loader key typo",
        "train_dataloader = dict(batch_sise=4)",
        [],
        ["train_dataloader", "'batch_sise'", "did you mean 'batch_size'"],
    ),
    (
        "batch_size as a string",
        "",
        ["train_dataloader.batch_size='16'"],
        ["train_dataloader", "batch_size='16'", "an int >= 1", "without quotes"],
    ),
    (
        "batch_size zero",
        "train_dataloader = dict(batch_size=0)",
        [],
        ["train_dataloader", "batch_size=0", "an int >= 1"],
    ),
    (
        "num_workers negative",
        "val_dataloader = dict(num_workers=-1)",
        [],
        ["val_dataloader", "num_workers=-1", "an int >= 0"],
    ),
    (
        "persistent_workers as a string",
        "test_dataloader = dict(persistent_workers='yes')",
        [],
        ["test_dataloader", "persistent_workers='yes'", "True or False"],
    ),
    (
        "train_cfg key typo",
        "train_cfg = dict(_delete_=True, max_epoch=3)",
        [],
        ["train_cfg", "'max_epoch'", "did you mean 'max_epochs'"],
    ),
    (
        "train_cfg value",
        "",
        ["train_cfg.max_epochs='10'"],
        ["train_cfg", "max_epochs='10'", "an int", "without quotes"],
    ),
    (
        "val_cfg key typo (MMEngine form)",
        "val_cfg = dict(_delete_=True, fp_16=True)",
        [],
        ["val_cfg", "'fp_16'", "did you mean 'fp16'"],
    ),
    (
        "test_cfg key typo (MMEngine form)",
        "test_cfg = dict(_delete_=True, max_testing_view=2)",
        [],
        ["test_cfg", "'max_testing_view'", "did you mean 'max_testing_views'"],
    ),
    (
        "optim_wrapper key typo",
        "optim_wrapper = dict(clip_gard=None)",
        [],
        ["optim_wrapper", "'clip_gard'", "did you mean 'clip_grad'"],
    ),
    (
        "clip_grad key typo",
        "optim_wrapper = dict(clip_grad=dict(max_nrom=1))",
        [],
        ["optim_wrapper.clip_grad", "'max_nrom'", "did you mean 'max_norm'"],
    ),
    (
        "default_hooks entry typo",
        "default_hooks = dict(chekpoint=dict(interval=1))",
        [],
        ["default_hooks.chekpoint", "did you mean 'checkpoint'"],
    ),
    (
        "default_hooks key typo",
        "default_hooks = dict(checkpoint=dict(intervall=1))",
        [],
        ["default_hooks.checkpoint", "'intervall'", "did you mean 'interval'"],
    ),
    (
        "env_cfg key typo",
        "env_cfg = dict(cudnn_benchmak=True)",
        [],
        ["env_cfg", "'cudnn_benchmak'", "did you mean 'cudnn_benchmark'"],
    ),
    (
        "env_cfg value",
        "env_cfg = dict(cudnn_benchmark='no')",
        [],
        ["env_cfg", "cudnn_benchmark='no'", "True or False"],
    ),
    (
        "randomness key typo",
        "randomness = dict(sed=1)",
        [],
        ["randomness", "'sed'", "did you mean 'seed'"],
    ),
    (
        "auto_scale_lr key typo",
        "auto_scale_lr = dict(enable=True, base_batch=64)",
        [],
        ["auto_scale_lr", "'base_batch'", "did you mean 'base_batch_size'"],
    ),
    (
        "synthetic_data key typo",
        "synthetic_data = dict(videos_per_clas=3)",
        [],
        ["synthetic_data", "'videos_per_clas'", "did you mean 'videos_per_class'"],
    ),
    (
        "lr as a string",
        "optim_wrapper = dict(optimizer=dict(lr='1e-3'))",
        [],
        ["optim_wrapper.optimizer", "lr='1e-3'", "a number", "write 1e-3 without quotes"],
    ),
    (
        "weight_decay as a string",
        "",
        ["optim_wrapper.optimizer.weight_decay='1e-4'"],
        ["optim_wrapper.optimizer", "weight_decay='1e-4'", "a number"],
    ),
    (
        "num_classes as a word",
        "model = dict(cls_head=dict(num_classes='six'))",
        [],
        ["model.cls_head", "num_classes='six'", "expected an int"],
    ),
    (
        "depth not a ResNet depth",
        "model = dict(backbone=dict(depth=19))",
        [],
        ["model.backbone", "depth=19", "choose from 18, 34, 50, 101, 152"],
    ),
    (
        "in_channels as a string",
        "",
        ["model.cls_head.in_channels='512'"],
        ["model.cls_head", "in_channels='512'", "an int", "without quotes"],
    ),
    (
        "pipeline given as a dict",
        "train_dataloader = dict(dataset=dict(pipeline=dict(type='VideoInit')))",
        [],
        ["train_dataloader.dataset", "pipeline=", "a list of dicts, not one dict"],
    ),
    (
        "FormatShape before decoding",
        """
        train_pipeline = [
            dict(type='VideoInit'),
            dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
            dict(type='FormatShape', input_format='NCHW'),
            dict(type='VideoDecode'),
            dict(type='PackActionInputs'),
        ]
        train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
        """,
        [],
        ["pipeline[2]", "FormatShape needs 'imgs'", "VideoDecode"],
    ),
    (
        "decoding before sampling",
        """
        val_dataloader = dict(dataset=dict(pipeline=[
            dict(type='VideoInit'), dict(type='VideoDecode'),
            dict(type='SampleFrames', clip_len=1, num_clips=8, test_mode=True),
            dict(type='FormatShape', input_format='NCHW'), dict(type='PackActionInputs')]))
        """,
        [],
        ["val_dataloader.dataset.pipeline[1]", "VideoDecode needs 'frame_inds'", "SampleFrames"],
    ),
    (
        "transform value as a string",
        "",
        ["train_dataloader.dataset.pipeline.5.flip_ratio='0.5'"],
        ["pipeline[5]", "flip_ratio='0.5'", "a number"],
    ),
    (
        "sampler value as a string",
        "",
        ["val_dataloader.dataset.pipeline.1.clip_len='1'"],
        ["pipeline[1]", "clip_len='1'", "an int"],
    ),
    (
        "unknown transform",
        "",
        ["train_dataloader.dataset.pipeline.4.type=Resise"],
        ["pipeline[4]", "'Resise'", "did you mean 'Resize'"],
    ),
    (
        "transform argument typo",
        "",
        ["train_dataloader.dataset.pipeline.4.scael=(32,32)"],
        ["pipeline[4]", "'scael'", "did you mean 'scale'"],
    ),
    (
        "head argument typo",
        "model = dict(cls_head=dict(dropout_rato=0.5))",
        [],
        ["model.cls_head", "'dropout_rato'", "did you mean 'dropout_ratio'"],
    ),
    (
        "unknown optimizer",
        "optim_wrapper = dict(optimizer=dict(type='AdamWW'))",
        [],
        ["optim_wrapper.optimizer", "'AdamWW'", "did you mean 'AdamW'"],
    ),
    (
        "scheduler argument typo",
        "",
        ["param_scheduler.1.T_maxx=3"],
        ["param_scheduler[1]", "'T_maxx'", "did you mean 'T_max'"],
    ),
    (
        "unclosed list in --cfg-options",
        "",
        ["train_dataloader.batch_size=[1,"],
        ["train_dataloader.batch_size=[1,", "'[' is not closed", "=[1,2]"],
    ),
    (
        "--cfg-options on a copied variable",
        "",
        ["train_pipeline.4.scale=(64,64)"],
        ["changes nothing", "train_dataloader.dataset.pipeline.4.scale"],
    ),
    (
        "test_mode as a string",
        "",
        ["val_dataloader.dataset.test_mode='True'"],
        ["val_dataloader.dataset", "test_mode='True'", "True or False"],
    ),
    (
        "data_prefix as a number",
        "",
        ["train_dataloader.dataset.data_prefix=5"],
        ["train_dataloader.dataset", "data_prefix=5", "a string"],
    ),
]


def _check(tmp_path: Path, text: str, options: list[str]) -> str:
    """The message load_config + validate give (errors and config warnings), or ''."""
    cfg_file = tmp_path / "bad.py"
    body = textwrap.dedent(text)
    cfg_file.write_text(f"_base_ = [{str(QUICKSTART)!r}]\n{body}\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            validate(load_config(cfg_file, options))
        except ConfigError as e:
            return str(e)
    return "\n".join(str(w.message) for w in caught if issubclass(w.category, ConfigWarning))


@pytest.mark.parametrize("name,text,options,expected", CASES, ids=[c[0] for c in CASES])
def test_malformed_config_is_one_clear_error(tmp_path, name, text, options, expected):
    message = _check(tmp_path, text, options)
    assert message, f"{name}: no error"
    for piece in expected:
        assert piece in message, f"{name}: {piece!r} missing from:\n{message}"


def test_the_quickstart_configs_have_no_problem():
    for path in QUICKSTART.parent.glob("*.py"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConfigWarning)
            validate(load_config(path))


if __name__ == "__main__":
    import tempfile

    clear = 0
    for name, text, options, expected in CASES:
        with tempfile.TemporaryDirectory() as d:
            message = _check(Path(d), text, options)
        ok = bool(message) and all(p in message for p in expected)
        clear += ok
        print(f"{'clear  ' if ok else 'UNCLEAR'} {name}")
        if not ok:
            print(textwrap.indent(message or "(no error)", "    "))
    print(f"malformed configs that give a clear error: {clear} of {len(CASES)}")
    sys.exit(0 if clear == len(CASES) else 1)
