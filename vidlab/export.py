"""ONNX export of a recognizer, checked against PyTorch with onnxruntime.

The exported graph takes raw pixel values ``clips`` (float32 ``(N, C, T, H, W)``, 0..255) and
returns ``logits`` ``(N, K)``: normalization is inside the graph.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import warnings
from collections.abc import Sequence

import torch
import torch.nn as nn

_INSTALL_HINT = "pip install 'vidlab[onnx]'  (installs onnx and onnxruntime)"

# Operator types that TensorRT's ONNX parser builds: the "Y" rows of onnx-tensorrt's
# docs/operators.md at its 10.1-GA release (commit 96e781103cfc4adf4a6bb557e94bac8e693f6f4c,
# TensorRT 10.1, opsets 9 to 20), compared op by op. Ops absent here (Det, Unique, the sequence
# and Optional ops, integer convolutions, STFT, AffineGrid, the window functions, losses, ...)
# make `trtexec --onnx` fail, the FAQ's "ONNX to TensorRT fails". The restrictions column of
# that table is checked where the graph shows it (`_trt_restriction`); type limits (e.g. UINT8
# only at the graph's edges, DOUBLE cast down to FLOAT) are left to the parser.
TENSORRT_OPS = frozenset(
    """
    Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool
    BatchNormalization Cast CastLike Ceil Celu Clip Concat Constant
    ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DeformConv DepthToSpace DequantizeLinear
    Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather GatherElements
    GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
    GridSample GroupNormalization HardSigmoid HardSwish Hardmax
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

# The restrictions column, as (input index of `axes`) for ops whose axes "must be an
# initializer" (a Constant node's output counts: the parser folds it into weights).
_CONSTANT_AXES = {
    **{op: 1 for op in ("Squeeze", "Unsqueeze", "CumSum", "ReduceSum")},
    **{f"Reduce{r}": 1 for r in "L1 L2 LogSum LogSumExp Max Mean Min Prod SumSquare".split()},
    "Slice": 3,
    "Pad": 3,
}
_RESIZE_MODES = ("nearest", "linear")
_RESIZE_COORDS = (
    "half_pixel",
    "pytorch_half_pixel",
    "tf_half_pixel_for_nn",
    "asymmetric",
    "align_corners",
)


def _trt_restriction(node, attrs: dict, constants: set, rank) -> str | None:
    """Why TensorRT's parser rejects this node of an allowed op type, or None.

    Args:
        node: An ONNX ``NodeProto``.
        attrs: Its attributes, decoded (``onnx.helper.get_attribute_value``).
        constants: Names of initializers and Constant nodes' outputs.
        rank: ``rank(name) -> int | None`` from shape inference.
    """
    op = node.op_type
    if op in ("MaxPool", "AveragePool", "LpPool"):
        kernel = attrs.get("kernel_shape", [])
        if len(kernel) not in (2, 3):
            return f"{len(kernel)}D pooling: TensorRT pools in 2D or 3D only"
        if any(d != 1 for d in attrs.get("dilations", [])):
            return f"dilations {list(attrs['dilations'])}: TensorRT pools without dilation"
        if op == "MaxPool" and len(node.output) > 1 and node.output[1]:
            return "its Indices output: TensorRT's MaxPool has none"
    if op == "Resize":
        mode = _text(attrs.get("mode", "nearest"))
        coords = _text(attrs.get("coordinate_transformation_mode", "half_pixel"))
        if mode not in _RESIZE_MODES:
            return f"mode {mode!r}: TensorRT resizes by 'nearest' or 'linear' only"
        if coords not in _RESIZE_COORDS:
            return f"coordinate_transformation_mode {coords!r}: not one of {_RESIZE_COORDS}"
        if attrs.get("antialias", 0):
            return "antialias: TensorRT's Resize has none"
        if _text(attrs.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
            return "keep_aspect_ratio_policy other than 'stretch'"
    if op == "GridSample" and rank(node.input[0]) not in (None, 4):
        return f"a {rank(node.input[0])}D input: TensorRT samples 4D inputs only"
    if op == "DeformConv" and rank(node.input[0]) not in (None, 3, 4):
        return "3D deformable convolution: TensorRT has 1D and 2D only"
    if op == "LayerNormalization" and any(node.output[1:]):
        return "its Mean/InvStdDev outputs: TensorRT gives only Y"
    if op == "TopK" and attrs.get("sorted", 1) != 1:
        return "sorted=0: TensorRT's TopK is always sorted"
    if op == "ScatterND" and _text(attrs.get("reduction", "none")) != "none":
        return f"reduction {_text(attrs['reduction'])!r}: TensorRT's ScatterND has none"
    if op == "LSTM" and (attrs.get("input_forget", 0) or attrs.get("layout", 0)):
        return "input_forget or layout other than 0"
    if op == "Constant" and {"sparse_value", "value_string", "value_strings"} & attrs.keys():
        return "a sparse or string value"
    index = _CONSTANT_AXES.get(op)
    if index is not None and len(node.input) > index and node.input[index]:
        if node.input[index] not in constants:
            return "axes computed in the graph: TensorRT needs them constant"
    return None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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


def check_onnx_ops(
    model_or_path,
    allowed=TENSORRT_OPS,
    what: str = "TensorRT's ONNX parser",
    restrictions: bool = True,
):
    """Raise if the graph uses an op type outside `allowed`; return the sorted op types used.

    Args:
        model_or_path: An ``.onnx`` file or a loaded ``onnx.ModelProto``.
        allowed: The op types allowed (default: those TensorRT's ONNX parser supports); None
            lists the op types without checking them.
        what: What the allow-list stands for, for the message.
        restrictions: Also check TensorRT's restrictions on the attributes and inputs of the
            ops it supports (`_trt_restriction`: e.g. a bicubic ``Resize``, 1D pooling, a 5D
            ``GridSample``, axes computed in the graph).

    Raises:
        UnsupportedOpError: Each op type outside the list, or used as TensorRT cannot (named
            with the reason), with the modules that emit it.
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
    bad: dict[str, list[str]] = {}  # op (and why) -> modules
    if allowed is not None:
        rank = _ranks(onnx, graph) if any(n.op_type in _NEEDS_RANK for n in nodes) else None
        constants = {t.name for t in graph.initializer}
        constants |= {o for n in nodes if n.op_type == "Constant" for o in n.output}
        for node in nodes:
            key = node.op_type
            if node.op_type in allowed and node.domain in ("", "ai.onnx"):
                if not restrictions or node.op_type not in TENSORRT_OPS:
                    continue
                attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
                reason = _trt_restriction(node, attrs, constants, rank or (lambda name: None))
                if reason is None:
                    continue
                key = f"{node.op_type} ({reason})"
            where = bad.setdefault(key, [])
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


_NEEDS_RANK = ("GridSample", "DeformConv")


def _ranks(onnx, graph):
    """``rank(name)`` of the graph's tensors by ONNX shape inference (None where unknown)."""
    model = onnx.helper.make_model(graph)
    try:
        inferred = onnx.shape_inference.infer_shapes(model).graph
    except Exception:  # noqa: BLE001 - shape inference is a best effort here
        return lambda name: None
    ranks = {
        v.name: len(v.type.tensor_type.shape.dim)
        for v in [*inferred.input, *inferred.value_info, *inferred.output]
        if v.type.tensor_type.HasField("shape")
    }
    return ranks.get


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


def _folded_depthwise_forward(self: nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """A depthwise ``Conv3d`` as one depthwise ``Conv2d`` per temporal tap over the ``C*T``
    channels of the clip folded by a free reshape, summed. Same result; onnxruntime's CPU Conv
    has no depthwise 3D kernel and runs this form 1.3x (54 ch at 56 px) to 9.5x (432 ch at
    4 px) faster (X3D-M at 112 px went from 1.28x eager's time to below it)."""
    # C, T, H, W as constants of the graph (only the batch is dynamic), so the folded
    # kernel's shape is known to the exporter
    c, t, h, w = (int(size) for size in x.shape[1:])
    kt = self.kernel_size[0]
    pt, ph, pw = self.padding
    x = torch.nn.functional.pad(x, (0, 0, 0, 0, pt, pt))  # (N, C, T + 2pt, H, W)
    t_out = t + 2 * pt - kt + 1
    out = None
    for dt in range(kt):
        tap = x[:, :, dt : dt + t_out].reshape(-1, c * t_out, h, w)  # (N, C*T', H, W)
        weight = self.weight[:, :, dt].repeat_interleave(t_out, dim=0)  # (C*T', 1, kh, kw)
        y = torch.nn.functional.conv2d(
            tap, weight, stride=self.stride[1:], padding=(ph, pw), groups=c * t_out
        )
        out = y if out is None else out + y
    out = out.view(-1, c, t_out, *out.shape[-2:])  # (N, C, T', H', W')
    return out if self.bias is None else out + self.bias.view(1, c, 1, 1, 1)


@contextlib.contextmanager
def _onnx_friendly(model: nn.Module):
    """While exporting, run depthwise 3D convs (X3D, CSN) as folded 2D ones
    (`_folded_depthwise_forward`); the model is unchanged afterwards."""
    patched = []
    for module in model.modules():
        if (
            type(module) is nn.Conv3d
            and module.groups == module.in_channels == module.out_channels > 1
            and module.stride[0] == 1
            and module.dilation == (1, 1, 1)
            and module.padding_mode == "zeros"
            and isinstance(module.padding, tuple)
        ):
            module.forward = _folded_depthwise_forward.__get__(module)
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


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
        with torch.no_grad(), warnings.catch_warnings(), _onnx_friendly(model):
            warnings.simplefilter("ignore")  # tracer and deprecation chatter, not user-actionable
            torch.onnx.export(model, (clips.to(device),), path, **kwargs)

        result = dict(path=path, max_abs_diff=None, max_rel_diff=None)
        try:
            result["ops"] = check_onnx_ops(path, allowed=TENSORRT_OPS if check_ops else None)
        except UnsupportedOpError as err:  # the file stays: onnxruntime and others can run it
            raise UnsupportedOpError(
                f"{path} was written and onnxruntime can run it, but for TensorRT {err}"
            ) from None
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
