"""``vidlab pose extract`` with tiny stand-in ONNX models exported here, with RTMDet's and
RTMPose's signatures: a "detector" that boxes the bright pixels and a "pose model" that puts
keypoint k at a fixed place of its crop."""

import numpy as np
import pytest
import torch
from torch import nn

from vidlab.cli.main import main
from vidlab.data.skeleton.dataset import PoseDataset
from vidlab.data.synthetic.encode import write_video

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytestmark = pytest.mark.filterwarnings(
    "ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning"
)

K = 17
POSE_HW = (64, 48)
# where the stand-in pose model puts each keypoint, in crop pixels (x, y)
TARGETS = np.stack([np.linspace(8, 40, K), np.linspace(10, 54, K)], -1).round()


class BrightBox(nn.Module):
    """dets (1, 1, 5): the box around pixels brighter than the canvas fill, score 0.9;
    labels (1, 1): 0. Input: RTMDet's normalised BGR canvas."""

    def forward(self, x):
        mean = torch.tensor([103.53, 116.28, 123.675]).view(1, 3, 1, 1)
        std = torch.tensor([57.375, 57.12, 58.395]).view(1, 3, 1, 1)
        img = x * std + mean  # (1, 3, H, W) pixel values
        mask = (img.mean(1)[0] > 200).float()  # (H, W)
        cols, rows = mask.amax(0), mask.amax(1)
        w, h = cols.shape[0], rows.shape[0]
        x1 = torch.argmax(cols).float()
        x2 = (w - torch.argmax(torch.flip(cols, [0]))).float()
        y1 = torch.argmax(rows).float()
        y2 = (h - torch.argmax(torch.flip(rows, [0]))).float()
        dets = torch.stack([x1, y1, x2, y2, torch.tensor(0.9) + 0 * x1]).view(1, 1, 5)
        return dets, torch.zeros(1, 1, dtype=torch.int64)


class FixedPose(nn.Module):
    """SimCC outputs (r = 2) peaking at TARGETS, with scores 0.8."""

    def forward(self, x):
        h, w = POSE_HW
        sx = torch.zeros(1, K, 2 * w)
        sy = torch.zeros(1, K, 2 * h)
        idx = torch.arange(K)
        sx[0, idx, torch.tensor(TARGETS[:, 0] * 2, dtype=torch.long)] = 0.8
        sy[0, idx, torch.tensor(TARGETS[:, 1] * 2, dtype=torch.long)] = 0.8
        return sx + 0 * x.mean(), sy + 0 * x.mean()


def _export(model, path, shape, outputs):
    torch.onnx.export(
        model, torch.zeros(shape), str(path), input_names=["input"], output_names=outputs,
        opset_version=17, dynamo=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    _export(BrightBox(), d / "det.onnx", (1, 3, 64, 64), ["dets", "labels"])
    _export(FixedPose(), d / "pose.onnx", (1, 3, *POSE_HW), ["simcc_x", "simcc_y"])
    return d / "det.onnx", d / "pose.onnx"


def test_pose_extract_follows_the_person(tmp_path, models):
    det, pose = models
    frames = np.zeros((8, 96, 128, 3), np.uint8)
    boxes = []
    for t in range(8):  # a bright 24 x 48 "person" moving right
        x1, y1 = 10 + 8 * t, 30
        frames[t, y1 : y1 + 48, x1 : x1 + 24] = 255
        boxes.append((x1, y1, x1 + 24, y1 + 48))
    video = write_video(tmp_path / "walk.mp4", frames, crf=0)
    (tmp_path / "list.txt").write_text("walk.mp4 4\n")
    out = tmp_path / "ann.pkl"
    rc = main(["pose", "extract", str(tmp_path / "list.txt"), "--detector", str(det), "--pose",
               str(pose), "--out", str(out)])  # fmt: skip
    assert rc == 0
    ds = PoseDataset(str(out), [])
    rec = ds.records[0]
    assert rec["frame_dir"] == "walk" and rec["label"] == 4 and rec["img_shape"] == (96, 128)
    kp, score = rec["keypoint"], rec["keypoint_score"]
    assert kp.shape == (1, 8, K, 2) and np.allclose(score, 0.8)
    # keypoint k lies where TARGETS puts it in the crop of the (enlarged) box
    for t, (x1, y1, x2, y2) in enumerate(boxes):
        bw, bh = (x2 - x1) * 1.25, (y2 - y1) * 1.25
        bw, bh = max(bw, bh * 48 / 64), max(bh, bw * 64 / 48)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ex = cx - bw / 2 + (TARGETS[:, 0] + 0.5) * bw / 48
        ey = cy - bh / 2 + (TARGETS[:, 1] + 0.5) * bh / 64
        np.testing.assert_allclose(kp[0, t, :, 0], ex, atol=2.5)
        np.testing.assert_allclose(kp[0, t, :, 1], ey, atol=2.5)
    assert np.all(np.diff(kp[0, :, 0, 0]) > 4)  # moves right with the person
    del video


def test_pose_extract_missing_model_is_one_line(tmp_path, models, capsys):
    det, _ = models
    rc = main(["pose", "extract", "v.mp4", "--detector", str(det), "--pose",
               str(tmp_path / "nope.onnx"), "--out", str(tmp_path / "a.pkl")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "nope.onnx: pose model file does not exist" in err
    assert len(err.splitlines()) == 1
