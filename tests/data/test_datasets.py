"""Annotation-list datasets: parsing errors, missing files, on_error='skip', end-to-end pipelines."""

import logging
import os

import av
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vidlab.config import build
from vidlab.data.datasets import (
    AnnotationError,
    RawframeDataset,
    RepeatAugDataset,
    Skipped,
    VideoDataset,
    collate_skip_none,
)
from vidlab.data.loading import DecordDecode, DecordInit, RawFrameDecode, VideoDecode, VideoInit
from vidlab.data.sampling import SampleFrames
from vidlab.data.transforms import CenterCrop, FormatShape, PackActionInputs, Resize

H, W = 40, 56


def write_mp4(path, n=30, fps=25, h=H, w=W, seed=0):
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        for t in range(n):
            img = np.full((h, w, 3), 5 + 6 * (t % 40), np.uint8)
            img[: h // 2] = rng.integers(0, 255, 3, dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return str(path)


def write_png(path, img):
    with av.open(str(path), "w", format="image2") as c:
        s = c.add_stream("png", rate=1)
        s.width, s.height, s.pix_fmt = img.shape[1], img.shape[0], "rgb24"
        for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    write_mp4(root / "a.mp4", n=30, seed=1)
    write_mp4(root / "b.mp4", n=45, seed=2)
    (root / "broken.mp4").write_bytes(os.urandom(3000))
    os.makedirs(root / "frames" / "a")
    for k in range(10):
        write_png(
            root / "frames" / "a" / f"img_{k + 1:05d}.png", np.full((H, W, 3), 5 + 6 * k, np.uint8)
        )
    return root


def write(path, text):
    path.write_text(text)
    return str(path)


def tsn_test_pipeline(num_clips=4):
    return [
        VideoInit(),
        SampleFrames(clip_len=1, frame_interval=1, num_clips=num_clips, test_mode=True),
        VideoDecode(),
        Resize(scale=(-1, 32)),
        CenterCrop(crop_size=32),
        FormatShape(input_format="NCHW"),
        PackActionInputs(),
    ]


# -- annotation parsing -----------------------------------------------------------------------
def test_video_list_parsing_and_properties(tmp_path, media):
    ann = write(tmp_path / "list.txt", "a.mp4 2\n\nb.mp4 0\na.mp4 2\n")
    ds = VideoDataset(ann, tsn_test_pipeline(), data_prefix=dict(video=str(media)))
    assert len(ds) == 3
    assert ds.labels == [2, 0, 2]
    assert ds.num_classes == 3 and ds.class_counts == [1, 0, 2]
    assert ds.records[0]["filename"] == os.path.join(str(media), "a.mp4")
    assert ds.records[1]["ann_line"] == f"{ann}:3"
    ds = VideoDataset(ann, tsn_test_pipeline(), data_prefix=str(media), num_classes=5)
    assert ds.num_classes == 5 and ds.class_counts == [1, 0, 2, 0, 0]


def test_unlabeled_list(tmp_path, media):
    ds = VideoDataset(
        write(tmp_path / "l.txt", "a.mp4\nb.mp4\n"), tsn_test_pipeline(), data_prefix=str(media)
    )
    assert ds.labels == [-1, -1]
    assert ds[0]["label"].item() == -1


def test_annotation_errors_name_file_and_line(tmp_path):
    ann = write(tmp_path / "bad.txt", "a.mp4 1\nb.mp4 x\nc.mp4 1 2\nd.mp4 -3\n")
    with pytest.raises(AnnotationError) as info:
        VideoDataset(ann, [])
    msg = str(info.value)
    assert "3 problem(s)" in msg
    assert f"{ann}:2: bad label 'x' (not an integer) in line 'b.mp4 x'" in msg
    assert f"{ann}:3: expected 'path label' (2 columns) but found 1 extra column(s)" in msg
    assert f"{ann}:4: bad label -3 (negative) in line 'd.mp4 -3'" in msg


def test_label_above_num_classes(tmp_path):
    ann = write(tmp_path / "l.txt", "a.mp4 1\nb.mp4 7\n")
    with pytest.raises(
        AnnotationError, match=r"l.txt:2: label 7 >= num_classes=5 in line 'b.mp4 7'"
    ):
        VideoDataset(ann, [], num_classes=5)


def test_rawframe_annotation_errors(tmp_path):
    ann = write(tmp_path / "r.txt", "dir_a 10 1\ndir_b ten 1\ndir_c\ndir_d 0 1\n")
    with pytest.raises(AnnotationError) as info:
        RawframeDataset(ann, [])
    msg = str(info.value)
    assert f"{ann}:2: bad total_frames 'ten' (not an integer) in line 'dir_b ten 1'" in msg
    assert f"{ann}:3: expected 'frame_dir total_frames label' but found 1 column(s)" in msg
    assert f"{ann}:4: bad total_frames 0 (must be > 0)" in msg
    ann = write(tmp_path / "o.txt", "dir_a 3 10 1\ndir_b 10\n")
    with pytest.raises(
        AnnotationError, match=r"o.txt:2: expected 'frame_dir offset total_frames label'"
    ):
        RawframeDataset(ann, [], with_offset=True)


def test_multi_class_labels(tmp_path, media):
    ann = write(tmp_path / "m.txt", "a.mp4 0 2\nb.mp4 1\n")
    ds = VideoDataset(
        ann, tsn_test_pipeline(), data_prefix=str(media), multi_class=True, num_classes=4
    )
    assert ds.labels == [[0, 2], [1]] and ds.class_counts == [1, 1, 1, 0]
    s = ds[0]
    assert s["label"].dtype == torch.float32 and s["label"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt: annotation file does not exist"):
        VideoDataset(str(tmp_path / "nope.txt"), [])


# -- items ------------------------------------------------------------------------------------
def test_item_is_the_packed_sample(tmp_path, media):
    ds = VideoDataset(
        write(tmp_path / "l.txt", "a.mp4 1\nb.mp4 0\n"), tsn_test_pipeline(), data_prefix=str(media)
    )
    s = ds[1]
    assert s["clips"].shape == (1, 3, 4, 32, 32) and s["clips"].dtype == torch.uint8
    assert s["label"].item() == 0 and s["index"] == 1


def test_pipeline_without_pack_gives_the_results_dict(tmp_path, media):
    """issue 15: as MMAction2, for debugging a pipeline; the loader's collate packs it."""
    from vidlab.data.skipped import collate_skip_none

    p = [VideoInit(), SampleFrames(clip_len=4, num_clips=1, test_mode=True), VideoDecode()]
    s = VideoDataset(write(tmp_path / "l.txt", "a.mp4 1\n"), p, data_prefix=str(media))[0]
    assert s["filename"] == str(media / "a.mp4") and s["label"] == 1 and s["index"] == 0
    assert len(s["frame_inds"]) == 4 and s["imgs"].shape == (4, H, W, 3)
    batch = collate_skip_none([s])
    assert batch["clips"].shape == (1, 1, 3, 4, H, W) and batch["index"].tolist() == [0]


def test_missing_video_names_file_and_line(tmp_path, media):
    ann = write(tmp_path / "l.txt", "a.mp4 1\ngone.mp4 0\n")
    ds = VideoDataset(ann, tsn_test_pipeline(), data_prefix=str(media))
    with pytest.raises(FileNotFoundError) as info:
        ds[1]
    msg = str(info.value)
    assert "gone.mp4: video file does not exist" in msg and f"{ann}:2" in msg


def test_broken_video_raises_with_the_annotation_line(tmp_path, media):
    ann = write(tmp_path / "l.txt", "a.mp4 1\nbroken.mp4 0\n")
    ds = VideoDataset(ann, tsn_test_pipeline(), data_prefix=str(media))
    with pytest.raises(Exception) as info:
        ds[1]
    assert "broken.mp4" in str(info.value)
    assert any(f"{ann}:2" in n for n in info.value.__notes__)
    assert any("pipeline step 0 (VideoInit)" in n for n in info.value.__notes__)


def test_on_error_skip_drops_counts_and_reports_once(tmp_path, media, caplog):
    ann = write(tmp_path / "l.txt", "a.mp4 1\nbroken.mp4 0\nb.mp4 2\ngone.mp4 1\n")
    ds = VideoDataset(ann, tsn_test_pipeline(), data_prefix=str(media), on_error="skip")
    broken = os.path.join(str(media), "broken.mp4")
    with caplog.at_level(logging.WARNING, logger="vidlab.data.datasets"):
        assert ds[1] == ds[1] == Skipped(1, broken, ds[1].reason, f"{ann}:2")  # never replaced
        assert isinstance(ds[3], Skipped) and "FileNotFoundError" in ds[3].reason
    assert set(ds.bad_samples) == {broken, os.path.join(str(media), "gone.mp4")}
    warnings = [r.getMessage() for r in caplog.records if "skipped sample" in r.getMessage()]
    assert len(warnings) == 2  # once per file
    assert any(broken in w and f"{ann}:2" in w for w in warnings)
    out = tmp_path / "bad.txt"
    assert ds.write_bad_list(str(out)) == 2
    assert broken in out.read_text()

    batches = list(DataLoader(ds, batch_size=4, collate_fn=collate_skip_none))
    assert len(batches) == 1
    assert batches[0]["clips"].shape == (2, 1, 3, 4, 32, 32)
    assert batches[0]["index"].tolist() == [0, 2] and batches[0]["label"].tolist() == [1, 2]
    assert [s.index for s in batches[0]["skipped"]] == [1, 3]


def test_collate_all_skipped_has_zero_clips():
    batch = collate_skip_none([None, Skipped(4, "x.mp4", "DecodeError: bad", "l.txt:5")])
    assert len(batch["clips"]) == 0 and batch["skipped"][0].path == "x.mp4"


def test_dataloader_with_workers(tmp_path, media):
    ds = VideoDataset(
        write(tmp_path / "l.txt", "a.mp4 1\nb.mp4 0\na.mp4 1\n"),
        tsn_test_pipeline(),
        data_prefix=str(media),
    )
    batch = next(iter(DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate_skip_none)))
    assert batch["clips"].shape == (3, 1, 3, 4, 32, 32) and batch["label"].tolist() == [1, 0, 1]


# -- rawframes and cross-kind pipelines -------------------------------------------------------
def test_rawframe_dataset(tmp_path, media):
    ann = write(tmp_path / "r.txt", "a 10 3\n")
    p = [
        SampleFrames(clip_len=1, num_clips=5, test_mode=True),
        RawFrameDecode(),
        FormatShape("NCHW"),
        PackActionInputs(),
    ]
    ds = RawframeDataset(ann, p, data_prefix=dict(img=str(media / "frames")))
    s = ds[0]
    assert s["clips"].shape == (1, 3, 5, H, W) and s["label"].item() == 3
    # segment centres 1, 3, 5, 7, 9 of 10 frames
    assert [int(round((v - 5) / 6)) for v in s["clips"][0, 0, :, 0, 0].tolist()] == [1, 3, 5, 7, 9]


def test_video_pipeline_on_rawframe_dataset(tmp_path, media):
    ann = write(tmp_path / "r.txt", "a 10 3\n")
    p = [DecordInit(), SampleFrames(clip_len=1, num_clips=2, test_mode=True), DecordDecode()]
    p.append(PackActionInputs())
    s = RawframeDataset(ann, p, data_prefix=str(media / "frames"))[0]
    assert s["clips"].shape == (2, 3, 1, H, W)  # packed as NCTHW: 2 clips of 1 frame


def test_rawframe_pipeline_on_video_dataset(tmp_path, media):
    p = [
        SampleFrames(clip_len=1, num_clips=3, test_mode=True),
        RawFrameDecode(),
        FormatShape("NCHW"),
        PackActionInputs(),
    ]
    s = VideoDataset(write(tmp_path / "l.txt", "b.mp4 4\n"), p, data_prefix=str(media))[0]
    assert s["clips"].shape == (1, 3, 3, H, W)


def test_missing_frame_folder_names_line(tmp_path, media):
    ann = write(tmp_path / "r.txt", "a 10 3\nnope 10 1\n")
    ds = RawframeDataset(
        ann, [SampleFrames(1), RawFrameDecode()], data_prefix=str(media / "frames")
    )
    with pytest.raises(
        FileNotFoundError, match=r"nope: frame folder does not exist \(listed at .*r.txt:2\)"
    ):
        ds[1]


# -- repeated augmentation --------------------------------------------------------------------
def test_repeat_aug_dataset(tmp_path, media):
    p = [
        DecordInit(),
        SampleFrames(clip_len=1, num_clips=4),
        DecordDecode(),
        Resize(scale=(-1, 32)),
        CenterCrop(32),
        FormatShape("NCHW"),
        PackActionInputs(),
    ]
    ds = RepeatAugDataset(
        write(tmp_path / "l.txt", "a.mp4 1\nb.mp4 0\n"), p, data_prefix=str(media), num_repeats=3
    )
    item = ds[0]
    assert isinstance(item, list) and len(item) == 3
    assert all(s["clips"].shape == (1, 3, 4, 32, 32) and s["index"] == 0 for s in item)
    batch = collate_skip_none([ds[0], ds[1]])
    assert batch["clips"].shape == (6, 1, 3, 4, 32, 32) and batch["index"].tolist() == [
        0,
        0,
        0,
        1,
        1,
        1,
    ]
    with pytest.raises(ValueError, match="RepeatAugDataset needs"):
        RepeatAugDataset(write(tmp_path / "m.txt", "a.mp4 1\n"), [Resize(scale=(-1, 32))])


# -- MMAction2 config dicts, end to end ------------------------------------------------------
def test_mmaction2_tsn_config_end_to_end(tmp_path, media):
    train_pipeline = [
        dict(type="DecordInit", io_backend="disk"),
        dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=8),
        dict(type="DecordDecode"),
        dict(type="Resize", scale=(-1, 48)),
        dict(
            type="MultiScaleCrop",
            input_size=32,
            scales=(1, 0.875, 0.75, 0.66),
            random_crop=False,
            max_wh_scale_gap=1,
        ),
        dict(type="Resize", scale=(32, 32), keep_ratio=False),
        dict(type="Flip", flip_ratio=0.5),
        dict(type="FormatShape", input_format="NCHW"),
        dict(type="PackActionInputs"),
    ]
    test_pipeline = [
        dict(type="DecordInit", io_backend="disk"),
        dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=25, test_mode=True),
        dict(type="DecordDecode"),
        dict(type="Resize", scale=(-1, 40)),
        dict(type="TenCrop", crop_size=32),
        dict(type="FormatShape", input_format="NCHW"),
        dict(type="PackActionInputs"),
    ]
    ann = write(tmp_path / "l.txt", "a.mp4 1\nb.mp4 0\n")
    train = build(
        dict(
            type="VideoDataset",
            ann_file=ann,
            data_prefix=dict(video=str(media)),
            pipeline=train_pipeline,
        )
    )
    s = train[0]
    assert s["clips"].shape == (1, 3, 8, 32, 32) and s["clips"].dtype == torch.uint8
    test = build(
        dict(
            type="VideoDataset",
            ann_file=ann,
            data_prefix=dict(video=str(media)),
            pipeline=test_pipeline,
            test_mode=True,
        )
    )
    s = test[1]
    assert s["clips"].shape == (10, 3, 25, 32, 32) and s["label"].item() == 0


def test_unknown_kwarg_is_an_error_and_mmengine_ones_are_ignored(tmp_path):
    ann = write(tmp_path / "l.txt", "a.mp4 1\n")
    VideoDataset(ann, [], serialize_data=False, lazy_init=False)
    with pytest.raises(TypeError, match="multiclass"):  # and config validation catches it first
        VideoDataset(ann, [], multiclass=True)


def test_a_line_without_label_among_labelled_lines_is_an_error(tmp_path):
    ann = write(tmp_path / "l.txt", "a.mp4 1\nb.mp4\nc.mp4 0\n")
    with pytest.raises(AnnotationError, match=r"l.txt:2: no label in line 'b.mp4'"):
        VideoDataset(ann, [])


def test_labels_checked_against_the_models_classes(tmp_path):
    ds = VideoDataset(write(tmp_path / "l.txt", "a.mp4 1\nb.mp4 6\nc.mp4 9\n"), [])
    with pytest.raises(AnnotationError) as info:
        ds.check_labels_against(6, "train_dataloader", need_labels=True)
    msg = str(info.value)
    assert "l.txt:2: label 6 is outside the model's 6 classes (0..5" in msg
    assert "l.txt:3: label 9" in msg and "l.txt:1" not in msg
    unlabeled = VideoDataset(write(tmp_path / "u.txt", "a.mp4\n"), [])
    unlabeled.check_labels_against(6, "test_dataloader", need_labels=False)  # inference lists
    with pytest.raises(AnnotationError, match=r"u.txt:1: no label .*train_dataloader needs"):
        unlabeled.check_labels_against(6, "train_dataloader", need_labels=True)


def test_concat_dataset_is_the_datasets_one_after_the_other(tmp_path, media):
    """MMEngine's ConcatDataset (MMAction2's Kinetics-710 config): global indices in samples,
    skip markers and records; labels checked per dataset; built from a config."""
    from vidlab.data.wrappers import ConcatDataset

    first = write(tmp_path / "a.txt", "a.mp4 1\nb.mp4 0\n")
    second = write(tmp_path / "b.txt", "b.mp4 2\nbroken.mp4 0\na.mp4 3\n")
    node = dict(type="VideoDataset", pipeline=tsn_test_pipeline(), data_prefix=str(media))
    ds = build(
        dict(
            type="ConcatDataset",
            datasets=[
                dict(node, ann_file=first),
                dict(node, ann_file=second, on_error="skip"),
            ],
        )
    )
    assert isinstance(ds, ConcatDataset) and len(ds) == 5
    assert [ds[i]["label"].item() for i in (0, 1, 2, 4)] == [1, 0, 2, 3]
    assert [ds[i]["index"] for i in (0, 1, 2, 4)] == [0, 1, 2, 4]
    assert ds[-1]["index"] == 4
    skipped = ds[3]
    assert isinstance(skipped, Skipped) and skipped.index == 3 and skipped.where == f"{second}:2"
    assert [r["filename"] for r in ds.records] == [
        os.path.join(str(media), name)
        for name in ("a.mp4", "b.mp4", "b.mp4", "broken.mp4", "a.mp4")
    ]
    batch = next(iter(DataLoader(ds, batch_size=5, collate_fn=collate_skip_none)))
    assert batch["index"].tolist() == [0, 1, 2, 4] and [s.index for s in batch["skipped"]] == [3]
    with pytest.raises(IndexError, match="out of range for 5 samples"):
        ds[5]
    ds.check_labels_against(4, "train_dataloader.dataset", need_labels=True)
    with pytest.raises(Exception, match=r"b\.txt:3: label 3 is outside"):  # by file:line
        ds.check_labels_against(3, "train_dataloader.dataset", need_labels=True)
    ds.log_skips = False
    assert not any(d.log_skips for d in ds.datasets)


def test_concat_dataset_bad_input():
    from vidlab.data.wrappers import ConcatDataset

    with pytest.raises(ValueError, match="datasets is empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match=r"datasets\[0\] is an unbuilt config dict"):
        ConcatDataset([dict(type="VideoDataset", ann_file="a.txt")])
