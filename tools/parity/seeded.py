"""Deterministic weights for parity fixtures, regenerated rather than stored.

A fixture records the model's keys and shapes, the seed and a SHA-256 of the weights; the
MMAction2 side (``make_fixtures.py``) and vidlab's test both call :func:`seeded_state_dict`, so
full-size models need only a few kilobytes of fixture. The hash catches a change of torch's
CPU random generator: the test then says to regenerate the fixtures.

Plain torch only: this file runs in MMAction2's reference environment and in vidlab's tests.
"""

from __future__ import annotations

import hashlib
import math

import torch


def seeded_state_dict(
    spec: dict[str, tuple[tuple[int, ...], str]], seed: int, scale: dict[str, float] | None = None
) -> dict:
    """Weights for ``spec`` (key -> (shape, dtype name)) drawn in sorted key order.

    Conv and linear weights are He-normal, norm weights ``1 + 0.2 n``, biases and running
    means ``0.1 n``, running variances uniform in [0.5, 1.5], counters zero: BatchNorm in eval
    mode then does real work. ``scale`` multiplies named tensors afterwards (the classifier, so
    that softmax scores are not saturated).
    """
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key in sorted(spec):
        shape, dtype = spec[key]
        dtype = getattr(torch, dtype)
        if not dtype.is_floating_point:
            out[key] = torch.zeros(shape, dtype=dtype)
            continue
        n = torch.randn(shape, generator=gen, dtype=torch.float32)
        if key.endswith("running_var"):
            value = 0.5 + torch.rand(shape, generator=gen)
        elif len(shape) >= 2:
            value = n * math.sqrt(2.0 / math.prod(shape[1:]))
        elif key.endswith("weight"):
            value = 1 + 0.2 * n
        else:
            value = 0.1 * n
        out[key] = value.to(dtype)
    for key, factor in (scale or {}).items():
        out[key] = out[key] * factor
    return out


def digest(state: dict) -> str:
    """SHA-256 over the tensors' bytes in sorted key order."""
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].contiguous().numpy().tobytes())
    return h.hexdigest()


def spec_of(state: dict) -> dict[str, tuple[tuple[int, ...], str]]:
    """key -> (shape, dtype name) of a state dict."""
    return {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()}
