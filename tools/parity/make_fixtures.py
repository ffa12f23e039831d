"""Write MMAction2-parity fixtures: run inside MMAction2's reference environment.

    bash ../shared/tools/mmaction2_reference.sh
    ~/.cache/mmaction2-ref/venv/bin/python tools/parity/make_fixtures.py [--only NAME ...]

For each case below the model is built by MMAction2 1.2.0 from its own config file (only
``pretrained`` is set to None so nothing downloads), given seeded weights (``seeded.py``,
BatchNorm statistics included) and run in eval mode on a seeded uint8 clip. The fixture
``tests/fixtures/parity/<name>.pt`` keeps the config's model dict, the state-dict keys and
shapes, the seed and hash of the weights, the clip, and MMAction2's outputs;
``tests/models/test_parity.py`` checks vidlab against it without MMAction2. vidlab itself
never imports MMAction2.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from seeded import digest, seeded_state_dict, spec_of  # noqa: E402

OUT = HERE.parent.parent / "tests" / "fixtures" / "parity"

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


def _set(model_cfg: dict, dotted: str, value) -> None:
    node = model_cfg
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value


def tin_shift_loop(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """mmcv's ``tin_shift`` written out as its CUDA kernel reads: ``x`` (N, T, C, HW), ``shift``
    (N, G) ints; ``out[n, i + s, c] = x[n, i, c]`` for ``s = shift[n, c // (C // G)]`` where
    ``0 <= i + s < T``; the rest of ``out`` stays zero."""
    n, t, c, _ = x.shape
    group_channel = c // shift.shape[1]
    out = torch.zeros_like(x)
    for b in range(n):
        for j in range(c):
            s = int(shift[b, j // group_channel])
            for i in range(t):
                if 0 <= i + s < t:
                    out[b, i + s, j] = x[b, i, j]
    return out


def _provide_tin_shift() -> None:
    import types

    try:
        import mmcv.ops as ops
    except Exception:  # noqa: BLE001 - mmcv-lite: no compiled ops at all
        ops = types.ModuleType("mmcv.ops")
        sys.modules["mmcv.ops"] = ops
    ops.tin_shift = tin_shift_loop


def _import_mmpretrain() -> None:
    """mmpretrain 1.2.0 (pure Python) needs ``modelindex`` and ``torchvision.ops.boxes`` only
    for parts these cases never use: empty stand-ins are put in ``sys.modules`` if missing."""
    import types

    for name in (
        "modelindex",
        "modelindex.load_model_index",
        "modelindex.models",
        "modelindex.models.Model",
        "torchvision",
        "torchvision.ops",
        "torchvision.ops.boxes",
    ):
        try:
            __import__(name)
        except ImportError:
            module = types.ModuleType(name)
            module.load = module.Model = lambda *a, **k: None
            sys.modules[name] = module
    # mmaction registers MobileOneTSM only if mmpretrain imported when mmaction did
    import mmaction.models.backbones.mobileone_tsm  # noqa: F401
    import mmpretrain.models  # noqa: F401


def _is_download(key: str, value) -> bool:
    """``pretrained=...`` or ``init_cfg=dict(type='Pretrained', ...)`` (MMPretrain backbones)."""
    if key == "pretrained":
        return True
    return key == "init_cfg" and isinstance(value, dict) and value.get("type") == "Pretrained"


def _no_downloads(node):
    if isinstance(node, dict):
        return {k: (None if _is_download(k, v) else _no_downloads(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_no_downloads(v) for v in node]
    return node


def _mm_inputs(clips: torch.Tensor, format_shape: str = "NCHW") -> list[torch.Tensor]:
    """vidlab's (N, C, T, H, W) (audio: (N, C, T, F)) -> MMAction2's per-sample inputs for its
    format_shape."""
    if format_shape == "MM":  # {modality: (N, C, T, H, W)} -> {modality: per-sample views}
        return {k: [c.unsqueeze(0).contiguous() for c in v] for k, v in clips.items()}
    if format_shape == "GCN":  # (N, M, T, V, C) -> per sample (1 clip, M, T, V, C)
        return [c.unsqueeze(0).contiguous() for c in clips]
    if format_shape == "MIX2d3d" and clips.dim() == 4:  # OmniSource's images
        return [c.contiguous() for c in clips]  # (C, H, W)
    if format_shape in ("NCTHW", "MIX2d3d", "NCTF"):
        return [c.unsqueeze(0).contiguous() for c in clips]  # (1 view, C, T, H, W)
    if format_shape != "NCHW":
        raise NotImplementedError(f"format_shape={format_shape!r}")
    return [c.transpose(0, 1).contiguous() for c in clips]  # (T, C, H, W) for NCHW


def _peak(logits) -> float:
    if isinstance(logits, dict):  # RGBPoseHead: one logit tensor per pathway
        return max(v.abs().max().item() for v in logits.values())
    return logits.abs().max().item()


def _float(logits):
    if isinstance(logits, dict):
        return {k: v.float().clone() for k, v in logits.items()}
    return logits.float().clone()


def _stack_scores(scores: list):
    if isinstance(scores[0], dict):  # RGBPoseHead's pred_score: {'rgb': (K,), 'pose': (K,)}
        return {k: torch.stack([s[k] for s in scores]).float().clone() for k in scores[0]}
    return torch.stack(scores).float().clone()


def _draw(shape, gen: torch.Generator, kind: str | None):
    """A seeded model input: N(0, 1) keypoints, or uint8 pixels (heatmaps too); a dict of
    shapes (one per modality) gives a dict of inputs."""
    if isinstance(shape, dict):
        return {k: _draw(v, gen, kind) for k, v in shape.items()}
    if kind == "keypoints":
        return torch.randn(shape, generator=gen)
    return torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)


def _head_logits(model, inputs: torch.Tensor) -> torch.Tensor:
    """MMAction2's logits (eval): ``mode='tensor'`` of RecognizerOmni unpacks its features as a
    tuple (it works for batches of 2 only), so its backbone and head are called directly."""
    if type(model).__name__ == "RecognizerOmni":
        return model.cls_head(model.extract_feat(inputs, test_mode=True))
    if isinstance(inputs, dict):  # MMRecognizer3D reshapes its dict of inputs in place
        inputs = dict(inputs)
    return model(inputs, mode="tensor", stage="head")


def _predict(model, data: dict) -> list:
    if type(model).__name__ == "RecognizerOmni":  # takes a tuple of batches, one per source
        return model(data, mode="predict")
    inputs = data["inputs"]
    if isinstance(inputs, dict):  # MMRecognizer3D reshapes its dict of inputs in place
        inputs = dict(inputs)
    return model(inputs, data["data_samples"], mode="predict")


def _relation_draws(model, seed: int) -> list[list[int]] | None:
    """TRN's multi-scale head draws relations with numpy's global generator in every call:
    seed it (before each call) and return the draws such a call makes, or None for others."""
    import numpy as np

    consensus = getattr(model.cls_head, "consensus", None)
    if not hasattr(consensus, "subsample_scales"):
        return None
    np.random.seed(seed)
    sizes = zip(consensus.relations_scales[1:], consensus.subsample_scales[1:])
    draws = [np.random.choice(len(r), k, replace=False).tolist() for r, k in sizes]
    np.random.seed(seed)
    return draws


def _train_losses(model, shape: tuple, seed: int, fmt: str) -> list[dict]:
    """MMAction2's training-mode losses (``mode='loss'``: BN on batch statistics, TPN's
    auxiliary loss from the labels), dropout off, on a seeded clip: hard labels, then soft
    labels (as mixup makes them) with the head's ``label_smooth_eps=0.1``. Run last: BN
    running statistics change."""
    from mmaction.structures import ActionDataSample

    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    gen = torch.Generator().manual_seed(seed + 100)
    clips = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
    k = model.cls_head.num_classes
    hard = torch.randint(0, k, (shape[0],), generator=gen)
    soft = torch.rand(shape[0], k, generator=gen).softmax(1)
    model.train()
    records = []
    for labels, eps in ((hard, 0.0), (soft, 0.1)):
        model.cls_head.label_smooth_eps = eps
        samples = [ActionDataSample().set_gt_label(y) for y in labels]
        data = model.data_preprocessor(
            dict(inputs=_mm_inputs(clips, fmt), data_samples=samples), training=True
        )
        with torch.no_grad():
            losses = model(data["inputs"], data["data_samples"], mode="loss")
        losses = {n: v.float().clone() for n, v in losses.items() if "loss" in n}
        records.append(dict(clips=clips, labels=labels, label_smooth_eps=eps, losses=losses))
    model.cls_head.label_smooth_eps = 0.0
    model.eval()
    return records


def make(name: str, config: str, shapes: list, root: Path, options: dict | None = None) -> dict:
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    from mmengine.config import Config

    options = options or {}
    if options.get("needs") == "tin_shift":
        _provide_tin_shift()
    elif options.get("needs") == "mmpretrain":
        _import_mmpretrain()
    cfg = Config.fromfile(str(root / config))
    model_cfg = _no_downloads(cfg.model.to_dict())
    for key, value in options.get("changes", {}).items():
        _set(model_cfg, key, value)
    mm_cfg = copy.deepcopy(model_cfg)
    for key, value in options.get("reference", {}).items():
        _set(mm_cfg, key, value)
    fmt = model_cfg.get("data_preprocessor", {}).get("format_shape", "NCHW")
    if model_cfg["type"] == "RecognizerAudio":  # FormatAudioShape's layout, one view each
        fmt = "NCTF"
    if model_cfg["type"] == "RecognizerGCN":  # FormatGCNInput's layout, one clip each
        fmt = "GCN"
    if model_cfg["type"] == "MMRecognizer3D":  # RGB + heatmaps, one dict of inputs
        fmt = "MM"
    if options.get("input") == "heatmap":  # no data_preprocessor: default 'NCHW' only stacks
        fmt = "NCTHW"
    model = MODELS.build(mm_cfg)
    spec = spec_of(model.state_dict())
    own_parts = options.get("own_buffers", [])
    own = {k: v.clone() for k, v in model.state_dict().items() if any(p in k for p in own_parts)}
    seed = sum(map(ord, name))
    # "scale": {key substring: factor} tames weights whose random draw overflows (the
    # unnormalized dot-product non-local blocks).
    extra = {k: f for k in spec for part, f in options.get("scale", {}).items() if part in k}
    state = seeded_state_dict(spec, seed, extra)
    model.load_state_dict({**state, **own}, strict=True)
    model.eval()
    # Residual sums grow with depth under random weights: scale the classifier so that the
    # logits are O(1) and softmax scores (what 'prob' averaging sees) are not one-hot.
    # OmniHead: fc2d scaled by the image probe (a 4D shape), fc3d by the video probe.
    scale = dict(extra)
    parts = {"cls_head.fc2d.": 4, "cls_head.fc3d.": 5} if fmt == "MIX2d3d" else {"cls_head.": 0}
    for part, rank in parts.items():
        shape = next(s for s in shapes if rank in (0, len(s)))
        gen = torch.Generator().manual_seed(seed)
        probe = _draw(shape, gen, options.get("input"))
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=_mm_inputs(probe, fmt), data_samples=None), False
            )
            peak = _peak(_head_logits(model, data["inputs"]))
        fc = [k for k in spec if k.startswith(part) and k.endswith(("weight", "bias"))]
        scale.update({k: 4.0 / peak for k in fc})
    state = seeded_state_dict(spec, seed, scale)
    model.load_state_dict({**state, **own}, strict=True)

    runs = []
    for i, shape in enumerate(shapes):
        gen = torch.Generator().manual_seed(seed + 1 + i)
        clips = _draw(shape, gen, options.get("input"))
        batch = len(next(iter(clips.values()))) if isinstance(clips, dict) else shape[0]
        samples = [ActionDataSample() for _ in range(batch)]
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=_mm_inputs(clips, fmt), data_samples=samples), training=False
            )
            draws = _relation_draws(model, seed + i)
            logits = _head_logits(model, data["inputs"])
            _relation_draws(model, seed + i)  # the same draws again
            preds = _predict(model, data)
        scores = _stack_scores([p.pred_score for p in preds])
        run = dict(clips=clips, logits=_float(logits), scores=scores)
        if draws is not None:
            run["relation_picks"] = draws
        runs.append(run)
    extra_records = {}
    if options.get("train"):
        extra_records["train"] = _train_losses(model, shapes[0], seed, fmt)
    return dict(
        mmaction2="1.2.0",
        torch=str(torch.__version__),
        config=config,
        changes=options.get("changes", {}),
        own_buffers=own_parts,
        reference_changes=options.get("reference", {}),
        model=model_cfg,
        spec=spec,
        seed=seed,
        scale=scale,
        digest=digest(state),
        runs=runs,
        **extra_records,
    )


def main() -> None:
    import mmaction
    from mmaction.utils import register_all_modules

    register_all_modules()
    root = Path(mmaction.__file__).parent / ".mim" / "configs"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="case names to write")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (config, shapes, *options) in CASES.items():
        if args.only and name not in args.only:
            continue
        fixture = make(name, config, shapes, root, *options)
        torch.save(fixture, OUT / f"{name}.pt")
        size = (OUT / f"{name}.pt").stat().st_size
        print(f"{name}: {len(fixture['spec'])} tensors, {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
