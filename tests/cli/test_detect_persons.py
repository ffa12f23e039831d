"""``vidlab data detect-persons`` with tiny stand-in ONNX detectors exported here, with the
signatures it documents: RTMDet's ``dets (1, N, 5)`` + ``labels (1, N)``, and one
``(1, N, 6)`` output with the class in the last column."""

import numpy as np
import pytest
import torch
from torch import nn

from vidlab.checkpoint import load_pickle
from vidlab.cli.main import main
from vidlab.data.synthetic.encode import write_video

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytestmark = pytest.mark.filterwarnings(
    "ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning"
)


class BrightBox(nn.Module):
    """The box around pixels brighter than the canvas fill, scored 0.9 (0 on a dark frame);
    ``six``: one ``(1, 2, 6)`` output, that box as class 0 and a decoy of class 2 at 0.95."""

    def __init__(self, six: bool = False):
        super().__init__()
        self.six = six

    def forward(self, x):
        mean = torch.tensor([103.53, 116.28, 123.675]).view(1, 3, 1, 1)
        std = torch.tensor([57.375, 57.12, 58.395]).view(1, 3, 1, 1)
        mask = ((x * std + mean).mean(1)[0] > 200).float()  # (H, W) bright pixels
        cols, rows = mask.amax(0), mask.amax(1)
        x1 = torch.argmax(cols).float()
        x2 = (cols.shape[0] - torch.argmax(torch.flip(cols, [0]))).float()
        y1 = torch.argmax(rows).float()
        y2 = (rows.shape[0] - torch.argmax(torch.flip(rows, [0]))).float()
        score = 0.9 * mask.amax()
        box = torch.stack([x1, y1, x2, y2, score])
        if not self.six:
            return box.view(1, 1, 5), torch.zeros(1, 1, dtype=torch.int64)
        decoy = torch.tensor([1.0, 1.0, 9.0, 9.0, 0.95, 2.0])
        return torch.stack([torch.cat([box, torch.zeros(1)]), decoy]).view(1, 2, 6)


def _export(model, path, outputs):
    torch.onnx.export(
        model, torch.zeros(1, 3, 64, 64), str(path), input_names=["input"],
        output_names=outputs, opset_version=17, dynamo=False,
    )  # fmt: skip
    return str(path)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    d = tmp_path_factory.mktemp("persons")
    frames = np.zeros((8, 96, 128, 3), np.uint8)
    boxes = {}
    for t in range(8):
        if t == 6:
            continue  # nobody on this frame
        x1, y1 = 10 + 8 * t, 30
        frames[t, y1 : y1 + 48, x1 : x1 + 24] = 255
        boxes[t] = np.array([x1, y1, x1 + 24, y1 + 48]) / [128, 96, 128, 96]
    write_video(d / "walk.mp4", frames, crf=0)
    (d / "list.txt").write_text("walk.mp4\n")
    return d, boxes


def test_rtmdet_signature_writes_mmaction2_proposals(tmp_path, video):
    d, boxes = video
    det = _export(BrightBox(), tmp_path / "det.onnx", ["dets", "labels"])
    out = tmp_path / "proposals.pkl"
    rc = main(["data", "detect-persons", str(d / "list.txt"), "--detector", det, "--out",
               str(out), "--fps", "2"])  # fmt: skip
    assert rc == 0
    proposals = load_pickle(out)
    # timestamp t -> frame 2 * (t - 900); frame 6 (timestamp 903) has nobody: no key
    assert sorted(proposals) == ["walk,0900", "walk,0901", "walk,0902"]
    for key, value in proposals.items():
        frame = 2 * (int(key[-4:]) - 900)
        assert value.dtype == np.float32 and value.shape == (1, 5)
        np.testing.assert_allclose(value[0, :4], boxes[frame], atol=2.5 / 96)
        assert value[0, 4] == pytest.approx(0.9)


def test_six_column_signature_keeps_the_person_class(tmp_path, video):
    d, boxes = video
    det = _export(BrightBox(six=True), tmp_path / "det6.onnx", ["output"])
    out = tmp_path / "p.pkl"
    args = ["data", "detect-persons", str(d / "walk.mp4"), "--detector", det, "--out", str(out)]
    rc = main([*args, "--fps", "2", "--timestamp-start", "0", "--timestamps", "1", "2"])
    assert rc == 0
    proposals = load_pickle(out)
    assert sorted(proposals) == ["walk,0001", "walk,0002"]
    assert all(v.shape == (1, 5) for v in proposals.values())  # the class-2 decoy is dropped
    np.testing.assert_allclose(proposals["walk,0002"][0, :4], boxes[4], atol=2.5 / 96)
    rc = main([*args, "--fps", "2", "--person-class", "2", "--timestamps", "900", "900"])
    assert rc == 0
    # the decoy's canvas box (1, 1, 9, 9) in the 128 x 96 frame, drawn at half size
    np.testing.assert_allclose(
        load_pickle(out)["walk,0900"], [[2 / 128, 2 / 96, 18 / 128, 18 / 96, 0.95]], rtol=1e-6
    )


def test_frame_folder_keys_by_folder_name(tmp_path):
    """AVA's extracted frames: ``<video_id>/img_00001.jpg``; timestamp t is file
    ``fps * (t - 900) + 1``."""
    from PIL import Image

    folder = tmp_path / "clip_x"
    folder.mkdir()
    for t in range(4):
        frame = np.zeros((96, 128, 3), np.uint8)
        if t == 2:
            frame[20:80, 40:70] = 255
        Image.fromarray(frame).save(folder / f"img_{t + 1:05d}.png")
    det = _export(BrightBox(), tmp_path / "det.onnx", ["dets", "labels"])
    out = tmp_path / "f.pkl"
    rc = main(["data", "detect-persons", str(folder), "--detector", det, "--out", str(out),
               "--fps", "2"])  # fmt: skip
    assert rc == 0
    proposals = load_pickle(out)
    assert list(proposals) == ["clip_x,0901"]
    np.testing.assert_allclose(
        proposals["clip_x,0901"][0, :4], [40 / 128, 20 / 96, 70 / 128, 80 / 96], atol=2.5 / 96
    )


def test_missing_detector_is_one_line(tmp_path, capsys):
    rc = main(["data", "detect-persons", "v.mp4", "--detector", str(tmp_path / "nope.onnx"),
               "--out", str(tmp_path / "a.pkl")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0
    assert "nope.onnx: detector model file does not exist" in err
