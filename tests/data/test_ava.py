"""AVA data: file formats and their errors, SampleAVAFrames' indices, box-aware decoding and
transforms, the packed detection sample and its collation (MMAction2 parity is in
test_ava_parity.py)."""

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.config import build
from vidlab.data.annotations import AnnotationError
from vidlab.data.ava import AVADataset, SampleAVAFrames, read_labelmap
from vidlab.data.ava_kinetics import AVAKineticsDataset
from vidlab.data.pipeline import Compose
from vidlab.data.skipped import collate_skip_none

FIXTURES = Path(__file__).parents[1] / "fixtures"
AVA = FIXTURES / "detection" / "ava"
VIDEO = FIXTURES / "mmaction2" / "motion.mp4"  # 12 frames


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# -- label map ---------------------------------------------------------------------------------
def test_labelmap_reads_id_and_label_id_blocks(tmp_path):
    text = (
        'item {\n  name: "bend/bow (at the waist)"\n  id: 1\n}\n'
        'label {\n    name: "crawl"\n    label_id: 3\n    label_type: PERSON_MOVEMENT\n}\n'
    )
    labelmap, ids = read_labelmap(_write(tmp_path / "m.pbtxt", text))
    assert labelmap == [{"id": 1, "name": "bend/bow (at the waist)"}, {"id": 3, "name": "crawl"}]
    assert ids == {1, 3}
    with open(tmp_path / "m.pbtxt") as f:  # an open file, as MMAction2's takes
        assert read_labelmap(f)[1] == {1, 3}


def test_labelmap_errors_name_the_line(tmp_path):
    path = _write(tmp_path / "m.pbtxt", 'item {\n  name: "a"\n  id: one\n}\n')
    with pytest.raises(AnnotationError, match=r"m\.pbtxt:3: the id is not an integer"):
        read_labelmap(path)


# -- annotation csv ------------------------------------------------------------------------------
ROWS = "v1,0902,0.1,0.2,0.5,0.9,12,0\nv1,0902,0.1,0.2,0.5,0.9,17,0\nv1,0903,0,0,1,1,3,1\n"


@pytest.mark.parametrize(
    "row, problem",
    [
        ("v1,0902,0.1,0.2,0.5,0.9,12", "expected 8 columns"),
        ("v1,09x2,0.1,0.2,0.5,0.9,12,0", "timestamp '09x2' is not an integer"),
        ("v1,0902,0.1,0.2,0.5,zz,12,0", "box '0.1,0.2,0.5,zz' is not 4 numbers"),
        ("v1,0902,0.1,0.2,1.5,0.9,12,0", "box 0.1,0.2,1.5,0.9 is not x1,y1,x2,y2 normalised"),
        ("v1,0902,0.6,0.2,0.5,0.9,12,0", "box 0.6,0.2,0.5,0.9 is not x1,y1,x2,y2"),
        ("v1,0902,0.1,0.2,0.5,0.9,81,0", "action_id 81 is outside 0..80"),
        ("v1,0902,0.1,0.2,0.5,0.9,12,e", "entity_id 'e' is not an integer"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, row, problem):
    ann = _write(tmp_path / "ann.csv", ROWS + row + "\n")
    with pytest.raises(AnnotationError, match=rf"ann\.csv:4: {problem}"):
        AVADataset(ann, [])


def test_all_bad_rows_at_once(tmp_path):
    ann = _write(tmp_path / "ann.csv", "v1,1,0,0,1,1,1\n" + ROWS + "v1,1,0,0,1,1,1\n")
    with pytest.raises(AnnotationError, match=r"2 problem\(s\)") as e:
        AVADataset(ann, [])
    assert "ann.csv:1:" in str(e.value) and "ann.csv:5:" in str(e.value)


def test_rows_of_one_box_merge_and_exclusions_apply(tmp_path):
    ann = _write(tmp_path / "ann.csv", ROWS + "\n")  # a trailing blank line is fine
    exclude = _write(tmp_path / "ex.csv", "v1,903\n")
    ds = AVADataset(ann, [], exclude_file=exclude, data_prefix=dict(img="root"))
    assert len(ds) == 1
    info = ds.get_data_info(0)
    assert info["frame_dir"] == "root/v1" and info["img_key"] == "v1,0902"
    assert info["gt_bboxes"].shape == (1, 4)
    assert np.flatnonzero(info["gt_labels"][0]).tolist() == [12, 17]
    assert info["gt_labels"].dtype == np.float32 and info["gt_labels"].shape == (1, 81)
    assert info["timestamp_start"] == 900 and info["filename_tmpl"] == "img_{:05}.jpg"
    assert "proposals" not in info


def test_bad_exclude_file_names_the_line(tmp_path):
    ann = _write(tmp_path / "ann.csv", ROWS)
    exclude = _write(tmp_path / "ex.csv", "v1,903\nv1\n")
    with pytest.raises(AnnotationError, match=r"ex\.csv:2: expected 'video_id,timestamp'"):
        AVADataset(ann, [], exclude_file=exclude)


def test_custom_classes_relabel_and_check(tmp_path):
    ann = _write(tmp_path / "ann.csv", ROWS)
    labels = _write(
        tmp_path / "m.pbtxt", "".join(f'item {{\n  name: "a"\n  id: {i}\n}}\n' for i in (3, 17))
    )
    ds = AVADataset(ann, [], label_file=labels, custom_classes=[17, 3], num_classes=3)
    first, second = (ds.get_data_info(i)["gt_labels"] for i in range(2))
    assert first.tolist() == [[0, 1, 0]] and second.tolist() == [[0, 0, 1]]
    with pytest.raises(ValueError, match="set num_classes=3"):
        AVADataset(ann, [], label_file=labels, custom_classes=[17, 3])
    with pytest.raises(ValueError, match=r"custom_classes \[5\] are not in the label map"):
        AVADataset(ann, [], label_file=labels, custom_classes=[17, 5], num_classes=3)


def test_proposals_rules(tmp_path):
    ann = _write(tmp_path / "ann.csv", ROWS)
    props = {
        "v1,0902": np.array([[0.1, 0.1, 0.5, 0.5, 0.2], [0, 0, 1, 1, 0.5], [0, 0, 0.5, 1, 0.4]]),
    }
    with open(tmp_path / "p.pkl", "wb") as f:
        pickle.dump(props, f)
    ds = AVADataset(ann, [], proposal_file=str(tmp_path / "p.pkl"), person_det_score_thr=0.9)
    info = ds.get_data_info(0)  # none reaches 0.9: the best one is kept
    assert info["proposals"].tolist() == [[0, 0, 1, 1]] and info["scores"].tolist() == [0.5]
    missing = ds.get_data_info(1)  # no proposals for v1,0903: the whole frame
    assert missing["proposals"].tolist() == [[0, 0, 1, 1]]
    props["v1,0902"][0, 2] = 1.5
    with open(tmp_path / "p.pkl", "wb") as f:
        pickle.dump(props, f)
    ds = AVADataset(ann, [], proposal_file=str(tmp_path / "p.pkl"), person_det_score_thr=0.1)
    with pytest.raises(ValueError, match=r"p\.pkl: proposals of 'v1,0902' are not normalised"):
        ds.get_data_info(0)


def test_missing_frame_folder_names_the_line(tmp_path):
    ann = _write(tmp_path / "ann.csv", ROWS)
    ds = AVADataset(ann, [dict(type="SampleAVAFrames", clip_len=2, frame_interval=2)])
    with pytest.raises(
        FileNotFoundError, match=r"v1: frame folder does not exist \(listed at .*ann\.csv:1\)"
    ):
        ds[0]
    skipping = AVADataset(ann, [], on_error="skip")
    assert skipping[0].where.endswith("ann.csv:1")


def test_ava_kinetics_ids(tmp_path):
    ann = _write(
        tmp_path / "ann.csv", "abcdefghijk,0902,0,0,1,1,1,0\nyt_id_000010_000020,0015,0,0,1,1,1,0\n"
    )
    exclude = _write(tmp_path / "ex.csv", "")
    labels = _write(tmp_path / "m.pbtxt", 'item {\n  name: "a"\n  id: 1\n}\n')
    with open(tmp_path / "p.pkl", "wb") as f:
        pickle.dump({"yt_id,0015": np.array([[0.1, 0.2, 0.3, 0.4]])}, f)
    ds = AVAKineticsDataset(ann, exclude, [], labels, proposal_file=str(tmp_path / "p.pkl"))
    ava, kinetics = ds.get_data_info(0), ds.get_data_info(1)
    assert (ava["timestamp_start"], ava["shot_info"]) == (900, (1, 27001))
    assert (kinetics["timestamp_start"], kinetics["timestamp_end"]) == (10, 20)
    assert kinetics["shot_info"] == (1, 301) and kinetics["start_index"] == 0
    assert kinetics["proposals"].tolist() == [[0.1, 0.2, 0.3, 0.4]]  # keyed by the youtube id


# -- sampling ----------------------------------------------------------------------------------
def _sample(clip_len, interval, timestamp, test_mode=True, **extra):
    results = dict(fps=30, timestamp=timestamp, timestamp_start=900, start_index=1)
    results.update(extra)
    results.setdefault("shot_info", (0, 27000))
    return SampleAVAFrames(clip_len, interval, test_mode=test_mode)(results)


def test_sample_ava_frames_quirks():
    out = _sample(4, 16, 902)
    assert out["frame_inds"].tolist() == [30, 46, 62, 78]  # start_index counted twice
    assert out["frame_inds"].dtype == np.int32 and out["start_index"] is None
    assert _sample(8, 8, 902)["frame_inds"].tolist() == [30, 38, 46, 54, 62, 70, 78, 86]
    assert _sample(4, 16, 901)["frame_inds"].tolist() == [1, 16, 32, 48]  # clipped at 0, +1
    assert _sample(4, 16, 1799)["frame_inds"].tolist() == [26940, 26956, 26972, 26988]
    last = _sample(4, 16, 1800)["frame_inds"].tolist()  # clipped at 27000 - 1, +1
    assert last == [26970, 26986, 27000, 27000]
    video = _sample(4, 4, 9, timestamp_start=1, fps=1, start_index=0, total_frames=12)
    assert video["frame_inds"].tolist() == [0, 4, 8, 11]  # clipped to total_frames - 1


def test_sample_ava_frames_jitter_draws_in_test_mode_too():
    np.random.seed(3)
    train = _sample(4, 16, 902, test_mode=False)["frame_inds"]
    np.random.seed(3)
    offsets = np.random.randint(-8, 8, size=4)
    assert (train - np.array([30, 46, 62, 78])).tolist() == offsets.tolist()
    np.random.seed(3)
    _sample(4, 16, 902)
    after_test = np.random.rand()
    np.random.seed(3)
    np.random.randint(-8, 8, size=4)
    assert after_test == np.random.rand()  # the same draw was consumed


# -- decoding, transforms, packing --------------------------------------------------------------
TRAIN = [
    dict(type="SampleAVAFrames", clip_len=4, frame_interval=16),
    dict(type="RawFrameDecode"),
    dict(type="RandomRescale", scale_range=(64, 80)),
    dict(type="RandomCrop", size=64),
    dict(type="Flip", flip_ratio=0.5),
    dict(type="FormatShape", input_format="NCTHW", collapse=True),
    dict(type="PackActionInputs"),
]
VAL = [
    dict(type="SampleAVAFrames", clip_len=4, frame_interval=16, test_mode=True),
    dict(type="RawFrameDecode"),
    dict(type="Resize", scale=(-1, 48)),
    dict(type="FormatShape", input_format="NCTHW", collapse=True),
    dict(type="PackActionInputs"),
]


def _fixture_dataset(pipeline, **kwargs):
    kwargs.setdefault("proposal_file", str(AVA / "proposals.pkl"))
    kwargs.setdefault("exclude_file", str(AVA / "exclude.csv"))
    return AVADataset(
        str(AVA / "ann.csv"), pipeline, data_prefix=dict(img=str(AVA / "frames")), **kwargs
    )


def test_packed_detection_sample():
    np.random.seed(0)
    sample = _fixture_dataset(TRAIN)[0]
    assert set(sample) == {"inputs", "gt_instances", "proposals", "meta", "index"}
    assert sample["inputs"].shape == (3, 4, 64, 64) and sample["inputs"].dtype == torch.uint8
    boxes, labels = sample["gt_instances"]["bboxes"], sample["gt_instances"]["labels"]
    assert boxes.dtype == torch.float32 and boxes.shape == (2, 4)
    assert labels.dtype == torch.float32 and labels.shape == (2, 81)
    assert sample["proposals"].dtype == torch.float32 and sample["proposals"].shape == (3, 4)
    assert boxes.min() >= 0 and boxes.max() <= 63  # clipped to the crop
    meta = sample["meta"]
    assert meta["img_key"] == "vid_a000001,0902" and meta["timestamp"] == 902
    assert meta["img_shape"] == (64, 64) and meta["ori_shape"] == (30, 40)
    assert len(meta["scale_factor"]) == 2 and sample["index"] == 0


def test_fused_decode_resize_scales_boxes_as_resize_does():
    fused = Compose(VAL)
    assert fused.fused  # RawFrameDecode + Resize became one step
    plain = Compose(VAL, fuse_resize=False)
    ds = _fixture_dataset([])
    for i in range(len(ds)):
        a, b = fused(ds.get_data_info(i)), plain(ds.get_data_info(i))
        assert torch.equal(a["gt_instances"]["bboxes"], b["gt_instances"]["bboxes"])
        assert torch.equal(a["proposals"], b["proposals"])
        assert a["meta"]["scale_factor"] == b["meta"]["scale_factor"]


def test_without_proposal_file_the_ground_truth_is_proposed():
    ds = _fixture_dataset(VAL, proposal_file=None)
    sample = ds[0]
    assert torch.equal(sample["proposals"], sample["gt_instances"]["bboxes"])


def test_collate_keeps_boxes_and_proposals_per_sample():
    np.random.seed(1)
    ds = _fixture_dataset(TRAIN)
    batch = collate_skip_none([ds[0], ds[1], ds[2]])
    assert batch["inputs"].shape == (3, 3, 4, 64, 64)
    assert [len(p) for p in batch["proposals"]] == [3, 1, 2]
    assert [len(g["bboxes"]) for g in batch["gt_instances"]] == [2, 1, 2]
    assert [m["img_key"] for m in batch["meta"]] == [
        "vid_a000001,0902",
        "vid_a000001,0901",
        "vid_a000001,0903",
    ]
    assert batch["index"].tolist() == [0, 1, 2] and batch["skipped"] == []


def test_video_keyframes_decord_pipeline(tmp_path):
    """MultiSports' layout: videos, timestamps counting frames (fps=1)."""
    shutil.copy(VIDEO, tmp_path / "clip.mp4")
    ann = _write(tmp_path / "ann.csv", "clip,5,0.25,0.5,0.75,1.0,2,0\n")
    pipeline = [
        dict(type="DecordInit"),
        dict(type="SampleAVAFrames", clip_len=4, frame_interval=4, test_mode=True),
        dict(type="DecordDecode"),
        dict(type="FormatShape", input_format="NCTHW", collapse=True),
        dict(type="PackActionInputs"),
    ]
    ds = build(
        dict(type="AVADataset", ann_file=ann, pipeline=pipeline, data_prefix=dict(img=str(tmp_path)),
             timestamp_start=1, start_index=0, use_frames=False, fps=1)
    )  # fmt: skip
    assert (
        ds.records[0]["filename"] == str(tmp_path / "clip") and ds.records[0]["shot_info"] is None
    )
    sample = ds[0]
    c, t, h, w = sample["inputs"].shape
    assert (c, t) == (3, 4)
    expected = torch.tensor([[0.25 * w, 0.5 * h, 0.75 * w, 1.0 * h]])
    assert torch.equal(sample["gt_instances"]["bboxes"], expected)
    results = ds.pipeline.transforms[1](ds.pipeline.transforms[0](ds.get_data_info(0)))
    assert results["frame_inds"].tolist() == [0, 0, 4, 8]  # center 4: 4 + (-8, -4, 0, 4)


def test_petrel_with_a_path_mapping_reads_the_local_paths():
    """Two AVA configs override io_backend with OpenMMLab's internal storage, mapped from the
    local paths: they build and read the paths as written; petrel alone stays an error."""
    from vidlab.data.loading import RawFrameDecode

    mapping = {"data/ava": "s254:s3://openmmlab/datasets/action/ava"}
    assert RawFrameDecode(io_backend="petrel", path_mapping=mapping).io_backend == "petrel"
    with pytest.raises(ValueError, match="io_backend='petrel' is not supported"):
        RawFrameDecode(io_backend="petrel")
