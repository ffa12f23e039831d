"""PoseDataset (MMAction2's skeleton pickles), keypoint layouts, the synthetic skeleton set,
RepeatDataset, and the GCN sample layout."""

import os
import pickle

import numpy as np
import pytest

from vidlab.config import build
from vidlab.data.annotations import AnnotationError
from vidlab.data.skeleton.dataset import PoseDataset, load_pose_pickle
from vidlab.data.skeleton.layouts import COCO, LAYOUTS, NTU_RGBD, OPENPOSE, get_layout
from vidlab.data.skeleton.synthetic import (
    SKELETON_ACTIONS,
    make_synthetic_skeletons,
    write_synthetic_skeletons,
)

GCN_PIPELINE = [
    dict(type="PreNormalize2D"),
    dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
    dict(type="UniformSampleFrames", clip_len=16, num_clips=2, test_mode=True),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput", num_person=2),
    dict(type="PackActionInputs"),
]


def _record(name="a", label=0, t=10, m=1, v=17, c=2):
    rng = np.random.default_rng(0)
    return dict(
        frame_dir=name,
        label=label,
        total_frames=t,
        img_shape=(100, 200),
        original_shape=(100, 200),
        keypoint=rng.uniform(0, 100, (m, t, v, c)).astype(np.float32),
        keypoint_score=rng.uniform(0, 1, (m, t, v)).astype(np.float32),
    )


def _write(tmp_path, obj, name="ann.pkl"):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj))
    return str(path)


def test_pose_dataset_split_and_sample_layout(tmp_path):
    recs = [_record("a", 0), _record("b", 1, t=25, m=2), _record("c", 2)]
    ann = _write(tmp_path, dict(split=dict(train=["a", "b"], val=["c"]), annotations=recs))
    ds = PoseDataset(ann, GCN_PIPELINE, split="train")
    assert len(ds) == 2 and ds.labels == [0, 1] and ds.num_classes == 2
    sample = ds[1]
    assert sample["clips"].shape == (2, 2, 16, 17, 3)  # (clips, M, T, V, C): views first
    assert sample["label"].item() == 1 and sample["index"] == 1
    # transforms work in place (PreNormalize2D): the dataset's arrays stay as read
    np.testing.assert_array_equal(ds.records[1]["keypoint"], recs[1]["keypoint"])
    assert PoseDataset(ann, GCN_PIPELINE, split="val").records[0]["frame_dir"] == "c"
    assert len(PoseDataset(ann, GCN_PIPELINE)) == 3


def test_pose_dataset_is_a_config_type(tmp_path):
    ann = _write(tmp_path, [_record("a"), _record("b", 1)])
    ds = build(
        dict(
            type="RepeatDataset",
            times=3,
            dataset=dict(type="PoseDataset", ann_file=ann, pipeline=GCN_PIPELINE),
        )
    )
    assert len(ds) == 6 and ds.num_classes == 2
    assert ds[5]["index"] == 1 and ds[5]["label"].item() == 1


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(keypoint=None), "record 1 (b): field 'keypoint' is missing"),
        (dict(keypoint=np.zeros((10, 17, 2))), "record 1 (b): field 'keypoint' has shape"),
        (dict(keypoint=np.zeros((1, 10, 17, 4))), "expected (M, T, V, C) with C = 2 or 3"),
        (dict(keypoint_score=np.zeros((1, 9, 17))), "field 'keypoint_score' has shape (1, 9, 17)"),
        (dict(total_frames=12), "field 'keypoint' has 10 frames"),
        (dict(label=None), "record 1 (b): field 'label' is missing"),
        (dict(total_frames=None), "field 'total_frames' is missing"),
        (dict(img_shape=5), "field 'img_shape' is 5"),
    ],
)
def test_pose_dataset_names_record_and_field(tmp_path, change, message):
    bad = _record("b")
    for k, v in change.items():
        if v is None:
            bad.pop(k)
        else:
            bad[k] = v
    ann = _write(tmp_path, dict(split={}, annotations=[_record("a"), bad]))
    with pytest.raises(AnnotationError) as e:
        PoseDataset(ann, GCN_PIPELINE)
    assert message in str(e.value) and ann in str(e.value)


def test_pose_dataset_reports_every_bad_record_at_once(tmp_path):
    recs = [_record("a"), {"frame_dir": "b"}, _record("c")]
    recs[2]["keypoint"] = recs[2]["keypoint"][0]
    ann = _write(tmp_path, recs)
    with pytest.raises(AnnotationError) as e:
        PoseDataset(ann, GCN_PIPELINE)
    text = str(e.value)
    assert "record 1 (b): field 'label' is missing" in text
    assert "record 1 (b): field 'keypoint' is missing" in text
    assert "record 2 (c): field 'keypoint' has shape (10, 17, 2)" in text


def test_pose_dataset_file_errors(tmp_path):
    ann = _write(tmp_path, dict(split=dict(train=["a"]), annotations=[_record("a")]))
    with pytest.raises(AnnotationError, match="no split 'xsub_train'; the file has \\['train'\\]"):
        PoseDataset(ann, GCN_PIPELINE, split="xsub_train")
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        PoseDataset(str(tmp_path / "missing.pkl"), GCN_PIPELINE)
    with pytest.raises(ValueError, match="box_thr"):
        PoseDataset(ann, GCN_PIPELINE, box_thr=0.55)
    with pytest.raises(AnnotationError, match=r"\.pkl annotation file"):
        PoseDataset(str(tmp_path / "x.json"), GCN_PIPELINE)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pose_pickle_runs_no_code(tmp_path):
    ann = _write(tmp_path, [_record("a"), _Evil()])
    with pytest.raises(AnnotationError, match="not allowed in a skeleton pickle"):
        load_pose_pickle(ann)


def test_pose_dataset_valid_ratio_and_skeleton_files(tmp_path):
    recs = []
    for i, valid in enumerate((8, 2)):
        r = _record(f"k{i}", i)
        r["valid"] = {0.5: valid, 0.7: 1}
        r["box_score"] = np.array([0.9, 0.4, 0.6])
        recs.append(r)
    ann = _write(tmp_path, recs)
    ds = PoseDataset(ann, [], valid_ratio=0.5, box_thr=0.5)
    assert [r["frame_dir"] for r in ds.records] == ["k0"]
    assert ds.records[0]["anno_inds"].tolist() == [True, False, True]
    # keypoints in per-sample files (Kinetics-skeleton's data_prefix=dict(skeleton=dir))
    kpdir = tmp_path / "kp"
    kpdir.mkdir()
    full = _record("s0")
    meta = {k: full[k] for k in ("frame_dir", "label", "total_frames")}
    ann2 = _write(tmp_path, [meta], "meta.pkl")
    (kpdir / "s0.pkl").write_bytes(
        pickle.dumps({k: full[k] for k in ("keypoint", "keypoint_score", "img_shape")})
    )
    ds = PoseDataset(ann2, GCN_PIPELINE, data_prefix=dict(skeleton=str(kpdir)))
    assert ds[0]["clips"].shape == (2, 2, 16, 17, 3)


def test_layouts_match_mmaction2_facts():
    assert (COCO.num_node, NTU_RGBD.num_node, OPENPOSE.num_node) == (17, 25, 18)
    assert (COCO.center, NTU_RGBD.center, OPENPOSE.center) == (0, 20, 1)
    for lay in LAYOUTS.values():
        assert len(lay.inward) == lay.num_node - 1  # a tree towards the centre
        assert len(lay.bone_pairs) == lay.num_node
        assert sorted(lay.left + lay.right) == sorted(set(lay.left + lay.right))
        for a, b in zip(lay.left, lay.right):  # left/right names mirror each other
            assert lay.joints[a].replace("left", "right") == lay.joints[b]
        order = lay.flip_index
        assert sorted(order) == list(range(lay.num_node)) and order != tuple(range(lay.num_node))
    assert NTU_RGBD.inward[0] == (0, 1) and NTU_RGBD.joints[20] == "spine_shoulder"
    assert get_layout("coco") is COCO
    custom = get_layout(dict(num_node=3, inward=[(1, 0), (2, 1)], center=0))
    assert custom.num_node == 3 and custom.neighbor == ((1, 0), (2, 1), (0, 1), (1, 2))
    with pytest.raises(ValueError, match="unknown keypoint layout 'body25'"):
        get_layout("body25")


def test_synthetic_skeletons_are_deterministic_and_readable(tmp_path):
    a = make_synthetic_skeletons(num_train=2, num_val=1, num_test=1, seed=3)
    b = make_synthetic_skeletons(num_train=2, num_val=1, num_test=1, seed=3)
    c = make_synthetic_skeletons(num_train=2, num_val=1, num_test=1, seed=4)
    assert len(a["annotations"]) == 4 * len(SKELETON_ACTIONS)
    for ra, rb, rc in zip(a["annotations"], b["annotations"], c["annotations"]):
        np.testing.assert_array_equal(ra["keypoint"], rb["keypoint"])
        assert ra["keypoint"].shape != rc["keypoint"].shape or not np.array_equal(
            ra["keypoint"], rc["keypoint"]
        )
    # more samples per class keep the first ones
    more = make_synthetic_skeletons(num_train=3, num_val=1, num_test=1, seed=3)
    np.testing.assert_array_equal(
        more["annotations"][0]["keypoint"], a["annotations"][0]["keypoint"]
    )
    path = write_synthetic_skeletons(
        tmp_path / "s.pkl", num_train=2, num_val=1, num_test=1, missing=0.2, second_person=1.0
    )
    ds = PoseDataset(path, GCN_PIPELINE, split="test")
    assert len(ds) == len(SKELETON_ACTIONS) and sorted(ds.labels) == list(range(8))
    rec = ds.records[0]
    h, w = rec["img_shape"]
    kp, score = rec["keypoint"], rec["keypoint_score"]
    assert kp.shape[0] == 2 and kp.shape[2:] == (17, 2)
    assert ((kp[..., 0] == 0) == (score == 0)).all()  # missing joints: 0 and score 0
    seen = kp[score > 0]
    assert (seen >= 0).all() and (seen[:, 0] <= w).all() and (seen[:, 1] <= h).all()
    assert 0.1 < (score[0] == 0).mean() < 0.3
    assert ds[0]["clips"].shape == (2, 2, 16, 17, 3)


def test_synthetic_actions_differ():
    """Each action poses and moves differently: the mean poses and motion profiles (about the
    hips, in body heights) of any two actions are far apart."""
    data = make_synthetic_skeletons(num_train=4, num_val=0, num_test=0, noise=0.0, missing=0.0)
    profiles = {}
    for rec in data["annotations"]:
        kp = rec["keypoint"][0]
        height = kp[:, 16, 1].mean() - kp[:, 0, 1].mean()
        rel = (kp - kp[:, [11, 12]].mean(1, keepdims=True)) / height  # (T, V, 2) about the hips
        drift = np.diff(kp[:, 11, 0]).mean(keepdims=True) / height
        feat = np.concatenate([rel.mean(0).ravel(), rel.std(0).ravel(), drift])
        profiles.setdefault(rec["label"], []).append(feat)
    means = {k: np.mean(v, 0) for k, v in profiles.items()}
    for i in means:
        for j in means:
            if i < j:
                assert np.abs(means[i] - means[j]).max() > 0.04, (i, j)


def test_mm_decode_reads_the_video_and_scales_keypoints():
    """RGB + pose: MMDecode reads the sampled frames with vidlab's readers and moves the
    keypoints (given for a 128 x 192 frame) onto the 64 x 96 decoded frames."""
    from pathlib import Path

    from vidlab.data.pipeline import Compose

    video = Path(__file__).parents[1] / "fixtures" / "mmaction2" / "motion.mp4"
    kp = np.random.default_rng(0).uniform(20, 100, (1, 12, 17, 2)).astype(np.float32)

    def results():
        return dict(
            frame_dir=str(video)[:-4], total_frames=12, img_shape=(128, 192), keypoint=kp.copy(),
            modality="Pose", label=0,
        )  # fmt: skip

    pipe = Compose(
        [
            dict(type="MMUniformSampleFrames", clip_len=dict(RGB=4, Pose=8), test_mode=True),
            dict(type="MMDecode"),
            dict(type="MMCompact", hw_ratio=1.0),
            dict(type="Resize", scale=(32, 32), keep_ratio=False),
            dict(type="GeneratePoseTarget", with_kp=True, scaling=0.5),
            dict(type="FormatShape", input_format="NCTHW"),
            dict(type="PackActionInputs", collect_keys=("imgs", "heatmap_imgs")),
        ]
    )
    out = pipe(results())
    assert out["clips"].shape == (1, 3, 4, 32, 32) and out["clips"].dtype.is_floating_point is False
    assert out["inputs"]["heatmap_imgs"].shape == (1, 17, 8, 16, 16)
    r = Compose([dict(type="MMUniformSampleFrames", clip_len=dict(RGB=4, Pose=8)),
                 dict(type="MMDecode")])(results())  # fmt: skip
    assert r["imgs"].shape == (4, 64, 96, 3) and r["img_shape"] == (64, 96)
    np.testing.assert_allclose(r["keypoint"], kp[:, r["Pose_inds"]] * 0.5)


def test_generate_pose_target_contract():
    from vidlab.data.skeleton.heatmap import GeneratePoseTarget

    with pytest.raises(ValueError, match="with_limb"):
        GeneratePoseTarget(with_kp=False, with_limb=False)
    kp = np.array([[[[5.0, 6.0], [20.0, 3.0]]]], np.float32)  # (1, 1, 2, 2)
    r = GeneratePoseTarget(sigma=1.0, skeletons=((0, 1),), left_kp=(0,), right_kp=(1,))(
        dict(keypoint=kp, keypoint_score=np.array([[[1.0, 0.5]]], np.float32), img_shape=(8, 24))
    )
    heat = r["imgs"]
    assert heat.shape == (1, 2, 8, 24)
    assert heat[0, 0, 6, 5] == 1.0 and heat[0, 1, 3, 20] == 0.5  # peaks at the joints
    assert heat[0, 0].argmax() == 6 * 24 + 5
    # with RGB frames present the heatmaps go to heatmap_imgs; double flips and swaps
    r = GeneratePoseTarget(sigma=1.0, double=True, left_kp=(0,), right_kp=(1,))(
        dict(keypoint=kp, img_shape=(8, 24), imgs=[np.zeros((8, 24, 3), np.uint8)])
    )
    h = r["heatmap_imgs"]
    assert h.shape == (2, 2, 8, 24)
    np.testing.assert_array_equal(h[1, 0], h[0, 1, :, ::-1])
