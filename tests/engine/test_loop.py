"""The loop is task-agnostic: a minimal task object (not a Task subclass) trains and validates."""

import json

import pytest
import torch
from torch import nn

import vidlab.engine.loop as loop_module
from vidlab.engine.train import train


class PairDataset(torch.utils.data.Dataset):
    """Regression pairs y = x . w with a fixed w: nothing like a video."""

    def __init__(self, num_samples=16):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(num_samples, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return {"x": self.x[index], "y": self.y[index], "index": index}


class LinearModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x):  # (N, 4) -> (N, 1)
        return self.fc(x)


class SquaredErrorTask:
    """The smallest task: no views, no blending, no model.loss; it records what it was asked."""

    default_evaluator = None

    def __init__(self):
        self.prepared = 0
        self.losses = []
        self.predicted = 0

    def batch_size(self, batch):
        return len(batch["x"])

    def prepare(self, batch, device, *, model, memory_format=None):
        self.prepared += 1
        return batch["x"].to(device), batch["y"].to(device)

    def loss(self, model, outputs, targets):
        loss = ((outputs.squeeze(1) - targets) ** 2).mean()
        self.losses.append(loss.item())
        return loss

    def predict(self, model, batch, device, max_views=None):
        self.predicted += 1
        error = (model(batch["x"].to(device)).squeeze(1) - batch["y"]).abs()  # (B,)
        return -error.unsqueeze(1), batch["y"]  # scores (B, 1): higher is better


class NegativeError:
    def compute(self, scores, labels):
        return {"neg_error": float(scores.mean())}


def _cfg(work_dir, task, **optim):
    return dict(
        task=task,
        model=dict(type=LinearModel),
        train_dataloader=dict(batch_size=4, dataset=dict(type=PairDataset)),
        val_dataloader=dict(batch_size=5, dataset=dict(type=PairDataset, num_samples=10)),
        val_evaluator=dict(type=NegativeError),
        train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=3),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.05), **optim),
        default_hooks=dict(
            checkpoint=dict(type="CheckpointHook", interval=-1, save_last=False),
            logger=dict(type="LoggerHook", interval=1),
        ),
        randomness=dict(seed=0),
        work_dir=str(work_dir),
    )


def test_loop_runs_a_custom_task(tmp_path):
    task = SquaredErrorTask()
    result = train(_cfg(tmp_path, task))
    assert result["iter"] == 12 and task.prepared == 12
    assert task.predicted == 3 * 2  # 2 validation batches after each of 3 epochs
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    logged = [r["loss"] for r in records if r["mode"] == "train"]
    assert logged == task.losses  # the loss the loop steps on is the task's
    assert sum(logged[-4:]) < sum(logged[:4]) / 2  # and it trains
    val = [r["neg_error"] for r in records if r["mode"] == "val"]
    assert len(val) == 3 and val[-1] > val[0] and result["metrics"]["neg_error"] == val[-1]


class TwoTermTask(SquaredErrorTask):
    """A loss of two named terms (as TPN's loss_cls + loss_aux): the loop steps on the sum."""

    def loss_terms(self, model, outputs, targets):
        squared = self.loss(model, outputs, targets)
        absolute = (outputs.squeeze(1) - targets).abs().mean()
        return {"loss_sq": squared, "loss_abs": 0.5 * absolute}


def test_loop_logs_each_loss_term(tmp_path):
    train(_cfg(tmp_path, TwoTermTask()))
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["mode"] == "train"]
    assert len(steps) == 12
    for r in steps:
        assert r["loss"] == pytest.approx(r["loss_sq"] + r["loss_abs"], rel=1e-6)
        assert r["loss_abs"] > 0 and r["loss_sq"] > 0
    assert "loss_sq" in (tmp_path / "train.log").read_text()
    assert steps[-1]["loss_sq"] < steps[0]["loss_sq"]


def test_loop_clips_through_optim_clip_gradients(tmp_path, monkeypatch):
    calls = []
    real = loop_module.clip_gradients

    def spy(optimizer, clip_grad):
        calls.append(clip_grad)
        return real(optimizer, clip_grad)

    monkeypatch.setattr(loop_module, "clip_gradients", spy)
    cfg = _cfg(tmp_path, SquaredErrorTask(), clip_grad=dict(max_norm=0.5), accumulative_counts=2)
    cfg["val_dataloader"] = None
    train(cfg)
    # one call per optimizer step: 4 iterations per epoch, accumulated by 2, over 3 epochs
    assert calls == [{"max_norm": 0.5, "norm_type": 2.0}] * 6
