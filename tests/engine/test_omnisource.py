"""OmniSource training: MMAction2's MultiLoaderEpochBasedTrainLoop on videos and images.

A real run on files the test writes: synthetic motion videos (``vidlab.data.synthetic``) and
PNG images in MMPretrain's ImageNet layout (``meta/train.txt`` of ``path label`` lines), with
the omnisource config's structure (``RecognizerOmni``, ``MIX2d3d``, the image pipeline of
``mmcls.*`` transforms) and a small ``OmniResNet`` (one block per stage).
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.config import ConfigError, build
from vidlab.data.io.frames import ImageEncoder
from vidlab.data.synthetic import make_synthetic_dataset
from vidlab.engine.train import train

CONFIG = Path(
    os.path.expanduser(
        "~/.cache/mmaction2-ref/venv/lib/python3.11/site-packages/mmaction/.mim/configs/"
        "recognition/omnisource/slowonly_r50_8xb16-8x8x1-256e_imagenet-kinetics400-rgb.py"
    )
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("omni")
    videos = root / "videos"
    make_synthetic_dataset(
        videos, classes=["move_left", "move_right"], videos_per_class=8, val_fraction=0.25, num_frames=8,
        size=32,
    )  # fmt: skip
    images = root / "imagenet"
    (images / "train").mkdir(parents=True)
    (images / "meta").mkdir()
    enc, rng, lines = ImageEncoder(".png"), np.random.default_rng(0), []
    for i in range(12):  # class 0: a bright left half, class 1: a bright right half
        label = i % 2
        img = rng.integers(0, 60, (36, 44, 3), dtype=np.uint8)
        (img[:, 22:] if label else img[:, :22])[...] += 180
        name = f"n{label:08d}_{i}.png"
        (images / "train" / name).write_bytes(enc.encode(img))
        lines.append(f"{name} {label}")
    (images / "meta" / "train.txt").write_text("\n".join(lines) + "\n")
    return videos, images


def make_cfg(work_dir, videos, images, max_epochs=3):
    video_pipeline = [
        dict(type="DecordInit"),
        dict(type="SampleFrames", clip_len=4, frame_interval=2, num_clips=1),
        dict(type="DecordDecode"),
        dict(type="Resize", scale=(-1, 20)),
        dict(type="RandomResizedCrop"),
        dict(type="Resize", scale=(16, 16), keep_ratio=False),
        dict(type="Flip", flip_ratio=0.5),
        dict(type="FormatShape", input_format="NCTHW"),
        dict(type="PackActionInputs"),
    ]
    image_dataloader = dict(
        batch_size=4,
        num_workers=0,
        dataset=dict(
            type="mmcls.ImageNet",
            data_root=str(images),
            ann_file="meta/train.txt",
            data_prefix="train",
            pipeline=[
                dict(type="LoadRGBFromFile"),
                dict(type="mmcls.RandomResizedCrop", scale=16, crop_ratio_range=(0.5, 1.0)),
                dict(type="mmcls.RandomFlip", prob=0.5, direction="vertical"),
                dict(type="mmcls.PackClsInputs"),
            ],
        ),
        sampler=dict(type="DefaultSampler", shuffle=True),
    )
    return dict(
        model=dict(
            type="RecognizerOmni",
            backbone=dict(type="OmniResNet", layers=[1, 1, 1, 1]),
            cls_head=dict(
                type="OmniHead",
                image_classes=2,
                video_classes=2,
                in_channels=2048,
                average_clips="prob",
            ),
            data_preprocessor=dict(
                type="ActionDataPreprocessor",
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape="MIX2d3d",
            ),
        ),
        train_dataloader=dict(
            batch_size=4,
            num_workers=0,
            sampler=dict(type="DefaultSampler", shuffle=True),
            dataset=dict(
                type="VideoDataset",
                ann_file=str(videos / "train.txt"),
                data_prefix=dict(video=str(videos)),
                pipeline=video_pipeline,
            ),
        ),
        val_dataloader=dict(
            batch_size=2,
            sampler=dict(type="DefaultSampler", shuffle=False),
            dataset=dict(
                type="VideoDataset",
                ann_file=str(videos / "val.txt"),
                data_prefix=dict(video=str(videos)),
                pipeline=[
                    dict(type="DecordInit"),
                    dict(type="SampleFrames", clip_len=4, frame_interval=2, test_mode=True),
                    dict(type="DecordDecode"),
                    dict(type="Resize", scale=(-1, 20)),
                    dict(type="CenterCrop", crop_size=16),
                    dict(type="FormatShape", input_format="NCTHW"),
                    dict(type="PackActionInputs"),
                ],
                test_mode=True,
            ),
        ),
        val_evaluator=dict(type="AccMetric"),
        val_cfg=dict(type="ValLoop"),
        train_cfg=dict(
            type="MultiLoaderEpochBasedTrainLoop",
            other_loaders=[image_dataloader],
            max_epochs=max_epochs,
            val_interval=max_epochs,
        ),
        optim_wrapper=dict(
            optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=1e-4),
            clip_grad=dict(max_norm=40, norm_type=2),
        ),
        default_hooks=dict(checkpoint=dict(interval=1), logger=dict(type="LoggerHook", interval=1)),
        randomness=dict(seed=0),
        work_dir=str(work_dir),
    )


def _records(work_dir: Path) -> list[dict]:
    lines = (work_dir / "log.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r.get("mode") == "train"]


@pytest.fixture(scope="module")
def full_run(data, tmp_path_factory):
    work = tmp_path_factory.mktemp("full")
    return train(make_cfg(work, *data)), work


def test_both_losses_are_logged_and_go_down(full_run):
    result, work = full_run
    # 12 training videos and 12 images, batches of 4: 3 steps per epoch, one batch of each
    assert result["iter"] == 9
    records = _records(work)
    assert len(records) == 9
    for r in records:
        assert {"loss_cls_0", "loss_cls_1"} <= r.keys()
        assert r["loss"] == pytest.approx(r["loss_cls_0"] + r["loss_cls_1"], rel=1e-5)
    first = np.mean([r["loss"] for r in records[:3]])
    last = np.mean([r["loss"] for r in records[-3:]])
    assert last < first
    assert set(result["metrics"]) >= {"acc/top1", "acc/mean1"}  # the video path, 'prob' averaged
    log = (work / "train.log").read_text()
    assert "loss_cls_0" in log and "loss_cls_1" in log


def test_resume_is_bitwise_equal(full_run, data, tmp_path):
    # every loader starts over each epoch, its order and augmentation a function of the run's
    # seed and the epoch: resuming after an epoch continues the image loader exactly too
    result, work = full_run
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    shutil.copy(work / "epoch_1.pth", resumed_dir / "epoch_1.pth")
    resumed = train(make_cfg(resumed_dir, *data), resume=True)
    assert resumed["iter"] == result["iter"] and resumed["metrics"] == result["metrics"]
    expected = result["model"].state_dict()
    got = resumed["model"].state_dict()
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


def test_image_pipeline_packs_images(data):
    _, images = data
    cfg = make_cfg("unused", *data)
    node = cfg["train_cfg"]["other_loaders"][0]["dataset"]
    dataset = build(node)
    assert len(dataset) == 12 and dataset.num_classes == 2
    sample = dataset[1]
    assert sample["clips"].shape == (3, 16, 16) and sample["clips"].dtype == torch.uint8
    assert int(sample["label"]) == 1 and sample["index"] == 1


def test_other_loaders_must_be_loader_dicts(data, tmp_path):
    cfg = make_cfg(tmp_path, *data)
    cfg["train_cfg"]["other_loaders"] = "images"
    with pytest.raises(ConfigError, match="other_loaders must be a list"):
        train(cfg)


@pytest.mark.skipif(not CONFIG.exists(), reason="MMAction2's reference environment is absent")
def test_mmaction2_config_builds_unmodified():
    from vidlab.config import load_config, validate

    cfg = load_config(str(CONFIG))
    validate(cfg)
    model = build(cfg.model)
    assert type(model).__name__ == "RecognizerOmni"
    loop = build(cfg.train_cfg)
    assert loop.max_epochs == 256 and loop.other_loaders[0]["dataset"]["type"] == "mmcls.ImageNet"
    for t in loop.other_loaders[0]["dataset"]["pipeline"]:
        build(t)  # each transform of the image pipeline
