# A micro video transformer trained from scratch on the quickstart's synthetic motion dataset:
# MMAction2's VideoMAE types (`VisionTransformer` + `TimeSformerHead`), a plain ViT with joint
# space-time attention over 2x4x4 tubelets of the 8-frame, 32-pixel clip (4 x 8 x 8 = 256
# tokens), width 128, 4 blocks of 4 heads (0.8M parameters), fixed sinusoidal position table,
# mean pooling. `vidlab quickstart --model vit` runs it. Same data, labels and sampling as the
# 3D CNN jobs (UniformSample of 8 frames).
#
# Measured (`/usr/bin/time -v vidlab quickstart --model vit [--cfg-options randomness.seed=S]`,
# OMP_NUM_THREADS=2, on a shared machine at load 4-9), test top-1 by seed:
#   seed 0: 97.2% (val 20.6 / 92.8 / 96.7 / 97.2% at epochs 4/8/12/16), 306 s user + 18 s sys
#   seed 1: 94.4% (val 15.6 / 88.9 / 94.4 / 93.9%), 304 s user + 17 s sys
#   seed 2: 96.1% (val 17.8 / 45.6 / 91.7 / 96.1%), 304 s user + 18 s sys
# i.e. about 3 min on 2 idle cores ((user + sys) / 1.8).
#
# Notes from a plain training loop on the same clips (batch 8):
# - attention does all the mixing in time and space; the only local filter is the linear
#   2x4x4 tubelet embedding, which spans two sampled frames, so a moving edge shows in a token;
# - from scratch the ViT sits at chance for its first 4-8 epochs (it varies with the seed),
#   then learns fast, hence 16 epochs; lr 2e-3 (without RandomResizedCrop) was still at chance
#   after 6 of 10 epochs, where 1e-3 had left chance after 3 and 5e-4 after 4;
# - weight decay on matrices only (no decay for norms, biases and other 1-D parameters; the
#   sinusoidal position table is a buffer).
_base_ = ["./x3d_s_synthetic_motion.py"]

model = dict(
    _delete_=True,
    type="Recognizer3D",
    backbone=dict(
        type="VisionTransformer",
        img_size=32,
        patch_size=4,
        embed_dims=128,
        depth=4,
        num_heads=4,
        mlp_ratio=4,
        qkv_bias=True,
        num_frames=8,
        tubelet_size=2,
        norm_cfg=dict(type="LN", eps=1e-6),
        use_mean_pooling=True,
    ),
    cls_head=dict(
        type="TimeSformerHead",
        num_classes={{_base_.num_classes}},
        in_channels=128,
        average_clips="prob",
    ),
    data_preprocessor=dict(
        type="ActionDataPreprocessor",
        mean=[114.75, 114.75, 114.75],
        std=[57.38, 57.38, 57.38],
        format_shape="NCTHW",
    ),
)

max_epochs = 16
train_cfg = dict(max_epochs=max_epochs, val_interval=4)
optim_wrapper = dict(
    optimizer=dict(type="AdamW", lr=5e-4, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=20, norm_type=2),
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
