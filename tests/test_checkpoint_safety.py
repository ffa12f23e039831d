"""A checkpoint is data: files whose pickle would run code are refused by name.

The payloads are real: each file below runs its code when read with full unpickling (checked
with ``allow_unsafe=True`` where that is harmless to the test), yet still looks like a working
checkpoint (a ``state_dict`` of tensors). The CLI and Python entry points are covered in
``tests/test_cli_checkpoints.py``.
"""

import ast
import builtins
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.checkpoint import CheckpointError, load_checkpoint


class Call:
    """Pickles as ``fn(*args)``: what a malicious checkpoint's pickle does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _protocol0_system(marker: Path) -> str:
    """A text pickle that runs ``touch marker`` when loaded."""
    return f"cposix\nsystem\n(S'touch {marker}'\ntR."


def payloads(tmp: Path, marker: Path) -> dict:
    """name -> object that touches ``marker`` when its pickle is loaded."""
    staged = tmp / "staged.txt"
    return {
        "os_system": Call(os.system, f"touch {marker}"),
        # numpy writes a protocol-0 pickle to a file, then numpy.load(allow_pickle=True) runs it
        "numpy_write_then_load": [
            Call(np.savetxt, str(staged), [_protocol0_system(marker)], "%s"),
            Call(np.load, str(staged), None, True),
        ],
        "builtins_eval": Call(builtins.eval, f"__import__('os').system('touch {marker}')"),
        "builtins_exec": Call(builtins.exec, f"import os; os.system('touch {marker}')"),
        "getattr_chain": Call(
            builtins.getattr, Call(builtins.__import__, "os"), "system"
        ),  # getattr(__import__('os'), 'system') — a callable obtained by a chain
    }


def write_malicious(path: Path, payload) -> Path:
    """A checkpoint that loads and works as weights, with ``payload`` in its meta."""
    state = {"backbone.weight": torch.zeros(2, 2)}
    torch.save({"meta": {"epoch": 1, "note": payload}, "state_dict": state}, path)
    return path


NAMES = ["os_system", "numpy_write_then_load", "builtins_eval", "builtins_exec", "getattr_chain"]


@pytest.mark.parametrize("name", NAMES)
def test_malicious_pickles_are_refused_by_name(tmp_path, name):
    marker = tmp_path / "pwned"
    path = write_malicious(tmp_path / f"{name}.pth", payloads(tmp_path, marker)[name])
    with pytest.raises(CheckpointError, match=r"could run code") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value) and "allow_unsafe=True" in str(err.value)
    assert not marker.exists()


def test_the_payloads_are_real(tmp_path):
    """Full unpickling runs them: the refusal above is what keeps the marker away."""
    for name in ("os_system", "numpy_write_then_load"):
        marker = tmp_path / f"pwned_{name}"
        path = write_malicious(tmp_path / f"{name}.pth", payloads(tmp_path, marker)[name])
        checkpoint = load_checkpoint(path, allow_unsafe=True)
        assert marker.exists(), name
        assert torch.equal(checkpoint["state_dict"]["backbone.weight"], torch.zeros(2, 2))


def test_numpy_functions_are_refused_exactly(tmp_path):
    path = write_malicious(tmp_path / "np.pth", Call(np.savetxt, str(tmp_path / "x"), [1]))
    with pytest.raises(CheckpointError, match=r"numpy\.savetxt"):
        load_checkpoint(path)
    assert not (tmp_path / "x").exists()


def test_openmmlab_names_are_inert_stand_ins(tmp_path, monkeypatch):
    """A name under mmengine./mmcv./mmaction. is read as a class that runs nothing."""
    marker = tmp_path / "pwned"
    fake = types.ModuleType("mmcv")  # pickled as the global "mmcv.touch"

    def touch(path):
        Path(path).touch()

    touch.__module__, touch.__qualname__ = fake.__name__, "touch"
    fake.touch = touch
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    path = write_malicious(tmp_path / "stub.pth", Call(touch, str(marker)))
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    load_checkpoint(path, allow_unsafe=True)
    assert marker.exists()  # the payload is real


def test_real_openmmlab_checkpoints_still_load(tmp_path):
    """meta with numpy scalars and arrays, as MMAction2 0.x/1.x files carry."""
    meta = {
        "epoch": 3,
        "seed": np.int64(42),
        "lr": np.float64(0.01),
        "hist": np.arange(4, dtype=np.float32),
        "flags": np.array([True, False]),
    }
    path = tmp_path / "mm.pth"
    torch.save({"meta": meta, "state_dict": {"w": torch.ones(2)}}, path)
    loaded = load_checkpoint(path)
    assert loaded["meta"]["seed"] == 42 and loaded["meta"]["lr"] == 0.01
    assert np.array_equal(loaded["meta"]["hist"], np.arange(4, dtype=np.float32))


def test_no_other_module_unpickles():
    """Every entry point reads files through load_checkpoint: no other torch.load/pickle.load."""
    root = Path(__file__).resolve().parents[1] / "vidlab"
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "checkpoint.py" and path.parent == root:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("load", "loads"):
                base = node.value
                if isinstance(base, ast.Name) and base.id in ("torch", "pickle", "dill"):
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, offenders
