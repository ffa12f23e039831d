"""ONNX export of a recognizer, checked against PyTorch with onnxruntime.

The exported graph takes raw pixel values ``clips`` (float32 ``(N, C, T, H, W)``, 0..255) and
returns ``logits`` ``(N, K)``: normalization is inside the graph.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Sequence

import torch
import torch.nn as nn

_INSTALL_HINT = "pip install 'vidlab[onnx]'  (installs onnx and onnxruntime)"

# Operator types that TensorRT's ONNX parser builds (onnx-tensorrt's docs/operators.md, TensorRT
# 10). Ops absent here (Det, Unique, the sequence and Optional ops, integer convolutions, STFT,
# losses, ...) make `trtexec --onnx` fail, the FAQ's "ONNX to TensorRT fails". Some listed ops
# have limits on types or attributes that only the parser itself can check.
TENSORRT_OPS = frozenset(
    """
    Abs Acos Acosh Add AffineGrid And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool
    BatchNormalization BlackmanWindow Cast CastLike Ceil Celu Clip Concat Constant
    ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DeformConv DepthToSpace DequantizeLinear
    Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather GatherElements
    GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
    GridSample GroupNormalization HammingWindow HannWindow HardSigmoid HardSwish Hardmax
    Identity If ImageScaler InstanceNormalization IsInf IsNaN LRN LSTM LayerNormalization
    LeakyRelu Less LessOrEqual Log LogSoftmax Loop LpNormalization LpPool MatMul Max MaxPool
    Mean MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or
    PRelu Pad ParametricSoftplus Pow QuantizeLinear RNN RandomNormal RandomNormalLike
    RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum
    ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu
    Reshape Resize ReverseSequence RoiAlign Round ScaledTanh Scan Scatter ScatterElements
    ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign
    SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Trilu
    Unsqueeze Upsample Where Xor
    """.split()
)


class UnsupportedOpError(RuntimeError):
    """The exported graph uses an operator outside an allow-list (`TENSORRT_OPS` by default)."""


def module_of(node_name: str) -> str:
    """The PyTorch module a node of a TorchScript-exported graph came from.

    The exporter names nodes by scope, ``/backbone/layer1/layer1.0/conv1/Conv``; each scope
    repeats its parent's qualified name, so this gives ``backbone.layer1.0.conv1`` (the model
    itself for an unscoped node: ``<model>``).
    """
    parts: list[str] = []
    for part in node_name.strip("/").split("/")[:-1]:
        if parts and part.startswith(parts[-1] + "."):
            parts[-1] = part
        else:
            parts.append(part)
    return ".".join(parts) or "<model>"


def check_onnx_ops(model_or_path, allowed=TENSORRT_OPS, what: str = "TensorRT's ONNX parser"):
    """Raise if the graph uses an op type outside `allowed`; return the sorted op types used.

    Args:
        model_or_path: An ``.onnx`` file or a loaded ``onnx.ModelProto``.
        allowed: The op types allowed (default: those TensorRT's ONNX parser supports); None
            lists the op types without checking them.
        what: What the allow-list stands for, for the message.

    Raises:
        UnsupportedOpError: Each op type outside the list, with the modules that emit it.
    """
    onnx = _require("onnx", "Checking an ONNX graph")
    graph = (
        onnx.load(os.fspath(model_or_path), load_external_data=False)
        if isinstance(model_or_path, (str, os.PathLike))
        else model_or_path
    ).graph
    nodes = list(graph.node)
    for node in graph.node:  # If/Loop/Scan bodies are graphs too
        for attr in node.attribute:
            for sub in [attr.g, *attr.graphs]:
                nodes.extend(sub.node)
    bad: dict[str, list[str]] = {}
    for node in nodes:
        if allowed is None:
            continue
        if node.op_type not in allowed or node.domain not in ("", "ai.onnx"):
            where = bad.setdefault(node.op_type, [])
            if module_of(node.name) not in where:
                where.append(module_of(node.name))
    if bad:
        lines = [
            f"{op} in {', '.join(mods[:5])}{' ...' if len(mods) > 5 else ''}"
            for op, mods in sorted(bad.items())
        ]
        raise UnsupportedOpError(
            f"the ONNX graph uses {len(bad)} op type(s) that {what} does not support: "
            + "; ".join(lines)
            + ". Rewrite that module with supported ops, try another opset, or pass "
            "check_ops=False (vidlab export --no-check-ops) if you will not use TensorRT."
        )
    return sorted({n.op_type for n in nodes})


def _require(module: str, why: str):
    try:
        return __import__(module)
    except ImportError as e:
        raise ImportError(f"{why} needs the '{module}' package: {_INSTALL_HINT}") from e


def clips_shape_of(cfg) -> tuple[int, ...]:
    """The ``(1, C, T, H, W)`` input of one view as the config's test pipeline makes it.

    Audio pipelines (``FormatAudioShape``) give ``(1, 1, T, F)``: T is
    ``AudioFeatureSelector``'s ``fixed_length`` (128), F the 80 mel bins of MMAction2's
    features (``vidlab data audio-features``).

    T comes from the sampling step (``clip_len * num_clips`` for the 2D ``NCHW`` format, whose
    frames the model folds into the batch; ``clip_len`` for ``NCTHW``), H and W from the last
    crop (``crop_size``) or a fixed-size ``Resize``; C is 2 for flow, else 3. Steps the config
    does not have keep 8 frames and 224 pixels.
    """
    from vidlab.inference import _test_pipeline

    try:
        pipeline = _test_pipeline(cfg)
    except KeyError:
        pipeline = []
    clip_len, num_clips, size, fmt, channels = 8, 1, (224, 224), "NCHW", 3
    audio_frames = 128
    for step in pipeline:
        if not isinstance(step, dict):
            continue
        name = str(step.get("type", "")).split(".")[-1].split(":")[-1]
        if "clip_len" in step and ("Sample" in name):
            clip_len = int(step.get("clip_len") or 1)
            num_clips = int(step.get("num_clips", 1) or 1)
        crop = step.get("crop_size")
        if crop is not None and name.endswith("Crop"):
            size = (crop, crop) if isinstance(crop, int) else (int(crop[1]), int(crop[0]))
        if name == "Resize" and step.get("keep_ratio") is False:
            scale = step.get("scale")
            if isinstance(scale, (list, tuple)) and len(scale) == 2 and min(scale) > 0:
                size = (int(scale[1]), int(scale[0]))  # MMAction2's scale is (w, h)
        if name == "FormatShape":
            fmt = step.get("input_format", fmt)
        if name == "AudioFeatureSelector":
            audio_frames = int(step.get("fixed_length", audio_frames))
        if name == "FormatAudioShape":
            return (1, 1, audio_frames, 80)
        if step.get("modality") == "Flow":
            channels = 2
    frames = clip_len * num_clips if fmt == "NCHW" else clip_len
    return (1, channels, frames, size[0], size[1])


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    clips_shape: Sequence[int] = (1, 3, 8, 224, 224),
    opset: int = 17,
    dynamic_batch: bool = True,
    verify: bool = True,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    check_ops: bool = True,
) -> dict:
    """Export ``model`` to ONNX at ``path`` and check it numerically.

    Args:
        model: A recognizer (``forward(clips) -> logits``); exported in eval mode.
        path: Output ``.onnx`` file.
        clips_shape: ``(N, C, T, H, W)`` of the example input; T must suit the model (e.g. a
            multiple of a TSM model's ``num_segments``). Audio models: ``(N, C, T, F)``.
        opset: ONNX opset version.
        dynamic_batch: Make the batch axis of ``clips`` and ``logits`` dynamic.
        verify: Run the file with onnxruntime on a new random input (with another batch size
            when ``dynamic_batch``) and compare with PyTorch.
        rtol: Relative tolerance of the check.
        atol: Absolute tolerance of the check.
        check_ops: Fail when the graph uses an op that TensorRT's ONNX parser does not support
            (`check_onnx_ops`); the op types used are in the result either way.

    Returns:
        ``dict(path=..., max_abs_diff=..., max_rel_diff=..., ops=[...])``: the diffs are None
        without ``verify``; ``max_rel_diff`` is ``max_abs_diff / max |PyTorch logits|``.

    Raises:
        ImportError: onnx (or, with ``verify``, onnxruntime) is not installed.
        RuntimeError: onnxruntime's logits differ from PyTorch's beyond the tolerances.
        UnsupportedOpError: With ``check_ops``, an op outside `TENSORRT_OPS` (named with the
            modules that emit it).
    """
    _require("onnx", "ONNX export")
    if verify:
        ort = _require("onnxruntime", "Checking the exported model (verify=True)")
    path = os.fspath(path)
    if len(clips_shape) not in (4, 5):
        raise ValueError(
            f"clips_shape must be (N, C, T, H, W) (audio features: (N, C, T, F)), got "
            f"{tuple(clips_shape)}"
        )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        gen = torch.Generator().manual_seed(0)
        clips = torch.rand(tuple(clips_shape), generator=gen) * 255
        kwargs = dict(
            input_names=["clips"],
            output_names=["logits"],
            opset_version=opset,
            dynamic_axes={"clips": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None,
        )
        # The TorchScript exporter needs no onnxscript; newer torch defaults to the dynamo one.
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            kwargs["dynamo"] = False
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation chatter, not user-actionable
            torch.onnx.export(model, (clips.to(device),), path, **kwargs)

        result = dict(path=path, max_abs_diff=None, max_rel_diff=None)
        result["ops"] = check_onnx_ops(path, allowed=TENSORRT_OPS if check_ops else None)
        if not verify:
            return result
        check_shape = (
            (clips_shape[0] + 1,) + tuple(clips_shape[1:]) if dynamic_batch else clips_shape
        )
        check = torch.rand(tuple(check_shape), generator=gen) * 255
        with torch.no_grad():
            expected = model(check.to(device)).float().cpu().numpy()
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        (actual,) = session.run(["logits"], {"clips": check.numpy()})
    finally:
        model.train(was_training)

    import numpy as np

    if actual.shape != expected.shape:
        raise RuntimeError(
            f"ONNX parity check failed for {path}: onnxruntime gave logits of shape "
            f"{actual.shape}, PyTorch {expected.shape} (input {tuple(check_shape)})"
        )
    max_abs_diff = float(np.abs(actual - expected).max())
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        raise RuntimeError(
            f"ONNX parity check failed for {path}: max |onnxruntime - PyTorch| = "
            f"{max_abs_diff:.3e} on input {tuple(check_shape)} (rtol={rtol}, atol={atol}). "
            "An op may export differently; try another opset or report the model."
        )
    result["max_abs_diff"] = max_abs_diff
    result["max_rel_diff"] = max_abs_diff / max(float(np.abs(expected).max()), 1e-12)
    return result
