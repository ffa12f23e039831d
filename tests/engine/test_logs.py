"""vidlab.engine.logs: analyze_logs on written logs (summary values, figure, errors) and the
TensorBoard writer (with and without the tensorboard package)."""

from __future__ import annotations

import builtins
import json
import logging
import sys

import pytest

from vidlab.engine import logs as L

VAL_TOP1 = [0.30, 0.60, 0.50]


def write_log(path, *, garbage_tail=False):
    """3 epochs x 2 logged iterations (iter restarts every epoch), one val record per epoch."""
    lines = []
    for ep in range(1, 4):
        for it in (5, 10):
            loss = 2.0 / (ep * it)
            lines.append(dict(mode="train", epoch=ep, iter=it, lr=0.1 / ep, loss=loss, time=0.2))
        lines.append({"mode": "val", "epoch": ep, "acc/top1": VAL_TOP1[ep - 1], "acc/top5": 0.9})
    text = "".join(json.dumps(r) + "\n" for r in lines)
    if garbage_tail:
        text += '{"mode": "train", "epo'  # a run killed mid-write
    path.write_text(text)
    return path


def test_summary_values_and_table(tmp_path, capsys):
    log = write_log(tmp_path / "log.jsonl", garbage_tail=True)
    res = L.analyze_logs(log, keys=["loss", "acc/top1", "lr"])
    s = res["summary"][str(log)]
    assert s["loss"]["mode"] == "train" and s["loss"]["count"] == 6
    assert s["loss"]["first"] == pytest.approx(0.4) and s["loss"]["last"] == pytest.approx(2 / 30)
    assert s["loss"]["min"] == pytest.approx(2 / 30) and s["loss"]["max"] == pytest.approx(0.4)
    assert s["loss"]["best_epoch"] == 3 and s["loss"]["rule"] == "less"
    # acc/top1 is read from the val records although mode='train': best at epoch 2.
    top1 = s["acc/top1"]
    assert (top1["mode"], top1["count"], top1["first"], top1["last"]) == ("val", 3, 0.3, 0.5)
    assert (top1["min"], top1["max"], top1["best"], top1["best_epoch"]) == (0.3, 0.6, 0.6, 2)
    assert s["lr"]["best"] is None and s["lr"]["max"] == pytest.approx(0.1)
    assert res["out"] is None
    table = capsys.readouterr().out
    assert "best epoch" in table and "acc/top1" in table and "0.6000" in table


def test_work_dir_and_mmengine_scalars(tmp_path):
    # MMEngine's vis_data/scalars.json: no mode, global step; a val record's step is its epoch.
    recs = [
        {"lr": 0.1, "loss": 1.0, "epoch": 1, "iter": 10, "step": 10},
        {"lr": 0.1, "loss": 0.5, "epoch": 2, "iter": 20, "step": 20},
        {"acc/top1": 0.7, "data_time": 0.01, "step": 1},
        {"acc/top1": 0.8, "data_time": 0.01, "step": 2},
    ]
    (tmp_path / "log.jsonl").write_text("\n".join(map(json.dumps, recs)))
    s = L.analyze_logs(tmp_path, keys=["acc/top1"], mode="val")["summary"]
    assert s[str(tmp_path / "log.jsonl")]["acc/top1"]["best_epoch"] == 2


def test_mmaction2_0x_json_log(tmp_path):
    recs = [
        {"env_info": "sys.platform: linux", "config": "model = ...", "seed": 0},
        {"mode": "train", "epoch": 1, "iter": 20, "lr": 0.01, "loss": 2.0, "memory": 100},
        {"mode": "train", "epoch": 2, "iter": 20, "lr": 0.01, "loss": 1.0, "memory": 100},
        {"mode": "val", "epoch": 1, "iter": 40, "top1_acc": 0.5, "top5_acc": 0.9},
        {"mode": "val", "epoch": 2, "iter": 40, "top1_acc": 0.4, "top5_acc": 0.9},
    ]
    log = tmp_path / "20240101_000000.log.json"
    log.write_text("\n".join(map(json.dumps, recs)))
    s = L.analyze_logs(log, keys=["loss", "top1_acc"])["summary"][str(log)]
    assert s["loss"]["best_epoch"] == 2 and s["top1_acc"]["best_epoch"] == 1
    with pytest.raises(L.LogError) as err:
        L.analyze_logs(log, keys=["seed"])
    assert "seed" not in str(err.value).split("keys present:")[1]


def test_unknown_key_lists_the_keys_present(tmp_path):
    log = write_log(tmp_path / "log.jsonl")
    with pytest.raises(L.LogError) as err:
        L.analyze_logs(log, keys=["acc/top"])
    msg = str(err.value)
    assert (
        "'acc/top'" in msg and "train: lr, loss, time" in msg and "val: acc/top1, acc/top5" in msg
    )


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such log file"):
        L.analyze_logs(tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError, match="without log.jsonl"):
        L.analyze_logs(tmp_path)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(L.LogError, match="no scalar records"):
        L.analyze_logs(tmp_path / "empty.jsonl")


def test_plot_two_logs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    a = write_log(tmp_path / "a.jsonl")
    b = write_log(tmp_path / "b.jsonl")
    out = tmp_path / "figs" / "curves.png"
    res = L.analyze_logs(
        [a, b], keys=("loss", "acc/top1"), out=out, title="runs", legend=["a", "b"]
    )
    assert res["out"] == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    assert "saved the figure" in capsys.readouterr().out


def test_plot_without_matplotlib(tmp_path, monkeypatch, capsys):
    real_import = builtins.__import__

    def fail_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fail_matplotlib)
    log = write_log(tmp_path / "log.jsonl")
    with pytest.raises(L.LogError, match=r"pip install 'vidlab\[plot\]'"):
        L.analyze_logs(log, out=tmp_path / "c.png")
    assert "loss" in capsys.readouterr().out  # the table came out before the error
    assert not (tmp_path / "c.png").exists()


# ------------------------------------------------------------------------------------------------
# TensorBoard
# ------------------------------------------------------------------------------------------------


def test_tensorboard_missing_package_message_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    monkeypatch.setattr(L, "_tensorboard_warned", False)
    with caplog.at_level(logging.WARNING, logger=L.__name__):
        w1 = L.TensorboardWriter(tmp_path / "tb")
        w2 = L.TensorboardWriter(tmp_path / "tb2")
    assert not w1.enabled and not w2.enabled
    msgs = [r.getMessage() for r in caplog.records if "tensorboard" in r.getMessage().lower()]
    assert len(msgs) == 1 and "pip install 'vidlab[tensorboard]'" in msgs[0]
    w1.add_scalars({"loss": 1.0}, 1)  # no-ops
    w1.close()
    assert not (tmp_path / "tb").exists()


def test_tensorboard_writes_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    import torch
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with L.TensorboardWriter(tmp_path / "tb") as w:
        assert w.enabled
        w.add_scalars(
            {
                "mode": "train",
                "epoch": 1,
                "iter": 3,
                "loss": torch.tensor(0.5),
                "lr": 0.1,
                "name": "x",
            },
            step=3,
        )
        w.add_scalars({"mode": "val", "epoch": 1, "acc/top1": 0.75, "time": 2.0}, step=1)
    acc = EventAccumulator(str(tmp_path / "tb")).Reload()
    assert sorted(acc.Tags()["scalars"]) == ["acc/top1", "loss", "lr", "val/time"]
    (ev,) = acc.Scalars("loss")
    assert (ev.step, ev.value) == (3, 0.5)


def test_writers_from_config(tmp_path, caplog):
    # Works with or without the tensorboard package: a writer without it is a no-op.
    cfg = dict(
        visualizer=dict(
            type="ActionVisualizer",
            vis_backends=[
                dict(type="LocalVisBackend"),
                dict(type="TensorboardVisBackend"),
                dict(type="WandbVisBackend"),
            ],
        ),
        log_config=dict(
            hooks=[dict(type="TextLoggerHook"), dict(type="TensorboardLoggerHook", log_dir="tb0x")]
        ),
    )
    with caplog.at_level(logging.WARNING, logger=L.__name__):
        writers = L.writers_from_config(cfg, tmp_path)
    assert [w.log_dir for w in writers] == [tmp_path / "tf_logs", tmp_path / "tb0x"]
    assert "WandbVisBackend" in caplog.text
    for w in writers:
        w.close()
    assert (
        L.writers_from_config(
            {"visualizer": dict(vis_backends=[dict(type="LocalVisBackend")])}, tmp_path
        )
        == []
    )
    assert L.writers_from_config({}, tmp_path) == []


def test_epoch_axis_has_integer_ticks(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    log = tmp_path / "a.jsonl"
    log.write_text(
        "".join(f'{{"mode": "val", "epoch": {e}, "acc/top1": {e / 10}}}\n' for e in (1, 2, 3))
    )
    L.analyze_logs(log, keys=("acc/top1",), mode="val", out=tmp_path / "c.png")
    (ax,) = figures[0].axes
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)
