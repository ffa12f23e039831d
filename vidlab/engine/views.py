"""The views of a test batch through the model in chunks that fit in memory.

MMAction2 runs every view of a test sample at once, or ``test_cfg.max_testing_views`` at a time
(its FAQ's answer to "out of memory in multi-view testing"); the user has to find the number.
:class:`ViewRunner` keeps that option and adds two things, so that a too-large sample does not
end the test:

- a memory budget (``--view-memory 4G``): the activation memory of one view is measured once
  (CUDA: the allocator's peak; CPU: an estimate from the module outputs of one view), and the
  views run in chunks of ``budget // per_view``;
- on CUDA, an out-of-memory error halves the chunk and runs the batch again, down to one view
  at a time; the smaller chunk is kept for the following batches.

In eval mode the views of a chunk are independent samples, so chunking changes no number
beyond the last bits of batched kernels.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

__all__ = ["ViewRunner", "parse_size"]

_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str | int) -> int:
    """``'512M'``, ``'4G'``, ``'1.5g'``, ``'100000'`` -> bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)i?b?\s*", str(text).lower())
    if not match:
        raise ValueError(f"memory size {text!r}: use a number of bytes or e.g. 512M, 4G")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def _leaf_output_bytes(model: nn.Module, one_view: Tensor) -> int:
    """An estimate of the activation memory one view needs on the CPU: the largest sum of a
    module's input and output (what must be alive at once inside a layer) times two, for the
    temporaries of the layer's own ops."""
    peak = [one_view.numel() * 4]

    def hook(module, inputs, output):
        size = sum(t.numel() * t.element_size() for t in inputs if isinstance(t, Tensor))
        if isinstance(output, Tensor):
            size += output.numel() * output.element_size()
        peak[0] = max(peak[0], 2 * size)

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        model(one_view)
    finally:
        for h in handles:
            h.remove()
    return peak[0]


def _measured_bytes(model: nn.Module, one_view: Tensor) -> int:
    """Peak CUDA memory of one view above what was allocated before it."""
    device = one_view.device
    torch.cuda.synchronize(device)
    before = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    model(one_view)
    torch.cuda.synchronize(device)
    return max(1, torch.cuda.max_memory_allocated(device) - before)


class ViewRunner:
    """Runs ``(B*V, C, T, H, W)`` clips through a model in chunks; returns ``(B*V, K)`` logits.

    Args:
        max_views: at most this many views at once (``max_testing_views``); None: no limit.
        memory_budget: activation memory for one chunk, bytes or a size string (``'4G'``);
            None: no budget (on CUDA, out-of-memory still halves the chunk).
        log: called with one line when the chunk size is chosen or cut.
    """

    def __init__(self, max_views: int | None = None, memory_budget=None, log=print) -> None:
        if max_views is not None and max_views < 1:
            raise ValueError(f"max_testing_views={max_views}: use a positive number or None")
        self.max_views = max_views
        self.memory_budget = parse_size(memory_budget) if memory_budget is not None else None
        self.log = log
        self.chunk: int | None = None  # learned: from the budget or after an out-of-memory
        self.per_view_bytes: int | None = None
        self.calls = 0  # model calls, for tests and the summary

    def _budget_chunk(self, model: nn.Module, flat: Tensor) -> int:
        one = flat[:1]
        if one.is_cuda:
            self.per_view_bytes = _measured_bytes(model, one)
            how = "measured"
        else:
            self.per_view_bytes = _leaf_output_bytes(model, one)
            how = "estimated"
        chunk = max(1, self.memory_budget // self.per_view_bytes)
        self.log(
            f"views: {self.per_view_bytes / 2**20:.1f} MiB per view ({how}); "
            f"budget {self.memory_budget / 2**20:.0f} MiB -> at most {chunk} view(s) at once"
        )
        return chunk

    def __call__(self, model: nn.Module, flat: Tensor) -> Tensor:
        n = flat.shape[0]
        if self.memory_budget is not None and self.chunk is None:
            self.chunk = self._budget_chunk(model, flat)
        chunk = min(n, self.max_views or n, self.chunk or n)
        while True:
            try:
                outputs = []
                for x in flat.split(chunk):
                    self.calls += 1
                    outputs.append(model(x))
                return torch.cat(outputs)  # (B*V, K)
            except torch.cuda.OutOfMemoryError:
                if chunk == 1:
                    raise
                outputs = []
                torch.cuda.empty_cache()
                chunk = max(1, chunk // 2)
                self.chunk = chunk
                self.log(f"views: out of memory; running {chunk} view(s) at once from now on")
