"""Fine-tuning an MViT from a PySlowFast checkpoint with layer-wise learning-rate decay.

PySlowFast's own fine-tuning of its MViT checkpoints fails with ``KeyError: 'layer_decay'``:
its scheduler multiplies each group's rate by a ``layer_decay`` entry that the optimizer state
read from the checkpoint lacks. vidlab fine-tunes with ``load_from`` (weights only: a
checkpoint's optimizer state is never merged into new groups) and keeps each group's rate in
the optimizer it builds, so the file below, whose optimizer groups lack the key, trains, and a
resumed run keeps the decayed rates.
"""

import torch
from engine_helpers import make_cfg

from vidlab.checkpoint import load_checkpoint
from vidlab.engine.train import train
from vidlab.models.mvit import _mvit

TINY = dict(embed_dims=8, num_layers=3, num_heads=1, downscale_indices=[1])


def tiny_mvit(num_classes: int = 4):
    return _mvit(TINY, num_classes, temporal_size=4, spatial_size=16)


def _pyslowfast_file(path):
    """A 7-class model saved as PySlowFast's ``save_checkpoint`` does (its key names)."""
    torch.manual_seed(0)
    state = {}
    for key, value in tiny_mvit(7).state_dict().items():
        key = key.removeprefix("backbone.").replace("cls_head.fc_cls.", "head.projection.")
        key = key.replace("patch_embed.projection.", "patch_embed.proj.")
        state["norm." + key[len("norm1.") :] if key.startswith("norm1.") else key] = value
    groups = [{"lr": 0.1, "weight_decay": 0.05, "params": [0, 1]}]  # no 'layer_decay'
    torch.save(
        {
            "epoch": 200,
            "model_state": state,
            "optimizer_state": {"state": {}, "param_groups": groups},
        },
        path,
    )
    return path


def test_fine_tune_from_pyslowfast_with_layer_decay(tmp_path):
    cfg = make_cfg(tmp_path / "w", max_epochs=1)
    cfg["model"] = dict(type=tiny_mvit, num_classes=4)
    cfg["load_from"] = str(_pyslowfast_file(tmp_path / "k400.pyth"))
    cfg["optim_wrapper"] = dict(
        optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05),
        constructor="LearningRateDecayOptimizerConstructor",
        paramwise_cfg=dict(num_layers=3, decay_rate=0.5, decay_type="layer_wise"),
    )
    cfg["test_dataloader"] = None
    for loader in ("train_dataloader", "val_dataloader"):
        cfg[loader]["dataset"].update(size=16)
    train(cfg)
    log = (tmp_path / "w" / "train.log").read_text()
    assert "load_from" in log and "cls_head.fc_cls" in log  # the new head, reported

    def rates(path):
        groups = load_checkpoint(path)["optimizer"]["param_groups"]
        return {g["group_name"].split(":")[0]: g["lr"] for g in groups}

    first = rates(tmp_path / "w" / "epoch_1.pth")
    # lr * 0.5 ** (num_layers + 1 - layer_id): patch embedding 1/16, block 0 1/8, head 1
    assert first["layer_0_decay"] == 1e-3 / 16 and first["layer_1_decay"] == 1e-3 / 8
    assert first["layer_4_decay"] == 1e-3

    cfg = make_cfg(tmp_path / "w", max_epochs=2)
    cfg["model"] = dict(type=tiny_mvit, num_classes=4)
    cfg["optim_wrapper"] = dict(
        optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05),
        constructor="LearningRateDecayOptimizerConstructor",
        paramwise_cfg=dict(num_layers=3, decay_rate=0.5, decay_type="layer_wise"),
    )
    cfg["test_dataloader"] = None
    for loader in ("train_dataloader", "val_dataloader"):
        cfg[loader]["dataset"].update(size=16)
    cfg["resume"] = True
    train(cfg)
    assert rates(tmp_path / "w" / "epoch_2.pth") == first
