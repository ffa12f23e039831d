"""vidlab.engine.distributed: launcher environments, single-process identities, and real 2-process
Gloo runs on the CPU (torchrun as a subprocess), plus the launch scripts with stand-ins for
python and srun."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from vidlab.engine import distributed as D

REPO = Path(__file__).resolve().parents[2]
TORCHRUN_TIMEOUT_S = 120  # a hung collective must fail the test, not the CI run


# ------------------------------------------------------------------------------------------------
# Environment parsing
# ------------------------------------------------------------------------------------------------

TORCHRUN_ENV = dict(
    RANK="3", WORLD_SIZE="8", LOCAL_RANK="1", MASTER_ADDR="10.0.0.5", MASTER_PORT="29611"
)


def test_pytorch_env():
    info = D.dist_env("pytorch", env=TORCHRUN_ENV, num_gpus=0)
    assert info == dict(
        rank=3, world_size=8, local_rank=1, master_addr="10.0.0.5", master_port=29611
    )


def test_pytorch_env_from_os_environ(monkeypatch):
    for k, v in TORCHRUN_ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("LOCAL_RANK")  # torch.distributed.launch without --use_env
    info = D.dist_env("pytorch", num_gpus=2)
    assert (info["rank"], info["local_rank"]) == (3, 1)  # rank % GPUs per node


def test_pytorch_env_missing_names_every_variable_and_how_to_launch(monkeypatch):
    for k in TORCHRUN_ENV:
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(D.LaunchError) as err:
        D.init_distributed("pytorch")
    msg = str(err.value)
    assert "RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT" in msg
    assert "torchrun" in msg and "dist_train.sh" in msg and "--launcher none" in msg


def test_bad_values():
    with pytest.raises(ValueError, match="RANK='x' is not an integer"):
        D.dist_env("pytorch", env={**TORCHRUN_ENV, "RANK": "x"})
    with pytest.raises(ValueError, match="rank 8 is outside world size 8"):
        D.dist_env("pytorch", env={**TORCHRUN_ENV, "RANK": "8"})
    with pytest.raises(ValueError, match="not one of"):
        D.init_distributed("mpi")


@pytest.fixture
def no_scontrol(monkeypatch):
    real_which = D.shutil.which
    monkeypatch.setattr(D.shutil, "which", lambda n: None if n == "scontrol" else real_which(n))


SLURM_ENV = dict(
    SLURM_PROCID="5", SLURM_NTASKS="16", SLURM_LOCALID="1", SLURM_NODELIST="gpu-node[007-008]"
)


def test_slurm_env(no_scontrol):
    info = D.dist_env("slurm", env=SLURM_ENV, num_gpus=8)
    assert info == dict(
        rank=5, world_size=16, local_rank=1, master_addr="gpu-node007", master_port=29500
    )
    # MASTER_PORT wins over PORT, PORT over the default; an explicit MASTER_ADDR wins.
    env = {**SLURM_ENV, "PORT": "30001"}
    assert D.dist_env("slurm", env=env)["master_port"] == 30001
    env = {**env, "MASTER_PORT": "30002", "MASTER_ADDR": "head"}
    got = D.dist_env("slurm", env=env)
    assert (got["master_port"], got["master_addr"]) == (30002, "head")
    # No SLURM_LOCALID: rank modulo the GPUs of the node.
    env = {k: v for k, v in SLURM_ENV.items() if k != "SLURM_LOCALID"}
    assert D.dist_env("slurm", env=env, num_gpus=4)["local_rank"] == 1


def test_config_port_is_the_slurm_default_after_the_variables(no_scontrol):
    """MMAction2's getting-started guide runs two SLURM jobs on one machine with
    `dist_params=dict(port=...)` (1.x: `env_cfg.dist_cfg.port`) in each config."""
    from vidlab.compat import upgrade_config
    from vidlab.config import load_config

    cfg = load_config({"env_cfg": {"dist_cfg": {"backend": "nccl", "port": 29517}}})
    assert D.config_port(cfg) == 29517
    old, _ = upgrade_config({"dist_params": {"port": 29518}, "total_epochs": 1})
    assert D.config_port(old) == 29518
    assert D.config_port(load_config({"env_cfg": {"dist_cfg": {"backend": "nccl"}}})) is None
    assert D.config_port({}) is None
    assert D.dist_env("slurm", env=SLURM_ENV, port=29517)["master_port"] == 29517
    assert (
        D.dist_env("slurm", env={**SLURM_ENV, "PORT": "30001"}, port=29517)["master_port"] == 30001
    )


@pytest.mark.parametrize(
    "nodelist, host",
    [
        ("node1", "node1"),
        ("node1,node2", "node1"),
        ("node[01-04,07]", "node01"),
        ("node[3,5-6]", "node3"),
        ("gpu-[12-13]-ib", "gpu-12-ib"),
        ("a[1-2],b3", "a1"),
        ("rack[2-3]-n[08-09]", "rack2-n08"),
    ],
)
def test_first_host_parsing(nodelist, host, no_scontrol):
    assert D.first_host(nodelist) == host


def test_first_host_asks_scontrol_when_present(tmp_path, monkeypatch):
    fake = tmp_path / "scontrol"
    fake.write_text("#!/bin/sh\n[ \"$1 $2\" = 'show hostnames' ] && printf 'hostA\\nhostB\\n'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert D.first_host("whatever[1-2]") == "hostA"


def test_slurm_env_missing(monkeypatch):
    for k in SLURM_ENV:
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(D.LaunchError) as err:
        D.init_distributed("slurm")
    assert "SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST" in str(err.value)
    assert "slurm_train.sh" in str(err.value)


# ------------------------------------------------------------------------------------------------
# One process: everything is the identity
# ------------------------------------------------------------------------------------------------


def test_single_process_identities():
    info = D.init_distributed("none")
    assert (info.rank, info.world_size, info.distributed, info.is_main) == (0, 1, False, True)
    assert info.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert D.get_rank() == 0 and D.get_world_size() == 1 and D.is_main_process()
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    assert D.wrap_model(model, info.device, sync_bn=True) is model
    t = torch.tensor([1.0, 3.0])
    assert D.all_reduce_mean(t) is t
    assert D.gather_ordered(["a", "b", "c"], 3) == ["a", "b", "c"]
    assert D.broadcast_object({"x": 1}) == {"x": 1}
    assert D.sync_random_seed(7) == 7
    D.barrier()
    D.cleanup()


def test_unwrap_compiled():
    class OptimizedModule(nn.Module):  # torch.compile's wrapper, without importing dynamo (slow)
        def __init__(self, mod):
            super().__init__()
            self._orig_mod = mod

    model = nn.Linear(2, 2)
    assert D.unwrap(OptimizedModule(nn.DataParallel(model))) is model
    assert D.unwrap(model) is model


# ------------------------------------------------------------------------------------------------
# Two real processes (Gloo on the CPU)
# ------------------------------------------------------------------------------------------------


def run_torchrun(script: Path, *args: str, nproc: int = 2, timeout: float = TORCHRUN_TIMEOUT_S):
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OMP_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(script),
        *args,
    ]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"torchrun did not finish in {timeout} s:\n{err.stdout}\n{err.stderr}")
    assert proc.returncode == 0, f"torchrun failed:\n{proc.stdout}\n{proc.stderr[-6000:]}"
    return proc


COLLECTIVES_WORKER = textwrap.dedent(
    """
    import hashlib, json, sys
    import torch
    from torch import nn
    from vidlab.engine import distributed as D

    out_dir = sys.argv[1]
    info = D.init_distributed("pytorch")
    assert info.backend == "gloo" and info.device.type == "cpu", info
    r, w = info.rank, info.world_size
    res = {"rank": r, "world_size": w, "local_rank": info.local_rank}

    # 7 samples on 2 ranks, padded to 8: rank 0 sees 0,2,4,6 and rank 1 sees 1,3,5,0.
    num = 7
    padded = list(range(num)) + list(range(num))[: (-num) % w]
    mine = padded[r::w]
    res["padded"] = D.gather_ordered([{"index": i, "rank": r} for i in mine], num)
    # Without padding (round_up=False): 4 and 3 samples.
    res["unpadded"] = D.gather_ordered(list(range(num))[r::w], num)
    try:
        D.gather_ordered(list(range(num))[r::w][:1], num)
    except RuntimeError as e:
        res["short_error"] = str(e)

    t = torch.tensor([float(r), 10.0 * r])
    res["mean"] = D.all_reduce_mean(t).tolist()
    res["input_untouched"] = t.tolist()
    res["int_mean"] = D.all_reduce_mean(torch.tensor([r + 1])).tolist()
    res["bcast"] = D.broadcast_object({"from": r})
    res["seed_same"] = D.sync_random_seed()

    # DDP: sync_bn is kept as BatchNorm on the CPU; the gradients are averaged so that both
    # ranks end with the same weights although each sees different data.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    ddp = D.wrap_model(model, info.device, sync_bn=True)
    res["wrapped"] = type(ddp).__name__
    res["unwrap_is_model"] = D.unwrap(ddp) is model
    res["bn_kept"] = type(model[1]).__name__
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    g = torch.Generator().manual_seed(100 + r)  # different data per rank
    for _ in range(3):
        x, y = torch.randn(6, 4, generator=g), torch.randint(0, 3, (6,), generator=g)
        loss = nn.functional.cross_entropy(ddp(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        if v.is_floating_point():  # the BN running stats differ per rank by design
            if "running" not in k:
                h.update(k.encode()); h.update(v.numpy().tobytes())
    res["weights_sha"] = h.hexdigest()

    # A branch unused in the step (docs/faq.md: "Expected to have finished reduction"): DDP
    # needs find_unused_parameters=True, which wrap_model passes on (the config's top-level key).
    class OneBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.used(x)

    branchy = D.wrap_model(OneBranch(), info.device, find_unused_parameters=True)
    for _ in range(2):  # without the option DDP raises at the second step
        branchy.zero_grad()
        branchy(torch.ones(2, 4)).sum().backward()
    res["unused_branch_steps"] = 2
    # A frozen stage (requires_grad=False, as frozen_stages sets) needs no such option.
    frozen = OneBranch()
    frozen.unused.requires_grad_(False)
    frozen.forward = lambda x: frozen.used(frozen.unused(x).repeat(1, 2))
    plain = D.wrap_model(frozen, info.device)
    for _ in range(2):
        plain.zero_grad()
        plain(torch.ones(2, 4)).sum().backward()
    res["frozen_steps"] = 2
    # DDP wrappers must go before the process group does: a reducer destroyed after it (at
    # exit) aborts the process ("terminate called without an active exception"), often
    # under load with find_unused_parameters=True
    del ddp, branchy, plain
    import gc

    gc.collect()
    D.barrier()
    with open(f"{out_dir}/rank{r}.json", "w") as f:
        json.dump(res, f)
    D.cleanup()
    """
)


def test_collectives_and_ddp_on_two_gloo_processes(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(COLLECTIVES_WORKER)
    run_torchrun(script, str(tmp_path))
    res = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for r, got in enumerate(res):
        assert (got["rank"], got["world_size"], got["local_rank"]) == (r, 2, r)
        # Dataset order, the padded duplicate of sample 0 dropped: each sample exactly once.
        assert [d["index"] for d in got["padded"]] == list(range(7))
        assert [d["rank"] for d in got["padded"]] == [0, 1, 0, 1, 0, 1, 0]
        assert got["unpadded"] == list(range(7))
        assert "2 results from 2 processes" in got["short_error"]
        assert got["mean"] == [0.5, 5.0] and got["input_untouched"] == [float(r), 10.0 * r]
        assert got["int_mean"] == [1.5]
        assert got["bcast"] == {"from": 0}
        assert got["wrapped"] == "DistributedDataParallel" and got["unwrap_is_model"]
        assert got["bn_kept"] == "BatchNorm1d"
    assert res[0]["seed_same"] == res[1]["seed_same"]
    assert res[0]["weights_sha"] == res[1]["weights_sha"]
    assert res[0]["unused_branch_steps"] == res[1]["unused_branch_steps"] == 2
    assert res[0]["frozen_steps"] == res[1]["frozen_steps"] == 2


# ------------------------------------------------------------------------------------------------
# Launch scripts, with stand-ins that print their arguments
# ------------------------------------------------------------------------------------------------


def _stub(path: Path) -> Path:
    path.write_text(
        '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n'
        'printf "PYTHONPATH=%s\\n" "$PYTHONPATH"\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _run_script(name, *args, env_extra=None, tmp_path):
    env = {**os.environ, "PYTHON": str(_stub(tmp_path / "python")), **(env_extra or {})}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    for k in (
        "NNODES",
        "NODE_RANK",
        "PORT",
        "MASTER_PORT",
        "MASTER_ADDR",
        "GPUS",
        "GPUS_PER_NODE",
        "CPUS_PER_TASK",
        "SRUN_ARGS",
    ):
        if k not in (env_extra or {}):
            env.pop(k, None)
    proc = subprocess.run(
        ["bash", str(REPO / "tools" / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc


def test_dist_train_script(tmp_path):
    proc = _run_script(
        "dist_train.sh",
        "cfg.py",
        "4",
        "--seed",
        "1",
        "--work-dir",
        "a b",
        tmp_path=tmp_path,
        env_extra={"NNODES": "2", "PORT": "29999"},
    )
    assert proc.returncode == 0, proc.stderr
    argv = proc.stdout.splitlines()
    assert argv[:6] == [
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--node_rank=0",
        "--master_addr=127.0.0.1",
        "--nproc_per_node=4",
    ]
    assert argv[6:15] == [
        "--master_port=29999",
        "-m",
        "vidlab.cli.main",
        "train",
        "cfg.py",
        "--launcher",
        "pytorch",
        "--seed",
        "1",
    ]
    assert argv[15:17] == ["--work-dir", "a b"]  # spaces survive
    assert argv[17].startswith(f"PYTHONPATH={REPO / 'tools'}/..")


def test_dist_test_script_and_usage(tmp_path):
    proc = _run_script(
        "dist_test.sh", "cfg.py", "ckpt.pth", "2", "--out", "r.json", tmp_path=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    argv = proc.stdout.splitlines()
    assert "--master_port=29500" in argv
    i = argv.index("vidlab.cli.main")
    assert argv[i + 1 : i + 8] == [
        "test",
        "cfg.py",
        "ckpt.pth",
        "--launcher",
        "pytorch",
        "--out",
        "r.json",
    ]
    proc = _run_script("dist_test.sh", "cfg.py", tmp_path=tmp_path)
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_slurm_scripts(tmp_path):
    _stub(tmp_path / "srun")
    proc = _run_script(
        "slurm_train.sh",
        "p1",
        "job",
        "cfg.py",
        "--amp",
        tmp_path=tmp_path,
        env_extra={"GPUS": "16", "SRUN_ARGS": "--quotatype=auto --exclusive"},
    )
    assert proc.returncode == 0, proc.stderr
    argv = proc.stdout.splitlines()
    assert argv[:8] == [
        "-p",
        "p1",
        "--job-name=job",
        "--gres=gpu:8",
        "--ntasks=16",
        "--ntasks-per-node=8",
        "--cpus-per-task=5",
        "--kill-on-bad-exit=1",
    ]
    assert argv[8:10] == ["--quotatype=auto", "--exclusive"]
    assert argv[11:][:8] == [
        "-u",
        "-m",
        "vidlab.cli.main",
        "train",
        "cfg.py",
        "--launcher",
        "slurm",
        "--amp",
    ]
    # Fewer GPUs than a node: as many tasks per node as GPUs.
    proc = _run_script(
        "slurm_test.sh", "p1", "job", "cfg.py", "c.pth", tmp_path=tmp_path, env_extra={"GPUS": "2"}
    )
    argv = proc.stdout.splitlines()
    assert "--ntasks-per-node=2" in argv and "--gres=gpu:2" in argv
    i = argv.index("vidlab.cli.main")
    assert argv[i + 1 : i + 6] == ["test", "cfg.py", "c.pth", "--launcher", "slurm"]


# ------------------------------------------------------------------------------------------------
# End to end: vidlab.engine.train.train / test on two Gloo processes
# ------------------------------------------------------------------------------------------------

E2E_WORKER = textwrap.dedent(
    """
    import hashlib, json, sys
    import torch
    sys.path.insert(0, sys.argv[2])  # tests/engine: the tiny model and in-memory dataset
    from engine_helpers import InMemoryDataset, make_cfg
    from vidlab.engine import distributed as D
    from vidlab.engine.train import test as run_test, train

    NUM_VAL = 7  # odd: the sampler pads rank 1 with a copy of sample 0


    class CountingMetric:
        # How many samples the evaluation saw, and whether they came in dataset order.
        def __init__(self, num_samples):
            self.expected = InMemoryDataset(num_samples=num_samples, test_mode=True).labels

        def compute(self, scores, labels):
            return {"count": float(len(labels)),
                    "in_order": float(list(map(int, labels)) == self.expected)}


    out_dir = sys.argv[1]
    cfg = make_cfg(f"{out_dir}/work", max_epochs=2)
    cfg["train_dataloader"].update(batch_size=3)  # 12 samples: 6 per rank, 2 iterations
    for key in ("val_dataloader", "test_dataloader"):
        cfg[key]["dataset"]["num_samples"] = NUM_VAL
    cfg["val_evaluator"] = [dict(type="AccMetric"), dict(type=CountingMetric, num_samples=NUM_VAL)]
    cfg["test_evaluator"] = cfg["val_evaluator"]
    cfg["default_hooks"]["sync_buffers"] = dict(type="SyncBuffersHook")
    result = train(cfg, launcher="pytorch")
    model = result["model"]

    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())

    # The same accuracy computed here, on this process alone, over every validation sample.
    model.eval()
    val = InMemoryDataset(num_samples=NUM_VAL, num_views=2, test_mode=True)
    with torch.no_grad():
        hits = sum(int(model.average_views(model(val[i]["clips"]), 2).argmax(1).item() == val.labels[i])
                   for i in range(NUM_VAL))

    # Only rank 0 saves; every rank reads the file it wrote.
    tested = run_test(cfg, f"{out_dir}/work/epoch_2.pth", launcher="pytorch")
    res = dict(rank=D.get_rank(), sha=h.hexdigest(), metrics=result["metrics"], iter=result["iter"],
               local_top1=hits / NUM_VAL, test_metrics=tested["metrics"],
               test_indices=[p["index"] for p in tested["predictions"]])
    with open(f"{out_dir}/rank{D.get_rank()}.json", "w") as f:
        json.dump(res, f)
    D.cleanup()
    """
)


@pytest.mark.slow
def test_ddp_train_and_test_end_to_end(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(E2E_WORKER)
    run_torchrun(script, str(tmp_path), str(REPO / "tests" / "engine"))
    res = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert res[0]["sha"] == res[1]["sha"]  # identical weights and (synced) BN buffers
    for got in res:
        assert got["iter"] == 4  # 2 epochs x (6 samples per rank / batch 3)
        m = got["metrics"]
        assert m["count"] == 7 and m["in_order"] == 1.0  # each val sample exactly once
        assert m["acc/top1"] == pytest.approx(got["local_top1"], abs=1e-6)
        assert got["test_metrics"]["count"] == 7 and got["test_metrics"]["in_order"] == 1.0
        assert got["test_indices"] == list(range(7))
    # Only rank 0 writes the log: one train record per iteration, one val record per epoch.
    records = [json.loads(line) for line in (tmp_path / "work" / "log.jsonl").open()]
    assert sum(r["mode"] == "train" for r in records) == 4
    assert sum(r["mode"] == "val" for r in records) == 2
    assert (tmp_path / "work" / "epoch_2.pth").is_file()
