"""MMAction2 0.x configs upgraded to the 1.x layout on load."""

from __future__ import annotations

import copy

import pytest

from vidlab.compat import ALIASES, is_old_style, upgrade_config
from vidlab.config import Config, load_config, resolve_type
from vidlab.config.names import NAMES

# MMAction2 0.x configs/recognition/tsm/tsm_r50_video_1x1x8_50e_kinetics400_rgb.py, with a
# warm-up, save_best and a TensorBoard logger added.
TSM_0X = """
model = dict(
    type='Recognizer2D',
    backbone=dict(type='ResNetTSM', pretrained='torchvision://resnet50', depth=50,
                  norm_eval=False, shift_div=8),
    cls_head=dict(type='TSMHead', num_classes=400, in_channels=2048, spatial_type='avg',
                  consensus=dict(type='AvgConsensus', dim=1), dropout_ratio=0.5,
                  init_std=0.001, is_shift=True))
train_cfg = None
test_cfg = dict(average_clips='prob')
dataset_type = 'VideoDataset'
data_root = 'data/kinetics400/videos_train'
data_root_val = 'data/kinetics400/videos_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'
img_norm_cfg = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_bgr=False)
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
         random_crop=False, max_wh_scale_gap=1, num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs', 'label'])
]
val_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8, test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='Flip', flip_ratio=0),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='Collect', keys=['imgs', 'label'], meta_keys=[]),
    dict(type='ToTensor', keys=['imgs'])
]
test_pipeline = val_pipeline
data = dict(
    videos_per_gpu=8,
    workers_per_gpu=4,
    test_dataloader=dict(videos_per_gpu=1),
    train=dict(type=dataset_type, ann_file=ann_file_train, data_prefix=data_root,
               pipeline=train_pipeline),
    val=dict(type=dataset_type, ann_file=ann_file_val, data_prefix=data_root_val,
             pipeline=val_pipeline),
    test=dict(type=dataset_type, ann_file=ann_file_val, data_prefix=data_root_val,
              pipeline=test_pipeline))
optimizer = dict(
    type='SGD',
    constructor='TSMOptimizerConstructor',
    paramwise_cfg=dict(fc_lr5=True),
    lr=0.02,  # this lr is used for 8 gpus
    momentum=0.9,
    weight_decay=0.0001)
optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
lr_config = dict(policy='step', step=[20, 40], warmup='linear', warmup_iters=5,
                 warmup_ratio=0.1, warmup_by_epoch=True)
total_epochs = 50
checkpoint_config = dict(interval=5)
evaluation = dict(interval=5, metrics=['top_k_accuracy', 'mean_class_accuracy'],
                  save_best='top1_acc')
log_config = dict(interval=20, hooks=[dict(type='TextLoggerHook'),
                                      dict(type='TensorboardLoggerHook')])
dist_params = dict(backend='nccl')
log_level = 'INFO'
work_dir = './work_dirs/tsm_r50_video_1x1x8_50e_kinetics400_rgb/'
load_from = None
resume_from = None
workflow = [('train', 1)]
"""


@pytest.fixture
def tsm_0x(write):
    return write("tsm_0x.py", TSM_0X)


def test_upgrade_tsm_0x(tsm_0x):
    cfg = load_config(tsm_0x)
    notes = cfg._upgrade_notes
    assert notes and all(isinstance(n, str) for n in notes)
    for gone in (
        "data",
        "optimizer",
        "optimizer_config",
        "lr_config",
        "total_epochs",
        "checkpoint_config",
        "evaluation",
        "log_config",
        "dist_params",
        "resume_from",
        "workflow",
    ):
        assert gone not in cfg, gone
    # data -> dataloaders
    tl = cfg.train_dataloader
    assert (tl.batch_size, tl.num_workers) == (8, 4)
    assert tl.sampler == dict(type="DefaultSampler", shuffle=True)
    assert tl.dataset.data_prefix == dict(video="data/kinetics400/videos_train")
    assert "test_mode" not in tl.dataset
    assert cfg.val_dataloader.sampler.shuffle is False
    assert cfg.val_dataloader.dataset.test_mode is True
    assert cfg.test_dataloader.batch_size == 1  # data.test_dataloader override
    # pipelines: formatting steps replaced, Normalize moved to the data preprocessor
    for pipeline in (cfg.train_pipeline, tl.dataset.pipeline, cfg.test_dataloader.dataset.pipeline):
        types = [s.type for s in pipeline]
        assert types[-2:] == ["FormatShape", "PackActionInputs"]
        assert not {"Collect", "ToTensor", "Normalize"} & set(types)
    assert cfg.model.data_preprocessor == dict(
        type="ActionDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape="NCHW",
    )
    # 0.x test_cfg was a model setting; 1.x test_cfg is the test loop
    assert cfg.model.cls_head.average_clips == "prob"
    assert cfg.test_cfg == dict(type="TestLoop")
    assert cfg.val_cfg == dict(type="ValLoop")
    # optimizer
    assert cfg.optim_wrapper == dict(
        constructor="TSMOptimWrapperConstructor",
        paramwise_cfg=dict(fc_lr5=True),
        optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=0.0001),
        clip_grad=dict(max_norm=20, norm_type=2),
    )
    # schedule
    assert cfg.param_scheduler == [
        dict(
            type="LinearLR",
            start_factor=0.1,
            by_epoch=True,
            begin=0,
            end=5,
            convert_to_iter_based=True,
        ),
        dict(type="MultiStepLR", milestones=[20, 40], gamma=0.1, by_epoch=True, begin=0, end=50),
    ]
    assert cfg.train_cfg == dict(
        type="EpochBasedTrainLoop", max_epochs=50, val_begin=1, val_interval=5
    )
    assert cfg.val_evaluator == dict(
        type="AccMetric", metric_list=("top_k_accuracy", "mean_class_accuracy")
    )
    assert cfg.test_evaluator == cfg.val_evaluator
    # runtime
    assert cfg.default_hooks.checkpoint == dict(
        type="CheckpointHook", save_best="acc/top1", interval=5
    )
    assert cfg.default_hooks.logger == dict(type="LoggerHook", interval=20)
    assert cfg.visualizer.vis_backends == [
        dict(type="LocalVisBackend"),
        dict(type="TensorboardVisBackend"),
    ]
    assert cfg.env_cfg == dict(dist_cfg=dict(backend="nccl"))
    assert cfg.work_dir.startswith("./work_dirs/")
    text = "\n".join(notes)
    for word in (
        "train_dataloader",
        "optim_wrapper",
        "param_scheduler",
        "PackActionInputs",
        "data_preprocessor",
        "train_cfg",
        "default_hooks.checkpoint",
    ):
        assert word in text


def test_upgraded_config_prints_as_1x_and_reloads(tsm_0x, tmp_path):
    cfg = load_config(tsm_0x)
    out = tmp_path / "upgraded.py"
    cfg.dump(out)
    again = load_config(out)
    assert again == cfg
    assert again._upgrade_notes == []


def test_options_on_0x_keys_apply_before_upgrade(tsm_0x):
    cfg = load_config(tsm_0x, ["data.videos_per_gpu=2", "total_epochs=3", "train_cfg.val_begin=2"])
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_cfg.max_epochs == 3 and cfg.train_cfg.val_begin == 2
    assert cfg.param_scheduler[1].end == 3


def test_1x_config_is_left_alone(write):
    text = """
    optimizer = dict(type='SGD', lr=0.1)  # a helper variable, not the 0.x key
    optim_wrapper = dict(optimizer=optimizer)
    train_dataloader = dict(batch_size=2)
    data = dict(train=1)
    test_cfg = dict(type='TestLoop')
    """
    cfg = load_config(write("new.py", text))
    assert cfg._upgrade_notes == []
    assert not is_old_style(cfg)
    assert cfg.optimizer == dict(type="SGD", lr=0.1) and cfg.data == dict(train=1)


def test_upgrade_does_not_change_its_input():
    old = Config(
        total_epochs=10, optimizer=dict(type="SGD", lr=0.1), data=dict(train=dict(type="X"))
    )
    before = copy.deepcopy(old)
    new, notes = upgrade_config(old)
    assert old == before
    assert new.train_cfg.max_epochs == 10 and notes


@pytest.mark.parametrize(
    "lr_config, total, expected",
    [
        (
            dict(
                policy="CosineAnnealing",
                min_lr=0,
                warmup="linear",
                warmup_iters=5,
                warmup_ratio=0.01,
                warmup_by_epoch=True,
            ),
            100,
            [
                dict(
                    type="LinearLR",
                    start_factor=0.01,
                    by_epoch=True,
                    begin=0,
                    end=5,
                    convert_to_iter_based=True,
                ),
                dict(
                    type="CosineAnnealingLR", by_epoch=True, begin=0, end=100, T_max=100, eta_min=0
                ),
            ],
        ),
        (
            dict(
                policy="CosineAnnealing",
                min_lr_ratio=0.01,
                by_epoch=False,
                warmup="constant",
                warmup_iters=500,
                warmup_ratio=0.1,
            ),
            20,
            [
                dict(type="ConstantLR", factor=0.1, by_epoch=False, begin=0, end=500),
                dict(
                    type="CosineAnnealingLR",
                    by_epoch=True,
                    begin=0,
                    convert_to_iter_based=True,
                    end=20,
                    T_max=20,
                    eta_min_ratio=0.01,
                ),
            ],
        ),
        (
            dict(policy="step", step=10, gamma=0.5),
            30,
            [dict(type="StepLR", step_size=10, gamma=0.5, by_epoch=True, begin=0, end=30)],
        ),
        (
            dict(policy="poly", power=0.9, min_lr=1e-4, by_epoch=False),
            4,
            [
                dict(
                    type="PolyLR",
                    power=0.9,
                    eta_min=1e-4,
                    by_epoch=True,
                    begin=0,
                    convert_to_iter_based=True,
                    end=4,
                )
            ],
        ),
        (dict(policy="fixed"), 4, []),
    ],
)
def test_lr_config_policies(lr_config, total, expected):
    cfg, notes = upgrade_config(Config(lr_config=lr_config, total_epochs=total))
    assert cfg.param_scheduler == expected
    assert any("param_scheduler" in n for n in notes)


def test_unsupported_policy_and_other_notes():
    cfg, notes = upgrade_config(
        Config(
            lr_config=dict(policy="CosineRestart", periods=[10]),
            momentum_config=dict(policy="cyclic"),
            fp16=dict(loss_scale=512.0),
            optimizer=dict(type="AdamW", lr=1e-3),
            resume_from="work/epoch_3.pth",
            data=dict(
                videos_per_gpu=2,
                train=dict(
                    type="RawframeDataset", ann_file="a.txt", data_prefix="frames", pipeline=[]
                ),
            ),
        )
    )
    text = "\n".join(notes)
    assert "'CosineRestart' is not converted" in text
    assert "momentum_config is not converted" in text
    assert cfg.param_scheduler == []
    assert cfg.optim_wrapper == dict(
        type="AmpOptimWrapper", optimizer=dict(type="AdamW", lr=1e-3), loss_scale=512.0
    )
    assert cfg.load_from == "work/epoch_3.pth" and cfg.resume is True
    assert cfg.train_dataloader.dataset.data_prefix == dict(img="frames")


def test_0x_model_train_cfg_blending_moves_to_preprocessor():
    cfg, _ = upgrade_config(
        Config(
            total_epochs=1,
            model=dict(
                type="Recognizer3D",
                cls_head=dict(type="I3DHead"),
                train_cfg=dict(blending=dict(type="MixupBlending", num_classes=5, alpha=0.2)),
                test_cfg=dict(average_clips="score", max_testing_views=4),
            ),
        )
    )
    assert cfg.model.data_preprocessor.blending == dict(
        type="MixupBlending", num_classes=5, alpha=0.2
    )
    assert cfg.model.train_cfg is None
    assert cfg.model.test_cfg == dict(max_testing_views=4)
    assert cfg.model.cls_head.average_clips == "score"


def test_0x_type_aliases_resolve(monkeypatch, components):
    monkeypatch.setitem(NAMES, "TSMOptimWrapperConstructor", "vidlab_test_components:Loss")
    assert ALIASES["TSMOptimizerConstructor"] == "TSMOptimWrapperConstructor"
    assert resolve_type("TSMOptimizerConstructor") is components.Loss
    monkeypatch.setitem(NAMES, "TensorboardVisBackend", "vidlab_test_components:Step")
    assert resolve_type("TensorboardLoggerHook") is components.Step


def test_transitional_config_with_normalize_in_1x_pipelines():
    norm = dict(type="Normalize", mean=[1, 2, 3], std=[4, 5, 6], to_bgr=False)
    pipeline = [
        dict(type="DecordInit"),
        norm,
        dict(type="FormatShape", input_format="NCTHW"),
        dict(type="PackActionInputs"),
    ]
    cfg, notes = upgrade_config(
        Config(
            model=dict(type="Recognizer3D", backbone=dict(type="X")),
            train_dataloader=dict(
                batch_size=2, dataset=dict(type="VideoDataset", pipeline=pipeline)
            ),
            test_cfg=dict(),
            train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=3),
        )
    )
    assert [s.type for s in cfg.train_dataloader.dataset.pipeline] == [
        "DecordInit",
        "FormatShape",
        "PackActionInputs",
    ]
    assert cfg.model.data_preprocessor == dict(
        type="ActionDataPreprocessor", mean=[1, 2, 3], std=[4, 5, 6], format_shape="NCTHW"
    )
    assert cfg.test_cfg == dict()  # a 1.x loop setting, left alone
    assert cfg.train_cfg == dict(type="EpochBasedTrainLoop", max_epochs=3)
    assert len(notes) == 2


def test_upgrade_keeps_the_config_type():
    # compat imports nothing of vidlab.config: the new config is a copy of the given one, so a
    # Config stays a Config (with Config nodes) and a plain dict stays a plain dict.
    old = dict(
        total_epochs=3,
        optimizer=dict(type="SGD", lr=0.1),
        lr_config=dict(policy="step", step=[2]),
        data=dict(videos_per_gpu=2, workers_per_gpu=1, train=dict(type="VideoDataset")),
    )
    new, notes = upgrade_config(Config(old))
    assert notes
    assert type(new) is Config
    assert type(new.train_cfg) is Config and new.train_cfg.max_epochs == 3
    assert type(new.optim_wrapper.optimizer) is Config
    assert type(new.param_scheduler[0]) is Config
    assert type(new.train_dataloader.sampler) is Config
    plain, _ = upgrade_config(old)
    assert type(plain) is dict and type(plain["train_cfg"]) is dict
    assert plain == new.to_dict()
    assert "total_epochs" in old  # the input is not changed


def test_upgrade_repeat_dataset_0x(write):
    """0.x's RepeatDataset (skeleton configs) is kept; its inner dataset is upgraded."""
    text = TSM_0X.replace(
        "train=dict(type=dataset_type, ann_file=ann_file_train, data_prefix=data_root,\n"
        "               pipeline=train_pipeline),",
        "train=dict(type='RepeatDataset', times=3, dataset=dict(type=dataset_type, "
        "ann_file=ann_file_train, data_prefix=data_root, pipeline=train_pipeline)),",
    )
    assert "RepeatDataset" in text
    cfg = load_config(write("repeat_0x.py", text))
    ds = cfg["train_dataloader"]["dataset"]
    assert ds["type"] == "RepeatDataset" and ds["times"] == 3
    assert ds["dataset"]["data_prefix"] == {"video": "data/kinetics400/videos_train"}
    types = [step["type"] for step in ds["dataset"]["pipeline"]]
    assert "PackActionInputs" in types and not {"Collect", "ToTensor", "Normalize"} & set(types)
