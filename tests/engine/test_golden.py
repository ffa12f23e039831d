"""Golden losses: the first 20 losses of a tiny fixed run must not drift.

If a deliberate change to the loop, the loader's seeding or the tiny model changes them, rerun
the config below and paste the new values, saying why in the commit message.
"""

import json

import pytest
from engine_helpers import make_cfg

from vidlab.engine.train import train

GOLDEN = [
    1.493487000465393,
    1.4258692264556885,
    1.201050877571106,
    1.3949525356292725,
    1.379262924194336,
    1.3560118675231934,
    1.4281094074249268,
    1.3749661445617676,
    1.3236548900604248,
    1.4134624004364014,
    1.1850945949554443,
    1.3383761644363403,
    1.3266730308532715,
    1.0813734531402588,
    1.2631361484527588,
    1.1698646545410156,
    1.26043701171875,
    1.4383125305175781,
    1.3524978160858154,
    1.4553720951080322,
]


def _losses(work):
    cfg = make_cfg(work, max_epochs=2)
    cfg["train_dataloader"]["batch_size"] = 2
    cfg["train_dataloader"]["dataset"]["num_samples"] = 20
    cfg["val_dataloader"] = None
    cfg["default_hooks"]["checkpoint"] = dict(type="CheckpointHook", interval=-1, save_last=False)
    train(cfg)
    lines = (work / "log.jsonl").read_text().splitlines()
    return [json.loads(line)["loss"] for line in lines if json.loads(line)["mode"] == "train"]


def test_golden_losses(tmp_path):
    losses = _losses(tmp_path / "a")
    assert losses == pytest.approx(GOLDEN, abs=1e-6)


def test_run_is_deterministic(tmp_path):
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
