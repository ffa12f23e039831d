"""Tasks: how a config selects one, and what RecognitionTask does to batches."""

import pytest
import torch
from torch import nn

from vidlab.config.errors import ConfigError
from vidlab.tasks import RecognitionTask, Task, build_task


class Blending:
    """Records its input; returns the clips halved and one-hot labels, as mixup would."""

    def __init__(self):
        self.seen = None

    def __call__(self, clips, labels):
        self.seen = (clips.dtype, tuple(clips.shape), labels.clone())
        return clips / 2, nn.functional.one_hot(labels, 3).float()


class Preprocessor(nn.Module):
    def __init__(self, blending=None):
        super().__init__()
        self.blending = blending


class MeanRecognizer(nn.Module):
    """logits = a linear map of each clip's mean colour; softmax-averaged over views."""

    def __init__(self, blending=None):
        super().__init__()
        self.data_preprocessor = Preprocessor(blending)
        self.fc = nn.Linear(3, 3)
        self.calls = []

    def forward(self, clips):  # (N, C, T, H, W) -> (N, K)
        self.calls.append(clips.shape[0])
        return self.fc(clips.float().mean((2, 3, 4)))

    def average_views(self, logits, num_views):
        return logits.softmax(-1).view(-1, num_views, logits.shape[-1]).mean(1)  # (B, K)

    def loss(self, logits, labels):
        return {"loss_cls": nn.functional.cross_entropy(logits, labels), "acc": torch.tensor(9.0)}


def _batch(b=2, v=3):
    clips = torch.randint(0, 255, (b, v, 3, 2, 4, 4), dtype=torch.uint8)
    return {"clips": clips, "label": torch.arange(b), "index": torch.arange(b)}


# --------------------------------------------------------------------------------------------
# build_task
# --------------------------------------------------------------------------------------------


class CountingTask(RecognitionTask):
    def __init__(self, start=0):
        self.start = start


def test_build_task_default_name_node_and_object():
    assert type(build_task({})) is RecognitionTask
    assert type(build_task({"task": "RecognitionTask"})) is RecognitionTask
    assert type(build_task({"task": dict(type="RecognitionTask")})) is RecognitionTask
    assert build_task({"task": dict(type=CountingTask, start=3)}).start == 3
    assert build_task({"task": CountingTask}).start == 0
    task = CountingTask(5)
    assert build_task({"task": task}) is task
    assert isinstance(build_task({}), Task)


def test_build_task_unknown_name_names_the_key():
    with pytest.raises(ConfigError, match=r"task: unknown type 'RecognitonTask'.*RecognitionTask"):
        build_task({"task": "RecognitonTask"})


# --------------------------------------------------------------------------------------------
# RecognitionTask
# --------------------------------------------------------------------------------------------


def test_prepare_folds_views_and_repeats_labels():
    batch = _batch(b=2, v=3)
    clips, labels = RecognitionTask().prepare(batch, torch.device("cpu"), model=MeanRecognizer())
    assert clips.shape == (6, 3, 2, 4, 4) and clips.dtype == torch.uint8  # uint8 until the model
    assert torch.equal(clips[4], batch["clips"][1, 1])
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_prepare_blends_whole_videos_before_folding():
    blending = Blending()
    batch = _batch(b=2, v=3)
    clips, labels = RecognitionTask().prepare(
        batch, torch.device("cpu"), model=MeanRecognizer(blending)
    )
    assert blending.seen[0] == torch.float32 and blending.seen[1] == (2, 3, 3, 2, 4, 4)
    assert blending.seen[2].tolist() == [0, 1]
    assert torch.equal(clips[4], batch["clips"][1, 1].float() / 2)
    assert labels.shape == (6, 3) and labels[3:].argmax(1).tolist() == [1, 1, 1]


def test_prepare_channels_last_3d():
    clips, _ = RecognitionTask().prepare(
        _batch(), torch.device("cpu"), model=MeanRecognizer(), memory_format=torch.channels_last_3d
    )
    assert clips.is_contiguous(memory_format=torch.channels_last_3d)


def test_loss_sums_the_loss_terms_of_a_dict():
    model = MeanRecognizer()
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, 1, 2, 0])
    loss = RecognitionTask().loss(model, logits, labels)
    assert loss.item() == pytest.approx(nn.functional.cross_entropy(logits, labels).item())


def test_predict_averages_views_in_chunks():
    torch.manual_seed(0)
    model, batch, task = MeanRecognizer(), _batch(b=2, v=3), RecognitionTask()
    with torch.no_grad():
        scores, labels = task.predict(model, batch, torch.device("cpu"))
        assert model.calls == [6]
        chunked, _ = task.predict(model, batch, torch.device("cpu"), max_views=4)
    assert model.calls == [6, 4, 2]
    assert scores.shape == (2, 3) and torch.allclose(scores.sum(1), torch.ones(2))
    torch.testing.assert_close(scores, chunked)
    assert labels.tolist() == [0, 1]
