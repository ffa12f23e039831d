"""Data loaders: MMEngine's ``DefaultSampler`` and a ``DataLoader`` builder with reproducible seeding.

Randomness in the data pipeline is a function of ``(seed, epoch, dataset index)`` only: before
each sample is read, Python's ``random``, NumPy's global generator and torch's are seeded from
those three numbers. The augmentation a sample gets therefore does not depend on the number of
workers, on which worker reads it, on ``persistent_workers``, or on whether the run was resumed
— a resumed run sees exactly the data of the uninterrupted one. In the main process
(``num_workers=0``) the global generators are restored after each sample, so data loading never
disturbs the model's randomness (dropout, mixup).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from vidlab.data.skipped import collate_skip_none

__all__ = ["DefaultSampler", "build_dataloader", "collate_skip_none", "sample_seed"]

log = logging.getLogger(__name__)


def _dist_rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def sample_seed(*parts: int) -> int:
    """A well-mixed 32-bit seed from a few integers (e.g. seed, epoch, index)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class DefaultSampler(Sampler):
    """MMEngine's ``DefaultSampler``: per-epoch shuffling, split across ranks.

    The order of epoch ``e`` is ``torch.randperm(len(dataset))`` from a generator seeded with
    ``seed + e`` (as MMEngine). With several ranks, rank ``r`` takes items ``r, r + W, ...``
    of the (padded, with ``round_up``) order, so every rank gets the same number of samples.

    Args:
        dataset: the dataset (only its length is used).
        shuffle: shuffle each epoch.
        seed: shuffling seed; ``None`` takes torch's initial seed (the run's seed when the
            engine set one), the same on every rank.
        round_up: pad by repeating the first indices so that the total divides the world size.
    """

    def __init__(
        self, dataset, shuffle: bool = True, seed: int | None = None, round_up: bool = True
    ):
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = int(torch.initial_seed() % 2**31) if seed is None else int(seed)
        self.round_up = round_up
        self.rank, self.world_size = _dist_rank_world()
        self.epoch = 0
        self.start = 0
        n = len(dataset)
        if round_up:
            self.num_samples = math.ceil(n / self.world_size)
            self.total_size = self.num_samples * self.world_size
        else:
            self.num_samples = math.ceil((n - self.rank) / self.world_size)
            self.total_size = n

    def set_epoch(self, epoch: int) -> None:
        """Select the order of epoch ``epoch`` (0-based) and reset the start offset."""
        self.epoch = int(epoch)
        self.start = 0

    def set_start(self, start: int) -> None:
        """Skip the first ``start`` samples of this rank's order (resume in mid-epoch)."""
        self.start = int(start)

    def _rank_indices(self) -> list[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if self.round_up and n:
            indices = (indices * (self.total_size // n + 1))[: self.total_size]
        return indices[self.rank : self.total_size : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._rank_indices()[self.start :])

    def __len__(self) -> int:
        return max(self.num_samples - self.start, 0)


class _EpochTaggedSampler(Sampler):
    """Yields ``(epoch, index)`` so the dataset wrapper can seed each sample."""

    def __init__(self, sampler):
        self.sampler = sampler

    def __iter__(self):
        epoch = getattr(self.sampler, "epoch", 0)
        return ((epoch, i) for i in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class _SeededDataset(Dataset):
    """Seeds the global generators from ``(seed, epoch, index)`` before reading a sample."""

    def __init__(self, dataset, seed: int):
        self.dataset = dataset
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name):
        if name in ("dataset", "seed"):  # not set yet (unpickling in a worker)
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, key):
        epoch, index = key
        if get_worker_info() is not None:  # a worker owns its generators
            _seed_all(sample_seed(self.seed, epoch, index))
            return self.dataset[index]
        states = random.getstate(), np.random.get_state(), torch.get_rng_state()
        try:
            _seed_all(sample_seed(self.seed, epoch, index))
            return self.dataset[index]
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])
            torch.set_rng_state(states[2])


class _WorkerInit:
    """``worker_init_fn``: one thread per worker; generators seeded from (seed, epoch, rank, id).

    The sampler is read in the worker: its copy was taken when the epoch's iterator started, so
    ``sampler.epoch`` is that epoch.
    """

    def __init__(self, seed: int, rank: int, sampler):
        self.seed, self.rank, self.sampler = seed, rank, sampler

    def __call__(self, worker_id: int) -> None:
        torch.set_num_threads(1)
        epoch = getattr(self.sampler, "epoch", 0)
        _seed_all(sample_seed(self.seed, epoch, self.rank, worker_id, 0x5EED))


def _build_sampler(sampler, dataset, shuffle: bool, seed: int | None):
    if sampler is None:
        return DefaultSampler(dataset, shuffle=shuffle, seed=seed)
    if isinstance(sampler, Sampler):
        return sampler
    if not isinstance(sampler, dict):
        raise TypeError(f"sampler must be None, a dict or a Sampler, got {type(sampler).__name__}")
    kwargs = dict(sampler)
    kind = kwargs.pop("type", "DefaultSampler")
    if kind in ("DefaultSampler", DefaultSampler):
        kwargs.setdefault("seed", seed)
        kwargs.setdefault("shuffle", shuffle)
        return DefaultSampler(dataset, **kwargs)
    from vidlab.config import resolve_type

    return resolve_type(kind)(dataset=dataset, **kwargs)


def build_dataloader(
    dataset,
    batch_size: int,
    num_workers: int = 0,
    sampler=None,
    shuffle: bool = True,
    seed: int | None = None,
    drop_last: bool = False,
    persistent_workers: bool = False,
    pin_memory: bool = False,
    collate_fn: Callable | None = None,
    prefetch_factor: int | None = None,
) -> DataLoader:
    """A ``DataLoader`` with MMEngine's sampler semantics and reproducible per-sample seeding.

    Args:
        dataset: a map-style dataset; it may return a ``Skipped`` marker (or ``None``) for a
            sample it could not load.
        batch_size: samples per batch on this rank.
        num_workers: loader processes (0 reads in the main process).
        sampler: ``None`` (a ``DefaultSampler``), a config dict
            (``dict(type='DefaultSampler', shuffle=True)``) or a ``Sampler``.
        shuffle: default of the sampler's ``shuffle``.
        seed: seed of the shuffling and of the per-sample augmentation; ``None`` takes torch's
            initial seed.
        drop_last: drop the last incomplete batch.
        persistent_workers: keep workers between epochs (seeding stays per sample).
        pin_memory: pin host memory for faster copies to the GPU.
        collate_fn: defaults to :func:`collate_skip_none`.
        prefetch_factor: batches prefetched per worker (``None``: torch's default).

    Returns:
        The loader; ``loader.sampler`` is the epoch-tagging wrapper, ``loader.vidlab_sampler`` the
        sampler given or built (call its ``set_epoch`` before each epoch).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    seed = int(torch.initial_seed() % 2**31) if seed is None else int(seed)
    base_sampler = _build_sampler(sampler, dataset, shuffle, seed)
    rank, _ = _dist_rank_world()
    generator = torch.Generator()  # keeps DataLoader's base-seed draw off the global generator
    generator.manual_seed(seed)
    extra = {}
    if num_workers > 0:
        extra["persistent_workers"] = persistent_workers
        extra["worker_init_fn"] = _WorkerInit(seed, rank, base_sampler)
        if prefetch_factor is not None:
            extra["prefetch_factor"] = prefetch_factor
    loader = DataLoader(
        _SeededDataset(dataset, seed),
        batch_size=batch_size,
        sampler=_EpochTaggedSampler(base_sampler),
        num_workers=num_workers,
        collate_fn=collate_fn or collate_skip_none,
        pin_memory=pin_memory,
        drop_last=drop_last,
        generator=generator,
        **extra,
    )
    loader.vidlab_sampler = base_sampler
    return loader
