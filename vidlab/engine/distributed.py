"""Distributed training on PyTorch's own engine: ``torch.distributed`` + ``DistributedDataParallel``.

Three launchers, as in MMAction2 / MMEngine:

- ``"none"``: one process; every helper here is then the identity (no process group).
- ``"pytorch"``: started by ``torchrun`` (``tools/dist_train.sh``), which sets ``RANK``,
  ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``.
- ``"slurm"``: started by ``srun`` (``tools/slurm_train.sh``); rank, world size and local rank come
  from ``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``, the master address is the first host
  of ``SLURM_NODELIST``, the port is ``MASTER_PORT``, else ``PORT``, else the config's
  ``env_cfg.dist_cfg.port`` (0.x: ``dist_params=dict(port=...)``), else 29500.

The backend is NCCL on CUDA and Gloo on the CPU. Evaluation splits the dataset with an interleaved
sampler (rank ``r`` gets ``indices[r::world_size]`` of a padded index list); :func:`gather_ordered`
puts the per-rank results back in dataset order and drops the padding, so that every sample counts
exactly once.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

logger = logging.getLogger(__name__)

LAUNCHERS = ("none", "pytorch", "slurm")
DEFAULT_PORT = 29500

_PYTORCH_HELP = (
    "Start one process per GPU with torchrun, e.g.\n"
    "  torchrun --nproc_per_node=2 -m vidlab.cli.main train CONFIG --launcher pytorch\n"
    "or with the script: bash tools/dist_train.sh CONFIG 2\n"
    "(for a single process, use --launcher none)."
)
_SLURM_HELP = (
    "Start the job with srun, e.g. bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG\n"
    "(GPUS=16 GPUS_PER_NODE=8 for two nodes); for a single process, use --launcher none."
)


class LaunchError(RuntimeError):
    """The process was not started the way its launcher needs; the message says how to start it."""


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in the job.

    Attributes:
        rank: global rank, 0..world_size-1.
        world_size: number of processes.
        local_rank: rank on this node (the GPU index on CUDA).
        device: the device this process computes on.
        launcher: the launcher that started the job.
        backend: the process group's backend ("nccl", "gloo"), None for a single process.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    launcher: str = "none"
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


# ------------------------------------------------------------------------------------------------
# Environment parsing (pure functions: testable without a process group)
# ------------------------------------------------------------------------------------------------


def _missing(env: dict, names: Sequence[str]) -> list[str]:
    return [n for n in names if not str(env.get(n, "")).strip()]


def _int_env(env: dict, name: str) -> int:
    value = env[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def first_host(nodelist: str) -> str:
    """The first host name of a SLURM node list.

    Uses ``scontrol show hostnames`` when it is on PATH (it understands every form SLURM
    writes); otherwise parses the common forms: ``node1``, ``node1,node2``, ``node[01-04,07]``,
    ``gpu-[3,5]-ib``, ``a[1-2],b3``.
    """
    nodelist = nodelist.strip()
    if not nodelist:
        raise ValueError("SLURM_NODELIST is empty")
    scontrol = shutil.which("scontrol")
    if scontrol:
        try:
            out = subprocess.run(
                [scontrol, "show", "hostnames", nodelist],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.split()
            if out:
                return out[0]
        except (OSError, subprocess.SubprocessError):
            pass  # fall back to parsing
    # First top-level entry: split on commas outside brackets.
    depth, end = 0, len(nodelist)
    for i, ch in enumerate(nodelist):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            end = i
            break
    entry = nodelist[:end]
    m = re.fullmatch(r"([^\[\]]*)\[([^\]]*)\](.*)", entry)
    if m is None:
        return entry
    prefix, ranges, suffix = m.groups()
    first = re.split(r"[,-]", ranges, maxsplit=1)[0]  # keeps zero padding: "01-04" -> "01"
    # A suffix may itself hold a bracket range (node[1-2]-ib[3-4]): expand recursively.
    return prefix + first + (first_host(suffix) if "[" in suffix else suffix)


def dist_env(
    launcher: str, env: dict | None = None, num_gpus: int | None = None, port: int | None = None
) -> dict:
    """Read the job's layout from the launcher's environment variables.

    Args:
        launcher: ``"pytorch"`` or ``"slurm"``.
        env: the environment (default ``os.environ``).
        num_gpus: GPUs visible on this node (default: ``torch.cuda.device_count()``); used
            only when the launcher gives no local rank.
        port: the config's port (``env_cfg.dist_cfg.port``), used by the SLURM launcher when
            neither ``MASTER_PORT`` nor ``PORT`` is set (torchrun always sets its own).

    Returns:
        dict with ``rank``, ``world_size``, ``local_rank``, ``master_addr``, ``master_port``.

    Raises:
        LaunchError: a variable the launcher must set is missing; the message names them all
            and says how to launch.
        ValueError: unknown launcher or a malformed value.
    """
    env = os.environ if env is None else env
    if num_gpus is None:
        num_gpus = torch.cuda.device_count()
    if launcher == "pytorch":
        required = ["RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"]
        missing = _missing(env, required)
        if missing:
            raise LaunchError(
                f"--launcher pytorch needs the environment variables that torchrun sets; "
                f"missing: {', '.join(missing)}.\n{_PYTORCH_HELP}"
            )
        rank, world_size = _int_env(env, "RANK"), _int_env(env, "WORLD_SIZE")
        local_rank = (
            _int_env(env, "LOCAL_RANK")
            if str(env.get("LOCAL_RANK", "")).strip()
            else rank % max(num_gpus, 1)
        )
        addr, port = env["MASTER_ADDR"], _int_env(env, "MASTER_PORT")
    elif launcher == "slurm":
        required = ["SLURM_PROCID", "SLURM_NTASKS", "SLURM_NODELIST"]
        missing = _missing(env, required)
        if missing:
            raise LaunchError(
                f"--launcher slurm needs the environment variables that srun sets; "
                f"missing: {', '.join(missing)}.\n{_SLURM_HELP}"
            )
        rank, world_size = _int_env(env, "SLURM_PROCID"), _int_env(env, "SLURM_NTASKS")
        local_rank = (
            _int_env(env, "SLURM_LOCALID")
            if str(env.get("SLURM_LOCALID", "")).strip()
            else rank % max(num_gpus, 1)
        )
        # An explicit MASTER_ADDR wins (multi-node jobs behind NAT); else the first node.
        addr = env.get("MASTER_ADDR") or first_host(env["SLURM_NODELIST"])
        if str(env.get("MASTER_PORT", "")).strip():
            port = _int_env(env, "MASTER_PORT")
        elif str(env.get("PORT", "")).strip():
            port = _int_env(env, "PORT")
        elif port is not None:
            port = int(port)
        else:
            port = DEFAULT_PORT
    else:
        raise ValueError(
            f"launcher={launcher!r} has no environment to read; use one of {LAUNCHERS}"
        )
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside world size {world_size} ({launcher} launcher)")
    return dict(
        rank=rank, world_size=world_size, local_rank=local_rank, master_addr=addr, master_port=port
    )


# ------------------------------------------------------------------------------------------------
# Process group
# ------------------------------------------------------------------------------------------------


def is_distributed() -> bool:
    """True when a process group is up (even of size 1)."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def _default_device(local_rank: int) -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(
    launcher: str = "none",
    backend: str | None = None,
    timeout_s: float = 1800.0,
    port: int | None = None,
) -> DistInfo:
    """Set up this process for the launcher and return where it stands.

    Args:
        launcher: ``"none"``, ``"pytorch"`` (torchrun) or ``"slurm"`` (srun).
        backend: ``"nccl"`` or ``"gloo"``; default NCCL when CUDA is available, else Gloo.
        timeout_s: how long collectives wait for a peer before failing.
        port: the config's ``env_cfg.dist_cfg.port`` (see :func:`dist_env`).

    Returns:
        DistInfo. With ``"none"`` no process group is created; the device is ``cuda:0`` (the
        current CUDA device) when CUDA is available, else the CPU.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher={launcher!r} is not one of {LAUNCHERS}")
    if launcher == "none":
        if is_distributed():  # somebody set it up already (a test, a notebook): use it
            return _current_info("none")
        device = _default_device(torch.cuda.current_device() if torch.cuda.is_available() else 0)
        return DistInfo(device=device)

    if not dist.is_available():
        raise LaunchError("this PyTorch build has no torch.distributed; use --launcher none")
    info = dist_env(launcher, port=port)
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl" and not torch.cuda.is_available():
        raise LaunchError(
            "backend 'nccl' needs CUDA, which is not available here; use 'gloo' "
            "for distributed training on the CPU"
        )
    local_rank = info["local_rank"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise LaunchError(
                f"local rank {local_rank} has no GPU: only {count} visible on this node "
                f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}); "
                "start at most one process per GPU (--nproc_per_node / GPUS_PER_NODE)"
            )
        torch.cuda.set_device(local_rank)
    # torchrun sets these already; srun does not. init_method="env://" reads them.
    os.environ["MASTER_ADDR"] = str(info["master_addr"])
    os.environ["MASTER_PORT"] = str(info["master_port"])
    os.environ["RANK"] = str(info["rank"])
    os.environ["WORLD_SIZE"] = str(info["world_size"])
    os.environ["LOCAL_RANK"] = str(local_rank)
    if not is_distributed():
        kwargs: dict[str, Any] = {}
        if (
            backend == "nccl"
            and "device_id" in inspect.signature(dist.init_process_group).parameters
        ):
            kwargs["device_id"] = torch.device("cuda", local_rank)  # torch >= 2.3: eager NCCL init
        dist.init_process_group(
            backend=backend, init_method="env://", timeout=timedelta(seconds=timeout_s), **kwargs
        )
    return _current_info(launcher)


def _current_info(launcher: str) -> DistInfo:
    backend = dist.get_backend()
    local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    # The GPU set by local rank whenever there is one (Gloo can run DDP on CUDA tensors too).
    if torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())
    else:
        device = torch.device("cpu")
    return DistInfo(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=local_rank,
        device=device,
        launcher=launcher,
        backend=str(backend),
    )


def barrier() -> None:
    """Wait for every process; a no-op without a process group."""
    if is_distributed() and get_world_size() > 1:
        dist.barrier()


def cleanup() -> None:
    """Tear the process group down once every process got here (idempotent).

    Without the barrier a process can destroy its Gloo group while a peer still talks to it,
    and the peer then aborts at exit ("terminate called without an active exception"). Drop
    DDP-wrapped models first: a DDP reducer destroyed after its group aborts the same way.
    """
    if is_distributed():
        barrier()
        dist.destroy_process_group()


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------


def wrap_model(
    model: nn.Module,
    device: torch.device | str,
    find_unused_parameters: bool = False,
    sync_bn: bool = False,
) -> nn.Module:
    """DistributedDataParallel when there is more than one process, else the model unchanged.

    Args:
        model: the model, on ``device`` or moved there here.
        device: this process's device (``DistInfo.device``).
        find_unused_parameters: DDP's option, for models with branches unused in some steps.
        sync_bn: convert BatchNorm to SyncBatchNorm (CUDA only: on the CPU BatchNorm is kept,
            each process normalizing with its own batch statistics, and a message says so).
    """
    if get_world_size() <= 1:
        return model
    device = torch.device(device)
    if sync_bn:
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        else:
            logger.warning(
                "sync_bn=True ignored: SyncBatchNorm needs CUDA (NCCL); on %s with the %s backend "
                "BatchNorm layers are kept and each process uses its own batch statistics",
                device,
                dist.get_backend(),
            )
    model = model.to(device)
    if device.type == "cuda":
        return nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device.index],
            output_device=device.index,
            find_unused_parameters=find_unused_parameters,
        )
    return nn.parallel.DistributedDataParallel(model, find_unused_parameters=find_unused_parameters)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DDP and/or ``torch.compile`` wrappers."""
    from vidlab.checkpoint import unwrap_model  # one implementation, used by the loop

    return unwrap_model(model)


# ------------------------------------------------------------------------------------------------
# Collectives
# ------------------------------------------------------------------------------------------------


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over all processes (a new tensor; the input is not modified).

    Integer tensors are averaged as float32. Without a process group, returns the tensor.
    """
    if get_world_size() <= 1:
        return tensor
    out = tensor.detach().clone()
    if not out.is_floating_point():
        out = out.float()
    original = out.device
    out = out.to(_collective_device())
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    out /= get_world_size()
    return out.to(original)


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every process (picklable objects)."""
    if get_world_size() <= 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def sync_random_seed(seed: int | None = None) -> int:
    """One seed for all processes: rank 0's ``seed`` (or a random one) broadcast to the others.

    Samplers must shuffle identically on every rank for the interleaved split to partition
    the dataset, so a seed drawn at random must be shared.
    """
    if seed is None:
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
    return int(broadcast_object(seed, src=0))


def gather_ordered(local_results: Sequence, num_samples: int) -> list:
    """Collect per-sample results of an interleaved split in dataset order, padding removed.

    Rank ``r`` evaluated the samples ``indices[r::world_size]`` of an index list padded to a
    multiple of the world size (DistributedSampler / DefaultSampler with ``round_up``), and
    ``local_results`` holds one entry per sample it saw, in its own order. The entries of all
    ranks are gathered (``all_gather_object``, so anything picklable), interleaved back
    (rank 0's first, rank 1's first, ..., rank 0's second, ...) and cut to ``num_samples``, so
    each sample counts exactly once. Flatten per-batch results to per-sample before calling.

    Returns the list on every rank. Without a process group, returns ``list(local_results)``.
    """
    local = list(local_results)
    world_size = get_world_size()
    if world_size <= 1:
        return local
    gathered: list[list | None] = [None] * world_size
    dist.all_gather_object(gathered, local)
    parts = [list(p or ()) for p in gathered]
    total = sum(len(p) for p in parts)
    if total < num_samples:
        sizes = ", ".join(f"rank {r}: {len(p)}" for r, p in enumerate(parts))
        raise RuntimeError(
            f"gather_ordered: {total} results from {world_size} processes ({sizes}) for "
            f"{num_samples} samples; some samples were not evaluated (is drop_last set on the "
            "evaluation loader, or does the sampler not cover the dataset?)"
        )
    longest = max(len(p) for p in parts)
    ordered = [p[i] for i in range(longest) for p in parts if i < len(p)]
    return ordered[:num_samples]


__all__ = [
    "DistInfo",
    "LAUNCHERS",
    "LaunchError",
    "all_reduce_mean",
    "barrier",
    "broadcast_object",
    "cleanup",
    "config_port",
    "dist_env",
    "first_host",
    "gather_ordered",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "sync_random_seed",
    "unwrap",
    "wrap_model",
]


def config_port(cfg) -> int | None:
    """``env_cfg.dist_cfg.port`` of a config (0.x configs' ``dist_params.port`` lands there)."""
    env_cfg = cfg.get("env_cfg") if hasattr(cfg, "get") else None
    dist_cfg = env_cfg.get("dist_cfg") if isinstance(env_cfg, Mapping) else None
    port = dist_cfg.get("port") if isinstance(dist_cfg, Mapping) else None
    return None if port is None else int(port)
