"""Bad input through the CLI as subprocesses: one message, exit code 2, no traceback, and
config errors before any data is generated or read (issue 8, sections 2 and 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import vidlab

QUICKSTART = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"


def vidlab_cli(*args, env, stdout=subprocess.PIPE, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", *map(str, args)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        timeout=timeout,
    )


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, VIDLAB_CACHE=str(tmp_path / "cache"), VIDLAB_HOME=str(tmp_path / "h"))


def assert_one_clear_error(proc, *pieces):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "DataLoader worker" not in proc.stderr
    assert proc.stderr.count(" error: ") == 1, proc.stderr
    for piece in pieces:
        assert piece in proc.stderr, proc.stderr


BAD_CONFIGS = [
    ("", ["train_dataloader.batch_size='16'"], ["batch_size='16'", "an int >= 1"]),
    ("", ["train_dataloader.batch_size=[1,"], ["'[' is not closed"]),
    ("", ["train_pipeline.4.scale=(64,64)"], ["set train_dataloader.dataset.pipeline.4.scale"]),
    ("model = dict(backbone=dict(depth=19))", [], ["model.backbone", "depth=19", "choose from"]),
    (
        "train_dataloader = dict(dataset=dict(pipeline=[dict(type='VideoInit'), "
        "dict(type='SampleFrames', clip_len=1, num_clips=8), dict(type='FormatShape'), "
        "dict(type='VideoDecode')]))",
        [],
        ["pipeline[2]", "FormatShape needs 'imgs'"],
    ),
]


@pytest.mark.parametrize("text,options,pieces", BAD_CONFIGS, ids=range(len(BAD_CONFIGS)))
def test_bad_config_is_one_clear_error(tmp_path, env, text, options, pieces):
    cfg = tmp_path / "bad.py"
    cfg.write_text(f"_base_ = [{str(QUICKSTART)!r}]\n{text}\n")
    extra = ["--cfg-options", *options] if options else []
    proc = vidlab_cli("print-config", cfg, *extra, env=env)
    assert_one_clear_error(proc, *pieces)


def test_top_level_name_close_to_a_known_one_warns(tmp_path, env):
    cfg = tmp_path / "typo.py"
    cfg.write_text(f"_base_ = [{str(QUICKSTART)!r}]\ntrain_dataloder = dict(batch_size=4)\n")
    proc = vidlab_cli("print-config", cfg, env=env)
    assert proc.returncode == 0
    assert "vidlab: warning:" in proc.stderr and "did you mean 'train_dataloader'" in proc.stderr


def test_config_errors_and_unreachable_pretrained_come_before_any_data(tmp_path, env):
    root = tmp_path / "data"
    common = ["--work-dir", tmp_path / "w", "--cfg-options", f"synthetic_data.root={root}"]
    proc = vidlab_cli("train", QUICKSTART, *common, "randomness.sed=1", env=env)
    assert_one_clear_error(proc, "randomness", "did you mean 'seed'")
    url = "https://127.0.0.1:9/resnet18-f37072fd.pth"  # nothing listens on port 9
    proc = vidlab_cli("train", QUICKSTART, *common, f"model.backbone.pretrained={url}", env=env)
    assert_one_clear_error(proc, f"pretrained={url!r}", "could not download", "put it at")
    assert not root.exists()  # no synthetic data was rendered
    proc = vidlab_cli(
        "train", QUICKSTART, *common, "model.backbone.pretrained=torchvision://resnet19", env=env
    )
    assert_one_clear_error(proc, "unknown torchvision model", "resnet18")


def _broken_list(tmp_path, text):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(os.urandom(4000))
    ann = tmp_path / "list.txt"
    ann.write_text(text)
    return [
        "--work-dir",
        tmp_path / "w",
        "--cfg-options",
        "synthetic_data=None",
        "val_dataloader=None",
        f"train_dataloader.dataset.ann_file={ann}",
        f"train_dataloader.dataset.data_prefix.video={tmp_path / 'v'}",
        "train_dataloader.batch_size=2",
    ]


def test_data_error_in_a_loader_worker_is_vidlabs_message_alone(tmp_path, env):
    options = _broken_list(tmp_path, "a.mp4 0\na.mp4 1\na.mp4 0\na.mp4 1\n")
    proc = vidlab_cli("train", QUICKSTART, *options, "train_dataloader.num_workers=2", env=env)
    assert_one_clear_error(proc, "a.mp4: cannot open as a video", "list.txt:")


def test_label_outside_num_classes_is_found_when_the_list_is_read(tmp_path, env):
    options = _broken_list(tmp_path, "a.mp4 0\na.mp4 9\n")
    proc = vidlab_cli("train", QUICKSTART, *options, env=env)
    assert_one_clear_error(proc, "list.txt:2: label 9 is outside the model's 6 classes")


def test_export_without_onnx(tmp_path, env):
    shim = tmp_path / "shim" / "onnx"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError(\"No module named 'onnx'\")\n")
    env = dict(env, PYTHONPATH=os.pathsep.join([str(shim.parent), env.get("PYTHONPATH", "")]))
    proc = vidlab_cli("export", QUICKSTART, "--out", tmp_path / "m.onnx", env=env)
    assert_one_clear_error(proc, "export needs the onnx package", "pip install 'vidlab[onnx]'")


def test_print_config_into_a_closed_pipe(env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidlab.cli.main", "print-config", str(QUICKSTART)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.close()  # `| head` that has read all it wanted before vidlab writes
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert b"Traceback" not in err and err.decode().count("\n") == 1


def test_infer_on_an_unsupported_url_scheme(tmp_path, env):
    proc = vidlab_cli("infer", QUICKSTART, tmp_path / "x.pth", "file:///tmp/a.mp4", env=env)
    assert_one_clear_error(proc, "file:///tmp/a.mp4", "'file' scheme is not supported")


def test_quickstart_validates_before_rendering_data(tmp_path, env):
    proc = vidlab_cli(
        "quickstart",
        "--work-dir",
        tmp_path / "w",
        "--cfg-options",
        "train_cfg.max_epoch=1",
        env=env,
    )
    assert_one_clear_error(proc, "train_cfg", "did you mean 'max_epochs'")
    assert not (tmp_path / "cache").exists()


def test_data_subcommands_describe_every_argument():
    from vidlab.cli.main import build_parser

    def choices(parser):
        return parser._subparsers._group_actions[0].choices

    for name, sub in choices(choices(build_parser())["data"]).items():
        for action in sub._actions:
            assert action.dest == "help" or action.help, f"vidlab data {name}: {action.dest}"


UNKNOWN_TYPES = [
    # an MMAction2 type vidlab lacks: said plainly, no look-alike offered
    (
        "model = dict(_delete_=True, type='VindLURetrieval')",
        "model: MMAction2's 'VindLURetrieval' is not implemented in vidlab",
        "did you mean",
    ),
    # a typo of a vidlab type: a "did you mean"
    (
        "model = dict(type='Recognizer2DD')",
        "model: unknown type 'Recognizer2DD'; did you mean 'Recognizer2D'",
        "not implemented",
    ),
]


@pytest.mark.parametrize("command", ["train", "test"])
@pytest.mark.parametrize("text,piece,absent", UNKNOWN_TYPES, ids=["mmaction2", "typo"])
def test_unknown_types_through_train_and_test(tmp_path, env, command, text, piece, absent):
    cfg = tmp_path / "cfg.py"
    cfg.write_text(f"_base_ = [{str(QUICKSTART)!r}]\n{text}\n")
    args = ["--work-dir", tmp_path / "w"] if command == "train" else [tmp_path / "none.pth"]
    proc = vidlab_cli(command, cfg, *args, env=env)
    assert_one_clear_error(proc, piece)
    assert absent not in proc.stderr


def test_pgm_on_a_config_that_is_not_bsn_pgm(env):
    """README's `vidlab localization pgm BSN_PGM_CONFIG` given another config (BMN's): one
    message naming the file and the keys, not a KeyError traceback."""
    bmn = QUICKSTART.with_name("bmn_synthetic_untrimmed.py")
    proc = vidlab_cli("localization", "pgm", bmn, "--mode", "test", env=env)
    assert_one_clear_error(proc, str(bmn), "'tem_results_dir'", "bsn_pgm_400x100")
