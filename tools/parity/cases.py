"""The parity cases of ``make_fixtures.py``: which MMAction2 configs are run, on what inputs.

Data only; the machinery that builds, seeds and runs them is ``make_fixtures.py`` (run that).
"""

# name -> (MMAction2 config under configs/, clip shapes (N, C, T, H, W) to run[, options]);
#   audio cases run features (N, 1, T, F)
# options: "changes": {dotted key in the model dict: value} made for both sides (a structure
#   that no config of the zoo uses, e.g. ``backbone.temporal_pool``; recorded in the fixture);
#   "reference": {dotted key: value} made for MMAction2 only (``mmcls.ResNeXt`` is built as
#   ``mmpretrain.ResNeXt``, mmcls' successor, since mmcls is not installable next to mmcv 2);
#   "needs": "tin_shift" (mmcv's compiled op, absent here: a literal loop over the kernel's
#   definition is put in its place) or "mmpretrain" (``pip install --no-deps
#   mmpretrain==1.2.0`` into a folder on PYTHONPATH; see ``_import_mmpretrain``);
#   "scale": {key substring: factor} applied to the seeded weights (recorded in "scale");
#   "train": True also records MMAction2's training-mode losses (see ``_train_losses``);
#   "own_buffers": [key substring, ...]: integer buffers the model computes (Swin's
#   relative_position_index) keep the model's own values instead of the seeded zeros, on both
#   sides (vidlab's test puts vidlab's own there: the logits then check its computation too).
#   "input": "keypoints" (GCNs: shapes are (N, M, T, V, C), float N(0, 1) coordinates) or
#   "heatmap" (PoseC3D: (N, K, T, H, W) heatmaps, drawn as uint8 pixels, laid out as
#   'NCTHW' although the config's data_preprocessor is the default 'NCHW', which only stacks);
#   default uint8 pixels.
CASES = {
    "tsn_r50_1x1x8_k400": (
        "recognition/tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x8-100e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64)],
    ),
    "tsm_r50_1x1x8_k400": (
        "recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64), (2, 3, 16, 64, 64)],  # 16 frames: two rows per clip, merged
    ),
    "tsm_r101_1x1x8_sthv2": (  # deep: shifts every other block of layer3
        "recognition/tsm/tsm_imagenet-pretrained-r101_8xb16-1x1x8-50e_sthv2-rgb.py",
        [(1, 3, 8, 64, 64)],
    ),
    "tsm_r50_nl_dot_product_k400": (
        "recognition/tsm/tsm_imagenet-pretrained-r50-nl-dot-product_8xb16-1x1x8-50e_"
        "kinetics400-rgb.py",
        [(1, 3, 8, 64, 64)],
        {"scale": {f"non_local_block.{m}.": 0.01 for m in ("theta", "phi", "conv_out.conv")}},
    ),
    "tsm_r50_nl_embedded_gaussian_k400": (
        "recognition/tsm/tsm_imagenet-pretrained-r50-nl-embedded-gaussian_8xb16-1x1x8-50e_"
        "kinetics400-rgb.py",
        [(1, 3, 8, 64, 64)],
    ),
    "tsm_r50_nl_gaussian_k400": (
        "recognition/tsm/tsm_imagenet-pretrained-r50-nl-gaussian_8xb16-1x1x8-50e_"
        "kinetics400-rgb.py",
        [(1, 3, 8, 64, 64)],
    ),
    "tsm_r50_temporal_pool": (  # no zoo config pools time: switched on here
        "recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64)],
        {"changes": {"backbone.temporal_pool": True, "cls_head.num_segments": 4}},
    ),
    "tsm_r50_shift_place_block": (  # no zoo config shifts whole blocks: switched on here
        "recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb.py",
        [(1, 3, 8, 64, 64)],
        {"changes": {"backbone.shift_place": "block"}},
    ),
    "tin_r50_1x1x8_sthv2": (
        "recognition/tin/tin_imagenet-pretrained-r50_8xb6-1x1x8-40e_sthv2-rgb.py",
        [(2, 3, 8, 64, 64)],
        {"needs": "tin_shift"},
    ),
    "tin_r50_1x1x8_k400": (  # TSMHead with is_shift=True
        "recognition/tin/tin_kinetics400-pretrained-tsm-r50_1x1x8-50e_kinetics400-rgb.py",
        [(1, 3, 8, 64, 64)],
        {"needs": "tin_shift"},
    ),
    "mobileone_s4_tsn_1x1x8": (
        "recognition/tsn/custom_backbones/tsn_imagenet-pretrained-mobileone-s4_8xb32-1x1x8-100e_"
        "kinetics400-rgb.py",
        [(1, 3, 8, 64, 64)],
        {"needs": "mmpretrain"},
    ),
    "mobileone_s4_tsn_deploy_1x1x8": (
        "recognition/tsn/custom_backbones/tsn_imagenet-pretrained-mobileone-s4_deploy_8xb32-"
        "1x1x8-100e_kinetics400-rgb.py",
        [(1, 3, 8, 64, 64)],
        {"needs": "mmpretrain"},
    ),
    "mobileone_s4_tsm_1x1x16": (
        "recognition/tsm/tsm_imagenet-pretrained-mobileone-s4_8xb16-1x1x16-50e_kinetics400-rgb.py",
        [(1, 3, 16, 64, 64)],
        {"needs": "mmpretrain"},
    ),
    "mobileone_s4_tsm_deploy_1x1x16": (
        "recognition/tsm/tsm_imagenet-pretrained-mobileone-s4_deploy_8xb16-1x1x16-50e_"
        "kinetics400-rgb.py",
        [(1, 3, 16, 64, 64)],
        {"needs": "mmpretrain"},
    ),
    "resnext_101_32x4d_tsn_1x1x3": (
        "recognition/tsn/custom_backbones/tsn_imagenet-pretrained-rn101-32x4d_8xb32-1x1x3-100e_"
        "kinetics400-rgb.py",
        [(1, 3, 3, 64, 64)],
        {"needs": "mmpretrain", "reference": {"backbone.type": "mmpretrain.ResNeXt"}},
    ),
    "mobilenetv2_tsm_1x1x8_k400": (
        "recognition/tsm/tsm_imagenet-pretrained-mobilenetv2_8xb16-1x1x8-100e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64)],
    ),
    "x3d_s_13x6x1_k400": (
        "recognition/x3d/x3d_s_13x6x1_facebook-kinetics400-rgb.py",
        [(2, 3, 13, 64, 64)],
    ),
    "c3d_sports1m_16x1x1_ucf101": (  # fc6 fixes the size: 16 frames at 112 px
        "recognition/c3d/c3d_sports1m-pretrained_8xb30-16x1x1-45e_ucf101-rgb.py",
        [(1, 3, 16, 112, 112)],
    ),
    "tanet_r50_1x1x8_sthv1": (
        "recognition/tanet/tanet_imagenet-pretrained-r50_8xb8-1x1x8-50e_sthv1-rgb.py",
        [(2, 3, 8, 64, 64), (1, 3, 16, 64, 64)],  # 16 frames: two rows per clip, merged
    ),
    "tanet_r50_1x1x16_sthv1": (  # 16 segments: TAM's global branch is twice as wide
        "recognition/tanet/tanet_imagenet-pretrained-r50_8xb6-1x1x16-50e_sthv1-rgb.py",
        [(1, 3, 16, 32, 32)],
    ),
    "trn_r50_1x1x8_sthv2": (  # multi-scale relations drawn at random: the draws are recorded
        "recognition/trn/trn_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb.py",
        [(2, 3, 8, 64, 64)],
    ),
    "i3d_r50_32x2x1_k400": (
        "recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(2, 3, 32, 32, 32)],
    ),
    "i3d_r18_basic_block": (  # no zoo config has a 3D ResNet-18: BasicBlock3d checked here
        "recognition/i3d/i3d_imagenet-pretrained-r50_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(1, 3, 16, 32, 32)],
        {
            "changes": {
                "backbone.depth": 18,
                "backbone.inflate": ((1, 1), (1, 0), (1, 0), (0, 1)),
                "cls_head.in_channels": 512,
            }
        },
    ),
    "i3d_r50_heavy_32x2x1_k400": (  # every block inflated, no temporal stride in the stem
        "recognition/i3d/i3d_imagenet-pretrained-r50-heavy_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(1, 3, 32, 32, 32)],
    ),
    "i3d_r50_nl_dot_product_32x2x1_k400": (
        "recognition/i3d/i3d_imagenet-pretrained-r50-nl-dot-product_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(1, 3, 32, 64, 64)],
        {
            "scale": {
                "non_local_block.theta.conv.weight": 1e-3,
                "non_local_block.phi.0.conv.weight": 1e-3,
                "non_local_block.conv_out.bn.weight": 1e-2,
            }
        },
    ),
    "i3d_r50_nl_embedded_gaussian_32x2x1_k400": (
        "recognition/i3d/i3d_imagenet-pretrained-r50-nl-embedded-gaussian_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(1, 3, 32, 64, 64)],
    ),
    "i3d_r50_nl_gaussian_32x2x1_k400": (
        "recognition/i3d/i3d_imagenet-pretrained-r50-nl-gaussian_8xb8-32x2x1-100e_kinetics400-rgb.py",
        [(1, 3, 32, 64, 64)],
    ),
    "slowonly_r50_8x8x1_k400": (
        "recognition/slowonly/slowonly_imagenet-pretrained-r50_8xb16-8x8x1-steplr-150e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64)],
    ),
    "slowonly_r50_nl_embedded_gaussian_4x16x1_k400": (
        "recognition/slowonly/slowonly_r50-in1k-pre-nl-embedded-gaussian_8xb16-4x16x1-steplr-150e_kinetics400-rgb.py",
        [(1, 3, 4, 64, 64)],
    ),
    "slowonly_r50_flow_16x4x1_k400": (  # 2-channel optical flow input
        "recognition/slowonly/slowonly_r50_8xb16-16x4x1-256e_kinetics400-flow.py",
        [(1, 2, 16, 32, 32)],
    ),
    "slowfast_r50_4x16x1_k400": (  # 16 frames too: 2 slow, 16 fast
        "recognition/slowfast/slowfast_r50_8xb8-4x16x1-256e_kinetics400-rgb.py",
        [(2, 3, 32, 32, 32), (1, 3, 16, 32, 32)],
    ),
    "slowfast_r50_8x8x1_k400": (  # tau = alpha = 4, 7x1x1 laterals
        "recognition/slowfast/slowfast_r50_8xb8-8x8x1-256e_kinetics400-rgb.py",
        [(1, 3, 32, 32, 32)],
    ),
    "slowfast_r50_steplr_8x8x1_k400": (  # lateral_norm: BN + ReLU in the laterals
        "recognition/slowfast/slowfast_r50_8xb8-8x8x1-steplr-256e_kinetics400-rgb.py",
        [(1, 3, 32, 32, 32)],
    ),
    "slowfast_r101_r50_4x16x1_k400": (  # ResNet-101 slow, ResNet-50 fast pathway
        "recognition/slowfast/slowfast_r101-r50_32xb8-4x16x1-256e_kinetics400-rgb.py",
        [(1, 3, 32, 32, 32)],
    ),
    "c2d_r50_8x8x1_k400": (
        "recognition/c2d/c2d_r50-in1k-pre_8xb32-8x8x1-100e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64)],
    ),
    "c2d_r50_nopool_8x8x1_k400": (  # per-frame ResNet + TSN head, as Recognizer2D
        "recognition/c2d/c2d_r50-in1k-pre-nopool_8xb32-8x8x1-100e_kinetics400-rgb.py",
        [(1, 3, 8, 64, 64)],
    ),
    "csn_ir_r50_32x2x1_k400": (
        "recognition/csn/ircsn_ig65m-pretrained-r50-bnfrozen_8xb12-32x2x1-58e_kinetics400-rgb.py",
        [(1, 3, 32, 32, 32)],
    ),
    "csn_ip_r152_32x2x1_k400": (
        "recognition/csn/ipcsn_r152_32x2x1-180e_kinetics400-rgb.py",
        [(1, 3, 32, 32, 32)],
    ),
    "r2plus1d_r34_8x8x1_k400": (  # SyncBN: nn.SyncBatchNorm in both, not distributed
        "recognition/r2plus1d/r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb.py",
        [(2, 3, 8, 32, 32)],
    ),
    "omni_slowonly_r50_8x8x1_imagenet_k400": (  # a video batch and an image batch (4D)
        "recognition/omnisource/slowonly_r50_8xb16-8x8x1-256e_imagenet-kinetics400-rgb.py",
        [(2, 3, 8, 32, 32), (2, 3, 32, 32)],
    ),
    "tpn_tsm_r50_1x1x8_sthv1": (  # TPN neck on ResNetTSM's res4 + res5; test_cfg.fcn_test
        "recognition/tpn/tpn-tsm_imagenet-pretrained-r50_8xb8-1x1x8-150e_sthv1-rgb.py",
        [(2, 3, 8, 64, 64)],
        {"train": True},
    ),
    "tpn_slowonly_r50_8x8x1_k400": (
        "recognition/tpn/tpn-slowonly_imagenet-pretrained-r50_8xb8-8x8x1-150e_kinetics400-rgb.py",
        [(2, 3, 8, 64, 64)],
        {"train": True},
    ),
    "mvit_small_16x4x1_k400": (  # built for 224 px: relative position tables interpolated
        "recognition/mvit/mvit-small-p244_32xb16-16x4x1-200e_kinetics400-rgb.py",
        [(2, 3, 16, 64, 64)],
    ),
    "mvit_small_at_size_16x4x1": (  # built for the input size: tables used as they are
        "recognition/mvit/mvit-small-p244_32xb16-16x4x1-200e_kinetics400-rgb.py",
        [(1, 3, 16, 64, 64)],
        {"changes": {"backbone.spatial_size": 64}},
    ),
    "mvit_small_maskfeat_16x4x1_k400": (  # dim_mul_in_attention=False
        "recognition/mvit/mvit-small-p244_k400-maskfeat-pre_8xb32-16x4x1-100e_kinetics400-rgb.py",
        [(1, 3, 16, 64, 64)],
    ),
    "mvit_small_abs_pos_no_cls": (  # no zoo config: pos_embed (resized), mean-pooled patches
        "recognition/mvit/mvit-small-p244_32xb16-16x4x1-200e_kinetics400-rgb.py",
        [(1, 3, 16, 64, 64)],
        {
            "changes": {
                "backbone.use_abs_pos_embed": True,
                "backbone.with_cls_token": False,
                "backbone.output_cls_token": False,
                "cls_head.with_cls_token": False,
            }
        },
    ),
    "mvit_base_32x3x1_k400": (
        "recognition/mvit/mvit-base-p244_32x3x1_kinetics400-rgb.py",
        [(1, 3, 32, 64, 64)],
    ),
    "mvit_large_40x3x1_k400": (  # 48 blocks, 2 heads from the start, 312 px tables
        "recognition/mvit/mvit-large-p244_40x3x1_kinetics400-rgb.py",
        [(1, 3, 40, 32, 32)],
    ),
    "uniformer_s_16x4x1_k400": (
        "recognition/uniformer/uniformer-small_imagenet1k-pre_16x4x1_kinetics400-rgb.py",
        [(2, 3, 16, 64, 64)],
    ),
    "uniformer_b_16x4x1_k400": (
        "recognition/uniformer/uniformer-base_imagenet1k-pre_16x4x1_kinetics400-rgb.py",
        [(1, 3, 16, 32, 32)],
    ),
    "uniformerv2_b16_u8_k400": (  # position embedding made for 48 px (3x3 patches), not 224
        "recognition/uniformerv2/uniformerv2-base-p16-res224_clip_8xb32-u8_kinetics400-rgb.py",
        [(2, 3, 8, 48, 48)],
        {"changes": {"backbone.input_resolution": 48}},
    ),
    "uniformerv2_b16_lmhra_tdown": (  # no zoo config: local MHRA (both) and conv1 over time
        "recognition/uniformerv2/uniformerv2-base-p16-res224_clip_8xb32-u8_kinetics400-rgb.py",
        [(1, 3, 8, 48, 48)],
        {
            "changes": {
                "backbone.input_resolution": 48,
                "backbone.no_lmhra": False,
                "backbone.temporal_downsample": True,
            }
        },
    ),
    "uniformerv2_l14_u8_k400": (  # 28 px: 2x2 patches of 14, its own TimeSformerHead
        "recognition/uniformerv2/uniformerv2-large-p14-res224_clip-kinetics710-pre_u8_"
        "kinetics400-rgb.py",
        [(1, 3, 8, 28, 28)],
        {"changes": {"backbone.input_resolution": 28}},
    ),
    "audio_tsn_r18_64x1x1_k400": (  # audio features (N, 1, T, F): 128 frames x 80 mel bins
        "recognition_audio/resnet/tsn_r18_8xb320-64x1x1-100e_kinetics400-audio-feature.py",
        [(2, 1, 128, 80)],
    ),
    "swin_tiny_32x2x1_k400": (  # 48 px: padded, shifted windows; 8 frames: a shrunk window
        "recognition/swin/swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py",
        [(2, 3, 32, 48, 48), (1, 3, 8, 32, 32)],
        {"changes": {"backbone.drop_path_rate": 0.0}, "own_buffers": ["relative_position_index"]},
    ),
    "swin_base_32x2x1_k400": (  # 4 heads per 128 channels
        "recognition/swin/swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py",
        [(1, 3, 16, 64, 64)],
        {"changes": {"backbone.drop_path_rate": 0.0}, "own_buffers": ["relative_position_index"]},
    ),
    "audio_only_r50_64x1x1_k400": (
        "recognition_audio/audioonly/audioonly_r50_8xb160-64x1x1-100e_kinetics400-audio-feature.py",
        [(2, 1, 128, 80)],
    ),
    "videomae_vit_b_16x4x1_k400": (  # 32 px: MMAction2 interpolates the 14x14 table (bicubic)
        "recognition/videomae/vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400.py",
        [(2, 3, 16, 32, 32)],
    ),
    "videomae_v2_vit_s_16x4x1_k400": (
        "recognition/videomaev2/vit-small-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400.py",
        [(1, 3, 16, 48, 48)],
    ),
    # TimeSformer: MMAction2 adds its 224-px position embedding as it is, so the cases are
    # built for 32 px (img_size=32, a 2x2 patch grid)
    "timesformer_divst_8x32x1_k400": (
        "recognition/timesformer/timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb.py",
        [(2, 3, 8, 32, 32)],
        {"changes": {"backbone.img_size": 32}},
    ),
    "timesformer_jointst_8x32x1_k400": (
        "recognition/timesformer/timesformer_jointST_8xb8-8x32x1-15e_kinetics400-rgb.py",
        [(2, 3, 8, 32, 32)],
        {"changes": {"backbone.img_size": 32}},
    ),
    "timesformer_spaceonly_8x32x1_k400": (
        "recognition/timesformer/timesformer_spaceOnly_8xb8-8x32x1-15e_kinetics400-rgb.py",
        [(2, 3, 8, 32, 32)],
        {"changes": {"backbone.img_size": 32}},
    ),
    # --- skeleton (configs/skeleton): keypoints (N, M, T, V, C), heatmaps (N, K, T, H, W)
    "stgcn_j_2d_ntu60": (  # COCO-17, ST-GCN's partition of the graph, edge importance
        "skeleton/stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
        [(2, 2, 100, 17, 3)],
        {"input": "keypoints"},
    ),
    "stgcn_j_3d_ntu120": (  # NTU RGB+D 25 joints, x y z
        "skeleton/stgcn/stgcn_8xb16-joint-u100-80e_ntu120-xsub-keypoint-3d.py",
        [(2, 2, 100, 25, 3)],
        {"input": "keypoints"},
    ),
    "stgcnpp_j_2d_ntu60": (  # learned graph, residual graph units, multi-scale TCN
        "skeleton/stgcnpp/stgcnpp_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
        [(2, 2, 100, 17, 3)],
        {"input": "keypoints"},
    ),
    "stgcnpp_b_3d_ntu60": (
        "skeleton/stgcnpp/stgcnpp_8xb16-bone-u100-80e_ntu60-xsub-keypoint-3d.py",
        [(2, 2, 100, 25, 3)],
        {"input": "keypoints"},
    ),
    "agcn_j_2d_ntu60": (  # AAGCN without attention (2s-AGCN), per-person data BN
        "skeleton/2s-agcn/2s-agcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d.py",
        [(2, 2, 100, 17, 3)],
        {"input": "keypoints"},
    ),
    "aagcn_attention_3d_ntu60": (  # no zoo config keeps the attention: switched on here
        "skeleton/2s-agcn/2s-agcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py",
        [(2, 2, 100, 25, 3)],
        {"input": "keypoints", "changes": {"backbone.gcn_attention": True}},
    ),
    # PoseC3D: heatmaps drawn as uint8 (0..255; the model casts to float), so that a
    # 48-frame volume of 17 maps fits a fixture of under 1 MB
    "posec3d_r50_ntu60_keypoint": (  # SlowOnly on 17 joint heatmaps, 48 frames
        "skeleton/posec3d/slowonly_r50_8xb16-u48-240e_ntu60-xsub-keypoint.py",
        [(1, 17, 48, 32, 32)],
        {"input": "heatmap"},
    ),
    "posec3d_r50_k400_keypoint": (  # stage_blocks (3, 4, 6)
        "skeleton/posec3d/slowonly_r50_8xb32-u48-240e_k400-keypoint.py",
        [(1, 17, 32, 32, 32)],
        {"input": "heatmap"},
    ),
    "rgbpose_conv3d_ntu60": (  # RGB 8 frames, heatmaps 32 frames at a quarter of the size
        "skeleton/posec3d/rgbpose_conv3d/rgbpose_conv3d.py",
        [{"imgs": (1, 3, 8, 64, 64), "heatmap_imgs": (1, 17, 32, 16, 16)}],
    ),
}
