"""``Config.pretty_text()`` / ``dump()``: valid, readable Python that loads back equal."""

from __future__ import annotations

import ast

import pytest

from vidlab.config import Config, load_config

TSM_BASE = """
preprocess_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])

model = dict(
    type='Recognizer2D',
    backbone=dict(
        type='ResNetTSM',
        pretrained='torchvision://resnet50',
        depth=50,
        norm_eval=False,
        shift_div=8),
    cls_head=dict(
        type='TSMHead',
        num_classes=400,
        in_channels=2048,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.5,
        init_std=0.001,
        is_shift=True,
        average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', **preprocess_cfg),
    train_cfg=None,
    test_cfg=None)
"""

RUNTIME = """
default_scope = 'mmaction'
default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
"""

CHILD = """
_base_ = ['../_base_/models/tsm_r50.py', '../_base_/default_runtime.py']

dataset_type = 'VideoDataset'
data_root = 'data/kinetics400/videos_train'
data_root_val = 'data/kinetics400/videos_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'
file_client_args = dict(io_backend='disk')

train_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='DecordInit', **file_client_args),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

default_hooks = dict(checkpoint=dict(interval=3, max_keep_ckpts=3))

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5),
    dict(type='MultiStepLR', begin=0, end=50, by_epoch=True, milestones=[25, 45], gamma=0.1)
]

optim_wrapper = dict(
    constructor='TSMOptimWrapperConstructor',
    paramwise_cfg=dict(fc_lr5=True),
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=20, norm_type=2))
"""


@pytest.fixture
def tsm_config(write):
    write("configs/_base_/models/tsm_r50.py", TSM_BASE)
    write("configs/_base_/default_runtime.py", RUNTIME)
    return write("configs/recognition/tsm_r50_8xb16_k400.py", CHILD)


def test_realistic_config_merges_as_mmengine(tsm_config):
    cfg = load_config(tsm_config)
    assert cfg.default_hooks.checkpoint == dict(
        type="CheckpointHook", interval=3, save_best="auto", max_keep_ckpts=3
    )
    assert cfg.model.data_preprocessor.mean == [123.675, 116.28, 103.53]
    assert cfg.test_dataloader == cfg.val_dataloader
    assert cfg.test_dataloader is not cfg.val_dataloader
    assert cfg.train_dataloader.dataset.pipeline[4].scales == (1, 0.875, 0.75, 0.66)


def test_pretty_text_round_trip(tsm_config, tmp_path):
    cfg = load_config(tsm_config, ["model.cls_head.num_classes=10", "compile=True"])
    text = cfg.pretty_text()
    ast.parse(text)  # valid Python
    out = tmp_path / "dumped.py"
    assert cfg.dump(out) == text
    again = load_config(out)
    assert again == cfg
    assert again.pretty_text() == text
    # Readable: dict(...) style, 4-space indentation, lines within 100 columns.
    assert "model = dict(\n    type='Recognizer2D',\n" in text
    assert (
        "    backbone=dict(\n        type='ResNetTSM'," in text
        or "    backbone=dict(type='ResNetTSM'" in text
    )
    assert "dict(type='CenterCrop', crop_size=224)," in text
    assert "'type':" not in text
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "scales=(1, 0.875, 0.75, 0.66)" in text


def test_pretty_text_special_values(tmp_path):
    cfg = Config(
        one=(1,),
        empty=dict(),
        empty_list=[],
        empty_tuple=(),
        weird_keys={"with space": 1, "class": 2, 3: "int key"},
        floats=[0.1, 1e-12, float("inf"), -float("inf"), 2.0],
        text='it\'s "quoted"\nnewline',
        nested=[[1, (2, 3)], {"a": [dict(b=None)]}],
        long=[f"item_{i:03d}_with_a_long_name" for i in range(12)],
        flags=dict(a=True, b=False, c=None),
        names=dict(lambda_=1),
        a_set={3, 1, 2},
    )
    text = cfg.pretty_text()
    ast.parse(text)
    path = tmp_path / "special.py"
    path.write_text(text)
    assert load_config(path) == cfg
    assert "one = (1,)" in text
    assert "'class': 2" in text


def test_class_values_are_written_as_import_strings(tmp_path):
    from collections import OrderedDict

    cfg = Config(thing=dict(type=OrderedDict, x=1))
    text = cfg.pretty_text()
    assert "type='collections:OrderedDict'" in text
    from vidlab.config import resolve_type

    path = tmp_path / "c.py"
    path.write_text(text)
    assert resolve_type(load_config(path).thing.type) is OrderedDict


def test_non_identifier_top_level_key_is_skipped_with_comment():
    text = Config({"a-b": 1, "ok": 2}).pretty_text()
    assert "# key 'a-b' cannot be written" in text
    assert "ok = 2" in text
