#!/usr/bin/env bash
# Distributed training on one or more nodes with torchrun (one process per GPU).
#
#   bash tools/dist_train.sh CONFIG GPUS [train options...]
#
# Environment (defaults as MMAction2's script): NNODES=1, NODE_RANK=0, MASTER_ADDR=127.0.0.1,
# PORT (or MASTER_PORT)=29500. On two nodes of 8 GPUs each:
#   node 0: NNODES=2 NODE_RANK=0 MASTER_ADDR=10.1.1.1 bash tools/dist_train.sh CONFIG 8
#   node 1: NNODES=2 NODE_RANK=1 MASTER_ADDR=10.1.1.1 bash tools/dist_train.sh CONFIG 8
# Extra options go to `vidlab train` (--work-dir, --resume, --amp, --seed, --cfg-options ...).
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: bash $0 CONFIG GPUS [train options...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-${MASTER_PORT:-29500}}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    -m vidlab.cli.main train "$CONFIG" --launcher pytorch "${@:3}"
