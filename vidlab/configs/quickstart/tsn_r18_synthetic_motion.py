# TSN-R18 with the same data, budget and schedule as the TSM quickstart. TSN averages per-frame
# predictions, so it cannot see the order of frames: on this dataset it should stay far below TSM.
# `vidlab quickstart --model tsn` runs it.
_base_ = ["./tsm_r18_synthetic_motion.py"]

model = dict(
    backbone=dict(_delete_=True, type="ResNet", depth=18, pretrained=None, norm_eval=False),
    cls_head=dict(
        _delete_=True,
        type="TSNHead",
        num_classes={{_base_.num_classes}},
        in_channels=512,
        spatial_type="avg",
        consensus=dict(type="AvgConsensus", dim=1),
        dropout_ratio=0.2,
        init_std=0.01,
        average_clips="prob",
    ),
)
