#!/usr/bin/env bash
# Training on a SLURM cluster with srun (one task per GPU).
#
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train options...]
#
# Environment (defaults as MMAction2's script): GPUS=8 (tasks in all), GPUS_PER_NODE=min(GPUS, 8),
# CPUS_PER_TASK=5, SRUN_ARGS="" (extra srun options, e.g. "--quotatype=auto"), PORT or
# MASTER_PORT (rendezvous port, default 29500). Two nodes of 8 GPUs:
#   GPUS=16 bash tools/slurm_train.sh PARTITION my_job CONFIG --work-dir work_dirs/x
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG [train options...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-8}
if [ "$GPUS" -lt 8 ]; then  # a job smaller than a node: do not ask srun for 8 tasks per node
    GPUS_PER_NODE=${GPUS_PER_NODE:-$GPUS}
else
    GPUS_PER_NODE=${GPUS_PER_NODE:-8}
fi
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}

# SRUN_ARGS is split on spaces on purpose: it holds several srun options.
# shellcheck disable=SC2086
PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u -m vidlab.cli.main train "$CONFIG" --launcher slurm "${@:4}"
