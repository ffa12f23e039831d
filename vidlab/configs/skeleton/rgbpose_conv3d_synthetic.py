# RGBPoseConv3D (MMAction2's configs/skeleton/posec3d/rgbpose_conv3d/rgbpose_conv3d.py) at a
# small size, trained on synthetic COCO-17 stick figures and their renderings as RGB videos
# (vidlab.data.skeleton.synthetic + vidlab.data.skeleton.render.render_dataset).
#
# The same model, pipelines and loss as MMAction2's config; smaller so that a few steps run in
# seconds on a CPU: the RGB pathway 16 channels wide and the pose pathway 8 (MMAction2's: 64
# and 32, the same ratio, so the lateral connections have MMAction2's shapes relative to the
# pathways), one block per stage, 64 x 64 frames (heatmaps 16 x 16) instead of 224 x 224, and
# 4 classes; 6 epochs (MMAction2's schedule, its lr steps come later); 2 test views instead of
# 10; batches of 8; AdamW at lr 1e-3 instead of SGD at 0.0075 (on 16 samples, SGD's loss barely
# moved in 12 steps; AdamW's fell from 2.83 to 2.58).
# `ann_file` and `data_root` are relative to the working directory, where the data are written:
#   from vidlab.data.skeleton.synthetic import write_synthetic_skeletons
#   from vidlab.data.skeleton.render import render_dataset
#   write_synthetic_skeletons("synthetic_skeletons.pkl", num_train=4, num_val=1, num_test=1,
#                             actions=("wave", "squat", "jump", "walk_left"))
#   render_dataset("synthetic_skeletons.pkl", "videos", size=64)
# (tests/tasks/test_multimodal.py trains and tests it so through the CLI).
_base_ = ["../_base_/default_runtime.py"]

ann_file = "synthetic_skeletons.pkl"
data_root = "videos/"
num_classes = 4
size = 64

model = dict(
    type="MMRecognizer3D",
    backbone=dict(
        type="RGBPoseConv3D",
        speed_ratio=4,
        channel_ratio=4,
        rgb_pathway=dict(
            num_stages=4,
            stage_blocks=(1, 1, 1, 1),
            lateral=True,
            lateral_infl=1,
            lateral_activate=[0, 0, 1, 1],
            fusion_kernel=7,
            base_channels=16,
            conv1_kernel=(1, 7, 7),
            inflate=(0, 0, 1, 1),
            with_pool2=False,
        ),
        pose_pathway=dict(
            num_stages=3,
            stage_blocks=(1, 1, 1),
            lateral=True,
            lateral_inv=True,
            lateral_infl=16,
            lateral_activate=(0, 1, 1),
            fusion_kernel=7,
            in_channels=17,
            base_channels=8,
            out_indices=(2,),
            conv1_kernel=(1, 7, 7),
            conv1_stride_s=1,
            conv1_stride_t=1,
            pool1_stride_s=1,
            pool1_stride_t=1,
            inflate=(0, 1, 1),
            spatial_strides=(2, 2, 2),
            temporal_strides=(1, 1, 1),
            dilations=(1, 1, 1),
            with_pool2=False,
        ),
    ),
    cls_head=dict(
        type="RGBPoseHead",
        num_classes=num_classes,
        in_channels=[512, 128],
        loss_components=["rgb", "pose"],
        loss_weights=[1.0, 1.0],
        average_clips="prob",
    ),
    data_preprocessor=dict(
        type="MultiModalDataPreprocessor",
        preprocessors=dict(
            imgs=dict(
                type="ActionDataPreprocessor",
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape="NCTHW",
            ),
            heatmap_imgs=dict(type="ActionDataPreprocessor"),
        ),
    ),
)

dataset_type = "PoseDataset"
left_kp = [1, 3, 5, 7, 9, 11, 13, 15]
right_kp = [2, 4, 6, 8, 10, 12, 14, 16]
pose_target = dict(
    type="GeneratePoseTarget", sigma=0.7, use_score=True, with_kp=True, with_limb=False,
    scaling=0.25,
)  # fmt: skip
train_pipeline = [
    dict(type="MMUniformSampleFrames", clip_len=dict(RGB=8, Pose=32), num_clips=1),
    dict(type="MMDecode"),
    dict(type="MMCompact", hw_ratio=1.0, allow_imgpad=True),
    dict(type="Resize", scale=(72, 72), keep_ratio=False),
    dict(type="RandomResizedCrop", area_range=(0.56, 1.0)),
    dict(type="Resize", scale=(size, size), keep_ratio=False),
    dict(type="Flip", flip_ratio=0.5, left_kp=left_kp, right_kp=right_kp),
    pose_target,
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", collect_keys=("imgs", "heatmap_imgs")),
]
val_pipeline = [
    dict(type="MMUniformSampleFrames", clip_len=dict(RGB=8, Pose=32), num_clips=1, test_mode=True),
    dict(type="MMDecode"),
    dict(type="MMCompact", hw_ratio=1.0, allow_imgpad=True),
    dict(type="Resize", scale=(size, size), keep_ratio=False),
    pose_target,
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", collect_keys=("imgs", "heatmap_imgs")),
]
test_pipeline = [
    dict(type="MMUniformSampleFrames", clip_len=dict(RGB=8, Pose=32), num_clips=2, test_mode=True),
    dict(type="MMDecode"),
    dict(type="MMCompact", hw_ratio=1.0, allow_imgpad=True),
    dict(type="Resize", scale=(size, size), keep_ratio=False),
    pose_target,
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs", collect_keys=("imgs", "heatmap_imgs")),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file,
        data_prefix=dict(video=data_root),
        split="train",
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file,
        split="val",
        data_prefix=dict(video=data_root),
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file,
        split="test",
        data_prefix=dict(video=data_root),
        pipeline=test_pipeline,
        test_mode=True,
    ),
)

val_evaluator = [dict(type="AccMetric")]
test_evaluator = val_evaluator

train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=6, val_begin=1, val_interval=1)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(
    optimizer=dict(type="AdamW", lr=0.001, weight_decay=0.0001),
    clip_grad=dict(max_norm=40, norm_type=2),
)
param_scheduler = [
    dict(type="MultiStepLR", begin=0, end=20, by_epoch=True, milestones=[12, 16], gamma=0.1)
]
default_hooks = dict(logger=dict(interval=1))
auto_scale_lr = dict(enable=False, base_batch_size=48)
