"""Published weights by name: ``create_model(name, pretrained=True)``, checkpoint URLs in
``init_recognizer`` / ``vidlab test`` / ``vidlab infer``, and ``vidlab infer --model NAME``.

Nothing touches the network: the published file of ``tsm_r50_1x1x8`` is a seeded checkpoint
put in ``$VIDLAB_HOME/checkpoints`` under its URL's file name (files in the cache are used as
they are), and checkpoint URLs are served from 127.0.0.1 (``test_pretrained._Server``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_pretrained import _Server

import vidlab
from vidlab.checkpoint import CheckpointError
from vidlab.cli.main import main
from vidlab.models import create_model
from vidlab.models.pretrained import PretrainedError
from vidlab.models.variants import find_variant

NAME = "tsm_r50_1x1x8"  # the cheapest video variant with a url whose forward runs at 224 px
QUICKSTART = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """``(VIDLAB_HOME, state dict)``: NAME's published file, seeded, in the cache."""
    home = tmp_path_factory.mktemp("home")
    torch.manual_seed(0)
    model = create_model(NAME)
    # + 0.5: nothing like a fresh init, so a model that kept its own weights fails the check
    sd = {k: v + 0.5 if v.is_floating_point() else v for k, v in model.state_dict().items()}
    path = home / "checkpoints" / find_variant(NAME).default_cfg.url.rsplit("/", 1)[1]
    path.parent.mkdir()
    torch.save({"meta": {"epoch": 50}, "state_dict": sd}, path)
    return home, sd


@pytest.fixture
def home(published, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDLAB_HOME", str(published[0]))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return published


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from vidlab.data.synthetic import render_clip, write_video

    path = tmp_path_factory.mktemp("video") / "video.mp4"
    write_video(path, render_clip("grow", 0, num_frames=24, size=48), fps=12)
    return path


def _assert_same(model_sd, file_sd, skip=()):
    for key, value in file_sd.items():
        if not key.startswith(skip):
            assert torch.equal(model_sd[key], value), key


# --------------------------------------------------------------------------- create_model


def test_pretrained_true_loads_the_published_checkpoint(home):
    _, sd = home
    model = create_model(NAME, pretrained=True)
    _assert_same(model.state_dict(), sd)
    assert set(model.state_dict()) == set(sd)


def test_a_published_file_that_does_not_fit_is_a_grouped_report(tmp_path, home, monkeypatch):
    _, sd = home
    wrong = dict(sd)
    del wrong["cls_head.fc_cls.bias"]
    wrong["cls_head.fc_cls.weight"] = torch.zeros(174, 2048)  # another dataset's head
    wrong["neck.extra.weight"] = torch.zeros(1)
    name = find_variant(NAME).default_cfg.url.rsplit("/", 1)[1]
    (tmp_path / "wrong" / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": wrong}, tmp_path / "wrong" / "checkpoints" / name)
    monkeypatch.setenv("VIDLAB_HOME", str(tmp_path / "wrong"))
    with pytest.raises(CheckpointError) as err:
        create_model(NAME, pretrained=True)
    text = str(err.value)
    assert find_variant(NAME).default_cfg.url in text and "strict" in text
    assert "shape mismatch, skipped: cls_head.fc_cls.weight (174, 2048) in file" in text
    assert "missing in checkpoint: cls_head.fc_cls.bias" in text
    assert "unexpected in checkpoint: neck.extra.weight" in text


def test_other_num_classes_loads_then_resets_the_classifier(home, caplog):
    _, sd = home
    with caplog.at_level(logging.INFO, logger="vidlab.models.variants"):
        model = create_model(NAME, pretrained=True, num_classes=10)
    _assert_same(model.state_dict(), sd, skip=("cls_head.",))
    assert model.cls_head.fc_cls.weight.shape == (10, 2048)
    assert model.cls_head.num_classes == 10
    lines = [r.getMessage() for r in caplog.records if r.name == "vidlab.models.variants"]
    assert len(lines) == 1 and "reset the classifier to 10 classes" in lines[0]


def test_a_variant_without_a_url_says_to_pass_a_file(home):
    assert find_variant("tsm_r18_1x1x8").default_cfg.url is None
    with pytest.raises(PretrainedError, match="tsm_r18_1x1x8 has no published checkpoint.*file"):
        create_model("tsm_r18_1x1x8", pretrained=True)


# --------------------------------------------------------------------------- checkpoint URLs


@pytest.fixture(scope="module")
def quickstart_env(tmp_path_factory):
    """VIDLAB_CACHE for the quickstart config (its data root; rendered only by ``vidlab
    test``, two videos per class)."""
    old = os.environ.get("VIDLAB_CACHE")
    os.environ["VIDLAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        del os.environ["VIDLAB_CACHE"]
    else:
        os.environ["VIDLAB_CACHE"] = old


@pytest.fixture
def served(quickstart_env, tmp_path, monkeypatch):
    """The quickstart TSM's checkpoint on a local server, as ``tsm-<sha256>.pth`` and under a
    name whose hash is wrong."""
    from vidlab.inference import init_recognizer

    torch.manual_seed(0)
    sd = init_recognizer(QUICKSTART).state_dict()
    root = tmp_path / "www"
    root.mkdir()
    torch.save({"state_dict": sd}, root / "raw.pth")
    good = f"tsm-{hashlib.sha256((root / 'raw.pth').read_bytes()).hexdigest()[:8]}.pth"
    (root / "raw.pth").rename(root / good)
    (root / "tsm_20220906-deadbeef.pth").write_bytes((root / good).read_bytes())
    monkeypatch.setenv("VIDLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    server = _Server(root)
    yield server, good, sd
    server.close()


def test_init_recognizer_takes_a_checkpoint_url_fetched_once(served, tmp_path):
    from vidlab.inference import init_recognizer

    server, good, sd = served
    torch.manual_seed(1)
    model = init_recognizer(QUICKSTART, server.url + good)
    _assert_same(model.state_dict(), sd)
    assert (tmp_path / "home" / "checkpoints" / good).is_file()
    init_recognizer(QUICKSTART, server.url + good)  # from the cache
    assert server.requests == [f"/{good}"]


def test_a_checkpoint_url_whose_hash_differs_is_refused(served, tmp_path):
    from vidlab.inference import init_recognizer

    server, _, _ = served
    with pytest.raises(PretrainedError, match="checkpoint http.*SHA-256 .* 'deadbeef'"):
        init_recognizer(QUICKSTART, server.url + "tsm_20220906-deadbeef.pth")
    assert not list((tmp_path / "home" / "checkpoints").iterdir())  # nothing kept


def test_vidlab_test_takes_a_checkpoint_url(served, tmp_path):
    from vidlab.config import load_config
    from vidlab.data.synthetic import prepare_synthetic_data
    from vidlab.engine.testing import test as run_test

    server, good, sd = served
    small = ["synthetic_data.videos_per_class=2", "test_dataloader.num_workers=0"]

    def cfg():
        c = load_config(QUICKSTART, small)
        prepare_synthetic_data(c)  # points the config at the set it wrote
        return c

    torch.save({"state_dict": sd}, tmp_path / "local.pth")
    by_url = run_test(cfg(), server.url + good, progress=False)
    local = run_test(cfg(), tmp_path / "local.pth", progress=False)
    assert by_url["metrics"] == local["metrics"]
    assert by_url["predictions"] == local["predictions"] and len(local["predictions"]) == 6


def test_load_from_a_url_trains_from_those_weights(served, tmp_path, capsys):
    """MMAction2's fine-tuning configs set ``load_from`` to a zoo URL."""
    from vidlab.config import load_config
    from vidlab.data.synthetic import prepare_synthetic_data
    from vidlab.engine.train import train

    server, good, sd = served
    cfg = load_config(
        QUICKSTART,
        [
            "synthetic_data.videos_per_class=1",
            "train_dataloader.batch_size=6",
            "train_dataloader.num_workers=0",
            "train_dataloader.persistent_workers=False",
            "train_cfg.max_epochs=1",
            "val_dataloader=None",
            "val_cfg=None",
            "val_evaluator=None",
            f"load_from={server.url + good}",
        ],
    )
    prepare_synthetic_data(cfg)
    train(cfg, work_dir=tmp_path / "work")
    assert server.requests == [f"/{good}"]
    cached = tmp_path / "home" / "checkpoints" / good
    assert f"load_from: loaded {len(sd)} tensors from {cached}\n" in capsys.readouterr().out


def test_vidlab_infer_config_url_video(served, video, capsys):
    server, good, _ = served
    assert main(["infer", str(QUICKSTART), server.url + good, str(video), "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{video}:" in out and "  2. " in out


def test_vidlab_infer_offline_is_one_line_exit_2(served, video, capsys, tmp_path):
    server, good, _ = served
    server.close()  # nothing listens there any more
    assert main(["infer", str(QUICKSTART), server.url + good, str(video)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("vidlab infer: error: checkpoint http") and "could not download" in err
    assert str(tmp_path / "home" / "checkpoints" / good) in err


# --------------------------------------------------------------------------- infer --model


def test_zoo_test_pipelines_follow_mmaction2s_sizes():
    from vidlab.inference import variant_test_pipeline

    def sizes(name):
        steps = {s["type"]: s for s in variant_test_pipeline(name)}
        sampler = next(s for s in steps.values() if "Sample" in s["type"])
        assert sampler["test_mode"]
        return (
            sampler["type"],
            steps["Resize"]["scale"],
            steps["CenterCrop"]["crop_size"],
            steps["FormatShape"]["input_format"],
        )

    # MMAction2: Resize(-1, 256) + crop 224 (TSM); 256/256 (SlowFast); 224/224 (Swin);
    # 128/112 (C3D); UniformSample for the "u8" configs; DenseSampleFrames for "dense"
    assert sizes(NAME) == ("SampleFrames", (-1, 256), 224, "NCHW")
    assert sizes("slowfast_r50_8x8x1") == ("SampleFrames", (-1, 256), 256, "NCTHW")
    assert sizes("swin_tiny_32x2x1") == ("SampleFrames", (-1, 224), 224, "NCTHW")
    assert sizes("c3d_sports1m_16x1x1") == ("SampleFrames", (-1, 128), 112, "NCTHW")
    assert sizes("uniformerv2_b16_u8")[0] == "UniformSample"
    assert sizes("i3d_r50_dense_32x2x1")[0] == "DenseSampleFrames"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "stgcn_j_2d_ntu60", "x.mp4"], "--model supports RGB video variants"),
        (["--model", "audio_tsn_r18_64x1x1", "x.mp4"], "takes audio features"),
        (["--model", "posec3d_r50_u48_k400_keypoint", "x.mp4"], "takes keypoint heatmaps"),
        (["--model", "tsm_r50_1x1x9", "x.mp4"], "did you mean 'tsm_r50_1x1x8'"),
        (["--model", NAME, "--backend", "onnxruntime", "x.mp4"], "needs a config"),
        (["--checkpoint", "w.pth", "a", "b", "x.mp4"], "--checkpoint goes with --model"),
        (["only_a_config.py"], "give CONFIG CKPT INPUTS"),
    ],
)
def test_infer_model_refuses_what_it_cannot_run(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("VIDLAB_HOME", str(tmp_path))  # nothing may be fetched
    assert main(["infer", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "checkpoints").exists()


def test_vidlab_infer_model_prints_top_k_of_the_published_weights(home, video):
    """A subprocess, as a user runs it; the same top-3 as the Python API on the same file."""
    from vidlab.inference import inference_recognizer, init_variant

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", "infer", "--model", NAME, str(video)]
        + ["--top-k", "3"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "class indices; --labels FILE" in proc.stderr and "downloading" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{video}:" and len(lines) == 4
    expected = inference_recognizer(init_variant(NAME), video, top_k=3)
    for line, (label, score) in zip(lines[1:], expected):
        assert line.split()[1:] == [label, f"{score:.4f}"]


def test_list_models_marks_and_filters_the_variants_with_published_weights(capsys):
    """`vidlab list-models --pretrained` lists exactly the variants that `--model` and
    `pretrained=True` can fetch; `--details` shows clip, sampling, classes and weights."""
    from vidlab.models import list_models

    assert main(["list-models"]) == 0
    assert capsys.readouterr().out.split() == list_models()
    assert main(["list-models", "--pretrained"]) == 0
    published = capsys.readouterr().out.split()
    assert "tsm_r50_1x1x8" in published and "tsm_r18_1x1x8" not in published  # no url
    assert published == [n for n in list_models() if find_variant(n).default_cfg.url]
    assert main(["list-models", "--details"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert rows["tsm_r50_1x1x8"] == ["3x8x224x224", "1x1x8", "400", "MMAction2"]
    assert rows["tsm_r18_1x1x8"][-1] == "-" and len(rows) == len(list_models()) + 1  # + header
