"""An exported ``.onnx`` recognizer run by onnxruntime, usable where a PyTorch model is.

`OnnxRecognizer` takes clips ``(N, C, T, H, W)`` and returns logits ``(N, K)`` as a torch
tensor, and averages views as the config's head does, so `inference_recognizer`, the batched
inference and the sliding window run the same pipeline through either backend.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from vidlab.models.recognizer import _merge


class OnnxRecognizer:
    """A recognizer exported by `vidlab.export.export_onnx`, run on the CPU by onnxruntime.

    Args:
        path: The ``.onnx`` file (input ``clips``, output ``logits``).
        cfg: The config it was exported from (its test pipeline and ``average_clips``).
        providers: onnxruntime execution providers (default: CPU).
        threads: onnxruntime intra-op threads (0: its default).
    """

    def __init__(self, path, cfg, providers=("CPUExecutionProvider",), threads: int = 0):
        from vidlab.export import _require

        ort = _require("onnxruntime", "Running an ONNX model (--backend onnxruntime)")
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"{self.path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(self.path, options, providers=list(providers))
        (inp,) = self.session.get_inputs()
        self.input_name = inp.name
        # Dimensions fixed at export (all but a dynamic batch); None where symbolic.
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inp.shape)
        self.cfg = cfg
        head = cfg.get("model", {}).get("cls_head") or {}
        test_cfg = cfg.get("model", {}).get("test_cfg") or {}
        # The head's argument wins over test_cfg (MMAction2 0.x), as in BaseRecognizer.
        self.average_clips = head.get("average_clips") or test_cfg.get("average_clips")
        self.device = torch.device("cpu")

    def eval(self):
        return self

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        """Clips ``(N, C, T, H, W)`` (uint8 or float pixels) -> logits ``(N, K)``."""
        shape = tuple(clips.shape)
        fixed = self.input_shape
        if len(fixed) != len(shape) or any(
            f is not None and f != s for f, s in zip(fixed[1:], shape[1:])
        ):
            want = ("N",) + tuple("?" if f is None else f for f in fixed[1:])
            raise ValueError(
                f"{self.path} was exported for clips of shape {want}; the test pipeline makes "
                f"{shape}. Export again with the config's pipeline (vidlab export CONFIG CKPT) "
                "or --shape matching these clips"
            )
        array = np.ascontiguousarray(clips.detach().cpu().float().numpy())
        (logits,) = self.session.run(None, {self.input_name: array})
        return torch.from_numpy(logits)

    def average_views(self, logits: torch.Tensor, num_views: int) -> torch.Tensor:
        """``(B*V, K)`` -> ``(B, K)`` per the config's ``average_clips``, as the model does."""
        return _merge(logits.reshape(-1, num_views, logits.shape[-1]), self.average_clips)
