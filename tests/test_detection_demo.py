"""The detection demo (`vidlab.detection_demo`) on a generated video with a stand-in detector:
which frames reach the model, the boxes it is given and draws, the JSON, constant memory."""

from __future__ import annotations

import json
import pickle

import av
import numpy as np
import pytest
import torch

from vidlab.data.synthetic import write_video
from vidlab.detection_demo import ProposalFile, detect_video, draw_box, read_label_map

FPS, SIZE, FRAMES = 10, 64, 47  # 4.7 s: the last keyframe's clip runs past the end


class StandIn(torch.nn.Module):
    """The detection seam with no network: action ``j`` scores the mean brightness of the
    clip's ``j``-th frame / 255; it records what it was given."""

    cfg = None

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, *, clips, proposals, **_):
        self.calls.append((clips.clone(), [p.clone() for p in proposals]))
        frame_means = clips.mean(dim=(1, 3, 4))[0] / 255  # (T,)
        scores = frame_means[None].repeat(len(proposals[0]), 1)
        return dict(rois=proposals[0], scores=torch.cat([torch.ones(len(scores), 1), scores], 1))

    def results(self, outputs, metas):
        h, w = metas[0]["img_shape"]
        boxes = outputs["rois"] / torch.tensor([w, h, w, h])
        return [dict(bboxes=boxes.numpy(), scores=outputs["scores"].numpy())]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """Frame i is flat grey 20 + 4 * i (so the frames a clip holds can be read off its pixels)."""
    root = tmp_path_factory.mktemp("demo")
    frames = np.stack([np.full((SIZE, SIZE, 3), 20 + 4 * i, np.uint8) for i in range(FRAMES)])
    path = write_video(root / "clip.mp4", frames, fps=FPS, crf=0, preset="veryslow")
    proposals = {
        f"clip,{900 + s:04d}": np.array(
            [[0.1, 0.2, 0.5, 0.6, 0.95], [0.5, 0.5, 0.9, 0.95, 0.99], [0.0, 0.0, 0.3, 0.3, 0.4]]
        )
        for s in range(0, 5)
        if s != 2  # no person at 2 s
    }
    pkl = root / "proposals.pkl"
    pkl.write_bytes(pickle.dumps(proposals))
    return path, pkl


def _frames(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def test_clips_boxes_json_and_drawing(video, tmp_path):
    path, pkl = video
    model = StandIn()
    out, js = tmp_path / "annotated.mp4", tmp_path / "out.json"
    info = detect_video(
        model,
        path,
        ProposalFile(pkl),
        out_video=out,
        json_out=js,
        labels={1: "first", 2: "second"},
        clip_len=4,
        frame_interval=3,
        short_side=32,
        score_thr=0.0,
        top_k=2,
        timestamp_start=900,
    )
    assert info["num_frames"] == FRAMES and info["stride"] == FPS
    assert info["num_keyframes"] == 5  # frames 0, 10, 20, 30, 40
    # Keyframe k's clip is k + (-6, -3, 0, 3), clamped into the video (MMAction2's test
    # sampling): read the frame numbers back off the grey levels.
    called = [0, 10, 30, 40]  # 20 (second 2) has no person: the model is not called
    assert len(model.calls) == len(called)
    for k, (clips, rois) in zip(called, model.calls):
        assert clips.shape == (1, 3, 4, 32, 32)
        got = (clips[0].mean(dim=(0, 2, 3)).numpy() - 20) / 4
        want = np.clip(k + np.array([-6, -3, 0, 3]), 0, FRAMES - 1)
        np.testing.assert_allclose(got, want, atol=1.0)  # YUV rounding; frames 3 apart
        # the two boxes scoring >= 0.9, in pixels of the model's 32 x 32 frames
        np.testing.assert_allclose(
            rois[0].numpy(), np.array([[0.1, 0.2, 0.5, 0.6], [0.5, 0.5, 0.9, 0.95]]) * 32, atol=1e-5
        )
    doc = json.loads(js.read_text())
    assert [e["frame"] for e in doc["keyframes"]] == [0, 10, 20, 30, 40]
    assert [e["timestamp"] for e in doc["keyframes"]] == [900, 901, 902, 903, 904]
    assert doc["keyframes"][2]["persons"] == []
    person = doc["keyframes"][1]["persons"][0]
    assert person["box"] == [0.1, 0.2, 0.5, 0.6]
    # scores: the clip's frames 4, 7, 10, 13 -> (20 + 4 * frame) / 255; top 2 of columns 1..
    assert [a["label"] for a in person["actions"]] == ["action_4", "action_3"]
    assert person["actions"][0]["score"] == pytest.approx((20 + 4 * 13) / 255, abs=0.01)
    drawn = _frames(out)
    assert len(drawn) == FRAMES and drawn.shape[1:] == (256, 256, 3)  # enlarged x4 to draw
    # the first box's top edge in the first colour, on frames of keyframes with persons only
    y, x = int(0.2 * 256), int(0.3 * 256)
    line = drawn[12, y, x - 8 : x + 8].astype(int)  # a 1-pixel line, through H.264
    assert line[:, 0].mean() > 150 and line[:, 1].mean() < 120  # red-ish: keyframe 10
    assert abs(int(drawn[21, y, x, 0]) - (20 + 4 * 21)) < 8  # keyframe 20: nothing drawn


def test_label_map_threshold_and_max_frames(video, tmp_path):
    path, pkl = video
    pbtxt = tmp_path / "labels.pbtxt"
    pbtxt.write_text('item {\n  name: "stand"\n  id: 1\n}\nitem {\n  name: "jump"\n  id: 2\n}\n')
    assert read_label_map(pbtxt) == {1: "stand", 2: "jump"}
    entries = []
    info = detect_video(
        StandIn(),
        path,
        ProposalFile(pkl, score_thr=0.3),
        clip_len=2,
        frame_interval=2,
        short_side=16,
        score_thr=0.1,
        timestamp_start=900,
        max_frames=25,
        on_keyframe=entries.append,
    )
    assert info["num_frames"] == 25 and [e["frame"] for e in entries] == [0, 10, 20]
    assert len(entries[0]["persons"]) == 3  # the 0.4 box passes a 0.3 threshold
    # frame 0's clip is frames (-2, 0) -> (0, 0): brightness 20 / 255, below score_thr
    assert entries[0]["persons"][0]["actions"] == []
    assert len(entries[1]["persons"][0]["actions"]) == 2  # (20 + 4 * 10) / 255 > 0.1


def test_draw_box_clips_at_the_border():
    frame = np.zeros((20, 30, 3), np.uint8)
    draw_box(frame, (-5, 2, 10, 40), (255, 0, 0), thickness=1)
    assert frame[2, 0:10, 0].all() and frame[2:20, 0, 0].all() and frame[2:20, 9, 0].all()
    assert not frame[3:19, 1:9].any()


STANDIN_MODULE = """
import torch


class SampleAVAFrames:
    def __init__(self, clip_len, frame_interval=2, test_mode=False):
        pass


class Det(torch.nn.Module):
    def __init__(self, gain=1.0):
        super().__init__()
        self.gain = torch.nn.Parameter(torch.tensor(gain))

    def forward(self, *, clips, proposals, **_):
        rois = proposals[0]
        level = clips.mean() / 255 * self.gain
        scores = torch.stack([torch.ones(()), level, 1 - level]).repeat(len(rois), 1)
        return dict(rois=rois, scores=scores)

    def results(self, outputs, metas):
        h, w = metas[0]["img_shape"]
        boxes = outputs["rois"] / torch.tensor([w, h, w, h])
        return [dict(bboxes=boxes.numpy(), scores=outputs["scores"].detach().numpy())]
"""


def test_cli_infer_task_detection(video, tmp_path, monkeypatch, capsys):
    from vidlab.cli.main import main

    path, pkl = video
    (tmp_path / "standin_det.py").write_text(STANDIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    labels = tmp_path / "labels.pbtxt"
    labels.write_text('item {\n  name: "bright"\n  id: 1\n}\nitem {\n  name: "dark"\n  id: 2\n}\n')
    config = tmp_path / "det.py"
    config.write_text(
        "model = dict(type='standin_det:Det', gain=1.0)\n"
        f"label_file = {str(labels)!r}\n"
        "test_pipeline = [dict(type='standin_det:SampleAVAFrames', clip_len=2, frame_interval=4,"
        " test_mode=True)]\n"
        "test_dataloader = dict(dataset=dict(pipeline=test_pipeline))\n"
    )
    ckpt = tmp_path / "det.pth"
    torch.save({"state_dict": {"gain": torch.tensor(1.0)}}, ckpt)
    out = tmp_path / "annotated.mp4"
    args = ["infer", "--task", "detection", str(config), str(ckpt), str(path)]
    code = main([*args, "--out", str(out), "--proposals", str(pkl), "--timestamp-start", "900"])
    assert code == 0 and len(_frames(out)) == FRAMES
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and "2 person(s)" in lines[0] and "0 person(s)" in lines[2]
    assert "dark" in lines[0] and "bright" in lines[4]  # the video brightens over time
    assert main([*args, "--json", "--proposals", str(pkl), "--video-id", "other"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["keyframes"]) == 5 and all(not k["persons"] for k in doc["keyframes"])
    assert main([*args, "--json"]) == 2  # no person boxes: a usage error, not a traceback
    assert "--proposals" in capsys.readouterr().err


class FixedPerson(torch.nn.Module):
    """A stand-in ONNX person detector: one box (8, 8, 40, 40) of class 0 scoring 0.95, and a
    box of class 2 (not a person) scoring 0.99."""

    def forward(self, x):
        dets = torch.tensor([[[8.0, 8.0, 40.0, 40.0, 0.95], [0.0, 0.0, 9.0, 9.0, 0.99]]])
        return dets + 0 * x.mean(), torch.tensor([[0, 2]])


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning")
def test_cli_detector_onnx(video, tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    from vidlab.cli.main import main

    path, _ = video
    det = tmp_path / "det.onnx"
    torch.onnx.export(
        FixedPerson(), torch.zeros(1, 3, 64, 64), str(det), input_names=["input"],
        output_names=["dets", "labels"], opset_version=17, dynamo=False,
    )  # fmt: skip
    (tmp_path / "standin_det.py").write_text(STANDIN_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "det.py"
    config.write_text(
        "model = dict(type='standin_det:Det')\n"
        "label_file = '/nonexistent/labels.pbtxt'\n"
        "test_dataloader = dict(dataset=dict(pipeline=[dict(type='standin_det:SampleAVAFrames',"
        " clip_len=2)]))\n"
    )
    ckpt = tmp_path / "det.pth"
    torch.save({"state_dict": {"gain": torch.tensor(1.0)}}, ckpt)
    args = ["infer", "--task", "detection", str(config), str(ckpt), str(path), "--json"]
    assert main([*args, "--detector", str(det), "--max-frames", "21"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert "labels.pbtxt does not exist" in captured.err  # named by column instead
    assert [k["frame"] for k in doc["keyframes"]] == [0, 10, 20]
    for keyframe in doc["keyframes"]:  # the person box only, relative to the 64 x 64 frame
        assert [p["box"] for p in keyframe["persons"]] == [[0.125, 0.125, 0.625, 0.625]]
    assert doc["keyframes"][2]["persons"][0]["actions"][0]["label"] == "action_2"  # dark: 1 - level


@pytest.mark.parametrize("resize, side", [(None, SIZE), ((-1, 32), 32)])
def test_frames_go_to_the_model_at_the_test_pipelines_size(video, resize, side):
    """Without a Resize in the test pipeline (the quickstart's), frames go as decoded."""
    path, pkl = video
    model = StandIn()
    steps = [dict(type="SampleAVAFrames", clip_len=2, frame_interval=2)]
    steps += [dict(type="Resize", scale=resize)] if resize else []
    model.cfg = dict(test_dataloader=dict(dataset=dict(pipeline=steps)))
    detect_video(model, path, ProposalFile(pkl), timestamp_start=900, max_frames=5)
    assert model.calls[0][0].shape == (1, 3, 2, side, side)


def test_memory_does_not_grow_with_the_video(tmp_path):
    """Frames held at once: the same for a 6 s and a 30 s video (constant memory)."""
    held = []
    for seconds in (6, 30):
        frames = np.zeros((seconds * FPS, 16, 16, 3), np.uint8)
        path = write_video(tmp_path / f"long{seconds}.mp4", frames, fps=FPS)
        persons = lambda v, t, f: np.array([[0.1, 0.1, 0.9, 0.9, 1.0]], np.float32)  # noqa: E731
        info = detect_video(StandIn(), path, persons, clip_len=4, frame_interval=4, short_side=16)
        assert info["num_keyframes"] == seconds
        held.append(info["most_frames_held"])
    assert held[0] == held[1] <= FPS // 2 + 3 * 4 + 2  # half a stride + the clip's second half
