"""The run's state: :class:`TrainState`, RNG states, the :class:`Runner` context, resuming.

``TrainState`` is the loop's only mutable state. A checkpoint (:meth:`Runner.checkpoint_state`)
holds it with the model, optimizer, schedules, scaler, EMA, hooks and RNG states, so that a
resumed run (:func:`resume`) ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from vidlab.checkpoint import (
    CheckpointError,
    find_last_checkpoint,
    load_checkpoint,
    load_weights,
    model_state_dict,
    save_checkpoint,
)
from vidlab.engine.build import cfg_get

__all__ = [
    "Runner",
    "TrainState",
    "get_rng_state",
    "resolve_resume",
    "resume",
    "seed_everything",
    "set_rng_state",
]


@dataclass
class TrainState:
    """The loop's mutable state.

    Attributes:
        epoch: epochs completed.
        iter: iterations completed (over all epochs).
        seed: the run's seed.
        best: best validation score per ``save_best`` key.
        last_checkpoint: the newest checkpoint written.
    """

    epoch: int = 0
    iter: int = 0
    seed: int | None = None
    best: dict = field(default_factory=dict)
    last_checkpoint: str | None = None

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            if hasattr(self, key):
                setattr(self, key, value)


# --------------------------------------------------------------------------------------------
# seeds and RNG states
# --------------------------------------------------------------------------------------------


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and torch; ``deterministic``: deterministic algorithms only."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def get_rng_state() -> dict:
    """Python, NumPy, torch (and CUDA, once initialized) RNG states, picklable."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (np_state[0], np_state[1].tolist(), *np_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore :func:`get_rng_state`; CUDA states only on as many devices as were saved."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def _cfg_text(cfg) -> str:
    if hasattr(cfg, "pretty_text"):
        try:
            return cfg.pretty_text()
        except Exception as e:  # a config holding objects may not print as source
            return f"# config could not be printed as source: {e}\n{cfg!r}"
    return repr(cfg)


# --------------------------------------------------------------------------------------------
# the run context handed to hooks
# --------------------------------------------------------------------------------------------


class Runner:
    """Everything a run holds; hooks read it and call ``log`` / ``save_checkpoint``.

    Attributes:
        cfg, work_dir, is_main: the config, the output directory, whether this is rank 0.
        state: the :class:`TrainState`.
        task: the :class:`vidlab.tasks.Task` of the run.
        model, train_model: the model, and the same wrapped for training (DDP, compile).
        optimizer, schedulers, scaler, ema: built from the config (None when not used).
        max_epochs, iters_per_epoch: the length of the run.
        bad_samples: path -> reason of the samples skipped with ``on_error='skip'``.
    """

    def __init__(self, cfg, work_dir: Path, is_main: bool):
        self.cfg = cfg
        self.work_dir = work_dir
        self.is_main = is_main
        self.state = TrainState()
        self.task = None
        self.hooks: list = []
        self.model = self.train_model = None
        self.optimizer = self.schedulers = self.scaler = self.ema = None
        self.group_names: list = []
        self.max_epochs = 1
        self.iters_per_epoch = 1
        self._t0 = time.perf_counter()
        self._iter0 = 0
        self._log_file = work_dir / "train.log" if is_main else None
        self.has_bn = False
        self.static_loss_scale: float | None = None
        self.bad_samples: dict[str, str] = {}
        self.num_skipped = 0  # samples skipped in the current epoch

    def log(self, message: str, echo: bool = True) -> None:
        """Append ``message`` to ``train.log`` (and print it) on the main process."""
        if not self.is_main:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self._log_file, "a") as f:
            f.write(f"{stamp} {message}\n")
        if echo:
            print(message, flush=True)

    def start_timer(self) -> None:
        """Measure the remaining time from now (after a resume: from the resumed iteration)."""
        self._t0 = time.perf_counter()
        self._iter0 = self.state.iter

    def eta_seconds(self) -> float | None:
        done = self.state.iter - self._iter0
        if done <= 0:
            return None
        per_iter = (time.perf_counter() - self._t0) / done
        return per_iter * (self.max_epochs * self.iters_per_epoch - self.state.iter)

    def checkpoint_state(self) -> dict:
        """Everything a resume needs, and the weights to test or deploy."""
        import vidlab

        weights = model_state_dict(self.ema.module if self.ema is not None else self.model)
        state = {
            "meta": {
                "epoch": self.state.epoch,
                "iter": self.state.iter,
                "vidlab_version": vidlab.__version__,
                "config": _cfg_text(self.cfg),
                "seed": self.state.seed,
                "group_names": list(self.group_names),
                "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            },
            # The weights to test/deploy: the moving average when EMA is on, as in MMEngine.
            "state_dict": weights,
            "optimizer": self.optimizer.state_dict(),
            "schedulers": self.schedulers.state_dict() if self.schedulers is not None else {},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": get_rng_state(),
            "train_state": self.state.state_dict(),
            "hooks": {type(h).__name__: h.state_dict() for h in self.hooks},
        }
        if self.ema is not None:  # the raw training weights, needed to resume
            state["model_state_dict"] = model_state_dict(self.model)
        return state

    def save_checkpoint(self, path: Path, record: bool = True) -> None:
        """Write the full state to ``path``; ``record``: it becomes ``state.last_checkpoint``."""
        if record:
            self.state.last_checkpoint = str(path)
        save_checkpoint(path, self.checkpoint_state())

    def call(self, event: str, *args) -> None:
        """Call ``event`` on every hook, in priority order."""
        for hook in self.hooks:
            getattr(hook, event)(self, *args)


# --------------------------------------------------------------------------------------------
# resume
# --------------------------------------------------------------------------------------------


def resolve_resume(resume, cfg, work_dir: Path) -> Path | None:
    """The checkpoint to resume from: ``resume`` (True/'auto': the newest in ``work_dir``, a
    path, False) or, when None, the config's ``resume`` / ``load_from`` as in MMEngine."""
    if resume is None:
        resume = bool(cfg_get(cfg, "resume", False))
        if resume and cfg_get(cfg, "load_from"):
            return Path(cfg_get(cfg, "load_from"))  # MMEngine: resume=True + load_from = that file
    if resume is False or resume is None:
        return None
    if resume is True or resume == "auto":
        found = find_last_checkpoint(work_dir)
        if found is None:
            raise CheckpointError(
                f"no checkpoint found in {work_dir} to resume from (looked for "
                "'last_checkpoint' and epoch_*.pth). To start fresh, run without --resume "
                "(resume=False); to resume from a file, pass its path: --resume PATH"
            )
        return found
    return Path(resume)


def resume(runner: Runner, path: Path) -> dict:
    """Load model, optimizer, schedules, scaler, EMA, state and hooks from ``path``.

    The RNG states are returned in the checkpoint (``["rng"]``), not restored here: the caller
    restores them last, so that nothing built after this shifts the random streams.
    """
    ckpt = load_checkpoint(path)
    for key in ("optimizer", "train_state"):
        if key not in ckpt:
            raise CheckpointError(
                f"{path} has no '{key}' entry, so training cannot resume from it (it holds "
                "weights only). To fine-tune from its weights, use load_from instead of resume"
            )
    weights = ckpt.get("model_state_dict") or ckpt["state_dict"]
    load_weights(runner.model, weights, strict=True)
    saved_groups = ckpt.get("meta", {}).get("group_names")
    if saved_groups is not None:
        from vidlab.engine.param_groups import compare_group_layout

        # Only the structure must agree: a changed lr (another auto_scale_lr factor) is fine,
        # the checkpoint's values come back with the optimizer state.
        diffs = compare_group_layout(saved_groups, runner.group_names, structure_only=True)
        if diffs:
            raise CheckpointError(
                f"{path}: the optimizer's parameter groups differ from the checkpoint's, so "
                "its state cannot be restored:\n  " + "\n  ".join(diffs) + "\nUse the same "
                "optim_wrapper (paramwise_cfg, constructor) as the run that wrote it, or start "
                "from its weights with load_from"
            )
    try:
        runner.optimizer.load_state_dict(ckpt["optimizer"])
    except ValueError as e:
        raise CheckpointError(
            f"{path}: the optimizer state does not fit the current parameter groups ({e})"
        ) from e
    if runner.schedulers is not None and ckpt.get("schedulers"):
        runner.schedulers.load_state_dict(ckpt["schedulers"])
    if runner.scaler is not None and ckpt.get("scaler"):
        runner.scaler.load_state_dict(ckpt["scaler"])
    if runner.ema is not None and ckpt.get("ema"):
        runner.ema.load_state_dict(ckpt["ema"])
    runner.state.load_state_dict(ckpt["train_state"])
    hook_states = ckpt.get("hooks", {})
    for hook in runner.hooks:
        if type(hook).__name__ in hook_states:
            hook.load_state_dict(hook_states[type(hook).__name__])
    return ckpt
