# Spatio-temporal action detection trained from scratch on the synthetic actors set, in the layout
# of MMAction2's AVA configs (FastRCNN + AVARoIHead, AVADataset, AVAMetric). `vidlab quickstart
# --task detection` writes the set on first use into the cache folder below (`synthetic_actors`:
# 2-4 shapes per video that stand, walk left, walk right or jump, as frame folders at 30 fps with
# AVA's csv, excluded timestamps, label map and proposal pickles), trains, tests (frame mAP@0.5)
# and runs the demo on a held-out video. The generator can also make the actors turn (clockwise
# or counter-clockwise, a second label at the same time, `turns=0.5`); the quickstart leaves the
# turns out: a small 3D CNN from scratch needs far more than a few minutes to learn a turn's
# direction on shapes this small.
#
# The backbone is the I3D quickstart's small 3D ResNet (ResNet-18 at half width, 3x3x3 convs,
# no temporal striding) with MMAction2's AVA spatial strides (1, 2, 2, 1): feature stride 16.
# No Flip: it would turn walk_left into walk_right and one turn into the other.
import os

_cache = os.environ.get("VIDLAB_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "vidlab"
)
_root = os.path.join(_cache, "synthetic_actors")
# vidlab extra: `vidlab train`/`test`/`quickstart` write the set into a folder named by these
# arguments when it is missing (deterministic: same arguments, same files) and point the paths
# below there. To train on your own AVA-format data, set the paths and drop this key.
synthetic_actors = dict(root=_root, videos=80, size=64, seconds=10, turns=0.0, seed=0)
data_root = _root + "/rawframes"
anno_root = _root + "/annotations"
ann_file_train = f"{anno_root}/train.csv"
ann_file_val = f"{anno_root}/val.csv"
exclude_file_train = f"{anno_root}/train_excluded_timestamps.csv"
exclude_file_val = f"{anno_root}/val_excluded_timestamps.csv"
label_file = f"{anno_root}/action_list.pbtxt"
proposal_file_train = f"{anno_root}/proposals_train.pkl"
proposal_file_val = f"{anno_root}/proposals_val.pkl"
num_classes = 5  # 4 actions + MMAction2's column 0

model = dict(
    type="FastRCNN",
    _scope_="mmdet",
    backbone=dict(
        type="mmaction.ResNet3d",
        depth=18,
        base_channels=32,
        pretrained=None,
        pretrained2d=False,
        conv1_kernel=(3, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        with_pool2=False,
        spatial_strides=(1, 2, 2, 1),
        inflate=((1, 1), (1, 1), (1, 1), (1, 1)),
        zero_init_residual=False,
    ),
    roi_head=dict(
        type="AVARoIHead",
        bbox_roi_extractor=dict(
            type="SingleRoIExtractor3D",
            roi_layer_type="RoIAlign",
            featmap_stride=16,
            output_size=8,
            with_temporal_pool=True,
        ),
        bbox_head=dict(
            type="BBoxHeadAVA",
            background_class=True,
            in_channels=256,
            num_classes=num_classes,
            multilabel=True,
            dropout_ratio=0.2,
            topk=(1, 2),
        ),
    ),
    data_preprocessor=dict(
        type="mmaction.ActionDataPreprocessor",
        mean=[114.75, 114.75, 114.75],
        std=[57.38, 57.38, 57.38],
        format_shape="NCTHW",
    ),
    train_cfg=dict(
        rcnn=dict(
            assigner=dict(
                type="MaxIoUAssignerAVA", pos_iou_thr=0.9, neg_iou_thr=0.9, min_pos_iou=0.9
            ),
            sampler=dict(
                type="RandomSampler",
                num=32,
                pos_fraction=1,
                neg_pos_ub=-1,
                add_gt_as_proposals=True,
            ),
            pos_weight=1.0,
        )
    ),
    test_cfg=dict(rcnn=None),
)

dataset_type = "AVADataset"
train_pipeline = [
    dict(type="SampleAVAFrames", clip_len=8, frame_interval=4),
    dict(type="RawFrameDecode"),
    dict(type="FormatShape", input_format="NCTHW", collapse=True),
    dict(type="PackActionInputs"),
]
val_pipeline = [
    dict(type="SampleAVAFrames", clip_len=8, frame_interval=4, test_mode=True),
    dict(type="RawFrameDecode"),
    dict(type="FormatShape", input_format="NCTHW", collapse=True),
    dict(type="PackActionInputs"),
]
# The set's videos are 10 s long from second 900: timestamp_end=910 keeps clips inside them.
_dataset = dict(
    type=dataset_type,
    label_file=label_file,
    data_prefix=dict(img=data_root),
    num_classes=num_classes,
    timestamp_start=900,
    timestamp_end=910,
)
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        **_dataset,
        ann_file=ann_file_train,
        exclude_file=exclude_file_train,
        proposal_file=proposal_file_train,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        **_dataset,
        ann_file=ann_file_val,
        exclude_file=exclude_file_val,
        proposal_file=proposal_file_val,
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader

val_evaluator = dict(
    type="AVAMetric",
    ann_file=ann_file_val,
    label_file=label_file,
    exclude_file=exclude_file_val,
    num_classes=num_classes,
)
test_evaluator = val_evaluator

max_epochs = 8
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_begin=1, val_interval=4)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
optim_wrapper = dict(
    optimizer=dict(type="AdamW", lr=2e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=40, norm_type=2),
)
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
    checkpoint=dict(type="CheckpointHook", interval=4, save_best="mAP/overall", rule="greater"),
    logger=dict(type="LoggerHook", interval=10),
)
randomness = dict(seed=0)
