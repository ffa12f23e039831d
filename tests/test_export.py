import builtins

import pytest
import torch
import torch.nn as nn

from vidlab.export import export_onnx


class TinyRecognizer(nn.Module):
    """clips (N, C, T, H, W) -> logits (N, 3); optionally lies while being traced."""

    def __init__(self, lie_when_traced: bool = False):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.lie_when_traced = lie_when_traced

    def forward(self, clips):
        logits = self.fc(clips.float().mean(dim=(2, 3, 4)) / 255)
        if self.lie_when_traced and torch.jit.is_tracing():
            logits = logits + 1.0
        return logits


def test_export_with_dynamic_batch(tmp_path):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    path = tmp_path / "tiny.onnx"
    result = export_onnx(TinyRecognizer(), path, clips_shape=(1, 3, 2, 4, 4))
    assert result["path"] == str(path) and result["max_abs_diff"] < 1e-5
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["clips"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    (out,) = session.run(None, {"clips": torch.rand(4, 3, 2, 4, 4).numpy() * 255})
    assert out.shape == (4, 3)


def test_export_with_static_batch(tmp_path):
    """`--static-batch` (docs/faq.md, deployment): the batch axis is fixed at the example's."""
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "static.onnx"
    export_onnx(TinyRecognizer(), path, clips_shape=(2, 3, 2, 4, 4), dynamic_batch=False)
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [2, 3, 2, 4, 4] and not dims[0].dim_param
    export_onnx(TinyRecognizer(), path, clips_shape=(2, 3, 2, 4, 4))
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 2, 4, 4]


def test_export_without_verify(tmp_path):
    pytest.importorskip("onnx")
    result = export_onnx(
        TinyRecognizer(), tmp_path / "a.onnx", clips_shape=(1, 3, 2, 4, 4), verify=False
    )
    assert result["max_abs_diff"] is None


def test_parity_failure_is_reported(tmp_path):
    pytest.importorskip("onnxruntime")
    with pytest.raises(RuntimeError, match=r"parity check failed.*max \|onnxruntime - PyTorch\|"):
        export_onnx(
            TinyRecognizer(lie_when_traced=True), tmp_path / "b.onnx", clips_shape=(1, 3, 2, 4, 4)
        )


def test_missing_onnxruntime_says_what_to_install(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'vidlab\[onnx\]'"):
        export_onnx(TinyRecognizer(), tmp_path / "c.onnx", clips_shape=(1, 3, 2, 4, 4))


def test_default_export_shape_comes_from_the_test_pipeline():
    from pathlib import Path

    import vidlab
    from vidlab.config import load_config
    from vidlab.export import clips_shape_of

    cfg = load_config(
        Path(vidlab.__file__).parent / "configs/quickstart/tsm_r18_synthetic_motion.py"
    )
    assert clips_shape_of(cfg) == (1, 3, 8, 32, 32)  # 8 segments of 1 frame, 32 px crops
    cfg.test_dataloader.dataset.pipeline = [
        dict(type="SampleFrames", clip_len=16, num_clips=1),
        dict(type="ThreeCrop", crop_size=(160, 128)),
        dict(type="FormatShape", input_format="NCTHW"),
    ]
    assert clips_shape_of(cfg) == (1, 3, 16, 128, 160)


class _DetHead(nn.Module):
    def forward(self, x):
        return torch.linalg.det(x)  # ONNX Det: TensorRT's parser has no Det


class DetRecognizer(nn.Module):
    """clips (N, C, T, H, W) -> (N, 1), through an op outside TensorRT's list in `head.det`."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.head = nn.Sequential()
        self.head.add_module("det", _DetHead())

    def forward(self, clips):
        x = self.fc(clips.float().mean(dim=(2, 3, 4)) / 255)  # (N, 4)
        return self.head(x.reshape(-1, 2, 2)).unsqueeze(1)  # (N, 1)


def test_tensorrt_op_check_names_the_op_and_its_module(tmp_path):
    pytest.importorskip("onnxruntime")
    from vidlab.export import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match=r"1 op type\(s\).*Det in head\.det") as err:
        export_onnx(DetRecognizer(), tmp_path / "det.onnx", clips_shape=(1, 3, 2, 4, 4))
    # the file is kept, and the message says so: onnxruntime can still run it
    assert "det.onnx was written" in str(err.value) and (tmp_path / "det.onnx").is_file()
    result = export_onnx(
        DetRecognizer(), tmp_path / "det.onnx", clips_shape=(1, 3, 2, 4, 4), check_ops=False
    )
    assert "Det" in result["ops"] and result["max_rel_diff"] < 1e-5


def test_op_check_on_a_graph_and_the_module_of_a_node():
    onnx = pytest.importorskip("onnx")
    from onnx import helper

    from vidlab.export import TENSORRT_OPS, UnsupportedOpError, check_onnx_ops, module_of

    assert module_of("/backbone/layer1/layer1.0/conv1/Conv") == "backbone.layer1.0.conv1"
    assert module_of("Identity_3") == "<model>"
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="/backbone/relu/Relu"),
        helper.make_node("Unique", ["a"], ["b"], name="/cls_head/Unique"),
        helper.make_node("Unique", ["b"], ["y"], name="/cls_head/fc/Unique"),
    ]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes, "g", [vi("x", onnx.TensorProto.FLOAT, [2])], [vi("y", onnx.TensorProto.FLOAT, [2])]
    )
    model = helper.make_model(graph)
    with pytest.raises(UnsupportedOpError, match=r"Unique in cls_head, cls_head\.fc\."):
        check_onnx_ops(model)
    assert check_onnx_ops(model, allowed=None) == ["Relu", "Unique"]
    assert check_onnx_ops(model, allowed=TENSORRT_OPS | {"Unique"}) == ["Relu", "Unique"]
    assert {"Conv", "BatchNormalization", "Gemm", "Softmax", "LayerNormalization"} <= TENSORRT_OPS


class _Restricted(nn.Module):
    """clips -> logits through an op TensorRT supports but not as used here (`kind`)."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.pool = nn.MaxPool1d(2)
        self.fc = nn.Linear(3, 2)

    def forward(self, clips):
        x = clips.float().mean(dim=2) / 255  # (N, C, H, W)
        if self.kind == "bicubic":  # as a ViT's position table resized to another grid
            x = nn.functional.interpolate(x, scale_factor=2.0, mode="bicubic")
        elif self.kind == "pool1d":
            x = self.pool(x.flatten(2)).unsqueeze(-1)  # (N, C, H*W/2, 1)
        return self.fc(x.mean(dim=(2, 3)))


@pytest.mark.parametrize(
    "kind, message",
    [
        ("bicubic", r"Resize \(mode 'cubic': TensorRT resizes by 'nearest' or 'linear' only\) in"),
        ("pool1d", r"MaxPool \(1D pooling: TensorRT pools in 2D or 3D only\) in pool"),
        ("none", None),
    ],
)
def test_tensorrt_restrictions_of_allowed_ops(kind, message, tmp_path):
    """TensorRT 10.1's parser takes Resize and MaxPool, but not with these attributes:
    the check names the op, the reason and the module (and passes the plain graph)."""
    pytest.importorskip("onnxruntime")
    from vidlab.export import UnsupportedOpError, check_onnx_ops

    path = tmp_path / f"{kind}.onnx"
    result = export_onnx(_Restricted(kind), path, clips_shape=(1, 3, 2, 8, 8), check_ops=False)
    assert result["max_rel_diff"] < 1e-5
    if message is None:
        check_onnx_ops(path)
        return
    with pytest.raises(UnsupportedOpError, match=message):
        check_onnx_ops(path)
    check_onnx_ops(path, restrictions=False)  # the op types alone are all allowed


def test_tensorrt_list_is_onnx_tensorrt_10_1():
    """The list is the "Y" rows of onnx-tensorrt's docs/operators.md at 10.1-GA (150 ops);
    rows marked "N" there, once listed here by mistake, stay out."""
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from vidlab.export import TENSORRT_OPS, UnsupportedOpError, check_onnx_ops

    assert len(TENSORRT_OPS) == 150
    assert not {"AffineGrid", "BlackmanWindow", "HammingWindow", "HannWindow"} & TENSORRT_OPS
    assert {"Einsum", "GridSample", "Resize", "RoiAlign", "LayerNormalization"} <= TENSORRT_OPS
    vi = helper.make_tensor_value_info

    def check(*nodes, inputs=(("x", [2]),)):
        ins = [vi(name, TensorProto.FLOAT, shape) for name, shape in inputs]
        graph = helper.make_graph(nodes, "g", ins, [vi("y", TensorProto.FLOAT, None)])
        return check_onnx_ops(helper.make_model(graph))

    # Unsqueeze with axes computed in the graph (the restriction "axes must be a constant").
    unsqueeze = helper.make_node("Unsqueeze", ["x", "s"], ["y"], name="/head/Unsqueeze")
    with pytest.raises(
        UnsupportedOpError, match=r"Unsqueeze \(axes computed in the graph.* in head"
    ):
        check(helper.make_node("Shape", ["x"], ["s"], name="/head/Shape"), unsqueeze)
    assert check(helper.make_node("Constant", [], ["s"], value_ints=[0]), unsqueeze) == [
        "Constant",
        "Unsqueeze",
    ]
    # GridSample of a 5D input (opset 20; TensorRT 10.1 samples 4D only): rank by inference.
    grid = helper.make_node("GridSample", ["x", "g"], ["y"], name="/neck/sample/GridSample")
    five = (("x", [1, 2, 3, 4, 5]), ("g", [1, 3, 4, 5, 3]))
    with pytest.raises(UnsupportedOpError, match=r"GridSample \(a 5D input.* in neck\.sample"):
        check(grid, inputs=five)
    assert check(grid, inputs=(("x", [1, 2, 4, 5]), ("g", [1, 4, 5, 2]))) == ["GridSample"]


def test_cli_export_names_a_restricted_op_and_skips_the_check_on_request(tmp_path):
    """``vidlab export`` of a ViT at 32 px (its position table resized bicubically in the
    graph): one error line naming the op, the reason and the module, exit code 2; the file
    exports and checks out with onnxruntime under ``--no-check-ops``."""
    pytest.importorskip("onnxruntime")
    import os
    import subprocess
    import sys

    config = tmp_path / "vit.py"
    config.write_text('model = dict(type="videomae_v2_vit_s_16x4x1", num_classes=5)\n')
    cmd = [sys.executable, "-m", "vidlab.cli.main", "export", str(config), "--shape", "1", "3"]
    cmd += ["4", "32", "32", "--out", str(tmp_path / "v.onnx")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "Resize (mode 'cubic': TensorRT resizes by" in proc.stderr
    assert "in backbone" in proc.stderr and "--no-check-ops" in proc.stderr
    assert "v.onnx was written" in proc.stderr
    proc = subprocess.run([*cmd, "--no-check-ops"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "max |onnxruntime - torch|" in proc.stdout, proc.stderr


class _Depthwise3d(nn.Module):
    """A depthwise 3x3x3 conv (X3D's, with a bias and a spatial stride) and a 5x1x1 one."""

    def __init__(self):
        super().__init__()
        self.dw = nn.Conv3d(6, 6, 3, stride=(1, 2, 2), padding=1, groups=6, bias=True)
        self.dw_t = nn.Conv3d(6, 6, (5, 1, 1), padding=(2, 0, 0), groups=6, bias=False)
        self.stem = nn.Conv3d(3, 6, 1)
        self.fc = nn.Linear(6, 4)

    def forward(self, clips):
        x = self.dw_t(self.dw(self.stem(clips / 255)))  # (N, 6, T, H/2, W/2)
        return self.fc(x.mean(dim=(2, 3, 4)))


def test_depthwise_3d_convs_export_as_folded_2d_convs(tmp_path):
    """onnxruntime has no depthwise 3D kernel, so they export as per-tap depthwise 2D convs:
    same logits (at another batch size too), 2D kernels in the graph, the model untouched."""
    pytest.importorskip("onnxruntime")
    import onnx

    torch.manual_seed(0)
    model = _Depthwise3d()
    result = export_onnx(model, tmp_path / "dw.onnx", clips_shape=(2, 3, 6, 10, 10))
    assert result["max_rel_diff"] < 1e-5
    kernels = [
        next(a.ints for a in node.attribute if a.name == "kernel_shape")
        for node in onnx.load(tmp_path / "dw.onnx").graph.node
        if node.op_type == "Conv"
    ]
    assert sorted(len(k) for k in kernels) == [2] * 8 + [3], kernels  # 3 + 5 taps, the stem
    assert "forward" not in vars(model.dw) and "forward" not in vars(model.dw_t)
