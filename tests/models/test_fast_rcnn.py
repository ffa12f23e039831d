"""The AVA detector (``FastRCNN`` + ``AVARoIHead``) on a slim SlowOnly: training with ground
truth, test-time results, the detection task through the engine's loop, compile and ONNX."""

from __future__ import annotations

import types

import pytest
import torch

from vidlab.models.fast_rcnn import AVARoIHead, FastRCNN
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.roi_heads import BBoxHeadAVA, SingleRoIExtractor3D
from vidlab.models.slowonly import ResNet3dSlowOnly
from vidlab.tasks import build_task
from vidlab.tasks.detection import DetectionTask

NUM_CLASSES = 6
TRAIN_CFG = dict(
    rcnn=dict(
        assigner=dict(type="MaxIoUAssignerAVA", pos_iou_thr=0.9, neg_iou_thr=0.9, min_pos_iou=0.9),
        sampler=dict(
            type="RandomSampler",
            num=32,
            pos_fraction=1,
            neg_pos_ub=-1,
            add_gt_as_proposals=True,
        ),
        pos_weight=1.0,
    )
)


def tiny_detector(test_cfg=None, sampling_ratio=0, **kwargs) -> FastRCNN:
    torch.manual_seed(0)
    backbone = ResNet3dSlowOnly(
        depth=18,
        base_channels=8,
        pretrained=None,
        pretrained2d=False,
        lateral=False,
        num_stages=4,
        conv1_kernel=(1, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        spatial_strides=(1, 2, 2, 1),
    )
    head = AVARoIHead(
        SingleRoIExtractor3D(output_size=4, sampling_ratio=sampling_ratio),
        BBoxHeadAVA(
            background_class=True,
            in_channels=64,
            num_classes=NUM_CLASSES,
            topk=(1, 2),
            dropout_ratio=0.5,
        ),
    )
    preprocessor = ActionDataPreprocessor(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], format_shape="NCTHW"
    )
    return FastRCNN(
        backbone,
        head,
        train_cfg=TRAIN_CFG,
        test_cfg=test_cfg or dict(rcnn=None),
        data_preprocessor=preprocessor,
        **kwargs,
    )


def labels(*classes: int) -> torch.Tensor:
    out = torch.zeros(1, NUM_CLASSES)
    out[0, 0] = 1.0  # MMAction2's background column
    out[0, list(classes)] = 1.0
    return out


def packed_batch() -> dict:
    """Two clips in the packed-and-collated format of ``vidlab.tasks.detection``."""
    gen = torch.Generator().manual_seed(1)
    return {
        "inputs": torch.randint(0, 256, (2, 3, 4, 64, 64), dtype=torch.uint8, generator=gen),
        "proposals": [
            torch.tensor([[2.0, 3.0, 30.0, 40.0], [20.0, 20.0, 60.0, 60.0]]),
            torch.tensor([[0.0, 0.0, 63.0, 63.0]]),
        ],
        "gt_instances": [
            {"bboxes": torch.tensor([[2.0, 3.0, 31.0, 40.0]]), "labels": labels(3)},
            {"bboxes": torch.tensor([[5.0, 5.0, 50.0, 50.0]]), "labels": labels(1, 2)},
        ],
        "meta": [
            {"video_id": "vid", "timestamp": 902, "img_key": "vid,0902", "img_shape": (64, 64)},
            {
                "video_id": "vid",
                "timestamp": 903,
                "img_key": "vid,0903",
                "img_shape": (64, 64),
                "flip": True,
                "crop_quadruple": [0.1, 0.2, 0.5, 0.5],
            },
        ],
        "index": torch.tensor([0, 1]),
    }


def test_training_samples_rois_against_the_ground_truth_and_backpropagates():
    model = tiny_detector().train()
    task = DetectionTask()
    inputs, targets = task.prepare(packed_batch(), torch.device("cpu"), model=model)
    assert len(inputs) == 2  # clips, as the loop counts them
    torch.manual_seed(0)
    outputs = model(**inputs)
    # clip 0: its ground truth and the proposal at IoU 0.97 are positive, the other negative;
    # clip 1: the ground truth is positive, the proposal (IoU 0.51) negative
    assert outputs["num_rois"] == [3, 2]
    assert outputs["rois"][:, 0].tolist() == [0, 0, 0, 1, 1]
    torch.testing.assert_close(outputs["rois"][0, 1:], torch.tensor([2.0, 3.0, 31.0, 40.0]))
    expected = torch.stack([labels(3)[0], labels(3)[0], torch.zeros(NUM_CLASSES)])
    torch.testing.assert_close(outputs["labels"][:3], expected)
    assert outputs["labels"][4].sum() == 0 and outputs["labels"][3, [0, 1, 2]].tolist() == [1] * 3
    terms = task.loss_terms(model, outputs, targets)
    assert list(terms) == ["loss_action_cls"]
    assert {"recall@thr=0.5", "prec@top2"} <= set(task.last_logs)
    terms["loss_action_cls"].backward()
    assert model.backbone.conv1.conv.weight.grad.abs().sum() > 0
    assert model.roi_head.bbox_head.fc_cls.weight.grad.abs().sum() > 0


def test_training_mode_without_ground_truth_says_what_to_do():
    model = tiny_detector().train()
    inputs = DetectionTask()._inputs(packed_batch(), torch.device("cpu"), with_gt=False)
    with pytest.raises(ValueError, match="gt_instances"):
        model(**inputs)


def test_eval_results_are_normalised_boxes_of_the_original_frame_with_scores():
    model = tiny_detector(test_cfg=dict(rcnn=dict(action_thr=0.5))).eval()
    with torch.no_grad():
        results, truth = DetectionTask().predict(model, packed_batch(), torch.device("cpu"))
    assert [r["img_key"] for r in results] == ["vid,0902", "vid,0903"]
    assert [tuple(r["bboxes"].shape) for r in results] == [(2, 4), (1, 4)]
    assert [tuple(r["scores"].shape) for r in results] == [(2, NUM_CLASSES), (1, NUM_CLASSES)]
    assert all(r["bboxes"].dtype == torch.float32 for r in results)
    torch.testing.assert_close(results[0]["bboxes"][0], torch.tensor([2, 3, 30, 40]) / 64.0)
    # clip 1 was flipped and cropped: the box goes back to the original frame
    x1, x2 = (64 - 1 - 63) / 64 * 0.5 + 0.1, (64 - 1 - 0) / 64 * 0.5 + 0.1
    torch.testing.assert_close(results[1]["bboxes"][0], torch.tensor([x1, 0.2, x2, 0.2 + 63 / 128]))
    scores = torch.cat([r["scores"] for r in results])
    assert ((scores == 0) | (scores > 0.5)).all() and (scores > 0.5).any()  # action_thr
    assert truth[1]["labels"].shape == (1, NUM_CLASSES)
    records = DetectionTask().predictions(None, results, truth, [0, 1])
    assert records[1]["img_key"] == "vid,0903" and len(records[1]["scores"][0]) == NUM_CLASSES


def test_eval_scores_equal_the_tensor_only_path():
    model = tiny_detector().eval()
    batch = packed_batch()
    with torch.no_grad():
        outputs = model(**DetectionTask()._inputs(batch, torch.device("cpu"), with_gt=False))
        direct = model.forward_rois(batch["inputs"], outputs["rois"])
    torch.testing.assert_close(outputs["cls_score"], direct, rtol=0, atol=0)


def test_build_task_infers_detection_from_the_model_type():
    evaluator = dict(type="AVAMetric", ann_file="a.csv", label_file="l.pbtxt")
    for model_type in ("FastRCNN", "mmdet.FastRCNN"):
        task = build_task(dict(model=dict(type=model_type), val_evaluator=evaluator))
        assert isinstance(task, DetectionTask) and task.evaluator == evaluator
    with pytest.raises(ValueError, match="available: mAP"):
        DetectionTask().metric_evaluators(["top_k_accuracy"])
    with pytest.raises(ValueError, match="AVAMetric node"):
        DetectionTask().metric_evaluators(["mAP"])


def test_one_training_step_through_the_engine_loop(tmp_path):
    from vidlab.engine.loop import train_epoch
    from vidlab.engine.state import Runner

    model = tiny_detector()
    runner = Runner(cfg={}, work_dir=tmp_path, is_main=True)
    runner.task = DetectionTask()
    runner.model = runner.train_model = model
    runner.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    runner.hooks = [types.SimpleNamespace(after_train_iter=lambda r, info: seen.append(info))]
    before = model.roi_head.bbox_head.fc_cls.weight.detach().clone()
    setup = types.SimpleNamespace(accumulative_counts=1, clip_grad=None)
    train_epoch(runner, [packed_batch()], setup, torch.device("cpu"), None)
    assert runner.state.iter == 1 and seen[0]["num_clips"] == 2
    assert seen[0]["loss"] > 0
    assert not torch.equal(model.roi_head.bbox_head.fc_cls.weight, before)


def test_compiled_eval_matches_eager():
    model = tiny_detector().eval()
    batch = packed_batch()
    rois = torch.tensor([[0, 2.0, 3.0, 30.0, 40.0], [1, 0.0, 0.0, 63.0, 63.0]])
    compiled = torch.compile(model.forward_rois, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(
            compiled(batch["inputs"], rois), model.forward_rois(batch["inputs"], rois)
        )


@pytest.mark.parametrize("sampling_ratio", [2, 0])
def test_onnx_export_with_a_fixed_number_of_rois(tmp_path, sampling_ratio):
    """A fixed grid (``sampling_ratio > 0``) fits every RoI; with the adaptive grid of the AVA
    configs (0) the trace keeps the largest grid of the RoIs it saw: traced with a whole-frame
    RoI, the graph fits every RoI inside the frame."""
    ort = pytest.importorskip("onnxruntime")
    model = tiny_detector(sampling_ratio=sampling_ratio).eval()
    clips = torch.nn.functional.interpolate(packed_batch()["inputs"].float(), (4, 128, 128))
    rois = torch.tensor([[0, 2.0, 3.0, 30.0, 40.0], [1, 0.0, 0.0, 127.0, 127.0]])

    class Export(torch.nn.Module):
        def __init__(self, detector):
            super().__init__()
            self.detector = detector

        def forward(self, clips, rois):
            return self.detector.forward_rois(clips, rois)

    path = tmp_path / "det.onnx"
    torch.onnx.export(
        Export(model).eval(),
        (clips, rois),
        str(path),
        opset_version=17,
        dynamo=False,
        input_names=["clips", "rois"],
        output_names=["logits"],
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    other = torch.tensor([[1, 10.0, 12.0, 120.0, 100.0], [0, 5.0, 5.0, 20.0, 60.0]])
    for r in (rois, other):
        (got,) = session.run(None, {"clips": clips.numpy(), "rois": r.numpy()})
        with torch.no_grad():
            want = model.forward_rois(clips, r)
        torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-4, atol=1e-4)


def test_inputs_are_keywords_only():
    model = tiny_detector().eval()
    inputs = DetectionTask()._inputs(packed_batch(), torch.device("cpu"), with_gt=False)
    with torch.no_grad():
        scores = model(**inputs)["cls_score"]  # the loop's way
    assert scores.shape == (sum(len(p) for p in inputs["proposals"]), NUM_CLASSES)
    with pytest.raises(TypeError):
        model(inputs)  # one form only: the dict's items as keywords
    with pytest.raises(TypeError, match="proposals"):
        model(clips=inputs["clips"])


def test_a_clip_without_proposals_or_without_ground_truth_and_bf16_autocast():
    model = tiny_detector().eval()
    task = DetectionTask()
    batch = packed_batch()
    batch["proposals"][1] = torch.zeros(0, 4)
    with torch.no_grad():
        results, _ = task.predict(model, batch, torch.device("cpu"))
    assert results[1]["bboxes"].shape == (0, 4) and results[1]["scores"].shape == (0, NUM_CLASSES)
    model.train()
    inputs, targets = task.prepare(batch, torch.device("cpu"), model=model)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = task.loss_terms(model, model(**inputs), targets)
    assert torch.isfinite(terms["loss_action_cls"])  # clip 1: its ground truth only
    batch = packed_batch()
    batch["gt_instances"][1] = {"bboxes": torch.zeros(0, 4), "labels": torch.zeros(0, NUM_CLASSES)}
    outputs = model(**task.prepare(batch, torch.device("cpu"), model=model)[0])
    assert outputs["num_rois"][1] == 1 and outputs["labels"][-1].sum() == 0  # a negative
