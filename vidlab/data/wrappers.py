"""MMEngine's dataset wrappers that MMAction2 configs use: :class:`ConcatDataset`,
:class:`RepeatDataset`.

MMAction2's Kinetics-710 config trains on Kinetics-400, -600 and -700 at once with
``dict(type='ConcatDataset', datasets=[k400, k600, k700])``.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence

from torch.utils.data import Dataset

from vidlab.data.skipped import Skipped

__all__ = ["ConcatDataset", "RepeatDataset"]


class ConcatDataset(Dataset):
    """The samples of several datasets, one dataset after the other (MMEngine's ``ConcatDataset``).

    Index ``i`` of the whole is index ``i - offset`` of the dataset it falls in. The ``index`` a
    sample carries (used for per-video predictions and skip reports) is made global, and
    :attr:`records` lists every dataset's records in the same order, so predictions name the
    right file.

    Args:
        datasets: built datasets (config dicts are built before they get here).
        lazy_init: accepted for MMEngine configs; datasets here are always ready.
        ignore_keys: MMEngine's list of ``metainfo`` keys allowed to differ; vidlab's datasets
            carry no metainfo to compare, so it is accepted and unused.
    """

    def __init__(
        self,
        datasets: Sequence[Dataset],
        lazy_init: bool = False,
        ignore_keys: str | Sequence[str] | None = None,
    ) -> None:
        datasets = list(datasets)
        if not datasets:
            raise ValueError("ConcatDataset: datasets is empty; give at least one dataset")
        for k, ds in enumerate(datasets):
            if isinstance(ds, dict):
                raise TypeError(f"ConcatDataset: datasets[{k}] is an unbuilt config dict")
        self.datasets = datasets
        self.cumulative_sizes = []
        total = 0
        for ds in datasets:
            total += len(ds)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int):
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"ConcatDataset index {idx} out of range for {len(self)} samples")
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        offset = self.cumulative_sizes[k - 1] if k else 0
        return _shift_index(self.datasets[k][idx - offset], offset)

    @property
    def records(self) -> list[dict]:
        """Every dataset's records, in index order (for per-video predictions)."""
        out: list[dict] = []
        for ds in self.datasets:
            out.extend(getattr(ds, "records", None) or [{}] * len(ds))
        return out

    @property
    def log_skips(self) -> bool:
        return any(getattr(ds, "log_skips", False) for ds in self.datasets)

    @log_skips.setter
    def log_skips(self, value: bool) -> None:
        for ds in self.datasets:
            if hasattr(ds, "log_skips"):
                ds.log_skips = value

    def check_labels_against(self, num_classes: int | None, key: str, need_labels: bool) -> None:
        for k, ds in enumerate(self.datasets):
            if hasattr(ds, "check_labels_against"):
                ds.check_labels_against(num_classes, f"{key}.datasets[{k}]", need_labels)

    def __repr__(self) -> str:
        parts = ", ".join(repr(ds) for ds in self.datasets)
        return f"ConcatDataset({len(self)} samples: {parts})"


class RepeatDataset(Dataset):
    """``dataset`` repeated ``times`` times in one epoch (MMEngine's ``RepeatDataset``; the
    skeleton configs train on ``RepeatDataset(times=5..10)`` of a ``PoseDataset``).

    Item ``i`` is item ``i % len(dataset)``; samples keep their index in ``dataset``, so
    predictions and skip reports name the right record.

    Args:
        dataset: the built dataset.
        times: repetitions (>= 1).
        lazy_init: accepted for MMEngine configs; datasets here are always ready.
    """

    def __init__(self, dataset: Dataset, times: int, lazy_init: bool = False) -> None:
        if isinstance(dataset, dict):
            raise TypeError("RepeatDataset: dataset is an unbuilt config dict")
        if int(times) != times or times < 1:
            raise ValueError(f"RepeatDataset: times={times!r}; expected an integer >= 1")
        self.dataset = dataset
        self.times = int(times)
        self._size = len(dataset)

    def __len__(self) -> int:
        return self.times * self._size

    def __getitem__(self, idx: int):
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"RepeatDataset index {idx} out of range for {len(self)} samples")
        return self.dataset[idx % self._size]

    @property
    def records(self) -> list[dict]:
        """The wrapped dataset's records (sample indices are the wrapped dataset's)."""
        return getattr(self.dataset, "records", None) or [{}] * self._size

    @property
    def log_skips(self) -> bool:
        return getattr(self.dataset, "log_skips", False)

    @log_skips.setter
    def log_skips(self, value: bool) -> None:
        if hasattr(self.dataset, "log_skips"):
            self.dataset.log_skips = value

    def check_labels_against(self, num_classes: int | None, key: str, need_labels: bool) -> None:
        if hasattr(self.dataset, "check_labels_against"):
            self.dataset.check_labels_against(num_classes, f"{key}.dataset", need_labels)

    def __getattr__(self, name: str):
        # num_classes, labels, class_counts, ...: the wrapped dataset's
        if name.startswith("_") or name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __repr__(self) -> str:
        return f"RepeatDataset({self.times} x {self.dataset!r})"


def _shift_index(sample, offset: int):
    """``sample`` with its dataset index moved by ``offset`` (a packed sample, a results dict,
    RepeatAugDataset's list of samples, or a skip marker)."""
    if offset == 0 or sample is None:
        return sample
    if isinstance(sample, Skipped):
        return dataclasses.replace(sample, index=sample.index + offset)
    if isinstance(sample, list):
        return [_shift_index(s, offset) for s in sample]
    if isinstance(sample, dict) and isinstance(sample.get("index"), int) and sample["index"] >= 0:
        return {**sample, "index": sample["index"] + offset}
    return sample
