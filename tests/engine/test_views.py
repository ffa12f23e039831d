"""ViewRunner: the views of a test batch in chunks (max_testing_views, memory budget, OOM)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlab.engine.views import ViewRunner, parse_size
from vidlab.tasks import RecognitionTask


class _Model(nn.Module):
    """A tiny per-sample model that runs out of 'CUDA' memory above ``limit`` samples."""

    def __init__(self, limit: int | None = None):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 1)
        self.fc = nn.Linear(4, 5)
        self.limit = limit
        self.sizes: list[int] = []

    def forward(self, clips):
        self.sizes.append(clips.shape[0])
        if self.limit is not None and clips.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        x = self.conv(clips.float()).mean((2, 3, 4))  # (N, 4)
        return self.fc(x)  # (N, 5)

    def average_views(self, logits, num_views):
        return logits.reshape(-1, num_views, logits.shape[-1]).mean(1)


def _clips(n=12):
    return torch.randint(
        0, 256, (n, 3, 2, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )


def test_parse_size():
    assert parse_size("512M") == 512 * 2**20
    assert parse_size("1.5g") == int(1.5 * 2**30)
    assert parse_size("4GiB") == 4 * 2**30
    assert parse_size(1000) == 1000
    with pytest.raises(ValueError, match="4 apples"):
        parse_size("4 apples")


def test_max_testing_views_chunks_and_keeps_the_numbers():
    model = _Model().eval()
    flat = _clips(12)
    with torch.no_grad():
        whole = model(flat)
        model.sizes.clear()
        chunked = ViewRunner(max_views=5, log=lambda _: None)(model, flat)
    assert model.sizes == [5, 5, 2]
    torch.testing.assert_close(chunked, whole)


def test_out_of_memory_halves_the_chunk_and_remembers_it():
    model = _Model(limit=3).eval()
    notes = []
    runner = ViewRunner(log=notes.append)
    flat = _clips(12)
    with torch.no_grad():
        out = runner(model, flat)
        expected = torch.cat([_Model.forward(model, x) for x in flat.split(1)])
    torch.testing.assert_close(out, expected)
    assert runner.chunk == 3  # 12 -> 6 -> 3
    assert [n for n in model.sizes[:3]] == [12, 6, 3]
    assert len(notes) == 2 and "3 view(s) at once" in notes[-1]
    model.sizes.clear()
    with torch.no_grad():
        runner(model, flat)
    assert model.sizes == [3, 3, 3, 3]  # the next batch starts at the chunk that fitted


def test_one_view_that_does_not_fit_is_raised():
    model = _Model(limit=0).eval()
    with pytest.raises(torch.cuda.OutOfMemoryError):
        with torch.no_grad():
            ViewRunner(log=lambda _: None)(model, _clips(4))


def test_memory_budget_sets_the_chunk_from_one_view():
    model = _Model().eval()
    notes = []
    flat = _clips(12)
    runner = ViewRunner(memory_budget=10**9, log=notes.append)
    with torch.no_grad():
        runner(model, flat)
    per_view = runner.per_view_bytes
    assert per_view > 0 and runner.chunk == 10**9 // per_view
    # a budget of three views' memory: chunks of three
    model.sizes.clear()
    runner = ViewRunner(memory_budget=3 * per_view, log=notes.append)
    with torch.no_grad():
        runner(model, flat)
    assert runner.chunk == 3 and model.sizes[1:] == [3, 3, 3, 3]  # [0]: the measuring view
    assert "estimated" in notes[-1] and "at most 3 view(s)" in notes[-1]


def test_recognition_task_keeps_raw_view_logits():
    task = RecognitionTask()
    model = _Model().eval()
    clips = _clips(6).reshape(2, 3, 3, 2, 4, 4)  # (B=2, V=3, C, T, H, W)
    with torch.no_grad():
        scores, _ = task.predict(model, {"clips": clips, "label": torch.tensor([0, 1])}, "cpu", 2)
    assert task.last_logits.shape == (2, 3, 5)
    torch.testing.assert_close(scores, task.last_logits.mean(1))
    assert model.sizes == [2, 2, 2]
