"""Converters to the skeleton pickle (MMPose JSON, COCO keypoints, OpenPose folders), the
person tracker, and ``vidlab data skeleton``."""

import json
from pathlib import Path

import numpy as np
import pytest

from vidlab.cli.main import main
from vidlab.data.skeleton.convert import (
    OPENPOSE_TO_COCO,
    ConvertError,
    convert_coco,
    convert_mmpose,
    convert_openpose,
    track_persons,
)
from vidlab.data.skeleton.dataset import PoseDataset
from vidlab.data.skeleton.layouts import COCO, OPENPOSE

PIPE = [
    dict(type="PreNormalize2D"),
    dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
    dict(type="UniformSampleFrames", clip_len=8, num_clips=1, test_mode=True),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput", num_person=2),
    dict(type="PackActionInputs"),
]


def _person(cx, cy, v=17, score=0.9):
    rng = np.random.default_rng(int(cx))
    kp = np.stack([cx + rng.uniform(-20, 20, v), cy + rng.uniform(-50, 50, v)], -1)
    return kp.astype(np.float32), np.full(v, score, np.float32)


def test_track_persons_follows_people_whose_order_changes():
    a0, sa = _person(100, 200, score=0.5)
    b0, sb = _person(400, 200, score=0.9)
    frames = []
    for t in range(6):
        a, b = (a0 + [5 * t, 0], sa), (b0 - [5 * t, 0], sb)
        frames.append([a, b] if t % 2 else [b, a])  # the detector's order flips
    frames[3] = [frames[3][1]]  # a is missed in frame 3 (its order there is [a, b])
    kp, sc = track_persons(frames)
    assert kp.shape == (2, 6, 17, 2) and sc.shape == (2, 6, 17)
    # track 0 is the surer person b, in every frame it was seen
    np.testing.assert_allclose(kp[0, :, :, 0].mean(-1), b0[:, 0].mean() - 5 * np.arange(6))
    assert (sc[1, 3] == 0).all() and (kp[1, 3] == 0).all()  # a is absent in frame 3
    np.testing.assert_allclose(kp[1, 4], a0 + [20, 0])
    assert track_persons(frames, max_persons=1)[0].shape[0] == 1


def _mmpose_json(path, frames):
    data = [
        {
            "frame_id": t,
            "instances": [
                {"keypoints": kp.tolist(), "keypoint_scores": sc.tolist(), "bbox": [[0, 0, 1, 1]]}
                for kp, sc in persons
            ],
        }
        for t, persons in enumerate(frames)
    ]
    path.write_text(json.dumps(data))
    return str(path)


def test_mmpose_json_to_pose_dataset(tmp_path):
    (a, sa), b = _person(100, 200), _person(500, 300, score=0.4)
    frames = [[(a + [t, 0], sa), b] for t in range(10)]
    f1 = _mmpose_json(tmp_path / "clip_a.json", frames)
    f2 = tmp_path / "clip_b.json"  # the demo scripts' layout
    f2.write_text(json.dumps({"meta_info": {}, "instance_info": json.loads(Path(f1).read_text())}))
    (tmp_path / "labels.txt").write_text("clip_a 3\nclip_b 1\n")
    out = tmp_path / "ann.pkl"
    rc = main(
        ["data", "skeleton", "mmpose", f1, str(f2), "--out", str(out), "--img-shape", "480", "640"]
        + ["--labels", str(tmp_path / "labels.txt")]
    )
    assert rc == 0
    ds = PoseDataset(str(out), PIPE, split="all")
    assert [r["frame_dir"] for r in ds.records] == ["clip_a", "clip_b"] and ds.labels == [3, 1]
    rec = ds.records[0]
    assert rec["keypoint"].shape == (2, 10, 17, 2) and rec["img_shape"] == (480, 640)
    np.testing.assert_allclose(rec["keypoint"][0, 4], frames[4][0][0])
    assert ds[0]["clips"].shape == (1, 2, 8, 17, 3)
    rec = convert_mmpose(f1)
    assert rec["label"] == -1 and rec["img_shape"] == (1080, 1920)


def test_mmpose_json_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"frame_id": 0, "instances": [{"bbox": [0, 0, 1, 1]}]}]))
    with pytest.raises(ConvertError, match="bad.json: frame 0: an instance without 'keypoints'"):
        convert_mmpose(str(bad))
    bad.write_text("[{]")
    with pytest.raises(ConvertError, match=r"bad.json:1: invalid JSON"):
        convert_mmpose(str(bad))
    rc = main(["data", "skeleton", "mmpose", str(bad), "--out", str(tmp_path / "x.pkl")])
    assert rc == 2


def _coco_kps(kp, vis):
    out = np.zeros((len(kp), 3))
    out[:, :2], out[:, 2] = kp, np.where(vis, 2, 0)
    return out.reshape(-1).tolist()


def test_coco_keypoints_posetrack_and_images(tmp_path):
    images, anns = [], []
    for t in range(5):  # a PoseTrack video: frames in scrambled order, two tracks
        images.append(dict(id=10 + t, file_name=f"v/{t}.jpg", vid_id=7, frame_id=4 - t,
                           width=640, height=480))  # fmt: skip
        for track, cx in ((1, 100), (2, 300)):
            kp = _person(cx, 200)[0] + [10 * (4 - t), 0]
            vis = np.ones(17, bool)
            vis[3] = track == 1
            anns.append(dict(image_id=10 + t, track_id=track, keypoints=_coco_kps(kp, vis)))
    images.append(dict(id=99, file_name="single.jpg", width=320, height=240))
    anns.append(dict(image_id=99, keypoints=_coco_kps(*_person(50, 60)[:1], np.ones(17, bool))))
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=[])))
    recs = {r["frame_dir"]: r for r in convert_coco(str(path))}
    assert sorted(recs) == ["7", "single"]
    video = recs["7"]
    assert video["keypoint"].shape == (2, 5, 17, 2) and video["img_shape"] == (480, 640)
    # frames in frame_id order: x grows by 10 per frame
    xs = video["keypoint"][:, :, 0, 0]
    assert (np.diff(xs, axis=1) > 0).all()
    # track 1 (all 17 joints visible) is the surer one; track 2's joint 3 is unlabelled
    assert (video["keypoint_score"][0] == 1).all()
    assert (video["keypoint_score"][1, :, 3] == 0).all() and (video["keypoint"][1, :, 3] == 0).all()
    assert recs["single"]["keypoint"].shape == (1, 1, 17, 2)
    out = tmp_path / "coco.pkl"
    assert main(["data", "skeleton", "coco", str(path), "--out", str(out), "--label", "2"]) == 0
    assert PoseDataset(str(out), PIPE).labels == [2, 2]


def _openpose_folder(folder, v, frames):
    folder.mkdir()
    for t, persons in enumerate(frames):
        people = []
        for kp, sc in persons:
            arr = np.concatenate([kp, sc[:, None]], -1)
            people.append({"person_id": [-1], "pose_keypoints_2d": arr.reshape(-1).tolist()})
        name = folder / f"{folder.name}_{t:012d}_keypoints.json"
        name.write_text(json.dumps({"version": 1.3, "people": people}))
    return str(folder)


def test_openpose_folders_body25_and_coco_layout(tmp_path):
    kp, sc = _person(200, 300, v=25)
    frames = [[(kp + [3 * t, 0], sc)] for t in range(12)]
    folder = _openpose_folder(tmp_path / "walk", 25, frames)
    rec = convert_openpose(folder, img_shape=(720, 1280))
    assert rec["keypoint"].shape == (1, 12, OPENPOSE.num_node, 2)
    # BODY_25's mid-hip (8) is dropped: OpenPose-18's right hip (8) is BODY_25's 9
    np.testing.assert_allclose(rec["keypoint"][0, 5, 8], frames[5][0][0][9])
    coco = convert_openpose(folder, layout="coco")
    assert coco["keypoint"].shape == (1, 12, COCO.num_node, 2)
    np.testing.assert_allclose(
        coco["keypoint"][0, :, 1], rec["keypoint"][0, :, OPENPOSE_TO_COCO[1]]
    )
    assert OPENPOSE.joints[OPENPOSE_TO_COCO[1]] == COCO.joints[1] == "left_eye"
    assert all(OPENPOSE.joints[j] == name for j, name in zip(OPENPOSE_TO_COCO, COCO.joints))
    out = tmp_path / "op.pkl"
    assert (
        main(["data", "skeleton", "openpose", folder, "--layout", "coco", "--out", str(out)]) == 0
    )
    assert PoseDataset(str(out), PIPE)[0]["clips"].shape == (1, 2, 8, 17, 3)
    with pytest.raises(ConvertError, match="no OpenPose"):
        convert_openpose(str(tmp_path))


def test_synth_command(tmp_path):
    out = tmp_path / "s.pkl"
    assert main(["data", "skeleton", "synth", str(out), "--num-train", "2", "--num-val", "0",
                 "--num-test", "1"]) == 0  # fmt: skip
    ds = PoseDataset(str(out), PIPE, split="train")
    assert len(ds) == 16 and ds.num_classes == 8
