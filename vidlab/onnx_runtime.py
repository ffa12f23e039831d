"""An exported ``.onnx`` recognizer run by onnxruntime, usable where a PyTorch model is.

`OnnxRecognizer` takes clips ``(N, C, T, H, W)`` and returns logits ``(N, K)`` as a torch
tensor, and averages views as the config's head does, so `inference_recognizer`, the batched
inference and the sliding window run the same pipeline through either backend.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from vidlab.models.recognizer import _merge


class OnnxRecognizer(nn.Module):
    """A recognizer exported by `vidlab.export.export_onnx`, run by onnxruntime.

    A module (so that evaluation treats it as a model) without parameters. The graph takes
    float ``clips`` ``(N, C, T, H, W)`` of raw pixels; a fixed batch axis is served in chunks of
    that size (the last one padded); clips of another ``C, T, H, W`` than the graph's are an
    error naming both shapes.

    Args:
        path: The ``.onnx`` file (input ``clips``, output ``logits``).
        like: The config it was exported from (its ``average_clips``), or the model built from
            that config (its ``average_views``, ``num_classes`` and ``test_cfg``).
        providers: onnxruntime execution providers (default: CPU; with ``device='cuda'``, CUDA
            first when onnxruntime has it).
        threads: onnxruntime intra-op threads (0: its default).
        device: ``'cpu'`` or ``'cuda'``.
    """

    def __init__(self, path, like, providers=None, threads: int = 0, device: str = "cpu"):
        super().__init__()
        from vidlab.export import _require

        ort = _require("onnxruntime", "Running an ONNX model (--backend onnxruntime, --onnx)")
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"{self.path}: no such ONNX file")
        if providers is None:
            providers = ["CPUExecutionProvider"]
            if str(device).startswith("cuda") and "CUDAExecutionProvider" in (
                ort.get_available_providers()
            ):
                providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(self.path, options, providers=list(providers))
        (inp,) = self.session.get_inputs()
        self.input_name = inp.name
        # Dimensions fixed at export (all but a dynamic batch); None where symbolic.
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inp.shape)
        self.like = like if isinstance(like, nn.Module) else None
        self.cfg = getattr(like, "cfg", None) if self.like is not None else like
        self.test_cfg = getattr(self.like, "test_cfg", None)
        if self.like is not None:
            self.average_clips = getattr(self.like, "average_clips", None)
        else:
            model = (self.cfg or {}).get("model", {})
            head, test_cfg = model.get("cls_head") or {}, model.get("test_cfg") or {}
            # The head's argument wins over test_cfg (MMAction2 0.x), as in BaseRecognizer.
            self.average_clips = head.get("average_clips") or test_cfg.get("average_clips")
        self.device = torch.device("cpu")

    @property
    def num_classes(self):
        return getattr(self.like, "num_classes", None)

    def _check(self, clips: torch.Tensor) -> None:
        fixed = self.input_shape[1:]
        if len(fixed) == clips.dim() - 1 and all(
            f is None or f == s for f, s in zip(fixed, clips.shape[1:])
        ):
            return
        want = ("N",) + tuple("?" if f is None else f for f in fixed)
        from vidlab.config.errors import ConfigError

        raise ConfigError(
            f"{self.path} was exported for clips of shape {want}; the test pipeline makes "
            f"{tuple(clips.shape)} (views of {tuple(clips.shape[1:])}, C, T, H, W). Export again "
            f"with --shape 1 {' '.join(map(str, clips.shape[1:]))} (vidlab export CONFIG CKPT), "
            "or change the test pipeline (its sampling and crop) to the exported shape"
        )

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Clips ``(N, C, T, H, W)`` (uint8 or float pixels) -> logits ``(N, K)``."""
        self._check(clips)
        x = clips.detach().cpu().float()
        batch = self.input_shape[0]
        if batch is None:
            (logits,) = self.session.run(None, {self.input_name: np.ascontiguousarray(x.numpy())})
            return torch.from_numpy(logits)
        out = []
        for part in x.split(batch):
            n = part.shape[0]
            if n < batch:  # a fixed batch axis: pad the last chunk, keep its rows
                part = torch.cat([part, part.new_zeros((batch - n, *part.shape[1:]))])
            (logits,) = self.session.run(None, {self.input_name: part.contiguous().numpy()})
            out.append(torch.from_numpy(logits[:n]))
        return torch.cat(out)  # (N, K)

    def average_views(self, logits: torch.Tensor, num_views: int) -> torch.Tensor:
        """``(B*V, K)`` -> ``(B, K)`` as the model does (the config's ``average_clips``)."""
        if self.like is not None:
            return self.like.average_views(logits, num_views)
        return _merge(logits.reshape(-1, num_views, logits.shape[-1]), self.average_clips)
