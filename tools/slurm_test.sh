#!/usr/bin/env bash
# Testing on a SLURM cluster with srun (one task per GPU); each test video is evaluated once.
#
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test options...]
#
# Environment (defaults as MMAction2's script): GPUS=8, GPUS_PER_NODE=min(GPUS, 8), CPUS_PER_TASK=5,
# SRUN_ARGS="", PORT or MASTER_PORT (default 29500).
set -euo pipefail

if [ $# -lt 4 ]; then
    echo "usage: bash $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test options...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-8}
if [ "$GPUS" -lt 8 ]; then  # a job smaller than a node: do not ask srun for 8 tasks per node
    GPUS_PER_NODE=${GPUS_PER_NODE:-$GPUS}
else
    GPUS_PER_NODE=${GPUS_PER_NODE:-8}
fi
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}

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
    "$PYTHON" -u -m vidlab.cli.main test "$CONFIG" "$CHECKPOINT" --launcher slurm "${@:5}"
