"""`inference_recognizer` on every kind of input, probabilities whatever `average_clips`, and
the onnxruntime backend (`OnnxRecognizer`) giving PyTorch's scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from deploy_helpers import CLASSES, frames_of

from vidlab.inference import inference_recognizer, init_recognizer, scores_of


@pytest.mark.parametrize("mode", ["prob", "score", None])
def test_scores_are_probabilities_whatever_the_view_averaging(model, mode):
    frames = frames_of("grow", 0)  # (T, H, W, 3) uint8: an array input
    old = model.cls_head.average_clips
    model.cls_head.average_clips = mode
    try:
        with torch.no_grad():  # logits far from [0, 1]: the FAQ's case
            model.cls_head.fc_cls.weight.mul_(50)
        results = inference_recognizer(model, frames, top_k=len(CLASSES))
    finally:
        model.cls_head.average_clips = old
        with torch.no_grad():
            model.cls_head.fc_cls.weight.div_(50)
    scores = [s for _, s in results]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert sum(scores) == pytest.approx(1.0, abs=1e-5)
    assert scores == sorted(scores, reverse=True) and max(scores) - min(scores) > 0.1


def test_video_file_frame_folder_and_array_agree(model, videos, tmp_path):
    import av
    from PIL import Image

    video = videos / "move_left.mp4"
    with av.open(str(video)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames, 1):
        Image.fromarray(frame).save(folder / f"img_{i:05d}.png")  # lossless: same pixels
    by_file = inference_recognizer(model, video, labels=CLASSES)
    by_folder = inference_recognizer(model, folder, labels=CLASSES)
    by_array = inference_recognizer(model, frames, labels=CLASSES)
    assert [n for n, _ in by_file] == [n for n, _ in by_folder] == [n for n, _ in by_array]
    np.testing.assert_allclose([s for _, s in by_file], [s for _, s in by_array], rtol=1e-6)
    np.testing.assert_allclose([s for _, s in by_folder], [s for _, s in by_array], rtol=1e-6)


def test_onnxruntime_backend_gives_pytorch_scores(model, cache_dir, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from vidlab.export import clips_shape_of, export_onnx
    from vidlab.onnx_runtime import OnnxRecognizer

    path = tmp_path / "tsm.onnx"
    export_onnx(model, path, clips_shape=clips_shape_of(model.cfg))
    onnx_model = init_recognizer(model.cfg, path, backend="onnxruntime")
    assert isinstance(onnx_model, OnnxRecognizer)
    frames = frames_of("shrink", 3)
    expected = inference_recognizer(model, frames, top_k=6)
    actual = inference_recognizer(onnx_model, frames, top_k=6)
    assert [n for n, _ in actual] == [n for n, _ in expected]
    np.testing.assert_allclose([s for _, s in actual], [s for _, s in expected], rtol=1e-4)
    # A pipeline whose clips do not fit the exported shape: said, with both shapes.
    with pytest.raises(ValueError, match=r"exported for clips of shape \('N', 3, 8, 32, 32\)"):
        onnx_model(torch.zeros(2, 3, 8, 64, 64, dtype=torch.uint8))


def test_onnx_scores_average_views_as_the_config_says(model, tmp_path):
    pytest.importorskip("onnxruntime")
    from vidlab.export import export_onnx
    from vidlab.onnx_runtime import OnnxRecognizer

    path = tmp_path / "tsm.onnx"
    export_onnx(model, path, clips_shape=(1, 3, 8, 32, 32), verify=False)
    onnx_model = OnnxRecognizer(path, model.cfg)
    assert onnx_model.average_clips == model.average_clips  # from the config's head
    logits = torch.randn(4, 6) * 10
    torch.testing.assert_close(scores_of(onnx_model, logits, 2), scores_of(model, logits, 2))


def test_unknown_backend_and_missing_onnx_file(model, tmp_path):
    with pytest.raises(ValueError, match="backend='tensorrt'"):
        init_recognizer(model.cfg, None, backend="tensorrt")
    pytest.importorskip("onnxruntime")
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        init_recognizer(model.cfg, tmp_path / "none.onnx", backend="onnxruntime")


def test_url_is_read_as_the_file(model, videos):
    """An http:// URL (the getting-started guide's demo input), served locally."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(videos))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/move_left.mp4"
        by_url = inference_recognizer(model, url, labels=CLASSES)
    finally:
        server.shutdown()
        server.server_close()
    by_file = inference_recognizer(model, videos / "move_left.mp4", labels=CLASSES)
    assert by_url == by_file
