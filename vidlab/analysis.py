"""Model analysis: parameters and FLOPs per top-level module (``vidlab analyze-model``).

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` and reported in the
convention of MMAction2's ``tools/analysis_tools/get_flops.py`` (MMEngine's counter, fvcore's
rules), so that they compare with the FLOPs of MMAction2's model zoo:

- a multiply-add counts once (convolutions, linear layers, matmuls, attention; torch's counter
  counts it twice, so its numbers are halved);
- eval-mode batch norm counts 2 per element (1 without affine), layer/group norm 5 (4),
  ``adaptive_avg_pool2d`` 1 per input element, nearest/bilinear upsampling 1/4 per output
  element; other element-wise ops (activations, additions, pooling) count nothing.

The model runs on the ``meta`` device where it can (shapes only: instant and no memory, even
for a 25-view ResNet-50), else on the CPU.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from math import prod

import torch
from torch import nn

__all__ = ["analyze_model", "count_flops", "format_analysis", "throughput"]

_aten = torch.ops.aten


def _numel(shape) -> int:
    return prod(shape) if shape is not None else 0


def _bn(x_shape, weight_shape=None, *args, out_shape=None, **kwargs) -> int:
    return 2 * _numel(x_shape) * (2 if weight_shape is not None else 1)


def _layer_norm(x_shape, normalized_shape, weight_shape=None, *args, out_shape=None, **kw) -> int:
    return 2 * _numel(x_shape) * (5 if weight_shape is not None else 4)


def _group_norm(x_shape, weight_shape=None, *args, out_shape=None, **kwargs) -> int:
    return 2 * _numel(x_shape) * (5 if weight_shape is not None else 4)


def _per_input(x_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * _numel(x_shape)


def _per_output(scale: int):
    def count(*args, out_shape=None, **kwargs) -> int:
        return 2 * scale * _numel(out_shape)

    return count


def _extra_formulas() -> dict:
    """MMEngine's extra op rules, doubled (torch's unit), keyed by packet and overloads (an
    overload missing from the table would be decomposed into uncounted ops first)."""
    rules = {
        "native_batch_norm": _bn,
        "_native_batch_norm_legit_no_training": _bn,
        "_native_batch_norm_legit": _bn,
        "cudnn_batch_norm": _bn,
        "native_layer_norm": _layer_norm,
        "native_group_norm": _group_norm,
        "_adaptive_avg_pool2d": _per_input,
        "upsample_nearest2d": _per_output(1),
        "upsample_bilinear2d": _per_output(4),
        "grid_sampler_2d": _per_output(4),
    }
    table = {}
    for name, fn in rules.items():
        packet = getattr(_aten, name, None)
        if packet is None:
            continue
        table[packet] = fn
        for overload in packet.overloads():
            table[getattr(packet, overload)] = fn
    return table


def count_flops(model: nn.Module, clips: torch.Tensor) -> dict[str, float]:
    """FLOPs (MMAction2's convention, see the module doc) of ``model(clips)``, per module path:
    ``""`` is the whole model, ``"backbone"``, ``"backbone.layer1"``, ... its parts."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, depth=None, custom_mapping=_extra_formulas())
    with torch.no_grad(), counter:
        model(clips)
    out = {}
    root = type(model).__name__
    for name, ops in counter.get_flop_counts().items():
        if name == "Global":
            key = ""
        elif name == root:
            continue
        else:
            key = name[len(root) + 1 :] if name.startswith(root + ".") else name
        out[key] = sum(ops.values()) / 2
    return out


def _top_level_params(model: nn.Module) -> dict[str, int]:
    params = {
        name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()
    }
    return {k: v for k, v in params.items() if v}


def analyze_model(
    model: nn.Module, clips_shape: Sequence[int], device: str | torch.device = "meta"
) -> dict:
    """Parameters and FLOPs of ``model`` on one input of ``clips_shape``.

    Args:
        model: a recognizer (``forward(clips) -> logits``), or any module.
        clips_shape: ``(N, C, T, H, W)`` of the input (audio: ``(N, C, T, F)``).
        device: ``'meta'`` (shapes only; falls back to the CPU where an op has no meta kernel).

    Returns:
        ``{"shape", "params", "flops", "modules": [(name, params, flops)], "device"}``;
        ``modules`` are the top-level children (``data_preprocessor``, ``backbone``, ``neck``,
        ``cls_head``), FLOPs of the whole forward (the head included; MMAction2's
        ``get_flops.py`` counts ``extract_feat``, without the head: ``flops - cls_head``).
    """
    model = model.eval()
    params = _top_level_params(model)
    total_params = sum(p.numel() for p in model.parameters())
    used = str(device)
    try:
        m = model.to(device) if used == "meta" else model
        flops = count_flops(m, torch.zeros(tuple(clips_shape), device=device))
    except (NotImplementedError, RuntimeError):
        if used != "meta":
            raise
        used = "cpu"  # an op without a meta kernel: count on the CPU (the weights are lost
        model = model.to_empty(device="cpu")  # on meta; FLOPs do not depend on their values)
        flops = count_flops(model, torch.zeros(tuple(clips_shape)))
    names = list(dict.fromkeys([*params, *(k for k in flops if k and "." not in k)]))
    modules = [(name, params.get(name, 0), flops.get(name, 0.0)) for name in names]
    return {
        "shape": tuple(clips_shape),
        "params": total_params,
        "flops": flops.get("", 0.0),
        "modules": modules,
        "device": used,
    }


def _si(value: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3f}{unit}"
    return f"{value:.0f}"


def format_analysis(result: dict) -> str:
    """A table of :func:`analyze_model`'s result."""
    rows = [("module", "params", "FLOPs")]
    rows += [(name, f"{p:,}", _si(f)) for name, p, f in result["modules"]]
    rows.append(("total", f"{result['params']:,}", _si(result["flops"])))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"input clips {result['shape']}"]
    for i, r in enumerate(rows):
        lines.append(f"  {r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}")
        if i == 0 or i == len(rows) - 2:
            lines.append("  " + "-" * (sum(widths) + 4))
    head = next((f for n, _, f in result["modules"] if n == "cls_head"), 0.0)
    lines.append(
        f"FLOPs: one multiply-add counts once (MMAction2's get_flops.py); "
        f"without the head (its extract_feat): {_si(result['flops'] - head)}"
    )
    return "\n".join(lines)


def throughput(fn, warmup: int = 2, iters: int = 10, sync=None) -> float:
    """Calls per second of ``fn()`` after ``warmup`` calls (``sync``: e.g. CUDA synchronize)."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    if sync:
        sync()
    return iters / (time.perf_counter() - start)
