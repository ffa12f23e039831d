# BMN on synthetic untrimmed videos. `vidlab quickstart --task localization` renders the videos
# (an object drifting = background, growing or shrinking = the action), trains the I3D
# quickstart recognizer briefly, extracts its 256-d features (8-frame windows every 4 frames,
# resampled to 32 snippets) and trains this config on them. The layout is MMAction2's BMN
# config. The paths below are the quickstart's default work dir (it points them at its
# --work-dir); after a quickstart, `vidlab train` runs this config again on those files.
work = "work_dirs/quickstart_localization"
data_root = work + "/features"
ann_file_train = work + "/train.json"
ann_file_val = work + "/val.json"

model = dict(
    type="BMN",
    temporal_dim=32,
    boundary_ratio=0.5,
    num_samples=16,
    num_samples_per_bin=3,
    feat_dim=256,
    soft_nms_alpha=0.4,
    soft_nms_low_threshold=0.5,
    soft_nms_high_threshold=0.9,
    post_process_top_k=100,
    feature_extraction_interval=4,  # the window stride: proposals cover the featured frames
    hidden_dim_1d=128,
    hidden_dim_2d=64,
    hidden_dim_3d=128,
)

train_pipeline = [
    dict(type="LoadLocalizationFeature"),
    dict(type="GenerateLocalizationLabels"),
    dict(type="PackLocalizationInputs", keys=("gt_bbox",), meta_keys=("video_name",)),
]
val_pipeline = [
    dict(type="LoadLocalizationFeature"),
    dict(type="GenerateLocalizationLabels"),
    dict(
        type="PackLocalizationInputs",
        keys=("gt_bbox",),
        meta_keys=(
            "video_name",
            "duration_second",
            "duration_frame",
            "annotations",
            "feature_frame",
        ),
    ),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    drop_last=True,
    dataset=dict(
        type="ActivityNetDataset",
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type="ActivityNetDataset",
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root),
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader

max_epochs = 20
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_begin=1, val_interval=5)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
optim_wrapper = dict(
    optimizer=dict(type="Adam", lr=0.001, weight_decay=0.0001),
    clip_grad=dict(max_norm=40, norm_type=2),
)
param_scheduler = [
    dict(type="MultiStepLR", begin=0, end=max_epochs, by_epoch=True, milestones=[15], gamma=0.1)
]
default_hooks = dict(
    checkpoint=dict(type="CheckpointHook", interval=5, save_best="AR@100", rule="greater"),
    logger=dict(type="LoggerHook", interval=5),
)
val_evaluator = dict(type="ANetMetric", metric_type="AR@AN")
test_evaluator = val_evaluator
randomness = dict(seed=0)
