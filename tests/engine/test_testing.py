"""vidlab.engine.testing in-process: multi-view averaging, chunked views, ONNX testing.

The CLI side (outputs, 0.x habits) is tests/test_cli_testing.py.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

import vidlab
from vidlab.config import ConfigError, load_config
from vidlab.engine.build import build_model
from vidlab.engine.testing import per_class_accuracy
from vidlab.engine.testing import test as run_test
from vidlab.onnx_runtime import OnnxRecognizer

QUICKSTART = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"
SMALL = ["synthetic_data.videos_per_class=2", "test_dataloader.num_workers=0"]
# ThreeCrop after the 2 clips of twice_sample: 6 views per video (the pipeline's 5th step)
THREE_CROP = ["test_dataloader.dataset.pipeline.4.type=ThreeCrop"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The synthetic dataset's cache root (the quickstart config reads VIDLAB_CACHE); one
    thread: on a busy machine, one-view chunks with two spinning threads take 20x longer."""
    old = os.environ.get("VIDLAB_CACHE")
    os.environ["VIDLAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    if old is None:
        del os.environ["VIDLAB_CACHE"]
    else:
        os.environ["VIDLAB_CACHE"] = old


def _cfg(*options):
    from vidlab.data.synthetic import prepare_synthetic_data

    cfg = load_config(QUICKSTART, [*SMALL, *options])
    prepare_synthetic_data(cfg)
    return cfg


@pytest.fixture(scope="module")
def ckpt(cache, tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(_cfg(), torch.device("cpu"))
    with torch.no_grad():
        model.cls_head.fc_cls.weight.normal_(0, 0.5)
    path = tmp_path_factory.mktemp("ckpt") / "tsm.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def _dump(cfg, ckpt, path, **kwargs):
    run_test(cfg, ckpt, dump=path, progress=False, **kwargs)
    return pickle.load(open(path, "rb"))


def test_three_crop_prob_and_chunked_views_give_the_same_scores(ckpt, tmp_path, capsys):
    """2 clips x ThreeCrop = 6 views; 'prob' averages their softmax as MMAction2; one view
    at a time (max_testing_views=1) or a 1 KiB memory budget changes nothing."""
    whole = _dump(_cfg(*THREE_CROP), ckpt, tmp_path / "a.pkl")
    one = _dump(_cfg(*THREE_CROP, "test_cfg.max_testing_views=1"), ckpt, tmp_path / "b.pkl")
    budget = _dump(_cfg(*THREE_CROP), ckpt, tmp_path / "c.pkl", view_memory="1K")
    assert "at most 1 view(s) at once" in capsys.readouterr().out
    assert len(whole) == len(one) == len(budget) == 6
    for a, b, c in zip(whole, one, budget):
        assert a["logits"].shape == (6, 6)
        torch.testing.assert_close(a["pred_score"], torch.softmax(a["logits"], 1).mean(0))
        torch.testing.assert_close(b["logits"], a["logits"], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(c["pred_score"], a["pred_score"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["'score'", "None"])
def test_score_and_none_average_logits(mode, ckpt, tmp_path):
    """None as 'score' (MMAction2 1.2.0 leaves (V, K) scores its AccMetric cannot read)."""
    cfg = _cfg(f"model.cls_head.average_clips={mode}")
    for s in _dump(cfg, ckpt, tmp_path / "s.pkl"):
        assert s["logits"].shape == (2, 6)  # the dump keeps both views' logits
        torch.testing.assert_close(s["pred_score"], s["logits"].mean(0))


def test_onnx_test_matches_torch_and_names_a_shape_mismatch(ckpt, tmp_path):
    pytest.importorskip("onnxruntime")
    from vidlab.export import export_onnx

    cfg = _cfg()
    model = build_model(cfg, torch.device("cpu"))
    model.load_state_dict(torch.load(ckpt)["state_dict"])
    path = tmp_path / "m.onnx"
    export_onnx(model, path, (1, 3, 8, 32, 32), dynamic_batch=False)  # a fixed batch of 1
    ref = _dump(cfg, ckpt, tmp_path / "ref.pkl")
    got = _dump(cfg, path, tmp_path / "onnx.pkl", onnx=True)
    for a, b in zip(ref, got):
        torch.testing.assert_close(b["pred_score"], a["pred_score"], rtol=1e-4, atol=1e-4)
    runner = OnnxRecognizer(path, model)
    assert runner(torch.zeros(3, 3, 8, 32, 32)).shape == (3, 6)  # 3 runs of the fixed batch 1
    with pytest.raises(ConfigError) as err:
        runner(torch.zeros(2, 3, 8, 48, 48))
    assert "('N', 3, 8, 32, 32)" in str(err.value) and "(3, 8, 48, 48)" in str(err.value)
    assert "--shape 1 3 8 48 48" in str(err.value)
    with pytest.raises(ConfigError, match="expects an .onnx file"):
        run_test(cfg, ckpt, onnx=True, progress=False)


def test_bad_output_names_fail_before_running(ckpt):
    with pytest.raises(ConfigError, match=r"\.json, \.pkl, \.csv"):
        run_test(_cfg(), ckpt, out="r.txt")
    with pytest.raises(ConfigError, match="MMAction2's dump format"):
        run_test(_cfg(), ckpt, dump="d.json")


def test_per_class_accuracy():
    scores = torch.tensor([[0.9, 0.1, 0], [0.2, 0.8, 0], [0.6, 0.4, 0], [0, 0, 1]]).numpy()
    classes, counts, acc = per_class_accuracy(scores, [0, 1, 1, 0])
    assert classes.tolist() == [0, 1] and counts.tolist() == [2, 2]
    assert acc.tolist() == [0.5, 0.5]


def test_0x_eval_options():
    from vidlab.cli.main import CLIError
    from vidlab.cli.testing import _eval_options

    assert _eval_options(["topk=(1,3)"]) == {"top_k_accuracy": {"topk": (1, 3)}}
    with pytest.raises(CLIError, match="topk=1,5"):
        _eval_options(["x=1"])
