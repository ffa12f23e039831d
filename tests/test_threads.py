"""vidlab.threads: the OpenMP wait policy and thread count for shared machines (issue 8, s. 6)."""

import os
import subprocess
import sys

from vidlab.threads import WAIT_POLICY, available_cpus, configure_wait_policy


def test_wait_policy_fills_only_what_the_user_left_unset():
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    changed = configure_wait_policy(env)
    assert env["OMP_WAIT_POLICY"] == "ACTIVE"  # the user's choice is the opt-out
    assert changed == {k: v for k, v in WAIT_POLICY.items() if k != "OMP_WAIT_POLICY"}
    assert configure_wait_policy(env) == {}


def test_cli_sets_the_policy_before_torch_is_loaded():
    # The OpenMP runtime reads the variables when torch is imported: the CLI module must not
    # import torch before main() has set them.
    code = (
        "import sys, vidlab.cli.main as m; assert 'torch' not in sys.modules; "
        "sys.argv = ['vidlab', 'list-models']; m.main(); import os, torch; "
        "print(os.environ['OMP_WAIT_POLICY'], torch.get_num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k not in WAIT_POLICY}
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[-2] == "PASSIVE" and int(out[-1]) <= available_cpus()
