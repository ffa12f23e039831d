# TSM-R18 trained from scratch on vidlab's synthetic motion dataset: the job `vidlab quickstart` runs.
#
# The dataset (6 classes: move left/right/up/down, grow/shrink; each clip of one class is the
# time-reverse of a clip of its pair, so only the order of frames tells them apart) is rendered
# and encoded to H.264 on first use into the cache folder below, so `vidlab train` on this file works
# from any folder with no download. Copy the file to train on your own `path label` lists: change
# `data_root`, the `ann_file_*` names and `num_classes`, and drop `synthetic_data`.
import os

_base_ = ["../_base_/models/tsm_r50.py", "../_base_/default_runtime.py"]

_cache = os.environ.get("VIDLAB_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "vidlab"
)
data_root = os.path.join(_cache, "synthetic_motion")
# vidlab extra: (re)generates the dataset into data_root when it is missing or was made with
# other arguments. Generation is deterministic: same arguments, same bytes.
# (The generator also has rotate_cw/rotate_ccw; at 32 pixels a small TSM needs far more than
# this job's few minutes to learn the direction of a turn, so the quickstart leaves them out.)
classes = ["move_left", "move_right", "move_up", "move_down", "grow", "shrink"]
synthetic_data = dict(root=data_root, classes=classes, videos_per_class=150, size=32, seed=0)
label_file = os.path.join(data_root, "labels.txt")
ann_file_train = os.path.join(data_root, "train.txt")
ann_file_val = os.path.join(data_root, "val.txt")
num_classes = len(classes)

model = dict(
    backbone=dict(depth=18, pretrained=None, num_segments=8),
    cls_head=dict(num_classes=num_classes, in_channels=512, num_segments=8, dropout_ratio=0.2),
)

# A horizontal flip turns "move_left" into "move_right": flip_label_map swaps those labels so
# that flipping stays a correct augmentation.
flip_label_map = {0: 1, 1: 0}

train_pipeline = [
    dict(type="VideoInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=8),
    dict(type="VideoDecode"),
    dict(type="RandomResizedCrop", area_range=(0.6, 1.0)),
    dict(type="Resize", scale=(32, 32), keep_ratio=False),
    dict(type="Flip", flip_ratio=0.5, flip_label_map=flip_label_map),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
val_pipeline = [
    dict(type="VideoInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=8, test_mode=True),
    dict(type="VideoDecode"),
    dict(type="Resize", scale=(-1, 32)),
    dict(type="CenterCrop", crop_size=32),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
# Test with two clips per video (twice_sample): TSM folds the 16 frames into 2 views of 8.
test_pipeline = [
    dict(type="VideoInit"),
    dict(
        type="SampleFrames",
        clip_len=1,
        frame_interval=1,
        num_clips=8,
        test_mode=True,
        twice_sample=True,
    ),
    dict(type="VideoDecode"),
    dict(type="Resize", scale=(-1, 32)),
    dict(type="CenterCrop", crop_size=32),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type="VideoDataset",
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type="VideoDataset",
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root),
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type="VideoDataset",
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root),
        pipeline=test_pipeline,
        test_mode=True,
    ),
)

val_evaluator = dict(type="AccMetric")
test_evaluator = val_evaluator

max_epochs = 10
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_begin=1, val_interval=5)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")

optim_wrapper = dict(
    optimizer=dict(type="AdamW", lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=20, norm_type=2),
)
# `--auto-scale-lr` scales lr by the total batch size over this one (MMAction2's key)
auto_scale_lr = dict(enable=False, base_batch_size=16)
param_scheduler = [
    dict(
        type="LinearLR", start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True
    ),
    dict(
        type="CosineAnnealingLR",
        T_max=max_epochs - 1,
        eta_min=0,
        by_epoch=True,
        begin=1,
        end=max_epochs,
    ),
]

default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best="auto"),
    logger=dict(interval=5),
)
randomness = dict(seed=0, deterministic=False)
