import random

import numpy as np
import pytest
import torch

from vidlab.data import loader as loader_mod
from vidlab.data.loader import DefaultSampler, build_dataloader, collate_skip_none


class AugDataset(torch.utils.data.Dataset):
    """Each item draws from random, NumPy and torch, like an augmenting pipeline."""

    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {
            "x": torch.tensor([random.random(), float(np.random.rand()), float(torch.rand(()))]),
            "index": i,
        }


def _batches(loader, epoch):
    loader.vidlab_sampler.set_epoch(epoch)
    return [b for b in loader]


def test_sampler_matches_mmengine_order():
    s = DefaultSampler(list(range(7)), shuffle=True, seed=3)
    s.set_epoch(2)
    g = torch.Generator().manual_seed(3 + 2)  # MMEngine: seed + epoch
    assert list(s) == torch.randperm(7, generator=g).tolist()
    s.set_epoch(3)
    assert list(s) != torch.randperm(7, generator=g.manual_seed(5)).tolist()


def test_sampler_split_across_ranks(monkeypatch):
    parts = []
    for rank in range(2):
        monkeypatch.setattr(loader_mod, "_dist_rank_world", lambda r=rank: (r, 2))
        s = DefaultSampler(list(range(7)), shuffle=True, seed=0)
        parts.append(list(s))
    assert len(parts[0]) == len(parts[1]) == 4  # round_up pads 7 -> 8
    assert set(parts[0]) | set(parts[1]) == set(range(7))
    monkeypatch.setattr(loader_mod, "_dist_rank_world", lambda: (1, 2))
    s = DefaultSampler(list(range(7)), shuffle=False, round_up=False)
    assert list(s) == [1, 3, 5] and len(s) == 3


def test_sampler_start_offset():
    s = DefaultSampler(list(range(6)), shuffle=True, seed=1)
    full = list(s)
    s.set_start(4)
    assert list(s) == full[4:] and len(s) == 2


def test_workers_do_not_change_the_data():
    ds = AugDataset(10)
    l0 = build_dataloader(ds, batch_size=3, num_workers=0, seed=7)
    l2 = build_dataloader(ds, batch_size=3, num_workers=2, seed=7)
    for epoch in (0, 1):
        a, b = _batches(l0, epoch), _batches(l2, epoch)
        assert len(a) == len(b) == 4
        for x, y in zip(a, b):
            assert torch.equal(x["index"], y["index"])
            assert torch.equal(x["x"], y["x"])
    e0, e1 = _batches(l0, 0), _batches(l0, 1)
    assert not torch.equal(e0[0]["x"], e1[0]["x"])  # a new epoch: new order and augmentation


def test_loading_leaves_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    _batches(build_dataloader(AugDataset(5), batch_size=2, seed=1), 0)
    assert torch.equal(torch.rand(3), expected)


def test_collate_skip_none():
    batch = [{"a": torch.tensor(1)}, None, {"a": torch.tensor(3)}]
    assert collate_skip_none(batch)["a"].tolist() == [1, 3]
    empty = collate_skip_none([None, None])
    assert len(empty["clips"]) == 0 and empty["skipped"] == []


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        build_dataloader(AugDataset(3), batch_size=0)
