"""CPU threads on a shared machine: how many, and how they wait.

PyTorch's CPU kernels run on an OpenMP thread team (libgomp in the pip wheels, Intel's runtime
with MKL builds). By default a thread that reaches the end of a parallel region spins for a
while before it sleeps, so that the next region starts a little sooner. On an idle machine that
is a small win; on a machine where other processes want the same cores it is a large loss: the
spinning threads burn the time slices the other threads of the team need to finish their share,
and every barrier waits for the slowest, descheduled thread. A quickstart run took 34 minutes
instead of 2 on a busy 2-core machine that way.

:func:`configure_wait_policy` asks the OpenMP runtimes to sleep at once (``OMP_WAIT_POLICY=
PASSIVE``, ``KMP_BLOCKTIME=0``, ``GOMP_SPINCOUNT=0``). The runtimes read these variables once,
when they are loaded, that is when ``torch`` is first imported: the ``vidlab`` command calls it
first thing; a Python program that wants the same must set them before ``import torch``.
:func:`configure_num_threads` uses the cores this process may run on (its CPU affinity, which
a container or ``taskset`` narrows) rather than every core of the machine.

A variable the user set is never changed: ``OMP_WAIT_POLICY=ACTIVE`` or ``OMP_NUM_THREADS=4``
in the environment win (that is the opt-out). ``benchmarks/contention.py`` measures the effect.
"""

from __future__ import annotations

import os
import sys

__all__ = ["configure_num_threads", "configure_wait_policy", "available_cpus"]

#: Sleep at once at the end of a parallel region instead of spinning.
WAIT_POLICY = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0", "GOMP_SPINCOUNT": "0"}
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def available_cpus() -> int:
    """The number of CPUs this process may run on (its affinity mask), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def configure_wait_policy(environ: dict | None = None) -> dict[str, str]:
    """Set the OpenMP wait policy variables the user did not set; returns those set.

    Effective only before the OpenMP runtime is loaded (before ``import torch``); a note is
    returned either way so that callers can say what they did.
    """
    environ = os.environ if environ is None else environ
    changed = {}
    for key, value in WAIT_POLICY.items():
        if key not in environ:
            environ[key] = value
            changed[key] = value
    return changed


def configure_num_threads() -> int | None:
    """At most as many intra-op threads as this process has CPUs (its affinity mask), unless
    ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` says otherwise.

    Some builds count the machine's cores whatever the affinity (a container, ``taskset``);
    more threads than CPUs only wait for each other. A count at or below the CPUs is kept.

    Returns:
        The count set, or None when nothing changed.
    """
    if any(v in os.environ for v in _THREAD_VARS):
        return None
    torch = sys.modules.get("torch")
    if torch is None:
        import torch
    n = available_cpus()
    if torch.get_num_threads() > n:  # the machine's count where the affinity allows fewer
        torch.set_num_threads(n)
        return n
    return None
