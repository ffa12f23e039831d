# X3D-S trained from scratch on the quickstart's synthetic motion dataset: a 3D CNN that sees
# 8 frames at once (every third frame: the whole 24-frame video) instead of TSM's shifted 2D frames.
# `vidlab quickstart --model x3d` runs it. Same data and labels as the TSM job; the model is
# MMAction2's X3D-S unchanged except for the number of classes.
_base_ = ["./tsm_r18_synthetic_motion.py"]

# MMAction2's X3D-S (configs/_base_/models/x3d.py): width factor 1, bottleneck 2.25, depth 2.2.
model = dict(
    _delete_=True,
    type="Recognizer3D",
    backbone=dict(type="X3D", gamma_w=1, gamma_b=2.25, gamma_d=2.2),
    cls_head=dict(
        type="X3DHead",
        in_channels=432,
        num_classes={{_base_.num_classes}},
        spatial_type="avg",
        dropout_ratio=0.2,
        fc1_bias=False,
        average_clips="prob",
    ),
    data_preprocessor=dict(
        type="ActionDataPreprocessor",
        mean=[114.75, 114.75, 114.75],
        std=[57.38, 57.38, 57.38],
        format_shape="NCTHW",
    ),
)

flip_label_map = {{_base_.flip_label_map}}
train_pipeline = [
    dict(type="VideoInit"),
    dict(type="SampleFrames", clip_len=8, frame_interval=3, num_clips=1),
    dict(type="VideoDecode"),
    dict(type="RandomResizedCrop", area_range=(0.6, 1.0)),
    dict(type="Resize", scale=(32, 32), keep_ratio=False),
    dict(type="Flip", flip_ratio=0.5, flip_label_map=flip_label_map),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]
val_pipeline = [
    dict(type="VideoInit"),
    dict(type="SampleFrames", clip_len=8, frame_interval=3, num_clips=1, test_mode=True),
    dict(type="VideoDecode"),
    dict(type="Resize", scale=(-1, 32)),
    dict(type="CenterCrop", crop_size=32),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]
# One clip spans the whole video, so the test sees it once, as validation does.
test_pipeline = val_pipeline
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
