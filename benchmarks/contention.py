"""The quickstart training step on an idle machine and with one busy process per core.

Each measurement runs in a fresh Python process (the OpenMP runtime reads its settings once, at
``import torch``) that builds the model of ``vidlab quickstart`` (TSM-R18, 8 segments) and times
the training step of the quickstart's batch (16 clips of 8 frames at 32x32: forward, loss,
backward, gradient clipping, AdamW step) on the CPU. "Loaded" starts one process per CPU
spinning in a Python loop before the measurement and stops them after.

Two policies, measured in alternation (so that both see the same background load):

- ``torch``: PyTorch's defaults, as ``vidlab train`` ran before (OpenMP threads spin while
  waiting; vidlab's variables removed from the environment);
- ``vidlab``: what the ``vidlab`` command does now (:mod:`vidlab.threads`): passive OpenMP
  waiting and one thread per CPU of the process's affinity.

The result is the loaded / idle ratio of the median step time per policy (target: <= 2.5x).

    python benchmarks/contention.py                  # 3 rounds, 8 timed steps each
    python benchmarks/contention.py --rounds 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POLICIES = ("torch", "vidlab")


# ------------------------------------------------------------------------------------------------
# the measured process
# ------------------------------------------------------------------------------------------------


def child(policy: str, iters: int, warmup: int) -> dict:
    """Median seconds per training step under ``policy`` (runs in its own process)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if policy == "vidlab":
        from vidlab.threads import configure_num_threads, configure_wait_policy

        configure_wait_policy()  # before torch is imported, as the vidlab command does
    import torch

    if policy == "vidlab":
        configure_num_threads()
    from vidlab.config import load_config
    from vidlab.engine.build import build_model
    from vidlab.quickstart import CONFIGS

    torch.manual_seed(0)
    cfg = load_config(CONFIGS["tsm"])
    model = build_model(cfg, torch.device("cpu")).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    batch = int(cfg.train_dataloader.batch_size)
    clips = torch.randint(0, 256, (batch, 3, 8, 32, 32), dtype=torch.uint8)  # (B, C, T, H, W)
    labels = torch.randint(0, int(cfg.num_classes), (batch,))

    def step():
        logits = model(clips)  # (B, K)
        loss = model.loss(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 20)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return {"median_s": statistics.median(times), "threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------------------
# the driver
# ------------------------------------------------------------------------------------------------


_SPIN = "while True: pass"


def _measure(policy: str, loaded: bool, args) -> dict:
    env = dict(os.environ)
    if policy == "torch":
        from vidlab.threads import WAIT_POLICY

        for key in WAIT_POLICY:
            env.pop(key, None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    busy = []
    if loaded:
        busy = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(os.cpu_count() or 1)]
        time.sleep(0.5)
    try:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            policy,
            "--iters",
            str(args.iters),
            "--warmup",
            str(args.warmup),
        ]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    finally:
        for p in busy:
            p.kill()
        for p in busy:
            p.wait()
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds of all 4 runs")
    p.add_argument("--iters", type=int, default=8, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--policies", nargs="+", choices=POLICIES, default=list(POLICIES))
    p.add_argument("--json", help="write the raw numbers here")
    p.add_argument("--child", choices=POLICIES, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.iters, args.warmup)))
        return 0

    sys.path.insert(0, str(REPO))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs; load average before: {load:.2f}", flush=True)
    results = {(pol, loaded): [] for pol in args.policies for loaded in (False, True)}
    for r in range(args.rounds):
        order = args.policies if r % 2 == 0 else args.policies[::-1]
        for pol in order:
            for loaded in (False, True) if r % 2 == 0 else (True, False):
                m = _measure(pol, loaded, args)
                results[(pol, loaded)].append(m["median_s"])
                state = "loaded" if loaded else "idle"
                print(
                    f"round {r + 1} {pol:<6} {state:<6} {m['median_s'] * 1e3:8.1f} ms/step "
                    f"({m['threads']} threads)",
                    flush=True,
                )
    summary = {}
    for pol in args.policies:
        idle = statistics.median(results[(pol, False)])
        busy = statistics.median(results[(pol, True)])
        summary[pol] = {"idle_ms": idle * 1e3, "loaded_ms": busy * 1e3, "ratio": busy / idle}
        print(
            f"{pol:<6}: idle {idle * 1e3:.1f} ms, loaded {busy * 1e3:.1f} ms per step: "
            f"loaded/idle = {busy / idle:.2f}x (target <= 2.5x)"
        )
    if args.json:
        raw = {f"{pol}/{'loaded' if ld else 'idle'}": v for (pol, ld), v in results.items()}
        Path(args.json).write_text(json.dumps({"summary": summary, "raw_s": raw}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
